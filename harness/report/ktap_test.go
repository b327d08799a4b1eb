package report

import (
	"bufio"
	"regexp"
	"strings"
	"testing"

	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

// The KTAP output follows the grammar kunit_tool's parser accepts: a
// version line, a plan, then results, with subtests indented by four
// spaces; plans match the number of results, and a run that could not
// decide is never "ok".
func TestKTAP(t *testing.T) {
	pass := &Report{Arch: "x86_64", Patches: []string{}, Verdict: Pass, EmulationNote: "QEMU does not model caches.",
		Scenarios: []record.Scenario{{Name: "rx-spread", Status: record.Pass}, {Name: "carry", Status: record.Pass}}}
	fail := &Report{Arch: "hppa", Patches: []string{"rfc-v2"}, Verdict: Fail,
		Scenarios: []record.Scenario{
			{Name: "carry", Status: record.Fail, Findings: []oracle.Finding{{Kind: oracle.Carry, Detail: "carry: page 291 logged 3 times\nmore"}}},
			{Name: "misaligned-1", Status: record.Error, Error: "VHOST_SET_OWNER: EPERM"},
		}}
	broken := &Report{Arch: "s390x", Patches: []string{}, Verdict: Error, Error: "the VM did not end within 3m0s"}
	var b strings.Builder
	WriteKTAP(&b, []*Report{pass, fail, broken})
	out := b.String()
	line := regexp.MustCompile(`^( {4})*(KTAP version 1|1\.\.\d+|(not )?ok \d+ [^#\s]+( # (SKIP|ERROR)\b.*)?|# .*)$`)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if !line.MatchString(sc.Text()) {
			t.Errorf("not KTAP: %q", sc.Text())
		}
	}
	for _, want := range []string{
		"KTAP version 1\n1..3\n",
		"    # Subtest: x86_64_baseline\n",
		"    ok 2 carry\n",
		"ok 1 x86_64_baseline\n",
		"    # carry: carry: page 291 logged 3 times\n",
		"    not ok 1 carry\n",
		"    not ok 2 misaligned-1 # ERROR could not decide\n",
		"not ok 2 hppa_rfc-v2\n",
		"    1..0\n",
		"not ok 3 s390x_baseline # ERROR could not decide\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("KTAP lacks %q:\n%s", want, out)
		}
	}
}
