package lava

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dirtygate/arches"
)

// validator runs LAVA's own job schema (Debian's lava-common,
// lava_common.schemas.validate, strict as lava-server submits) on a file.
const validator = `
import sys, yaml
from lava_common.schemas import validate
validate(yaml.safe_load(open(sys.argv[1])))
`

func validate(t *testing.T, job []byte) error {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import lava_common.schemas").Run(); err != nil {
		t.Fatalf("LAVA's schema is not installed: apt-get install lava-common (ci/install-deps installs it): %v", err)
	}
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, job, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/python3", "-c", validator, path).CombinedOutput()
	if err != nil {
		return &schemaError{strings.TrimSpace(string(out))}
	}
	return nil
}

type schemaError struct{ msg string }

func (e *schemaError) Error() string { return e.msg }

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
	if a.DTB != "" {
		j.DTBURL = "https://lab.example/k/" + arch + ".dtb"
	}
	return j
}

func TestJobsPassLAVASchema(t *testing.T) {
	for _, c := range []struct{ arch, device string }{
		{"x86_64", ""}, {"arm64", ""}, {"hppa", ""}, {"armv5", ""},
		{"armv5", "at91sam9g20ek"}, {"arm64", "bcm2711-rpi-4-b"},
	} {
		b, err := job(t, c.arch, c.device).YAML()
		if err != nil {
			t.Fatalf("%s %s: %v", c.arch, c.device, err)
		}
		if err := validate(t, b); err != nil {
			t.Errorf("%s %s: LAVA rejects the job: %v\n%s", c.arch, c.device, err, b)
		}
		s := string(b)
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
		if c.device == "" && !strings.Contains(s, map[bool]string{true: "machine: ", false: "- -machine "}[templateMachine[d.QEMUArch]]+a.Machine+"\n") {
			t.Errorf("%s: the job does not ask for machine %s:\n%s", c.arch, a.Machine, s)
		}
		if c.arch == "armv5" && c.device == "" && !strings.Contains(s, "cpu: arm926") {
			t.Errorf("armv5: the job does not ask for the ARM926:\n%s", s)
		}
	}
}

// The schema check must be able to fail: a job without visibility, and
// one with a test action LAVA does not know, are refused.
func TestLAVASchemaRejectsABrokenJob(t *testing.T) {
	b, err := job(t, "hppa", "").YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(string(b), "visibility: public\n", "", 1),
		strings.Replace(string(b), "monitors:", "monitor:", 1),
		strings.Replace(string(b), "interactive:", "interactiv:", 1),
	} {
		if bad == string(b) {
			continue
		}
		if validate(t, []byte(bad)) == nil {
			t.Errorf("LAVA's schema accepted a broken job:\n%s", bad)
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
