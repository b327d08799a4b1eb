package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The line gives the median compile (the upper middle of ten) and its range, the CPU a compile and
// the system share (ten compiles measured on 2026-12-02 while make run
// built arm64's kernel beside them).
func TestWriteHost(t *testing.T) {
	h := Host{Compiles: []time.Duration{568226599, 578105354, 458447916, 402135753, 500938137, 435480110, 637902203, 578055429, 524345808, 493900164},
		User: 3947543000, System: 650699000}
	var b strings.Builder
	WriteHost(&b, "before", h)
	want := "host reference before: gcc -O2 of a fixed C file, 10 runs: 0.52s a compile (0.40-0.64), 0.46 CPU-s a compile, 14% of it system time\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
	b.Reset()
	h.THP = "madvise"
	WriteHost(&b, "before", h)
	if want := strings.TrimSuffix(want, "\n") + ", transparent hugepages madvise\n"; b.String() != want {
		t.Errorf("with the THP mode: got  %q\nwant %q", b.String(), want)
	}
	b.Reset()
	WriteHost(&b, "after", Host{Err: "no gcc"})
	if got := b.String(); got != "host reference after: could not measure: no gcc\n" {
		t.Errorf("a failed measurement printed %q", got)
	}
}

// MeasureHost really compiles (two runs here, not a bench's ten), and
// says what to install when gcc is missing.
func TestMeasureHost(t *testing.T) {
	h := MeasureHost(context.Background(), 2)
	if h.Err != "" || len(h.Compiles) != 2 || h.User <= 0 {
		t.Fatalf("MeasureHost: %+v", h)
	}
	t.Setenv("PATH", t.TempDir())
	if h := MeasureHost(context.Background(), 2); !strings.Contains(h.Err, "install gcc") || len(h.Compiles) != 0 {
		t.Errorf("without gcc: %+v", h)
	}
}

// The mode is the bracketed word of the sysfs file: "always" and
// "madvise" as this host's file read on 2026-12-02, "never" in the same
// form; a file without one bracketed word is unknown.
func TestTHPMode(t *testing.T) {
	for in, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never\n": "always",
		"always madvise [never]\n": "never",
		"":                         "",
		"always madvise never\n":   "",
		"[always madvise never\n":  "",
	} {
		if got := thpMode(in); got != want {
			t.Errorf("thpMode(%q) = %q, want %q", in, got, want)
		}
	}
}

// MeasureHost reads the mode from sysfs, and leaves it unknown without it.
// Without gcc on PATH it compiles nothing and still reads the mode.
func TestMeasureHostTHP(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	old := thpPath
	t.Cleanup(func() { thpPath = old })
	thpPath = filepath.Join(dir, "enabled")
	if err := os.WriteFile(thpPath, []byte("[always] madvise never\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if h := MeasureHost(context.Background(), 1); h.THP != "always" {
		t.Errorf("THP %q from a file saying always", h.THP)
	}
	thpPath = filepath.Join(dir, "missing")
	if h := MeasureHost(context.Background(), 1); h.THP != "" {
		t.Errorf("THP %q without the file", h.THP)
	}
}
