package gate

import (
	"maps"
	"slices"
	"strings"

	"dirtygate/harness/report"
	"dirtygate/kernels"
	"dirtygate/vmm/record"
)

// MarkKnown marks each failing scenario of r whose signature is exactly a
// known failure of its kernel source, with the reason. A known failure
// whose signature changed (another page missing, another splat) stays
// unmarked: it is a new failure.
func MarkKnown(r *report.Report, known []kernels.Known) {
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		s.Known = "" // decided again: a saved report may have been edited
		if s.Status != record.Fail {
			continue
		}
		sig := SignatureOf(*s)
		for _, k := range known {
			if k.Scenario == s.Name && k.Status == s.Status && (len(k.Arches) == 0 || slices.Contains(k.Arches, r.Arch)) &&
				atomsMatch(k.Signature, sig.Atoms) && (k.Counts == nil || maps.Equal(k.Counts, sig.Counts)) {
				s.Known = k.Why
			}
		}
	}
	r.Decide()
}

// atomsMatch: every atom matches a pattern and every pattern an atom.
func atomsMatch(patterns, atoms []string) bool {
	match := func(p, a string) bool {
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			return strings.HasPrefix(a, pre)
		}
		return p == a
	}
	for _, a := range atoms {
		if !slices.ContainsFunc(patterns, func(p string) bool { return match(p, a) }) {
			return false
		}
	}
	for _, p := range patterns {
		if !slices.ContainsFunc(atoms, func(a string) bool { return match(p, a) }) {
			return false
		}
	}
	return true
}

// MarkKnownAll marks every report with its source's known failures.
func MarkKnownAll(rs []*report.Report) error {
	for _, r := range rs {
		name := r.Kernel.Name
		if name == "" { // a report saved before sources had names
			name = kernels.ShortName(r.Kernel.Source)
		}
		k, err := kernels.KnownFailures(name)
		if err != nil {
			return err
		}
		MarkKnown(r, k)
	}
	return nil
}
