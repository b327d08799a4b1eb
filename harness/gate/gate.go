// Package gate compares a candidate patch set with a base, per arch and
// scenario, the way a maintainer reads it: what the candidate breaks
// (regressions), what it fixes, and what was broken before and still is.
//
// Runs on the host.
package gate

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"dirtygate/harness/report"
	"dirtygate/vmm/record"
)

// Change of one (arch, scenario) from base to candidate.
const (
	Same       = "same"
	Regression = "REGRESSION"
	Fixed      = "fixed"
	Improved   = "improved"    // still fails, with a subset of the base's findings
	StillFails = "still fails" // the same findings
	NowRuns    = "now runs"    // skipped on the base, passes on the candidate
	Undecided  = "undecided"
)

// BuildFailed is the candidate's status in every row of a run whose kernel
// did not compile.
const BuildFailed record.Status = "build failed"

// Row is one (arch, kernel, scenario).
type Row struct {
	Arch, Kernel, Scenario string
	Base, Cand             record.Status // a scenario's status, or BuildFailed
	Change                 string
	Finding                string   // the candidate's first finding or error
	New                    []string // what the candidate's findings add to the base's
	Known                  string   // why the candidate's failure is a known one
}

// Result of a gate.
type Result struct {
	Rows        []Row
	Regressions int
	Undecided   []string // why something could not be decided
}

// ExitCode: 1 on any regression, else 2 if anything could not be decided,
// else 0.
func (r Result) ExitCode() int {
	switch {
	case r.Regressions > 0:
		return 1
	case len(r.Undecided) > 0:
		return 2
	}
	return 0
}

// compileError picks the compiler's first error line out of a build
// failure, so the table names the cause, not the make target.
func compileError(msg string) string {
	for _, l := range strings.Split(msg, "\n") {
		if strings.Contains(l, "error:") {
			if i := strings.Index(l, "drivers/"); i >= 0 {
				l = l[i:] // the path inside the tree, not the build directory
			}
			return "does not compile: " + strings.TrimSpace(l)
		}
	}
	return firstLine(msg)
}

// Key pairs a base run with a candidate run: the arch and the kernel's
// name ("6.12"), or for a tree its VERSION.PATCHLEVEL (a saved report may
// come from another machine, so not the source's path or package version).
func Key(r *report.Report) string {
	if k := kernelLine(r); k != "" {
		return r.Arch + " " + k
	}
	return r.Arch
}

func kernelLine(r *report.Report) string {
	if n := r.Kernel.Name; n != "" && n != "tree" {
		return n
	}
	v := strings.SplitN(r.Kernel.Version, ".", 3)
	if len(v) < 2 {
		return ""
	}
	return v[0] + "." + strings.TrimFunc(v[1], func(c rune) bool { return c < '0' || c > '9' })
}

// Compare pairs base and candidate reports by arch and kernel and
// compares each scenario's signature.
func Compare(base, cand []*report.Report) Result {
	var res Result
	byKey := map[string]*report.Report{}
	byArch := map[string][]*report.Report{}
	for _, b := range base {
		byKey[Key(b)] = b
		byArch[b.Arch] = append(byArch[b.Arch], b)
	}
	candArch := map[string]int{}
	for _, c := range cand {
		candArch[c.Arch]++
	}
	for _, c := range cand {
		b := byKey[Key(c)]
		if b == nil && len(byArch[c.Arch]) == 1 && candArch[c.Arch] == 1 {
			// One run of this arch on each side: two revisions of a tree
			// across a version bump, or a saved report of another build.
			b = byArch[c.Arch][0]
		}
		switch {
		case b == nil:
			res.Undecided = append(res.Undecided, Key(c)+": no base run")
			continue
		case b.Verdict == report.Error && !b.ScenarioUndecided:
			res.Undecided = append(res.Undecided, fmt.Sprintf("%s: the base could not decide: %s", Key(c), b.Error))
			continue
		case c.Verdict == report.Error && !c.CompileFailed() && !c.ScenarioUndecided:
			res.Undecided = append(res.Undecided, fmt.Sprintf("%s: the candidate could not decide: %s", Key(c), c.Error))
			continue
		case b.AliasModel.On != c.AliasModel.On && !c.CompileFailed():
			// The model adds findings a run without it cannot have.
			res.Undecided = append(res.Undecided, fmt.Sprintf("%s: the cache model (--alias-model) was %s for the base and %s for the candidate: their findings cannot be compared",
				Key(c), onOff(b.AliasModel.On), onOff(c.AliasModel.On)))
			continue
		}
		res.compareRun(b, c)
	}
	return res
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// compareRun adds the rows of one (arch, kernel).
func (res *Result) compareRun(b, c *report.Report) {
	bs, cs := byName(b), byName(c)
	names := map[string]bool{}
	for n := range bs {
		names[n] = true
	}
	for n := range cs {
		names[n] = true
	}
	for _, n := range sortedKeys(names) {
		bsc, csc := bs[n], cs[n]
		row := Row{Arch: c.Arch, Kernel: kernelLine(c), Scenario: n, Base: bsc.Status, Cand: csc.Status, Known: csc.Known}
		if len(csc.Findings) > 0 {
			row.Finding = csc.Findings[0].Detail
		} else if csc.Error != "" {
			row.Finding = csc.Error
		}
		if c.CompileFailed() {
			row.Cand, row.Finding = BuildFailed, compileError(c.Error)
		}
		row.Change, row.New = change(row.Base, row.Cand, bsc, csc)
		switch row.Change {
		case Regression:
			res.Regressions++
		case Undecided:
			why := fmt.Sprintf("%s %s: base %q, candidate %q", Key(c), n, row.Base, row.Cand)
			if row.Cand == record.Skip {
				why += ": the candidate made the scenario not apply, so what it covered is unknown"
			}
			res.Undecided = append(res.Undecided, why)
		}
		res.Rows = append(res.Rows, row)
	}
}

// byName indexes a run's scenarios. A run without kernel-health printed
// no splat: that scenario passed.
func byName(r *report.Report) map[string]record.Scenario {
	m := map[string]record.Scenario{}
	for _, s := range r.Scenarios {
		m[s.Name] = s
	}
	if _, ok := m[report.KernelHealth]; !ok && (r.Verdict != report.Error || r.ScenarioUndecided) {
		m[report.KernelHealth] = record.Scenario{Name: report.KernelHealth, Status: record.Pass}
	}
	return m
}

// change classifies one scenario from base to candidate and says what the
// candidate's findings add.
func change(base, cand record.Status, bs, cs record.Scenario) (string, []string) {
	switch {
	case cand == BuildFailed:
		if base == record.Fail {
			return StillFails, nil
		}
		return Regression, []string{"the candidate does not compile"}
	case base == record.Error || cand == record.Error || base == "" || cand == "":
		return Undecided, nil
	case base == record.Skip && cand == record.Skip:
		return Same, nil // applies to neither kernel (e.g. no --inject)
	case base == record.Skip && cand == record.Pass:
		return NowRuns, nil
	case cand == record.Skip:
		return Undecided, nil
	}
	bsig, csig := SignatureOf(bs), SignatureOf(cs)
	if base == record.Skip { // and the candidate fails
		return Regression, csig.Atoms
	}
	d := Diff(bsig, csig)
	switch {
	case base == record.Pass && cand == record.Fail:
		return Regression, csig.Atoms
	case base == record.Fail && cand == record.Pass:
		return Fixed, nil
	case len(d.New) > 0 || d.Worse:
		return Regression, d.New
	case base == record.Pass:
		return Same, nil
	case len(d.Gone) > 0 || d.Better:
		return Improved, nil
	}
	return StillFails, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// Write prints what changed, regressions first, then the verdict line.
func Write(w io.Writer, r Result) {
	fmt.Fprintln(w, "\n== gate")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ARCH\tKERNEL\tSCENARIO\tBASE\tCANDIDATE\tCHANGE\tFINDING")
	for _, pass := range []string{Regression, Undecided, Fixed, Improved, StillFails, NowRuns} {
		for _, row := range r.Rows {
			if row.Change != pass {
				continue
			}
			f := row.Finding
			switch {
			case len(row.New) > 0 && row.Base != record.Pass:
				f = "new: " + strings.Join(row.New, "; ")
			case row.Known != "":
				f = "known: " + row.Known
			}
			if len(f) > 110 {
				f = f[:107] + "..."
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Arch, row.Kernel, row.Scenario, row.Base, row.Cand, row.Change, f)
		}
	}
	tw.Flush()
	same := 0
	for _, row := range r.Rows {
		if row.Change == Same {
			same++
		}
	}
	fmt.Fprintf(w, "%d unchanged passes not listed\n", same)
	for _, u := range r.Undecided {
		fmt.Fprintf(w, "could not decide: %s\n", u)
	}
	switch r.ExitCode() {
	case 0:
		fmt.Fprintln(w, "gate: PASS: no regression")
	case 1:
		fmt.Fprintf(w, "gate: REJECT: %d regression(s)\n", r.Regressions)
	default:
		fmt.Fprintln(w, "gate: could not decide")
	}
}
