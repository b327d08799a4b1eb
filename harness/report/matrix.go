package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// symbols for the matrix cells.
var symbols = map[string]string{"pass": "ok", "fail": "FAIL", "known": "known", "error": "ERR", "skip": "skip", "": "-"}

// WriteMatrix renders several runs as one table: rows are scenarios,
// columns are runs (arch and patches), then a legend and the verdicts.
func WriteMatrix(w io.Writer, runs []*Report) {
	var order []string
	seen := map[string]bool{}
	cell := map[string]map[string]string{}
	for _, r := range runs {
		cell[r.Name()] = map[string]string{}
		for _, s := range r.Scenarios {
			if !seen[s.Name] {
				seen[s.Name] = true
				order = append(order, s.Name)
			}
			st := string(s.Status)
			if s.Known != "" {
				st = "known"
			}
			cell[r.Name()][s.Name] = st
		}
	}
	fmt.Fprintln(w, "\n== matrix")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"SCENARIO"}
	for _, r := range runs {
		head = append(head, r.Name())
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, name := range order {
		row := []string{name}
		for _, r := range runs {
			row = append(row, symbols[cell[r.Name()][name]])
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	row := []string{"VERDICT"}
	for _, r := range runs {
		v := strings.ToUpper(string(r.Verdict))
		if r.OnlyKnown {
			v += " (known)"
		}
		row = append(row, v)
	}
	fmt.Fprintln(tw, strings.Join(row, "\t"))
	tw.Flush()
	fmt.Fprintln(w, "legend: ok pass, FAIL findings, known the kernel source's own known failure (kernels/known/), ERR could not decide, skip does not apply, - not run")
	for _, r := range runs {
		if r.Error != "" {
			fmt.Fprintf(w, "  %s could not decide: %s\n", r.Name(), r.Error)
		}
	}
}
