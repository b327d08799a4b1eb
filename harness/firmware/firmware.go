// Package firmware derives the firmware image QEMU boots a machine with
// from the installed one (arches.Boot.Firmware): the arch's byte patches
// applied, the result cached by what went into it.
//
// Runs on the host.
package firmware

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"dirtygate/arches"
	"dirtygate/harness/atomicfile"
)

// Image is the firmware a run boots with.
type Image struct {
	// Path is the image for QEMU's -bios.
	Path string
	// Note says, for the report, which image it is and why.
	Note string
}

// Prepare returns the patched image of f, made once under cacheDir. An
// image in which a patch's bytes do not occur exactly once is not the one
// the patches were written for: it is used as installed, and the note
// says so. A missing image is an error naming the package.
func Prepare(cacheDir string, f *arches.Firmware) (Image, error) {
	stock, err := os.ReadFile(f.Image)
	if err != nil {
		return Image{}, fmt.Errorf("QEMU's firmware %s: %w (install it: `apt-get install %s`)", f.Image, err, f.Package)
	}
	patched, err := Apply(stock, f.Patches)
	if errors.Is(err, ErrOtherImage) {
		return Image{Path: f.Image, Note: fmt.Sprintf("%s as installed, no patch of arches/ applied: %v", f.Image, err)}, nil
	}
	if err != nil {
		return Image{}, err
	}
	sum := sha256.New()
	sum.Write(stock)
	for _, p := range f.Patches {
		fmt.Fprintf(sum, "\x00%s\x00%s", p.Find, p.Replace)
	}
	ext := filepath.Ext(f.Image)
	name := strings.TrimSuffix(filepath.Base(f.Image), ext) + "-" + hex.EncodeToString(sum.Sum(nil))[:16] + ext
	path := filepath.Join(cacheDir, "firmware", name)
	note := fmt.Sprintf("%s: %s with %d patch(es) of arches/ (%s)", path, f.Image, len(f.Patches), whys(f.Patches))
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, patched) {
		return Image{Path: path, Note: note}, nil
	}
	if err := atomicfile.Write(path, patched, 0o644); err != nil {
		return Image{}, fmt.Errorf("writing the patched firmware: %w", err)
	}
	return Image{Path: path, Note: note}, nil
}

// ErrOtherImage: a patch's bytes are not in the image exactly once, so it
// is not the image the patches were written for.
var ErrOtherImage = errors.New("not the image the patches were written for")

// Apply returns a copy of image with every patch applied, or an error
// naming the first patch that is malformed or whose bytes are not found
// exactly once (ErrOtherImage).
func Apply(image []byte, patches []arches.FirmwarePatch) ([]byte, error) {
	out := bytes.Clone(image)
	for i, p := range patches {
		find, err1 := decode(p.Find)
		repl, err2 := decode(p.Replace)
		switch {
		case err1 != nil || err2 != nil:
			return nil, fmt.Errorf("patch %d: bad hex: %v", i+1, cmp.Or(err1, err2))
		case len(find) == 0 || len(find) != len(repl):
			return nil, fmt.Errorf("patch %d: find and replace must be equal, non-empty lengths (%d, %d bytes)", i+1, len(find), len(repl))
		}
		at := bytes.Index(out, find)
		if at < 0 {
			return nil, fmt.Errorf("%w: patch %d's bytes are not in it (%s)", ErrOtherImage, i+1, p.Why)
		}
		if bytes.Index(out[at+1:], find) >= 0 {
			return nil, fmt.Errorf("%w: patch %d's bytes occur more than once (%s)", ErrOtherImage, i+1, p.Why)
		}
		copy(out[at:], repl)
	}
	return out, nil
}

func decode(s string) ([]byte, error) { return hex.DecodeString(strings.Join(strings.Fields(s), "")) }

func whys(ps []arches.FirmwarePatch) string {
	var w []string
	for _, p := range ps {
		w = append(w, p.Why)
	}
	return strings.Join(w, "; ")
}
