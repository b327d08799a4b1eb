package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"dirtygate/kernels"
	"dirtygate/vmm/scenario"
)

// preflight checks what the flags name before anything builds or boots: a
// scenario, accelerator, kernel or patch that does not exist is a usage
// error naming the choices, not a VM that boots and then fails.
type preflight struct {
	only    string
	accel   string
	kernels []string
	patches []string
}

func (p preflight) check(ctx context.Context) error {
	if p.only != "" {
		var names []string
		for _, s := range scenario.All() {
			names = append(names, s.Name)
		}
		for _, n := range strings.Split(p.only, ",") {
			if !slices.Contains(names, n) {
				return fmt.Errorf("--only: no scenario %q (scenarios: %s)", n, strings.Join(names, ", "))
			}
		}
	}
	switch p.accel {
	case "", "auto", "kvm", "tcg":
	default:
		return fmt.Errorf("--accel %q: auto, kvm or tcg", p.accel)
	}
	for _, k := range p.kernels {
		if err := kernels.CheckSpec(ctx, k); err != nil {
			return fmt.Errorf("--kernel: %v", err)
		}
	}
	for _, pt := range p.patches {
		if _, err := kernels.ResolvePatch(pt); err != nil {
			return err
		}
	}
	return nil
}
