package scenario

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/record"
)

// CompatAgent is where the initramfs holds the agent built for the arch's
// 32-bit compat port (arches.Arch.Go.CompatGOARCH).
const CompatAgent = "agent32"

// compatScenarios are what the 32-bit VMM runs: layout, carries, the
// misaligned base, the used ring, the sync loop, addresses past 4 GiB, a
// lazily mapped log, fork and the IOTLB, read with its own word size.
var compatScenarios = []string{"rx-spread", "page-cross", "carry", "preset", "bit-position", "misaligned-1",
	"misaligned-4", "used-ring", "live-enable", "harvest", "regions", "log-lazy", "fork", "iotlb"}

// compatEnv is the 32-bit agent's environment: what it runs, and that it
// sends no evidence (compat keeps verdicts and findings only).
var compatEnv = []string{"DIRTYGATE_ONLY=" + strings.Join(compatScenarios, ","), record.OmitEvidenceEnv + "=1"}

// prestartCompat starts the 32-bit agent held, where the machine can,
// when the session starts: its exec and runtime start (~0.3 s under TCG)
// then happen beside the scenarios before compat, not in it. Held, it
// runs nothing until compat lets it go, after the rig before it is torn
// down, as a spawn would.
func prestartCompat(m machine.Machine) {
	if p, ok := m.(machine.Prestarter); ok {
		p.Prestart("/"+CompatAgent, compatEnv)
	}
}

// compat runs compatScenarios in the 32-bit agent, a 32-bit VMM on this
// 64-bit kernel's compat layer, and reports each one's verdict as its own.
func compat(m machine.Machine, name string) outcome {
	var o outcome
	sp, ok := m.(machine.Spawner)
	if !ok {
		o.skip = "the compat scenario starts a 32-bit agent beside the driver: only the Go agent can"
		return o
	}
	out, runErr := sp.Spawn("/"+CompatAgent, compatEnv)
	if errors.Is(runErr, fs.ErrNotExist) {
		o.skip = "no 32-bit agent in this initramfs (arches/: CompatGOARCH)"
		return o
	}
	hello, subs, final, err := compatRecords(out, runErr)
	if err != nil {
		o.err = err
		return o
	}
	if hello.WordBits != 32 {
		o.err = fmt.Errorf("the compat agent runs with %d-bit words, not 32", hello.WordBits)
		return o
	}
	var verdicts, errs []string
	controls, decided := 0, 0
	ran := map[string]bool{}
	for _, s := range subs {
		ran[s.Name] = true
		verdicts = append(verdicts, fmt.Sprintf("%s %s (%d ms)", s.Name, s.Status, s.Millis))
		if s.Status == record.Pass || s.Status == record.Fail {
			decided++
		}
		switch s.Status {
		case record.Fail:
			for _, f := range s.Findings {
				f.Detail = fmt.Sprintf("[32-bit VMM, %s] %s", s.Name, f.Detail)
				// Its bitmap stayed in the 32-bit agent: a finding
				// that the host cannot re-check against evidence.
				o.findings = append(o.findings, f)
			}
		case record.Error:
			errs = append(errs, s.Name+": "+s.Error)
		}
		if s.Control != "" {
			controls++
		}
	}
	for _, n := range compatScenarios {
		if !ran[n] {
			errs = append(errs, n+": no result from the 32-bit agent")
		}
	}
	if decided == 0 {
		errs = append(errs, "no scenario was decided (all skipped)")
	}
	if len(errs) > 0 {
		o.err = fmt.Errorf("the 32-bit agent could not decide: %s", strings.Join(errs, "; "))
		return o
	}
	order := "little-endian"
	if hello.BigEndian {
		order = "big-endian"
	}
	o.notes = append(o.notes, fmt.Sprintf("a 32-bit VMM (%s, unsigned long of 32 bits, %s) on this 64-bit %s kernel, reading the log as its own u32 words: %s",
		hello.Agent, order, hello.Machine, strings.Join(verdicts, ", ")),
		fmt.Sprintf("the 32-bit agent's own run: %d ms", final.Millis))
	o.control = control{moot: fmt.Sprintf("each of the %d 32-bit scenarios ran its own negative control (%d did)", len(subs), controls)}
	return o
}

// compatRecords reads the 32-bit agent's records: its hello, its
// scenarios and its final record.
func compatRecords(out []byte, runErr error) (record.Hello, []record.Scenario, record.Final, error) {
	var hello record.Hello
	st, err := record.Parse(out)
	if err != nil {
		return hello, nil, record.Final{}, fmt.Errorf("the 32-bit agent's records: %v (the agent: %v)", err, runErr)
	}
	var subs []record.Scenario
	for _, rec := range st.Records {
		switch rec.Type {
		case record.TypeHello:
			err = rec.Into(&hello)
		case record.TypeScenario:
			var s record.Scenario
			err = rec.Into(&s)
			subs = append(subs, s)
		}
		if err != nil {
			return hello, nil, record.Final{}, fmt.Errorf("the 32-bit agent's records: %v", err)
		}
	}
	return hello, subs, *st.Final, nil // Parse fails without a final record
}
