package main

import (
	"bytes"
	"io"
	"os"
	"sync"
)

// progress returns where progress lines go: all of them to a terminal;
// off a terminal (a pipe, a CI log) only the steps, without the periodic
// "still compiling" ticks and the per-scenario lines.
func progress() io.Writer {
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return os.Stderr
	}
	return &quiet{w: os.Stderr}
}

type quiet struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

var chatter = [][]byte{[]byte("] still compiling"), []byte("] scenario ")}

func (q *quiet) Write(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.buf = append(q.buf, p...)
	for {
		i := bytes.IndexByte(q.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := q.buf[:i+1]
		keep := true
		for _, c := range chatter {
			if bytes.Contains(line, c) {
				keep = false
			}
		}
		if keep {
			q.w.Write(line)
		}
		q.buf = q.buf[i+1:]
	}
}
