package kernels

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Patch is one patch to apply with patch -p1.
type Patch struct {
	Name string // built-in name, or file name (with "#N" for the Nth patch of an mbox)
	Data []byte
	Hash string // sha256 of Data
	// File is the built-in file chosen for the source (kernels/patches/...),
	// "" for a user's patch.
	File string `json:",omitempty"`
	// Ports lists every file of a built-in patch, for the message when
	// none fits a tree.
	Ports []string `json:",omitempty"`
}

// BaseSeries is the kernel series the top-level built-in patches
// (kernels/patches/NAME.patch) are written for; a port for another series
// is kernels/patches/SERIES/NAME.patch and wins on that series.
const BaseSeries = "6.1"

// builtinPatch finds built-in name for a kernel series: its port for the
// series if there is one, else the base patch.
func builtinPatch(name, series string) (Patch, bool) {
	base, err := builtin.ReadFile("patches/" + name + ".patch")
	if err != nil {
		return Patch{}, false
	}
	p := newPatch(name, base)
	p.File = "kernels/patches/" + name + ".patch"
	p.Ports = Ports(name)
	if series != "" && series != BaseSeries {
		if b, err := builtin.ReadFile("patches/" + series + "/" + name + ".patch"); err == nil {
			ports := p.Ports
			p = newPatch(name, b)
			p.File, p.Ports = "kernels/patches/"+series+"/"+name+".patch", ports
		}
	}
	return p, true
}

// Ports lists the files of built-in patch name, each with the series it
// is for: "6.1: kernels/patches/rfc-v2.patch".
func Ports(name string) []string {
	if _, err := builtin.ReadFile("patches/" + name + ".patch"); err != nil {
		return nil
	}
	out := []string{BaseSeries + ": kernels/patches/" + name + ".patch"}
	ents, _ := builtin.ReadDir("patches")
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, err := builtin.ReadFile("patches/" + e.Name() + "/" + name + ".patch"); err == nil {
			out = append(out, e.Name()+": kernels/patches/"+e.Name()+"/"+name+".patch")
		}
	}
	return out
}

func newPatch(name string, data []byte) Patch {
	h := sha256.Sum256(data)
	return Patch{Name: name, Data: data, Hash: hex.EncodeToString(h[:])}
}

// ResolvePatch turns a --patch argument into patches for the base series
// (ResolvePatchFor with BaseSeries).
func ResolvePatch(arg string) ([]Patch, error) { return ResolvePatchFor(arg, BaseSeries) }

// ResolvePatchFor turns a --patch argument into patches for a kernel
// series ("6.12"): a built-in name (its port for the series where one
// exists), or a file holding a unified diff, git format-patch output, or
// an mbox of several patches (split in order).
func ResolvePatchFor(arg, series string) ([]Patch, error) {
	if p, ok := builtinPatch(arg, series); ok {
		return []Patch{p}, nil
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		if os.IsNotExist(err) && !strings.ContainsAny(arg, "/.") {
			return nil, fmt.Errorf("unknown patch %q: not a built-in (%s) and no such file", arg, strings.Join(Builtin(), ", "))
		}
		return nil, fmt.Errorf("patch %s: %w", arg, err)
	}
	parts := SplitMbox(data)
	if len(parts) == 0 {
		return nil, fmt.Errorf("patch %s holds no diff (no '--- a/' / '+++ b/' lines)", arg)
	}
	name := filepath.Base(arg)
	if len(parts) == 1 {
		return []Patch{newPatch(name, parts[0])}, nil
	}
	var out []Patch
	for i, p := range parts {
		out = append(out, newPatch(fmt.Sprintf("%s#%d", name, i+1), p))
	}
	return out, nil
}

// SplitMbox splits an mbox ("From <sha> <date>" separators, as git
// format-patch --stdout writes) into its messages, keeping only those that
// carry a diff. A file without separators is one patch.
func SplitMbox(data []byte) [][]byte {
	var parts [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasDiff(cur.Bytes()) {
			parts = append(parts, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
	}
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if isMboxSeparator(line) && cur.Len() > 0 {
			flush()
		}
		cur.Write(line)
	}
	flush()
	return parts
}

// isMboxSeparator matches "From <40 hex> Mon Sep 17 00:00:00 2001" and the
// general "From addr date" mbox line, not a "From:" header.
func isMboxSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("From ")) {
		return false
	}
	f := strings.Fields(string(line))
	return len(f) >= 3
}

func hasDiff(b []byte) bool {
	return bytes.Contains(b, []byte("\n+++ ")) && (bytes.Contains(b, []byte("\n--- ")) || bytes.HasPrefix(b, []byte("--- ")))
}
