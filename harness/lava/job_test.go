package lava

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dirtygate/arches"
)

// validator runs LAVA's own job schema (Debian's lava-common,
// lava_common.schemas.validate, strict as lava-server submits) on each
// file named, in one Python process: a line per file, "ok" or the error.
const validator = `
import sys, yaml
from lava_common.schemas import validate
for path in sys.argv[1:]:
    try:
        validate(yaml.safe_load(open(path)))
        print("ok")
    except Exception as e:
        print(("error: %s" % e).replace(chr(10), " "))
`

// validate returns, per job, nil or why LAVA's schema refuses it.
func validate(t *testing.T, jobs ...[]byte) []error {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import lava_common.schemas").Run(); err != nil {
		t.Fatalf("LAVA's schema is not installed: apt-get install lava-common (ci/install-deps installs it): %v", err)
	}
	dir := t.TempDir()
	var paths []string
	for i, j := range jobs {
		path := filepath.Join(dir, fmt.Sprintf("job%d.yaml", i))
		if err := os.WriteFile(path, j, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	out, err := exec.Command("/usr/bin/python3", append([]string{"-c", validator}, paths...)...).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || len(lines) != len(jobs) {
		t.Fatalf("the validator: %v\n%s", err, out)
	}
	errs := make([]error, len(jobs))
	for i, l := range lines {
		if l != "ok" {
			errs[i] = errors.New(l)
		}
	}
	return errs
}

func job(t *testing.T, arch, deviceType string) Job {
	t.Helper()
	a, err := arches.Lookup(arch)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := DeviceFor(arch)
	if !ok {
		t.Fatalf("no device for %s", arch)
	}
	if deviceType != "" {
		d.Type = deviceType
	}
	j := Job{Arch: a, Device: d, KernelURL: "https://lab.example/k/" + arch,
		RamdiskURL: "https://lab.example/dg/initramfs.cpio.gz", Patches: []string{"rfc-v2"}}
	if a.Build.DTB != "" {
		j.DTBURL = "https://lab.example/k/" + arch + ".dtb"
	}
	return j
}

func TestJobsPassLAVASchema(t *testing.T) {
	cases := []struct{ arch, device string }{
		{"x86_64", ""}, {"arm64", ""}, {"hppa", ""}, {"armv5", ""},
		{"armv5", "at91sam9g20ek"}, {"arm64", "bcm2711-rpi-4-b"},
	}
	var jobs [][]byte
	for _, c := range cases {
		b, err := job(t, c.arch, c.device).YAML()
		if err != nil {
			t.Fatalf("%s %s: %v", c.arch, c.device, err)
		}
		jobs = append(jobs, b)
	}
	errs := validate(t, jobs...)
	for i, c := range cases {
		s := string(jobs[i])
		if errs[i] != nil {
			t.Errorf("%s %s: LAVA rejects the job: %v\n%s", c.arch, c.device, errs[i], s)
		}
		a, _ := arches.Lookup(c.arch)
		want := "monitors:"
		if a.UsesExecutor() {
			want = "interactive:"
		}
		if !strings.Contains(s, want) || !strings.Contains(s, "dirtygate.skip=") && len(a.Skips()) > 0 {
			t.Errorf("%s: the job lacks %s or the arch's skips:\n%s", c.arch, want, s)
		}
		// The machine and CPU dirtygate boots, whatever LAVA's qemu
		// template would default to (cortex-a57 on every arm; no
		// -machine for x86).
		d, _ := DeviceFor(c.arch)
		if c.device == "" && !strings.Contains(s, map[bool]string{true: "machine: ", false: "- -machine "}[templateMachine[d.QEMUArch]]+a.Boot.Machine+"\n") {
			t.Errorf("%s: the job does not ask for machine %s:\n%s", c.arch, a.Boot.Machine, s)
		}
		if c.arch == "armv5" && c.device == "" && !strings.Contains(s, "cpu: arm926") {
			t.Errorf("armv5: the job does not ask for the ARM926:\n%s", s)
		}
		if k := strings.Join(a.Boot.KernelArgs, " "); k != "" && !strings.Contains(s, "panic=-1 "+k+" ") {
			t.Errorf("%s: the job's kernel command line lacks %s:\n%s", c.arch, k, s)
		}
	}
}

// The schema check must be able to fail: a job without visibility, and
// one with a test action LAVA does not know, are refused.
func TestLAVASchemaRejectsABrokenJob(t *testing.T) {
	var bad [][]byte
	for _, arch := range []string{"hppa", "x86_64"} {
		b, err := job(t, arch, "").YAML()
		if err != nil {
			t.Fatal(err)
		}
		for _, edit := range [][2]string{{"visibility: public\n", ""}, {"monitors:", "monitor:"}, {"interactive:", "interactiv:"}} {
			if broken := strings.Replace(string(b), edit[0], edit[1], 1); broken != string(b) {
				bad = append(bad, []byte(broken))
			}
		}
	}
	for i, err := range validate(t, bad...) {
		if err == nil {
			t.Errorf("LAVA's schema accepted a broken job:\n%s", bad[i])
		}
	}
}

func TestJobNeedsItsFiles(t *testing.T) {
	j := job(t, "armv5", "")
	j.DTBURL = ""
	if _, err := j.YAML(); err == nil || !strings.Contains(err.Error(), "device tree") {
		t.Errorf("armv5 without a device tree: %v", err)
	}
	j = job(t, "x86_64", "minnowboard-turbot-E3826")
	if _, err := j.YAML(); err == nil {
		t.Error("a job for a board type dirtygate cannot boot was written")
	}
}
