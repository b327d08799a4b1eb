package initramfs

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

func TestArchiveHoldsInitAndConsole(t *testing.T) {
	p := filepath.Join(t.TempDir(), "initrd.gz")
	if err := Write(p, []byte("#!init"), map[string][]byte{"agent32": []byte("32")}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytesReaderAt(raw)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]cpio.Record{}
	for _, r := range recs {
		got[r.Name] = r
	}
	init, ok := got["init"]
	if !ok || init.Mode&0o777 != 0o755 || init.Mode&cpio.S_IFMT != cpio.S_IFREG {
		t.Fatalf("init: %+v", init.Info)
	}
	b, _ := io.ReadAll(io.NewSectionReader(init.ReaderAt, 0, int64(init.FileSize)))
	if string(b) != "#!init" {
		t.Fatalf("init contents %q", b)
	}
	if a, ok := got["agent32"]; !ok || a.Mode&0o777 != 0o755 || a.FileSize != 2 {
		t.Fatalf("agent32: %+v", a.Info)
	}
	c, ok := got["dev/console"]
	if !ok || c.Mode&cpio.S_IFMT != cpio.S_IFCHR || c.Rmajor != 5 || c.Rminor != 1 {
		t.Fatalf("dev/console: %+v", c.Info)
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
