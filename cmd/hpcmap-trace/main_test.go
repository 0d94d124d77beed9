package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/internal/pngtest"
	"github.com/hpcmap/hpcmap/trace"
)

// writeTrace writes a trace of n tasks on ranks × 2 workers, each rank
// finishing later than the one before, to dir/name and returns its path.
func writeTrace(t *testing.T, dir, name string, n, ranks int) string {
	t.Helper()
	var tasks []trace.Task
	end := make([]float64, 2*ranks)
	for i := range n {
		r, w := i*ranks/n, i%2
		d := 0.01 * float64(1+r)
		tasks = append(tasks, trace.Task{Index: i, Rank: r, Host: "node", Worker: w,
			Start: end[2*r+w], End: end[2*r+w] + d, Attempt: 1, Status: trace.StatusOK})
		end[2*r+w] += d
	}
	var buf bytes.Buffer
	if err := trace.WriteCSV(&buf, tasks); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := writeTrace(t, dir, "trace.csv", 120, 3)

	// The default output is beside the trace, named after it.
	var stdout, stderr bytes.Buffer
	if code := run([]string{in}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	want := filepath.Join(dir, "trace.png")
	if !strings.Contains(stdout.String(), "wrote "+want) || !strings.Contains(stdout.String(), "120 tasks on 3 ranks") {
		t.Errorf("stdout %q: want the summary and %q", stdout.String(), "wrote "+want)
	}
	if img := pngtest.Decode(t, want).Bounds().Size(); img.X != 960 {
		t.Errorf("default width: %d pixels, want 960 (10 inches at 96 dpi)", img.X)
	}

	out := filepath.Join(dir, "other.png")
	stdout.Reset()
	if code := run([]string{"-o", out, "-title", "T", "-width", "5", "-height", "3", in}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if img := pngtest.Decode(t, out).Bounds().Size(); img.X != 480 || img.Y != 288 {
		t.Errorf("-width 5 -height 3: %d × %d pixels, want 480 × 288", img.X, img.Y)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte(trace.Header+"\n1,0,h,0,0,1,1,ok\n2,0,h,0,0,1,1,maybe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.csv")
	if err := os.WriteFile(empty, []byte(trace.Header+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := writeTrace(t, dir, "good.csv", 10, 2)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage"},
		{[]string{"a.csv", "b.csv"}, 2, "usage"},
		{[]string{"-bogus", good}, 2, "not defined"},
		{[]string{"-width", "0", good}, 2, "positive width"},
		{[]string{filepath.Join(dir, "missing.csv")}, 1, "no such file"},
		{[]string{bad}, 1, "bad.csv: trace: line 3, column 15 (status)"},
		{[]string{empty}, 1, "no tasks"},
		{[]string{"-o", filepath.Join(dir, "no", "dir.png"), good}, 1, "hpcmap-trace:"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("run(%q) = %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
}

func TestRunHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "usage") {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the usage", code, stderr.String())
	}
}
