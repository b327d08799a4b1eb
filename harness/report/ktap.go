package report

import (
	"fmt"
	"io"
	"strings"

	"dirtygate/vmm/record"
)

// WriteKTAP renders the runs as KTAP version 1 (the kernel's test output
// format, Documentation/dev-tools/ktap.rst): one subtest per run, one test
// per scenario. A scenario that could not decide is "not ok" with an
// ERROR note, so a KTAP consumer never counts it as a pass; a run that
// could not decide as a whole is "not ok" with its cause.
func WriteKTAP(w io.Writer, reports []*Report) {
	fmt.Fprintln(w, "KTAP version 1")
	fmt.Fprintf(w, "1..%d\n", len(reports))
	for i, r := range reports {
		name := ktapName(r.Name())
		fmt.Fprintln(w, "    KTAP version 1")
		fmt.Fprintf(w, "    # Subtest: %s\n", name)
		fmt.Fprintf(w, "    # %s\n", oneLine(r.EmulationNote))
		fmt.Fprintf(w, "    1..%d\n", len(r.Scenarios))
		for j, s := range r.Scenarios {
			for _, f := range s.Findings {
				fmt.Fprintf(w, "    # %s: %s\n", s.Name, oneLine(f.Detail))
			}
			switch s.Status {
			case record.Pass:
				fmt.Fprintf(w, "    ok %d %s\n", j+1, ktapName(s.Name))
			case record.Skip:
				fmt.Fprintf(w, "    ok %d %s # SKIP\n", j+1, ktapName(s.Name))
			case record.Error:
				fmt.Fprintf(w, "    # %s: could not decide: %s\n", s.Name, oneLine(s.Error))
				fmt.Fprintf(w, "    not ok %d %s # ERROR could not decide\n", j+1, ktapName(s.Name))
			default:
				fmt.Fprintf(w, "    not ok %d %s\n", j+1, ktapName(s.Name))
			}
		}
		switch r.Verdict {
		case Pass:
			fmt.Fprintf(w, "ok %d %s\n", i+1, name)
		case Error:
			fmt.Fprintf(w, "# %s: could not decide: %s\n", name, oneLine(r.Error))
			fmt.Fprintf(w, "not ok %d %s # ERROR could not decide\n", i+1, name)
		default:
			fmt.Fprintf(w, "not ok %d %s\n", i+1, name)
		}
	}
}

// ktapName keeps a test name to one token-safe line ('#' starts a directive).
func ktapName(s string) string {
	return strings.NewReplacer("#", "_", "\n", " ", " ", "_").Replace(s)
}

func oneLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
