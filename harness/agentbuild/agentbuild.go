// Package agentbuild cross-compiles the guest agent for a target with Go's
// own toolchain: static, no cgo, so it runs as /init with nothing else in
// the initramfs.
package agentbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"dirtygate/arches"
)

// Root finds the dirtygate module: $DIRTYGATE_ROOT, or the nearest parent
// of the working directory whose go.mod declares module dirtygate.
func Root() (string, error) {
	if r := os.Getenv("DIRTYGATE_ROOT"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module dirtygate\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("cannot find the dirtygate source (the agent is built from it): run from the checkout or set DIRTYGATE_ROOT")
		}
		dir = parent
	}
}

// Build compiles ./guest/cmd/agent for a and returns the binary.
func Build(ctx context.Context, a *arches.Arch, outDir string) (string, error) {
	if a.GOARCH == "" {
		return "", fmt.Errorf("%s: Go cannot compile for this arch; it needs the executor (not implemented yet)", a.Name)
	}
	root, err := Root()
	if err != nil {
		return "", err
	}
	out := filepath.Join(outDir, "agent-"+a.Name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./guest/cmd/agent")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.GOARCH)
	if a.GOARM != "" {
		cmd.Env = append(cmd.Env, "GOARM="+a.GOARM)
	}
	if a.GOMIPS != "" {
		cmd.Env = append(cmd.Env, "GOMIPS="+a.GOMIPS)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the agent for %s (GOARCH=%s): %v\n%s", a.Name, a.GOARCH, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}
