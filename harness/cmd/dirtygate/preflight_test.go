package main

import (
	"context"
	"strings"
	"testing"
)

// Each bad flag is refused before anything builds, naming what is wrong.
func TestPreflightRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		p    preflight
		want string
	}{
		{preflight{only: "jumbo,nosuch"}, `no scenario "nosuch"`},
		{preflight{accel: "warp"}, `--accel "warp"`},
		{preflight{kernels: []string{"6.2"}}, `--kernel: unknown kernel "6.2": not a known source`},
		{preflight{patches: []string{"rfc-v3"}}, `unknown patch "rfc-v3"`},
	} {
		err := tc.p.check(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.want)
		}
	}
	ok := preflight{only: "jumbo,compat", accel: "tcg", kernels: []string{"6.1", "6.12"}, patches: []string{"rfc-v2"}}
	if err := ok.check(context.Background()); err != nil {
		t.Errorf("good flags refused: %v", err)
	}
}
