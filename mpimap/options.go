package mpimap

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"time"
)

// Option configures a Map.
type Option func(*config)

// WithSchedule sets how tasks are shared among ranks; the default is Block.
func WithSchedule(s Schedule) Option {
	return func(c *config) {
		if s < 0 || s >= numSchedules {
			c.fail(fmt.Errorf("mpimap: WithSchedule(%d): no such schedule", int(s)))
		}
		c.schedule = s
	}
}

// WithChunk sets the tasks per message for Dynamic, and the least chunk for
// Guided; the default is 1. Larger chunks cost fewer messages and balance the
// load more coarsely.
func WithChunk(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.fail(fmt.Errorf("mpimap: WithChunk(%d): a chunk is at least one task", n))
		}
		c.chunk = n
	}
}

// WithWorkers sets the goroutines per rank that run the task function; the
// default, and the meaning of 0, is runtime.GOMAXPROCS(0), which under
// Slurm's CPU binding is the CPUs per task. At most MaxWorkers.
func WithWorkers(n int) Option {
	return func(c *config) {
		switch {
		case n < 0:
			c.fail(fmt.Errorf("mpimap: WithWorkers(%d): the number of workers cannot be negative", n))
		case n > MaxWorkers:
			c.fail(fmt.Errorf("mpimap: WithWorkers(%d): at most %d goroutines per rank", n, MaxWorkers))
		}
		c.workers = n
	}
}

// MaxWorkers is the most worker goroutines a rank may have: far more than
// cores, for tasks that mostly wait, while a rank's queues stay small.
const MaxWorkers = 1 << 16

// WithoutRoot keeps rank 0 from running tasks when there are other ranks, so
// that it only deals tasks and gathers results: for very large jobs, where
// serving hundreds of ranks is a full-time job.
func WithoutRoot() Option { return func(c *config) { c.noRoot = true } }

// WithJournal makes rank 0 append every result to the file at path as it
// arrives, so that a job killed at its time limit loses at most the tasks in
// flight. Running the same Map again with the same journal skips the tasks
// already journaled, and returns the complete results, identical to an
// uninterrupted run. Every rank passes the option; only rank 0 opens the
// file. Args must be encodable, to fingerprint them.
//
// A journal written by a different map is an error, never mixed in. The
// journal knows the number of tasks, the arguments (their type and values,
// whatever the order in which their maps iterate), and the result type down
// to every field; it cannot know what else fn's results depend on: its
// parameters (iterations, a seed, a tolerance), the version of its code.
// Key is for those. Pass strings that say them, such as
// WithJournal(path, "iterations=100000", "seed=1", "v2"); a map with another
// key refuses the journal and says what both keys are. The key is stored in
// the journal as it is and compared byte for byte, so it must say the same
// thing in every run that should resume: write numbers in a fixed format
// (strconv.FormatFloat(x, 'g', -1, 64) gives every float64 exactly), not
// with a pointer, a time or a map's iteration order in them.
func WithJournal(path string, key ...string) Option {
	return func(c *config) {
		if path == "" {
			c.fail(fmt.Errorf("mpimap: WithJournal(\"\"): the journal needs a path"))
		}
		c.journal = path
		c.journalKey = slices.Clone(key)
	}
}

// WithTaskTimeout limits each task to d: the task's context carries the
// deadline, and a task still running at the deadline fails with an error
// matching context.DeadlineExceeded. A fn that ignores its context is
// abandoned: its goroutine runs on until fn returns, its result discarded,
// and the worker moves on to the next task.
func WithTaskTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.fail(fmt.Errorf("mpimap: WithTaskTimeout(%v): the time limit must be positive", d))
		}
		c.timeout = d
	}
}

// WithRetries runs a failed task (an error, a panic or a timeout) again, up
// to n more times, on another rank where there is one. The TaskError of a task
// that failed every attempt says how many were made.
func WithRetries(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.fail(fmt.Errorf("mpimap: WithRetries(%d): the number of retries cannot be negative", n))
		}
		c.retries = n
	}
}

// WithProgress makes rank 0 report on w how far the map is: tasks done of
// the total (as "done/total"), failures, rate and time left. On a terminal
// it redraws one line in place, at most ten times a second; elsewhere (a
// batch job's log) it writes a plain line each tenth of the work or every
// 30 s, whichever comes first, and a last line when the map ends. A map
// resumed from a journal first says how many tasks the journal holds, and
// its rate and time left count only the tasks run since.
func WithProgress(w io.Writer) Option {
	return func(c *config) {
		if w == nil {
			c.fail(fmt.Errorf("mpimap: WithProgress(nil): no writer"))
		}
		c.progress = w
	}
}

// WithStats makes rank 0 write to w, when the map ends, a table per rank and
// per host of the tasks run, their share, the time busy running them, the
// mean time per task, and the workers' idle time: a load imbalance shows at a
// glance. A map resumed from a journal counts shares of the tasks it ran, and
// says how many the journal held.
func WithStats(w io.Writer) Option {
	return func(c *config) {
		if w == nil {
			c.fail(fmt.Errorf("mpimap: WithStats(nil): no writer"))
		}
		c.stats = w
	}
}

// WithTrace makes rank 0 write to the file at path a CSV row per task
// attempt: index,rank,host,worker,start,end,attempt,status, with start and
// end in seconds from the map's start on the rank that ran the task. The
// trace package draws it as a Gantt chart per rank. Every rank passes the
// option, since every rank then times its tasks.
func WithTrace(path string) Option {
	return func(c *config) {
		if path == "" {
			c.fail(fmt.Errorf("mpimap: WithTrace(\"\"): the trace needs a path"))
		}
		c.trace = path
	}
}

// WithLogs sends the records that tasks write through Logger to h on rank 0,
// each tagged with the task's index, rank and host, in argument order; the
// default is slog.Default()'s handler.
func WithLogs(h slog.Handler) Option {
	return func(c *config) {
		if h == nil {
			c.fail(fmt.Errorf("mpimap: WithLogs(nil): no handler"))
		}
		c.logs = h
	}
}

// WithDrainGrace sets how long a stopped map (a cancelled context, a
// signal, a sink's error) waits for the tasks still running before it
// abandons them and returns; the default is 10 s. Their results, if they
// finish in time, are kept and journaled.
func WithDrainGrace(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.fail(fmt.Errorf("mpimap: WithDrainGrace(%v): the grace cannot be negative", d))
		}
		c.grace = &d
	}
}

// WithStreamedLogs writes the tasks' log records as they reach rank 0
// instead of in argument order: sooner, but the tasks' lines interleave.
func WithStreamedLogs() Option { return func(c *config) { c.streamLogs = true } }

type config struct {
	schedule   Schedule
	chunk      int
	workers    int
	noRoot     bool
	journal    string
	journalKey []string // what else shapes the results, in the journal's fingerprint
	timeout    time.Duration
	retries    int
	progress   io.Writer
	stats      io.Writer
	trace      string
	logs       slog.Handler
	streamLogs bool
	grace      *time.Duration // WithDrainGrace, if given
	inputs     bool           // WithInput given
	input      func(i int) []byte
	err        error // the first invalid option
}

func newConfig(opts []Option) config {
	c := config{schedule: Block, chunk: 1}
	for _, o := range opts {
		if o == nil {
			c.fail(fmt.Errorf("mpimap: nil Option"))
			continue
		}
		o(&c)
	}
	if c.workers == 0 {
		c.workers = runtime.GOMAXPROCS(0)
	}
	return c
}

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}
