package aliasmodel

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Covered is the prefix alias-marker.patch gives the primitives it
// renamed and wraps with an announcement: a data cache flush or purge
// instruction anywhere else in the kernel acts unseen by the model.
const Covered = "__dg_"

// flushInsn matches objdump's lines of PA-RISC data cache flushes and
// purges: fdc, pdc (by address), fdce, pdce (by entry), with completers.
var flushInsn = regexp.MustCompile(`^\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} ){4}\s*(fdc|pdc|fdce|pdce)(?:,\S+)?\s`)

// Sym is a sized symbol of nm -S.
type Sym struct {
	Addr, Size uint64
	Name       string
}

// ParseNM reads `nm -S` output: every symbol with a size.
func ParseNM(b []byte) []Sym {
	var out []Sym
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 {
			continue
		}
		a, err1 := strconv.ParseUint(f[0], 16, 64)
		s, err2 := strconv.ParseUint(f[1], 16, 64)
		if err1 != nil || err2 != nil || s == 0 {
			continue
		}
		out = append(out, Sym{a, s, f[3]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// Uncovered lists the functions holding a data cache flush or purge
// instruction that the marker patch does not announce (not named
// Covered*), with how many each holds; and how many such instructions the
// covered ones hold. objdump is `objdump -d` of the kernel, nm its `nm -S`.
func Uncovered(objdump []byte, syms []Sym) (uncovered map[string]int, covered int) {
	uncovered = map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(objdump))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := flushInsn.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		a, _ := strconv.ParseUint(m[1], 16, 64)
		name := fmt.Sprintf("0x%x (in no sized symbol)", a)
		i := sort.Search(len(syms), func(i int) bool { return syms[i].Addr > a }) - 1
		for j := i; j >= 0 && j >= i-16; j-- { // a few back: symbols may nest
			if a < syms[j].Addr+syms[j].Size {
				name = syms[j].Name
				break
			}
		}
		if strings.HasPrefix(name, Covered) {
			covered++
			continue
		}
		uncovered[name]++
	}
	return uncovered, covered
}

// CheckKernel checks a kernel built with alias-marker.patch: it has the
// marker, and every data cache flush or purge in it is announced. It
// returns the marker's physical address and the kernel's symbols.
func CheckKernel(ctx context.Context, crossCompile, vmlinux string) (uint64, *Symbols, error) {
	nm, err := exec.CommandContext(ctx, crossCompile+"nm", "-S", vmlinux).Output()
	if err != nil {
		return 0, nil, fmt.Errorf("alias model: %snm -S %s: %v", crossCompile, vmlinux, err)
	}
	syms := ParseNM(nm)
	table := &Symbols{}
	var mark uint64
	for _, s := range syms {
		table.addr = append(table.addr, s.Addr)
		table.name = append(table.name, s.Name)
		if s.Name == MarkSymbol {
			mark = s.Addr
		}
	}
	if mark == 0 {
		return 0, nil, fmt.Errorf("alias model: the kernel has no %s: alias-marker.patch was not applied", MarkSymbol)
	}
	if mark < PageOffset {
		return 0, nil, fmt.Errorf("alias model: %s at 0x%x is not in the kernel's linear map", MarkSymbol, mark)
	}
	dis, err := exec.CommandContext(ctx, crossCompile+"objdump", "-d", vmlinux).Output()
	if err != nil {
		return 0, nil, fmt.Errorf("alias model: %sobjdump -d %s: %v", crossCompile, vmlinux, err)
	}
	unc, cov := Uncovered(dis, syms)
	if len(unc) > 0 {
		var names []string
		for n, c := range unc {
			names = append(names, fmt.Sprintf("%s (%d)", n, c))
		}
		sort.Strings(names)
		return 0, nil, fmt.Errorf("alias model: data cache flushes or purges the marker patch does not announce, so the model cannot see them: %s", strings.Join(names, ", "))
	}
	if cov == 0 {
		return 0, nil, fmt.Errorf("alias model: no data cache flush or purge found in %s: the check itself is broken", vmlinux)
	}
	return mark - PageOffset, table, nil
}
