package run

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

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

// scenarioCalls counts the executor's calls, round trips and seconds per
// scenario: where the console's time goes.
type scenarioCalls struct {
	c     *executor.Client
	mu    sync.Mutex
	cur   string
	at    executor.Stats
	since time.Time
	order []string
	per   map[string]callCount
}

type callCount struct {
	calls, trips int
	took         time.Duration
}

func newScenarioCalls(c *executor.Client) *scenarioCalls {
	return &scenarioCalls{c: c, per: map[string]callCount{}}
}

// start charges what happened since the last start to that scenario.
func (s *scenarioCalls) start(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, t := s.c.Stats(), time.Now()
	if s.cur != "" {
		p := s.per[s.cur]
		p.calls += now.Calls - s.at.Calls
		p.trips += now.RoundTrips - s.at.RoundTrips
		p.took += t.Sub(s.since)
		s.per[s.cur] = p
	}
	if _, seen := s.per[name]; name != "" && !seen {
		s.order = append(s.order, name)
		s.per[name] = callCount{}
	}
	s.cur, s.at, s.since = name, now, t
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
		p := s.per[n]
		parts = append(parts, fmt.Sprintf("%s %d/%d %.1fs", n, p.calls, p.trips, p.took.Seconds()))
	}
	return "calls/round trips/seconds per scenario: " + strings.Join(parts, ", ")
}
