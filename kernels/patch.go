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
}

func newPatch(name string, data []byte) Patch {
	h := sha256.Sum256(data)
	return Patch{Name: name, Data: data, Hash: hex.EncodeToString(h[:])}
}

// ResolvePatch turns a --patch argument into patches: a built-in name, or
// a file holding a unified diff, git format-patch output, or an mbox of
// several patches (split in order).
func ResolvePatch(arg string) ([]Patch, error) {
	if b, err := builtin.ReadFile("patches/" + arg + ".patch"); err == nil {
		return []Patch{newPatch(arg, b)}, nil
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
