package bench

import (
	"strings"
	"testing"
	"time"

	"dirtygate/harness/report"
)

// The table gives each measurement's median and range and the warm
// verdict over the floor, medians both (x86_64's and hppa's 6.1 runs of
// 2026-12-01, alternating, as measured).
func TestWriteMediansAndRanges(t *testing.T) {
	s := func(v ...float64) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, seconds(x))
		}
		return d
	}
	rows := []Row{
		{Arch: "x86_64", Kernel: "6.1", Warm: s(5.87, 5.53, 5.09), BootFloor: s(2.5, 2.3, 2.6),
			Swap: report.Timings{Total: 22.4, Build: 16.4, Boot: 2.8, Agent: 2.9}, MaxRSS: 160},
		{Arch: "hppa", Kernel: "6.1", Warm: s(12.8), BootFloor: s(1.5), MaxRSS: 236},
	}
	var b strings.Builder
	Write(&b, rows)
	out := b.String()
	for _, want := range []string{
		"5.5s (5.1-5.9)", // the median of three, then the range
		"2.5s (2.3-2.6)",
		"3.0s", // 5.53 - 2.5
		"12.8s  ",
		"11.3s", // one run each: no range
		"hppa 6.1: warm verdict 2.3x x86_64's (medians)", // 12.8 / 5.53
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "warm verdict "); n != 1 {
		t.Errorf("%d ratio lines; want hppa's alone (x86_64 runs the Go agent):\n%s", n, out)
	}
}
