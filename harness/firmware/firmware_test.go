package firmware

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dirtygate/arches"
)

func TestApply(t *testing.T) {
	image := []byte("..AB12CD..EF..")
	p := func(find, repl string) arches.FirmwarePatch {
		return arches.FirmwarePatch{Find: find, Replace: repl, Why: "test"}
	}
	got, err := Apply(image, []arches.FirmwarePatch{p("4142 3132", "7a7a 7a7a"), p("4546", "6767")})
	if err != nil || string(got) != "..zzzzCD..gg.." {
		t.Fatalf("Apply = %q, %v; want both patches applied", got, err)
	}
	if string(image) != "..AB12CD..EF.." {
		t.Errorf("Apply changed its input: %q", image)
	}
	for _, c := range []struct {
		name  string
		patch arches.FirmwarePatch
		other bool
	}{
		{"absent", p("5a5a", "4141"), true},
		{"twice", p("2e2e", "4141"), true}, // ".." occurs four times
		{"bad hex", p("4g", "41"), false},
		{"lengths differ", p("4142", "41"), false},
		{"empty", p("", ""), false},
	} {
		_, err := Apply(image, []arches.FirmwarePatch{c.patch})
		if err == nil || errors.Is(err, ErrOtherImage) != c.other {
			t.Errorf("%s: Apply error %v; want one that is ErrOtherImage: %v", c.name, err, c.other)
		}
	}
}

// TestHppaFirmware patches QEMU's installed hppa firmware as arches/hppa.go
// says: exactly the two depwi become nops, and a second run takes the
// cached image.
func TestHppaFirmware(t *testing.T) {
	a, _ := arches.Lookup("hppa")
	f := a.Boot.Firmware
	stock, err := os.ReadFile(f.Image)
	if err != nil {
		t.Fatalf("%v (ci/install-deps installs %s)", err, f.Package)
	}
	cache := t.TempDir()
	img, err := Prepare(cache, f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(img.Path, filepath.Join(cache, "firmware")+"/") || !strings.Contains(img.Note, "2 patch(es)") {
		t.Fatalf("Prepare = %+v; want a patched image in the cache (is %s still QEMU 7.2's?)", img, f.Image)
	}
	patched, err := os.ReadFile(img.Path)
	if err != nil {
		t.Fatal(err)
	}
	var diff []int
	for i := range stock {
		if stock[i] != patched[i] {
			diff = append(diff, i)
		}
	}
	depwi, nop := []byte{0xd6, 0x76, 0x1f, 0x1c}, []byte{0x08, 0x00, 0x02, 0x40}
	if len(patched) != len(stock) || len(diff) != 8 {
		t.Fatalf("%d bytes differ (sizes %d, %d); want the two depwi's 4 each", len(diff), len(stock), len(patched))
	}
	for _, at := range []int{diff[0], diff[4]} {
		at &^= 3 // the instruction's first byte: nop and depwi differ in all four
		if !bytes.Equal(stock[at:at+4], depwi) || !bytes.Equal(patched[at:at+4], nop) {
			t.Errorf("at %#x: %x -> %x; want depwi %x -> nop %x", at, stock[at:at+4], patched[at:at+4], depwi, nop)
		}
	}
	st, _ := os.Stat(img.Path)
	again, err := Prepare(cache, f)
	if err != nil || again != img {
		t.Fatalf("second Prepare = %+v, %v; want %+v", again, err, img)
	}
	if st2, _ := os.Stat(img.Path); !st2.ModTime().Equal(st.ModTime()) {
		t.Errorf("the cached image was written again")
	}
}

func TestPrepareOtherImage(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "hppa-firmware.img")
	os.WriteFile(other, []byte("a newer SeaBIOS-hppa"), 0o644)
	f := &arches.Firmware{Image: other, Package: "qemu-system-data",
		Patches: []arches.FirmwarePatch{{Find: "d6761f1c", Replace: "08000240", Why: "depwi"}}}
	img, err := Prepare(dir, f)
	if err != nil || img.Path != other || !strings.Contains(img.Note, "as installed") || !strings.Contains(img.Note, "depwi") {
		t.Errorf("Prepare = %+v, %v; want the installed image and a note naming the patch that did not apply", img, err)
	}
	f.Image = filepath.Join(dir, "missing.img")
	if _, err := Prepare(dir, f); err == nil || !strings.Contains(err.Error(), "apt-get install qemu-system-data") {
		t.Errorf("missing image: %v; want the package to install", err)
	}
	f.Image = other
	f.Patches[0].Replace = "08"
	if _, err := Prepare(dir, f); err == nil || errors.Is(err, ErrOtherImage) {
		t.Errorf("malformed patch: %v; want an error, not the installed image", err)
	}
}

// TestArchPatchesWellFormed: every arch's patches are hex of equal lengths
// (against an empty image, all an Apply can then say is ErrOtherImage).
func TestArchPatchesWellFormed(t *testing.T) {
	for _, name := range append(arches.Names(), arches.UnsupportedNames()...) {
		a, _ := arches.Lookup(name)
		if a.Boot.Firmware == nil {
			continue
		}
		for i, p := range a.Boot.Firmware.Patches {
			if _, err := Apply(nil, []arches.FirmwarePatch{p}); !errors.Is(err, ErrOtherImage) || p.Why == "" {
				t.Errorf("%s: firmware patch %d: %v (why: %q)", name, i+1, err, p.Why)
			}
		}
	}
}
