package kernels

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Mutants are small test-only breakages of the log path (kernels/mutants/):
// `dirtygate selftest` gates each against its base to show the scenarios
// can fail on a real kernel, not only on an edited bitmap.
//
//go:embed mutants/*.patch
var mutantFS embed.FS

// Mutant is one test-only breakage of the log path.
type Mutant struct {
	Name string
	// Base is the patch the mutant applies on top of ("" for the plain
	// kernel, else a built-in patch such as futex-fixed).
	Base     string
	Models   string   // the realistic breakage it models
	KilledBy []string // scenarios expected to reject it
	Patch    []byte
}

// Mutants lists the built-in mutants by name.
func Mutants() ([]Mutant, error) {
	ents, err := mutantFS.ReadDir("mutants")
	if err != nil {
		return nil, err
	}
	var out []Mutant
	for _, e := range ents {
		b, err := mutantFS.ReadFile("mutants/" + e.Name())
		if err != nil {
			return nil, err
		}
		m, err := parseMutant(strings.TrimSuffix(e.Name(), ".patch"), b)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// parseMutant reads the header: "base: 6.1|PATCH", "killed-by: a, b", then
// a paragraph saying what it models, then the diff.
func parseMutant(name string, b []byte) (Mutant, error) {
	m := Mutant{Name: name, Patch: b}
	head, _, ok := strings.Cut(string(b), "\n--- a/")
	if !ok {
		return m, fmt.Errorf("mutant %s holds no diff", name)
	}
	var models []string
	for _, l := range strings.Split(head, "\n")[1:] {
		switch {
		case strings.HasPrefix(l, "base: "):
			if m.Base = strings.TrimPrefix(l, "base: "); m.Base == "6.1" {
				m.Base = ""
			}
		case strings.HasPrefix(l, "killed-by: "):
			for _, s := range strings.Split(strings.TrimPrefix(l, "killed-by: "), ",") {
				m.KilledBy = append(m.KilledBy, strings.Fields(s)[0])
			}
		case strings.TrimSpace(l) != "":
			models = append(models, strings.TrimSpace(l))
		}
	}
	m.Models = strings.Join(models, " ")
	if len(m.KilledBy) == 0 || m.Models == "" {
		return m, fmt.Errorf("mutant %s: its header must say what it models and which scenarios kill it (killed-by:)", name)
	}
	return m, nil
}

// WriteFile puts the mutant's patch in dir, for --patch (a file keeps the
// mutant out of the built-in patch names).
func (m Mutant) WriteFile(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(dir, "mutant-"+m.Name+".patch")
	return p, os.WriteFile(p, m.Patch, 0o644)
}
