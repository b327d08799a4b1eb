// Package errno names the error numbers of each architecture's Linux ABI.
// The executor returns raw -errno values from the target's kernel, and the
// numbers above 34 (and EAGAIN on alpha) differ between architectures:
// ENOSYS is 38 on x86, 251 on parisc, 78 on alpha. The tables are data,
// checked in tests against each cross compiler's own <asm/errno.h>.
//
// Runs on both sides: the agent in the guest, and the host encoding calls for the executor.
package errno

import "fmt"

// Table maps one architecture's errno numbers to their names.
type Table struct {
	Arch  string
	names map[int]string
}

// base is asm-generic/errno-base.h, shared by every architecture (alpha
// overrides EAGAIN and EDEADLK).
var base = map[string]int{
	"EPERM": 1, "ENOENT": 2, "ESRCH": 3, "EINTR": 4, "EIO": 5, "ENXIO": 6, "E2BIG": 7,
	"ENOEXEC": 8, "EBADF": 9, "ECHILD": 10, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13,
	"EFAULT": 14, "EBUSY": 16, "EEXIST": 17, "EXDEV": 18, "ENODEV": 19, "ENOTDIR": 20,
	"EISDIR": 21, "EINVAL": 22, "ENFILE": 23, "EMFILE": 24, "ENOTTY": 25, "EFBIG": 27,
	"ENOSPC": 28, "ESPIPE": 29, "EROFS": 30, "EPIPE": 32, "ERANGE": 34,
}

func table(name string, over map[string]int) Table {
	t := Table{Arch: name, names: map[int]string{}}
	for n, v := range base {
		if o, ok := over[n]; ok {
			v = o
		}
		t.names[v] = n
	}
	for n, v := range over {
		t.names[v] = n
	}
	return t
}

// Values lists every name the table knows with its number (for tests).
func (t Table) Values() map[string]int {
	m := map[string]int{}
	for v, n := range t.names {
		m[n] = v
	}
	return m
}

// Name returns the symbolic name of errno n, or "errno N" when unknown.
func (t Table) Name(n int) string {
	if s, ok := t.names[n]; ok {
		return s
	}
	return fmt.Sprintf("errno %d", n)
}

// The tables Linux has. Only the numbers dirtygate can meet are listed;
// an unknown one is reported by number, never guessed.
var (
	// Generic is asm-generic/errno.h: x86, arm, arm64, s390, powerpc,
	// riscv, m68k, sh.
	Generic = table("generic", map[string]int{
		"EDEADLK": 35, "ENOSYS": 38, "EOPNOTSUPP": 95, "ENOBUFS": 105,
		"ETIMEDOUT": 110, "EADDRINUSE": 98, "ENETDOWN": 100,
	})
	Parisc = table("parisc", map[string]int{
		"EDEADLK": 45, "ENOSYS": 251, "EOPNOTSUPP": 223, "ENOBUFS": 233,
		"ETIMEDOUT": 238, "EADDRINUSE": 226, "ENETDOWN": 228,
	})
	Alpha = table("alpha", map[string]int{
		"EAGAIN": 35, "EDEADLK": 11, "ENOSYS": 78, "EOPNOTSUPP": 45, "ENOBUFS": 55,
		"ETIMEDOUT": 60, "EADDRINUSE": 48, "ENETDOWN": 50,
	})
	Mips = table("mips", map[string]int{
		"EDEADLK": 45, "ENOSYS": 89, "EOPNOTSUPP": 122, "ENOBUFS": 132,
		"ETIMEDOUT": 145, "EADDRINUSE": 125, "ENETDOWN": 127,
	})
	Sparc = table("sparc", map[string]int{
		"EDEADLK": 78, "ENOSYS": 90, "EOPNOTSUPP": 45, "ENOBUFS": 55,
		"ETIMEDOUT": 60, "EADDRINUSE": 48, "ENETDOWN": 50,
	})
)
