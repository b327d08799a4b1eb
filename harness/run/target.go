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

	"dirtygate/guest/executor"
	"dirtygate/harness/agentbuild"
	"dirtygate/harness/qemu"
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
		r.Error = err.Error()
		return finish(o, r, start)
	}
	build := agentbuild.Build
	if a.UsesExecutor() {
		build = agentbuild.BuildExecutor
	}
	program, err := build(ctx, a, o.OutDir)
	if err != nil {
		r.Error = err.Error()
		return finish(o, r, start)
	}
	var env []string
	if len(o.Only) > 0 {
		env = append(env, "DIRTYGATE_ONLY="+strings.Join(o.Only, ","))
	}
	fmt.Fprintf(o.Progress, "[%s target] connecting to %s\n", a.Name, spec)
	conn, err := target.Dial(spec, program, env)
	if err != nil {
		r.Error = err.Error()
		return finish(o, r, start)
	}
	defer conn.Close()
	r.Accel = "none: " + conn.Describe
	r.ConsoleLog = filepath.Join(o.OutDir, "console.log")
	logf, err := os.Create(r.ConsoleLog)
	if err != nil {
		r.Error = err.Error()
		return finish(o, r, start)
	}
	defer logf.Close()
	var console bytes.Buffer
	var mu sync.Mutex
	sink := func(extra io.Writer) io.Writer {
		return writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			console.Write(p)
			logf.Write(p)
			if extra != nil {
				extra.Write(p)
			}
			return len(p), nil
		})
	}
	cfg := qemu.Config{Arch: a, Timeout: 30 * time.Minute}
	if !a.UsesExecutor() {
		// The agent prints its records and exits.
		io.Copy(sink(&progressLines{w: o.Progress, prefix: "[" + a.Name + " target] "}), conn.Out)
		mu.Lock()
		Judge(r, &qemu.Result{Console: console.Bytes()}, cfg, nil)
		mu.Unlock()
		return finish(o, r, start)
	}
	client := executor.NewClient(conn.In, a.ABI(), a.Errnos())
	copied := make(chan struct{})
	go func() { io.Copy(sink(client.Scanner()), conn.Out); close(copied) }()
	var records bytes.Buffer
	progress := &progressLines{w: o.Progress, prefix: "[" + a.Name + " target] "}
	driveErr := drive(client, client, o, &records, progress, conn.Fresh)
	if driveErr == nil && conn.Fresh {
		client.Reboot() // off PID 1 the executor only exits
	}
	conn.In.Close()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	mu.Lock()
	Judge(r, &qemu.Result{Console: console.Bytes()}, cfg, records.Bytes())
	mu.Unlock()
	r.Transport = client.Stats().Summary(conn.Describe)
	if driveErr != nil {
		r.Error = "executor: " + driveErr.Error()
	}
	return finish(o, r, start)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func targetNote(aliasing bool) string {
	if aliasing {
		return "real hardware of an arch with virtually indexed or aliasing caches: a pass here covers cache coherence of the log writes on this machine, which emulation cannot."
	}
	return "real hardware; this arch's caches do not alias, so coherence is not at stake."
}
