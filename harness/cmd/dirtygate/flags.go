package main

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"dirtygate/arches"
	"dirtygate/harness/gate"
	"dirtygate/harness/htmlreport"
	"dirtygate/harness/report"
)

// The flag groups the commands share, each defined once (as kunit_tool's
// add_common_opts and add_build_opts): a command takes the groups it
// needs, and usage() lists what each command's flag set holds.

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// archFlag is --arch: names, comma-separated, or all.
type archFlag struct{ list *string }

func addArch(fs *flag.FlagSet, def, help string) archFlag {
	return archFlag{fs.String("arch", def, help)}
}

// defaultArches is --arch's default where it takes a list.
var defaultArches = strings.Join(arches.Default, ",")

// get parses the list once ("all" is every arch that can run, "default"
// the set `make run` gates on).
func (f archFlag) get() ([]*arches.Arch, error) { return archesOf(*f.list) }

// archesOf turns an --arch value ("a,b", "all" or "default") into
// definitions.
func archesOf(list string) ([]*arches.Arch, error) {
	names := strings.Split(list, ",")
	switch list {
	case "all":
		names = arches.Names()
	case "default":
		names = arches.Default
	}
	var as []*arches.Arch
	for _, n := range names {
		a, err := arches.Lookup(strings.TrimSpace(n))
		if err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	return as, nil
}

// buildFlags are where and how kernels build: --cache, -j.
type buildFlags struct {
	cache *string
	jobs  *int
}

func addBuild(fs *flag.FlagSet) buildFlags {
	return buildFlags{addCache(fs), fs.Int("j", runtime.NumCPU(), "make -j `N` for kernel builds")}
}

func addCache(fs *flag.FlagSet) *string {
	return fs.String("cache", defaultCache(), "cache `directory` ($DIRTYGATE_CACHE)")
}

func defaultCache() string {
	if c := os.Getenv("DIRTYGATE_CACHE"); c != "" {
		return c
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "dirtygate")
	}
	return filepath.Join(os.TempDir(), "dirtygate-cache")
}

// vmFlags are how the kernel under test is built and booted: --accel,
// --debug-kernel, --inject, --alias-model.
type vmFlags struct {
	accel      *string
	debug      *bool
	inject     *bool
	aliasModel *bool
}

func addAccel(fs *flag.FlagSet) *string {
	return fs.String("accel", "auto", "auto (probe KVM, fall back to TCG), kvm or tcg")
}

func addVM(fs *flag.FlagSet) vmFlags {
	return vmFlags{addAccel(fs),
		fs.Bool("debug-kernel", false, "build with lockdep, DEBUG_ATOMIC_SLEEP, DEBUG_VM, DEBUG_PAGEALLOC and KASAN where supported"),
		fs.Bool("inject", false, "apply the test-only injection switch (kernels/patches/inject-log-op.patch), for the inject-* scenarios (every arch)"),
		fs.Bool("alias-model", false, "hppa: run under dirtygate's model of PA-RISC's virtually indexed data cache (a QEMU TCG plugin; applies the test-only kernels/patches/alias-marker.patch and alias-window.patch): stale reads of the log through an alias become alias findings")}
}

func addOut(fs *flag.FlagSet) *string {
	return fs.String("out", "", "`directory` for console logs, QEMU command lines and reports")
}

func addOnly(fs *flag.FlagSet) *string {
	return fs.String("only", "", "run only these `scenarios`, comma-separated")
}

// splitOnly is --only as a list; nil for all.
func splitOnly(only string) []string {
	if only == "" {
		return nil
	}
	return strings.Split(only, ",")
}

// outputs are the report files a command writes: --json, --junit,
// --markdown, --html (each command takes those it can fill); nil fields
// are flags the command does not have.
type outputs struct {
	json, junit, markdown, html *string
}

// addOutputs defines the named formats; whose says whose results they
// hold ("" for a run's, "the candidate's" for a gate).
func addOutputs(fs *flag.FlagSet, whose string, formats ...string) outputs {
	if whose == "" {
		whose = "the"
	}
	var o outputs
	for _, f := range formats {
		switch f {
		case "json":
			o.json = fs.String("json", "", "write "+whose+" JSON report to `file`")
		case "junit":
			o.junit = fs.String("junit", "", "write "+whose+" JUnit XML to `file` (one testcase per arch x scenario)")
		case "markdown":
			o.markdown = fs.String("markdown", "", "write "+whose+" Markdown summary to `file` (for a CI job page)")
		case "html":
			o.html = fs.String("html", "", "write one self-contained HTML page to `file`: the matrix (with a gate's changes) and a drawing of each failing scenario's log")
		default:
			panic("addOutputs: no format " + f)
		}
	}
	return o
}

// write writes every file asked for: v as JSON (one report or an array),
// runs as JUnit and Markdown, the HTML page of runs with the gate's
// changes when g is not nil. The first error stops it and is returned.
func (o outputs) write(v any, runs []*report.Report, g *gate.Result) error {
	title := "dirtygate run"
	if g != nil {
		title = "dirtygate gate"
	}
	for _, out := range []struct {
		path  *string
		write func(*os.File) error
	}{
		{o.junit, func(f *os.File) error { return report.WriteJUnit(f, runs) }},
		{o.markdown, func(f *os.File) error { report.WriteMarkdown(f, runs); return nil }},
		{o.html, func(f *os.File) error {
			return htmlreport.Write(f, htmlreport.Page{Title: title, Runs: runs, Gate: g})
		}},
		{o.json, writeJSON(v)},
	} {
		if out.path == nil || *out.path == "" {
			continue
		}
		if err := writeFile(*out.path, out.write); err != nil {
			return err
		}
	}
	return nil
}
