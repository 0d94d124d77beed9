package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/trace"
)

func TestMain(m *testing.M) { mpitest.Main(m) }

// small is a reduced scan: 8 points, short chains.
var small = []string{"-betas", "0.5,2", "-ms", "0.3,3", "-hs", "0.5,2.5", "-iterations", "2000"}

func args(out string, extra ...string) []string {
	return append(append(slices.Clip(small), "-out", out), extra...)
}

// readScan reads a scan.csv written by mcscan.
func readScan(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return csv.NewReader(f).ReadAll()
}

// numbers is a scan.csv's content without the columns that say where and
// how fast a point ran, which legitimately differ between runs.
func numbers(path string) ([][]string, error) {
	recs, err := readScan(path)
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		recs[i] = r[:8] // index ... acceptance; then rank, host, seconds
	}
	return recs, nil
}

func sameNumbers(got, want [][]string) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d rows, want %d", len(got), len(want))
	}
	for i := range got {
		if !slices.Equal(got[i], want[i]) {
			return fmt.Errorf("row %d is\n%v, want\n%v", i, got[i], want[i])
		}
	}
	return nil
}

// reference is the small scan on a single rank, with its own schedule.
func reference(t *testing.T, extra ...string) [][]string {
	t.Helper()
	dir := t.TempDir()
	err := mpi.Local(1, func(ctx context.Context, c mpi.Comm) error {
		return mcscan(ctx, c, args(dir, append([]string{"-schedule", "block", "-pictures=false"}, extra...)...), io.Discard)
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := numbers(filepath.Join(dir, "scan.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestSameNumbersWhateverRanksAndSchedule(t *testing.T) {
	want := reference(t)
	if len(want) != 1+8 {
		t.Fatalf("the reference scan has %d lines, want a header and 8 points", len(want))
	}
	if other := reference(t, "-seed", "2"); sameNumbers(other, want) == nil {
		t.Fatal("-seed 2 gives the same numbers as -seed 1: the comparison below could not fail")
	}
	dir := t.TempDir()
	mpitest.Worlds(t, []int{1, 3}, func(ctx context.Context, c mpi.Comm) error {
		var wrong []error // every layout that fails, not only the first
		for i, opts := range [][]string{
			{"-schedule", "block"},
			{"-schedule", "cyclic", "-workers", "1"},
			{"-schedule", "dynamic"},
			{"-schedule", "dynamic", "-chunk", "3", "-workers", "3"},
			{"-schedule", "guided", "-chunk", "2"},
		} {
			out := filepath.Join(dir, fmt.Sprintf("np%d-%d", c.Size(), i))
			opts = append(opts, "-pictures=false") // drawing them once elsewhere is enough
			// mcscan fails on every rank together, so the ranks stay in step.
			if err := mcscan(ctx, c, args(out, opts...), io.Discard); err != nil || c.Rank() != 0 {
				if err != nil {
					wrong = append(wrong, fmt.Errorf("%d ranks, %v: %w", c.Size(), opts, err))
				}
				continue
			}
			got, err := numbers(filepath.Join(out, "scan.csv"))
			if err == nil {
				err = sameNumbers(got, want)
			}
			if err != nil {
				wrong = append(wrong, fmt.Errorf("%d ranks, %v: %w", c.Size(), opts, err))
			}
		}
		return errors.Join(wrong...)
	})
}

func TestShardsMergeToTheWhole(t *testing.T) {
	want := reference(t)
	dir := t.TempDir()
	mpitest.Worlds(t, []int{2}, func(ctx context.Context, c mpi.Comm) error {
		out := filepath.Join(dir, fmt.Sprintf("np%d", c.Size()))
		for i := range 3 {
			if err := mcscan(ctx, c, args(out, "-shard", fmt.Sprintf("%d/3", i)), io.Discard); err != nil {
				return err
			}
		}
		if err := mcscan(ctx, c, append(slices.Clip(small), "-merge", out), io.Discard); err != nil {
			return err
		}
		if c.Rank() != 0 {
			return nil
		}
		got, err := numbers(filepath.Join(out, "scan.csv"))
		if err == nil {
			err = sameNumbers(got, want)
		}
		if err != nil {
			return fmt.Errorf("merged shards: %w", err)
		}
		for _, pic := range []string{"acceptance.png", "deviation.png"} {
			if _, err := os.Stat(filepath.Join(out, pic)); err != nil {
				return fmt.Errorf("merge drew no picture: %w", err)
			}
		}

		// A merge with a shard missing, or of another grid, must fail.
		if err := os.Remove(filepath.Join(out, "shard-1-of-3.csv")); err != nil {
			return err
		}
		if err := mcscan(ctx, c, append(slices.Clip(small), "-merge", out), io.Discard); err == nil {
			return fmt.Errorf("merge without shard 1 of 3 succeeded")
		}
		return nil
	})
}

func TestMergeRefusesAnotherGrid(t *testing.T) {
	dir := t.TempDir()
	err := mpi.Local(1, func(ctx context.Context, c mpi.Comm) error {
		if err := mcscan(ctx, c, args(dir, "-shard", "0/1"), io.Discard); err != nil {
			return err
		}
		if err := mcscan(ctx, c, []string{"-betas", "0.5,3", "-ms", "0.3,3", "-hs", "0.5,2.5", "-merge", dir}, io.Discard); err == nil {
			return fmt.Errorf("merging shards of another grid succeeded")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// With long enough chains the estimates scatter around the exact values as
// their standard errors say: hardly any beyond 4σ, and not all within 1σ
// (which would mean inflated errors). The seed is fixed, so the test is
// deterministic; the bounds hold for other seeds too.
func TestEstimatesAgreeWithQuadrature(t *testing.T) {
	dir := t.TempDir()
	mpitest.Worlds(t, []int{2}, func(ctx context.Context, c mpi.Comm) error {
		out := filepath.Join(dir, fmt.Sprintf("np%d", c.Size()))
		err := mcscan(ctx, c, []string{"-betas", "0.1,0.3,1,3,10", "-ms", "0.1,0.3,1,3,10",
			"-iterations", "20000", "-seed", "7", "-out", out}, io.Discard)
		if err != nil || c.Rank() != 0 {
			return err
		}
		recs, err := readScan(filepath.Join(out, "scan.csv"))
		if err != nil {
			return err
		}
		var n, within1, within4 int
		for _, r := range recs[1:] {
			var x2, x2Err, exact float64
			if _, err := fmt.Sscan(r[4], &x2); err != nil {
				return err
			}
			if _, err := fmt.Sscan(r[5], &x2Err); err != nil {
				return err
			}
			if _, err := fmt.Sscan(r[6], &exact); err != nil {
				return err
			}
			n++
			if d := math.Abs(x2-exact) / x2Err; d <= 1 {
				within1++
				within4++
			} else if d <= 4 {
				within4++
			}
		}
		t.Logf("%d points: %d within 1σ, %d within 4σ", n, within1, within4)
		switch {
		case n != 100:
			return fmt.Errorf("%d points, want 100", n)
		case within4 < 95:
			return fmt.Errorf("%d of %d points within 4σ of the exact value, want at least 95%%", within4, n)
		case within1 < 50 || within1 > 85:
			return fmt.Errorf("%d of %d points within 1σ, want about 68%%: are the errors right?", within1, n)
		}
		return nil
	})
}

// The m = 0 case has a closed form: ⟨x²⟩ = 2·Γ(3/4) / (Γ(1/4)·√β).
func TestExactX2ClosedForm(t *testing.T) {
	for _, beta := range []float64{0.1, 1, 10, 1000} {
		want := 2 * math.Gamma(0.75) / (math.Gamma(0.25) * math.Sqrt(beta))
		if got := exactX2(beta, 0); math.Abs(got-want) > 1e-12*want {
			t.Errorf("exactX2(%v, 0) = %.16g, want %.16g", beta, got, want)
		}
	}
}

// Against the trapezoid rule on a wide interval with a fine step, which is
// very accurate for smooth integrands that vanish at both ends.
func TestExactX2Trapezoid(t *testing.T) {
	for _, tc := range []struct{ beta, m float64 }{{0.1, 0.1}, {10, 10}, {0.1, 10}, {10, 0.1}, {1, -2}, {3, -5}} {
		var num, den float64
		const l, n = 40.0, 400000
		dx := 2 * l / n
		for i := range n + 1 {
			x := -l + float64(i)*dx
			w := math.Exp(-tc.beta * potential(tc.m, x))
			num += x * x * w
			den += w
		}
		want := num / den
		if got := exactX2(tc.beta, tc.m); math.Abs(got-want) > 1e-9*want {
			t.Errorf("exactX2(%v, %v) = %.12g, trapezoid %.12g", tc.beta, tc.m, got, want)
		}
	}
}

// TestExactX2NarrowWells: where the wells are narrow, β large, the
// quadrature still finds them (it gave NaN at β = 1e14, m = −1). Against the
// trapezoid rule on ±12 standard deviations of the wells' Gaussian
// approximation, found independently of exactX2's interval.
func TestExactX2NarrowWells(t *testing.T) {
	for _, tc := range []struct{ beta, m float64 }{{1e14, -1}, {1e10, -1e3}, {1e14, -0.1}, {1e12, 1e3}, {1e6, 0.01}, {1e-8, -1}, {1e-8, 5}} {
		// The well is at x0 with β·(V − Vmin) ≈ x²/(2σ²) near it.
		x0, sigma := 0.0, 1/math.Sqrt(tc.beta*tc.m)
		if tc.m < 0 {
			x0, sigma = math.Sqrt(-tc.m), 1/math.Sqrt(2*tc.beta*-tc.m)
		}
		lo, hi := max(x0-12*sigma, 0), x0+12*sigma
		if tc.beta < 1 {
			lo, hi = 0, 10*math.Pow(tc.beta, -0.25)+math.Sqrt(math.Abs(tc.m))*2
		}
		var num, den float64
		const n = 400000
		dx := (hi - lo) / n
		vmin := 0.0
		if tc.m < 0 {
			vmin = -tc.m * tc.m / 4
		}
		for i := range n + 1 {
			x := lo + float64(i)*dx
			w := math.Exp(-tc.beta * (potential(tc.m, x) - vmin))
			if i == 0 || i == n {
				w /= 2
			}
			num += x * x * w
			den += w
		}
		want := num / den
		if err := checkX2(tc.beta, tc.m); err != nil {
			t.Errorf("checkX2(%v, %v): %v", tc.beta, tc.m, err)
		}
		if got := exactX2(tc.beta, tc.m); !(math.Abs(got-want) <= 1e-9*want) {
			t.Errorf("exactX2(%v, %v) = %.15g, trapezoid %.15g", tc.beta, tc.m, got, want)
		}
	}
	for _, tc := range []struct{ beta, m float64 }{{1e300, -1}, {1e30, -1}, {1e-300, 1}, {1, 1e200}} {
		if err := checkX2(tc.beta, tc.m); err == nil {
			t.Errorf("checkX2(%v, %v): no error, exactX2 = %v", tc.beta, tc.m, exactX2(tc.beta, tc.m))
		}
	}
}

func TestPerPointFilesAndPictures(t *testing.T) {
	dir := t.TempDir()
	err := mpi.Local(2, func(ctx context.Context, c mpi.Comm) error {
		return mcscan(ctx, c, args(dir, "-per-point"), io.Discard)
	})
	if err != nil {
		t.Fatal(err)
	}
	scan, err := readScan(filepath.Join(dir, "scan.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range scan[1:] {
		name := fmt.Sprintf("b%s_m%s_h%s.dat", rec[1], rec[2], rec[3])
		got, err := readScan(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if len(got) != 2 || !slices.Equal(got[0], header) || !slices.Equal(got[1], rec) {
			t.Errorf("%s holds %v, want the header and %v", name, got, rec)
		}
	}
	for _, name := range []string{"acceptance.png", "deviation.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width < 400 || cfg.Height < 300 {
			t.Errorf("%s: %dx%d PNG, error %v", name, cfg.Width, cfg.Height, err)
		}
	}
}

func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range [][]string{
		{"-betas", "1,x"}, {"-betas", "0"}, {"-hs", "-1"}, {"-ms", "NaN"},
		{"-iterations", "10"}, {"-schedule", "fifo"}, {"-chunk", "0"}, {"-workers", "-1"},
		{"-shard", "3/3"}, {"-shard", "1"}, {"-shard", "0/0"}, {"-shard", "0/2", "-merge", dir},
		{"-merge", filepath.Join(dir, "nothing-here")}, {"stray"},
	} {
		err := mpi.Local(2, func(ctx context.Context, c mpi.Comm) error {
			if err := mcscan(ctx, c, args(dir, bad...), io.Discard); err == nil && c.Rank() == 0 {
				return fmt.Errorf("no error")
			}
			return nil
		})
		if err != nil {
			t.Errorf("mcscan %v: %v", bad, err)
		}
	}
}

func BenchmarkMetropolis(b *testing.B) {
	rng := newRand(1, 0)
	for b.Loop() {
		metropolis(rng, 1, 1, 1, 0, 1000)
	}
}

func TestTrace(t *testing.T) {
	dir := t.TempDir()
	mpitest.Worlds(t, []int{3}, func(ctx context.Context, c mpi.Comm) error {
		var wrong []error // every schedule that fails, not only the first
		for _, sched := range []string{"dynamic", "block"} {
			out := filepath.Join(dir, fmt.Sprintf("np%d-%s", c.Size(), sched))
			var stdout strings.Builder
			if err := mcscan(ctx, c, args(out, "-schedule", sched, "-trace", "-workers", "2", "-pictures=false"), &stdout); err != nil {
				wrong = append(wrong, fmt.Errorf("%s: %w", sched, err))
				continue // on every rank: mcscan fails on all together
			}
			if c.Rank() != 0 {
				continue // every rank runs both scans; rank 0 checks them
			}
			if err := checkTrace(out, c.Size()); err != nil {
				wrong = append(wrong, fmt.Errorf("%s: %w", sched, err))
			}
			if want := "wrote " + filepath.Join(out, "trace.png"); !strings.Contains(stdout.String(), want) {
				wrong = append(wrong, fmt.Errorf("%s: stdout %q does not say %q", sched, stdout.String(), want))
			}
		}
		return errors.Join(wrong...)
	})
}

// checkTrace checks that dir/trace.csv holds every point of the small scan
// once, run by one of the ranks, and that dir/trace.png is a picture.
func checkTrace(dir string, ranks int) error {
	f, err := os.Open(filepath.Join(dir, "trace.csv"))
	if err != nil {
		return err
	}
	tasks, err := trace.ReadCSV(f)
	f.Close()
	if err != nil {
		return err
	}
	seen := make([]int, 8)
	for _, task := range tasks {
		if task.Index < 0 || task.Index >= len(seen) || task.Rank >= ranks || task.Worker >= 2 || task.Status != trace.StatusOK {
			return fmt.Errorf("trace row %+v: want a point of 0..7 that ran ok on a rank < %d, worker < 2", task, ranks)
		}
		seen[task.Index]++
	}
	for i, n := range seen {
		if n != 1 {
			return fmt.Errorf("point %d is in the trace %d times, want once", i, n)
		}
	}
	p, err := os.Open(filepath.Join(dir, "trace.png"))
	if err != nil {
		return err
	}
	defer p.Close()
	cfg, err := png.DecodeConfig(p)
	if err != nil || cfg.Width != 960 {
		return fmt.Errorf("trace.png: %d × %d, error %v; want 960 pixels wide", cfg.Width, cfg.Height, err)
	}
	return nil
}

func TestShardTrace(t *testing.T) {
	dir := t.TempDir()
	err := mpi.Local(2, func(ctx context.Context, c mpi.Comm) error {
		return mcscan(ctx, c, args(dir, "-shard", "1/2", "-trace"), io.Discard)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each shard of a job array keeps its own trace.
	for _, name := range []string{"trace-shard-1-of-2.csv", "trace-shard-1-of-2.png"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

// TestTargetErr: with -target-err, points run longer until their error bars
// meet the target, and the numbers stay the same on any number of ranks.
func TestTargetErr(t *testing.T) {
	args := []string{"-betas", "1,5", "-ms", "1", "-hs", "1,2.5", "-iterations", "2000", "-target-err", "0.02", "-pictures=false"}
	scans := map[int][][]string{}
	mpitest.Worlds(t, []int{1, 3}, func(ctx context.Context, c mpi.Comm) error {
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("hpcmap-target-%d-%d", os.Getpid(), c.Size()))
		if c.Rank() == 0 {
			defer os.RemoveAll(dir)
		}
		if err := mcscan(ctx, c, append(args, "-out", dir), io.Discard); err != nil || c.Rank() != 0 {
			return err
		}
		rows, err := readScan(filepath.Join(dir, "scan.csv"))
		if err != nil {
			return err
		}
		for _, r := range rows[1:] {
			x2, _ := strconv.ParseFloat(r[4], 64)
			x2Err, _ := strconv.ParseFloat(r[5], 64)
			if x2Err > 0.02*x2 {
				// Allowed only when the 64-fold cap stops a badly mixing
				// point: not at these.
				return fmt.Errorf("point %s: x2_err %g above 2%% of x2 %g", r[0], x2Err, x2)
			}
			scans[c.Size()] = append(scans[c.Size()], r[:8])
		}
		return nil
	})
	if a, b := scans[1], scans[3]; !mpitest.RealMPI() && fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("numbers differ between 1 and 3 ranks:\n%v\n%v", a, b)
	}
}

func TestJournalResumeSaysWhatItSkips(t *testing.T) {
	want := reference(t)
	dir := t.TempDir()
	journal := filepath.Join(dir, "scan.journal")
	for run, wantSaid := range []string{"", "resuming: 8 of 8 points are in the journal " + journal} {
		out := filepath.Join(dir, fmt.Sprint(run))
		var said bytes.Buffer
		err := mpi.Local(2, func(ctx context.Context, c mpi.Comm) error {
			w := io.Discard
			if c.Rank() == 0 {
				w = &said
			}
			return mcscan(ctx, c, args(out, "-journal", journal, "-pictures=false"), w)
		})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if resumed := strings.Contains(said.String(), "resuming:"); resumed != (wantSaid != "") ||
			!strings.Contains(said.String(), wantSaid) ||
			resumed && !strings.Contains(said.String(), "(8 of them from the journal "+journal+")") {
			t.Errorf("run %d said:\n%s\nwant %q and the count in the summary", run, said.String(), wantSaid)
		}
		got, err := numbers(filepath.Join(out, "scan.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if err := sameNumbers(got, want); err != nil {
			t.Errorf("run %d: %v", run, err)
		}
	}
}

// TestProgress runs a journaled scan twice with -progress: the first run's
// report reaches 8/8, and the second's says, in Map's words rather than
// mcscan's, that the journal held every point.
func TestProgress(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "scan.journal")
	for run, want := range []string{"progress: 8/8 (100%), ", "progress: 8/8 (100%) from the journal " + journal + "\n"} {
		var said bytes.Buffer
		err := mpi.Local(2, func(ctx context.Context, c mpi.Comm) error {
			w := io.Discard
			if c.Rank() == 0 {
				w = &said
			}
			return mcscan(ctx, c, args(filepath.Join(dir, fmt.Sprint(run)), "-journal", journal, "-progress", "-pictures=false"), w)
		})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if !strings.Contains(said.String(), want) || strings.Contains(said.String(), "resuming:") {
			t.Errorf("run %d said:\n%s\nwant %q and no line of mcscan's own about the journal", run, said.String(), want)
		}
	}
}
