// Package ci holds the scripts and CI job definitions; its test checks
// them: the GitHub workflow with actionlint (from the Go module proxy),
// and both files' arch matrices against the definitions in arches/.
package ci

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"dirtygate/arches"
)

const actionlint = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

func TestGitHubWorkflowLints(t *testing.T) {
	wf := filepath.Join("..", ".github", "workflows", "gate.yml")
	cmd := exec.Command("go", "run", actionlint, "-no-color", wf)
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("actionlint %s: %v\n%s", wf, err, out)
	}
}

func TestMatricesListEveryArch(t *testing.T) {
	want := arches.Names()
	var gh struct {
		Jobs map[string]struct {
			Strategy struct {
				Matrix struct {
					Arch []string `yaml:"arch"`
				} `yaml:"matrix"`
			} `yaml:"strategy"`
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	read(t, filepath.Join("..", ".github", "workflows", "gate.yml"), &gh)
	job := gh.Jobs["gate"]
	if !slices.Equal(job.Strategy.Matrix.Arch, want) {
		t.Errorf("GitHub matrix %v, arches/ defines %v", job.Strategy.Matrix.Arch, want)
	}
	var runs []string
	for _, s := range job.Steps {
		runs = append(runs, s.Run)
	}
	if !strings.Contains(strings.Join(runs, "\n"), "ci/gate --arch") {
		t.Errorf("the GitHub job does not call ci/gate: %q", runs)
	}
	var gl struct {
		Gate struct {
			Parallel struct {
				Matrix []struct {
					Arch []string `yaml:"ARCH"`
				} `yaml:"matrix"`
			} `yaml:"parallel"`
			Script []string `yaml:"script"`
		} `yaml:"gate"`
	}
	read(t, filepath.Join("..", ".gitlab-ci.yml"), &gl)
	if len(gl.Gate.Parallel.Matrix) != 1 || !slices.Equal(gl.Gate.Parallel.Matrix[0].Arch, want) {
		t.Errorf("GitLab matrix %+v, arches/ defines %v", gl.Gate.Parallel.Matrix, want)
	}
	if !strings.Contains(strings.Join(gl.Gate.Script, "\n"), "ci/gate --arch") {
		t.Errorf("the GitLab job does not call ci/gate: %q", gl.Gate.Script)
	}
}

func read(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
