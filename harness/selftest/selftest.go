// Package selftest proves the scenarios on broken kernels: it gates each
// built-in mutant (kernels/mutants/: a small, realistic breakage of the log
// path) against its base and prints which scenarios killed which mutant.
// The bitmap controls check the oracle; the mutants check the scenarios.
//
// Runs on the host.
package selftest

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"dirtygate/arches"
	"dirtygate/harness/gate"
	"dirtygate/harness/report"
	"dirtygate/harness/run"
	"dirtygate/kernels"
	"dirtygate/vmm/record"
)

// Options of one self-test.
type Options struct {
	Arch     *arches.Arch
	Kernel   string // a source name or tree (the mutants are written for 6.1)
	CacheDir string
	OutDir   string // "" = under CacheDir/selftest
	Accel    string
	Jobs     int
	Only     []string // mutant names; empty = all
	Progress io.Writer
}

// Outcome of one mutant.
type Outcome struct {
	Mutant kernels.Mutant
	Gate   gate.Result
	Cand   *report.Report
	Killed []string // scenarios whose change was a regression
	// NoBuild says why the mutant's kernel did not build: a mutant that
	// does not compile proves nothing about the scenarios (the gate would
	// count it as rejected).
	NoBuild string
}

// Verdict is rejected, SURVIVED, or why it could not be decided.
func (o Outcome) Verdict() string {
	switch {
	case o.NoBuild != "":
		return "does not build"
	case o.Gate.ExitCode() == 1:
		return "rejected"
	case o.Gate.ExitCode() == 0:
		return "SURVIVED"
	}
	return "could not decide"
}

// Matrix is the self-test of one arch.
type Matrix struct {
	Arch     string
	Bases    map[string]*report.Report // by the mutants' base patch ("" = the plain kernel)
	Outcomes []Outcome
	// Subset: only some mutants ran, so a scenario that killed none is
	// not a failure of the self-test.
	Subset bool
}

// known are the base kernels' own failures (6.1's log_used() under an
// IOTLB: see the README); any other base failure makes the base unclean.
var known = map[string]string{
	"iotlb-used-split": "6.1's log_used() logs only the first piece of a used-ring write under an IOTLB",
}

// unkillable says, per scenario, why no mutant can kill it where that is
// so on some arches (the matrix prints it when no mutant did).
var unkillable = map[string]string{
	"bit-position": "u32 words and unsigned longs place bits alike except on big-endian 64-bit kernels, and no mutant here misplaces them otherwise",
	"compat":       "runs only where Go has a 32-bit port for the compat layer (x86_64, arm64)",
	"regions-high": "needs a 64-bit VMM",
}

// Run gates every selected mutant on one arch: each base once, then each
// mutant as a candidate, every run with --inject so the inject-* scenarios
// decide too.
func Run(ctx context.Context, o Options) (*Matrix, error) {
	ms, err := kernels.Mutants()
	if err != nil {
		return nil, err
	}
	if len(o.Only) > 0 {
		var sel []kernels.Mutant
		for _, name := range o.Only {
			i := slices.IndexFunc(ms, func(m kernels.Mutant) bool { return m.Name == name })
			if i < 0 {
				return nil, fmt.Errorf("unknown mutant %q (see kernels/mutants/)", name)
			}
			sel = append(sel, ms[i])
		}
		ms = sel
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join(o.CacheDir, "selftest", o.Arch.Name)
	}
	opts := func(side string, patches []string) run.Options {
		return run.Options{Arch: o.Arch, Patches: patches, Kernel: o.Kernel, CacheDir: o.CacheDir,
			OutDir: filepath.Join(o.OutDir, side), Accel: o.Accel, Jobs: o.Jobs, Progress: o.Progress, Inject: true}
	}
	var bases []string
	for _, m := range ms {
		if !slices.Contains(bases, m.Base) {
			bases = append(bases, m.Base)
		}
	}
	var runs []run.Options
	for _, b := range bases {
		runs = append(runs, opts("base-"+label(b), patchesOf(b)))
	}
	for _, m := range ms {
		f, err := m.WriteFile(filepath.Join(o.OutDir, "patches"))
		if err != nil {
			return nil, err
		}
		runs = append(runs, opts("mutant-"+m.Name, append(patchesOf(m.Base), f)))
	}
	reports := run.Matrix(ctx, runs)
	mx := &Matrix{Arch: o.Arch.Name, Bases: map[string]*report.Report{}, Subset: len(o.Only) > 0}
	for i, b := range bases {
		mx.Bases[b] = reports[i]
	}
	for i, m := range ms {
		cand := reports[len(bases)+i]
		mx.Outcomes = append(mx.Outcomes, judge(m, mx.Bases[m.Base], cand))
	}
	return mx, nil
}

// judge gates one mutant's run against its base's.
func judge(m kernels.Mutant, base, cand *report.Report) Outcome {
	res := gate.Compare([]*report.Report{base}, []*report.Report{cand})
	out := Outcome{Mutant: m, Gate: res, Cand: cand}
	if cand.Cause != nil && cand.Cause.Stage == report.StageBuild {
		out.NoBuild = firstLine(cand.Error)
		return out
	}
	for _, row := range res.Rows {
		if row.Change == gate.Regression {
			out.Killed = append(out.Killed, row.Scenario)
		}
	}
	return out
}

func patchesOf(base string) []string {
	if base == "" {
		return nil
	}
	return []string{base}
}

func label(base string) string {
	if base == "" {
		return "6.1"
	}
	return base
}

// baseProblems lists the bases' failures that are not known ones, and
// bases that could not decide.
func (mx *Matrix) baseProblems() []string {
	var out []string
	for b, r := range mx.Bases {
		if r.Verdict == report.Error {
			out = append(out, fmt.Sprintf("base %s could not decide: %s", label(b), r.Error))
			continue
		}
		for _, s := range r.Scenarios {
			if s.Status == record.Fail && known[s.Name] == "" {
				out = append(out, fmt.Sprintf("base %s fails %s, not a known failure", label(b), s.Name))
			}
		}
	}
	slices.Sort(out)
	return out
}

// scenarios lists every scenario any run reported, in the bases' order.
func (mx *Matrix) scenarios() []string {
	var out []string
	add := func(r *report.Report) {
		for _, s := range r.Scenarios {
			if !slices.Contains(out, s.Name) {
				out = append(out, s.Name)
			}
		}
	}
	if b := mx.Bases[""]; b != nil {
		add(b)
	}
	for _, b := range mx.Bases {
		add(b)
	}
	for _, o := range mx.Outcomes {
		add(o.Cand)
	}
	return out
}

// ExitCode: 0 when every mutant was rejected, every scenario killed one or
// has a stated reason, and the bases fail only as known; 1 when a mutant
// survived or a scenario killed nothing without a reason; 2 when a base or
// a mutant could not decide.
func (mx *Matrix) ExitCode() int {
	code := 0
	for _, o := range mx.Outcomes {
		switch o.Verdict() {
		case "rejected":
		case "SURVIVED":
			return 1
		default:
			code = 2
		}
	}
	if len(mx.baseProblems()) > 0 {
		return 2
	}
	if code == 0 && !mx.Subset && len(mx.unexplained()) > 0 {
		return 1
	}
	return code
}

// unexplained lists scenarios that killed no mutant and have no reason.
func (mx *Matrix) unexplained() []string {
	var out []string
	for _, s := range mx.scenarios() {
		if mx.kills(s) == 0 && mx.whyNone(s) == "" {
			out = append(out, s)
		}
	}
	return out
}

// whyNone says why a scenario can kill no mutant here, or "".
func (mx *Matrix) whyNone(scenario string) string {
	for b, r := range mx.Bases {
		for _, s := range r.Scenarios {
			if s.Name == scenario && s.Status == record.Fail {
				return fmt.Sprintf("base %s fails it itself (%s): a mutant can only make it fail differently", label(b), known[scenario])
			}
		}
	}
	return unkillable[scenario]
}

func (mx *Matrix) kills(scenario string) int {
	n := 0
	for _, o := range mx.Outcomes {
		if slices.Contains(o.Killed, scenario) {
			n++
		}
	}
	return n
}

// cell is one scenario's mark for one mutant.
func cell(o Outcome, scenario string) string {
	if slices.Contains(o.Killed, scenario) {
		return "X"
	}
	if o.NoBuild != "" || o.Cand.Verdict == report.Error && len(o.Cand.Scenarios) == 0 {
		return "E"
	}
	for _, s := range o.Cand.Scenarios {
		if s.Name != scenario {
			continue
		}
		switch s.Status {
		case record.Pass:
			return "."
		case record.Skip:
			return "-"
		case record.Error:
			return "E"
		case record.Fail:
			return "f" // fails as the base does
		}
	}
	if scenario == report.KernelHealth {
		return "." // a healthy console prints no record (the gate's rule)
	}
	return "?"
}

// Write prints the mutants, the scenario x mutant matrix and the verdict.
func Write(w io.Writer, mx *Matrix) {
	fmt.Fprintf(w, "\n== selftest %s: %d mutants\n", mx.Arch, len(mx.Outcomes))
	for i, o := range mx.Outcomes {
		verdict := o.Verdict()
		fmt.Fprintf(w, "M%-2d %-22s on %-11s %-16s killed by %d: %s\n", i+1, o.Mutant.Name, label(o.Mutant.Base), verdict,
			len(o.Killed), strings.Join(o.Killed, ", "))
		var missed []string
		for _, s := range o.Mutant.KilledBy {
			if !slices.Contains(o.Killed, s) {
				missed = append(missed, s)
			}
		}
		if len(missed) > 0 {
			fmt.Fprintf(w, "    expected but did not kill: %s\n", strings.Join(missed, ", "))
		}
		if o.NoBuild != "" {
			fmt.Fprintf(w, "    %s\n", o.NoBuild)
		}
		for _, u := range o.Gate.Undecided {
			fmt.Fprintf(w, "    could not decide: %s\n", firstLine(u))
		}
	}
	fmt.Fprintf(w, "\n%-20s", "SCENARIO")
	for i := range mx.Outcomes {
		fmt.Fprintf(w, " %-3s", fmt.Sprintf("M%d", i+1))
	}
	fmt.Fprintln(w, " KILLS")
	for _, s := range mx.scenarios() {
		fmt.Fprintf(w, "%-20s", s)
		for _, o := range mx.Outcomes {
			fmt.Fprintf(w, " %-3s", cell(o, s))
		}
		n := mx.kills(s)
		fmt.Fprintf(w, " %d", n)
		if n == 0 {
			if why := mx.whyNone(s); why != "" {
				fmt.Fprintf(w, " (none: %s)", why)
			} else if !mx.Subset {
				fmt.Fprint(w, " (NO MUTANT KILLED IT)")
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "X killed (a regression against the base)  . passed  f failed as on the base  - skipped  E could not decide")
	for _, p := range mx.baseProblems() {
		fmt.Fprintf(w, "base: %s\n", p)
	}
	switch mx.ExitCode() {
	case 0:
		if mx.Subset {
			fmt.Fprintln(w, "selftest: PASS: every mutant chosen rejected, the bases clean but for known failures (a subset: scenarios that killed none are not judged)")
			break
		}
		fmt.Fprintln(w, "selftest: PASS: every mutant rejected, every scenario killed one or says why it cannot, the bases clean but for known failures")
	case 1:
		var survived []string
		for _, o := range mx.Outcomes {
			if o.Verdict() == "SURVIVED" {
				survived = append(survived, o.Mutant.Name)
			}
		}
		if mx.Subset { // with some mutants only, most scenarios kill none
			fmt.Fprintf(w, "selftest: FAIL: survived: [%s]\n", strings.Join(survived, ", "))
			break
		}
		fmt.Fprintf(w, "selftest: FAIL: survived: [%s]; scenarios that killed nothing without a reason: [%s]\n",
			strings.Join(survived, ", "), strings.Join(mx.unexplained(), ", "))
	default:
		fmt.Fprintln(w, "selftest: could not decide")
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
