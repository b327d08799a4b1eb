package run

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"dirtygate/harness/executor"
)

// onScenario passes the session's progress on to next and calls start
// with each scenario's name as its "dirtygate: scenario NAME: running"
// line goes by: how the host charges what it sees to a scenario.
func onScenario(next io.Writer, start func(name string)) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if name, ok := strings.CutPrefix(l, "dirtygate: scenario "); ok && strings.HasSuffix(name, ": running") {
				start(strings.TrimSuffix(name, ": running"))
			}
		}
		return next.Write(b)
	})
}

// scenarioCalls counts the executor's calls and round trips per scenario:
// where the console's time goes.
type scenarioCalls struct {
	c     *executor.Client
	mu    sync.Mutex
	cur   string
	at    executor.Stats
	order []string
	per   map[string][2]int // calls, round trips
}

func newScenarioCalls(c *executor.Client) *scenarioCalls {
	return &scenarioCalls{c: c, per: map[string][2]int{}}
}

// start charges what happened since the last start to that scenario.
func (s *scenarioCalls) start(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.c.Stats()
	if s.cur != "" {
		p := s.per[s.cur]
		p[0] += now.Calls - s.at.Calls
		p[1] += now.RoundTrips - s.at.RoundTrips
		s.per[s.cur] = p
	}
	if _, seen := s.per[name]; name != "" && !seen {
		s.order = append(s.order, name)
		s.per[name] = [2]int{}
	}
	s.cur, s.at = name, now
}

// summary ends the count and says it, scenario by scenario.
func (s *scenarioCalls) summary() string {
	s.start("")
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return ""
	}
	var parts []string
	for _, n := range s.order {
		parts = append(parts, fmt.Sprintf("%s %d/%d", n, s.per[n][0], s.per[n][1]))
	}
	return "calls/round trips per scenario: " + strings.Join(parts, ", ")
}
