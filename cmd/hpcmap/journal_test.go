package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

func TestJournal(t *testing.T) {
	dir := t.TempDir()
	part, whole := filepath.Join(dir, "part.j"), filepath.Join(dir, "whole.j")
	args := make([]int, 10)
	// One map stopped by its fourth task, one that finishes.
	err := mpi.Local(1, func(ctx context.Context, c mpi.Comm) error {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		_, err := mpimap.Map(cctx, c, args, func(_ context.Context, _ int) (int, error) {
			cancel()
			return 1, nil
		}, mpimap.WithJournal(part), mpimap.WithWorkers(1))
		if !errors.Is(err, mpimap.ErrInterrupted) {
			return fmt.Errorf("the stopped map returned %v, want ErrInterrupted", err)
		}
		_, err = mpimap.Map(ctx, c, args, func(_ context.Context, i int) (int, error) { return i, nil },
			mpimap.WithJournal(whole))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	code := runJournal([]string{whole, part, filepath.Join(dir, "missing.j")}, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var done, tasks int
	if code != 1 || len(lines) != 2 || lines[0] != whole+": 10 of 10 tasks done" ||
		!strings.Contains(stderr.String(), "missing.j") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if _, err := fmt.Sscanf(lines[1], part+": %d of %d tasks done", &done, &tasks); err != nil || done < 1 || done >= 10 || tasks != 10 {
		t.Errorf("the stopped map's journal: %q (%v), want 1 to 9 of 10 tasks done", lines[1], err)
	}
	if code := runJournal(nil, &stdout, &stderr); code != 2 {
		t.Errorf("no arguments: exit %d, want 2", code)
	}

	// -v adds the key and the result type.
	stdout.Reset()
	if code := runJournal([]string{"-v", whole}, &stdout, &stderr); code != 0 ||
		stdout.String() != whole+": 10 of 10 tasks done\n  key []\n  results int\n" {
		t.Errorf("-v: exit %d, stdout %q", code, stdout.String())
	}
}

// The command line as flag.Parse has it: -h is help, on stdout, exit 0; an
// unknown flag is an error, not a file name; after --, names may begin with
// a dash.
func TestJournalFlags(t *testing.T) {
	for _, c := range []struct {
		args         []string
		code         int
		stdout, want string
	}{
		{[]string{"-h"}, 0, "usage: hpcmap journal", ""},
		{[]string{"--help"}, 0, "usage: hpcmap journal", ""},
		{[]string{"-x"}, 2, "", "flag provided but not defined: -x"},
		{[]string{"--", "-x"}, 1, "", "journal: open -x: no such file"},
		{[]string{"--"}, 2, "", "usage"},
	} {
		var stdout, stderr bytes.Buffer
		code := runJournal(c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("runJournal(%q) = %d, stdout %q, stderr %q; want %d, %q, %q", c.args, code, stdout.String(), stderr.String(), c.code, c.stdout, c.want)
		}
	}
}

// A damaged journal says so.
func TestJournalDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	err := mpi.Local(1, func(ctx context.Context, c mpi.Comm) error {
		_, err := mpimap.Map(ctx, c, make([]int, 20), func(_ context.Context, i int) (int, error) { return i, nil },
			mpimap.WithJournal(path, "v1"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-40] ^= 0xff // in the middle of a record near the end
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := runJournal([]string{"-v", path}, &stdout, &stderr); code != 0 ||
		!strings.HasPrefix(stdout.String(), path+": 19 of 20 tasks done; 1 damaged stretch(es)") ||
		!strings.Contains(stdout.String(), `key ["v1"]`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
