package main

import (
	"context"
	"flag"
	"os"
	"strings"

	"dirtygate/guest/executor"
	"dirtygate/harness/gate"
	"dirtygate/harness/judge"
	"dirtygate/harness/lava"
	"dirtygate/harness/report"
)

// parseCmd judges a console log captured from a run elsewhere, e.g. the
// agent on real hardware over a serial line, or a LAVA job's log.
type parseCmd struct{ out outputs }

func (c *parseCmd) define(fs *flag.FlagSet) {
	c.out = addOutputs(fs, "", "json", "html")
}

func (c *parseCmd) run(_ context.Context, fs *flag.FlagSet) int {
	if fs.NArg() != 1 {
		usage(os.Stderr)
		return 2
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err == nil && lava.IsJobLog(b) {
		b, err = lava.Console(b) // a LAVA job's log: the device's console lines
	}
	if err != nil {
		return fail("dirtygate", err)
	}
	r := &report.Report{Arch: "unknown", ConsoleLog: fs.Arg(0), Kernel: report.Kernel{Source: "console log " + fs.Arg(0)}}
	// The same judging as a run: records, splats, the host's oracle.
	judge.Judge(r, judge.Input{Console: b})
	if r.Agent != nil {
		r.Arch, r.Kernel.Version = r.Agent.Machine, r.Agent.Kernel
	} else if strings.Contains(string(b), executor.ReadyLine) {
		r.SetError(report.StageAgent, "", "this is the executor's console: it runs no scenario by itself, the host that drives it over the console does (dirtygate run --arch A --target serial://... or exec:...)")
	}
	r.Decide()
	gate.MarkKnownAll([]*report.Report{r})
	r.WriteText(os.Stdout)
	if err := c.out.write(r, []*report.Report{r}, nil); err != nil {
		return fail("dirtygate", err)
	}
	return r.ExitCode()
}

// worse combines two exit statuses: could not decide (2) over findings (1)
// over known failures only (3) over pass (0).
func worse(a, b int) int {
	rank := map[int]int{0: 0, report.ExitKnown: 1, 1: 2, 2: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}
