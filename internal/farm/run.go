package farm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"

	"github.com/hpcmap/hpcmap/mpi"
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
	n      int     // the tasks to run
	todo   []int32 // on rank 0, the tasks (indices) to run, in order: all but those --resume skips
	slots  int     // this rank's job slots, numbered from firstSlot
	first  int
	total  int // job slots of all ranks
	gpus   [][]string
	free   chan int // this rank's idle slots
	runner *runner

	// On rank 0.
	log     *joblog
	print   *printer
	tally   tally
	sinkErr error // rank 0's failure to print or log, which stopped the map
	halt    context.CancelCauseFunc
	stopped atomic.Int64 // when a signal stopped the farm, in Unix nanoseconds
	late    []int64      // tasks that failed as the signal came: interrupted
	held    []heldFailure
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
	args, names, err := shareInputs(f.c, o, f.stdio.Stdin)
	if err != nil {
		return err
	}
	f.args, f.tmpl = args, parseTemplate(o.command, names)
	return f.planResume()
}

// planResume decides on rank 0 which tasks run (all, or those a --resume
// leaves), and tells every rank how many.
func (f *farm) planResume() error {
	var todo []int32
	var err error
	if f.c.Rank() == 0 {
		todo, err = f.toRun()
	}
	if err := together(f.c, err); err != nil {
		return err
	}
	count, err := mpi.BcastSlice(f.c, 0, []int64{int64(len(todo))})
	if err != nil {
		return err
	}
	f.todo, f.n = todo, int(count[0])
	return nil
}

// toRun is the tasks (indices) that run, on rank 0: all, or those a
// --resume leaves.
func (f *farm) toRun() ([]int32, error) {
	n := f.args.Len()
	var skip []bool // by task: what --resume skips; none without it
	if f.o.resume || f.o.resumeFailed {
		lines, cut, err := readJoblog(f.o.joblog)
		if err != nil {
			return nil, err
		}
		skip, err = resumable(lines, f.o.joblog, n, f.o.resumeFailed, func(i int) []string {
			return f.tmpl.renderAround(f.args.Args(i), i+1)
		})
		if err != nil {
			return nil, err
		}
		if cut >= 0 {
			fmt.Fprintf(f.stdio.Stderr, "hpcmap farm: the last line of %s was cut short (by a kill?): left out, its task runs again\n", f.o.joblog)
			if err := os.Truncate(f.o.joblog, cut); err != nil {
				return nil, err
			}
		}
	}
	todo := make([]int32, 0, n)
	for i := range n {
		if skip == nil || !skip[i] {
			todo = append(todo, int32(i))
		}
	}
	return slices.Clip(todo), nil
}

// dryRun prints the commands, on rank 0.
func (f *farm) dryRun() error {
	if f.c.Rank() != 0 {
		return nil
	}
	w := bufio.NewWriter(f.stdio.Stdout)
	for k, i := range f.todo {
		w.WriteString(f.tmpl.render(f.args.Args(int(i)), int(i)+1, k%f.total+1))
		w.WriteByte('\n')
	}
	return w.Flush()
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

// usageError is an error in what the user asked for (options, inputs,
// joblog): rank 0 says so and every rank exits 255, as GNU Parallel does.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
