package mpimap

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
)

// rootState is rank 0's part of a map: its own tasks, the supply of tasks
// for Dynamic and Guided and of retries for any schedule, and the settling of
// every task's outcome.
type rootState[T, R any] struct {
	*mapper[T, R]
	results []R
	journal *journal[R]
	pool    *pool[R]
	sup     supply
	retries []retry     // failed tasks waiting for another attempt
	waiting map[int]int // ranks whose request for chunks waits, and how many they want

	settled   int       // tasks whose outcome is final: results, journaled, or failed every attempt
	dealt     int       // tasks dealt or shared out and not yet reported
	fails     []failure // failures of every attempt
	own       map[int]error
	finals    int // ranks that sent their last message
	out       outbox
	inbox     []byte // reused for every message received
	mon       *monitor
	hosts     map[int]string
	held      map[int]int // tasks dealt to each rank and not yet reported
	stopping  bool
	stoppedAt time.Time
	causes    []string // where and why the map was stopped
}

func (m *mapper[T, R]) root(ctx context.Context, results []R, j *journal[R]) ([]R, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &rootState[T, R]{
		mapper: m, results: results, journal: j, pool: m.startPool(runCtx),
		sup:     supply{n: m.n, chunk: m.cfg.chunk, ranks: m.computing(), guided: m.cfg.schedule == Guided, skip: m.skip},
		waiting: map[int]int{}, own: map[int]error{}, settled: m.journaled,
		out: outbox{comm: m.comm, tag: tagToWorker},
	}
	defer func() {
		m.stopped.Store(true) // on an early return, start no more tasks
		r.pool.close()
	}()
	mon, err := newMonitor(m.cfg, m.n, m.skip, m.journaled)
	if err != nil {
		r.abort(err)
		return results, err
	}
	r.mon, r.hosts, r.held = mon, map[int]string{0: m.host}, map[int]int{}
	if m.dynamic() {
		r.sup.left = m.n - m.journaled
	} else {
		r.dealt = m.n - m.journaled // every rank knows its share
		m.add(r.pool, m.staticShare())
	}
	err = r.loop(ctx, cancel)
	err = errors.Join(err, r.mon.close(r.settled, len(r.fails)))
	if j != nil {
		err = errors.Join(err, j.close())
	}
	if err != nil {
		r.abort(err)
		return results, err
	}
	err = r.finish(ctx)
	// Joined only on failure: the map's own error must stay the flat list of
	// TaskErrors that callers unwrap.
	if ferr := r.out.flush(); ferr != nil {
		err = errors.Join(err, ferr)
	}
	return results, err
}

// outbox sends a rank's messages without waiting for them to be received.
// Rank 0 must never block in a send: a message over MPI's eager limit waits
// for its receiver, who may at that moment be blocked sending its results to
// rank 0 — each waiting for the other. Rank 0 keeps receiving instead, and
// the sends complete. Workers send this way too, to go on running tasks and
// taking chunks while rank 0 is busy.
type outbox struct {
	comm    mpi.Comm
	tag     int
	pending []mpi.Request
}

// send starts sending msg, which must not change afterwards, to rank dst.
func (o *outbox) send(dst int, msg []byte) error {
	req, err := o.comm.Isend(dst, o.tag, msg)
	if err != nil {
		return wrap(err)
	}
	o.pending = append(o.pending, req)
	return nil
}

// poll forgets the sends that have completed.
func (o *outbox) poll() error {
	var err error
	o.pending = slices.DeleteFunc(o.pending, func(r mpi.Request) bool {
		done, e := r.Test()
		err = errors.Join(err, e)
		return done || e != nil
	})
	return wrap(err)
}

// abandon gives up on the sends under way, of a map that ends without
// waiting for them (it failed, and the receiver may never receive them):
// they are kept until they complete, since a send forgotten while under way
// would leave its memory pinned.
func (o *outbox) abandon() {
	abandoned.mu.Lock()
	abandoned.reqs = append(abandoned.reqs, o.pending...)
	abandoned.mu.Unlock()
	o.pending = nil
}

// abandoned holds the sends of failed maps until they complete.
var abandoned struct {
	mu   sync.Mutex
	reqs []mpi.Request
}

// reapAbandoned forgets the abandoned sends that have completed. Every map
// calls it as it begins, with the communicator to itself.
func reapAbandoned() {
	abandoned.mu.Lock()
	defer abandoned.mu.Unlock()
	abandoned.reqs = slices.DeleteFunc(abandoned.reqs, func(r mpi.Request) bool {
		done, err := r.Test()
		return done || err != nil
	})
}

// flush waits for every send to complete.
func (o *outbox) flush() error {
	var err error
	for _, r := range o.pending {
		err = errors.Join(err, r.Wait())
	}
	o.pending = nil
	return wrap(err)
}

// abort tells the other ranks that the map failed on rank 0, so that they
// return an error too instead of waiting (best effort: rank 0's
// communication may be what failed).
func (r *rootState[T, R]) abort(err error) {
	w := r.message(kindAbort)
	w.string(err.Error())
	for rank := 1; rank < r.np; rank++ {
		r.out.send(rank, w.b)
	}
	// Not waited for: a rank that failed may have stopped receiving.
	r.out.abandon()
}

func (r *rootState[T, R]) loop(ctx context.Context, cancel context.CancelFunc) error {
	var idle idler[R]
	target := mulSat(2*r.cfg.workers, r.cfg.chunk) // tasks rank 0 keeps at hand when dealing
	for {
		progress := false
		// Messages from the other ranks: results, requests, last words. At
		// most one per rank per round, so that a busy stream of them cannot
		// keep rank 0 from its own pieces or from seeing a cancellation.
		for range r.np - 1 {
			msg, st, ok, err := r.comm.TryRecv(r.inbox, mpi.AnySource, tagToRoot)
			if err != nil || !ok {
				if err != nil {
					return wrap(err)
				}
				break
			}
			// Every result is copied out of the message as it is read, so
			// the buffer serves the next one.
			r.inbox = msg
			progress = true
			if body, ok := r.ours(msg); ok {
				if err := r.receive(st.Source, body); err != nil {
					return err
				}
			}
		}
		for _, d := range r.pool.finished() {
			progress = true
			if err := r.keepOwn(d); err != nil {
				return err
			}
		}
		if r.poisoned.Load() {
			return errConcurrent
		}
		if !r.stopping && ctx.Err() != nil {
			if err := r.stop(fmt.Sprintf("rank 0: %v", context.Cause(ctx))); err != nil {
				return err
			}
			r.stopped.Store(true)
			cancel()
		}
		if r.stopping && r.pool.outstanding > 0 && time.Since(r.stoppedAt) > drainGrace {
			r.pool.abandon()
		}
		for !r.stopping && r.computes() && r.pool.outstanding < target {
			s, ok := r.deal(0)
			if !ok {
				break
			}
			r.add(r.pool, s)
		}
		r.pool.feed()
		if err := r.answerWaiting(); err != nil {
			return err
		}
		if err := r.out.poll(); err != nil {
			return err
		}
		if r.journal != nil {
			if err := r.journal.flush(); err != nil {
				return err
			}
		}
		r.mon.tick(r.settled, len(r.fails))
		if r.finals == r.np-1 && r.pool.outstanding == 0 && (r.stopping || r.sup.empty() && len(r.retries) == 0) {
			return nil
		}
		if progress {
			idle.reset()
		} else {
			idle.wait(r.pool, watch(ctx, r.stopping), r.np > 1 || r.stopping)
		}
	}
}

// keepOwn stores the results of a piece rank 0 ran itself and settles it.
// They go through the encoding that other ranks' results go through, so that
// what a result becomes never depends on where its task ran: gob makes an
// empty slice nil, and refuses some values.
func (r *rootState[T, R]) keepOwn(d pieceDone[R]) error {
	if r.codec.Fixed() {
		for k := range d.ran {
			r.results[d.s.at(k)] = d.vals[k]
		}
	} else {
		var payload []byte
		payload, d.fails = r.encodeValues(payload, d)
		if err := r.store(r.results, span{start: d.s.start, count: d.ran, stride: d.s.stride}, payload); err != nil {
			return fmt.Errorf("mpimap: rank 0's own results: %w", err)
		}
	}
	r.recycle(d.vals)
	return r.settle(0, d.report())
}

// receive handles one message from another rank.
func (r *rootState[T, R]) receive(src int, msg []byte) error {
	if len(msg) > 0 && msg[0] == kindFailed {
		rd := reader{b: msg[1:]}
		why := rd.string()
		if err := rd.done(); err != nil {
			return fmt.Errorf("mpimap: malformed message from rank %d: %w", src, err)
		}
		return fmt.Errorf("mpimap: the map failed on rank %d: %s", src, why)
	}
	in, err := r.readResults(msg, r.results)
	if err != nil {
		return fmt.Errorf("mpimap: malformed message from rank %d: %w", src, err)
	}
	r.hosts[src] = in.host
	for _, p := range in.pieces {
		if err := r.settle(src, p); err != nil {
			return err
		}
	}
	if in.final {
		r.finals++
		if in.cause != "" {
			r.causes = append(r.causes, fmt.Sprintf("rank %d: %s", src, in.cause))
		}
	}
	if in.want > 0 {
		r.waiting[src] = in.want
	}
	return nil
}

// settle records what became of a piece of tasks: the first ran of them ran
// (their results already in place), some of those failed.
func (r *rootState[T, R]) settle(rank int, p pieceReport) error {
	s, ran, fails := p.s, p.ran, p.fails
	r.dealt -= s.count
	r.held[rank] -= s.count
	r.settled += ran - len(fails)
	var again []int // failed tasks that will run again
	for _, f := range fails {
		if f.attempt <= r.cfg.retries && !r.stopping {
			r.retries = append(r.retries, retry{index: f.index, attempt: f.attempt + 1, lastRank: rank})
			again = append(again, f.index)
			continue
		}
		r.settled++
		r.fails = append(r.fails, f)
		if rank == 0 {
			r.own[f.index] = f.err
		}
	}
	if err := r.mon.piece(rank, r.hosts[rank], p, func(i int) bool { return slices.Contains(again, i) }); err != nil {
		return err
	}
	if r.journal == nil {
		return nil
	}
	failed := func(i int) bool {
		return slices.ContainsFunc(fails, func(f failure) bool { return f.index == i })
	}
	for k := range ran {
		if i := s.at(k); !failed(i) {
			if err := r.journal.add(i, r.results[i:i+1]); err != nil {
				return fmt.Errorf("mpimap: journal: task %d: %w", i, err)
			}
		}
	}
	return nil
}

// deal takes the next span for rank: a retry that failed elsewhere, or a
// chunk of the supply.
func (r *rootState[T, R]) deal(rank int) (span, bool) {
	for k, t := range r.retries {
		// Another rank, where there is one that computes.
		if t.lastRank != rank || r.computing() == 1 {
			r.retries = slices.Delete(r.retries, k, k+1)
			r.dealt++
			r.held[rank]++
			return span{start: t.index, count: 1, stride: 1, attempt: t.attempt}, true
		}
	}
	s, ok := r.sup.take()
	r.dealt += s.count
	r.held[rank] += s.count
	return s, ok
}

// exhausted reports whether no task will ever be dealt again: then a request
// is answered with no chunks, the word to finish.
func (r *rootState[T, R]) exhausted() bool {
	return r.stopping || r.sup.empty() && len(r.retries) == 0 && (r.cfg.retries == 0 || r.dealt == 0)
}

// answerWaiting answers the requests for chunks that can be answered: with
// chunks, or with none when the map is exhausted. With retries, a request
// waits while tasks are out that may yet fail and need another rank.
func (r *rootState[T, R]) answerWaiting() error {
	for rank, want := range r.waiting {
		// However many chunks a rank asks for, it may hold at most a fair
		// share of the work not yet done (as Guided deals), never less than a
		// chunk: a rank whose prefetch overshoots (quick first tasks, a slow
		// round trip) cannot hoard the supply and leave the others idle at
		// the end.
		fair := max(r.cfg.chunk, (r.sup.left+r.dealt)/(2*r.computing()))
		var spans []span
		for !r.stopping && len(spans) < want && r.held[rank] < fair {
			s, ok := r.deal(rank)
			if !ok {
				break
			}
			spans = append(spans, s)
		}
		if len(spans) == 0 && !r.exhausted() {
			continue
		}
		spans = joinSpans(spans)
		delete(r.waiting, rank)
		w := r.message(kindChunks)
		w.uint(len(spans))
		for _, s := range spans {
			w.span(s)
		}
		if err := r.out.send(rank, w.b); err != nil {
			return err
		}
	}
	return nil
}

// joinSpans joins consecutive chunks dealt together into one span: they
// arrive together either way, and the rank splits a span among its workers,
// so a reply of many one-task chunks costs one piece per worker, not one per
// task.
func joinSpans(spans []span) []span {
	out := spans[:0]
	for _, s := range spans {
		if k := len(out) - 1; k >= 0 && out[k].stride == 1 && s.stride == 1 && out[k].attempt == s.attempt &&
			out[k].start+out[k].count == s.start {
			out[k].count += s.count
			continue
		}
		out = append(out, s)
	}
	return out
}

// stop starts the drain: no task is dealt or started any more, and the other
// ranks are told so.
func (r *rootState[T, R]) stop(cause string) error {
	r.stopping, r.stoppedAt = true, time.Now()
	r.causes = append(r.causes, cause)
	r.pool.drop()
	w := r.message(kindStop)
	for rank := 1; rank < r.np; rank++ {
		if err := r.out.send(rank, w.b); err != nil {
			return err
		}
	}
	return nil
}

// finish sends every rank the outcome, and returns rank 0's error.
func (r *rootState[T, R]) finish(ctx context.Context) error {
	sortFailures(r.fails)
	in := interruption{notRun: r.n - r.settled, n: r.n, causes: r.causes}
	w := r.message(kindOutcome)
	w.uint(in.notRun)
	w.uint(len(in.causes))
	for _, c := range in.causes {
		w.string(c)
	}
	w.uint(len(r.fails))
	for _, f := range r.fails {
		w.failure(f)
	}
	for rank := 1; rank < r.np; rank++ {
		if err := r.out.send(rank, w.b); err != nil {
			return err
		}
	}
	return mapError(r.fails, r.own, in, ctx.Err())
}

// pieceReport is a finished piece as rank 0 settles it, its results already
// in place.
type pieceReport struct {
	s      span
	ran    int
	fails  []failure
	worker int
	took   time.Duration
	times  []int64
	logs   []logRecord
}

// resultsMessage is what rank 0 reads from one message of another rank.
type resultsMessage struct {
	want   int    // chunks requested
	host   string // of the sender
	pieces []pieceReport
	final  bool
	cause  string // why that rank stopped early, if it did
}

// readResults decodes a message from another rank and stores its results.
func (m *mapper[T, R]) readResults(msg []byte, results []R) (resultsMessage, error) {
	r := reader{b: msg}
	var in resultsMessage
	switch kind := r.byte(); kind {
	case kindResults, kindFinal:
		in.final = kind == kindFinal
	default:
		return in, fmt.Errorf("unexpected message kind %d", kind)
	}
	in.want = r.uint()
	in.host = r.string()
	for range r.uint() {
		p := pieceReport{s: r.span(m.n), ran: r.uint()}
		payload := r.bytes()
		for range r.uint() {
			if r.err != nil {
				break
			}
			p.fails = append(p.fails, r.failure(m.n))
		}
		p.worker = r.uint()
		p.took = time.Duration(r.uint())
		for range r.uint() {
			if r.err != nil {
				break
			}
			p.times = append(p.times, int64(r.uint()))
		}
		for range r.uint() {
			if r.err != nil {
				break
			}
			p.logs = append(p.logs, r.record(m.n))
		}
		if r.err != nil {
			break
		}
		if p.ran > p.s.count || len(p.fails) > p.ran {
			return in, fmt.Errorf("%d of %d tasks ran, %d failed", p.ran, p.s.count, len(p.fails))
		}
		if err := m.store(results, span{start: p.s.start, count: p.ran, stride: p.s.stride}, payload); err != nil {
			return in, err
		}
		in.pieces = append(in.pieces, p)
	}
	if in.final {
		in.cause = r.string()
	}
	return in, r.done()
}

// store decodes the results of the tasks in s into place.
func (m *mapper[T, R]) store(results []R, s span, payload []byte) error {
	if s.count == 0 {
		return nil
	}
	if s.stride == 1 {
		return m.codec.Decode(results[s.start:s.start+s.count], payload)
	}
	vals := make([]R, s.count)
	if err := m.codec.Decode(vals, payload); err != nil {
		return err
	}
	for k, v := range vals {
		results[s.at(k)] = v
	}
	return nil
}

// worker runs the part of a rank other than 0: its tasks, sent back to rank 0
// as they finish.
func (m *mapper[T, R]) worker(ctx context.Context) error {
	own, out, err := m.runWorker(ctx)
	if err != nil {
		return err
	}
	return m.awaitOutcome(ctx, own, out)
}

// rootAbort is the error of a map that failed on rank 0, which said so.
type rootAbort struct{ why string }

func (e rootAbort) Error() string { return "mpimap: the map failed on rank 0: " + e.why }

// tellRoot tells rank 0 that the map failed on this rank, so that it ends the
// map on every rank instead of waiting for this one's results. Best effort:
// the communication may be what failed.
func (m *mapper[T, R]) tellRoot(err error) {
	if _, fromRoot := err.(rootAbort); fromRoot {
		return
	}
	w := m.message(kindFailed)
	w.string(err.Error())
	out := outbox{comm: m.comm, tag: tagToRoot}
	out.send(0, w.b)
	out.abandon() // small, and rank 0 may be gone: not waited for
}

// runWorker runs this rank's tasks until their results are all sent, and
// returns the errors of the tasks that failed here, and the sends still under
// way.
func (m *mapper[T, R]) runWorker(ctx context.Context) (own map[int]error, _ *outbox, err error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := m.startPool(runCtx)
	defer func() {
		m.stopped.Store(true) // on an early return, start no more tasks
		p.close()
	}()
	defer func() {
		if err != nil {
			m.tellRoot(err) // before closing the pool, which waits for running tasks
		}
	}()

	// A static share is known in advance; with retries, a rank asks for
	// more once it is done, in case another's tasks fail.
	exhausted := !m.dynamic() && m.cfg.retries == 0
	if !m.dynamic() {
		m.add(p, m.staticShare())
	}
	var (
		awaiting  bool      // a request for chunks is unanswered
		asked     time.Time // when it was sent
		stopping  bool
		stoppedAt time.Time
		cause     string
		idle      idler[R]
		out       = outbox{comm: m.comm, tag: tagToRoot}
	)
	defer func() {
		if err != nil {
			out.abandon()
		}
	}()
	stop := func(why string) {
		if !stopping {
			stopping, stoppedAt, cause = true, time.Now(), why
			m.stopped.Store(true)
			cancel()
			p.drop()
		}
	}
	own = map[int]error{}
	win := window{workers: m.cfg.workers, chunk: m.cfg.chunk}
	var pieces []pieceDone[R] // finished, not yet sent
	held := 0                 // tasks in them
	for {
		progress := false
		fresh := p.finished()
		pieces = append(pieces, fresh...)
		for _, d := range fresh {
			held += d.s.count
			progress = true
			win.ran(d.ran, d.took)
			for _, f := range d.fails {
				own[f.index] = f.err
			}
		}
		if ctx.Err() != nil {
			stop(context.Cause(ctx).Error())
		}
		if m.poisoned.Load() {
			return nil, nil, errConcurrent
		}
		if stopping && p.outstanding > 0 && time.Since(stoppedAt) > drainGrace {
			p.abandon()
		}
		want := 0
		if target := win.target(); !exhausted && !stopping && !awaiting && p.outstanding < target {
			want = max(1, (target-p.outstanding)/m.cfg.chunk)
		}
		final := p.outstanding == 0 && !awaiting && (exhausted || stopping)
		// While a request is on its way, results wait to go with the next
		// one: a message per round trip, not per piece. Not for long, and
		// not too many, so that the journal and progress stay current and a
		// request rank 0 holds back (retries) cannot hold the results too.
		hold := awaiting && time.Since(asked) < time.Millisecond && held < win.target()/2
		if len(pieces) > 0 && !hold || want > 0 || final {
			kind := kindResults
			if final {
				kind = kindFinal
			}
			var msg writer // its own buffer: the send may still be under way
			msg.uint(int(m.seq))
			m.encodeResults(&msg, kind, want, pieces)
			for _, d := range pieces {
				m.recycle(d.vals)
			}
			if final {
				msg.string(cause)
			}
			if err := out.send(0, msg.b); err != nil {
				return nil, nil, err
			}
			pieces, held = pieces[:0], 0
			if awaiting = want > 0; awaiting {
				asked = time.Now()
			}
			if final {
				break
			}
		}
		// Chunks or a stop from rank 0.
		for {
			in, ok, err := m.receive()
			if err != nil || !ok {
				if err != nil {
					return nil, nil, err
				}
				break
			}
			progress = true
			rm, err := readFromRoot(in, m.n)
			if err != nil {
				return nil, nil, fmt.Errorf("mpimap: malformed message from rank 0: %w", err)
			}
			switch rm.kind {
			case kindChunks:
				awaiting = false
				win.roundTrip(time.Since(asked))
				exhausted = len(rm.spans) == 0
				for _, s := range rm.spans {
					m.add(p, s)
				}
			case kindStop:
				stop("stopped by rank 0")
			case kindAbort:
				return nil, nil, rootAbort{rm.text}
			default:
				return nil, nil, fmt.Errorf("mpimap: unexpected message kind %d from rank 0", rm.kind)
			}
		}
		p.feed()
		if err := out.poll(); err != nil {
			return nil, nil, err
		}
		if progress {
			idle.reset()
		} else {
			idle.wait(p, watch(ctx, stopping), true)
		}
	}
	return own, &out, nil
}

// encodeResults writes a message to rank 0: its kind, the chunks wanted, and
// the finished pieces with their results and failures.
func (m *mapper[T, R]) encodeResults(w *writer, kind byte, want int, pieces []pieceDone[R]) {
	w.byte(kind)
	w.uint(want)
	w.string(m.host)
	w.uint(len(pieces))
	var payload []byte
	for _, d := range pieces {
		payload, d.fails = m.encodeValues(payload[:0], d)
		w.span(d.s)
		w.uint(d.ran)
		w.bytes(payload)
		w.uint(len(d.fails))
		for _, f := range d.fails {
			w.failure(f)
		}
		w.uint(d.worker)
		w.uint(int(d.took))
		w.uint(len(d.times))
		for _, t := range d.times {
			w.uint(int(t))
		}
		w.uint(len(d.logs))
		for _, l := range d.logs {
			w.record(l)
		}
	}
}

// encodeValues appends the encoding of the results of d to dst, and returns
// d's failures with those of the results that cannot be encoded.
func (m *mapper[T, R]) encodeValues(dst []byte, d pieceDone[R]) ([]byte, []failure) {
	out, err := m.codec.Append(dst, d.vals[:d.ran])
	if err == nil {
		return out, d.fails
	}
	// A value gob cannot encode (an unregistered type in an interface) fails
	// its task, not the map; it is sent as the zero value.
	var zero R
	fails := d.fails
	for k := range d.ran {
		if _, err := m.codec.Append(nil, d.vals[k:k+1]); err != nil {
			d.vals[k] = zero
			fails = append(fails, m.failure(d.s, k, fmt.Errorf("mpimap: result of type %v cannot cross ranks: %w", reflect.TypeFor[R](), err)))
		}
	}
	out, err = m.codec.Append(dst, d.vals[:d.ran])
	if err != nil { // values that fail only together: fail every task of the piece
		fails = d.fails
		for k := range d.ran {
			d.vals[k] = zero
			if !slices.ContainsFunc(fails, func(f failure) bool { return f.index == d.s.at(k) }) {
				fails = append(fails, m.failure(d.s, k, fmt.Errorf("mpimap: results of type %v cannot cross ranks: %w", reflect.TypeFor[R](), err)))
			}
		}
		out, _ = m.codec.Append(dst, d.vals[:d.ran])
	}
	return out, fails
}

// receive takes a message of this map from rank 0 if one is waiting, passing
// over those of earlier maps. Its memory is reused by the next call.
func (m *mapper[T, R]) receive() ([]byte, bool, error) {
	for {
		msg, _, ok, err := m.comm.TryRecv(m.inbox, 0, tagToWorker)
		if err != nil || !ok {
			return nil, false, wrap(err)
		}
		m.inbox = msg
		if body, ours := m.ours(msg); ours {
			return body, true, nil
		}
	}
}

func wrap(err error) error {
	if err != nil {
		return fmt.Errorf("mpimap: %w", err)
	}
	return nil
}

// awaitOutcome waits for rank 0's word on how the map ended, and turns it
// into this rank's error.
//
// The last results may still be on their way, each waiting for rank 0 to
// receive it: if the map fails on rank 0 meanwhile, they never will be, and
// waiting for them alone would hang.
func (m *mapper[T, R]) awaitOutcome(ctx context.Context, own map[int]error, out *outbox) (err error) {
	defer func() {
		if err != nil {
			out.abandon()
		}
	}()
	var idle idler[R]
	for {
		if err := out.poll(); err != nil {
			return err
		}
		msg, ok, err := m.receive()
		if err != nil {
			return err
		}
		if !ok {
			idle.wait(nil, nil, true)
			continue
		}
		rm, err := readFromRoot(msg, m.n)
		switch {
		case err != nil:
			return fmt.Errorf("mpimap: malformed message from rank 0: %w", err)
		case rm.kind == kindAbort:
			return rootAbort{rm.text}
		case rm.kind == kindOutcome:
			// Rank 0 has had every message of this rank's: the sends end.
			if err := out.flush(); err != nil {
				return err
			}
			return mapError(rm.fails, own, rm.outcome, ctx.Err())
		}
		// A stop that crossed this rank's last message: nothing to do.
	}
}

// rootMessage is a message from rank 0 to another rank, decoded.
type rootMessage struct {
	kind    byte
	spans   []span       // kindChunks: none means no more will come
	text    string       // kindAbort: what went wrong
	outcome interruption // kindOutcome
	fails   []failure    // kindOutcome: every task that failed
}

// readFromRoot decodes a message from rank 0 of a map of n tasks.
func readFromRoot(msg []byte, n int) (rootMessage, error) {
	r := reader{b: msg}
	rm := rootMessage{kind: r.byte()}
	switch rm.kind {
	case kindChunks:
		for range r.uint() {
			if r.err != nil {
				break
			}
			rm.spans = append(rm.spans, r.span(n))
		}
	case kindStop:
	case kindAbort:
		rm.text = r.string()
	case kindOutcome:
		rm.outcome = interruption{notRun: r.uint(), n: n}
		for range r.uint() {
			if r.err != nil {
				break
			}
			rm.outcome.causes = append(rm.outcome.causes, r.string())
		}
		for range r.uint() {
			if r.err != nil {
				break
			}
			rm.fails = append(rm.fails, r.failure(n))
		}
		if r.err == nil && (rm.outcome.notRun > n || len(rm.fails) > n) {
			r.fail(fmt.Errorf("outcome of %d tasks not run and %d failed in a map of %d", rm.outcome.notRun, len(rm.fails), n))
		}
	default:
		r.fail(fmt.Errorf("unknown message kind %d", rm.kind))
	}
	return rm, r.done()
}

// idler waits between polls for messages: yielding the processor at first,
// so that a reply is seen within microseconds, then sleeping, and after a
// long quiet spell sleeping longer, so that an idle rank leaves its cores to
// the workers. A piece finishing locally ends the wait at once.
type idler[R any] struct {
	since time.Time // when the quiet spell began; zero while busy
	timer *time.Timer
}

func (i *idler[R]) reset() { i.since = time.Time{} }

const (
	// spinFor is how long a quiet rank only yields: longer than a round trip
	// between ranks, so that a reply on its way is not met by a sleep.
	spinFor = 50 * time.Microsecond
	// napFor is how long it then takes short sleeps before long ones.
	napFor = 100 * time.Millisecond
)

// wait waits for a finished piece of p (kept for the next p.finished), for
// cancelled to close, or, when poll is set, for the time to poll again.
func (i *idler[R]) wait(p *pool[R], cancelled <-chan struct{}, poll bool) {
	now := time.Now()
	if i.since.IsZero() {
		i.since = now
	}
	quiet := now.Sub(i.since)
	if poll && quiet < spinFor {
		runtime.Gosched()
		return
	}
	var tick <-chan time.Time
	if poll {
		// Timers are coarse on many machines: a microsecond asked is tens
		// slept, and anything from ten microseconds about a millisecond.
		d := time.Microsecond
		if quiet > napFor {
			d = time.Millisecond
		}
		if i.timer == nil {
			i.timer = time.NewTimer(d)
		} else {
			i.timer.Reset(d)
		}
		tick = i.timer.C
	}
	var done chan pieceDone[R]
	if p != nil {
		done = p.done
	}
	select {
	case d := <-done:
		p.ready = append(p.ready, d)
		p.outstanding -= d.s.count
	case <-cancelled:
	case <-tick:
	}
}

// watch is the channel to wait on for a cancellation not yet acted on.
func watch(ctx context.Context, stopping bool) <-chan struct{} {
	if stopping {
		return nil
	}
	return ctx.Done()
}
