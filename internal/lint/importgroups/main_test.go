package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "example.com/m"

func TestImportGroups(t *testing.T) {
	for _, tc := range []struct {
		name, imports string
		want          []string // a part of each finding, in order
	}{
		{"std, others, module", `import (
	"fmt"
	"os"

	"gonum.org/v1/gonum/stat"

	"example.com/m/mpi"
)`, nil},
		{"std and module", "import (\n\t\"fmt\"\n\n\t\"example.com/m/mpi\"\n)", nil},
		{"one import", `import "example.com/m/mpi"`, nil},
		{"two declarations", "import \"fmt\"\n\nimport \"example.com/m/mpi\"", nil},
		{"cgo stands apart", "/*\n#include <mpi.h>\n*/\nimport \"C\"\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/m/mpi\"\n)", nil},
		{"a comment is no group's end", `import (
	"fmt"
	// the module's
	"example.com/m/mpi"
)`, []string{`:6: "example.com/m/mpi" (this module) shares a group with the standard library`}},
		{"std after the module", `import (
	"fmt"

	"example.com/m/mpi"
	"strings"
)`, []string{`:7: "strings" (the standard library) comes after an import of this module`}},
		{"std in a later group", `import (
	"example.com/m/mpi"

	"fmt"
)`, []string{`:6: "fmt" (the standard library) comes after an import of this module`}},
		{"another module with the standard library", `import (
	"fmt"
	"gonum.org/v1/gonum/stat"
)`, []string{`:5: "gonum.org/v1/gonum/stat" (another module) shares a group with the standard library`}},
		{"another module after this one", `import (
	"fmt"

	"example.com/m/mpi"

	"gonum.org/v1/gonum/stat"
)`, []string{`:8: "gonum.org/v1/gonum/stat" (another module) comes after an import of this module`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.go")
			if err := os.WriteFile(path, []byte("package p\n\n"+tc.imports+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := checkFile(path, module)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("findings %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("finding %q, want one containing %q", got[i], w)
				}
			}
		})
	}
}

// The command reads the module's path from go.mod, prints each finding and
// exits 1 when there is one, and 0 on a clean tree.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n\ngo 1.26\n")
	write("a.go", "package p\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/m/x\"\n)\n")
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != 0 {
		t.Fatalf("a clean tree: exit %d\n%s%s", code, &stdout, &stderr)
	}
	write("b.go", "package p\n\nimport (\n\t\"example.com/m/x\"\n\t\"fmt\"\n)\n")
	stdout.Reset()
	if code := run(nil, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), "b.go:5:") {
		t.Fatalf("a file out of order: exit %d, printed %q", code, &stdout)
	}
}
