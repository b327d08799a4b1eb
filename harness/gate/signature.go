package gate

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
	"dirtygate/vmm/scenario"
)

// Signature is what one (arch, scenario) outcome says is wrong, in a form
// two runs can be compared by: the status, one atom per thing found (a
// finding kind with a page it names, or a finding's text with its numbers
// taken out), how many pages each kind names, and the class of the
// classified scenarios. Two runs of the same kernel give the same
// signature: scenarios whose pages vary from run to run (races, random
// injection) keep only their finding kinds.
type Signature struct {
	Status record.Status
	Atoms  []string       // sorted, distinct
	Counts map[string]int // finding kind -> pages or bits it names
	Class  string         // classified scenarios only (see record.Class*)
}

// SignatureOf normalises one scenario's outcome.
func SignatureOf(s record.Scenario) Signature {
	sig := Signature{Status: s.Status, Counts: map[string]int{}, Class: s.Class}
	noisy := scenario.Noisy(s.Name)
	atoms := map[string]bool{}
	for _, f := range s.Findings {
		k := string(f.Kind)
		if noisy {
			atoms[k] = true
			continue
		}
		if len(f.Pages) > 0 {
			for _, p := range f.Pages {
				atoms[fmt.Sprintf("%s page %d", k, p)] = true
			}
			sig.Counts[k] += count(f)
			continue
		}
		atoms[normalise(f.Detail)] = true
	}
	for a := range atoms {
		sig.Atoms = append(sig.Atoms, a)
	}
	sort.Strings(sig.Atoms)
	return sig
}

// count is how many pages or bits a finding names: the number its detail
// leads with ("missing: 3 written page(s)"), else the pages it lists
// (which the oracle bounds).
func count(f oracle.Finding) int {
	_, rest, _ := strings.Cut(f.Detail, ": ")
	if n, err := strconv.Atoi(strings.Fields(rest + " x")[0]); err == nil {
		return max(n, len(f.Pages))
	}
	return len(f.Pages)
}

var (
	hexNum = regexp.MustCompile(`0x[0-9a-fA-F]+|\b[0-9a-f]{8,16}\b`)
	decNum = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)
	spaces = regexp.MustCompile(`\s+`)
)

// normalise keeps a finding's words and drops what varies between runs
// of the same kernel: addresses, counts, timestamps, PIDs.
func normalise(s string) string {
	s = hexNum.ReplaceAllString(s, "X")
	s = decNum.ReplaceAllString(s, "N")
	return strings.TrimSpace(spaces.ReplaceAllString(s, " "))
}

// classRank orders the classes of a classified scenario from worst to
// best; a move down is a regression even where both runs pass.
var classRank = map[string]int{
	record.ClassSilentLoss: 0,
	record.ClassReported:   1,
	record.ClassRefused:    2,
	record.ClassCorrect:    2,
}

// Delta is what the candidate's signature adds to and drops from the
// base's.
type Delta struct {
	New, Gone []string // atoms, and counts that grew or shrank
	Worse     bool     // the class got worse
	Better    bool     // the class got better
}

// Diff compares two signatures of the same (arch, scenario).
func Diff(base, cand Signature) Delta {
	var d Delta
	for _, a := range cand.Atoms {
		if !slices.Contains(base.Atoms, a) {
			d.New = append(d.New, a)
		}
	}
	for _, a := range base.Atoms {
		if !slices.Contains(cand.Atoms, a) {
			d.Gone = append(d.Gone, a)
		}
	}
	kinds := map[string]bool{}
	for k := range base.Counts {
		kinds[k] = true
	}
	for k := range cand.Counts {
		kinds[k] = true
	}
	for _, k := range sortedKeys(kinds) {
		b, c := base.Counts[k], cand.Counts[k]
		switch {
		case c > b:
			d.New = append(d.New, fmt.Sprintf("%s: %d page(s), was %d", k, c, b))
		case c < b:
			d.Gone = append(d.Gone, fmt.Sprintf("%s: %d page(s), was %d", k, c, b))
		}
	}
	if base.Class != "" && cand.Class != "" && base.Class != cand.Class {
		rb, okb := classRank[base.Class]
		rc, okc := classRank[cand.Class]
		switch {
		case !okb || !okc:
			d.Worse = true // an unknown class cannot be ranked: look at it
		case rc < rb:
			d.Worse = true
		case rc > rb:
			d.Better = true
		}
		if d.Worse {
			d.New = append(d.New, fmt.Sprintf("class: %s, was %s", cand.Class, base.Class))
		} else {
			d.Gone = append(d.Gone, fmt.Sprintf("class: %s, was %s", cand.Class, base.Class))
		}
	}
	return d
}

func sortedKeys(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
