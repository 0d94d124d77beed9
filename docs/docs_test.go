package docs

// The Go in README.md and docs/*.md follows one convention, which this test
// holds it to. A ```go block is either
//
//   - a program: it has a "package main" line. It is built as it stands (it
//     imports this module's packages) without tags, and for each MPI with that
//     MPI's tag; it runs alone (the one-rank world) and under each launcher at
//     np 1 and 2; and what it prints on stdout must be, every time, exactly the
//     comment lines that follow its "// Output:" line, as in a Go example.
//     Every program has such a line: what a program prints is what the reader
//     is shown, and a program whose output depends on the number of ranks is
//     no example of hpcmap. (What varies, such as a rate, goes to stderr.)
//   - a fragment, shown for its shape: anything else. It must parse as Go
//     declarations or as statements, so that it stays Go.
//
// The first Go block of each file is a program: every guide that shows Go
// starts with an example that runs.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/hpcmap/hpcmap/internal/mpitest"
)

func TestMain(m *testing.M) { mpitest.Main(m) }

// block is one ```go block of a Markdown file.
type block struct {
	file string
	line int // of the opening fence, from 1
	code string
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// program reports whether the block is a program.
func (b block) program() bool {
	return regexp.MustCompile(`(?m)^package main$`).MatchString(b.code)
}

// output is what the program says it prints: the comment lines after its
// "// Output:" line, each without its "//" and one space.
func (b block) output() (string, bool) {
	_, after, ok := strings.Cut(b.code, "\n// Output:\n")
	if !ok {
		return "", false
	}
	var lines []string
	for line := range strings.Lines(after) {
		text, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "//")
		if !ok {
			break
		}
		lines = append(lines, strings.TrimPrefix(text, " "))
	}
	return strings.Join(lines, "\n"), true
}

// goBlocks returns the ```go blocks of the Markdown file at path, named by
// name.
func goBlocks(t *testing.T, path, name string) []block {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []block
	var open *block
	for i, line := range strings.Split(string(text), "\n") {
		fence := strings.TrimSpace(line)
		switch {
		case open == nil && fence == "```go":
			open = &block{file: name, line: i + 1}
		case open != nil && fence == "```":
			blocks = append(blocks, *open)
			open = nil
		case open != nil:
			open.code += line + "\n"
		}
	}
	if open != nil {
		t.Errorf("%v: the block of Go is never closed", open)
	}
	return blocks
}

// documents are the Markdown files whose Go this test runs, by the name the
// test reports them under. A test that reads them is skipped in a build with
// MPI tags: the plain test run reads them, from this directory, while a
// launcher starts test binaries wherever it is.
func documents(t *testing.T) map[string]string {
	t.Helper()
	if mpitest.RealMPI() {
		t.Skip("the guides are read by the plain test run")
	}
	guides, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{"README.md": "../README.md"}
	for _, g := range guides {
		docs["docs/"+g] = g
	}
	return docs
}

func TestGuidesStartWithAProgram(t *testing.T) {
	for name, path := range documents(t) {
		blocks := goBlocks(t, path, name)
		if len(blocks) > 0 && !blocks[0].program() {
			t.Errorf("%v: the first Go of %s is not a program (a block with package main)", blocks[0], name)
		}
		if name == "README.md" && len(blocks) == 0 {
			t.Error("the README shows no program")
		}
	}
}

func TestFragmentsParse(t *testing.T) {
	for name, path := range documents(t) {
		for _, b := range goBlocks(t, path, name) {
			if b.program() {
				continue
			}
			fset := token.NewFileSet()
			_, declErr := parser.ParseFile(fset, b.String(), "package p\n"+b.code, 0)
			_, stmtErr := parser.ParseFile(fset, b.String(), "package p\nfunc _() {\n"+b.code+"\n}\n", 0)
			if declErr != nil && stmtErr != nil {
				t.Errorf("%v: a fragment that is neither Go declarations (%v) nor statements (%v)", b, declErr, stmtErr)
			}
		}
	}
}

// TestLinks follows every link of the README and the guides to a file of the
// repository, and to its heading where the link names one, so that moving a
// guide or renaming a section cannot leave a link behind.
func TestLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for name, path := range documents(t) {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target, anchor, _ := strings.Cut(m[1], "#")
			if strings.Contains(target, "://") {
				continue
			}
			file := path
			if target != "" {
				file = filepath.Join(filepath.Dir(path), target)
			}
			if _, err := os.Stat(file); err != nil {
				t.Errorf("%s: the link %s leads nowhere: %v", name, m[1], err)
				continue
			}
			if anchor != "" && !slices.Contains(headings(t, file), anchor) {
				t.Errorf("%s: the link %s names no heading of %s", name, m[1], file)
			}
		}
	}
}

// headings are the anchors GitHub gives the headings of the Markdown file at
// path: lower case, spaces as hyphens, other punctuation dropped.
func headings(t *testing.T, path string) []string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var anchors []string
	for line := range strings.Lines(string(text)) {
		title, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		anchor := strings.Map(func(r rune) rune {
			switch {
			case r == ' ':
				return '-'
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				return unicode.ToLower(r)
			}
			return -1
		}, strings.TrimSpace(title))
		anchors = append(anchors, anchor)
	}
	return anchors
}

// runLimit bounds one run of a program; the guides' programs take well under
// a second.
const runLimit = time.Minute

func TestProgramsRun(t *testing.T) {
	mpitest.StartsJobs(t)
	for name, path := range documents(t) {
		for _, b := range goBlocks(t, path, name) {
			if !b.program() {
				continue
			}
			t.Run(b.String(), func(t *testing.T) {
				t.Parallel() // most of the time is spent linking and launching
				want, ok := b.output()
				if !ok {
					t.Fatalf("%v: a program without an // Output: line", b)
				}
				src := filepath.Join(t.TempDir(), "main.go")
				if err := os.WriteFile(src, []byte(b.code), 0o644); err != nil {
					t.Fatal(err)
				}
				check := func(how string, got []byte, err error) {
					t.Helper()
					if err != nil {
						t.Errorf("%s: %v", how, err)
					} else if g := strings.TrimRight(string(got), "\n"); g != want {
						t.Errorf("%s printed\n%s\nwant\n%s", how, g, want)
					}
				}
				bin := build(t, src, "")
				got, err := run(t, nil, bin)
				check("without MPI", got, err)
				for _, l := range mpitest.Launchers {
					bin := build(t, src, l.Tag)
					for _, np := range []int{1, 2} {
						got, err := run(t, mpitest.LauncherEnv, l.Command, "-np", strconv.Itoa(np), bin)
						check(fmt.Sprintf("%s -np %d", l.Command, np), got, err)
					}
				}
			})
		}
	}
}

// build builds the program in the file src with the given tags, and returns
// the binary, without the symbols that only make its link slower.
func build(t *testing.T, src, tags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "prog")
	if out, err := exec.Command("go", "build", "-tags="+tags, "-ldflags=-s -w", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("building with tags %q: %v\n%s", tags, err, out)
	}
	return bin
}

// run runs the command in a directory of its own, with env added to this
// process's environment, and returns its stdout; an exit other than 0 is an
// error that tells its output.
func run(t *testing.T, env []string, name string, args ...string) ([]byte, error) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found: install OpenMPI and MPICH (make deps)", name)
	}
	ctx, cancel := context.WithTimeout(t.Context(), runLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = t.TempDir(), append(os.Environ(), env...), &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, fmt.Errorf("still running after %v", runLimit))
	}
	if err != nil {
		return nil, fmt.Errorf("%w\n%s%s", err, &stdout, &stderr)
	}
	return stdout.Bytes(), nil
}
