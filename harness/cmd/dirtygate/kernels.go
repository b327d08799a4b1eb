package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"dirtygate/kernels"
)

// kernelFlag collects --kernel (and its alias --kernel-src): Debian
// sources by name or kernel trees, comma-separated or repeated.
type kernelFlag []string

func (k *kernelFlag) String() string { return strings.Join(*k, ",") }
func (k *kernelFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*k = append(*k, s)
		}
	}
	return nil
}

func (k *kernelFlag) register(fs *flag.FlagSet) {
	names := make([]string, 0, len(kernels.Debians))
	for _, d := range kernels.Debians {
		names = append(names, d.Name)
	}
	fs.Var(k, "kernel", fmt.Sprintf("kernel sources, comma-separated: %s (Debian's linux-source-N) or a kernel tree's directory (default %s)",
		strings.Join(names, ", "), kernels.DefaultKernel))
	fs.Var(k, "kernel-src", "alias of --kernel")
}

// list is the kernels to run, the default when none was given.
func (k kernelFlag) list() []string {
	if len(k) == 0 {
		return []string{kernels.DefaultKernel}
	}
	return k
}

// dirPrefix keeps several kernels' output directories apart; one kernel
// keeps the layout of a single-kernel run.
func (k kernelFlag) dirPrefix(kernel string) string {
	if len(k) < 2 {
		return ""
	}
	return kernels.SafeName(filepath.Base(kernel)) + "-"
}

// cmdKernels lists the sources --kernel names: package, installed
// version, whether the cache holds it unpacked, and the built-in patches
// that have a port for it.
type kernelsCmd struct{ cache *string }

func (c *kernelsCmd) define(fs *flag.FlagSet) { c.cache = addCache(fs) }

func (c *kernelsCmd) run(context.Context, *flag.FlagSet) int {
	cache := c.cache
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tPACKAGE\tINSTALLED\tUNPACKED\tPATCH PORTS")
	for _, d := range kernels.Debians {
		name := d.Name
		if name == kernels.DefaultKernel {
			name += " (default)"
		}
		inst, unpacked := d.InstalledVersion(), "-"
		if inst == "" {
			inst = "no: apt-get install " + d.Package
		} else if _, err := os.Stat(filepath.Join(d.UnpackedDir(*cache, inst), "Makefile")); err == nil {
			unpacked = d.UnpackedDir(*cache, inst)
		} else {
			unpacked = "no (unpacked on first use)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, d.Package, inst, unpacked, portsFor(d.Name))
	}
	tw.Flush()
	fmt.Fprintf(os.Stdout, "DIR: any kernel tree (upstream layout); built-in patches use the port for its VERSION.PATCHLEVEL, else the %s one\n", kernels.BaseSeries)
	return 0
}

// portsFor names the built-in patches that have a file for series.
func portsFor(series string) string {
	var own []string
	for _, p := range kernels.Builtin() {
		for _, port := range kernels.Ports(p) {
			if strings.HasPrefix(port, series+": ") {
				own = append(own, p)
			}
		}
	}
	if series == kernels.BaseSeries {
		return "all (kernels/patches/*.patch)"
	}
	if len(own) == 0 {
		return "none: the " + kernels.BaseSeries + " patches as they are"
	}
	return strings.Join(own, ", ") + " (kernels/patches/" + series + "/); others as for " + kernels.BaseSeries
}
