package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"dirtygate/arches"
	"dirtygate/harness/kbuild"
	"dirtygate/harness/lava"
	"dirtygate/harness/run"
	"dirtygate/vmm/scenario"
)

// lavaCmd writes a LAVA job definition that boots the kernel under test
// with dirtygate's initramfs on a lab's device. Without --kernel-url the
// kernel is built here, as for run; the files the job downloads are put
// in --out, and --artifacts-url says where the lab will find them.
type lavaCmd struct {
	arch                                *string
	patches                             multi
	kernelURL, dtbURL, deviceType, base *string
	dir, jobOut, only, cache            *string
}

func (c *lavaCmd) define(fs *flag.FlagSet) {
	c.arch = fs.String("arch", "", "the device's arch (one)")
	fs.Var(&c.patches, "patch", "built-in patch name or patch file, for a kernel built here (no --kernel-url)")
	c.kernelURL = fs.String("kernel-url", "", "the kernel under test, as the lab downloads it (default: build it here)")
	c.dtbURL = fs.String("dtb-url", "", "its device tree, where the device needs one")
	c.deviceType = fs.String("device-type", "", "LAVA device type (default: the arch's, usually qemu); a U-Boot board gets a tftp deploy")
	c.base = fs.String("artifacts-url", "", "URL the lab downloads --out's files from (default: file:// paths, for a worker on this machine)")
	c.dir = fs.String("out", "lava-out", "directory for the initramfs (and the kernel built here)")
	c.jobOut = fs.String("job", "", "write the job here (default: stdout)")
	c.only = addOnly(fs)
	c.cache = addCache(fs)
}

func (c *lavaCmd) run(ctx context.Context, _ *flag.FlagSet) int {
	a, err := arches.Lookup(*c.arch)
	if err == nil {
		err = preflight{only: *c.only}.check(ctx)
	}
	if err != nil {
		return fail("dirtygate lava", err)
	}
	dev, ok := lava.DeviceFor(a.Name)
	if !ok {
		fmt.Fprintf(os.Stderr, "dirtygate lava: no LAVA device known for %s\n", a.Name)
		return 2
	}
	if *c.deviceType != "" {
		dev.Type = *c.deviceType
	}
	if *c.kernelURL != "" && len(c.patches) > 0 {
		fmt.Fprintln(os.Stderr, "dirtygate lava: --patch builds the kernel here; with --kernel-url the lab's kernel already carries its patches")
		return 2
	}
	dir, err := filepath.Abs(*c.dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return fail("dirtygate lava", err)
	}
	o := run.Options{Arch: a, Patches: c.patches, CacheDir: *c.cache, OutDir: dir, Progress: progress(), Jobs: runtime.NumCPU(),
		Only: splitOnly(*c.only)}
	files, err := lavaFiles(ctx, o, *c.kernelURL == "")
	if err != nil {
		return fail("dirtygate lava", err)
	}
	url := func(path string) string {
		if *c.base == "" {
			return "file://" + path
		}
		return strings.TrimSuffix(*c.base, "/") + "/" + filepath.Base(path)
	}
	j := lava.Job{Arch: a, Device: dev, KernelURL: *c.kernelURL, DTBURL: *c.dtbURL, RamdiskURL: url(files.initrd),
		Patches: c.patches, Only: o.Only, Budget: lavaBudget(a, len(o.Only))}
	if j.KernelURL == "" {
		j.KernelURL = url(files.kernel)
		if files.dtb != "" && j.DTBURL == "" {
			j.DTBURL = url(files.dtb)
		}
	}
	b, err := j.YAML()
	if err != nil {
		return fail("dirtygate lava", err)
	}
	return writeJob(b, *c.jobOut, dir, a)
}

// writeJob writes the job (to stdout without a file) and what to do next.
func writeJob(b []byte, jobOut, dir string, a *arches.Arch) int {
	if jobOut == "" {
		os.Stdout.Write(b)
	} else if err := os.WriteFile(jobOut, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate lava:", err)
		return 2
	} else {
		fmt.Fprintf(os.Stderr, "job: %s\n", jobOut)
	}
	w := os.Stderr
	fmt.Fprintf(w, "files the job downloads: %s\nsubmit: lavacli jobs submit JOB.yaml; then: lavacli jobs logs --raw ID > job.log && dirtygate parse job.log\n", dir)
	if a.UsesExecutor() {
		fmt.Fprintf(w, "note: %s runs the executor, which runs nothing on its own: while the job holds the device, drive its console with `dirtygate run --arch %s --target exec:'<the lab's console command>'`; the job's log alone has no results\n", a.Name, a.Name)
	}
	return 0
}

type lavaArtifacts struct{ kernel, dtb, initrd string }

// lavaFiles builds the initramfs (the agent or the executor as /init, as
// a run's) and, when asked, the kernel, into o.OutDir.
func lavaFiles(ctx context.Context, o run.Options, kernel bool) (lavaArtifacts, error) {
	if kernel {
		p, r := run.Prepare(ctx, o)
		if p == nil {
			return lavaArtifacts{}, fmt.Errorf("%s", r.Error)
		}
		k, d, i := p.Artifacts()
		var f lavaArtifacts
		f.initrd = i
		if err := os.Chmod(i, 0o644); err != nil { // a lab's web server serves it
			return f, err
		}
		for _, c := range []struct{ src, dst *string }{{&k, &f.kernel}, {&d, &f.dtb}} {
			if *c.src == "" {
				continue
			}
			*c.dst = filepath.Join(o.OutDir, filepath.Base(*c.src))
			if err := kbuild.CopyFile(*c.src, *c.dst); err != nil {
				return f, err
			}
		}
		return f, nil
	}
	// A lava job always carries the compat agent where there is one
	// (no --only filter), as it always has.
	initrd, err := run.Initramfs(ctx, o.Arch, o.OutDir, o.CacheDir, nil)
	if err != nil {
		return lavaArtifacts{}, err
	}
	// A lab downloads it from a web server: readable by all.
	return lavaArtifacts{initrd: initrd}, os.Chmod(initrd, 0o644)
}

// lavaBudget: the arch's boot budget and, for the executor, a share per
// scenario, as for a VM here; a lab's board is not slower than TCG.
func lavaBudget(a *arches.Arch, only int) time.Duration {
	n := only
	if n == 0 {
		n = len(scenario.All())
	}
	return a.Boot.Timeout + time.Duration(n)*40*time.Second
}
