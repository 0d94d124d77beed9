package mpimap

import "time"

// The worker is the part of a rank that runs tasks: it asks its dealer for
// chunks, hands them to its executor (the rank's goroutines), and reports
// the results. It is a state machine: it takes in finished pieces, orders
// and the time, and gives out reports; it never communicates itself, so the
// same worker runs over MPI, over Local's ranks, inside rank 0 facing its
// own dealer, and in a simulator. The dealer (dealer.go) is its mirror.

// executor runs the tasks a worker hands it.
type executor interface {
	add(s span) // run the tasks of s, leaving out journaled ones
	held() int  // tasks handed over and not yet finished
	stop()      // start no more tasks; tell running ones (their context)
	abandon()   // stop waiting for running tasks
}

// drainGrace is how long a stopped map waits for the tasks in flight before
// abandoning them, unless WithDrainGrace says otherwise: so that a job at its
// time limit still gets to save what it has (Slurm kills 30 s after its
// warning by default).
var drainGrace = 10 * time.Second

// holdFor is how long a worker that awaits chunks keeps finished results to
// send them with its next request: a message per round trip, not per piece.
const holdFor = time.Millisecond

type worker[R any] struct {
	exec      executor
	chunk     int
	slots     int           // the executor's goroutines: the dealer lets it hold a chunk for each
	grace     time.Duration // how long a stop waits for running tasks
	local     bool          // rank 0's own: its reports cost nothing, so none waits
	win       window
	exhausted bool // no more chunks will come
	awaiting  bool // a request for chunks is unanswered
	asked     time.Time
	stopping  bool
	stoppedAt time.Time
	cause     string // why this rank stopped, if it did
	ready     []pieceDone[R]
	readyHeld int           // tasks in ready
	own       map[int]error // the errors of tasks that failed here
	finished  bool          // the final report is out
	// compact, if set, rewrites the pieces of a report about to go: a
	// node's leader merges its ranks' pieces there.
	compact func([]pieceDone[R]) []pieceDone[R]
}

// newWorker is a worker whose executor has workers goroutines. A static
// share is known in advance: it is handed over at once, and a worker asks
// for chunks only if failed tasks may come back to run again (retries).
func newWorker[R any](exec executor, workers, chunk int, share *span, retries, local bool) *worker[R] {
	w := &worker[R]{exec: exec, chunk: chunk, slots: workers, grace: drainGrace, local: local, own: map[int]error{},
		win: window{workers: max(workers, 1), chunk: chunk}}
	if share != nil {
		exec.add(*share)
		w.exhausted = !retries
	}
	return w
}

// done takes in pieces the executor has finished.
func (w *worker[R]) done(pieces []pieceDone[R]) {
	for _, d := range pieces {
		w.readyHeld += d.s.count
		w.win.ran(d.ran, d.took.Seconds())
		for _, f := range d.fails {
			w.own[f.index] = f.err
		}
	}
	w.ready = append(w.ready, pieces...)
}

// receive takes in an order of the dealer's.
func (w *worker[R]) receive(now time.Time, o *order) error {
	switch o.kind {
	case kindChunks:
		w.awaiting = false
		w.win.roundTrip(now.Sub(w.asked).Seconds())
		w.exhausted = len(o.spans) == 0
		for _, s := range o.spans {
			w.exec.add(s)
		}
	case kindStop:
		w.stop(now, "stopped by rank 0")
	case kindAbort:
		return rootAbort{o.text}
	default:
		return errUnexpected(o.kind)
	}
	return nil
}

// stop starts no more tasks, for the reason given, and drains the running
// ones.
func (w *worker[R]) stop(now time.Time, why string) {
	if !w.stopping {
		w.stopping, w.stoppedAt, w.cause = true, now, why
		w.exec.stop()
	}
}

// next is the report to send now, if there is one: results, a request for
// more chunks, or the final report, after which the worker is finished.
func (w *worker[R]) next(now time.Time) *report[R] {
	if w.finished {
		return nil
	}
	if w.stopping && w.exec.held() > 0 && now.Sub(w.stoppedAt) > w.grace {
		w.exec.abandon()
	}
	held := w.exec.held()
	want := 0
	if target := w.win.target(); !w.exhausted && !w.stopping && !w.awaiting && held < target {
		want = max(1, (target-held)/w.chunk)
	}
	final := held == 0 && !w.awaiting && (w.exhausted || w.stopping)
	// While a request is on its way, results wait to go with the next one.
	// Not for long, and not too many, so that the journal and progress stay
	// current and a request the dealer holds back (retries) cannot hold the
	// results too.
	hold := !w.local && w.awaiting && now.Sub(w.asked) < holdFor && w.readyHeld < w.win.target()/2
	if !(len(w.ready) > 0 && !hold || want > 0 || final) {
		return nil
	}
	pieces := w.ready
	if w.compact != nil {
		pieces = w.compact(pieces)
	}
	rep := &report[R]{kind: kindResults, want: want, slots: w.slots, pieces: pieces}
	if final {
		rep.kind, rep.cause, w.finished = kindFinal, w.cause, true
	}
	w.ready, w.readyHeld = nil, 0
	if want > 0 {
		w.awaiting, w.asked = true, now
	}
	return rep
}
