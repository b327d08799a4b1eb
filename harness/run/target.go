package run

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"dirtygate/harness/executor"
	"dirtygate/harness/judge"
	"dirtygate/harness/report"
	"dirtygate/harness/target"
)

// Target runs the scenarios on a machine dirtygate did not boot, such as
// real hardware with aliasing caches running a patched kernel: spec is an
// ssh://, serial:// or exec: target (package target). The kernel is
// whatever the machine runs; o.Patches and o.Kernel do not apply. Go
// arches run the agent there (as root, not as PID 1); the others run the
// executor, driven from here.
func Target(ctx context.Context, o Options, spec string) *report.Report {
	start := time.Now()
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	a := o.Arch
	r := &report.Report{Arch: a.Name, Patches: []string{}, Kernel: report.Kernel{Source: "target " + spec},
		EmulationNote: targetNote(a.AliasingCaches)}
	if o.OutDir == "" {
		o.OutDir = filepath.Join(o.CacheDir, "runs", fmt.Sprintf("%s-target-%s", a.Name, time.Now().Format("20060102-150405.000")))
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		r.SetError(report.StageSetup, "", err.Error())
		return finish(o, r, start)
	}
	program, err := runnerFor(a).program(ctx, a, o.OutDir, o.CacheDir)
	if err != nil {
		r.SetError(report.StageSetup, "", err.Error())
		return finish(o, r, start)
	}
	var env []string
	if len(o.Only) > 0 {
		env = append(env, "DIRTYGATE_ONLY="+strings.Join(o.Only, ","))
	}
	fmt.Fprintf(o.Progress, "[%s target] connecting to %s\n", a.Name, spec)
	conn, err := target.Dial(spec, program, env)
	if err != nil {
		r.SetError(report.StageTransport, "", err.Error())
		return finish(o, r, start)
	}
	defer conn.Close()
	r.Accel = "none: " + conn.Describe
	r.ConsoleLog = filepath.Join(o.OutDir, "console.log")
	logf, err := os.Create(r.ConsoleLog)
	if err != nil {
		r.SetError(report.StageSetup, "", err.Error())
		return finish(o, r, start)
	}
	defer logf.Close()
	runnerFor(a).onTarget(&targetRun{o: o, r: r, conn: conn, log: logf})
	return finish(o, r, start)
}

// targetRun is a run on a target: its connection, and the console it
// printed, kept for judging and copied to the console log.
type targetRun struct {
	o       Options
	r       *report.Report
	conn    *target.Conn
	log     io.Writer
	mu      sync.Mutex
	console bytes.Buffer
}

// sink is where the target's output goes: the console, its log, and extra.
func (t *targetRun) sink(extra io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.console.Write(p)
		t.log.Write(p)
		if extra != nil {
			extra.Write(p)
		}
		return len(p), nil
	})
}

// judge judges what the target printed (records: see judge.Input).
func (t *targetRun) judge(records []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	judge.Judge(t.r, judge.Input{Arch: t.o.Arch, Console: t.console.Bytes(), Records: records})
}

// targetExecutor drives the executor on a target from here.
func targetExecutor(t *targetRun) {
	a := t.o.Arch
	client := executor.NewClient(t.conn.In, a.MachineABI(), a.Errnos())
	copied := make(chan struct{})
	go func() { io.Copy(t.sink(client.Scanner()), t.conn.Out); close(copied) }()
	var records bytes.Buffer
	calls := newScenarioCalls(client)
	progress := onScenario(&progressLines{w: t.o.Progress, prefix: "[" + a.Name + " target] "}, calls.start)
	driveErr := drive(client, client, t.o, &records, progress, t.conn.Fresh)
	if driveErr == nil && t.conn.Fresh {
		client.Reboot() // off PID 1 the executor only exits
	}
	t.conn.In.Close()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	t.judge(records.Bytes())
	t.r.Transport = client.Stats().Summary(t.conn.Describe)
	if per := calls.summary(); per != "" {
		t.r.Transport += "; " + per
	}
	if driveErr != nil {
		t.r.SetError(report.StageTransport, "", "executor: "+driveErr.Error())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func targetNote(aliasing bool) string {
	if aliasing {
		return "real hardware of an arch with virtually indexed or aliasing caches: a pass here covers cache coherence of the log writes on this machine, which emulation cannot."
	}
	return "real hardware; this arch's caches do not alias, so coherence is not at stake."
}
