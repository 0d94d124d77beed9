package mpimap

import (
	"context"
	"errors"
	"fmt"
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
	codec, err := newCodec[R]()
	switch {
	case cfg.err != nil:
		err = cfg.err
	case fn == nil:
		err = errors.New("mpimap: Map called with a nil fn")
	case ctx == nil:
		err = errors.New("mpimap: Map called with a nil context")
	}
	if err := agree(c, len(args), cfg, err); err != nil {
		return nil, err
	}
	m := &mapper[T, R]{
		comm: c, args: args, fn: fn, cfg: cfg, codec: codec,
		n: len(args), np: c.Size(), rank: c.Rank(), host: c.Host(),
	}
	if m.rank == 0 {
		return m.root(ctx)
	}
	return nil, m.worker(ctx)
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
	switch {
	case local != nil:
		return local
	case max[4] != 0:
		return errors.New("mpimap: another rank refused the map (its own error says why)")
	case max[0] != -max[1]:
		return fmt.Errorf("mpimap: args differ in length across ranks (from %d to %d): every rank must pass the same args", -max[1], max[0])
	case max[2] != -max[3]:
		return errors.New("mpimap: ranks passed different schedules, chunks or WithoutRoot: every rank must pass the same options")
	}
	return nil
}

// mapper is one rank's part of a Map.
type mapper[T, R any] struct {
	comm  mpi.Comm
	args  []T
	fn    func(context.Context, T) (R, error)
	cfg   config
	codec codec[R]
	n     int
	np    int
	rank  int
	host  string

	// stopped is set when no new task may start; workers read it before
	// every task, so it is an atomic rather than a context's channel.
	stopped atomic.Bool
}

// computes reports whether this rank runs tasks.
func (m *mapper[T, R]) computes() bool {
	return m.rank != 0 || !m.cfg.noRoot || m.np == 1
}

// staticShare is the span of tasks Block or Cyclic gives this rank.
func (m *mapper[T, R]) staticShare() span {
	if !m.computes() {
		return span{stride: 1}
	}
	p, q := m.np, m.rank // ranks that compute, and this rank's place among them
	if m.cfg.noRoot && m.np > 1 {
		p, q = m.np-1, m.rank-1
	}
	if m.cfg.schedule == Cyclic {
		if q >= m.n {
			return span{start: 0, count: 0, stride: p}
		}
		return span{start: q, count: (m.n - q + p - 1) / p, stride: p}
	}
	// Rank q gets [q·n/p, (q+1)·n/p): sizes differ by at most one, for any n.
	start, end := q*m.n/p, (q+1)*m.n/p
	return span{start: start, count: end - start, stride: 1}
}

func (m *mapper[T, R]) dynamic() bool { return m.cfg.schedule == Dynamic || m.cfg.schedule == Guided }

// pieceSize is how many tasks of a span one worker goroutine takes at a time:
// enough pieces to balance the goroutines, few enough to keep overhead low.
func (m *mapper[T, R]) pieceSize(count int) int {
	per := m.cfg.workers
	if !m.dynamic() {
		per *= 8 // a static share is large: balance it more finely
	}
	return min(max(1, (count+per-1)/per), 4096)
}

// pieceDone is a piece of tasks that a worker goroutine has finished.
type pieceDone[R any] struct {
	s     span
	ran   int           // tasks run: a prefix of the span; the rest never started
	took  time.Duration // time spent running them
	vals  []R           // results, on ranks other than 0 (rank 0 writes them in place)
	fails []failure
}

// pool is the worker goroutines of one rank and the spans waiting for them.
type pool[R any] struct {
	queue       chan span
	done        chan pieceDone[R]
	ready       []pieceDone[R] // received while waiting, not yet handled
	pending     []span         // pieces waiting for room in the queue
	outstanding int            // tasks pending, queued or running
	wg          sync.WaitGroup
}

func (m *mapper[T, R]) startPool(ctx context.Context, results []R) *pool[R] {
	workers := m.cfg.workers
	if !m.computes() {
		workers = 0
	}
	p := &pool[R]{queue: make(chan span, workers), done: make(chan pieceDone[R], 2*workers+1)}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for s := range p.queue {
				p.done <- m.runPiece(ctx, s, results)
			}
		}()
	}
	return p
}

// add splits s into pieces for the workers.
func (m *mapper[T, R]) add(p *pool[R], s span) {
	size := m.pieceSize(s.count)
	for k := 0; k < s.count; k += size {
		p.pending = append(p.pending, span{start: s.at(k), count: min(size, s.count-k), stride: s.stride})
	}
	p.outstanding += s.count
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

func (p *pool[R]) close() {
	close(p.queue)
	p.wg.Wait()
}

// runPiece runs the tasks of s until they are done or the map stops. Rank 0
// writes results in place; other ranks collect them for sending.
func (m *mapper[T, R]) runPiece(ctx context.Context, s span, results []R) pieceDone[R] {
	d := pieceDone[R]{s: s}
	if results == nil {
		d.vals = make([]R, s.count)
	}
	start := time.Now()
	for d.ran < s.count && !m.stopped.Load() {
		d.ran = m.runFrom(ctx, s, d.ran, results, d.vals, &d.fails)
	}
	d.took = time.Since(start)
	return d
}

// runFrom runs the tasks of s from the k-th until the end, a stop, or a panic,
// and returns where it got to. One deferred recover serves a whole run of
// tasks.
func (m *mapper[T, R]) runFrom(ctx context.Context, s span, k int, results, vals []R, fails *[]failure) (next int) {
	defer func() {
		if v := recover(); v != nil {
			*fails = append(*fails, failure{index: s.at(k), rank: m.rank, host: m.host, panic: true, err: recovered.Error(v)})
			next = k + 1
		}
	}()
	for ; k < s.count && !m.stopped.Load(); k++ {
		i := s.at(k)
		r, err := m.fn(ctx, m.args[i])
		if err != nil {
			var zero R
			r = zero
			*fails = append(*fails, failure{index: i, rank: m.rank, host: m.host, err: err})
		}
		if results != nil {
			results[i] = r
		} else {
			vals[k] = r
		}
	}
	return k
}

// supply deals the tasks of Dynamic and Guided in index order.
type supply struct {
	next, n, chunk, ranks int
	guided                bool
}

func (s *supply) take() (span, bool) {
	left := s.n - s.next
	if left <= 0 {
		return span{}, false
	}
	size := s.chunk
	if s.guided {
		// A share of what is left, halving per round of ranks, so that the
		// last chunks are small and finish together.
		size = max(s.chunk, (left+2*s.ranks-1)/(2*s.ranks))
	}
	size = min(size, left)
	sp := span{start: s.next, count: size, stride: 1}
	s.next += size
	return sp, true
}

// interruption describes tasks that did not run because a context was
// cancelled, and on which ranks it was.
type interruption struct {
	notRun, n int
	causes    []string // "rank R: reason"
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
	if in.notRun > 0 {
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
// within about one round trip. Capped at 64 chunks per worker.
type window struct {
	workers, chunk int
	rtt, perTask   float64 // moving averages, in seconds
}

func (w *window) target() int {
	base := 2 * w.workers * w.chunk
	limit := 64 * w.workers * w.chunk
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
