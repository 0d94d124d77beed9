package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// Large results, gathered by rank 0 alone (WithoutRoot): results of 32 KiB
// and 1 MiB, fixed-size arrays and []float64, under Block and Dynamic (chunk
// 1). For each, rank 0 prints
//
//	big_<kind>_<size>_<schedule>_gbs           results' bytes per second of map, in GB/s
//	big_<kind>_<size>_<schedule>_alloc_ratio   bytes rank 0 allocated in the map ÷ the results' bytes
//	big_<kind>_<size>_<schedule>_objs_per_result  heap objects rank 0 allocated per result
//
// (kind array or slice, size 32k or 1m), each the median of -reps maps of
// bigBytes of results. The allocations are counted exactly, by
// runtime.ReadMemStats around the map: everything rank 0 allocates,
// results included. Tasks do next to nothing, so that the figure is the
// gathering's.

// bigBytes is the results' size of one map: far more than any cache.
const bigBytes = 256 << 20

type (
	array32k [4096]float64
	array1m  [131072]float64
)

func bigFigures(ctx context.Context, world mpi.Comm) error {
	for _, sched := range []struct {
		name string
		s    mpimap.Schedule
	}{{"block", mpimap.Block}, {"dynamic", mpimap.Dynamic}} {
		opts := []mpimap.Option{mpimap.WithSchedule(sched.s), mpimap.WithoutRoot()}
		if *workers > 0 {
			opts = append(opts, mpimap.WithWorkers(*workers))
		}
		if err := bigFigure(ctx, world, "array_32k_"+sched.name, arrayTask[array32k], opts); err != nil {
			return err
		}
		if err := bigFigure(ctx, world, "array_1m_"+sched.name, arrayTask[array1m], opts); err != nil {
			return err
		}
		if err := bigFigure(ctx, world, "slice_32k_"+sched.name, sliceTask(4096), opts); err != nil {
			return err
		}
		if err := bigFigure(ctx, world, "slice_1m_"+sched.name, sliceTask(131072), opts); err != nil {
			return err
		}
	}
	return nil
}

// arrayTask is task i's array: i in its first and last element.
func arrayTask[A array32k | array1m](_ context.Context, i int) (r A, _ error) {
	r[0], r[len(r)-1] = float64(i), float64(i)
	return r, nil
}

// sliceTask makes tasks whose results are slices of n elements, i in the
// first and the last.
func sliceTask(n int) func(context.Context, int) ([]float64, error) {
	return func(_ context.Context, i int) ([]float64, error) {
		r := make([]float64, n)
		r[0], r[n-1] = float64(i), float64(i)
		return r, nil
	}
}

// bigFigure maps tasks returning results of type R of bigBytes in all, -reps
// times after a warm-up, and prints the medians of rank 0's figures.
func bigFigure[R array32k | array1m | []float64](ctx context.Context, world mpi.Comm, name string,
	fn func(context.Context, int) (R, error), opts []mpimap.Option) error {
	one, _ := fn(ctx, 0)
	size := len(one) * 8
	n := bigBytes / size
	var gbs, ratio, objs []float64
	for rep := -1; rep < *reps; rep++ {
		runtime.GC()
		if err := world.Barrier(); err != nil {
			return err
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		res, err := mpimap.MapN(ctx, world, n, fn, opts...)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if world.Rank() != 0 {
			continue
		}
		for i, r := range res {
			if len(r) != size/8 || r[0] != float64(i) || r[len(r)-1] != float64(i) {
				return fmt.Errorf("%s: result %d is wrong", name, i)
			}
		}
		if rep < 0 {
			continue // the warm-up
		}
		gbs = append(gbs, float64(n*size)/elapsed.Seconds()/1e9)
		ratio = append(ratio, float64(after.TotalAlloc-before.TotalAlloc)/float64(n*size))
		objs = append(objs, float64(after.Mallocs-before.Mallocs)/float64(n))
	}
	if world.Rank() == 0 {
		fmt.Printf("big_%s_gbs %.4g\nbig_%s_alloc_ratio %.4g\nbig_%s_objs_per_result %.4g\n",
			name, median(gbs), name, median(ratio), name, median(objs))
	}
	return nil
}
