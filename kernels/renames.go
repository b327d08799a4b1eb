package kernels

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// renamedSymbols are Kconfig symbols a later kernel renamed. arches/ and
// kernels/config name the 6.1 symbol; a tree that defines only the new
// one gets the new one, so a fragment serves both series and the build's
// check that every requested option survived stays strict.
var renamedSymbols = []struct{ Old, New string }{
	// riscv's SoC options became ARCH_ options (SOC_VIRT in 6.1's
	// arch/riscv/Kconfig.socs, ARCH_VIRT in 6.12's).
	{"SOC_VIRT", "ARCH_VIRT"},
}

// RenameSymbols rewrites fragment's lines that set a renamed symbol the
// tree at dir (karch: its arch/ directory) no longer defines and whose new
// name it does define. dir "" leaves fragment as it is.
func RenameSymbols(fragment, dir, karch string) string {
	if dir == "" {
		return fragment
	}
	var kconfig string // read once, and only for a fragment that names an old symbol
	defined := func(sym string) bool {
		if kconfig == "" {
			files, _ := filepath.Glob(filepath.Join(dir, "arch", karch, "Kconfig*"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				kconfig += string(b)
			}
		}
		return regexp.MustCompile(`(?m)^\s*(menu)?config\s+` + sym + `\s*$`).MatchString(kconfig)
	}
	for _, r := range renamedSymbols {
		if !strings.Contains(fragment, "CONFIG_"+r.Old) || defined(r.Old) || !defined(r.New) {
			continue
		}
		fragment = regexp.MustCompile(`\bCONFIG_`+r.Old+`\b`).ReplaceAllString(fragment, "CONFIG_"+r.New)
	}
	return fragment
}
