// Mcscan is a Monte Carlo parameter scan spread over MPI ranks with mpimap.MapN:
// at every point of a β × m × h grid it samples x with weight exp(−β·V(x)),
// V(x) = m·x²/2 + x⁴/4, by the Metropolis algorithm with proposal steps uniform
// in [−h, h], and compares its estimate of ⟨x²⟩ with the exact value from
// quadrature.
//
// Usage:
//
//	mpirun -np 4 mcscan -out mc_data
//	mcscan -betas 0.5,1 -ms 1 -hs 0.5,2.5 -iterations 1e6
//
// Flags:
//
//	-betas, -ms, -hs  comma-separated values, each once (default: the classic
//	                  9 × 9 × 4 grid); β and m where the exact ⟨x²⟩ can be
//	                  computed (β from 1e-200 to 1e200, |m| ≤ 1e100, β·m² ≤ 6.4e18
//	                  for m < 0), else an error before the work
//	-iterations       measured Metropolis steps per point, after a tenth as many
//	                  unmeasured burn-in steps (default 100000; 1e6 is a million)
//	-target-err e     run a point again with twice the steps, up to 64 times the
//	                  steps, until x2_err ≤ e·x2 (default 0: fixed steps)
//	-seed             random seed (default 1)
//	-out DIR          where to write (default mc_data)
//	-force            replace the files of a scan of other settings in DIR,
//	                  with its scan.journal if it has one there
//	-journal FILE     record finished points; rerun with it to resume
//	-schedule         block, cyclic, dynamic (default) or guided: see mpimap
//	-chunk            points per message for dynamic, least chunk for guided (default 1)
//	-workers          goroutines per rank, at most 4096 (default GOMAXPROCS)
//	-progress         report points done, rate and time left as the scan runs
//	-per-point        also write one file per point, b{β}_m{m}_h{h}.dat
//	-pictures=false   do not draw the pictures
//	-shard i/k        run only the points whose index mod k is i (0 ≤ i < k)
//	-merge DIR        combine the shard files in DIR into scan.csv and pictures,
//	                  in DIR or in -out if given
//	-trace            also write DIR/trace.csv, when and where each point ran, and
//	                  draw it as DIR/trace.png, whatever -pictures says (see
//	                  package trace)
//
// Rank 0 writes DIR/scan.csv, one row per point in grid order, with the columns
// index,beta,m,h,x2,x2_err,x2_exact,acceptance,rank,host,seconds, and two
// pictures: DIR/acceptance.png, the acceptance rate over β × m with one panel
// per h, and DIR/deviation.png, (x2 − x2_exact)/x2_err on the same panels.
// Where the sampler mixes badly the deviations stray beyond a few σ.
//
// Each point draws from its own random stream, keyed by the seed and the
// point's index in the full grid (mpimap.Grid's row-major order, h varying
// fastest). So every number except rank, host and seconds is identical
// whatever the number of ranks, the schedule, the chunk, the workers, and
// whether the grid ran whole or in shards.
//
// What shapes the numbers — the grid, -iterations, -seed, -target-err and
// the version of the sampler — are the scan's settings. Mcscan writes them
// to DIR/mcscan.settings before any point runs, and a run into a directory
// that holds a scan of other settings (or a scan's files without them) is
// refused, saying which settings differ, unless -force, which removes that
// scan's files first. A bad -out is found then too, before the work. The
// journal records the settings as its key (hpcmap journal -v shows them):
// a journal of other settings is refused, never mixed in.
//
// With -trace, DIR/trace.png is a Gantt chart of the run: a lane per worker
// of each rank, a bar per point, and each lane's idle tail up to the end of
// the map in pale red. Under -schedule block a rank whose share costs less
// waits for the others, which shows as a long tail; under the default dynamic
// schedule the lanes end together. With fixed steps mcscan's points cost much
// the same, so the difference is small; with -target-err slowly mixing points
// (small β, small h: the start of the grid) cost many times more, and Block's
// tail is plain to see (make demo draws both). The command hpcmap trace draws
// such a file again. A run that ran no point (an empty shard, or every point
// from the journal) draws no chart.
//
// Shards are for job arrays: `-shard 2/4` writes DIR/shard-2-of-4.csv, and
// keeps its journal, if -journal names one, in FILE with .shard-2-of-4
// before the extension. When all four have run into one DIR, `mcscan -merge
// DIR` writes DIR/scan.csv and the pictures as one whole run would have, with
// the settings the shards ran with (a setting given to -merge must agree). A
// shard of a grid with fewer points than shards is empty, and a success.
// Shards take every k'th point rather than a contiguous block so that each
// gets a similar mix of cheap and costly points.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hpcmap/hpcmap/internal/placement"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

func main() { os.Exit(mpi.Run(run)) }

func run(ctx context.Context, world mpi.Comm) error {
	return mcscan(ctx, world, os.Args[1:], os.Stdout)
}

// mcscan is the program on one rank of c, with its command-line arguments;
// rank 0 writes the files and reports on stdout.
func mcscan(ctx context.Context, c mpi.Comm, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(c, args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if cfg.merge != "" {
		if c.Rank() != 0 {
			return nil // merging is a few file reads: rank 0 does it alone
		}
		return merge(stdout, cfg)
	}
	n := cfg.tasks()

	// The output directory before the work: a bad -out, or one that holds
	// another scan, costs nothing. Rank 0 looks, every rank learns.
	if err := fromRoot(c, func() error { return prepareOut(cfg.out, cfg.settings, cfg.force) }); err != nil {
		return err
	}
	// Where the ranks run, first: a bad placement shows before the work.
	placement, err := placement.Describe(c)
	if err != nil {
		return err
	}
	mpi.Fprintf(stdout, c, "%s\n", placement)

	resumed := 0
	if c.Rank() == 0 {
		resumed = cfg.resuming(stdout, n)
	}
	start := time.Now()
	// Task j computes its point from j: no rank holds the grid.
	results, err := mpimap.MapN(ctx, c, n, func(ctx context.Context, j int) (result, error) {
		return simulate(c.Rank(), c.Host(), cfg.point(j), cfg), nil
	}, cfg.mapOptions(stdout)...)
	if err != nil || c.Rank() != 0 {
		return err
	}
	fmt.Fprintf(stdout, "%d points × %d iterations on %d ranks (%v schedule) in %.2f s",
		n, cfg.iterations, c.Size(), cfg.schedule, time.Since(start).Seconds())
	if resumed > 0 {
		fmt.Fprintf(stdout, " (%d of them from the journal %s)", resumed, cfg.journalPath())
	}
	fmt.Fprintln(stdout)
	grid := mpimap.Grid(cfg.betas, cfg.ms, cfg.hs) // for the report, on rank 0
	if n == 0 {
		fmt.Fprintf(stdout, "shard %d/%d holds none of the %d points: its file is empty, for -merge to find\n",
			cfg.shard, cfg.shards, len(grid))
	}
	rows := make([]row, n)
	for j := range rows {
		rows[j] = row{Point: cfg.point(j), result: results[j], Host: results[j].RanOn.String()}
	}
	if err := report(stdout, cfg.out, cfg.fileName(), rows, grid, cfg); err != nil {
		return err
	}
	if cfg.trace {
		return reportTrace(stdout, cfg, n, c.Size())
	}
	return nil
}

// tasks is how many points of the grid the run computes: all, or those of
// its shard, whose indices are shard, shard+k, shard+2k, ...
func (cfg config) tasks() int {
	all := mpimap.GridSize(cfg.betas, cfg.ms, cfg.hs)
	if cfg.shards == 0 {
		return all
	}
	return max(0, (all-cfg.shard+cfg.shards-1)/cfg.shards)
}

// point is the j-th point the run computes.
func (cfg config) point(j int) mpimap.Point[float64] {
	i := j
	if cfg.shards > 0 {
		i = cfg.shard + j*cfg.shards
	}
	return mpimap.GridPoint(i, cfg.betas, cfg.ms, cfg.hs)
}

// fileName is where the run writes its points in its output directory.
func (cfg config) fileName() string {
	if cfg.shards == 0 {
		return "scan.csv"
	}
	return shardName(cfg.shard, cfg.shards)
}

// resuming says how many points the journal saves this run, if it is this
// scan's (Map checks it for itself, and refuses another's), unless Map's
// progress report is to say it; it returns that number.
func (cfg config) resuming(stdout io.Writer, points int) int {
	if cfg.journal == "" {
		return 0
	}
	info, err := mpimap.InspectJournal(cfg.journalPath())
	if err != nil || info.Done == 0 || info.Tasks != points || !slices.Equal(info.Key, cfg.journalKey()) {
		return 0
	}
	if !cfg.progress {
		fmt.Fprintf(stdout, "resuming: %d of %d points are in the journal %s\n", info.Done, points, cfg.journalPath())
	}
	return info.Done
}

// fromRoot runs f on rank 0 and returns its error on every rank of c.
func fromRoot(c mpi.Comm, f func() error) error {
	var err error
	var msg []byte
	if c.Rank() == 0 {
		if err = f(); err != nil {
			msg = []byte(err.Error())
		}
	}
	msg, berr := c.Bcast(0, msg)
	switch {
	case berr != nil:
		return berr
	case err != nil:
		return err
	case len(msg) > 0:
		return errors.New(string(msg))
	}
	return nil
}

// result is one point's outcome as it travels from its rank to rank 0, and
// as the journal keeps it: where it ran, too, since the ranks of a resumed
// run may be others.
type result struct {
	estimate
	X2Exact float64
	Rank    int
	RanOn   hostName
	Seconds float64
}

// hostName is a host's name in a fixed size, so that a result stays plain
// numbers, which cross ranks on mpimap's fast path. Longer names (above
// Linux's HOST_NAME_MAX) are cut.
type hostName [64]byte

func newHostName(s string) (h hostName) {
	copy(h[:], s)
	return h
}

func (h hostName) String() string {
	n := bytes.IndexByte(h[:], 0)
	if n < 0 {
		n = len(h)
	}
	return string(h[:n])
}

// maxGrowth bounds how many times longer -target-err may make a point run.
const maxGrowth = 64

// simulate runs the Monte Carlo at grid point p on rank, of host.
func simulate(rank int, host string, p mpimap.Point[float64], cfg config) result {
	start := time.Now()
	beta, m, h := p.Values[0], p.Values[1], p.Values[2]
	est := metropolis(newRand(cfg.seed, p.Index), beta, m, h, cfg.iterations/10, cfg.iterations)
	// With -target-err, a point whose error bar is still too wide runs again,
	// twice as long, from the start of its own stream (so the numbers stay
	// the same whoever runs it): slowly mixing points cost more.
	for n := cfg.iterations; cfg.targetErr > 0 && est.X2Err > cfg.targetErr*est.X2 && n < maxGrowth*cfg.iterations; {
		n *= 2
		est = metropolis(newRand(cfg.seed, p.Index), beta, m, h, n/10, n)
	}
	return result{
		estimate: est,
		X2Exact:  exactX2(beta, m),
		Rank:     rank,
		RanOn:    newHostName(host),
		Seconds:  time.Since(start).Seconds(),
	}
}

// report writes rows to dir/name (and the per-point files and, for a whole
// grid, the pictures) and tells on stdout where they are.
func report(stdout io.Writer, dir, name string, rows []row, grid []mpimap.Point[float64], cfg config) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, err := writeCSV(dir, name, rows)
	if err != nil {
		return err
	}
	if cfg.perPoint {
		if err := writePerPoint(dir, rows); err != nil {
			return err
		}
		files = append(files, fmt.Sprintf("%s/b*_m*_h*.dat (%d files)", dir, len(rows)))
	}
	if len(rows) == len(grid) {
		if cfg.pictures {
			pics, err := writePictures(dir, rows, cfg)
			if err != nil {
				return err
			}
			files = append(files, pics...)
		}
		within := 0
		for _, r := range rows {
			if math.Abs(r.deviation()) <= 4 {
				within++
			}
		}
		fmt.Fprintf(stdout, "%d of %d points within 4σ of the exact ⟨x²⟩\n", within, len(rows))
	}
	for _, f := range files {
		fmt.Fprintln(stdout, "wrote", f)
	}
	return nil
}

// mapOptions are the options of the scan's Map, which reports its progress
// on stdout if asked to.
func (cfg config) mapOptions(stdout io.Writer) []mpimap.Option {
	opts := []mpimap.Option{mpimap.WithSchedule(cfg.schedule), mpimap.WithChunk(cfg.chunk), mpimap.WithWorkers(cfg.workers)}
	if cfg.journal != "" {
		opts = append(opts, mpimap.WithJournal(cfg.journalPath(), cfg.journalKey()...))
	}
	if cfg.trace {
		opts = append(opts, mpimap.WithTrace(cfg.tracePath()))
	}
	if cfg.progress {
		opts = append(opts, mpimap.WithProgress(stdout))
	}
	return opts
}

// journalPath is the journal's file: -journal's, or for a shard the same
// name with .shard-i-of-k before its extension, so that the shards of a job
// array keep a journal each.
func (cfg config) journalPath() string {
	if cfg.journal == "" || cfg.shards == 0 {
		return cfg.journal
	}
	ext := filepath.Ext(cfg.journal)
	return fmt.Sprintf("%s.shard-%d-of-%d%s", strings.TrimSuffix(cfg.journal, ext), cfg.shard, cfg.shards, ext)
}
