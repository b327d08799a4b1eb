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

func TestGitHubWorkflowsLint(t *testing.T) {
	for _, name := range []string{"gate.yml", "kernel-tree.yml"} {
		wf := filepath.Join("..", ".github", "workflows", name)
		cmd := exec.Command("go", "run", actionlint, "-no-color", wf)
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("actionlint %s: %v\n%s", wf, err, out)
		}
	}
}

// The kernel tree templates offer a kernel dimension ("tree", or a Debian
// source the commits are applied to) and call ci/gate-tree with it.
func TestKernelTreeTemplates(t *testing.T) {
	var gh struct {
		On struct {
			WorkflowCall struct {
				Inputs map[string]struct {
					Default string `yaml:"default"`
				} `yaml:"inputs"`
			} `yaml:"workflow_call"`
		} `yaml:"on"`
		Jobs map[string]struct {
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	read(t, filepath.Join("..", ".github", "workflows", "kernel-tree.yml"), &gh)
	for _, in := range []string{"arches", "kernels"} {
		var list []string
		if err := yaml.Unmarshal([]byte(gh.On.WorkflowCall.Inputs[in].Default), &list); err != nil || len(list) == 0 {
			t.Errorf("workflow_call input %s: default %q is not a JSON list: %v", in, gh.On.WorkflowCall.Inputs[in].Default, err)
		}
		checkNames(t, in, list)
	}
	var runs []string
	for _, s := range gh.Jobs["gate"].Steps {
		runs = append(runs, s.Run)
	}
	if !strings.Contains(strings.Join(runs, "\n"), `ci/gate-tree --tree "$GITHUB_WORKSPACE/linux"`) {
		t.Errorf("the reusable workflow does not call ci/gate-tree: %q", runs)
	}
	var gl struct {
		Job gitlabJob `yaml:"dirtygate"`
	}
	read(t, "kernel-tree.gitlab-ci.yml", &gl)
	if len(gl.Job.Parallel.Matrix) != 1 {
		t.Fatalf("GitLab template matrix %+v", gl.Job.Parallel.Matrix)
	}
	checkNames(t, "arches", gl.Job.Parallel.Matrix[0].Arch)
	checkNames(t, "kernels", gl.Job.Parallel.Matrix[0].Kernel)
	if !strings.Contains(strings.Join(gl.Job.Script, "\n"), `ci/gate-tree --tree "$CI_PROJECT_DIR"`) {
		t.Errorf("the GitLab template does not call ci/gate-tree: %q", gl.Job.Script)
	}
}

// checkNames fails on an arch arches/ does not define, or a kernel that is
// neither "tree" nor a Debian source kernels/ knows.
func checkNames(t *testing.T, what string, names []string) {
	t.Helper()
	known := arches.Names()
	if what == "kernels" {
		known = append(kernelNames(), "tree")
	}
	for _, n := range names {
		if !slices.Contains(known, n) {
			t.Errorf("%s: %q is not one of %v", what, n, known)
		}
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
		Gate gitlabJob `yaml:"gate"`
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

// ci/gate-tree's plumbing, with a stand-in for the dirtygate binary that
// records its arguments: the parent as the default base, the tree's
// revisions for --kernel tree, the commits as one mbox for a Debian source.
func TestGateTreeArguments(t *testing.T) {
	tree, tmp := t.TempDir(), t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", tree, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	os.WriteFile(filepath.Join(tree, "f"), []byte("a\n"), 0o644)
	git("add", "f")
	git("commit", "-q", "-m", "base")
	os.WriteFile(filepath.Join(tree, "f"), []byte("b\n"), 0o644)
	git("commit", "-q", "-am", "vhost: the change")
	base, head := git("rev-parse", "HEAD~1"), git("rev-parse", "HEAD")
	fake := filepath.Join(tmp, "dirtygate")
	log := filepath.Join(tmp, "args")
	os.WriteFile(fake, []byte("#!/bin/sh\necho \"$@\" >> "+log+"\nfor a; do case $a in *.mbox) grep -c '^Subject: .*vhost: the change' \"$a\" >> "+log+";; esac; done\n"), 0o755)
	for _, kernel := range []string{"tree", "6.12"} {
		cmd := exec.Command("./gate-tree", "--tree", tree, "--kernel", kernel, "--arch", "hppa", "--out", filepath.Join(tmp, "out"))
		cmd.Env = append(os.Environ(), "DIRTYGATE="+fake)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ci/gate-tree --kernel %s: %v\n%s", kernel, err, out)
		}
	}
	b, _ := os.ReadFile(log)
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(got) != 3 || !strings.HasPrefix(got[0], "gate --base "+base+" --candidate "+head+" --arch hppa --kernel "+tree+" --inject") ||
		!strings.Contains(got[1], "--kernel 6.12") || strings.Contains(got[1], " --base ") || got[2] != "1" {
		t.Errorf("dirtygate was called as:\n%s", b)
	}
}

// gitlabJob is what the tests read of a GitLab job: its arch x kernel
// matrix and its script.
type gitlabJob struct {
	Parallel struct {
		Matrix []struct {
			Arch   []string `yaml:"ARCH"`
			Kernel []string `yaml:"KERNEL"`
		} `yaml:"matrix"`
	} `yaml:"parallel"`
	Script []string `yaml:"script"`
}

// install-deps' own list is what `make test` needs: the packages of the
// arches its end-to-end tests build and boot (x86_64, hppa). The other
// arches' come as arguments (the Makefile's archdeps), so they must not
// be needed here.
func TestInstallDepsCoversMakeTest(t *testing.T) {
	b, err := os.ReadFile("install-deps")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "pkgs=(")
	j := strings.Index(s[i:], ")")
	if i < 0 || j < 0 {
		t.Fatal("no pkgs=(...) in install-deps")
	}
	listed := strings.Fields(s[i+len("pkgs=(") : i+j])
	for _, name := range []string{"x86_64", "hppa"} {
		a, err := arches.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range a.Packages() {
			if !slices.Contains(listed, p) {
				t.Errorf("install-deps does not install %s (%s), which make test's %s end-to-end test needs", p, name, name)
			}
		}
	}
	if !slices.Contains(listed, "linux-source-6.1") {
		t.Errorf("install-deps does not install linux-source-6.1, make test's kernel")
	}
}
