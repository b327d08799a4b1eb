// Package htmlreport renders reports as one self-contained HTML page: the
// arch x scenario matrix (with a gate's changes when there is a gate),
// and for each failing scenario an inline SVG drawing of the log around
// its findings, decoded with the oracle's layout. No script, no external
// asset: the page is a CI artifact opened from disk.
//
// Runs on the host.
package htmlreport

import (
	"fmt"
	"html/template"
	"io"
	"strings"

	"dirtygate/harness/gate"
	"dirtygate/harness/report"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

// Page is what one page shows.
type Page struct {
	Title string
	Runs  []*report.Report // drawn: a run's reports, or a gate's candidate
	Gate  *gate.Result     // optional: the changes from the base, per cell
}

// Write renders the page.
func Write(w io.Writer, p Page) error {
	if p.Title == "" {
		p.Title = "dirtygate"
	}
	v := view{Title: p.Title, Legend: template.HTML(Legend())}
	v.matrix(p)
	for ri, r := range p.Runs {
		for si, s := range r.Scenarios {
			if s.Status == record.Fail || s.Status == record.Error {
				v.Sections = append(v.Sections, section(r, s, fmt.Sprintf("d%d-%d", ri, si)))
			}
		}
		if r.Error != "" {
			v.Errors = append(v.Errors, r.Name()+": "+r.Error)
		}
	}
	if p.Gate != nil {
		var b strings.Builder
		gate.Write(&b, *p.Gate)
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		v.Verdict = lines[len(lines)-1]
		v.Undecided = p.Gate.Undecided
	}
	return pageTmpl.Execute(w, v)
}

type view struct {
	Title     string
	Verdict   string
	Head      []string
	Rows      []matrixRow
	Sections  []sect
	Errors    []string
	Undecided []string
	Legend    template.HTML
}

type matrixRow struct {
	Scenario string
	Cells    []matrixCell
}

type matrixCell struct {
	Status, Change, Base, Anchor string
	Known                        string // why this failure is the kernel's own, known one
}

// matrix lays out scenarios (rows) by runs (columns); a run's column
// names its arch, patches and kernel.
func (v *view) matrix(p Page) {
	// A gate's rows are keyed as gate.Key keys runs: arch and kernel.
	changes := map[string]gate.Row{}
	if p.Gate != nil {
		for _, r := range p.Gate.Rows {
			key := r.Arch
			if r.Kernel != "" {
				key += " " + r.Kernel
			}
			changes[key+"\x00"+r.Scenario] = r
		}
	}
	var order []string
	seen := map[string]bool{}
	for _, r := range p.Runs {
		v.Head = append(v.Head, r.Name()+" · kernel "+r.Kernel.Version)
		for _, s := range r.Scenarios {
			if !seen[s.Name] {
				seen[s.Name] = true
				order = append(order, s.Name)
			}
		}
	}
	for _, name := range order {
		row := matrixRow{Scenario: name}
		for ri, r := range p.Runs {
			c := matrixCell{}
			for si, s := range r.Scenarios {
				if s.Name == name {
					c.Status, c.Known = string(s.Status), s.Known
					if s.Status == record.Fail || s.Status == record.Error {
						c.Anchor = fmt.Sprintf("d%d-%d", ri, si)
					}
				}
			}
			if g, ok := changes[gate.Key(r)+"\x00"+name]; ok && g.Change != gate.Same {
				c.Change, c.Base = g.Change, string(g.Base)
			}
			row.Cells = append(row.Cells, c)
		}
		v.Rows = append(v.Rows, row)
	}
}

type sect struct {
	ID, Run, Scenario, Status, Error, Control string
	Findings                                  []oracle.Finding
	Notes                                     []string
	SVG                                       template.HTML
	NoDrawing                                 string
}

// section is one failing (or undecided) scenario: its findings and the
// drawing of its log.
func section(r *report.Report, s record.Scenario, id string) sect {
	sc := sect{ID: id, Run: r.Name(), Scenario: s.Name, Status: string(s.Status), Error: s.Error, Control: s.Control,
		Findings: s.Findings, Notes: s.Notes}
	bitmap := false
	for _, f := range s.Findings {
		bitmap = bitmap || !oracle.OutsideBitmap(f.Kind)
	}
	switch {
	case s.Evidence == nil:
		sc.NoDrawing = "no bitmap in the record: nothing to draw"
	case !bitmap:
		sc.NoDrawing = "decided outside the bitmap (an ioctl's answer, an eventfd, the console, the cache model): the log itself was right"
	default:
		d, err := NewDrawing(s)
		if err != nil {
			sc.NoDrawing = err.Error()
			break
		}
		sc.SVG = template.HTML(d.SVG(id))
		if d.Hidden > 0 {
			sc.NoDrawing = fmt.Sprintf("%d more word(s) with something to see are not drawn (a drawing holds %d)", d.Hidden, maxRows)
		}
	}
	return sc
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:14px/1.4 sans-serif;margin:1.5em;color:#222}
table.matrix{border-collapse:collapse}
.matrix td,.matrix th{border:1px solid #ccc;padding:2px 8px;text-align:center}
.matrix td:first-child{text-align:left;font-family:monospace}
.pass{background:#e6f4e6}.fail{background:#fbe3e3}.error{background:#fff3c4}.skip{color:#888}
.REGRESSION{font-weight:bold;color:#b00}.fixed{color:#070}.chg{display:block;font-size:11px}
svg text{font:11px monospace}svg .gap{fill:#888}svg .move{fill:none;stroke:#1f77b4;stroke-opacity:.7}
section{border-top:1px solid #ddd;margin-top:1.5em}
.kind{font-family:monospace;font-weight:bold}.cause{color:#555}
.draw{overflow-x:auto}.top{display:flex;gap:2em;align-items:flex-start}.top h2{margin-top:0}
</style></head><body>
<h1>{{.Title}}</h1>
{{with .Verdict}}<p><b>{{.}}</b></p>{{end}}
{{range .Undecided}}<p class="error">could not decide: {{.}}</p>{{end}}
{{range .Errors}}<p class="error">could not decide: {{.}}</p>{{end}}
<div class="top"><table class="matrix"><tr><th>scenario</th>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Scenario}}</td>{{range .Cells}}<td class="{{.Status}}">{{if .Anchor}}<a href="#{{.Anchor}}">{{.Status}}</a>{{else}}{{or .Status "–"}}{{end}}{{with .Known}}<span class="chg" title="{{.}}">known</span>{{end}}{{if .Change}}<span class="chg {{.Change}}">{{.Change}} (base {{or .Base "–"}})</span>{{end}}</td>{{end}}</tr>
{{end}}</table>
<div><h2>The drawings</h2>
<p>One cell per page of the log, one row per unsigned long of the target (set_bit numbering), canaries around the log. Hover a cell for its page.</p>
{{.Legend}}</div></div>
{{range .Sections}}<section id="{{.ID}}"><h3>{{.Run}}: {{.Scenario}} ({{.Status}})</h3>
{{with .Error}}<p class="error">could not decide: {{.}}</p>{{end}}
<ul>{{range .Findings}}<li><span class="kind">{{.Kind}}</span> {{.Detail}}{{with .Cause}}<br><span class="cause">cause: {{.}}</span>{{end}}</li>{{end}}</ul>
{{with .SVG}}<div class="draw">{{.}}</div>{{end}}
{{with .NoDrawing}}<p class="cause">{{.}}</p>{{end}}
{{with .Control}}<p class="cause">control: {{.}}</p>{{end}}
{{range .Notes}}<p class="cause">{{.}}</p>{{end}}
</section>
{{end}}
</body></html>
`))
