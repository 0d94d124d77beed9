package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/trace"
)

// A bad value is one line that names the flag and the value, without the
// usage; counts may be written as 1e6.
func TestFlagMessages(t *testing.T) {
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"-iterations", "1e6x"}, `invalid value "1e6x" for flag -iterations: want a whole number`},
		{[]string{"-iterations", "2.5e4"}, ""}, // 25000: fine
		{[]string{"-iterations", "1000.5"}, `invalid value "1000.5" for flag -iterations: want a whole number`},
		{[]string{"-iterations", "10"}, `invalid value "10" for flag -iterations: want at least 32`},
		{[]string{"-seed", "-1"}, `invalid value "-1" for flag -seed: want a whole number from 0`},
		{[]string{"-betas", "1,x"}, `invalid value "1,x" for flag -betas: "x" is not a number`},
		{[]string{"-target-err", "-1"}, `invalid value "-1" for flag -target-err: want a relative error ≥ 0`},
		{[]string{"-chunk", "0"}, `invalid value "0" for flag -chunk: want at least 1`},
		{[]string{"-chunk", "1e20"}, `invalid value "1e20" for flag -chunk: want at most 1073741824`},
		{[]string{"-workers", "1000000"}, `invalid value "1000000" for flag -workers: want at most 4096`},
		{[]string{"-hs", "1e400"}, `invalid value "1e400" for flag -hs: "1e400" is beyond float64's range`},
		{[]string{"-schedule", "fifo"}, `-schedule "fifo": want block, cyclic, dynamic or guided`},
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"stray"}, `unexpected arguments ["stray"]`},
	} {
		said, err := scan(1, append(args(t.TempDir()), c.flags...)...)
		if c.want == "" {
			if err != nil {
				t.Errorf("%q: %v", c.flags, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || said != "" {
			t.Errorf("%q: error %q, said %q; want one line with %q, and nothing said", c.flags, err, said, c.want)
		}
	}
	said, err := scan(1, "-h")
	if err != nil || !strings.Contains(said, "usage: mcscan") || !strings.Contains(said, "-iterations n") {
		t.Errorf("-h: %v, said %q", err, said)
	}
	// 1e4 is ten thousand iterations.
	out := t.TempDir()
	if said, err := scan(1, "-betas", "1", "-ms", "1", "-hs", "1", "-iterations", "1e4", "-out", out); err != nil || !strings.Contains(said, "× 10000 iterations") {
		t.Errorf("-iterations 1e4: %v, said %q", err, said)
	}
}

// Out-of-range parameters are refused up front, where the exact value was
// NaN; the narrow wells that gave NaN at β = 1e14 are computed.
func TestParameterRange(t *testing.T) {
	_, err := scan(1, "-betas", "1e30", "-ms", "-1", "-hs", "1", "-iterations", "1000", "-out", t.TempDir())
	wantError(t, "-betas 1e30 -ms -1", err, "-betas and -ms: β = 1e+30 with m = -1: the wells are too narrow")
	out := t.TempDir()
	if _, err := scan(1, "-betas", "1e14", "-ms", "-1", "-hs", "1", "-iterations", "1000", "-out", out, "-pictures=false"); err != nil {
		t.Fatal(err)
	}
	recs, err := readScan(filepath.Join(out, "scan.csv"))
	if err != nil || len(recs) != 2 || !strings.HasPrefix(recs[1][6], "0.99999999") && !strings.HasPrefix(recs[1][6], "1") {
		t.Errorf("β = 1e14, m = −1: x2_exact %v (%v), want about 1", recs, err)
	}
}

// A trace names only the ranks that ran a point: with 2 points on 4 ranks
// (in process; under a launcher, on its ranks) the title and the summary
// still say 4.
func TestTraceCountsIdleRanks(t *testing.T) {
	dir := t.TempDir()
	mpitest.Worlds(t, []int{4}, func(ctx context.Context, c mpi.Comm) error {
		out := filepath.Join(dir, fmt.Sprint(c.Size()))
		var said strings.Builder
		var w io.Writer = io.Discard
		if c.Rank() == 0 {
			w = &said
		}
		err := mcscan(ctx, c, []string{"-betas", "1,2", "-ms", "1", "-hs", "1", "-iterations", "1000",
			"-schedule", "cyclic", "-trace", "-pictures=false", "-out", out}, w)
		if err != nil || c.Rank() != 0 {
			return err
		}
		if want := fmt.Sprintf("trace: 2 tasks on %d rank", c.Size()); !strings.Contains(said.String(), want) {
			return fmt.Errorf("said %q, want %q", said.String(), want)
		}
		f, err := os.Open(filepath.Join(out, "trace.csv"))
		if err != nil {
			return err
		}
		defer f.Close()
		tasks, err := trace.ReadCSV(f)
		if err != nil || len(tasks) != 2 {
			return fmt.Errorf("trace: %d tasks, %v", len(tasks), err)
		}
		return nil
	})
}
