package main

import (
	"bytes"
	"flag"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"dirtygate/harness/report"
)

// usage is generated from the flag sets: every flag of every command is
// in it, aliases aside.
func TestUsageListsEveryFlag(t *testing.T) {
	var b bytes.Buffer
	usage(&b)
	text := b.String()
	for _, c := range commands {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.new().define(fs)
		line := text[strings.Index(text, "dirtygate "+c.name+" "):]
		line = line[:regexp.MustCompile(`\n {6}[^ ]`).FindStringIndex(line)[0]]
		fs.VisitAll(func(f *flag.Flag) {
			if strings.HasPrefix(f.Usage, "alias of ") {
				return
			}
			if !strings.Contains(line, "-"+f.Name+" ") && !strings.Contains(line, "-"+f.Name+"]") {
				t.Errorf("%s: usage lacks -%s:\n%s", c.name, f.Name, line)
			}
		})
	}
}

// A report file that cannot be written is an error, whatever the format.
func TestOutputsReportWriteErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "no", "such", "dir", "x")
	r := &report.Report{Arch: "x86_64"}
	for _, format := range []string{"json", "junit", "markdown", "html"} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		o := addOutputs(fs, "", format)
		if err := fs.Parse([]string{"--" + format, bad}); err != nil {
			t.Fatal(err)
		}
		if err := o.write(r, []*report.Report{r}, nil); err == nil {
			t.Errorf("--%s %s: no error", format, bad)
		}
	}
}
