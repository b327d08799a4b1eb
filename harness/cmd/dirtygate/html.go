package main

import (
	"os"

	"dirtygate/harness/gate"
	"dirtygate/harness/htmlreport"
	"dirtygate/harness/report"
)

// writeHTML writes the page of runs (and a gate's changes) to path; no-op
// when path is empty.
func writeHTML(path string, runs []*report.Report, g *gate.Result) error {
	if path == "" {
		return nil
	}
	title := "dirtygate run"
	if g != nil {
		title = "dirtygate gate"
	}
	return writeFile(path, func(f *os.File) error {
		return htmlreport.Write(f, htmlreport.Page{Title: title, Runs: runs, Gate: g})
	})
}
