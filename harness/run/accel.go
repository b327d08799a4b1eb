package run

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"dirtygate/arches"
	"dirtygate/harness/qemu"
)

// probeTTL is how long a KVM probe's answer is reused: a probe that finds
// KVM hanging costs its full timeout, on every run otherwise.
const probeTTL = 6 * time.Hour

type probeResult struct {
	OK  bool      `json:"ok"`
	Why string    `json:"why"`
	At  time.Time `json:"at"`
}

// chooseAccel probes KVM once per arch and TTL, remembering the answer in
// the cache directory. --accel kvm or tcg skips it.
func chooseAccel(ctx context.Context, a *arches.Arch, cacheDir, kernel, initrd string) (string, string) {
	path := filepath.Join(cacheDir, "kvm-probe-"+a.Name+".json")
	var p probeResult
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &p) == nil && time.Since(p.At) < probeTTL {
		return accelName(p.OK), p.Why + " (probed " + p.At.Format(time.RFC3339) + "; --accel kvm|tcg overrides)"
	}
	p.OK, p.Why = qemu.ProbeKVM(ctx, a, kernel, initrd, runtime.GOARCH)
	p.At = time.Now()
	if ctx.Err() == nil {
		if b, err := json.Marshal(p); err == nil {
			os.WriteFile(path, b, 0o644)
		}
	}
	return accelName(p.OK), p.Why
}

func accelName(kvm bool) string {
	if kvm {
		return "kvm"
	}
	return "tcg"
}
