package scenario

import (
	"fmt"
	"maps"
	"strings"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/virtq"
)

// concurrent runs three devices at once into pages that interleave within
// every log word: page p belongs to device p % 3.
func concurrent(m machine.Machine, name string) outcome {
	cpus, err := onlineCPUs(m)
	if err != nil {
		return outcome{err: err}
	}
	if cpus < 2 {
		// The vhost workers take turns on one CPU and update the log
		// with preemption off: a lost update between them cannot happen,
		// so a pass would say nothing.
		return outcome{skip: "one CPU online: the three vhost workers cannot update the log at the same time, so races between them are not exercised"}
	}
	o := withRig(m, Config{Name: name}, func(primary *Rig, o *outcome) error {
		devs := []*Rig{primary}
		for k := 1; k < concurrentDevs; k++ {
			d, err := NewPeer(primary, k)
			if err != nil {
				return err
			}
			defer d.Close()
			devs = append(devs, d)
		}
		o.notes = append(o.notes, spreadWorkers(m, cpus))
		used, err := concurrentTraffic(devs)
		if err != nil {
			return err
		}
		return judgeConcurrent(o, devs, used)
	})
	o.count("cpus", int64(cpus))
	return o
}

// spreadWorkers gives each device's vhost worker a CPU of its own and
// says where. Left where the kernel wakes them, workers often sit on the
// CPU of the thread that woke them and take turns there (preemption off
// while they log), so their updates of a shared word never overlap. With
// a CPU to spare the calling thread keeps CPU 0 and the workers get the
// others: the executor is one thread, and a worker queued behind it runs
// only once it has answered over the console, long after the others.
func spreadWorkers(m machine.Machine, cpus int) string {
	p, ok := m.(machine.Pinner)
	if !ok {
		return "the vhost workers run where the scheduler puts them (this machine cannot place threads)"
	}
	tids, err := p.VhostWorkers()
	if err != nil || len(tids) != concurrentDevs {
		return fmt.Sprintf("the vhost workers run where the scheduler puts them (found %d of %d workers: %v)", len(tids), concurrentDevs, err)
	}
	first, where := 0, ""
	if cpus > concurrentDevs {
		if err := p.SetAffinity(0, 0); err != nil {
			return fmt.Sprintf("the vhost workers run where the scheduler puts them (placing the caller: %v)", err)
		}
		first, cpus, where = 1, cpus-1, "; the caller on CPU 0"
	}
	var placed []string
	for i, tid := range tids {
		cpu := first + i%cpus
		if err := p.SetAffinity(tid, cpu); err != nil {
			return fmt.Sprintf("the vhost workers run where the scheduler puts them (placing worker %d: %v)", tid, err)
		}
		placed = append(placed, fmt.Sprintf("%d on CPU %d", tid, cpu))
	}
	return "vhost workers placed: " + strings.Join(placed, ", ") + where
}

// concurrent's devices and the buffers each posts, one frame each: every
// data page is written, and logged, once, so a bit another worker's update
// wiped out is not set again by a later write of the same page (with two
// rounds of frames a lost update showed only when both writes of a page
// lost theirs).
const concurrentDevs, concurrentBufs = 3, 128

// concurrentTraffic posts every device's buffers, then sends their frames
// interleaved, frame i of every device (pages 3i..3i+2, one log word)
// before frame i+1 of any, so the devices' workers log into the same word
// at about the same moment; then it waits for each device's used buffers
// and stops them all. One thread sends: with a goroutine per device the
// executor's client (which defers write()s into the next round trip) sent
// each device's 128 frames as one run, device after device, and on hppa
// the workers met too seldom for set-bit-nonatomic's window.
func concurrentTraffic(devs []*Rig) ([][]virtq.Used, error) {
	const ndev, nbuf = concurrentDevs, concurrentBufs
	for k, d := range devs {
		var bufs [][]Seg
		for i := 0; i < nbuf; i++ {
			bufs = append(bufs, one(pageOff(firstBufPage+uint64(ndev*i+k), 256), 2048))
		}
		if _, err := d.Post(bufs...); err != nil {
			return nil, err
		}
	}
	frs := frames(nbuf, frameLen)
	for i := range frs {
		for _, d := range devs {
			if err := d.Send(frs[i]); err != nil {
				return nil, err
			}
		}
	}
	used := make([][]virtq.Used, ndev)
	for k, d := range devs {
		var err error
		if used[k], err = d.WaitUsed(nbuf); err != nil {
			return nil, err
		}
	}
	for _, d := range devs {
		if err := d.Stop(); err != nil {
			return nil, err
		}
	}
	return used, nil
}

// judgeConcurrent reads the shared log and says what each device wrote,
// and how many log words all of them updated.
func judgeConcurrent(o *outcome, devs []*Rig, used [][]virtq.Used) error {
	const ndev, nbuf = concurrentDevs, concurrentBufs
	primary := devs[0]
	var err error
	if o.log, err = primary.Log(); err != nil {
		return err
	}
	w := map[uint64]int{}
	owner := map[uint64]int{} // log word -> devices that wrote into it (bitmask)
	for k, d := range devs {
		dw, err := d.Written(used[k])
		if err != nil {
			return err
		}
		for p, n := range dw {
			w[p] += n
			owner[(o.log.BitOf(p))/uint64(o.log.Layout.WordBits)] |= 1 << k
		}
	}
	shared := 0
	for _, mask := range owner {
		if mask == 1<<ndev-1 {
			shared++
		}
	}
	o.packets = ndev * nbuf
	for k := range devs {
		o.findings = append(o.findings, usedLengths(used[k], frames(nbuf, frameLen))...)
	}
	if shared == 0 {
		return fmt.Errorf("no log word was updated by all %d devices: the scenario did not make them share words", ndev)
	}
	o.count("shared_log_words", int64(shared))
	o.expect = oracle.Expect{Written: w, Allowed: map[uint64]int{}, Required: map[uint64]bool{}}
	for _, d := range devs {
		maps.Copy(o.expect.Allowed, d.UsedPages()) // each device logs its used ring
	}
	o.logEvents = primary.LogEvents()
	o.notes = append(o.notes, fmt.Sprintf("%d devices, %d frames each; %d log words were updated by all %d devices, %d set_bit calls in all",
		ndev, nbuf, shared, ndev, sumCounts(w)))
	o.control = clearBit(sortedPages(w)[10])
	return nil
}

// onlineCPUs counts the CPUs in /sys/devices/system/cpu/online ("0-1,3").
func onlineCPUs(m machine.Machine) (int, error) {
	s, err := readFile(m, "/sys/devices/system/cpu/online")
	if err != nil {
		return 0, fmt.Errorf("reading the online CPUs: %w", err)
	}
	n := 0
	for _, r := range strings.Split(s, ",") {
		var lo, hi int
		if k, _ := fmt.Sscanf(r, "%d-%d", &lo, &hi); k == 2 {
			n += hi - lo + 1
		} else if k == 1 {
			n++
		} else {
			return 0, fmt.Errorf("cannot parse the online CPUs %q", s)
		}
	}
	return n, nil
}
