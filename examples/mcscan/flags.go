package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// config is the command line.
type config struct {
	settings             // what shapes a point's result
	out           string // the output directory
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
	force         bool   // replace a scan of other settings in out
	set           map[string]bool
}

// parseFlags reads the command line. A bad value is an error of one line
// that names the flag and the value; -h prints the usage on rank 0's stdout
// and returns flag.ErrHelp.
func parseFlags(c mpi.Comm, args []string, stdout io.Writer) (config, error) {
	cfg := config{
		settings: settings{
			betas: []float64{0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10},
			ms:    []float64{0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10},
			hs:    []float64{0.25, 0.5, 1, 2.5},
			seed:  1,
		},
		pictures: true,
		set:      map[string]bool{},
	}
	fs := flag.NewFlagSet("mcscan", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the error is returned; the usage is for -h
	fs.Usage = func() {}
	fs.Func("betas", "inverse temperatures β, comma-separated `list` (default: the classic 9)", floats(&cfg.betas))
	fs.Func("ms", "quadratic coefficients m, comma-separated `list` (default: the classic 9)", floats(&cfg.ms))
	fs.Func("hs", "proposal half-widths h, comma-separated `list` (default 0.25,0.5,1,2.5)", floats(&cfg.hs))
	cfg.iterations = 100000
	fs.Func("iterations", "measured Metropolis steps per `n`, such as 100000 or 1e6 (default 100000)", count(&cfg.iterations, batches, maxIterations))
	fs.Func("target-err", "double a point's steps (up to 64×) until x2_err ≤ this `fraction` × x2; 0: fixed steps (default 0)", fraction(&cfg.targetErr))
	fs.Func("seed", "random `seed` (default 1)", func(s string) error {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			return errors.New("want a whole number from 0 to 18446744073709551615")
		}
		cfg.seed = v
		return nil
	})
	fs.StringVar(&cfg.out, "out", "mc_data", "output `directory`")
	schedule := fs.String("schedule", "dynamic", "block, cyclic, dynamic or guided")
	cfg.chunk = 1
	fs.Func("chunk", "points per message (dynamic), least chunk (guided) (default 1)", count(&cfg.chunk, 1, maxChunk))
	fs.Func("workers", "goroutines per rank (default 0: GOMAXPROCS)", count(&cfg.workers, 0, maxWorkers))
	fs.BoolVar(&cfg.perPoint, "per-point", false, "also write one file per point")
	fs.BoolVar(&cfg.pictures, "pictures", true, "draw the pictures (a whole grid only)")
	shard := fs.String("shard", "", "run only shard `i/k` of the grid: the points whose index mod k is i")
	fs.StringVar(&cfg.merge, "merge", "", "combine the shard files in `DIR` into scan.csv and pictures (in -out if given, else DIR)")
	fs.BoolVar(&cfg.trace, "trace", false, "write trace.csv in -out, when and where each point ran, and draw it as trace.png")
	fs.StringVar(&cfg.journal, "journal", "", "record finished points in `FILE` (a shard in FILE with .shard-i-of-k before its extension); run again with the same file to resume")
	fs.BoolVar(&cfg.progress, "progress", false, "report points done, rate and time left as the scan runs")
	fs.BoolVar(&cfg.force, "force", false, "replace the files of a scan of other settings in -out (scan.journal there too)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) && c.Rank() == 0 {
			fmt.Fprintln(stdout, "usage: mcscan [flags]: a Monte Carlo scan over a β × m × h grid (see the package documentation)")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q: mcscan takes flags only", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { cfg.set[f.Name] = true })

	var err error
	if cfg.schedule, err = mpimap.ParseSchedule(*schedule); err != nil {
		return cfg, fmt.Errorf("-schedule %q: want block, cyclic, dynamic or guided", *schedule)
	}
	if err := cfg.settings.check(); err != nil {
		return cfg, err
	}
	if cfg.set["out"] && cfg.out == "" {
		return cfg, errors.New(`-out "": want a directory`)
	}
	if cfg.set["merge"] {
		return cfg, cfg.checkMerge(*shard)
	}
	if *shard != "" {
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

// checkMerge checks the flags of a merge: a directory, and none of the flags
// that only a scan uses.
func (cfg *config) checkMerge(shard string) error {
	if cfg.merge == "" {
		return errors.New(`-merge "": want the directory of the shard files`)
	}
	if shard != "" {
		return errors.New("-shard and -merge: a run does one or the other")
	}
	for _, name := range []string{"trace", "journal", "schedule", "chunk", "workers", "progress"} {
		if cfg.set[name] {
			return fmt.Errorf("-%s with -merge: a merge combines the shards' files and runs no point", name)
		}
	}
	if !cfg.set["out"] {
		cfg.out = cfg.merge
	}
	return nil
}

// floats sets *dst from a comma-separated list of numbers.
func floats(dst *[]float64) func(string) error {
	return func(s string) error {
		var vs []float64
		for _, f := range strings.Split(s, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if errors.Is(err, strconv.ErrRange) {
				return fmt.Errorf("%q is beyond float64's range", f)
			}
			if err != nil {
				return fmt.Errorf("%q is not a number", f)
			}
			vs = append(vs, v)
		}
		*dst = vs
		return nil
	}
}

// count sets *dst from a whole number from least to most, written as one
// (100000) or in exponent form (1e5).
func count(dst *int, least, most int) func(string) error {
	return func(s string) error {
		v, err := strconv.Atoi(s)
		if err != nil {
			f, ferr := strconv.ParseFloat(s, 64)
			switch {
			case ferr == nil && f == math.Trunc(f) && math.Abs(f) > float64(most):
				return fmt.Errorf("want at most %d", most)
			case ferr != nil || f != math.Trunc(f):
				return errors.New("want a whole number, such as 100 or 1e5")
			}
			v = int(f)
		}
		switch {
		case v < least:
			return fmt.Errorf("want at least %d", least)
		case v > most:
			return fmt.Errorf("want at most %d", most)
		}
		*dst = v
		return nil
	}
}

// Bounds of the counts: a chain of 2⁵³ steps would run for years, and a
// rank's goroutines beyond some thousands only cost memory.
const (
	maxIterations = 1 << 53
	maxChunk      = 1 << 30
	maxWorkers    = 1 << 12
)

// fraction sets *dst from a number ≥ 0.
func fraction(dst *float64) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || !(v >= 0) || math.IsInf(v, 0) {
			return errors.New("want a relative error ≥ 0, such as 0.01")
		}
		*dst = v
		return nil
	}
}

// formatFloats writes a list as -betas takes it, every number exactly.
func formatFloats(l []float64) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// duplicate is the first value of l that appears in it twice, if any.
func duplicate(l []float64) (float64, bool) {
	for i, v := range l {
		if slices.Contains(l[i+1:], v) {
			return v, true
		}
	}
	return 0, false
}
