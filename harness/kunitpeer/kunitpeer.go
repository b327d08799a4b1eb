// Package kunitpeer runs the kernel's own test runner, kunit_tool
// (tools/testing/kunit/kunit.py), on the same source, arch and machine as
// dirtygate, so that `dirtygate bench --peer kunit` prints the two per-run
// times side by side instead of quoting a number from elsewhere. Its
// kernel is built once per (source, arch, kunitconfig) and cached like
// dirtygate's own. Runs on the host.
package kunitpeer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"dirtygate/arches"
	"dirtygate/harness/kbuild"
	"dirtygate/kernels"
)

// ExampleConfig is the kunitconfig used when none is given: KUnit's own
// example suite, the smallest run kunit_tool makes (boot, one suite,
// shutdown), so the comparison is of each tool's floor per run.
const ExampleConfig = "CONFIG_KUNIT=y\nCONFIG_KUNIT_EXAMPLE_TEST=y\n"

// Options of a peer measurement.
type Options struct {
	Source      kernels.Source
	Arch        *arches.Arch
	CacheDir    string
	Jobs        int
	Runs        int    // timed `kunit.py exec` runs; at least 1
	Kunitconfig string // the kunitconfig's text; "" = ExampleConfig
	Progress    io.Writer
}

// Result is what was measured.
type Result struct {
	BuildDir string
	Build    time.Duration // the kunit kernel's build; 0 when it was cached
	Runs     []time.Duration
	Tests    string // kunit_tool's summary of the last run ("Ran 8 tests: passed: 8")
	Command  string // the exec command line, to reproduce a run
}

// Run builds kunit_tool's kernel for o.Arch if it is not cached, then
// times o.Runs runs of `kunit.py exec`. A run that fails (a test failed,
// the kernel did not boot) is an error with kunit_tool's output: a failed
// run is not a time.
func Run(ctx context.Context, o Options) (Result, error) {
	var res Result
	if o.Arch.Build.KUnit == "" {
		return res, fmt.Errorf("kunit_tool has no QEMU config for %s (tools/testing/kunit/qemu_configs)", o.Arch.Name)
	}
	tool := filepath.Join(o.Source.Dir, "tools/testing/kunit/kunit.py")
	if _, err := os.Stat(tool); err != nil {
		return res, fmt.Errorf("kernel %s has no kunit_tool: %w", o.Source.Name, err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		return res, errors.New("kunit_tool needs python3: install it (apt-get install python3)")
	}
	config := o.Kunitconfig
	if config == "" {
		config = ExampleConfig
	}
	res.BuildDir = buildDir(o, config)
	args := []string{tool, "--arch=" + o.Arch.Build.KUnit, "--build_dir=" + res.BuildDir,
		"--kunitconfig=" + res.BuildDir + ".kunitconfig"}
	if o.Arch.Build.CrossCompile != "" {
		args = append(args, "--cross_compile="+o.Arch.Build.CrossCompile)
	}
	built, err := build(ctx, o, config, args, res.BuildDir)
	if err != nil {
		return res, err
	}
	res.Build = built
	execArgs := append([]string{"python3", args[0], "exec"}, args[1:]...)
	res.Command = "cd " + o.Source.Dir + " && " + strings.Join(execArgs, " ")
	for i := 0; i < max(o.Runs, 1); i++ {
		fmt.Fprintf(o.Progress, "[kunit %s %s] exec run %d of %d\n", o.Arch.Name, o.Source.Name, i+1, max(o.Runs, 1))
		start := time.Now()
		out, err := kunit(ctx, o.Source.Dir, execArgs[1:])
		took := time.Since(start)
		if err != nil {
			return res, fmt.Errorf("kunit.py exec: %v\n%s\nreproduce: %s", err, tail(out, 3000), res.Command)
		}
		res.Tests = summary(out)
		if !ranTests.MatchString(res.Tests) {
			return res, fmt.Errorf("kunit.py exec ran no test (summary %q): its time would measure nothing\n%s\nreproduce: %s", res.Tests, tail(out, 3000), res.Command)
		}
		res.Runs = append(res.Runs, took)
	}
	return res, nil
}

// buildDir is the cache directory of a kunit kernel: its key is the
// source, the arch, kunit_tool's arch and the kunitconfig.
func buildDir(o Options, config string) string {
	h := sha256.Sum256([]byte("source " + o.Source.ID + "\narch " + o.Arch.Name + "\nkunit " + o.Arch.Build.KUnit + "\nconfig " + config))
	return filepath.Join(o.CacheDir, "kunit", o.Arch.Name+"-"+hex.EncodeToString(h[:6]))
}

// doneMarker is written into a build directory after kunit_tool's build
// succeeded; a directory without it is half-built and is built again.
const doneMarker = "dirtygate-kunit-built"

// build runs `kunit.py build` unless the directory holds a finished
// build, under a lock so that two benches never build into one directory.
// It returns how long the build took (0 when cached).
func build(ctx context.Context, o Options, config string, args []string, dir string) (time.Duration, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return 0, err
	}
	unlock, err := kbuild.Lock(dir+".lock", func() {
		fmt.Fprintf(o.Progress, "[kunit %s %s] waiting for another build in %s\n", o.Arch.Name, o.Source.Name, dir)
	})
	if err != nil {
		return 0, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, doneMarker)); err == nil {
		fmt.Fprintf(o.Progress, "[kunit %s %s] kernel cached in %s\n", o.Arch.Name, o.Source.Name, dir)
		return 0, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	if err := os.WriteFile(dir+".kunitconfig", []byte(config), 0o644); err != nil {
		return 0, err
	}
	fmt.Fprintf(o.Progress, "[kunit %s %s] building kunit_tool's kernel in %s (cold: minutes)\n", o.Arch.Name, o.Source.Name, dir)
	start := time.Now()
	buildArgs := append([]string{args[0], "build", fmt.Sprintf("--jobs=%d", max(o.Jobs, 1))}, args[1:]...)
	out, err := kunit(ctx, o.Source.Dir, buildArgs)
	if err != nil {
		return 0, fmt.Errorf("kunit.py build: %v\n%s\nreproduce: cd %s && python3 %s", err, tail(out, 3000), o.Source.Dir, strings.Join(buildArgs, " "))
	}
	took := time.Since(start)
	return took, os.WriteFile(filepath.Join(dir, doneMarker), []byte(took.String()+"\n"), 0o644)
}

// kunit runs kunit.py with args in the source tree (make O= writes only
// into the build directory, so the shared source stays clean).
func kunit(ctx context.Context, src string, args []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "python3", args...)
	cmd.Dir = src
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// summaryRE matches kunit_tool's closing line: "Testing complete. Ran 8
// tests: passed: 8" (with skipped/failed counts when there are any).
var summaryRE = regexp.MustCompile(`Testing complete\. (Ran \d+ tests?:[^\n\x1b]*)`)

// ranTests matches a summary of at least one test.
var ranTests = regexp.MustCompile(`^Ran [1-9]\d* test`)

func summary(out []byte) string {
	m := summaryRE.FindSubmatch(out)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(string(m[1]))
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
