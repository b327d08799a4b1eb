package main

import (
	"bytes"
	"testing"
)

func TestQuietProgress(t *testing.T) {
	var out bytes.Buffer
	q := &quiet{w: &out}
	q.Write([]byte("[x86_64 baseline] compiling bzImage with -j2\n[x86_64 baseline] still compiling, 15s, last: CC a.o\n[x86_64 ba"))
	q.Write([]byte("seline] scenario carry: pass (60 ms)\n[x86_64 baseline] booting under tcg\n"))
	want := "[x86_64 baseline] compiling bzImage with -j2\n[x86_64 baseline] booting under tcg\n"
	if out.String() != want {
		t.Fatalf("got %q", out.String())
	}
}
