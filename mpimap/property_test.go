package mpimap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// trial is a map drawn at random: what it computes and how it is spread.
type trial struct {
	n, failEvery, panicEvery int
	fn                       string // Map, MapN, Each or EachN
	inputs                   bool   // WithInput: each task checks its input
	opts                     []mpimap.Option
	desc                     string
}

// drawTrial draws a trial from r: every option a user may combine, tasks
// that fail or panic at indices that do not depend on where they run.
func drawTrial(r *rand.Rand) trial {
	t := trial{n: r.IntN(300), fn: []string{"Map", "MapN", "Each", "EachN"}[r.IntN(4)]}
	if r.IntN(3) == 0 {
		t.failEvery = 2 + r.IntN(40)
	}
	if r.IntN(4) == 0 {
		t.panicEvery = 3 + r.IntN(50)
	}
	s := mpimap.Schedule(r.IntN(4))
	chunk := []int{1, 2, 7, 16, 1 << 40}[r.IntN(5)]
	workers := 1 + r.IntN(4)
	t.opts = []mpimap.Option{mpimap.WithSchedule(s), mpimap.WithChunk(chunk), mpimap.WithWorkers(workers)}
	t.desc = fmt.Sprintf("%s n=%d fail/%d panic/%d %v chunk=%d workers=%d", t.fn, t.n, t.failEvery, t.panicEvery, s, chunk, workers)
	if r.IntN(3) == 0 {
		t.opts = append(t.opts, mpimap.WithoutRoot())
		t.desc += " without-root"
	}
	if k := r.IntN(3); k > 0 {
		t.opts = append(t.opts, mpimap.WithRetries(k))
		t.desc += fmt.Sprintf(" retries=%d", k)
	}
	if s == mpimap.Dynamic || s == mpimap.Guided {
		if t.inputs = r.IntN(2) == 0; t.inputs {
			t.opts = append(t.opts, mpimap.WithInput(inputOf))
			t.desc += " input"
		}
	}
	return t
}

// task is the trial's function: a string that depends on the index alone.
func (t trial) task(_ context.Context, i int) (string, error) {
	if t.panicEvery > 0 && i%t.panicEvery == 1 {
		panic(fmt.Sprintf("panic at %d", i))
	}
	if t.failEvery > 0 && i%t.failEvery == 0 {
		return "", fmt.Errorf("fails at %d", i)
	}
	return strconv.Itoa(i*i) + "-" + strconv.Itoa(i), nil
}

// failing is the set of tasks the trial's function fails, in order.
func (t trial) failing() []int {
	var f []int
	for i := range t.n {
		if _, err := t.safeTask(i); err != nil {
			f = append(f, i)
		}
	}
	return f
}

func (t trial) safeTask(i int) (r string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	return t.task(context.Background(), i)
}

// run runs the trial on c and returns rank 0's results (in index order) and
// the error.
func (t trial) run(ctx context.Context, c mpi.Comm) ([]string, error) {
	args := indices(t.n)
	task := t.task
	if t.inputs {
		task = func(ctx context.Context, i int) (string, error) {
			if got := mpimap.TaskInput(ctx); !bytes.Equal(got, inputOf(i)) {
				return "", fmt.Errorf("task %d got the input %q, want %q", i, got, inputOf(i))
			}
			return t.task(ctx, i)
		}
	}
	byArg := func(ctx context.Context, i int) (string, error) { return task(ctx, i) }
	var out []string
	if c.Rank() == 0 {
		out = make([]string, t.n)
	}
	sink := func(i int, r string) error { out[i] = r; return nil }
	switch t.fn {
	case "Map":
		return mpimap.Map(ctx, c, args, byArg, t.opts...)
	case "MapN":
		return mpimap.MapN(ctx, c, t.n, task, t.opts...)
	case "Each":
		return out, mpimap.Each(ctx, c, args, byArg, sink, t.opts...)
	}
	return out, mpimap.EachN(ctx, c, t.n, task, sink, t.opts...)
}

// check holds the promises: the results are what the function gives at
// every index that did not fail, the zero value elsewhere; the error names
// exactly the failing tasks, as TaskErrors in index order, on every rank.
func (t trial) check(c mpi.Comm, got []string, err error) error {
	want := t.failing()
	var tasks []int
	if err != nil {
		var joined interface{ Unwrap() []error }
		if !errors.As(err, &joined) {
			return fmt.Errorf("the error %v is not a list of TaskErrors", err)
		}
		for _, e := range joined.Unwrap() {
			var te *mpimap.TaskError
			if !errors.As(e, &te) {
				return fmt.Errorf("%v is not a TaskError", e)
			}
			tasks = append(tasks, te.Index)
		}
	}
	if !slices.Equal(tasks, want) {
		return fmt.Errorf("failed tasks %v, want %v (error %v)", tasks, want, err)
	}
	if c.Rank() != 0 {
		if got != nil && (t.fn == "Map" || t.fn == "MapN") {
			return fmt.Errorf("rank %d got results", c.Rank())
		}
		return nil
	}
	if len(got) != t.n {
		return fmt.Errorf("%d results, want %d", len(got), t.n)
	}
	for i, r := range got {
		w, e := t.safeTask(i)
		if e != nil {
			w = ""
		}
		if r != w {
			return fmt.Errorf("result %d is %q, want %q", i, r, w)
		}
	}
	return nil
}

// TestPromisesProperty draws maps of every option and function at random
// and checks the promises on each: the results do not depend on the number
// of ranks, the schedule, the chunk, the workers, rank 0's role or retries
// that find the same failure everywhere; every rank returns an error
// exactly when a task failed, naming those tasks; nothing hangs (the test's
// time limit). HPCMAP_PROPERTY_SEED draws other trials; the failing trial is
// printed.
func TestPromisesProperty(t *testing.T) {
	seed := uint64(1)
	if s := os.Getenv("HPCMAP_PROPERTY_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	trials := 60
	if mpitest.RealMPI() {
		trials = 15
	}
	for _, k := range []int{1, 2} {
		withNodeSize(t, k, func(t *testing.T) {
			mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
				r := rand.New(rand.NewPCG(seed, uint64(c.Size()*10+k)))
				var errs []error
				for i := range trials {
					tr := drawTrial(r)
					got, err := tr.run(ctx, c)
					if err := tr.check(c, got, err); err != nil {
						errs = append(errs, fmt.Errorf("trial %d (%s): %w", i, tr.desc, err))
					}
				}
				return errors.Join(errs...)
			})
		})
	}
}
