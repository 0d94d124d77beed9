// Mcscan is a Monte Carlo parameter scan spread over MPI ranks with mpimap.Map:
// at every point of a β × m × h grid it samples x with weight exp(−β·V(x)),
// V(x) = m·x²/2 + x⁴/4, by the Metropolis algorithm with proposal steps uniform
// in [−h, h], and compares its estimate of ⟨x²⟩ with the exact value from
// quadrature.
//
// Usage:
//
//	mpirun -np 4 mcscan -out mc_data
//	mcscan -betas 0.5,1 -ms 1 -hs 0.5,2.5 -iterations 1000000
//
// Flags:
//
//	-betas, -ms, -hs  comma-separated values (default: the classic 9 × 9 × 4 grid)
//	-iterations       measured Metropolis steps per point, after a tenth as many
//	                  unmeasured burn-in steps (default 100000)
//	-target-err e     run a point again with twice the steps, up to 64 times the
//	                  steps, until x2_err ≤ e·x2 (default 0: fixed steps)
//	-journal FILE     record finished points; rerun with it to resume
//	-seed             random seed (default 1)
//	-out DIR          where to write (default mc_data)
//	-schedule         block, cyclic, dynamic (default) or guided: see mpimap
//	-chunk            points per message for dynamic, least chunk for guided (default 1)
//	-workers          goroutines per rank (default GOMAXPROCS)
//	-per-point        also write one file per point, b{β}_m{m}_h{h}.dat
//	-pictures=false   do not draw the pictures
//	-shard i/k        run only the points whose index mod k is i (0 ≤ i < k)
//	-merge DIR        combine the shard files in DIR into DIR/scan.csv and pictures
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
// With -trace, DIR/trace.png is a Gantt chart of the run: a lane per worker
// of each rank, a bar per point, and each lane's idle tail up to the end of
// the map in pale red. Under -schedule block a rank whose share costs less
// waits for the others, which shows as a long tail; under the default dynamic
// schedule the lanes end together. With fixed steps mcscan's points cost much
// the same, so the difference is small; with -target-err slowly mixing points
// (small β, small h: the start of the grid) cost many times more, and Block's
// tail is plain to see (make demo draws both). The command hpcmap-trace draws
// such a file again.
//
// Shards are for job arrays: `-shard 2/4` writes DIR/shard-2-of-4.csv; when all
// four have run, `mcscan -merge DIR` (with the same grid flags) writes
// DIR/scan.csv and the pictures as one whole run would have. Shards take every
// k'th point rather than a contiguous block so that each gets a similar mix
// of cheap and costly points.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
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

// config is the command line.
type config struct {
	betas, ms, hs []float64
	iterations    int
	targetErr     float64 // relative error that points sample until they reach; 0 for none
	seed          uint64
	out           string
	schedule      mpimap.Schedule
	chunk         int
	workers       int
	perPoint      bool
	pictures      bool
	shard, shards int // run shard i of k; k = 0 for the whole grid
	merge         string
	journal       string // resume from, and record to, this journal
	trace         bool   // write, and draw, the map's trace
	progress      bool   // report the map's progress on stdout
}

// mcscan is the program on one rank of c, with its command-line arguments;
// rank 0 writes the files and reports on stdout.
func mcscan(ctx context.Context, c mpi.Comm, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(c, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	grid := mpimap.Grid(cfg.betas, cfg.ms, cfg.hs)

	if cfg.merge != "" {
		if c.Rank() != 0 {
			return nil // merging is a few file reads: rank 0 does it alone
		}
		rows, err := mergeShards(cfg.merge, grid)
		if err != nil {
			return err
		}
		return report(stdout, cfg.merge, "scan.csv", rows, grid, cfg)
	}

	points := grid
	name := "scan.csv"
	if cfg.shards > 0 {
		points = nil
		for _, p := range grid {
			if p.Index%cfg.shards == cfg.shard {
				points = append(points, p)
			}
		}
		name = shardName(cfg.shard, cfg.shards)
	}

	// Where the ranks run, first: a bad placement shows before the work.
	placement, err := placement.Describe(c)
	if err != nil {
		return err
	}
	mpi.Fprintf(stdout, c, "%s\n", placement)

	// The hosts, gathered once, so that results can name their rank alone and
	// stay plain numbers, which cross ranks on mpimap's fast path.
	hosts, err := c.Gather(0, []byte(c.Host()))
	if err != nil {
		return err
	}
	if cfg.trace && c.Rank() == 0 {
		// The trace is written as the map runs, before report makes the
		// directory.
		if err := os.MkdirAll(cfg.out, 0o755); err != nil {
			return err
		}
	}
	// Say what a journal saves this run (Map itself refuses a foreign one),
	// unless Map's progress report is to say it.
	resumed := 0
	if cfg.journal != "" && c.Rank() == 0 {
		if done, tasks, err := mpimap.JournalProgress(cfg.journal); err == nil && done > 0 {
			resumed = done
			if !cfg.progress {
				fmt.Fprintf(stdout, "resuming: %d of %d points are in the journal %s\n", done, tasks, cfg.journal)
			}
		}
	}
	start := time.Now()
	results, err := mpimap.Map(ctx, c, points, func(ctx context.Context, p mpimap.Point[float64]) (result, error) {
		return simulate(c.Rank(), p, cfg), nil
	}, cfg.mapOptions(stdout)...)
	if err != nil || c.Rank() != 0 {
		return err
	}
	fmt.Fprintf(stdout, "%d points × %d iterations on %d ranks (%v schedule) in %.2f s",
		len(points), cfg.iterations, c.Size(), cfg.schedule, time.Since(start).Seconds())
	if resumed > 0 {
		fmt.Fprintf(stdout, " (%d of them from the journal)", resumed)
	}
	fmt.Fprintln(stdout)

	rows := make([]row, len(points))
	for i, p := range points {
		rows[i] = row{Point: p, result: results[i], Host: string(hosts[results[i].Rank])}
	}
	if err := report(stdout, cfg.out, name, rows, grid, cfg); err != nil {
		return err
	}
	if cfg.trace {
		return reportTrace(stdout, cfg, len(points), c.Size())
	}
	return nil
}

// result is one point's outcome as it travels from its rank to rank 0.
type result struct {
	estimate
	X2Exact float64
	Rank    int
	Seconds float64
}

// maxGrowth bounds how many times longer -target-err may make a point run.
const maxGrowth = 64

// simulate runs the Monte Carlo at grid point p on rank.
func simulate(rank int, p mpimap.Point[float64], cfg config) result {
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

func parseFlags(c mpi.Comm, args []string) (config, error) {
	cfg := config{
		betas: []float64{0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10},
		ms:    []float64{0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10},
		hs:    []float64{0.25, 0.5, 1, 2.5},
	}
	fs := flag.NewFlagSet("mcscan", flag.ContinueOnError)
	if c.Rank() != 0 {
		fs.SetOutput(io.Discard) // every rank parses the flags; one complains
	}
	fs.Var((*floatList)(&cfg.betas), "betas", "inverse temperatures β, comma-separated")
	fs.Var((*floatList)(&cfg.ms), "ms", "quadratic coefficients m, comma-separated")
	fs.Var((*floatList)(&cfg.hs), "hs", "proposal half-widths h, comma-separated")
	fs.IntVar(&cfg.iterations, "iterations", 100000, "measured Metropolis steps per point")
	fs.Float64Var(&cfg.targetErr, "target-err", 0, "double a point's steps (up to 64×) until x2_err ≤ this × x2; 0: fixed steps")
	fs.Uint64Var(&cfg.seed, "seed", 1, "random seed")
	fs.StringVar(&cfg.out, "out", "mc_data", "output directory")
	schedule := fs.String("schedule", "dynamic", "block, cyclic, dynamic or guided")
	fs.IntVar(&cfg.chunk, "chunk", 1, "points per message (dynamic), least chunk (guided)")
	fs.IntVar(&cfg.workers, "workers", 0, "goroutines per rank (0: GOMAXPROCS)")
	fs.BoolVar(&cfg.perPoint, "per-point", false, "also write one file per point")
	fs.BoolVar(&cfg.pictures, "pictures", true, "draw the pictures (a whole grid only)")
	shard := fs.String("shard", "", "run only shard `i/k` of the grid: the points whose index mod k is i")
	fs.StringVar(&cfg.merge, "merge", "", "combine the shard files in `DIR` into DIR/scan.csv and pictures")
	fs.BoolVar(&cfg.trace, "trace", false, "write DIR/trace.csv, when and where each point ran, and draw it as DIR/trace.png")
	fs.StringVar(&cfg.journal, "journal", "", "record finished points in `FILE`; run again with the same file to resume after a time limit")
	fs.BoolVar(&cfg.progress, "progress", false, "report points done, rate and time left as the scan runs")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	var err error
	if cfg.schedule, err = mpimap.ParseSchedule(*schedule); err != nil {
		return cfg, err
	}
	if cfg.targetErr < 0 || math.IsNaN(cfg.targetErr) {
		return cfg, fmt.Errorf("-target-err %v: want a relative error ≥ 0", cfg.targetErr)
	}
	if cfg.iterations < batches {
		return cfg, fmt.Errorf("-iterations %d: need at least %d, one per batch", cfg.iterations, batches)
	}
	for _, b := range cfg.betas {
		if !(b > 0) || math.IsInf(b, 1) {
			return cfg, fmt.Errorf("-betas: β = %v is not a positive number", b)
		}
	}
	for _, h := range cfg.hs {
		if !(h > 0) || math.IsInf(h, 1) {
			return cfg, fmt.Errorf("-hs: h = %v is not a positive number", h)
		}
	}
	for _, m := range cfg.ms {
		if math.IsInf(m, 0) || math.IsNaN(m) {
			return cfg, fmt.Errorf("-ms: m = %v is not a number", m)
		}
	}
	if *shard != "" {
		if cfg.merge != "" {
			return cfg, errors.New("-shard and -merge: a run does one or the other")
		}
		i, k, ok := strings.Cut(*shard, "/")
		cfg.shard, err = strconv.Atoi(i)
		if err == nil {
			cfg.shards, err = strconv.Atoi(k)
		}
		if !ok || err != nil || cfg.shards < 1 || cfg.shard < 0 || cfg.shard >= cfg.shards {
			return cfg, fmt.Errorf("-shard %q: want i/k with 0 ≤ i < k, as in 0/4 ... 3/4", *shard)
		}
	}
	return cfg, nil
}

// floatList is a flag holding comma-separated numbers.
type floatList []float64

func (l *floatList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

func (l *floatList) Set(s string) error {
	var vs []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return err
		}
		vs = append(vs, v)
	}
	*l = vs
	return nil
}

// mapOptions are the options of the scan's Map, which reports its progress
// on stdout if asked to.
func (cfg config) mapOptions(stdout io.Writer) []mpimap.Option {
	opts := []mpimap.Option{mpimap.WithSchedule(cfg.schedule), mpimap.WithChunk(cfg.chunk), mpimap.WithWorkers(cfg.workers)}
	if cfg.journal != "" {
		opts = append(opts, mpimap.WithJournal(cfg.journal))
	}
	if cfg.trace {
		opts = append(opts, mpimap.WithTrace(cfg.tracePath()))
	}
	if cfg.progress {
		opts = append(opts, mpimap.WithProgress(stdout))
	}
	return opts
}
