package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"

	"dirtygate/vmm/record"
)

// JUnit XML, the subset every CI understands: one testsuite per run (arch
// and patches), one testcase per scenario; findings become failures, runs
// and scenarios that could not decide become errors, with a console
// excerpt.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *struct{}     `xml:"skipped,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes the runs as JUnit XML.
func WriteJUnit(w io.Writer, runs []*Report) error {
	var all junitSuites
	for _, r := range runs {
		s := junitSuite{Name: "dirtygate " + r.Name(), Time: r.Timings.Total}
		excerpt := consoleExcerpt(r.ConsoleLog, 40)
		scenarioErr := false
		for _, sc := range r.Scenarios {
			scenarioErr = scenarioErr || sc.Status == record.Error
		}
		if r.Error != "" && !scenarioErr { // a scenario's own error is reported on it
			s.Cases = append(s.Cases, junitCase{Name: "run", Classname: r.Name(),
				Error: &junitProblem{Message: r.Error, Type: "could-not-decide", Body: r.Error + "\n\n" + excerpt}})
			s.Errors++
		}
		for _, sc := range r.Scenarios {
			c := junitCase{Name: sc.Name, Classname: r.Name(), Time: float64(sc.Millis) / 1000}
			switch sc.Status {
			case record.Fail:
				var lines []string
				for _, f := range sc.Findings {
					lines = append(lines, f.Detail)
					if f.Cause != "" {
						lines = append(lines, "  cause: "+f.Cause)
					}
				}
				msg := sc.Findings[0].Detail
				if sc.Known != "" {
					msg = "known failure of this kernel source (" + sc.Known + "): " + msg
				}
				c.Failure = &junitProblem{Message: msg, Type: string(sc.Findings[0].Kind),
					Body: strings.Join(lines, "\n") + "\n\n" + excerpt}
				s.Failures++
			case record.Error:
				c.Error = &junitProblem{Message: firstLine(sc.Error), Type: "could-not-decide", Body: sc.Error + "\n\n" + excerpt}
				s.Errors++
			case record.Skip:
				c.Skipped = &struct{}{}
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		all.Suites = append(all.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// consoleExcerpt is the last n lines of a console log, if there is one.
func consoleExcerpt(path string, n int) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	l := strings.Split(strings.TrimRight(strings.ReplaceAll(string(b), "\r", ""), "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return fmt.Sprintf("console (%s, last %d lines):\n%s", path, len(l), strings.Join(l, "\n"))
}

// WriteMarkdown writes a summary for a CI job page: the matrix with
// symbols, then the findings, then what emulation cannot establish.
func WriteMarkdown(w io.Writer, runs []*Report) {
	sym := map[string]string{"pass": "✅", "fail": "❌", "known": "🔁", "error": "⚠️", "skip": "⏭️", "": "–"}
	fmt.Fprintln(w, "## dirtygate")
	fmt.Fprintln(w)
	var order []string
	seen := map[string]bool{}
	for _, r := range runs {
		for _, s := range r.Scenarios {
			if !seen[s.Name] {
				seen[s.Name] = true
				order = append(order, s.Name)
			}
		}
	}
	head := "| scenario |"
	sep := "|---|"
	for _, r := range runs {
		head += " " + r.Name() + " |"
		sep += ":---:|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	for _, name := range order {
		row := "| " + name + " |"
		for _, r := range runs {
			st := ""
			for _, s := range r.Scenarios {
				if s.Name == name {
					st = string(s.Status)
					if s.Known != "" {
						st = "known"
					}
				}
			}
			row += " " + sym[st] + " |"
		}
		fmt.Fprintln(w, row)
	}
	row := "| **verdict** |"
	for _, r := range runs {
		row += " **" + string(r.Verdict) + "** |"
	}
	fmt.Fprintln(w, row)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "✅ pass · ❌ findings · 🔁 the kernel source's own known failure · ⚠️ could not decide · ⏭️ does not apply · – not run")
	for _, r := range runs {
		var lines []string
		if r.Error != "" {
			lines = append(lines, "- could not decide: "+mdEscape(r.Error))
		}
		for _, s := range r.Scenarios {
			if s.Known != "" {
				lines = append(lines, fmt.Sprintf("- `%s` known failure: %s", s.Name, mdEscape(s.Known)))
			}
			for _, f := range s.Findings {
				lines = append(lines, fmt.Sprintf("- `%s` %s", s.Name, mdEscape(f.Detail)))
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(w, "\n### %s\n\n%s\n", r.Name(), strings.Join(lines, "\n"))
		}
	}
	if len(runs) > 0 {
		fmt.Fprintf(w, "\n> %s\n", runs[0].EmulationNote)
	}
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;").Replace(s)
}
