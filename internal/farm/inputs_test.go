package farm

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/mpi"
)

// Only rank 0 holds the inputs: the other ranks learn how many tasks run
// and the columns' names, and get each task's arguments with the task. The
// tasks run with the arguments rank 0 read, a --resume's skips included.
func TestOnlyRankZeroHoldsInputs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "in.tsv")
	if err := os.WriteFile(file, []byte("name\tsize\na b\t1\n'c'\t2\n$(d)\t3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	joblog := filepath.Join(dir, "joblog")
	args := []string{"-k", "--joblog", joblog, "--header", ":", "--colsep", "\t", "-a", file, "echo", "{size}", "{name}", "{#}"}
	for _, resume := range []bool{false, true} {
		if resume {
			// Task 2 is to run again.
			log, err := os.ReadFile(joblog)
			if err != nil {
				t.Fatal(err)
			}
			var kept []string
			for _, l := range strings.SplitAfter(string(log), "\n") {
				if !strings.HasPrefix(l, "2\t") {
					kept = append(kept, l)
				}
			}
			if len(kept) != 4 { // the header, tasks 1 and 3, and the end
				t.Fatalf("joblog %q", log)
			}
			os.WriteFile(joblog, []byte(strings.Join(kept, "")), 0o644)
			args = append([]string{"--resume"}, args...)
		}
		var out strings.Builder
		err := mpi.Local(3, func(ctx context.Context, c mpi.Comm) error {
			f := &farm{c: c, stdio: Stdio{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}, signals: ctx}
			o, err := parseArgs(args)
			if err != nil {
				return err
			}
			f.o = o
			if err := f.setup(); err != nil {
				return err
			}
			want := 3
			if resume {
				want = 1
			}
			switch {
			case f.n != want:
				return fmt.Errorf("rank %d: %d tasks to run, want %d", c.Rank(), f.n, want)
			case c.Rank() != 0 && (f.args != nil || f.todo != nil):
				return fmt.Errorf("rank %d holds the inputs", c.Rank())
			}
			if c.Rank() == 0 {
				f.stdio.Stdout = &out
			}
			status, err := f.run(ctx)
			if err == nil && status != 0 {
				err = fmt.Errorf("rank %d: exit status %d", c.Rank(), status)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want := "1 a b 1\n2 'c' 2\n3 $(d) 3\n"
		if resume {
			want = "2 'c' 2\n"
		}
		if out.String() != want {
			t.Errorf("resume %v: output %q, want %q", resume, out.String(), want)
		}
	}
}

func TestSplitItems(t *testing.T) {
	for _, c := range []struct {
		data, delim string
		want        []string
	}{
		{"", "\n", nil}, {"a", "\n", []string{"a"}}, {"a\n", "\n", []string{"a"}}, {"a\n\nb\n\n", "\n", []string{"a", "", "b", ""}},
		{"a\r\nb", "\n", []string{"a\r", "b"}}, {"a,b,", ",", []string{"a", "b"}}, {"a\tb\n", "\t", []string{"a", "b\n"}},
	} {
		if got := itemsOf(t, []byte(c.data), c.delim); strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("splitLines(%q, %q) = %q, want %q", c.data, c.delim, got, c.want)
		}
	}
	if got := itemsOf(t, valueBytes([]string{"n\nl", "", "x"}, "\n"), "\n"); strings.Join(got, "|") != "n|l||x" {
		t.Errorf("::: values split at newlines: %q", got)
	}
	l, _ := splitLines([]byte("h\r\na\n\nb"), "\n")
	if h := l.dropFirst(); h != "h\r" || l.Len() != 3 || l.Value(0) != "a" || l.Value(1) != "" || l.Value(2) != "b" {
		t.Errorf("after the header %q: %d items %q %q", h, l.Len(), l.Value(0), l.Value(2))
	}
}

// itemsOf is the items that splitLines cuts data into.
func itemsOf(t *testing.T, data []byte, delim string) []string {
	l, err := splitLines(data, delim)
	if err != nil {
		t.Fatal(err)
	}
	var v []string
	for i := range l.Len() {
		v = append(v, l.Value(i))
	}
	return v
}

func TestTableOrder(t *testing.T) {
	g := [][]source{{items{"a", "b"}}, {items{"1", "2", "3"}, intRange{First: 10, Step: -5, N: 2}}}
	tb, err := newTable(g, columns{}, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range tb.Len() {
		got = append(got, strings.Join(tb.Args(i), " "))
	}
	if want := "a 1 10,a 2 5,b 1 10,b 2 5"; strings.Join(got, ",") != want {
		t.Errorf("product of a linked pair: %q, want %q", got, want)
	}
	tb, _ = newTable([][]source{{items{"a", "b", "c"}, items{"1", "2"}}}, columns{}, true)
	got = nil
	for i := range tb.Len() {
		got = append(got, strings.Join(tb.Args(i), " "))
	}
	if want := "a 1,b 2,c 1"; strings.Join(got, ",") != want {
		t.Errorf("--link: %q, want %q", got, want)
	}
}

func TestTableEmptySources(t *testing.T) {
	tb, _ := newTable([][]source{{items{}}, {items{}}}, columns{}, false)
	if tb.Len() != 0 {
		t.Errorf("every source empty: %d tasks, want 0", tb.Len())
	}
	tb, _ = newTable([][]source{{items{"a", "b"}}, {items{}}}, columns{}, false)
	if tb.Len() != 2 || strings.Join(tb.Args(1), "|") != "b|" {
		t.Errorf("one empty source: %d tasks, last %q; want 2, [b, \"\"]", tb.Len(), tb.Args(1))
	}
	big := intRange{First: 1, Step: 1, N: 1 << 20}
	if _, err := newTable([][]source{{big}, {big}}, columns{}, false); err == nil {
		t.Error("2^40 tasks: no error")
	}
}

func TestColumns(t *testing.T) {
	c := columns{sep: regexp.MustCompile(","), trimLeft: true, trimRight: true}
	if got := c.split(nil, " a , b c ,,"); strings.Join(got, "|") != "a|b c||" {
		t.Errorf("colsep: %q", got)
	}
	if got := (columns{trimRight: true}).split(nil, " a "); got[0] != " a" {
		t.Errorf("--trim r: %q", got)
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string]intRange{
		"1-10": {1, 1, 10}, "1-10:3": {1, 3, 4}, "0-9:3": {0, 3, 4}, "-5-5:5": {-5, 5, 3}, "10-1:-4": {10, -4, 3}, "7-7": {7, 1, 1},
	} {
		if got, err := parseRange(in); err != nil || got != want {
			t.Errorf("--range %s: %+v, %v; want %+v", in, got, err, want)
		}
	}
}
