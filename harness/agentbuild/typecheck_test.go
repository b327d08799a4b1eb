package agentbuild

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"dirtygate/arches"
)

// The agent is shared by every Go arch, 32-bit ones included: a constant
// that overflows int on 386, arm or mips, or a unix name one port lacks,
// breaks only those builds, which no x86_64 test would notice until a
// matrix job. Each port is type-checked as the compiler would see it
// (its files, its sizes) rather than compiled: compiling the standard
// library for nine ports was ~3 CPU-minutes of a fresh `make test`. The
// agent's own packages are checked body and all; the standard library and
// golang.org/x/sys only for the declarations the agent uses. The host's
// port is really built (TestAgentBuildsOutsideTheCheckout, the end-to-end
// tests), and every arch's agent is built by the first run that boots it.
func TestAgentTypeChecksForEveryGoArch(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]string{} // GOARCH -> the arches that run it
	for _, name := range arches.Names() {
		a, err := arches.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if a.Go.GOARCH != "" {
			ports[a.Go.GOARCH] += " " + name
		}
		if a.Go.CompatGOARCH != "" {
			ports[a.Go.CompatGOARCH] += " " + name + "(compat)"
		}
	}
	if len(ports) < 2 {
		t.Fatalf("only %d Go ports among the arches: the check would prove nothing", len(ports))
	}
	var wg sync.WaitGroup
	errs := make([]error, 0, len(ports))
	var mu sync.Mutex
	for goarch, users := range ports {
		wg.Go(func() {
			if err := typeCheckAgent(root, goarch); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("GOARCH=%s (%s): %w", goarch, strings.TrimSpace(users), err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
}

// A type error in the agent for one port only is found: the check is not
// one that cannot fail. 1<<40 overflows int where int is 32 bits.
func TestTypeCheckFindsA32BitOverflow(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                  "module dirtygate\n\ngo 1.22\n",
		"guest/cmd/agent/main.go": "package main\n\nimport \"os\"\n\nfunc main() { n := 1 << 40; os.Exit(n) }\n",
	}
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := typeCheckAgent(root, "amd64"); err != nil {
		t.Fatalf("amd64: %v", err)
	}
	err := typeCheckAgent(root, "arm")
	if err == nil || !strings.Contains(err.Error(), "overflows") {
		t.Fatalf("arm: %v, want the overflow", err)
	}
}

type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	ImportMap  map[string]string
	Standard   bool
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// typeCheckAgent type-checks ./guest/cmd/agent under root for linux/goarch
// with cgo off, as goBuild builds it: packages in dependency order (go
// list -deps), each against the ones checked before it.
func typeCheckAgent(root, goarch string) error {
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Dir,GoFiles,ImportMap,Standard,Module,Error", "./guest/cmd/agent")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go list: %v\n%s", err, stderr.String())
	}
	fset := token.NewFileSet()
	sizes := types.SizesFor("gc", goarch)
	if sizes == nil {
		return fmt.Errorf("go/types knows no sizes for %s", goarch)
	}
	checked := map[string]*types.Package{"unsafe": types.Unsafe}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		if p.ImportPath == "unsafe" {
			continue
		}
		if p.Error != nil {
			return fmt.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
		ours := p.Module != nil && p.Module.Path == "dirtygate"
		var files []*ast.File
		for _, name := range p.GoFiles {
			mode := parser.SkipObjectResolution
			if ours {
				mode |= parser.ParseComments
			}
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, mode)
			if err != nil {
				return err
			}
			files = append(files, f)
		}
		var first error
		conf := types.Config{
			Importer: importerFunc(func(path string) (*types.Package, error) {
				if mapped, ok := p.ImportMap[path]; ok {
					path = mapped
				}
				if pkg, ok := checked[path]; ok {
					return pkg, nil
				}
				return nil, fmt.Errorf("%s imports %s, which go list did not list before it", p.ImportPath, path)
			}),
			Sizes:            sizes,
			IgnoreFuncBodies: !ours,
			Error: func(err error) {
				if first == nil {
					first = err
				}
			},
		}
		pkg, _ := conf.Check(p.ImportPath, fset, files, nil)
		if first != nil {
			return first
		}
		checked[p.ImportPath] = pkg
	}
	if _, ok := checked["dirtygate/guest/cmd/agent"]; !ok {
		return fmt.Errorf("go list did not list the agent")
	}
	return nil
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
