package farm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// Stdio is where a farm reads its inputs and writes its output and
// messages, on rank 0.
type Stdio struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Exit statuses beside GNU Parallel's count of failed tasks.
const (
	exitError = 255 // a bad command line, unreadable inputs, a joblog of other inputs, ...
)

// Run runs hpcmap farm with the command line args (what follows "farm") on
// the ranks of world; it is collective. It returns the exit status, the
// same on every rank: as GNU Parallel's, the number of tasks that failed
// (101 for more than 100), what --halt decided, 255 for other errors, and
// 128+N when signal N stopped the farm. err is a failure of MPI itself,
// after which the job must end.
func Run(ctx context.Context, world mpi.Comm, args []string, stdio Stdio) (int, error) {
	f := &farm{c: world, stdio: stdio, signals: ctx}
	o, err := parseArgs(args)
	switch {
	case err != nil:
		return f.refuse(usageError{err}), nil
	case o.help:
		f.say(stdio.Stdout, "%s", usage())
		return 0, nil
	case o.version:
		f.say(stdio.Stdout, "hpcmap farm (GNU Parallel's command line over MPI ranks)\n")
		return 0, nil
	}
	f.o = o
	if err := f.setup(); err != nil {
		return f.refuse(err), nil
	}
	if o.dryRun {
		if err := f.dryRun(); err != nil {
			return f.refuse(err), nil
		}
		return 0, nil
	}
	return f.run(ctx)
}

// farm is one rank's part of a run.
type farm struct {
	c       mpi.Comm
	stdio   Stdio
	signals context.Context // cancelled by SIGTERM or SIGINT
	o       *options

	args   taskArgs
	tmpl   template
	todo   []int // the tasks (indices) to run, in order: all but those --resume skips
	slots  int   // this rank's job slots, numbered from firstSlot
	first  int
	total  int // job slots of all ranks
	gpus   [][]string
	free   chan int // this rank's idle slots
	runner *runner

	// On rank 0.
	log      *joblog
	print    *printer
	tally    tally
	progress *progress
	halt     context.CancelCauseFunc
	stopped  atomic.Int64 // when a signal stopped the farm, in Unix nanoseconds
	late     []int64      // tasks that failed as the signal came: interrupted
}

// say writes a message on rank 0.
func (f *farm) say(w io.Writer, format string, a ...any) {
	if f.c.Rank() == 0 {
		fmt.Fprintf(w, format, a...)
	}
}

// refuse reports an error of the user's (or any other) on rank 0 and gives
// the exit status for it.
func (f *farm) refuse(err error) int {
	f.say(f.stdio.Stderr, "hpcmap farm: %v\n", err)
	return exitError
}

// setup resolves the options on every rank: slots, inputs, the command, the
// tasks a --resume leaves.
func (f *farm) setup() error {
	o := f.o
	slots, gpus, err := rankSlots(o, usableCPUs(), os.Getenv)
	if err == nil {
		err = checkShell(shell())
	}
	if err = together(f.c, err); err != nil {
		return err
	}
	f.slots, f.gpus = slots, gpus
	counts, err := mpi.AllgatherSlice(f.c, []int64{int64(slots)})
	if err != nil {
		return err
	}
	for r, n := range counts {
		if r < f.c.Rank() {
			f.first += int(n[0])
		}
		f.total += int(n[0])
	}
	f.first++
	shimWindow.Store(int64(f.total))
	args, names, err := shareInputs(f.c, o, f.stdio.Stdin)
	if err != nil {
		return err
	}
	f.args, f.tmpl = args, parseTemplate(o.command, names)
	return f.planResume()
}

// planResume decides on rank 0 which tasks run (all, or those a --resume
// leaves) and tells every rank.
func (f *farm) planResume() error {
	n := f.args.Len()
	var skip []bool
	var rerr error
	if f.c.Rank() == 0 && (f.o.resume || f.o.resumeFailed) {
		var lines []logged
		var cut int64
		lines, cut, rerr = readJoblog(f.o.joblog)
		if rerr == nil {
			skip, rerr = resumable(lines, f.o.joblog, n, f.o.resumeFailed, func(i int) []string {
				return f.tmpl.renderAround(f.args.Args(i), i+1)
			})
		}
		if rerr == nil && cut >= 0 {
			fmt.Fprintf(f.stdio.Stderr, "hpcmap farm: the last line of %s was cut short (by a kill?): left out, its task runs again\n", f.o.joblog)
			rerr = os.Truncate(f.o.joblog, cut)
		}
	}
	bits := make([]byte, (n+7)/8)
	for i, s := range skip {
		if s {
			bits[i/8] |= 1 << (i % 8)
		}
	}
	if err := together(f.c, rerr); err != nil {
		return err
	}
	bits, err := f.c.Bcast(0, bits)
	if err != nil {
		return err
	}
	for i := range n {
		if bits[i/8]&(1<<(i%8)) == 0 {
			f.todo = append(f.todo, i)
		}
	}
	return nil
}

// dryRun prints the commands, on rank 0.
func (f *farm) dryRun() error {
	if f.c.Rank() != 0 {
		return nil
	}
	w := bufio.NewWriter(f.stdio.Stdout)
	for k, i := range f.todo {
		w.WriteString(f.tmpl.render(f.args.Args(i), i+1, k%f.total+1))
		w.WriteByte('\n')
	}
	return w.Flush()
}

// run runs the tasks, and says how it ended.
func (f *farm) run(ctx context.Context) (int, error) {
	if err := f.start(); err != nil {
		return f.refuse(err), nil
	}
	context.AfterFunc(f.signals, func() { f.stopped.CompareAndSwap(0, time.Now().UnixNano()) })
	runCtx, halt := context.WithCancelCause(ctx)
	defer halt(nil)
	f.halt = halt
	opts := []mpimap.Option{mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithWorkers(f.slots)}
	err := eachN(runCtx, f.c, len(f.todo), f.task, f.sink, opts...)
	interrupted := errors.Is(err, mpimap.ErrInterrupted)
	var taskErrs []error
	var te *mpimap.TaskError
	for _, e := range flatten(err) {
		switch {
		case errors.Is(e, mpimap.ErrInterrupted):
		case errors.As(e, &te):
			taskErrs = append(taskErrs, e)
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
	soft := f.o.halt.when == "soon"
	f.runner = &runner{
		shell: shell(), env: env, rank: f.c.Rank(), host: f.c.Host(), tmpdir: tmpdir(f.o),
		results: f.o.results, timeout: f.o.timeout, grace: f.o.grace, gpus: f.gpus, stdin: stdin,
		groups:  newGroups(guard),
		stopNow: func() bool { return !soft || f.signals.Err() != nil },
	}
	if f.c.Rank() != 0 {
		return together(f.c, nil)
	}
	f.tally = tally{policy: f.o.halt, total: len(f.todo)}
	f.print = newPrinter(f.stdio.Stdout, f.stdio.Stderr, f.o.keepOrder, f.o.tag, tmpdir(f.o))
	if f.o.progress {
		f.progress = newProgress(f.stdio.Stderr, len(f.todo), f.args.Len()-len(f.todo))
	}
	if f.o.joblog != "" {
		f.log, err = openJoblog(f.o.joblog, f.o.joblogAppend || f.o.resume || f.o.resumeFailed)
	}
	return together(f.c, err)
}

// task runs the k-th task of the run on this rank, again while it fails and
// --retries allows. A task that a stop interrupted is an error, so that the
// map counts it as not run.
func (f *farm) task(ctx context.Context, k int) (Outcome, error) {
	if ctx.Err() != nil && f.runner.stopNow() {
		// The map may start a task in the moment before it sees the stop.
		return Outcome{}, errStopped
	}
	i := f.todo[k]
	slot := <-f.free
	defer func() { f.free <- slot }()
	t := task{seq: i + 1, slot: slot, localSlot: slot - f.first, command: f.tmpl.render(f.args.Args(i), i+1, slot)}
	var out Outcome
	for attempt := 1; attempt <= f.o.attempts(); attempt++ {
		var stopped bool
		var err error
		out, stopped, err = f.runner.run(ctx, t)
		switch {
		case err != nil:
			return out, err
		case stopped:
			return out, errStopped
		case out.Exitval == 0 && out.Signal == 0, ctx.Err() != nil:
			return out, nil
		}
	}
	return out, nil
}

var errStopped = errors.New("farm: stopped")

// sink takes a finished task on rank 0: the joblog, the tally and --halt,
// the output, the progress.
func (f *farm) sink(k int, out Outcome) error {
	i := f.todo[k]
	if f.stoppedWith(out) {
		f.late = append(f.late, int64(i+1))
		return nil
	}
	args := f.args.Args(i)
	cmd := f.tmpl.render(args, i+1, out.Slot)
	errw := f.stdio.Stderr
	if out.TimedOut {
		fmt.Fprintf(errw, "hpcmap farm: Warning: This job was killed because it timed out:\nhpcmap farm: Warning: %s\n", cmd)
	}
	if f.log != nil {
		if err := f.log.add(i+1, &out, cmd); err != nil {
			return err
		}
	}
	if err := f.print.add(k, strings.Join(args, " "), out.Stdout, out.Stderr); err != nil {
		return err
	}
	failed := out.Exitval != 0 || out.Signal != 0
	if f.o.halt.when != "" {
		switch why := f.o.halt.why; {
		case why == "fail" && failed:
			fmt.Fprintf(errw, "hpcmap farm: This job failed:\n%s\n", cmd)
		case why == "success" && !failed:
			fmt.Fprintf(errw, "hpcmap farm: This job succeeded:\n%s\n", cmd)
		case why == "done":
			fmt.Fprintf(errw, "hpcmap farm: This job finished:\n%s\n", cmd)
		}
	}
	if f.tally.add(out.Exitval, out.Signal) {
		if f.o.halt.when == "soon" {
			fmt.Fprintf(errw, "hpcmap farm: Starting no more jobs. Waiting for the running ones to finish.\n")
		}
		f.halt(errHalted)
	}
	f.progress.tick(failed)
	return nil
}

var errHalted = errors.New("--halt")

// stoppedWith reports whether a task that failed in the second before
// a signal stopped the farm was stopped by that signal: Slurm's scancel
// --signal reaches the tasks as well as the ranks, and a task may end
// before its rank has seen the signal. Such a task counts as interrupted,
// so that --resume runs it again.
func (f *farm) stoppedWith(out Outcome) bool {
	at := f.stopped.Load()
	failed := out.Exitval != 0 || out.Signal != 0
	return at != 0 && failed && out.Start+out.Runtime >= float64(at)/1e9-1
}

// conclude ends a run on every rank: stops what is left of the tasks,
// reports, and agrees on the exit status.
func (f *farm) conclude(interrupted bool, taskErrs []error, deadline time.Time) (int, error) {
	status := f.finish(deadline)
	mine := []int64{}
	f.runner.mu.Lock()
	for _, seq := range f.runner.interrupted {
		mine = append(mine, int64(seq))
	}
	f.runner.mu.Unlock()
	all, err := mpi.GatherSlice(f.c, 0, mine)
	if err != nil {
		return 0, err
	}
	code := int64(0)
	if f.c.Rank() == 0 {
		code = int64(f.report(status, interrupted, taskErrs, all))
	}
	codes, err := mpi.BcastSlice(f.c, 0, []int64{code})
	if err != nil {
		return 0, err
	}
	return int(codes[0]) & 0xff, nil
}

// finish stops this rank's leftover processes and, on rank 0, flushes the
// output and closes the joblog; it returns rank 0's error in doing so.
func (f *farm) finish(deadline time.Time) error {
	f.runner.groups.shutdown(deadline)
	if f.c.Rank() != 0 {
		return nil
	}
	err := f.print.flush()
	if f.log != nil {
		err = errors.Join(err, f.log.close())
	}
	f.progress.end()
	return err
}

// report says on rank 0 how the run ended, and gives the exit status.
func (f *farm) report(finishErr error, interrupted bool, taskErrs []error, stopped [][]int64) int {
	w := f.stdio.Stderr
	code := f.tally.exitStatus()
	for _, e := range taskErrs {
		fmt.Fprintf(w, "hpcmap farm: %v\n", e)
		code = exitError
	}
	if finishErr != nil {
		fmt.Fprintf(w, "hpcmap farm: %v\n", finishErr)
		code = exitError
	}
	interrupted = interrupted || len(f.late) > 0
	if !interrupted || f.tally.halted {
		return code
	}
	all := slices.Clone(f.late)
	for _, r := range stopped {
		all = append(all, r...)
	}
	slices.Sort(all)
	var seqs []string
	for _, s := range all {
		seqs = append(seqs, fmt.Sprint(s))
	}
	notStarted := len(f.todo) - f.tally.done - len(seqs)
	sig, by := syscall.SIGTERM, "SIGTERM"
	switch why := context.Cause(f.signals); {
	case why == nil:
		by = "a signal to another rank"
	case strings.HasPrefix(why.Error(), syscall.SIGINT.String()):
		sig, by = syscall.SIGINT, "SIGINT"
	}
	list := strings.Join(seqs, " ")
	if len(seqs) > 20 {
		list = strings.Join(seqs[:20], " ") + " ..."
	}
	fmt.Fprintf(w, "hpcmap farm: stopped by %v: %d tasks finished, %d were interrupted (%s), %d never started.\n",
		by, f.tally.done, len(seqs), list, max(0, notStarted))
	if f.o.joblog != "" {
		fmt.Fprintf(w, "hpcmap farm: the joblog %s lists only the finished tasks: run the same command with --resume to run the others.\n", f.o.joblog)
	} else {
		fmt.Fprintf(w, "hpcmap farm: with --joblog FILE, --resume could have run just the others.\n")
	}
	if code == 0 || code == exitError {
		code = 128 + int(sig)
	}
	return code
}

// together makes one rank's error every rank's: it returns nil on every
// rank if no rank has an error, and otherwise the lowest failing rank's.
func together(c mpi.Comm, err error) error {
	failed := int64(0)
	if err != nil {
		failed = 1
	}
	var anyFailed [1]int64
	if e := c.Allreduce(mpi.Bytes(anyFailed[:]), mpi.Bytes([]int64{failed}), mpi.Int64, mpi.Max); e != nil {
		return errors.Join(err, e)
	}
	if anyFailed[0] == 0 {
		return nil
	}
	var mine []byte
	if err != nil {
		mine = []byte(err.Error())
	}
	all, e := mpi.AllgatherSlice(c, mine)
	if e != nil {
		return errors.Join(err, e)
	}
	for r, msg := range all {
		if len(msg) == 0 {
			continue
		}
		if r == c.Rank() {
			return err
		}
		if r == 0 {
			return errors.New(string(msg))
		}
		return fmt.Errorf("rank %d: %s", r, msg)
	}
	return err
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

// usageError is an error in what the user asked for (options, inputs,
// joblog): rank 0 says so and every rank exits 255, as GNU Parallel does.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
