package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"dirtygate/arches"
	"dirtygate/harness/kbuild"
	"dirtygate/harness/qemu"
)

// archesCmd lists the targets and what each is missing here, or the Debian
// packages the arches of --arch need (for installers: `make matrix`, and
// `make run`'s with --arch default).
type archesCmd struct {
	packages *bool
	arch     archFlag
}

func (c *archesCmd) define(fs *flag.FlagSet) {
	c.packages = fs.Bool("packages", false, "print the Debian packages the arches of --arch need, one a line")
	c.arch = addArch(fs, "all", "with --packages: the arches, comma-separated, all, or default (`make run`'s)")
}

func (c *archesCmd) run(context.Context, *flag.FlagSet) int {
	if *c.packages {
		as, err := c.arch.get()
		if err != nil {
			fmt.Fprintln(os.Stderr, "dirtygate arches:", err)
			return 2
		}
		seen := map[string]bool{}
		for _, a := range as {
			for _, p := range a.Packages() {
				if !seen[p] {
					seen[p] = true
					fmt.Println(p)
				}
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ARCH\tQEMU\tCOMPILER\tAGENT\tLAYOUT\tNOTE")
	for _, n := range append(arches.Names(), arches.UnsupportedNames()...) {
		a, _ := arches.Lookup(n)
		q := "ok"
		if err := qemu.Check(a); err != nil {
			q = "missing: apt-get install " + a.Boot.QEMUPackage
		}
		cc := "ok"
		if err := kbuild.CheckToolchain(a); err != nil {
			cc = "missing: " + err.Error()
		}
		g := "go " + a.Go.GOARCH
		if a.Guest() == arches.ProgramExecutor {
			g = "none (executor)"
		}
		order := "LE"
		if a.ABI.BigEndian {
			order = "BE"
		}
		note := ""
		if a.Mode == arches.Unsupported {
			note = a.Why
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s%d\t%s\n", a.Name, q, cc, g, order, a.ABI.WordBits, note)
	}
	tw.Flush()
	return 0
}
