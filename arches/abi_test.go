package arches

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"dirtygate/vmm/vhost"
)

// The ABI facts in each arch file are checked against that arch's cross
// compiler and kernel headers: a probe is compiled (not run: it is for
// another CPU) with every value as an initialised 64-bit variable, and the
// values are read back out of the object file.

// probeNames are the constants the host encodes for an executor guest.
var probeNames = []string{
	"VHOST_GET_FEATURES", "VHOST_SET_FEATURES", "VHOST_SET_OWNER", "VHOST_SET_MEM_TABLE",
	"VHOST_SET_LOG_BASE", "VHOST_SET_LOG_FD", "VHOST_SET_VRING_NUM", "VHOST_SET_VRING_ADDR",
	"VHOST_SET_VRING_BASE", "VHOST_GET_VRING_BASE", "VHOST_SET_VRING_KICK", "VHOST_SET_VRING_CALL",
	"VHOST_NET_SET_BACKEND", "TUNSETIFF", "TUNSETVNETHDRSZ",
	"SIOCGIFINDEX", "SIOCSIFMTU", "SIOCGIFFLAGS", "SIOCSIFFLAGS",
}

func probeSource(errnos []string) string {
	var b strings.Builder
	b.WriteString("#include <asm/errno.h>\n#include <linux/vhost.h>\n#include <linux/if_tun.h>\n#include <linux/sockios.h>\n")
	b.WriteString("#define V(x) long long dg_##x = (long long)(x);\n")
	b.WriteString("V(sizeof(long))\n")
	for _, n := range append(append([]string{}, probeNames...), errnos...) {
		fmt.Fprintf(&b, "long long dg_%s = (long long)(%s);\n", n, n)
	}
	return strings.Replace(b.String(), "V(sizeof(long))", "long long dg_sizeof_long = sizeof(long);", 1)
}

// probe compiles the probe with a's compiler and returns the values.
func probe(t *testing.T, a *Arch, errnos []string) map[string]int64 {
	t.Helper()
	gcc := a.Build.CrossCompile + "gcc"
	dir := t.TempDir()
	src := filepath.Join(dir, "probe.c")
	obj := filepath.Join(dir, "probe.o")
	if err := os.WriteFile(src, []byte(probeSource(errnos)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-c", "-O0", "-ffreestanding", "-o", obj}, a.Executor.CFlags...)
	if a.Build.CrossCompile == "" && a.ABI.WordBits == 32 {
		args = append(args, "-m32") // i386 on the host's gcc
	}
	if out, err := exec.Command(gcc, append(args, src)...).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "No such file or directory") && !required[a.Name] {
			t.Skipf("%s has no kernel headers for %s here (apt-get install linux-libc-dev-<arch>-cross): %s", gcc, a.Name, firstLine(string(out)))
		}
		t.Fatalf("%s: %v\n%s", gcc, err, out)
	}
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]int64{}
	for _, s := range syms {
		if !strings.HasPrefix(s.Name, "dg_") || int(s.Section) >= len(f.Sections) {
			continue
		}
		data, err := f.Sections[s.Section].Data()
		if err != nil || s.Value+8 > uint64(len(data)) {
			continue // .bss: a zero value
		}
		vals[strings.TrimPrefix(s.Name, "dg_")] = int64(f.ByteOrder.Uint64(data[s.Value:]))
	}
	return vals
}

// required are checked on every machine `make test` runs on; the other
// arches are checked where their cross compiler is installed (make matrix).
var required = map[string]bool{"x86_64": true, "hppa": true}

func TestABIAgainstCrossHeaders(t *testing.T) {
	for _, name := range Names() {
		a, _ := Lookup(name)
		t.Run(name, func(t *testing.T) {
			if _, err := exec.LookPath(a.Build.CrossCompile + "gcc"); err != nil {
				if required[name] {
					t.Fatalf("%sgcc is needed: apt-get install %s", a.Build.CrossCompile, a.Build.CrossPackage)
				}
				t.Skipf("%sgcc not installed (apt-get install %s)", a.Build.CrossCompile, a.Build.CrossPackage)
			}
			errs := a.Errnos().Values()
			var errnos []string
			for n := range errs {
				errnos = append(errnos, n)
			}
			sort.Strings(errnos)
			c := probe(t, a, errnos)
			abi := a.MachineABI()
			if got := c["sizeof_long"] * 8; got != int64(a.ABI.WordBits) {
				t.Errorf("WordBits = %d, the compiler's long has %d bits", a.ABI.WordBits, got)
			}
			r := vhost.RequestsFor(abi.Ioctl)
			mine := map[string]uint32{
				"VHOST_GET_FEATURES": r.GetFeatures, "VHOST_SET_FEATURES": r.SetFeatures,
				"VHOST_SET_OWNER": r.SetOwner, "VHOST_SET_MEM_TABLE": r.SetMemTable,
				"VHOST_SET_LOG_BASE": r.SetLogBase, "VHOST_SET_LOG_FD": r.SetLogFD,
				"VHOST_SET_VRING_NUM": r.SetVringNum, "VHOST_SET_VRING_ADDR": r.SetVringAddr,
				"VHOST_SET_VRING_BASE": r.SetVringBase, "VHOST_GET_VRING_BASE": r.GetVringBase,
				"VHOST_SET_VRING_KICK": r.SetVringKick, "VHOST_SET_VRING_CALL": r.SetVringCall,
				"VHOST_NET_SET_BACKEND": r.NetSetBackend,
				"TUNSETIFF":             abi.Ioctl.IOW('T', 202, 4), "TUNSETVNETHDRSZ": abi.Ioctl.IOW('T', 216, 4),
				"SIOCGIFINDEX": 0x8933, "SIOCSIFMTU": 0x8922, "SIOCGIFFLAGS": 0x8913, "SIOCSIFFLAGS": 0x8914,
			}
			for n, v := range mine {
				if uint32(c[n]) != v {
					t.Errorf("%s: %s encoding gives %#x, %s's headers say %#x", n, abi.Ioctl.Name, v, a.Build.CrossCompile+"gcc", uint32(c[n]))
				}
			}
			for n, v := range errs {
				if c[n] != int64(v) {
					t.Errorf("errno table %q: %s = %d, the headers say %d", a.Errnos().Arch, n, v, c[n])
				}
			}
		})
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
