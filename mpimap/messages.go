package mpimap

import (
	"fmt"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
)

// The messages of a map, and every encoding of them. A worker sends its
// dealer reports on tagToDealer: results, with a request for more chunks; a
// final report when it is done; or word that it failed. A dealer sends its
// workers orders on tagToWorker: chunks (none when the supply is exhausted),
// stop, the outcome that ends the map, or abort.
//
// Every message begins with the sequence number of its map on the
// communicator (a uvarint), then its kind: a map discards the messages of an
// earlier one, which a failure may leave behind.
const (
	tagToDealer = mpi.ReservedTag
	tagToWorker = mpi.ReservedTag + 1
)

// Message kinds, the byte after the sequence number.
const (
	kindResults byte = iota + 1 // worker → dealer: pieces of results, and a request
	kindFinal                   // worker → dealer: last results; this rank is done
	kindChunks                  // dealer → worker: spans to run; none means no more
	kindStop                    // dealer → worker: stop starting tasks
	kindOutcome                 // dealer → worker: how the map ended
	kindAbort                   // dealer → worker: the map failed on rank 0
	kindFailed                  // worker → dealer: the map failed on that rank
)

// report is a worker's message to its dealer.
type report[R any] struct {
	kind   byte // kindResults, kindFinal or kindFailed
	want   int  // chunks requested
	slots  int  // the goroutines that run the sender's tasks
	pieces []pieceDone[R]
	cause  string     // kindFinal: why the rank stopped early; kindFailed: why it failed
	loads  []rankLoad // kindFinal: the map messages of the rank, and of its node's if it leads one
	// kindFinal from a leader: where the tasks of its merged pieces ran.
	tallies []rankTally
}

// load is how many map messages a rank handled and with how many ranks.
type load struct{ messages, peers int }

// rankLoad is a rank's load.
type rankLoad struct {
	rank int
	load
}

// rankTally is what a rank ran of the tasks whose pieces its leader merged:
// for rank 0's statistics, which would otherwise count them as the leader's.
type rankTally struct {
	rank    int
	host    string
	tasks   int
	busy    time.Duration
	workers int // the most goroutines seen
}

// order is a dealer's message to a worker.
type order struct {
	kind    byte
	spans   []span       // kindChunks: none means no more will come
	inputs  [][]byte     // kindChunks, with WithInput: each task's, in the spans' order
	text    string       // kindAbort: what went wrong
	outcome interruption // kindOutcome
	fails   []failure    // kindOutcome: every task that failed
}

// appendOrder appends o, as the map of sequence seq sends it, to dst.
func appendOrder(dst []byte, seq uint64, o *order) []byte {
	w := writer{b: dst}
	w.uint(int(seq))
	w.byte(o.kind)
	switch o.kind {
	case kindChunks:
		w.uint(len(o.spans))
		for _, s := range o.spans {
			w.span(s)
		}
		w.uint(len(o.inputs))
		for _, b := range o.inputs {
			w.bytes(b)
		}
	case kindAbort:
		w.string(o.text)
	case kindOutcome:
		w.uint(o.outcome.notRun)
		w.uint(len(o.outcome.causes))
		for _, c := range o.outcome.causes {
			w.string(c)
		}
		w.uint(len(o.fails))
		for _, f := range o.fails {
			w.failure(f)
		}
	}
	return w.b
}

// readOrder decodes the body of an order (after its sequence number) of a
// map of n tasks.
func readOrder(msg []byte, n int) (order, error) {
	r := reader{b: msg}
	o := order{kind: r.byte()}
	switch o.kind {
	case kindChunks:
		r.each(r.list(), func() { o.spans = append(o.spans, r.span(n)) })
		o.inputs = r.inputs(o.spans)
	case kindStop:
	case kindAbort:
		o.text = r.string()
	case kindOutcome:
		o.outcome = interruption{notRun: r.uint(), n: n}
		r.each(r.list(), func() { o.outcome.causes = append(o.outcome.causes, r.string()) })
		r.each(r.list(), func() { o.fails = append(o.fails, r.failure(n)) })
		if r.err == nil && (o.outcome.notRun > n || len(o.fails) > n) {
			r.fail(fmt.Errorf("outcome of %d tasks not run and %d failed in a map of %d", o.outcome.notRun, len(o.fails), n))
		}
	default:
		r.fail(fmt.Errorf("unknown message kind %d", o.kind))
	}
	return o, r.done()
}

// sequence splits a message into its map's sequence number and its body.
func sequence(msg []byte) (seq uint64, body []byte, ok bool) {
	r := reader{b: msg}
	s := r.uint()
	return uint64(s), r.b, r.err == nil
}

// failure is a task's error as it crosses ranks.
type failure struct {
	index   int
	attempt int
	rank    int
	host    string
	panic   bool
	err     error
}

func (f failure) taskError() *TaskError {
	return &TaskError{Index: f.index, Rank: f.rank, Host: f.host, Panic: f.panic, Err: f.err, Attempts: f.attempt}
}
