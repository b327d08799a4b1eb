package lava

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// entry is one line of a LAVA job log (the job's output.yaml, or
// `lavacli jobs logs --raw`): a YAML list of {dt, lvl, msg}. The device's
// console is under lvl "target"; msg is a string there and a mapping for
// results.
type entry struct {
	DT  string    `yaml:"dt"`
	Lvl string    `yaml:"lvl"`
	Msg yaml.Node `yaml:"msg"`
}

// IsJobLog reports whether b looks like a LAVA job log rather than a
// plain console: a YAML list whose first item has dt and lvl.
func IsJobLog(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	if !bytes.HasPrefix(t, []byte("- ")) {
		return false
	}
	first, _, _ := bytes.Cut(t, []byte("\n"))
	return bytes.Contains(first, []byte("dt")) && bytes.Contains(first, []byte("lvl"))
}

// Console extracts the device's console from a LAVA job log, one line per
// "target" entry, in order.
func Console(b []byte) ([]byte, error) {
	var entries []entry
	if err := yaml.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("lava log: %v", err)
	}
	var out strings.Builder
	n := 0
	for _, e := range entries {
		if e.Lvl != "target" || e.Msg.Kind != yaml.ScalarNode {
			continue
		}
		out.WriteString(e.Msg.Value)
		out.WriteByte('\n')
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("lava log: no target lines (the device's console): did the job boot?")
	}
	return []byte(out.String()), nil
}
