// Package console reads a guest's console log for what the kernel said:
// BUG, WARNING, Oops, panic and the like. Any of them fails a run.
//
// Runs on the host.
package console

import (
	"regexp"
	"strings"
)

// Splat is one kernel complaint with the lines that followed it.
type Splat struct {
	Line  int    // 1-based line of the first line
	Title string // the first line, trimmed
	Quote string // the first line and up to contextLines after it
}

const contextLines = 30

// splatRE matches the first line of every report the kernel prints for a
// bug; the agent's own lines start with "dirtygate:" and never match.
//
// "WARNING:" alone is not enough: drivers print plain warnings that start
// with it (ppc64's "WARNING: nvram corruption detected" on every pseries
// boot). WARN() prints "WARNING: CPU: n PID: n at file:line", lockdep and
// RCU debugging their own fixed titles.
var splatRE = regexp.MustCompile(`(BUG: |WARNING: CPU: \d+ PID: \d+|WARNING: possible |WARNING: suspicious RCU usage|WARNING: bad unlock balance|WARNING: inconsistent lock state|WARNING: lock held when returning|Oops|Kernel panic|kernel BUG at|general protection fault|Unable to handle kernel|UBSAN: |KASAN: |KFENCE: |Call Trace:|stack-protector:|list_add corruption|list_del corruption|soft lockup|hung_task|rcu_sched detected stalls|rcu: INFO:)`)

// Scan returns every splat, in order. A "Call Trace:" directly inside a
// splat's context belongs to it and does not start another.
func Scan(log []byte) []Splat {
	lines := strings.Split(strings.ReplaceAll(string(log), "\r", ""), "\n")
	var out []Splat
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.Contains(l, "dirtygate:") || !splatRE.MatchString(l) {
			continue
		}
		end := min(len(lines), i+1+contextLines)
		out = append(out, Splat{Line: i + 1, Title: strings.TrimSpace(l), Quote: strings.Join(lines[i:end], "\n")})
		// Skip the rest of this report: up to its end marker or the
		// context window, whichever comes first.
		for j := i + 1; j < end; j++ {
			if strings.Contains(lines[j], "---[ end trace") || strings.Contains(lines[j], "---[ end Kernel panic") {
				end = j + 1
				break
			}
		}
		i = end - 1
	}
	return out
}
