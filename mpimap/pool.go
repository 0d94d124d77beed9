package mpimap

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hpcmap/hpcmap/internal/recovered"
)

// pieceReport is what becomes of a piece of tasks, as every rank reports it
// and rank 0's monitor takes it in: which tasks ran, where, how long, which
// failed, and what they logged.
type pieceReport struct {
	s      span
	ran    int    // tasks run: a prefix of the span; the rest never started
	rank   int    // where they ran
	host   string // that rank's host
	worker int    // the goroutine that ran them
	took   time.Duration
	times  []int64 // with WithTrace: each task's start and end, ns from the map's start
	fails  []failure
	logs   []logRecord
	// merged marks a node leader's merge of its ranks' pieces of
	// consecutive tasks (leader.go): rank, host and worker are the
	// leader's, and where the tasks ran and for how long travels in its
	// final report instead.
	merged bool
}

// pieceDone is a finished piece with its results: as values on the rank
// that ran it, or as their encoding once received from another rank.
type pieceDone[R any] struct {
	pieceReport
	began   time.Time
	vals    []R
	payload []byte
	// parts are the results that travel as messages of their own after the
	// report that carries the piece (parts.go): memory of vals, or of the
	// slices in them, until sent.
	parts [][]byte
}

// failure is the failure of the k-th task of p.
func (p *pieceReport) failure(k int, err error) failure {
	f := failure{index: p.s.at(k), attempt: p.s.attempt, rank: p.rank, host: p.host, err: err}
	if tp, ok := err.(taskPanic); ok {
		f.panic, f.err = true, tp.error
	}
	return f
}

// taskPanic is a task's panic, recovered on the goroutine that ran it.
type taskPanic struct{ error }

// pool is the worker goroutines of one rank and the spans waiting for them:
// the executor of a worker.
type pool[R any] struct {
	run         *runner[R]
	queue       chan span
	done        chan pieceDone[R]
	ready       []pieceDone[R] // received while waiting, not yet handled
	pending     []span         // pieces waiting for room in the queue
	outstanding int            // tasks pending, queued or running
	wg          sync.WaitGroup
	abandoned   bool // gave up waiting for running tasks
	workers     int
	dealt       bool    // the spans are dealt chunks, not a static share
	skip        *bitset // tasks the journal holds
}

// runner runs a map's tasks on one rank, for every goroutine of its pool.
type runner[R any] struct {
	fn      func(ctx context.Context, i int) (R, error)
	timeout time.Duration
	traced  bool
	start   time.Time // of the map on this rank, for the trace's times
	rank    int
	host    string
	inputs  *inputs // the tasks' inputs, with WithInput
	// stopped is set when no new task may start; goroutines read it before
	// every task, so it is an atomic rather than a context's channel.
	stopped atomic.Bool
	// spare holds result slices of finished pieces for reuse: with results
	// of hundreds of megabytes, fresh ones would let garbage double rank
	// 0's memory before the GC runs.
	spare sync.Pool
}

func newPool[R any](ctx context.Context, run *runner[R], workers int, dealt bool, skip *bitset) *pool[R] {
	p := &pool[R]{run: run, queue: make(chan span, workers), done: make(chan pieceDone[R], 2*workers+1),
		workers: workers, dealt: dealt, skip: skip}
	p.wg.Add(workers)
	for w := range workers {
		go p.work(ctx, w, nil)
	}
	return p
}

// add splits s into pieces for the workers, leaving out journaled tasks.
func (p *pool[R]) add(s span) {
	size := pieceSize(s.count, p.workers, p.dealt)
	for k := 0; k < s.count; {
		for k < s.count && p.skip.has(s.at(k)) {
			k++
		}
		first := k
		for k < s.count && k-first < size && !p.skip.has(s.at(k)) {
			k++
		}
		if k > first {
			p.pending = append(p.pending, span{start: s.at(first), count: k - first, stride: s.stride, attempt: s.attempt})
			p.outstanding += k - first
		}
	}
	p.feed()
}

// feed moves pending pieces into the queue while it has room.
func (p *pool[R]) feed() {
	for len(p.pending) > 0 {
		select {
		case p.queue <- p.pending[0]:
			p.pending = p.pending[1:]
		default:
			return
		}
	}
}

// held is how many tasks are pending, queued or running.
func (p *pool[R]) held() int { return p.outstanding }

// drop forgets the pieces not yet queued, and says how many tasks they held.
func (p *pool[R]) drop() int {
	n := 0
	for _, s := range p.pending {
		n += s.count
	}
	p.pending = nil
	p.outstanding -= n
	return n
}

// abandon stops waiting for the tasks queued and running.
func (p *pool[R]) abandon() {
	p.drop()
	p.outstanding = 0
	p.abandoned = true
}

// finished takes the pieces the workers have finished, without waiting.
func (p *pool[R]) finished() []pieceDone[R] {
	out := p.ready
	p.ready = nil
	for {
		select {
		case d := <-p.done:
			out = append(out, d)
			p.outstanding -= d.s.count
		default:
			p.feed()
			return out
		}
	}
}

// close stops the workers and waits for them, unless running tasks were
// abandoned: their goroutines end with the process.
//
// When the map ends early on an error, workers may still be running pieces
// and waiting to hand them over: the pieces are drained and dropped, or
// close would wait for workers that wait for it.
func (p *pool[R]) close() {
	p.run.stopped.Store(true)
	close(p.queue)
	if p.abandoned {
		return
	}
	finished := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(finished)
	}()
	for {
		select {
		case <-p.done:
		case <-finished:
			return
		}
	}
}

// work is one worker goroutine: it runs the pieces of the queue, starting
// with the rest of resume if it takes over from a goroutine that a task ended
// with runtime.Goexit. Such a task fails, and a new goroutine carries on.
func (p *pool[R]) work(ctx context.Context, w int, resume *pieceDone[R]) {
	log := &workerLog{}
	ctx = context.WithValue(ctx, workerKey{}, log)
	d := resume // the piece in hand
	defer func() {
		if d != nil { // a task called runtime.Goexit
			d.logs = append(d.logs, log.take()...)
			go p.work(ctx, w, d) // counted in p.wg still
			return
		}
		p.wg.Done()
	}()
	if d != nil {
		p.run.piece(ctx, d, log)
		p.done <- *d
		d = nil
	}
	for s := range p.queue {
		d = p.run.newPiece(s, w)
		p.run.piece(ctx, d, log)
		p.done <- *d
		d = nil
		// Let the rank's loop see the piece: on a rank with one processor
		// (GOMAXPROCS=1, a rank bound to one core) it runs only when this
		// goroutine yields, and it must ask for more tasks before the queue
		// runs dry, not after.
		runtime.Gosched()
	}
}

// newPiece is a piece of the tasks of s for worker w to run.
func (run *runner[R]) newPiece(s span, w int) *pieceDone[R] {
	d := &pieceDone[R]{pieceReport: pieceReport{s: s, worker: w, rank: run.rank, host: run.host},
		vals: run.values(s.count), began: time.Now()}
	if run.traced {
		d.times = make([]int64, 0, 2*s.count)
	}
	return d
}

// values returns a zeroed slice for n results, reused when one is spare.
func (run *runner[R]) values(n int) []R {
	if v, ok := run.spare.Get().(*[]R); ok && cap(*v) >= n {
		vals := (*v)[:n]
		clear(vals)
		return vals
	}
	return make([]R, n)
}

// recycle offers vals, whose results have been copied or sent, for reuse.
func (run *runner[R]) recycle(vals []R) {
	if vals != nil {
		run.spare.Put(&vals)
	}
}

// piece runs the tasks of d from the first not yet run until they are done
// or the map stops. Results go into the piece, never straight into rank 0's
// results, so that an abandoned task cannot write to them after Map has
// returned.
func (run *runner[R]) piece(ctx context.Context, d *pieceDone[R], log *workerLog) {
	for d.ran < d.s.count && !run.stopped.Load() {
		if stop := run.from(ctx, d, log); stop {
			break
		}
	}
	d.took = time.Since(d.began)
	d.times = d.times[:min(len(d.times), 2*d.ran)] // a task cut short by a stop did not run
	d.logs = append(d.logs, log.take()...)
}

// errGoexit fails a task that ended its goroutine instead of returning.
var errGoexit = errors.New("mpimap: the task called runtime.Goexit instead of returning (t.FailNow or t.SkipNow in a task?)")

// from runs the tasks of d from the first not yet run until the end, a
// stop, or a panic, and says whether the map stopped. One deferred recover
// serves a whole run of tasks. A task that calls runtime.Goexit ends the
// goroutine: it is failed here, and work carries on with the rest.
func (run *runner[R]) from(ctx context.Context, d *pieceDone[R], log *workerLog) (stop bool) {
	s, k := d.s, d.ran
	returned := false
	defer func() {
		v := recover()
		switch {
		case v != nil:
			d.fails = append(d.fails, d.failure(k, taskPanic{recovered.Error(v)}))
		case !returned:
			d.fails = append(d.fails, d.failure(k, errGoexit))
		default:
			return
		}
		run.timed(d, k)
		d.ran = k + 1
	}()
	for ; k < s.count; k++ {
		d.ran = k
		if run.stopped.Load() {
			returned = true
			return true
		}
		log.begin(s.at(k), s.attempt)
		if d.times != nil {
			d.times = append(d.times, int64(time.Since(run.start)))
		}
		err := run.call(ctx, &d.vals[k], s.at(k), s.attempt)
		run.timed(d, k)
		if err != nil {
			if run.stopped.Load() && ctx.Err() != nil {
				// Cut short by the stop: not run, so that a rerun with the
				// journal runs it again.
				returned = true
				return true
			}
			clear(d.vals[k : k+1]) // a failed task's result is the zero value
			d.fails = append(d.fails, d.failure(k, err))
		}
	}
	d.ran = k
	returned = true
	return false
}

// timed notes the end of the k-th task of a traced piece.
func (run *runner[R]) timed(d *pieceDone[R], k int) {
	if d.times != nil && len(d.times) == 2*k+1 {
		d.times = append(d.times, int64(time.Since(run.start)))
	}
}

// call runs task index, within the task time limit if there is one, and
// sets *dst to its result. A result is copied as little as the signature of
// fn allows (any size of R must work, and a megabyte copied twice costs):
// once from fn's return into *dst, or with a time limit once more, from the
// task's own goroutine, which must not write into *dst itself since it may
// outlive its turn.
func (run *runner[R]) call(ctx context.Context, dst *R, index, attempt int) error {
	if run.inputs != nil {
		ctx = context.WithValue(ctx, inputKey{}, run.inputs.take(index))
	}
	if run.timeout <= 0 {
		var err error
		*dst, err = run.fn(ctx, index)
		return taskErr(err)
	}
	// The task may outlive its turn: what it logs must say which task it is.
	ctx = context.WithValue(ctx, taskKey{}, taskID{index, attempt})
	ctx, cancel := context.WithTimeout(ctx, run.timeout)
	defer cancel()
	// The result comes back by pointer: a channel cannot carry values over
	// 64 KiB, and would copy it twice more.
	type outcome struct {
		r   *R
		err error
	}
	out := make(chan outcome, 1) // buffered: an abandoned task must not block
	go func() {
		returned := false
		defer func() {
			if v := recover(); v != nil {
				out <- outcome{err: taskPanic{recovered.Error(v)}}
			} else if !returned {
				out <- outcome{err: errGoexit}
			}
		}()
		r := new(R)
		var err error
		*r, err = run.fn(ctx, index)
		returned = true
		out <- outcome{r, taskErr(err)}
	}()
	select {
	case o := <-out:
		if o.r != nil {
			*dst = *o.r
		}
		return o.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("mpimap: task still running after its time limit of %v (abandoned): %w", run.timeout, context.DeadlineExceeded)
		}
		return ctx.Err()
	}
}

// taskErr is the error a task returned, unless it is a nil pointer (or map,
// slice...) of an error type: an error that is not nil but cannot say what
// it is, whose Error method would panic.
func taskErr(err error) error {
	if err == nil {
		return nil
	}
	switch v := reflect.ValueOf(err); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		if v.IsNil() {
			return fmt.Errorf("mpimap: the task returned a nil %T as its error", err)
		}
	}
	return err
}

// typeName names R for errors, "interface {}" included (where %T of a zero
// value would say "<nil>").
func typeName[R any]() string { return reflect.TypeFor[R]().String() }
