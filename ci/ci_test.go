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
	"dirtygate/kernels"
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
					Arch   []string `yaml:"arch"`
					Kernel []string `yaml:"kernel"`
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
	if !slices.Equal(job.Strategy.Matrix.Kernel, kernelNames()) {
		t.Errorf("GitHub kernel matrix %v, kernels/ knows %v", job.Strategy.Matrix.Kernel, kernelNames())
	}
	if !strings.Contains(strings.Join(runs, "\n"), `ci/gate --kernel "${{ matrix.kernel }}" --arch`) {
		t.Errorf("the GitHub job does not call ci/gate: %q", runs)
	}
	var gl struct {
		Gate struct {
			Parallel struct {
				Matrix []struct {
					Arch   []string `yaml:"ARCH"`
					Kernel []string `yaml:"KERNEL"`
				} `yaml:"matrix"`
			} `yaml:"parallel"`
			Script []string `yaml:"script"`
		} `yaml:"gate"`
	}
	read(t, filepath.Join("..", ".gitlab-ci.yml"), &gl)
	if len(gl.Gate.Parallel.Matrix) != 1 || !slices.Equal(gl.Gate.Parallel.Matrix[0].Arch, want) {
		t.Errorf("GitLab matrix %+v, arches/ defines %v", gl.Gate.Parallel.Matrix, want)
	}
	if len(gl.Gate.Parallel.Matrix) == 1 && !slices.Equal(gl.Gate.Parallel.Matrix[0].Kernel, kernelNames()) {
		t.Errorf("GitLab kernel matrix %v, kernels/ knows %v", gl.Gate.Parallel.Matrix[0].Kernel, kernelNames())
	}
	if !strings.Contains(strings.Join(gl.Gate.Script, "\n"), `ci/gate --kernel "$KERNEL" --arch`) {
		t.Errorf("the GitLab job does not call ci/gate: %q", gl.Gate.Script)
	}
}

// kernelNames are the sources --kernel names: the CI's kernel dimension.
func kernelNames() []string {
	var n []string
	for _, d := range kernels.Debians {
		n = append(n, d.Name)
	}
	return n
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
