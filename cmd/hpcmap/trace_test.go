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

func TestTrace(t *testing.T) {
	dir := t.TempDir()
	in := writeTrace(t, dir, "trace.csv", 120, 3)

	// The default output is beside the trace, named after it.
	var stdout, stderr bytes.Buffer
	if code := runTrace([]string{in}, &stdout, &stderr); code != 0 {
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
	if code := runTrace([]string{"-o", out, "-title", "T", "-width", "5", "-height", "3", in}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if img := pngtest.Decode(t, out).Bounds().Size(); img.X != 480 || img.Y != 288 {
		t.Errorf("-width 5 -height 3: %d × %d pixels, want 480 × 288", img.X, img.Y)
	}
}

func TestTraceErrors(t *testing.T) {
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
	// What once took 9 GB and a minute, or a runtime stack.
	huge := filepath.Join(dir, "huge.csv")
	if err := os.WriteFile(huge, []byte(trace.Header+"\n1,0,h,0,0,1,1,ok\n2,2000000000,h,0,0,1,1,ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wide := filepath.Join(dir, "wide.csv")
	if err := os.WriteFile(wide, []byte(trace.Header+"\n1,0,h,2000000000,0,1,1,ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage"},
		{[]string{"--", "-x.csv"}, 1, "-x.csv: no such file"},
		{[]string{"a.csv", "b.csv"}, 2, "usage"},
		{[]string{"-bogus", good}, 2, "not defined"},
		{[]string{"-width", "0", good}, 2, "want a width above 0"},
		{[]string{"-width", "1e6", good}, 2, "at most 50 inches"},
		{[]string{"-height", "51", good}, 2, "at most 50 inches"},
		{[]string{"-ranks", "-1", good}, 2, "-ranks -1: want 0 to"},
		{[]string{huge}, 1, "huge.csv: trace: line 3, column 3 (rank): 2000000000 is more than 16777215"},
		{[]string{wide}, 1, "wide.csv: trace: line 2, column 7 (worker): 2000000000 is more than 65535"},
		{[]string{"-ranks", "16777216", good}, 1, "lanes, more than the 1048576"},
		{[]string{filepath.Join(dir, "missing.csv")}, 1, "no such file"},
		{[]string{bad}, 1, "bad.csv: trace: line 3, column 15 (status)"},
		{[]string{empty}, 1, "no tasks"},
		{[]string{"-o", filepath.Join(dir, "no", "dir.png"), good}, 1, "hpcmap trace:"},
	} {
		var stdout, stderr bytes.Buffer
		code := runTrace(c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("runTrace(%q) = %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
}

func TestTraceHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runTrace([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "usage") || stderr.Len() > 0 {
		t.Errorf("-h: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", code, stdout.String(), stderr.String())
	}
}

// A trace that a running or killed map is writing may end in a torn line:
// the chart is drawn from the rest, and the command says so.
func TestTraceTornTrace(t *testing.T) {
	dir := t.TempDir()
	in := writeTrace(t, dir, "trace.csv", 20, 2)
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, data[:len(data)-7], 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := runTrace([]string{in}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "skipped its last line, cut short") || !strings.Contains(stdout.String(), "19 tasks") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0, the torn line skipped and 19 tasks drawn", code, stdout.String(), stderr.String())
	}
}

// Ranks that ran nothing count when -ranks says how many there were.
func TestTraceRanks(t *testing.T) {
	dir := t.TempDir()
	in := writeTrace(t, dir, "trace.csv", 2, 2)
	var stdout, stderr bytes.Buffer
	if code := runTrace([]string{"-ranks", "4", in}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "2 tasks on 4 ranks") {
		t.Errorf("-ranks 4: exit %d, stdout %q, stderr %q; want 2 tasks on 4 ranks", code, stdout.String(), stderr.String())
	}
}
