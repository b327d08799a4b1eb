// Package atomicfile writes a file through a temporary file renamed into
// place, so a reader (another run sharing the cache) never sees it half
// written, and an interrupted write leaves nothing at the path.
//
// Runs on the host.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes b to path with mode perm, creating path's directory.
func Write(path string, b []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
