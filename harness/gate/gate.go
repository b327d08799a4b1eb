// Package gate compares a candidate patch set with a base, per arch and
// scenario, the way a maintainer reads it: what the candidate breaks
// (regressions), what it fixes, and what was broken before and still is.
package gate

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"dirtygate/harness/report"
)

// Change of one (arch, scenario) from base to candidate.
const (
	Same       = "same"
	Regression = "REGRESSION"
	Fixed      = "fixed"
	StillFails = "still fails"
	Undecided  = "undecided"
)

// Row is one (arch, scenario).
type Row struct {
	Arch, Scenario string
	Kernel         string // the source's name ("6.12"); "" when unknown
	Base, Cand     string // pass, fail, error, or "build failed"
	Change         string
	Finding        string // the candidate's first finding or error
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

// buildFailed reports whether a run stopped because the candidate's kernel
// did not compile: a finding against the patch, not an infrastructure
// error (sparc32 SMP has no futex helper, for one).
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

func buildFailed(r *report.Report) bool {
	return strings.HasPrefix(r.Error, "kernel build: compile:")
}

// where names a run's (arch, kernel): base and candidate pair on it.
func where(r *report.Report) string {
	if r.Kernel.Name == "" {
		return r.Arch
	}
	return r.Arch + " " + r.Kernel.Name
}

// Compare pairs base and candidate reports by arch and kernel.
func Compare(base, cand []*report.Report) Result {
	var res Result
	byArch := map[string]*report.Report{}
	for _, b := range base {
		byArch[where(b)] = b
	}
	for _, c := range cand {
		b := byArch[where(c)]
		switch {
		case b == nil:
			res.Undecided = append(res.Undecided, where(c)+": no base run")
			continue
		case b.Verdict == report.Error:
			res.Undecided = append(res.Undecided, fmt.Sprintf("%s: the base could not decide: %s", where(c), b.Error))
			continue
		case c.Verdict == report.Error && !buildFailed(c):
			res.Undecided = append(res.Undecided, fmt.Sprintf("%s: the candidate could not decide: %s", where(c), c.Error))
			continue
		}
		cs := map[string]string{}
		cf := map[string]string{}
		for _, s := range c.Scenarios {
			cs[s.Name] = s.Status
			if len(s.Findings) > 0 {
				cf[s.Name] = s.Findings[0].Detail
			} else if s.Error != "" {
				cf[s.Name] = s.Error
			}
		}
		names := map[string]bool{}
		for _, s := range b.Scenarios {
			names[s.Name] = true
		}
		for n := range cs {
			names[n] = true
		}
		bs := map[string]string{}
		for _, s := range b.Scenarios {
			bs[s.Name] = s.Status
		}
		var sorted []string
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			row := Row{Arch: c.Arch, Kernel: c.Kernel.Name, Scenario: n, Base: bs[n], Cand: cs[n], Finding: cf[n]}
			if buildFailed(c) {
				row.Cand, row.Finding = "build failed", compileError(c.Error)
			}
			row.Change = change(row.Base, row.Cand)
			switch row.Change {
			case Regression:
				res.Regressions++
			case Undecided:
				res.Undecided = append(res.Undecided, fmt.Sprintf("%s %s: base %q, candidate %q", where(c), n, row.Base, row.Cand))
			}
			res.Rows = append(res.Rows, row)
		}
	}
	return res
}

func change(base, cand string) string {
	switch {
	case base == "pass" && cand == "pass":
		return Same
	case base == "pass" && (cand == "fail" || cand == "build failed" || cand == ""):
		return Regression
	case base == "fail" && cand == "pass":
		return Fixed
	case base == "fail" && (cand == "fail" || cand == "build failed"):
		return StillFails
	case base == "skip" && cand == "skip":
		return Same // does not apply to either kernel (e.g. no --inject)
	}
	return Undecided
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
	for _, pass := range []string{Regression, Undecided, Fixed, StillFails} {
		for _, row := range r.Rows {
			if row.Change == pass {
				f := row.Finding
				if len(f) > 100 {
					f = f[:97] + "..."
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Arch, row.Kernel, row.Scenario, row.Base, row.Cand, row.Change, f)
			}
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
