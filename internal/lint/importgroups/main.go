// Importgroups checks how Go files group their imports, which gofmt does not:
// the standard library's packages first, in a group of their own; then,
// after a blank line, other modules' packages; then this module's. No group
// mixes two of these kinds, and the kinds come in that order. (import "C"
// stands apart, as cgo wants, and is not counted.)
//
// Usage:
//
//	go run ./internal/lint/importgroups [-module path] [dir ...]
//
// It walks each dir (default .) and prints "file:line: message" for each
// import out of place, then exits 1 if there was any. The module's path is
// read from go.mod in the current directory unless -module gives it.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("importgroups", flag.ContinueOnError)
	fl.SetOutput(stderr)
	module := fl.String("module", "", "this module's path (default: from ./go.mod)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *module == "" {
		m, err := modulePath("go.mod")
		if err != nil {
			fmt.Fprintln(stderr, "importgroups:", err)
			return 2
		}
		*module = m
	}
	dirs := fl.Args()
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	bad := 0
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "vendor") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") {
				return nil
			}
			findings, err := checkFile(path, *module)
			for _, f := range findings {
				fmt.Fprintln(stdout, f)
			}
			bad += len(findings)
			return err
		})
		if err != nil {
			fmt.Fprintln(stderr, "importgroups:", err)
			return 2
		}
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "importgroups: %d imports out of place: the standard library first, then other modules, then %s, each kind a group of its own\n", bad, *module)
		return 1
	}
	return 0
}

// modulePath is the module's path that the go.mod file at path declares.
func modulePath(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New(path + " declares no module")
}

// kind is what an import is, in the order the groups come.
type kind int

const (
	std kind = iota
	other
	local
)

func (k kind) String() string {
	return [...]string{"the standard library", "another module", "this module"}[k]
}

// kindOf is the kind of the import path p in the module named module: the
// standard library's paths have no dot in their first element.
func kindOf(p, module string) kind {
	switch first, _, _ := strings.Cut(p, "/"); {
	case p == module || strings.HasPrefix(p, module+"/"):
		return local
	case !strings.Contains(first, "."):
		return std
	}
	return other
}

// checkFile returns a finding for each import of the Go file at path that
// is out of place.
func checkFile(path, module string) ([]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ImportsOnly)
	if err != nil {
		return nil, err
	}
	lines := bytes.Split(src, []byte("\n"))
	var findings []string
	var prev *ast.ImportSpec
	var prevKind, groupKind kind
	for _, spec := range f.Imports {
		p, err := strconv.Unquote(spec.Path.Value)
		if err != nil || p == "C" {
			continue
		}
		k := kindOf(p, module)
		pos := fset.Position(spec.Pos())
		newGroup := prev == nil || blankBetween(lines, fset.Position(prev.End()).Line, pos.Line)
		switch {
		case prev != nil && k < prevKind:
			findings = append(findings, fmt.Sprintf("%s:%d: %q (%v) comes after an import of %v", path, pos.Line, p, k, prevKind))
		case !newGroup && k != groupKind:
			findings = append(findings, fmt.Sprintf("%s:%d: %q (%v) shares a group with %v: put a blank line between them", path, pos.Line, p, k, groupKind))
		}
		if newGroup {
			groupKind = k
		}
		prev, prevKind = spec, max(prevKind, k)
	}
	return findings, nil
}

// blankBetween reports whether a blank line, or the end of an import
// declaration, lies between lines a and b (counted from 1) of the file.
func blankBetween(lines [][]byte, a, b int) bool {
	for i := a; i < b-1; i++ { // lines a+1 .. b-1
		t := bytes.TrimSpace(lines[i])
		if len(t) == 0 || bytes.HasPrefix(t, []byte(")")) || bytes.HasPrefix(t, []byte("import")) {
			return true
		}
	}
	return false
}
