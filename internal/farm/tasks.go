package farm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/hpcmap/hpcmap/mpimap"
)

// run runs the tasks, and says how it ended.
func (f *farm) run(ctx context.Context) (int, error) {
	if err := f.start(); err != nil {
		return f.refuse(err), nil
	}
	context.AfterFunc(f.signals, func() { f.stopped.CompareAndSwap(0, time.Now().UnixNano()) })
	runCtx, halt := context.WithCancelCause(ctx)
	defer halt(nil)
	f.halt = halt
	err := mpimap.EachN(runCtx, f.c, f.n, f.task, f.sink, f.mapOptions()...)
	interrupted := errors.Is(err, mpimap.ErrInterrupted)
	if interrupted && !f.tally.halted {
		// A signal to another rank stopped the map before this rank's
		// own came, if it comes: the stop is now, for stoppedWith.
		f.stopped.CompareAndSwap(0, time.Now().UnixNano())
	}
	var taskErrs []error
	var te *mpimap.TaskError
	for _, e := range flatten(err) {
		switch {
		case errors.Is(e, mpimap.ErrInterrupted):
		case errors.As(e, &te):
			taskErrs = append(taskErrs, e)
		case f.sinkErr != nil && errors.Is(e, f.sinkErr):
			// Rank 0 could not write the output or the joblog: reported
			// with the rest, after the tasks running have ended.
		default:
			// The map itself failed (MPI): end the job.
			f.finish(time.Now())
			return 0, err
		}
	}
	deadline := time.Now().Add(f.o.grace)
	if at := f.stopped.Load(); at != 0 {
		deadline = time.Unix(0, at).Add(f.o.grace)
	}
	return f.conclude(interrupted, taskErrs, deadline)
}

// mapOptions are the engine's options for the farm: each task dealt alone,
// as soon as a slot is free, on as many goroutines as the rank has slots,
// with its arguments.
func (f *farm) mapOptions() []mpimap.Option {
	opts := []mpimap.Option{mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithChunk(1),
		mpimap.WithWorkers(f.slots), mpimap.WithDrainGrace(f.drainGrace()), mpimap.WithInput(f.input)}
	if f.o.progress {
		opts = append(opts, mpimap.WithProgress(f.stdio.Stderr))
	}
	return opts
}

// drainGrace is how long a stopped map waits for the tasks still running.
// Those a stop kills get SIGTERM at once and SIGKILL after --grace: the map
// waits a little longer, for the kill and the report. Under --halt soon the
// running tasks are left to finish, however long they take, unless a signal
// comes, which kills them as above.
func (f *farm) drainGrace() time.Duration {
	if f.o.halt.when == "soon" {
		return time.Duration(math.MaxInt64)
	}
	return f.o.grace + killMargin
}

// killMargin is the time a killed task's shell takes to be reaped and
// reported, beyond --grace.
const killMargin = 5 * time.Second

// flatten lists the errors that err joins.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// start makes ready to run tasks: the runner and its guardian on every rank,
// the joblog, printer and progress on rank 0.
func (f *farm) start() error {
	env := taskEnvironment(os.Environ(), f.gpus != nil)
	stdin, err := os.Open(os.DevNull)
	var guard *guardian
	if err == nil {
		guard, err = startGuardian(env, f.o.grace)
	}
	if err = together(f.c, err); err != nil {
		return err
	}
	f.free = make(chan int, f.slots)
	for s := range f.slots {
		f.free <- f.first + s
	}
	f.runner = &runner{
		shell: shell(), env: env, direct: newDirectExec(shell(), env, f.gpus != nil), rank: f.c.Rank(), host: f.c.Host(), tmpdir: tmpdir(f.o),
		results: f.o.results, timeout: f.o.timeout, grace: f.o.grace, gpus: f.gpus, stdin: stdin,
		groups: newGroups(guard), keep: &keeper{dir: tmpdir(f.o)},
		signals: f.signals, soft: f.o.halt.when == "soon",
	}
	if f.c.Rank() != 0 {
		return together(f.c, nil)
	}
	f.tally = tally{policy: f.o.halt, total: len(f.todo)}
	f.print = newPrinter(f.stdio.Stdout, f.stdio.Stderr, f.o.keepOrder, f.o.tag, tmpdir(f.o), f.runner.keep)
	if done := f.args.Len() - len(f.todo); f.o.progress && done > 0 {
		fmt.Fprintf(f.stdio.Stderr, "progress: %d tasks done before, from the joblog %s; %d to run\n", done, f.o.joblog, len(f.todo))
	}
	if f.o.joblog != "" {
		f.log, err = openJoblog(f.o.joblog, f.o.joblogAppend || f.o.resume || f.o.resumeFailed)
	}
	return together(f.c, err)
}

// task runs the k-th task of the run on this rank, again while it fails and
// --retries allows. A task that a stop interrupted, or that a stop came
// before, is a result that says so: an error would be the task's failure
// unless the engine has taken the stop in already, which it may not have.
func (f *farm) task(ctx context.Context, k int) (Outcome, error) {
	if ctx.Err() != nil && f.runner.stopNow() || f.signals.Err() != nil {
		// The map may start a task in the moment before it sees the stop.
		return Outcome{NotRun: true}, nil
	}
	i, args, err := readTaskInput(mpimap.TaskInput(ctx))
	if err != nil {
		return Outcome{}, err
	}
	slot := <-f.free
	defer func() { f.free <- slot }()
	t := task{seq: i + 1, slot: slot, localSlot: slot - f.first, command: f.tmpl.render(args, i+1, slot)}
	var out Outcome
	for attempt := 1; attempt <= f.o.attempts(); attempt++ {
		var stopped bool
		var err error
		out, stopped, err = f.runner.run(ctx, t)
		switch {
		case err != nil:
			return out, err
		case stopped:
			out.Interrupted, out.Stdout, out.Stderr = true, nil, nil
			return out, nil
		case out.Exitval == 0 && out.Signal == 0, ctx.Err() != nil:
			return out, nil
		}
	}
	return out, nil
}

// input is, on rank 0, the k-th task's input, which the engine sends with
// the task: its index and arguments.
func (f *farm) input(k int) []byte {
	i := int(f.todo[k])
	return appendTaskInput(nil, i, f.args.Args(i))
}

// shell is the shell that runs the commands: $PARALLEL_SHELL, as for GNU
// Parallel, or /bin/sh.
func shell() string {
	if s := os.Getenv("PARALLEL_SHELL"); s != "" {
		return s
	}
	return "/bin/sh"
}

// checkShell refuses a shell whose quoting differs from the Bourne shell's:
// the values quoted for it would not reach the command intact.
func checkShell(sh string) error {
	name := sh[strings.LastIndexByte(sh, '/')+1:]
	switch name {
	case "csh", "tcsh", "fish", "rc", "es":
		return fmt.Errorf("PARALLEL_SHELL=%s: only Bourne-like shells (sh, dash, bash, ksh, zsh) quote as hpcmap farm does", sh)
	}
	if _, err := os.Stat(sh); err != nil {
		return fmt.Errorf("the shell that runs the tasks: %w", err)
	}
	return nil
}

// tmpdir is where temporary files go: --tmpdir, $TMPDIR, or /tmp.
func tmpdir(o *options) string {
	if o.tmpdir != "" {
		return o.tmpdir
	}
	return os.TempDir()
}
