package mpimap

import (
	"context"
	"errors"
	"fmt"
	"github.com/hpcmap/hpcmap/internal/codec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hpcmap/hpcmap/internal/recovered"
	"github.com/hpcmap/hpcmap/mpi"
)

// Map calls fn on every element of args, spread over the ranks of c and over
// goroutines inside each rank. It is collective: every rank calls it with the
// same args and options.
//
// Rank 0 returns one result per argument, in argument order (the zero value
// where the task failed or did not run); other ranks return nil. Every rank
// returns a non-nil error if and only if some task failed or the map could not
// run, so that SPMD control flow stays in step. Task failures and panics are
// *TaskError values joined with errors.Join; the other tasks still run and
// keep their results. When ctx is cancelled, no new task starts, the tasks
// running finish, and every rank returns an error wrapping ErrInterrupted; the
// results computed are kept.
//
// Only the goroutine that calls Map communicates; fn runs on other goroutines
// and must not call MPI. Results cross ranks as raw memory when R is
// fixed-size (numbers, bools, arrays and structs of them) and through
// encoding/gob otherwise; a type that cannot cross is an error before any task
// runs.
func Map[T, R any](ctx context.Context, c mpi.Comm, args []T, fn func(ctx context.Context, arg T) (R, error), opts ...Option) ([]R, error) {
	if c == nil {
		return nil, errors.New("mpimap: Map called with a nil Comm")
	}
	cfg := newConfig(opts)
	rc, err := codec.New[R]()
	if err != nil {
		err = fmt.Errorf("mpimap: the results: %w", err)
	}
	switch {
	case cfg.err != nil:
		err = cfg.err
	case fn == nil:
		err = errors.New("mpimap: Map called with a nil fn")
	case ctx == nil:
		err = errors.New("mpimap: Map called with a nil context")
	}
	m := &mapper[T, R]{
		comm: c, args: args, fn: fn, cfg: cfg, codec: rc,
		n: len(args), np: c.Size(), rank: c.Rank(), host: c.Host(),
	}
	// Rank 0 reads the journal first: a journal it cannot use is its
	// refusal, and so every rank's error.
	var results []R
	var j *journal[R]
	if err == nil && m.rank == 0 {
		results = make([]R, m.n)
		if cfg.journal != "" {
			j, m.skip, m.journaled, err = openJournal(cfg, args, rc, results)
		}
	}
	if err := agree(c, len(args), cfg, err); err != nil {
		return nil, err
	}
	if cfg.journal != "" {
		if err := m.shareJournaled(); err != nil {
			return nil, err
		}
	}
	m.start = time.Now()
	if m.rank == 0 {
		return m.root(ctx, results, j)
	}
	return nil, m.worker(ctx)
}

// shareJournaled tells every rank which tasks rank 0's journal already holds.
func (m *mapper[T, R]) shareJournaled() error {
	bits := make([]byte, (m.n+7)/8)
	for i, done := range m.skip {
		if done {
			bits[i/8] |= 1 << (i % 8)
		}
	}
	bits, err := m.comm.Bcast(0, bits)
	if err != nil {
		return fmt.Errorf("mpimap: sharing the journal: %w", err)
	}
	m.skip = make([]bool, m.n)
	for i := range m.skip {
		m.skip[i] = bits[i/8]&(1<<(i%8)) != 0
	}
	return nil
}

// agree checks, in one collective call, that every rank can run the map and
// passed the same number of arguments and the same options, so that a mistake
// on one rank is an error on every rank instead of a hang.
func agree(c mpi.Comm, n int, cfg config, local error) error {
	failed := int64(0)
	if local != nil {
		failed = 1
	}
	fp := cfg.fingerprint()
	src := []int64{int64(n), -int64(n), fp, -fp, failed}
	max := make([]int64, len(src))
	if err := c.Allreduce(mpi.Bytes(max), mpi.Bytes(src), mpi.Int64, mpi.Max); err != nil {
		return fmt.Errorf("mpimap: checking the map across ranks: %w", err)
	}
	if max[4] != 0 {
		return refusal(c, local)
	}
	switch {
	case max[0] != -max[1]:
		return fmt.Errorf("mpimap: args differ in length across ranks (from %d to %d): every rank must pass the same args", -max[1], max[0])
	case max[2] != -max[3]:
		return errors.New("mpimap: ranks passed different schedules, chunks or WithoutRoot: every rank must pass the same options")
	}
	return nil
}

// refusal is the error of a map that some rank refused: its own reason, or
// the first refusing rank's, which the ranks exchange (only on this path).
func refusal(c mpi.Comm, local error) error {
	var mine []byte
	if local != nil {
		mine = []byte(local.Error())
	}
	all, err := mpi.AllgatherSlice(c, mine)
	switch {
	case local != nil:
		return local
	case err != nil:
		return fmt.Errorf("mpimap: another rank refused the map: %w", err)
	}
	for r, why := range all {
		if len(why) > 0 {
			return fmt.Errorf("mpimap: rank %d refused the map: %s", r, why)
		}
	}
	return errors.New("mpimap: another rank refused the map")
}

// mapper is one rank's part of a Map.
type mapper[T, R any] struct {
	comm  mpi.Comm
	args  []T
	fn    func(context.Context, T) (R, error)
	cfg   config
	codec codec.Codec[R]
	n     int
	np    int
	rank  int
	host  string

	start time.Time // of the map on this rank, for the trace's times

	// skip marks the tasks a journal already holds (nil without one), and
	// journaled counts them (on rank 0).
	skip      []bool
	journaled int

	// stopped is set when no new task may start; workers read it before
	// every task, so it is an atomic rather than a context's channel.
	stopped atomic.Bool

	// spare holds result slices of finished pieces for reuse, and inbox a
	// worker's receive buffer: with results of hundreds of megabytes, fresh
	// ones would let garbage double rank 0's memory before the GC runs.
	spare sync.Pool
	inbox []byte
}

// piece returns a zeroed slice for n results, reused when one is spare.
func (m *mapper[T, R]) piece(n int) []R {
	if v, ok := m.spare.Get().(*[]R); ok && cap(*v) >= n {
		vals := (*v)[:n]
		clear(vals)
		return vals
	}
	return make([]R, n)
}

// recycle offers vals, whose results have been copied or sent, for reuse.
func (m *mapper[T, R]) recycle(vals []R) { m.spare.Put(&vals) }

// drainGrace is how long a stopped map waits for the tasks in flight before
// abandoning them, so that a job at its time limit still gets to save what
// it has (Slurm kills 30 s after its warning by default).
var drainGrace = 10 * time.Second

// computes reports whether this rank runs tasks.
func (m *mapper[T, R]) computes() bool {
	return m.rank != 0 || !m.cfg.noRoot || m.np == 1
}

// computing is how many ranks run tasks.
func (m *mapper[T, R]) computing() int {
	if m.cfg.noRoot && m.np > 1 {
		return m.np - 1
	}
	return m.np
}

// staticShare is the span of tasks Block or Cyclic gives this rank.
func (m *mapper[T, R]) staticShare() span {
	if !m.computes() {
		return span{stride: 1, attempt: 1}
	}
	p, q := m.np, m.rank // ranks that compute, and this rank's place among them
	if m.cfg.noRoot && m.np > 1 {
		p, q = m.np-1, m.rank-1
	}
	if m.cfg.schedule == Cyclic {
		if q >= m.n {
			return span{start: 0, count: 0, stride: p, attempt: 1}
		}
		return span{start: q, count: (m.n - q + p - 1) / p, stride: p, attempt: 1}
	}
	// Rank q gets [q·n/p, (q+1)·n/p): sizes differ by at most one, for any n.
	start, end := q*m.n/p, (q+1)*m.n/p
	return span{start: start, count: end - start, stride: 1, attempt: 1}
}

func (m *mapper[T, R]) dynamic() bool { return m.cfg.schedule == Dynamic || m.cfg.schedule == Guided }

// pieceSize is how many tasks of a span one worker goroutine takes at a time:
// enough pieces to balance the goroutines, few enough to keep overhead low.
func (m *mapper[T, R]) pieceSize(count int) int {
	per := 2 * m.cfg.workers // two pieces per worker balance the tasks of a dealt span
	if !m.dynamic() {
		per *= 4 // a static share is large: balance it more finely
	}
	return min(max(1, (count+per-1)/per), 4096)
}

// pieceDone is a piece of tasks that a worker goroutine has finished.
type pieceDone[R any] struct {
	s      span
	ran    int           // tasks run: a prefix of the span; the rest never started
	took   time.Duration // time spent running them
	worker int           // the goroutine that ran them
	times  []int64       // with WithTrace: each task's start and end, ns from the map's start
	vals   []R           // their results
	fails  []failure
	logs   []logRecord
}

// report is what rank 0 settles of a piece.
func (d pieceDone[R]) report() pieceReport {
	return pieceReport{s: d.s, ran: d.ran, fails: d.fails, worker: d.worker, took: d.took, times: d.times, logs: d.logs}
}

// pool is the worker goroutines of one rank and the spans waiting for them.
type pool[R any] struct {
	queue       chan span
	done        chan pieceDone[R]
	ready       []pieceDone[R] // received while waiting, not yet handled
	pending     []span         // pieces waiting for room in the queue
	outstanding int            // tasks pending, queued or running
	wg          sync.WaitGroup
	abandoned   bool // gave up waiting for running tasks
}

func (m *mapper[T, R]) startPool(ctx context.Context) *pool[R] {
	workers := m.cfg.workers
	if !m.computes() {
		workers = 0
	}
	p := &pool[R]{queue: make(chan span, workers), done: make(chan pieceDone[R], 2*workers+1)}
	for w := range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			log := &workerLog{}
			ctx := context.WithValue(ctx, workerKey{}, log)
			for s := range p.queue {
				p.done <- m.runPiece(ctx, s, w, log)
			}
		}()
	}
	return p
}

// add splits s into pieces for the workers, leaving out journaled tasks.
func (m *mapper[T, R]) add(p *pool[R], s span) {
	size := m.pieceSize(s.count)
	for _, run := range m.unjournaled(s) {
		for k := 0; k < run.count; k += size {
			p.pending = append(p.pending, span{start: run.at(k), count: min(size, run.count-k), stride: run.stride, attempt: run.attempt})
		}
		p.outstanding += run.count
	}
}

// unjournaled splits s into the runs of tasks that the journal does not hold.
func (m *mapper[T, R]) unjournaled(s span) []span {
	if m.skip == nil {
		return []span{s}
	}
	var runs []span
	for k := 0; k < s.count; {
		for k < s.count && m.skip[s.at(k)] {
			k++
		}
		first := k
		for k < s.count && !m.skip[s.at(k)] {
			k++
		}
		if k > first {
			runs = append(runs, span{start: s.at(first), count: k - first, stride: s.stride, attempt: s.attempt})
		}
	}
	return runs
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

// abandon stops waiting for the tasks queued and running.
func (p *pool[R]) abandon() {
	p.drop()
	p.outstanding = 0
	p.abandoned = true
}

// runPiece runs the tasks of s until they are done or the map stops. Results
// go into the piece, never straight into rank 0's results, so that an
// abandoned task cannot write to them after Map has returned.
func (m *mapper[T, R]) runPiece(ctx context.Context, s span, worker int, log *workerLog) pieceDone[R] {
	d := pieceDone[R]{s: s, worker: worker, vals: m.piece(s.count)}
	if m.cfg.trace != "" {
		d.times = make([]int64, 0, 2*s.count)
	}
	start := time.Now()
	for d.ran < s.count && !m.stopped.Load() {
		next, stop := m.runFrom(ctx, s, d.ran, &d, log)
		d.ran = next
		if stop {
			break
		}
	}
	d.took = time.Since(start)
	d.times = d.times[:min(len(d.times), 2*d.ran)] // a task cut short by a stop did not run
	d.logs = log.take()
	return d
}

// runFrom runs the tasks of s from the k-th until the end, a stop, or a panic,
// and returns where it got to, and whether the map stopped. One deferred
// recover serves a whole run of tasks.
func (m *mapper[T, R]) runFrom(ctx context.Context, s span, k int, d *pieceDone[R], log *workerLog) (next int, stop bool) {
	vals, fails := d.vals, &d.fails
	defer func() {
		if v := recover(); v != nil {
			*fails = append(*fails, m.failure(s, k, taskPanic{recovered.Error(v)}))
			m.timed(d, k)
			next = k + 1
		}
	}()
	for ; k < s.count; k++ {
		if m.stopped.Load() {
			return k, true
		}
		log.begin(s.at(k), s.attempt)
		if d.times != nil {
			d.times = append(d.times, int64(time.Since(m.start)))
		}
		r, err := m.call(ctx, m.args[s.at(k)])
		m.timed(d, k)
		if err != nil {
			if m.stopped.Load() && ctx.Err() != nil {
				// Cut short by the stop: not run, so that a rerun with the
				// journal runs it again.
				return k, true
			}
			var zero R
			r = zero
			*fails = append(*fails, m.failure(s, k, err))
		}
		vals[k] = r
	}
	return k, false
}

// timed notes the end of the k-th task of a traced piece.
func (m *mapper[T, R]) timed(d *pieceDone[R], k int) {
	if d.times != nil && len(d.times) == 2*k+1 {
		d.times = append(d.times, int64(time.Since(m.start)))
	}
}

func (m *mapper[T, R]) failure(s span, k int, err error) failure {
	f := failure{index: s.at(k), attempt: s.attempt, rank: m.rank, host: m.host, err: err}
	if p, ok := err.(taskPanic); ok {
		f.panic, f.err = true, p.error
	}
	return f
}

// taskPanic is a task's panic, recovered on the goroutine that ran it.
type taskPanic struct{ error }

// call runs fn on one argument, within the task time limit if there is one.
func (m *mapper[T, R]) call(ctx context.Context, arg T) (R, error) {
	if m.cfg.timeout <= 0 {
		return m.fn(ctx, arg)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.timeout)
	defer cancel()
	type outcome struct {
		r   R
		err error
	}
	out := make(chan outcome, 1) // buffered: an abandoned task must not block
	go func() {
		defer func() {
			if v := recover(); v != nil {
				out <- outcome{err: taskPanic{recovered.Error(v)}}
			}
		}()
		r, err := m.fn(ctx, arg)
		out <- outcome{r, err}
	}()
	select {
	case o := <-out:
		return o.r, o.err
	case <-ctx.Done():
		var zero R
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return zero, fmt.Errorf("mpimap: task still running after its time limit of %v (abandoned): %w", m.cfg.timeout, context.DeadlineExceeded)
		}
		return zero, ctx.Err()
	}
}

// supply deals the tasks of Dynamic and Guided in index order, passing over
// journaled ones.
type supply struct {
	next, n, chunk, ranks int
	left                  int // tasks not yet dealt
	guided                bool
	skip                  []bool
}

func (s *supply) empty() bool { return s.left == 0 }

func (s *supply) take() (span, bool) {
	for s.next < s.n && s.skip != nil && s.skip[s.next] {
		s.next++
	}
	if s.left <= 0 || s.next >= s.n {
		return span{}, false
	}
	size := s.chunk
	if s.guided {
		// A share of what is left, halving per round of ranks, so that the
		// last chunks are small and finish together.
		size = max(s.chunk, (s.left+2*s.ranks-1)/(2*s.ranks))
	}
	sp := span{start: s.next, stride: 1, attempt: 1}
	for sp.count < size && s.next < s.n && (s.skip == nil || !s.skip[s.next]) {
		sp.count++
		s.next++
	}
	s.left -= sp.count
	return sp, true
}

// interruption describes a map stopped by a cancelled context: the tasks
// that did not run (possibly none), and on which ranks it was cancelled.
type interruption struct {
	notRun, n int
	causes    []string // "rank R: reason"
}

// retry is a failed task waiting for another attempt.
type retry struct {
	index, attempt int // the attempt to come
	lastRank       int // where it failed
}

// mapError is the error every rank returns: the task failures, in argument
// order, and the interruption if any. own maps this rank's failures to their
// original errors; ownCause is this rank's cancelled context's error.
func mapError(fails []failure, own map[int]error, in interruption, ownCause error) error {
	var errs []error
	for _, f := range fails {
		te := f.taskError()
		if err, ok := own[f.index]; ok {
			te.Err = err
		}
		errs = append(errs, te)
	}
	if in.notRun > 0 || len(in.causes) > 0 { // some tasks did not run, or a context was cancelled
		where := ""
		if len(in.causes) > 0 {
			where = " (" + strings.Join(in.causes, "; ") + ")"
		}
		if ownCause != nil {
			errs = append(errs, fmt.Errorf("%w: %d of %d tasks not run%s: %w", ErrInterrupted, in.notRun, in.n, where, ownCause))
		} else {
			errs = append(errs, fmt.Errorf("%w: %d of %d tasks not run%s", ErrInterrupted, in.notRun, in.n, where))
		}
	}
	return errors.Join(errs...)
}

// sortFailures puts failures in argument order.
func sortFailures(f []failure) {
	slices.SortFunc(f, func(a, b failure) int { return a.index - b.index })
}

// window sizes the tasks a rank other than 0 keeps requested or at hand under
// Dynamic and Guided: two chunks per worker, plus what its workers get
// through in one round trip to rank 0 (the bandwidth-delay product), so that
// short tasks are never held up by messaging while the tail imbalance stays
// within about one round trip. Capped at 256 chunks or 4096 tasks per worker,
// whichever is more.
type window struct {
	workers, chunk int
	rtt, perTask   float64 // moving averages, in seconds
}

func (w *window) target() int {
	base := 2 * w.workers * w.chunk
	limit := max(256*w.chunk, 4096) * w.workers
	switch {
	case w.rtt == 0: // no round trip measured yet
		return base
	case w.perTask <= 0:
		return limit
	}
	return min(limit, base+int(float64(w.workers)*w.rtt/w.perTask))
}

// average folds a sample into a moving average.
func average(avg *float64, sample float64) {
	if *avg == 0 {
		*avg = sample
	} else {
		*avg += (sample - *avg) / 8
	}
}

func (w *window) roundTrip(d time.Duration) { average(&w.rtt, d.Seconds()) }

func (w *window) ran(tasks int, took time.Duration) {
	if tasks > 0 {
		average(&w.perTask, took.Seconds()/float64(tasks))
	}
}
