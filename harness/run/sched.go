package run

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"dirtygate/harness/report"
)

// Matrix runs several runs on one machine: kernel builds one at a time
// (each already uses every core through make -j), VM boots overlapping the
// next build and each other, at most half a VM per core at once (a TCG
// guest keeps a host thread per vCPU busy). Reports come back in the order
// of runs.
func Matrix(ctx context.Context, runs []Options) []*report.Report {
	out := make([]*report.Report, len(runs))
	type job struct {
		i int
		p *Prepared
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < max(1, runtime.NumCPU()/2); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				out[j.i] = Boot(ctx, j.p)
			}
		}()
	}
	for i, o := range runs {
		if o.Progress != nil && len(runs) > 1 {
			k := o.Kernel
			if k == "" {
				k = "default kernel"
			}
			fmt.Fprintf(o.Progress, "dirtygate: preparing %s on %s (%d of %d)\n", o.Arch.Name, k, i+1, len(runs))
		}
		p, r := Prepare(ctx, o)
		if p == nil {
			out[i] = r
			continue
		}
		jobs <- job{i, p}
	}
	close(jobs)
	wg.Wait()
	return out
}
