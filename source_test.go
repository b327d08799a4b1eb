package dirtygate

import (
	"io/fs"
	"os/exec"
	"strings"
	"testing"
)

// Every package the agent is built from is in the binary's copy.
func TestAgentSourceEmbedded(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./guest/cmd/agent").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		dir, ok := strings.CutPrefix(pkg, "dirtygate/")
		if !ok {
			continue
		}
		files, err := fs.Glob(AgentSource, dir+"/*.go")
		if err != nil || len(files) == 0 {
			t.Errorf("%s: not embedded (source.go's go:embed patterns)", dir)
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if _, err := fs.Stat(AgentSource, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
