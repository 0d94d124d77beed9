package mpimap

import (
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hpcmap/hpcmap/internal/codec"
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
	var err error
	if ctx == nil {
		// Still agreed with the other ranks below, so that none waits.
		ctx, err = context.Background(), errors.New("mpimap: Map called with a nil context")
	}
	seq, poisoned, end, berr := begin(ctx, c)
	if berr != nil {
		return nil, berr // on this rank alone: see begin
	}
	defer end()
	reapAbandoned()
	cfg := newConfig(opts)
	rc, cerr := codec.New[R]()
	switch {
	case err != nil:
	case cfg.err != nil:
		err = cfg.err
	case fn == nil:
		err = errors.New("mpimap: Map called with a nil fn")
	case cerr != nil:
		err = fmt.Errorf("mpimap: the results: %w", cerr)
	}
	m := &mapper[T, R]{
		comm: c, args: args, fn: fn, cfg: cfg, codec: rc, seq: seq, poisoned: poisoned,
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
	if err := agree(c, m.settings(digestArgs(args)), err); err != nil {
		return nil, err
	}
	// A chunk larger than the map is the whole map; clamping it keeps every
	// size computed from it far from overflow.
	m.cfg.chunk = min(m.cfg.chunk, max(m.n, 1))
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

// setting is one value that every rank must pass alike, and what to call it
// when they do not.
type setting struct {
	name string // the option, or what the value is of
	what string // what differs, in the plural
	v    int64
}

// settings are the values of a map that every rank must share: the
// arguments (their number, and a digest of their content), the map's place
// among the maps on the communicator, and the options that shape the work.
func (m *mapper[T, R]) settings(argsDigest int64) []setting {
	flag := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	return []setting{
		{"args", "", int64(m.n)},
		{"args content", "", argsDigest},
		{"map sequence", "", int64(m.seq)},
		{"WithSchedule", "schedules", int64(m.cfg.schedule)},
		{"WithChunk", "chunks", int64(m.cfg.chunk)},
		{"WithoutRoot", "roles for rank 0", flag(m.cfg.noRoot)},
		{"WithJournal", "journal settings", flag(m.cfg.journal != "")},
		{"WithTaskTimeout", "task time limits", int64(m.cfg.timeout)},
		{"WithRetries", "retries", int64(m.cfg.retries)},
		{"WithTrace", "trace settings", flag(m.cfg.trace != "")},
	}
}

// digestArgs is a digest of args' content, the same on every rank that holds
// the same args, whatever order their maps iterate in; 0 for args that
// cannot be digested (funcs, chans), which are then compared by number only.
func digestArgs[T any](args []T) int64 {
	if len(args) == 0 {
		return 0
	}
	h := crc64.New(crcTable)
	if codec.Digest(h, args) != nil {
		return 0
	}
	return int64(h.Sum64() >> 1) // non-negative, so that its negation is too
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// agree checks, in one collective call, that every rank can run the map and
// passed the same settings, so that a mistake on one rank is an error on
// every rank instead of a hang or a wrong result.
func agree(c mpi.Comm, settings []setting, local error) error {
	k := len(settings)
	src := make([]int64, 2*k+1)
	for i, s := range settings {
		src[i], src[k+i] = s.v, -s.v
	}
	if local != nil {
		src[2*k] = 1
	}
	max := make([]int64, len(src))
	if err := c.Allreduce(mpi.Bytes(max), mpi.Bytes(src), mpi.Int64, mpi.Max); err != nil {
		return fmt.Errorf("mpimap: checking the map across ranks: %w", err)
	}
	if max[2*k] != 0 {
		return refusal(c, local)
	}
	var differ []string
	for i, s := range settings {
		if max[i] == -max[k+i] {
			continue
		}
		switch s.name {
		case "args":
			return fmt.Errorf("mpimap: args differ in length across ranks (from %d to %d): every rank must pass the same args", -max[k+i], max[i])
		case "args content":
			return fmt.Errorf("mpimap: args differ in content across ranks (%d of them on every rank): every rank must pass the same args", settings[0].v)
		case "map sequence":
			return fmt.Errorf("mpimap: the ranks are at different maps on this communicator (from the %dth to the %dth): every rank must call the same maps in the same order", -max[k+i], max[i])
		}
		differ = append(differ, fmt.Sprintf("%s (%s)", s.what, s.name))
	}
	if len(differ) > 0 {
		return fmt.Errorf("mpimap: ranks passed different %s: every rank must pass the same options", strings.Join(differ, ", "))
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
	seq   uint64 // the map's place among the maps on comm, in every message
	// poisoned is set when another map was tried on comm while this one ran.
	poisoned *atomic.Bool
	n        int
	np       int
	rank     int
	host     string

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
	began  time.Time
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
	p.wg.Add(workers)
	for w := range workers {
		go m.work(ctx, p, w, nil)
	}
	return p
}

// work is one worker goroutine: it runs the pieces of the queue, starting
// with the rest of resume if it takes over from a goroutine that a task ended
// with runtime.Goexit. Such a task fails, and a new goroutine carries on.
func (m *mapper[T, R]) work(ctx context.Context, p *pool[R], w int, resume *pieceDone[R]) {
	log := &workerLog{}
	ctx = context.WithValue(ctx, workerKey{}, log)
	d := resume // the piece in hand
	defer func() {
		if d != nil { // a task called runtime.Goexit
			d.logs = append(d.logs, log.take()...)
			go m.work(ctx, p, w, d) // counted in p.wg still
			return
		}
		p.wg.Done()
	}()
	if d != nil {
		m.runPiece(ctx, d, log)
		p.done <- *d
		d = nil
	}
	for s := range p.queue {
		d = m.newPiece(s, w)
		m.runPiece(ctx, d, log)
		p.done <- *d
		d = nil
	}
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

// newPiece is a piece of the tasks of s for worker w to run.
func (m *mapper[T, R]) newPiece(s span, w int) *pieceDone[R] {
	d := &pieceDone[R]{s: s, worker: w, vals: m.piece(s.count), began: time.Now()}
	if m.cfg.trace != "" {
		d.times = make([]int64, 0, 2*s.count)
	}
	return d
}

// runPiece runs the tasks of d from the first not yet run until they are done
// or the map stops. Results go into the piece, never straight into rank 0's
// results, so that an abandoned task cannot write to them after Map has
// returned.
func (m *mapper[T, R]) runPiece(ctx context.Context, d *pieceDone[R], log *workerLog) {
	for d.ran < d.s.count && !m.stopped.Load() {
		if stop := m.runFrom(ctx, d, log); stop {
			break
		}
	}
	d.took = time.Since(d.began)
	d.times = d.times[:min(len(d.times), 2*d.ran)] // a task cut short by a stop did not run
	d.logs = append(d.logs, log.take()...)
}

// errGoexit fails a task that ended its goroutine instead of returning.
var errGoexit = errors.New("mpimap: the task called runtime.Goexit instead of returning (t.FailNow or t.SkipNow in a task?)")

// runFrom runs the tasks of d from the first not yet run until the end, a
// stop, or a panic, and says whether the map stopped. One deferred recover
// serves a whole run of tasks. A task that calls runtime.Goexit ends the
// goroutine: it is failed here, and work carries on with the rest.
func (m *mapper[T, R]) runFrom(ctx context.Context, d *pieceDone[R], log *workerLog) (stop bool) {
	s, k := d.s, d.ran
	returned := false
	defer func() {
		v := recover()
		switch {
		case v != nil:
			d.fails = append(d.fails, m.failure(s, k, taskPanic{recovered.Error(v)}))
		case !returned:
			d.fails = append(d.fails, m.failure(s, k, errGoexit))
		default:
			return
		}
		m.timed(d, k)
		d.ran = k + 1
	}()
	for ; k < s.count; k++ {
		d.ran = k
		if m.stopped.Load() {
			returned = true
			return true
		}
		log.begin(s.at(k), s.attempt)
		if d.times != nil {
			d.times = append(d.times, int64(time.Since(m.start)))
		}
		r, err := m.call(ctx, s.at(k), s.attempt, m.args[s.at(k)])
		m.timed(d, k)
		if err != nil {
			if m.stopped.Load() && ctx.Err() != nil {
				// Cut short by the stop: not run, so that a rerun with the
				// journal runs it again.
				returned = true
				return true
			}
			var zero R
			r = zero
			d.fails = append(d.fails, m.failure(s, k, err))
		}
		d.vals[k] = r
	}
	d.ran = k
	returned = true
	return false
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

// call runs fn on the argument of task index, within the task time limit
// if there is one.
func (m *mapper[T, R]) call(ctx context.Context, index, attempt int, arg T) (R, error) {
	if m.cfg.timeout <= 0 {
		r, err := m.fn(ctx, arg)
		return r, taskErr(err)
	}
	// The task may outlive its turn: what it logs must say which task it is.
	ctx = context.WithValue(ctx, taskKey{}, taskID{index, attempt})
	ctx, cancel := context.WithTimeout(ctx, m.cfg.timeout)
	defer cancel()
	type outcome struct {
		r   R
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
		r, err := m.fn(ctx, arg)
		returned = true
		out <- outcome{r, taskErr(err)}
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
	base := mulSat(2*w.workers, w.chunk)
	limit := mulSat(max(mulSat(256, w.chunk), 4096), w.workers)
	switch {
	case w.rtt == 0: // no round trip measured yet
		return base
	case w.perTask <= 0:
		return limit
	}
	inFlight := min(float64(w.workers)*w.rtt/w.perTask, float64(limit)) // a float beyond int does not convert
	return min(limit, addSat(base, int(inFlight)))
}

// mulSat and addSat are a·b and a+b for non-negative a and b, or MaxInt
// where they would overflow: sizes made from a user's chunk must not wrap.
func mulSat(a, b int) int {
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

func addSat(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
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
