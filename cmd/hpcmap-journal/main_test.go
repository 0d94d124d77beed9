package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

func TestRun(t *testing.T) {
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
	code := run([]string{whole, part, filepath.Join(dir, "missing.j")}, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var done, tasks int
	if code != 1 || len(lines) != 2 || lines[0] != whole+": 10 of 10 tasks done" ||
		!strings.Contains(stderr.String(), "missing.j") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if _, err := fmt.Sscanf(lines[1], part+": %d of %d tasks done", &done, &tasks); err != nil || done < 1 || done >= 10 || tasks != 10 {
		t.Errorf("the stopped map's journal: %q (%v), want 1 to 9 of 10 tasks done", lines[1], err)
	}
	if code := run(nil, &stdout, &stderr); code != 2 {
		t.Errorf("no arguments: exit %d, want 2", code)
	}
}
