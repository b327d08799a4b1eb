// Package agentbuild builds what runs as /init in the guest: the Go agent,
// cross-compiled with Go's own toolchain (static, no cgo), or, where Go
// cannot target the arch, the C executor with Debian's cross gcc.
//
// Runs on the host.
package agentbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"dirtygate"
	"dirtygate/arches"
	"dirtygate/guest/executor"
	"dirtygate/harness/atomicfile"
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

// sourceDir is where the agent is built from: the checkout (Root), so a
// developer's edits are built, or else a copy of the source embedded in
// this binary (dirtygate.AgentSource), written to a temporary directory
// that done removes.
func sourceDir() (dir string, done func(), err error) {
	if root, err := Root(); err == nil {
		return root, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "dirtygate-agent-src-")
	if err != nil {
		return "", nil, err
	}
	done = func() { os.RemoveAll(tmp) }
	if err := os.CopyFS(tmp, dirtygate.AgentSource); err != nil {
		done()
		return "", nil, fmt.Errorf("writing the embedded agent source: %w", err)
	}
	return tmp, done, nil
}

// Build compiles ./guest/cmd/agent for a and returns the binary (in
// outDir). With a cacheDir, an agent built before from the same source,
// toolchain and target is copied instead (agentCached): a `go build` with
// nothing to compile is still ~0.4 s of every run.
func Build(ctx context.Context, a *arches.Arch, outDir, cacheDir string) (string, error) {
	if a.Go.GOARCH == "" {
		return "", fmt.Errorf("%s: Go cannot compile for this arch; it runs the executor (BuildExecutor)", a.Name)
	}
	return goBuild(ctx, filepath.Join(outDir, "agent-"+a.Name), a.Name, cacheDir, a.Go.GOARCH, a.Go.GOARM, a.Go.GOMIPS)
}

// BuildCompat compiles the agent for a's 32-bit compat port
// (arches.Arch.Go.CompatGOARCH): the VMM of the compat scenario.
func BuildCompat(ctx context.Context, a *arches.Arch, outDir, cacheDir string) (string, error) {
	if a.Go.CompatGOARCH == "" {
		return "", fmt.Errorf("%s: no 32-bit compat port", a.Name)
	}
	return goBuild(ctx, filepath.Join(outDir, "agent32-"+a.Name), a.Name+" (32-bit compat)", cacheDir, a.Go.CompatGOARCH, a.Go.CompatGOARM, "")
}

func goBuild(ctx context.Context, out, what, cacheDir, goarch, goarm, gomips string) (string, error) {
	root, done, err := sourceDir()
	if err != nil {
		return "", err
	}
	defer done()
	if out, err = filepath.Abs(out); err != nil { // the build runs in root
		return "", err
	}
	cached := ""
	if cacheDir != "" {
		cached = agentCached(root, cacheDir, goarch, goarm, gomips)
	}
	if fromCache(cached, out) {
		return out, nil
	}
	// No -trimpath: without it the standard library and x/sys this build
	// compiles are the ones `go vet`, `go test` and the CLI's build
	// already put in Go's build cache (cgo off changes none of them), so
	// on a fresh machine the host port's agent links instead of compiling
	// them again (~22 CPU-s of `make test`). The agent's own packages
	// from the embedded copy compile anew per temporary directory: a few
	// CPU-s, once per agent source (agentCached).
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", out, "./guest/cmd/agent")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if goarm != "" {
		cmd.Env = append(cmd.Env, "GOARM="+goarm)
	}
	if gomips != "" {
		cmd.Env = append(cmd.Env, "GOMIPS="+gomips)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the agent for %s (GOARCH=%s): %v\n%s", what, goarch, err, strings.TrimSpace(string(b)))
	}
	keepInCache(out, cached)
	return out, nil
}

// agentCached is where the agent built from root for the target is kept
// in cacheDir: named by every file under guest/ and vmm/ (what the agent
// imports lives there: TestAgentSourceEmbedded), go.mod and go.sum, the
// go command (path, size, modification time) and the environment that
// changes what it builds. "" when any of them cannot be read: then it is
// built, never taken from the cache.
func agentCached(root, cacheDir, goarch, goarm, gomips string) string {
	goCmd, ok := toolID("go")
	if !ok {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s/%s/%s\x00", goCmd, goarch, goarm, gomips)
	for _, k := range []string{"GOROOT", "GOTOOLCHAIN", "GOFLAGS", "GOEXPERIMENT", "GOAMD64", "GO386", "GOARM64", "GOPPC64", "GORISCV64"} {
		fmt.Fprintf(h, "%s=%s\x00", k, os.Getenv(k))
	}
	files := []string{"go.mod", "go.sum"}
	for _, dir := range []string{"guest", "vmm"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files = append(files, strings.TrimPrefix(p, root+string(filepath.Separator)))
			}
			return err
		})
		if err != nil {
			return ""
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return ""
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return filepath.Join(cacheDir, "agent", fmt.Sprintf("%s%s%s-%x", goarch, goarm, gomips, h.Sum(nil)[:12]))
}

// BuildExecutor cross-compiles guest/executor's C program for a, static
// and freestanding, and returns the binary (in outDir). With a cacheDir,
// a binary built before from the same source by the same compiler with
// the same flags is copied instead: the compile is ~0.5 s of every run.
func BuildExecutor(ctx context.Context, a *arches.Arch, outDir, cacheDir string) (string, error) {
	gcc := a.Build.CrossCompile + "gcc"
	if _, err := exec.LookPath(gcc); err != nil {
		pkg := a.Build.CrossPackage
		if a.Build.CrossCompile == "" {
			pkg = "gcc"
		}
		return "", fmt.Errorf("%s: the executor needs %s: install it with `apt-get install %s`", a.Name, gcc, pkg)
	}
	src := filepath.Join(outDir, "executor.c")
	if err := os.WriteFile(src, executor.Source, 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, "executor-"+a.Name)
	flags := append([]string{"-static", "-nostdlib", "-ffreestanding", "-fno-pic", "-no-pie",
		"-fno-stack-protector", "-Os", "-Wall"}, a.Executor.CFlags...)
	cached := ""
	if cacheDir != "" {
		cached = executorCached(cacheDir, a, gcc, flags)
	}
	if fromCache(cached, out) {
		return out, nil
	}
	args := append(append(flags, "-o", out, src), a.Executor.Libs...)
	cmd := exec.CommandContext(ctx, gcc, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		msg := strings.TrimSpace(string(b))
		if strings.Contains(msg, "asm/unistd.h") {
			msg += fmt.Sprintf("\n(the kernel headers for %s are missing: `apt-get install linux-libc-dev-%s-cross`)", a.Name, strings.TrimSuffix(a.Build.CrossCompile, "-linux-gnu-"))
		}
		return "", fmt.Errorf("building the executor for %s: %s %s: %v\n%s", a.Name, gcc, strings.Join(args, " "), err, msg)
	}
	keepInCache(out, cached)
	return out, nil
}

// executorCached is where a's executor built by gcc with flags is kept in
// cacheDir: named by the source, the flags and libraries, and the
// compiler (its path, size and modification time: an upgraded gcc builds
// anew). "" when the compiler cannot be found.
func executorCached(cacheDir string, a *arches.Arch, gcc string, flags []string) string {
	cc, ok := toolID(gcc)
	if !ok {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%q\x00%q\x00", cc, flags, a.Executor.Libs)
	h.Write(executor.Source)
	return filepath.Join(cacheDir, "executor", fmt.Sprintf("%s-%x", a.Name, h.Sum(nil)[:12]))
}

// toolID names the program a build runs by its resolved path, size and
// modification time (an upgraded compiler builds anew); false when it
// cannot be found.
func toolID(name string) (string, bool) {
	path, err := exec.LookPath(name)
	if err == nil {
		path, err = filepath.EvalSymlinks(path)
	}
	if err != nil {
		return "", false
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", false
	}
	return fmt.Sprintf("%s\x00%d\x00%d", path, st.Size(), st.ModTime().UnixNano()), true
}

// fromCache copies the cached binary to out; false when there is none
// ("" or not kept yet).
func fromCache(cached, out string) bool { return cached != "" && copyFile(cached, out) == nil }

// keepInCache keeps the binary just built as cached, best effort: a run
// that cannot keep it builds again next time.
func keepInCache(out, cached string) {
	if cached != "" {
		copyFile(out, cached)
	}
}

// copyFile copies src to dst, an executable, never half-written.
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return atomicfile.Write(dst, b, 0o755)
}
