// Package kernels says where kernel source comes from and which patches go
// on it: Debian's linux-source-6.1 or -6.12 by name, or any tree; the
// built-in patches and their ports per kernel series; the Kconfig
// fragments. Building is harness/kbuild.
//
// Runs on the host.
package kernels

import (
	"embed"
	"slices"
	"strings"
)

//go:embed config/common.config
var commonConfig string

// CommonFragment is the Kconfig fragment every arch gets.
func CommonFragment() string { return commonConfig }

//go:embed config/debug.config
var debugConfig string

//go:embed config/kasan.config
var kasanConfig string

// InjectPatch is the built-in patch `--inject` applies after the candidate:
// its switch is a debugfs directory, and DEBUG_FS is in common.config, so
// an injection build shares its tree (and config) with the plain one.
const InjectPatch = "inject-log-op"

// AliasPatches are the built-in, test-only patches `--alias-model` applies
// after the candidate (parisc only): the data cache flush and purge
// primitives announce what they act on to the cache model
// (harness/aliasmodel), and a debugfs window in vhost's log write lets the
// harvest scenario read the log between the kernel taking the log page and
// storing the bit on every run, not by chance.
var AliasPatches = []string{"alias-marker", "alias-window"}

// DebugFragment is what `--debug-kernel` adds: lock, sleep-in-atomic and
// VM debugging everywhere (less the options in exclude), and KASAN where
// the arch supports it.
func DebugFragment(kasan bool, exclude []string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(debugConfig, "\n") {
		name, _, _ := strings.Cut(l, "=")
		if slices.Contains(exclude, strings.TrimSpace(name)) {
			continue
		}
		b.WriteString(l)
	}
	if kasan {
		b.WriteString(kasanConfig)
	}
	return b.String()
}

//go:embed patches
var builtin embed.FS

// Builtin lists the built-in patch names.
func Builtin() []string {
	ents, _ := builtin.ReadDir("patches")
	var n []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".patch") {
			n = append(n, strings.TrimSuffix(e.Name(), ".patch"))
		}
	}
	return n
}
