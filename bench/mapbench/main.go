// Command mapbench measures hpcmap's Map and reduce on the real MPI world, for
// bench/run.sh (make bench). Build it with -tags mpi (OpenMPI) or -tags mpich
// and start it with the matching launcher:
//
//	go build -tags mpi -o mapbench ./bench/mapbench
//	mpirun.openmpi -np 2 ./mapbench
//
// Rank 0 prints one "name value" line per figure, each the median over -reps
// timed repetitions:
//
//	dynamic_chunk1_tps   empty tasks per second, Dynamic, chunk 1, rank 0 only deals
//	dynamic_chunk16_tps  the same with chunk 16
//	dynamic_chunk16_root_tps  the same with rank 0 computing too (the default)
//	cpu1ms_block_s       seconds of a Block map of 2000 CPU-bound 1 ms tasks
//	cpu1ms_dynamic1_s    the same map, Dynamic, chunk 1
//	block_tps            tasks per second of a Block map of -nblock tasks returning float64
//	allsum_us            microseconds per reduce.AllSum of one float64
//	go_pingpong_us       microseconds per 8-byte Send/Recv round trip between
//	                     ranks 0 and 1 through mpi.Comm: the floor under one
//	                     Dynamic request and reply, to set beside C's
//	allsum_inproc_ratio  reduce.AllSum's time over C's MPI_Allreduce in a C
//	                     loop, timed in turns in this process (built with the
//	                     tag hpcmapbench, as bench/run.sh does)
//	gather_peak_mib      how much rank 0's peak resident memory grows in a map
//	                     of 1e6 tasks returning 100 bytes each (and _ratio: as
//	                     a multiple of those 100 MB)
//	resume_peak_mib      the same for the map run again, every result read
//	                     from its journal (and _ratio)
//	eachn_peak_mib       how much rank 0's peak resident memory grows in an
//	                     EachN of 1e7 tasks returning 100 bytes each, whose
//	                     sink keeps nothing
//
// With -big, it prints only the figures of large results (see bigres.go).
//
// With -dealing, it prints only the dealing and CPU figures, each name with
// the suffix _p1: for a run at GOMAXPROCS=1, what a rank bound to one CPU
// gets.
//
// and, for the record, a "name_n" line with the tasks or calls per repetition.
// As in Go's testing.B, the size of the Dynamic maps and the number of AllSum
// calls and round trips grow until one repetition takes -mintime, so that the
// run is short however fast or slow the code under test is; the growing runs
// also serve as the warm-up.
//
// Keeping rank 0 from computing in the Dynamic runs makes the figure what the
// dealer can hand out to other ranks, which is what limits a large job; the
// empty tasks make it the cost of the machinery alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
	"github.com/hpcmap/hpcmap/reduce"
)

var (
	minTime = flag.Duration("mintime", 200*time.Millisecond, "least duration of one timed repetition")
	nBlock  = flag.Int("nblock", 1_000_000, "tasks per Block map (fixed, not grown)")
	reps    = flag.Int("reps", 5, "timed repetitions per figure (the median is printed)")
	workers = flag.Int("workers", 0, "goroutines per rank running tasks (0: mpimap's default)")
	dealing = flag.Bool("dealing", false, "only the dealing and CPU figures, named with the suffix _p1")
	big     = flag.Bool("big", false, "only the figures of large results (bigres.go)")
)

// cAllreduceLoop times n calls of C's MPI_Allreduce of one double, made from
// a loop in C in this process; nil unless built with the tag hpcmapbench.
var cAllreduceLoop func(c mpi.Comm, n int) (time.Duration, error)

// maxSize bounds the growth of a repetition: 8 M tasks hold 128 MB of
// arguments and results on rank 0.
const maxSize = 8 << 20

func main() {
	flag.Parse()
	os.Exit(mpi.Run(run))
}

// figure is one measurement: op runs it collectively at size n (tasks or
// calls) and returns the time rank 0 saw.
type figure struct {
	name  string
	start int  // first size; with grow false, the only one
	grow  bool // grow the size until a repetition takes minTime
	perUs bool // report microseconds per unit instead of units per second
	op    func(n int) (time.Duration, error)
}

func run(ctx context.Context, world mpi.Comm) error {
	if world.Size() < 2 {
		return fmt.Errorf("mapbench: need at least 2 ranks, have %d", world.Size())
	}
	if *nBlock < 1 || *reps < 1 || *minTime <= 0 {
		return fmt.Errorf("mapbench: -nblock, -reps and -mintime must be positive")
	}
	var common []mpimap.Option
	if *workers > 0 {
		common = append(common, mpimap.WithWorkers(*workers))
	}
	dealt := func(chunk int) []mpimap.Option {
		return append(slices.Clone(common),
			mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithChunk(chunk), mpimap.WithoutRoot())
	}
	figures := []figure{
		{"dynamic_chunk1", 1000, true, false, func(n int) (time.Duration, error) {
			return timeMap(ctx, world, n, identity, dealt(1))
		}},
		{"dynamic_chunk16", 10_000, true, false, func(n int) (time.Duration, error) {
			return timeMap(ctx, world, n, identity, dealt(16))
		}},
		{"dynamic_chunk16_root", 10_000, true, false, func(n int) (time.Duration, error) {
			return timeMap(ctx, world, n, identity, append(slices.Clone(common),
				mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithChunk(16)))
		}},
		{"cpu1ms_block", cpuTasks, false, false, func(n int) (time.Duration, error) {
			return timeMap(ctx, world, n, spin, append(slices.Clone(common), mpimap.WithSchedule(mpimap.Block)))
		}},
		{"cpu1ms_dynamic1", cpuTasks, false, false, func(n int) (time.Duration, error) {
			return timeMap(ctx, world, n, spin, append(slices.Clone(common), mpimap.WithSchedule(mpimap.Dynamic)))
		}},
		{"block", *nBlock, false, false, func(n int) (time.Duration, error) {
			return timeMap(ctx, world, n, half, append(slices.Clone(common), mpimap.WithSchedule(mpimap.Block)))
		}},
		{"allsum", 1000, true, true, func(n int) (time.Duration, error) { return timeAllSum(world, n) }},
		{"go_pingpong", 1000, true, true, func(n int) (time.Duration, error) { return timePingPong(world, n) }},
	}

	suffix := ""
	if *dealing {
		suffix = "_p1"
		figures = slices.DeleteFunc(figures, func(f figure) bool {
			return !strings.HasPrefix(f.name, "dynamic") && !strings.HasPrefix(f.name, "cpu")
		})
	}
	if world.Rank() == 0 {
		fmt.Printf("np %d\n", world.Size())
	}
	if *big {
		return bigFigures(ctx, world)
	}
	// Memory first, while rank 0's peak is still the start-up one.
	if !*dealing {
		if err := gatherMemory(ctx, world, common); err != nil {
			return fmt.Errorf("gather memory: %w", err)
		}
	}
	sizes := map[string]int{}
	for _, f := range figures {
		n, err := size(world, f)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		sizes[f.name] = n
		got := make([]float64, *reps)
		for i := range got {
			d, err := f.op(n)
			if err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			if f.perUs {
				got[i] = d.Seconds() * 1e6 / float64(n)
			} else if strings.HasPrefix(f.name, "cpu") {
				got[i] = d.Seconds()
			} else {
				got[i] = float64(n) / d.Seconds()
			}
		}
		if world.Rank() == 0 {
			unit := "_tps"
			switch {
			case f.perUs:
				unit = "_us"
			case strings.HasPrefix(f.name, "cpu"):
				unit = "_s"
			}
			fmt.Printf("%s_n %d\n%s%s%s %.4g\n", f.name, n, f.name, unit, suffix, median(got))
		}
	}
	if cAllreduceLoop != nil && !*dealing {
		if err := compareAllSumWithC(world, sizes["allsum"]); err != nil {
			return fmt.Errorf("allsum against C: %w", err)
		}
	}
	return nil
}

// size runs f at growing sizes until one run takes minTime on rank 0 (or
// once, as a warm-up, if f does not grow) and returns the size to time.
// Rank 0 decides and broadcasts each step, so every rank makes the same calls.
func size(world mpi.Comm, f figure) (int, error) {
	n := f.start
	for {
		d, err := f.op(n)
		if err != nil {
			return 0, err
		}
		next := []int64{0} // 0: n is the size
		if world.Rank() == 0 && f.grow && d < *minTime && n < maxSize {
			// Aim 20% past minTime, growing at least 2× and at most 100× a step.
			scale := 1.2 * minTime.Seconds() / max(d.Seconds(), 1e-9)
			next[0] = int64(min(float64(n)*min(max(scale, 2), 100), maxSize))
		}
		if next, err = mpi.BcastSlice(world, 0, next); err != nil {
			return 0, err
		}
		if next[0] == 0 {
			return n, nil
		}
		n = int(next[0])
	}
}

// identity is the empty task of the Dynamic runs: the same task that
// bench/futures_bench.py maps with mpi4py.futures.
func identity(_ context.Context, i int) (int, error) { return i, nil }

// cpuTasks is the number of tasks of the CPU-bound maps: 2000 of 1 ms, a
// second on each of two ranks.
const cpuTasks = 2000

// spin is a CPU-bound task of 1 ms: it computes, without sleeping or
// yielding, until a millisecond has passed.
func spin(_ context.Context, i int) (int, error) {
	start := time.Now()
	x := i
	for time.Since(start) < time.Millisecond {
		for range 1000 {
			x = x*1664525 + 1013904223
		}
	}
	sink.Store(int64(x)) // kept, so that the loop is not optimised away
	return i, nil
}

// sink keeps what spin computes.
var sink atomic.Int64

// half is the Block run's task: trivial work with a float64 result.
func half(_ context.Context, i int) (float64, error) { return float64(i) / 2, nil }

// timeMap times one Map of fn over 0..n-1 on rank 0. It checks rank 0's
// results, so that a broken schedule cannot pass for a fast one.
func timeMap[R int | float64](ctx context.Context, world mpi.Comm, n int,
	fn func(context.Context, int) (R, error), opts []mpimap.Option) (time.Duration, error) {
	args := make([]int, n)
	for i := range args {
		args[i] = i
	}
	// Start together so that rank 0's clock does not include others' lateness.
	if err := world.Barrier(); err != nil {
		return 0, err
	}
	start := time.Now()
	res, err := mpimap.Map(ctx, world, args, fn, opts...)
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	if world.Rank() != 0 {
		return elapsed, nil
	}
	if len(res) != n {
		return 0, fmt.Errorf("the map returned %d results for %d tasks", len(res), n)
	}
	for i, r := range res {
		if want, _ := fn(ctx, i); r != want {
			return 0, fmt.Errorf("result %d is %v, want %v", i, r, want)
		}
	}
	return elapsed, nil
}

// timeAllSum times calls calls of reduce.AllSum of a float64 on rank 0.
func timeAllSum(world mpi.Comm, calls int) (time.Duration, error) {
	if err := world.Barrier(); err != nil {
		return 0, err
	}
	start := time.Now()
	var s float64
	for range calls {
		var err error
		if s, err = reduce.AllSum(world, 1.0); err != nil {
			return 0, err
		}
	}
	elapsed := time.Since(start)
	if s != float64(world.Size()) {
		return 0, fmt.Errorf("AllSum of 1 over %d ranks is %v", world.Size(), s)
	}
	return elapsed, nil
}

// timePingPong times n round trips of an 8-byte message between ranks 0 and
// 1 on rank 0; the other ranks wait.
func timePingPong(world mpi.Comm, n int) (time.Duration, error) {
	const tag = 1
	msg := make([]byte, 8)
	if err := world.Barrier(); err != nil {
		return 0, err
	}
	start := time.Now()
	for range n {
		var err error
		switch world.Rank() {
		case 0:
			if err = world.Send(1, tag, msg); err == nil {
				msg, _, err = world.Recv(1, tag)
			}
		case 1:
			if msg, _, err = world.Recv(0, tag); err == nil {
				err = world.Send(0, tag, msg)
			}
		}
		if err != nil {
			return 0, err
		}
	}
	elapsed := time.Since(start)
	if len(msg) != 8 {
		return 0, fmt.Errorf("ping-pong message came back with %d bytes, want 8", len(msg))
	}
	return elapsed, nil
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// record is a result of 100 bytes, the size issue 5 asks about.
type record [100]byte

// gatherMemory maps 1e6 tasks returning 100 bytes each and reports how much
// rank 0's peak resident memory grew, in MiB and as a multiple of the n·s
// bytes of results it must hold in the end. Then it does the same for the map
// resumed from a journal that holds every result: the state of a scan run
// again after its time limit.
func gatherMemory(ctx context.Context, world mpi.Comm, opts []mpimap.Option) error {
	if err := peakGrowth(ctx, world, "gather", opts); err != nil {
		return err
	}
	journal := filepath.Join(os.TempDir(), fmt.Sprintf("hpcmap-mapbench-%d.journal", os.Getpid())) // rank 0's is used
	defer os.Remove(journal)
	opts = append(slices.Clone(opts), mpimap.WithJournal(journal))
	if err := recordMap(ctx, world, opts); err != nil {
		return err
	}
	debug.FreeOSMemory()
	// Writing 5 to clear_refs resets the peak (VmHWM) to the present size.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return err
	}
	if err := peakGrowth(ctx, world, "resume", opts); err != nil {
		return err
	}
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return err
	}
	return eachPeak(ctx, world, opts[:len(opts)-1])
}

// eachTasks is the size of the EachN whose memory is measured: 1 GB of
// results that rank 0 must never hold.
const eachTasks = 10_000_000

// eachPeak runs an EachN of eachTasks tasks returning a record each, whose
// sink checks and drops them, and prints how much rank 0's peak resident
// memory grew, as eachn_peak_mib.
func eachPeak(ctx context.Context, world mpi.Comm, opts []mpimap.Option) error {
	before, err := residentKiB("VmRSS")
	if err != nil {
		return err
	}
	got := 0
	err = mpimap.EachN(ctx, world, eachTasks, func(_ context.Context, i int) (record, error) {
		var r record
		r[i%100] = byte(i)
		return r, nil
	}, func(i int, r record) error {
		if r[i%100] != byte(i) {
			return fmt.Errorf("result %d is wrong", i)
		}
		got++
		return nil
	}, append(slices.Clone(opts), mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithChunk(64))...)
	if err != nil || world.Rank() != 0 {
		return err
	}
	if got != eachTasks {
		return fmt.Errorf("the sink got %d results of %d", got, eachTasks)
	}
	peak, err := residentKiB("VmHWM")
	if err != nil {
		return err
	}
	fmt.Printf("eachn_peak_mib %.1f\n", float64(peak-before)/1024)
	return nil
}

// peakGrowth runs recordMap and prints how much rank 0's peak resident memory
// grew, as name_peak_mib and name_peak_ratio.
func peakGrowth(ctx context.Context, world mpi.Comm, name string, opts []mpimap.Option) error {
	before, err := residentKiB("VmRSS")
	if err != nil {
		return err
	}
	if err := recordMap(ctx, world, opts); err != nil {
		return err
	}
	peak, err := residentKiB("VmHWM")
	if err != nil || world.Rank() != 0 {
		return err
	}
	grew := float64(peak-before) * 1024
	fmt.Printf("%s_peak_mib %.1f\n%s_peak_ratio %.3f\n", name, grew/(1<<20), name, grew/float64(recordTasks*len(record{})))
	return nil
}

// recordTasks is the size of the map whose memory is measured.
const recordTasks = 1_000_000

// recordMap maps recordTasks tasks returning a record each.
func recordMap(ctx context.Context, world mpi.Comm, opts []mpimap.Option) error {
	results, err := mpimap.Map(ctx, world, make([]int, recordTasks), func(_ context.Context, i int) (record, error) {
		var r record
		r[i%100] = byte(i)
		return r, nil
	}, opts...)
	if err == nil && world.Rank() == 0 && len(results) != recordTasks {
		err = fmt.Errorf("%d results of %d tasks", len(results), recordTasks)
	}
	return err
}

// residentKiB reads a memory figure of this process from /proc/self/status.
func residentKiB(field string) (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// compareAllSumWithC times n calls of reduce.AllSum and n of C's
// MPI_Allreduce in turns, -reps times, and prints the median ratio: a spell
// of load from elsewhere then slows both alike.
func compareAllSumWithC(world mpi.Comm, n int) error {
	ratios := make([]float64, *reps)
	for i := range ratios {
		goTime, err := timeAllSum(world, n)
		if err != nil {
			return err
		}
		if err := world.Barrier(); err != nil {
			return err
		}
		cTime, err := cAllreduceLoop(world, n)
		if err != nil {
			return err
		}
		ratios[i] = goTime.Seconds() / cTime.Seconds()
	}
	if world.Rank() == 0 {
		fmt.Printf("allsum_inproc_ratio %.4g\n", median(ratios))
	}
	return nil
}
