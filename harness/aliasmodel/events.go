package aliasmodel

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Stale is one stale alias read, as the plugin (or the replayer) printed it.
type Stale struct {
	VCPU       int
	PC, VA, PA uint64
	Size       int
	Miss       bool // filled from memory older than another colour's dirty copy (else a stale cached copy)
	WVCPU      int
	WPC, WVA   uint64 // the newest write to the stale word
}

// Output is what the plugin wrote.
type Output struct {
	Header    string // "dirtygate-alias 1 ..."; "" when the plugin never started
	Stale     []Stale
	Stats     map[string]uint64 // reads, writes, stale, flushes, purges, ...
	Marks     map[string]uint64 // applied, torn, events, dropped, io, no_hwaddr
	ReadPages [][2]uint64       // virtual page ranges read, inclusive
	Ended     bool              // the plugin's exit summary is there
}

// ParseOutput reads the plugin's file (or the replayer's stdout). A
// truncated file is fine: what is there is returned.
func ParseOutput(b []byte) (*Output, error) {
	o := &Output{Stats: map[string]uint64{}, Marks: map[string]uint64{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		l := sc.Text()
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "dirtygate-alias":
			o.Header = l
		case "stale":
			kv, err := fields(f[1:])
			if err != nil {
				return o, fmt.Errorf("alias model output: %q: %v", l, err)
			}
			o.Stale = append(o.Stale, Stale{VCPU: int(kv["vcpu"]), PC: kv["pc"], VA: kv["va"], PA: kv["pa"],
				Size: int(kv["size"]), Miss: kv["miss"] != 0, WVCPU: int(kv["wvcpu"]), WPC: kv["wpc"], WVA: kv["wva"]})
		case "stats", "marks":
			kv, err := fields(f[1:])
			if err != nil {
				return o, fmt.Errorf("alias model output: %q: %v", l, err)
			}
			m := o.Stats
			if f[0] == "marks" {
				m = o.Marks
			}
			for k, v := range kv {
				m[k] = v
			}
		case "readpages":
			for _, r := range f[1:] {
				lo, hi, ok := strings.Cut(r, "-")
				a, err1 := strconv.ParseUint(lo, 16, 64)
				z, err2 := strconv.ParseUint(hi, 16, 64)
				if !ok || err1 != nil || err2 != nil {
					return o, fmt.Errorf("alias model output: bad page range %q", r)
				}
				o.ReadPages = append(o.ReadPages, [2]uint64{a, z})
			}
		case "end":
			o.Ended = true
		}
	}
	return o, sc.Err()
}

func fields(f []string) (map[string]uint64, error) {
	kv := map[string]uint64{}
	for _, x := range f {
		k, v, ok := strings.Cut(x, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", x)
		}
		n, err := strconv.ParseUint(v, 0, 64)
		if err != nil {
			return nil, err
		}
		kv[k] = n
	}
	return kv, nil
}

// PageRead says whether the model saw a read of the virtual page holding va.
func (o *Output) PageRead(va uint64) bool {
	p := (va & 0xffffffff) >> 12
	for _, r := range o.ReadPages {
		if p >= r[0] && p <= r[1] {
			return true
		}
	}
	return false
}
