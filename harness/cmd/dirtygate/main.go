// Command dirtygate decides whether a change to vhost's dirty-page logging
// is safe: it builds kernels carrying the change, boots them under QEMU with
// the guest agent, and reports per architecture and scenario.
//
//	dirtygate run --arch x86_64 [--patch P]... [--kernel 6.1|6.12|DIR] [--json FILE]
//	dirtygate arches
//	dirtygate kernels
//	dirtygate parse CONSOLE_LOG
//
// Exit status: 0 pass, 1 findings, 2 could not decide.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"

	"dirtygate/arches"
	"dirtygate/harness/bench"
	"dirtygate/harness/gate"
	"dirtygate/harness/htmlreport"
	"dirtygate/harness/kbuild"
	"dirtygate/harness/qemu"
	"dirtygate/harness/report"
	"dirtygate/harness/run"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var code int
	switch os.Args[1] {
	case "run":
		code = cmdRun(ctx, os.Args[2:])
	case "arches":
		code = cmdArches(os.Args[2:])
	case "kernels":
		code = cmdKernels(os.Args[2:])
	case "parse":
		code = cmdParse(os.Args[2:])
	case "bench":
		code = cmdBench(ctx, os.Args[2:])
	case "gate":
		code = cmdGate(ctx, os.Args[2:])
	case "compare":
		code = cmdCompare(os.Args[2:])
	case "lava":
		code = cmdLava(ctx, os.Args[2:])
	case "selftest":
		code = cmdSelftest(ctx, os.Args[2:])
	case "version":
		fmt.Println("dirtygate 0.1")
	case "-h", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "dirtygate: unknown command %q\n", os.Args[1])
		usage()
		code = 2
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  dirtygate run --arch ARCH[,ARCH...]|all [--patch P]... [--kernel K[,K...]] [--out DIR]
                [--json FILE] [--junit FILE] [--markdown FILE] [--html FILE]
                [--cache DIR] [--accel auto|kvm|tcg] [-j N] [--only SCENARIO,...]
  dirtygate gate --candidate P [--candidate P]... [--base P]... [--arch LIST|all] [--kernel K[,K...]] [--out DIR]
                [--json FILE] [--junit FILE] [--markdown FILE] [--html FILE]
                [--base-json FILE]
                           base vs candidate per arch and scenario; exit 1 on a regression
  dirtygate gate --kernel GITDIR --base REV --candidate REV   (or --candidate BASE..CAND)
                           two commits of a kernel tree, exported with git archive
  dirtygate compare BASE.json CANDIDATE.json   the gate's comparison of two saved reports
  dirtygate selftest [--arch A] [--kernel DIR] [--mutant M,...]   gate each kernel mutant (kernels/mutants/): mutant x scenario
  dirtygate arches [--packages]   targets and what each is missing here (or the Debian packages they need)
  dirtygate kernels          kernel sources --kernel names, what is installed, the patch ports
                           (K: 6.1, 6.12 (the default) or a kernel tree's directory; --kernel-src DIR is an alias)
  dirtygate parse [--json FILE] [--html FILE] LOG   judge a console log captured elsewhere (real hardware, a LAVA job's log)
  dirtygate bench [--arch LIST] [--kernel K[,K...]] [--cold]   time builds, verdicts, patch swaps, boots
  dirtygate lava --arch A [--kernel-url U] [--patch P]... [--device-type T] [--artifacts-url U] [--job FILE]
                           a LAVA job booting the kernel with the agent (or executor) as /init
exit status: 0 pass, 1 findings (gate, compare: a regression), 2 could not decide,
             3 (run, parse) failed only where the kernel source is known to fail (kernels/known/)
`)
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func defaultCache() string {
	if c := os.Getenv("DIRTYGATE_CACHE"); c != "" {
		return c
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "dirtygate")
	}
	return filepath.Join(os.TempDir(), "dirtygate-cache")
}

func cmdRun(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	archList := fs.String("arch", strings.Join(arches.Default, ","), "architectures, comma-separated, or all")
	var patches multi
	fs.Var(&patches, "patch", "built-in patch name or patch/mbox file; repeat for a series")
	var ks kernelFlag
	ks.register(fs)
	jsonOut := fs.String("json", "", "write the JSON report here")
	junitOut := fs.String("junit", "", "write JUnit XML here (one testcase per arch x scenario)")
	mdOut := fs.String("markdown", "", "write a Markdown summary here (for a CI job page)")
	htmlOut := fs.String("html", "", "write one self-contained HTML page here: the matrix and a drawing of each failing scenario's log")
	out := fs.String("out", "", "directory for console logs, QEMU command lines and reports")
	cache := fs.String("cache", defaultCache(), "cache directory ($DIRTYGATE_CACHE)")
	accel := fs.String("accel", "auto", "auto (probe KVM, fall back to TCG), kvm or tcg")
	jobs := fs.Int("j", runtime.NumCPU(), "make -j for kernel builds")
	only := fs.String("only", "", "run only these scenarios, comma-separated")
	ktap := fs.Bool("ktap", false, "print KTAP (the kernel's test output format) on stdout instead of the tables")
	debug := fs.Bool("debug-kernel", false, "build with lockdep, DEBUG_ATOMIC_SLEEP, DEBUG_VM, DEBUG_PAGEALLOC and KASAN where supported")
	inject := fs.Bool("inject", false, "apply the test-only injection switch (kernels/patches/inject-log-op.patch), for the inject-* scenarios (every arch)")
	aliasModel := fs.Bool("alias-model", false, "hppa: run under dirtygate's model of PA-RISC's virtually indexed data cache (a QEMU TCG plugin; applies the test-only kernels/patches/alias-marker.patch): stale reads of the log through the VMM's alias become alias findings")
	tgt := fs.String("target", "", "run on a machine already running the kernel under test: ssh://[user@]host[:port], serial:///dev/DEVICE or exec:COMMAND (one --arch)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	as, err := archesOf(*archList)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate:", err)
		return 2
	}
	if err := (preflight{only: *only, accel: *accel, kernels: ks, patches: patches}).check(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate run:", err)
		return 2
	}
	if *tgt != "" && *aliasModel {
		fmt.Fprintln(os.Stderr, "dirtygate: --alias-model models the cache under emulation; a --target has a real one")
		return 2
	}
	if *tgt != "" {
		if len(as) != 1 || len(patches) > 0 || len(ks) > 0 {
			fmt.Fprintln(os.Stderr, "dirtygate: --target takes exactly one --arch (the target's), and no --patch or --kernel: the target runs its own kernel")
			return 2
		}
		o := run.Options{Arch: as[0], CacheDir: *cache, OutDir: *out, Progress: progress()}
		if *only != "" {
			o.Only = strings.Split(*only, ",")
		}
		r := run.Target(ctx, o, *tgt)
		gate.MarkKnownAll([]*report.Report{r})
		if *ktap {
			report.WriteKTAP(os.Stdout, []*report.Report{r})
		} else {
			r.WriteText(os.Stdout)
		}
		if *jsonOut != "" {
			b, _ := json.MarshalIndent(r, "", "  ")
			os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
		}
		if *junitOut != "" {
			writeFile(*junitOut, func(f *os.File) error { return report.WriteJUnit(f, []*report.Report{r}) })
		}
		if err := writeHTML(*htmlOut, []*report.Report{r}, nil); err != nil {
			fmt.Fprintln(os.Stderr, "dirtygate:", err)
			return 2
		}
		return r.ExitCode()
	}
	var runs []run.Options
	for _, k := range ks.list() {
		for _, a := range as {
			o := run.Options{Arch: a, Patches: patches, Kernel: k, CacheDir: *cache, Accel: *accel,
				Jobs: *jobs, Progress: progress(), DebugKernel: *debug, Inject: *inject, AliasModel: *aliasModel}
			if *out != "" {
				name := a.Name + "-baseline"
				if len(patches) > 0 {
					name = a.Name + "-" + strings.Join(patches, "+")
				}
				o.OutDir = filepath.Join(*out, ks.dirPrefix(k)+safe(name))
			}
			if *only != "" {
				o.Only = strings.Split(*only, ",")
			}
			runs = append(runs, o)
		}
	}
	reports := run.Matrix(ctx, runs)
	if err := gate.MarkKnownAll(reports); err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate:", err)
		return 2
	}
	code := 0
	for _, r := range reports {
		if !*ktap {
			r.WriteText(os.Stdout)
		}
		code = worse(code, r.ExitCode())
	}
	if *ktap {
		report.WriteKTAP(os.Stdout, reports)
	} else if len(reports) > 1 {
		report.WriteMatrix(os.Stdout, reports)
	}
	if *junitOut != "" {
		if err := writeFile(*junitOut, func(f *os.File) error { return report.WriteJUnit(f, reports) }); err != nil {
			fmt.Fprintln(os.Stderr, "dirtygate:", err)
			return 2
		}
	}
	if *mdOut != "" {
		if err := writeFile(*mdOut, func(f *os.File) error { report.WriteMarkdown(f, reports); return nil }); err != nil {
			fmt.Fprintln(os.Stderr, "dirtygate:", err)
			return 2
		}
	}
	if err := writeHTML(*htmlOut, reports, nil); err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate:", err)
		return 2
	}
	if *jsonOut != "" {
		var v any = reports
		if len(reports) == 1 {
			v = reports[0]
		}
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "dirtygate:", err)
			return 2
		}
	}
	return code
}

// archesOf turns an --arch value ("a,b" or "all") into definitions.
func archesOf(list string) ([]*arches.Arch, error) {
	names := strings.Split(list, ",")
	if list == "all" {
		names = arches.Names()
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

// writeJSON writes v indented, for writeFile.
func writeJSON(v any) func(*os.File) error {
	return func(f *os.File) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err == nil {
			_, err = f.Write(append(b, '\n'))
		}
		return err
	}
}

func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '#' {
			return '_'
		}
		return r
	}, s)
}

func cmdArches(args []string) int {
	if len(args) == 1 && args[0] == "--packages" {
		// The Debian packages every defined arch needs, for installers.
		seen := map[string]bool{}
		for _, n := range arches.Names() {
			a, _ := arches.Lookup(n)
			for _, p := range append([]string{a.CrossPackage, a.QEMUPackage}, a.ExecutorPackages...) {
				if p != "" && !seen[p] {
					seen[p] = true
					fmt.Println(p)
				}
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ARCH\tQEMU\tCOMPILER\tAGENT\tLAYOUT\tNOTE")
	for _, n := range append(arches.Names(), arches.UnsupportedNames()...) {
		a, _ := arches.Lookup(n)
		q := "ok"
		if err := qemu.Check(a); err != nil {
			q = "missing: apt-get install " + a.QEMUPackage
		}
		c := "ok"
		if err := kbuild.CheckToolchain(a); err != nil {
			c = "missing: " + err.Error()
		}
		g := "go " + a.GOARCH
		if a.GOARCH == "" {
			g = "none (executor)"
		}
		order := "LE"
		if a.BigEndian {
			order = "BE"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s%d\t%s\n", a.Name, q, c, g, order, a.WordBits, a.Unsupported)
	}
	tw.Flush()
	return 0
}

func cmdBench(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	archList := fs.String("arch", strings.Join(arches.Default, ","), "architectures, comma-separated")
	cold := fs.Bool("cold", false, "also time a cold kernel build (empty cache, ccache off): minutes per arch")
	var ks kernelFlag
	ks.register(fs)
	cache := fs.String("cache", defaultCache(), "cache directory")
	jobs := fs.Int("j", runtime.NumCPU(), "make -j")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	as, err := archesOf(*archList)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate:", err)
		return 2
	}
	rows := bench.Run(ctx, bench.Options{Arches: as, Kernels: ks.list(), CacheDir: *cache, Cold: *cold, Jobs: *jobs, Progress: progress()})
	bench.Write(os.Stdout, rows)
	for _, r := range rows {
		if r.Err != "" {
			return 2
		}
	}
	return 0
}

// cmdGate runs the base and the candidate on each arch and compares them
// per scenario: exit 1 on any regression (pass -> fail, or a candidate that
// does not build), 2 when something could not be decided, 0 otherwise.
func cmdGate(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	archList := fs.String("arch", strings.Join(arches.Default, ","), "architectures, comma-separated, or all")
	var cands, bases multi
	fs.Var(&cands, "candidate", "patch (name or file) of the candidate; repeat for a series; with --kernel naming git trees, a revision or a range BASE..CANDIDATE")
	fs.Var(&bases, "base", "patch of the base (default: none, the unpatched kernel); with --kernel naming git trees, a revision")
	var ks kernelFlag
	ks.register(fs)
	out := fs.String("out", "", "directory for console logs, QEMU command lines and reports")
	cache := fs.String("cache", defaultCache(), "cache directory ($DIRTYGATE_CACHE)")
	accel := fs.String("accel", "auto", "auto, kvm or tcg")
	jobs := fs.Int("j", runtime.NumCPU(), "make -j for kernel builds")
	jsonOut := fs.String("json", "", "write the candidate's JSON reports here")
	baseJSON := fs.String("base-json", "", "write the base's JSON reports here (for dirtygate compare)")
	junitOut := fs.String("junit", "", "write the candidate's JUnit XML here")
	mdOut := fs.String("markdown", "", "write the candidate's Markdown summary here")
	htmlOut := fs.String("html", "", "write one self-contained HTML page here: the matrix with the gate's changes and a drawing of each failing scenario's log")
	ktap := fs.Bool("ktap", false, "print the candidate's results as KTAP on stdout, the gate's verdict as # lines")
	debug := fs.Bool("debug-kernel", false, "build both sides with the debug fragment (lockdep, atomic sleep, DEBUG_VM, KASAN where supported)")
	inject := fs.Bool("inject", false, "both sides get the test-only injection switch, for the inject-* scenarios")
	aliasModel := fs.Bool("alias-model", false, "hppa: both sides run under the cache model (see run --alias-model)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(cands) == 0 {
		fmt.Fprintln(os.Stderr, "dirtygate gate: --candidate is required")
		return 2
	}
	as, err := archesOf(*archList)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate:", err)
		return 2
	}
	if err := (preflight{accel: *accel, kernels: ks}).check(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate gate:", err)
		return 2
	}
	sides, err := gateSides(ctx, ks.list(), bases, cands)
	for _, side := range sides {
		if err == nil {
			err = preflight{patches: side.patches}.check(ctx)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate gate:", err)
		return 2
	}
	var runs []run.Options
	for _, side := range sides {
		for _, k := range side.kernels {
			for _, a := range as {
				o := run.Options{Arch: a, Patches: side.patches, Kernel: k, CacheDir: *cache, Accel: *accel,
					Jobs: *jobs, Progress: progress(), DebugKernel: *debug, Inject: *inject, AliasModel: *aliasModel}
				if *out != "" {
					o.OutDir = filepath.Join(*out, ks.dirPrefix(k)+safe(side.name+"-"+a.Name))
				}
				runs = append(runs, o)
			}
		}
	}
	reports := run.Matrix(ctx, runs)
	base, cand := reports[:len(runs)/2], reports[len(runs)/2:]
	if err := gate.MarkKnownAll(reports); err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate:", err)
		return 2
	}
	res := gate.Compare(base, cand)
	if *ktap {
		report.WriteKTAP(os.Stdout, cand)
		var b strings.Builder
		gate.Write(&b, res)
		for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
			fmt.Fprintln(os.Stdout, "# "+l)
		}
	} else {
		for _, r := range cand {
			r.WriteText(os.Stdout)
		}
		report.WriteMatrix(os.Stdout, reports)
		gate.Write(os.Stdout, res)
	}
	for path, write := range map[string]func(*os.File) error{
		*jsonOut:  writeJSON(cand),
		*baseJSON: writeJSON(base),
		*junitOut: func(f *os.File) error { return report.WriteJUnit(f, cand) },
		*mdOut:    func(f *os.File) error { report.WriteMarkdown(f, cand); return nil },
		*htmlOut: func(f *os.File) error {
			return htmlreport.Write(f, htmlreport.Page{Title: "dirtygate gate", Runs: cand, Gate: &res})
		},
	} {
		if path == "" {
			continue
		}
		if err := writeFile(path, write); err != nil {
			fmt.Fprintln(os.Stderr, "dirtygate:", err)
			return 2
		}
	}
	return res.ExitCode()
}

// cmdCompare is the gate's comparison of two saved reports (a run's or a
// gate's --json, an array or one report): CI artifacts, or a run on real
// hardware against one under QEMU. Same output and exit status as gate.
func cmdCompare(args []string) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	mdOut := fs.String("markdown", "", "write the candidate's Markdown summary here")
	htmlOut := fs.String("html", "", "write one self-contained HTML page here: the matrix with the changes and a drawing of each failing scenario's log")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: dirtygate compare [--markdown FILE] [--html FILE] BASE.json CANDIDATE.json")
		return 2
	}
	var sides [2][]*report.Report
	for i, path := range fs.Args() {
		rs, err := report.ReadJSON(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dirtygate compare:", err)
			return 2
		}
		if err := gate.MarkKnownAll(rs); err != nil {
			fmt.Fprintln(os.Stderr, "dirtygate compare:", err)
			return 2
		}
		sides[i] = rs
	}
	res := gate.Compare(sides[0], sides[1])
	report.WriteMatrix(os.Stdout, append(append([]*report.Report(nil), sides[0]...), sides[1]...))
	gate.Write(os.Stdout, res)
	if *mdOut != "" {
		if err := writeFile(*mdOut, func(f *os.File) error { report.WriteMarkdown(f, sides[1]); return nil }); err != nil {
			fmt.Fprintln(os.Stderr, "dirtygate:", err)
			return 2
		}
	}
	if err := writeHTML(*htmlOut, sides[1], &res); err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate:", err)
		return 2
	}
	return res.ExitCode()
}
