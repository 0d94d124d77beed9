package farm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
)

// sink takes a finished task on rank 0: the joblog, the tally and --halt,
// the output, the progress.
func (f *farm) sink(k int, out Outcome) error {
	i := int(f.todo[k])
	if out.NotRun {
		return nil
	}
	if out.Interrupted || f.stoppedWith(out) {
		f.late = append(f.late, int64(i+1))
		return nil
	}
	args := f.args.Args(i)
	cmd := f.tmpl.render(args, i+1, out.Slot)
	errw := f.stdio.Stderr
	if out.TimedOut {
		fmt.Fprintf(errw, "hpcmap farm: Warning: This job was killed because it timed out:\nhpcmap farm: Warning: %s\n", cmd)
	}
	failed := out.Exitval != 0 || out.Signal != 0
	if err := f.print.add(k, strings.Join(args, " "), &out); err != nil {
		f.sinkErr = err
		return err
	}
	out.Stdout, out.Stderr = nil, nil
	if failed {
		f.held = append(f.held, heldFailure{seq: i + 1, out: out, cmd: cmd})
	} else if f.log != nil {
		if err := f.log.add(i+1, &out, cmd); err != nil {
			f.sinkErr = err
			return err
		}
	}
	if err := f.settleFailures(false); err != nil {
		f.sinkErr = err
		return err
	}
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
	return nil
}

var errHalted = errors.New("--halt")

// heldFailure is a failed task whose joblog line waits: a stop that comes
// soon after may show that the stop ended it (see stoppedWith).
type heldFailure struct {
	seq int
	out Outcome // without its output, printed already
	cmd string
}

// holdFailures is how long a failed task waits before it counts as failed
// for good: stoppedWith's second, and one more for the clocks of different
// hosts.
const holdFailures = 2 * time.Second

// settleFailures decides what the held failures were: interrupted, if a
// stop came within the second after they ended; failed, once that cannot
// be, or at the end (final). A failed one goes into the joblog.
func (f *farm) settleFailures(final bool) error {
	now := float64(time.Now().UnixNano()) / 1e9
	held := f.held[:0]
	var err error
	for _, h := range f.held {
		switch {
		case f.stoppedWith(h.out):
			f.late = append(f.late, int64(h.seq))
			f.tally.forget(h.out.Exitval, h.out.Signal)
		case !final && now < h.out.Start+h.out.Runtime+holdFailures.Seconds():
			held = append(held, h)
		case f.log != nil && err == nil:
			err = f.log.add(h.seq, &h.out, h.cmd)
		}
	}
	f.held = held
	return err
}

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
	status, err := f.finishTogether(deadline)
	if err != nil {
		return 0, err
	}
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

// finishTogether ends the run on every rank: stops this rank's leftover
// processes, and prints what rank 0 still holds, fetching the output that
// other ranks kept, which they serve meanwhile. It returns rank 0's error
// in printing (or writing the joblog), and err when MPI failed.
func (f *farm) finishTogether(deadline time.Time) (status, err error) {
	f.runner.groups.shutdown(deadline)
	defer f.runner.keep.close()
	if f.c.Rank() != 0 {
		return nil, serveKept(f.c, f.runner.keep)
	}
	ft := &fetcher{c: f.c, own: f.runner.keep}
	status = f.closeOutput(ft)
	return status, ft.end()
}

// finish stops this rank's leftover processes after the map failed and,
// on rank 0, prints what it can and closes the joblog.
func (f *farm) finish(deadline time.Time) {
	f.runner.groups.shutdown(deadline)
	defer f.runner.keep.close()
	if f.c.Rank() == 0 {
		f.closeOutput(nil)
	}
}

// closeOutput prints what rank 0 still holds and closes the joblog.
func (f *farm) closeOutput(ft *fetcher) error {
	err := errors.Join(f.print.flush(ft), f.settleFailures(true))
	if f.log != nil {
		err = errors.Join(err, f.log.close())
	}
	return errors.Join(f.sinkErr, err)
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
	all = slices.Compact(all) // a task's rank and rank 0 may both have noted it
	var seqs []string
	for _, s := range all {
		seqs = append(seqs, fmt.Sprint(s))
	}
	notStarted := len(f.todo) - f.tally.done - len(seqs)
	sig, by := syscall.SIGTERM, "SIGTERM"
	switch why := context.Cause(f.signals); {
	case f.sinkErr != nil:
		by = "the error above"
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
	if f.sinkErr == nil && (code == 0 || code == exitError) {
		code = 128 + int(sig)
	}
	return code
}
