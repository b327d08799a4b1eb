package dirtygate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The folders say where code runs: what runs in the guest (guest/) and what
// runs on both sides (vmm/) imports no host code, and the judge, which
// decides from records and console text alone, imports no QEMU code.
func TestImportBoundaries(t *testing.T) {
	forbid := map[string]string{
		"./guest/...":     "dirtygate/harness/",
		"./vmm/...":       "dirtygate/harness/",
		"./harness/judge": "dirtygate/harness/qemu",
	}
	for pkgs, bad := range forbid {
		out, err := exec.Command("go", "list", "-deps", pkgs).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkgs, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("%s depends on %s", pkgs, dep)
			}
		}
	}
}

// Files and functions stay small enough to read in one go: no Go file over
// 500 lines, no function over 80, outside tests.
func TestCodeSize(t *testing.T) {
	const maxFile, maxFunc = 500, 80
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		if n := fset.File(f.Pos()).LineCount(); n > maxFile {
			t.Errorf("%s: %d lines (at most %d)", path, n, maxFile)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var body *ast.BlockStmt
			switch fn := n.(type) {
			case *ast.FuncDecl:
				body = fn.Body
			case *ast.FuncLit:
				body = fn.Body
			}
			if body != nil {
				if l := fset.Position(body.Rbrace).Line - fset.Position(body.Lbrace).Line - 1; l > maxFunc {
					t.Errorf("%s: a function of %d lines (at most %d)", fset.Position(n.Pos()), l, maxFunc)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
