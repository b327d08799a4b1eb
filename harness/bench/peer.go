package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// writePeers prints dirtygate beside kunit_tool, per arch and kernel: each
// run's time, the medians' ratio, and what kunit_tool ran.
func writePeers(w io.Writer, rows []Row) {
	var peers []Row
	for _, r := range rows {
		if r.Peer != nil {
			peers = append(peers, r)
		}
	}
	if len(peers) == 0 {
		return
	}
	fmt.Fprintln(w, "\nSide by side with kunit_tool (`kunit.py exec` on the same source, arch and machine; per warm run):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ARCH\tKERNEL\tDIRTYGATE (whole scenario set)\tKUNIT\tKUNIT RAN\tRATIO (medians)\tKUNIT BUILD")
	for _, r := range peers {
		p := r.Peer
		ratio := "-"
		if len(p.Dirtygate) > 0 && len(p.KUnit.Runs) > 0 {
			ratio = fmt.Sprintf("%.1fx", median(p.Dirtygate).Seconds()/median(p.KUnit.Runs).Seconds())
		}
		built := "cached"
		if p.KUnit.Build > 0 {
			built = p.KUnit.Build.Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Arch, r.Kernel, runs(p.Dirtygate), runs(p.KUnit.Runs), orDash(p.KUnit.Tests), ratio, built)
	}
	tw.Flush()
	for _, r := range peers {
		if r.Peer.None != "" {
			fmt.Fprintf(w, "%s %s: no peer run: %s\n", r.Arch, r.Kernel, r.Peer.None)
		} else if r.Peer.Err != "" {
			fmt.Fprintf(w, "%s %s: peer not measured: %s\n", r.Arch, r.Kernel, r.Peer.Err)
		} else if r.Peer.KUnit.Command != "" {
			fmt.Fprintf(w, "%s %s: kunit run: %s\n", r.Arch, r.Kernel, r.Peer.KUnit.Command)
		}
	}
}

func runs(d []time.Duration) string {
	if len(d) == 0 {
		return "-"
	}
	s := make([]string, len(d))
	for i, x := range d {
		s[i] = fmt.Sprintf("%.1fs", x.Seconds())
	}
	return strings.Join(s, " ")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
