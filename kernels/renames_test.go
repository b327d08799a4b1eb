package kernels

import (
	"os"
	"path/filepath"
	"testing"
)

// riscv's SOC_VIRT, as arch/riscv/Kconfig.socs defines it in 6.1 and as
// ARCH_VIRT in 6.12: the fragment follows the tree, and a tree with
// neither keeps what was asked (for the build's check to report).
func TestRenameSymbols(t *testing.T) {
	frag := "CONFIG_MMU=y\nCONFIG_SOC_VIRT=y\n# CONFIG_SOC_VIRTX is not set\n"
	for _, tc := range []struct{ kconfig, want string }{
		{"config SOC_VIRT\n\tbool \"QEMU Virt Machine\"\n", frag},
		{"config ARCH_VIRT\n\tbool \"QEMU Virt Machine\"\n", "CONFIG_MMU=y\nCONFIG_ARCH_VIRT=y\n# CONFIG_SOC_VIRTX is not set\n"},
		{"config OTHER\n", frag},
	} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "arch/riscv"), 0o755)
		os.WriteFile(filepath.Join(dir, "arch/riscv/Kconfig.socs"), []byte(tc.kconfig), 0o644)
		if got := RenameSymbols(frag, dir, "riscv"); got != tc.want {
			t.Errorf("tree %q: got %q, want %q", tc.kconfig, got, tc.want)
		}
	}
	// Against the real trees, where the cache has them unpacked.
	for series, want := range map[string]string{"6.1": "CONFIG_SOC_VIRT=y", "6.12": "CONFIG_ARCH_VIRT=y"} {
		trees, _ := filepath.Glob(filepath.Join(cacheSrcDir(), "linux-source-"+series+"_*", "linux-source-"+series))
		if len(trees) == 0 {
			continue
		}
		if got := RenameSymbols("CONFIG_SOC_VIRT=y", trees[0], "riscv"); got != want {
			t.Errorf("%s: got %q, want %q", series, got, want)
		}
	}
}
