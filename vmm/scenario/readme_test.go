package scenario

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite README.md's scenario list from the code")

const (
	readmePath  = "../../README.md"
	listStart   = "<!-- scenarios: generated from vmm/scenario/list.go by `go test ./vmm/scenario -run README -update`; edit the docs there -->\n"
	listEnd     = "<!-- end of scenarios -->\n"
	placeholder = "@@LIST@@\n"
)

// readmeList is the README's scenario list: one bullet per scenario, in
// run order, with its Doc.
func readmeList() string {
	var b strings.Builder
	for _, s := range All() {
		b.WriteString("- **" + s.Name + "**: " + s.Doc + "\n")
	}
	return b.String()
}

// Every scenario's documentation lives once, in list.go: the README's
// list must be what the code says.
func TestREADMEScenarioList(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, listStart), strings.Index(readme, listEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no scenario list between %q and %q", listStart, listEnd)
	}
	got, want := readme[i+len(listStart):j], readmeList()
	if *update {
		readme = readme[:i+len(listStart)] + want + readme[j:]
		if err := os.WriteFile(readmePath, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("README.md's scenario list differs from vmm/scenario/list.go's docs: run go test ./vmm/scenario -run README -update\n--- README\n%s\n--- code\n%s", got, want)
	}
	for _, s := range All() {
		if s.Doc == "" || !strings.Contains(s.Doc, ".") {
			t.Errorf("%s: no documentation", s.Name)
		}
	}
}
