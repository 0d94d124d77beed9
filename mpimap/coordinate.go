package mpimap

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
)

// root runs rank 0's part: its own tasks, the supply for Dynamic and Guided,
// and the gathering of every result in place.
func (m *mapper[T, R]) root(ctx context.Context) ([]R, error) {
	results := make([]R, m.n)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := m.startPool(runCtx, results)
	defer p.close()

	sup := &supply{n: m.n, chunk: m.cfg.chunk, ranks: m.np, guided: m.cfg.schedule == Guided}
	if !m.dynamic() {
		sup.next = m.n // nothing to deal: every rank knows its share
		m.add(p, m.staticShare())
	}
	var (
		ran      int       // tasks that ran, on any rank
		fails    []failure // every failure, with original errors for rank 0's own
		finals   int       // ranks that sent their last results
		stopping bool
		causes   []string
		idle     idler[R]
	)
	own := map[int]error{}
	target := 2 * m.cfg.workers * m.cfg.chunk // tasks rank 0 keeps at hand when dealing
	for {
		progress := false
		// Messages from the other ranks: results, requests, last words. At
		// most one per rank per round, so that a busy stream of them cannot
		// keep rank 0 from its own pieces or from seeing a cancellation.
		for range m.np - 1 {
			st, ok, err := m.comm.Iprobe(mpi.AnySource, tagToRoot)
			if err != nil {
				return results, fmt.Errorf("mpimap: %w", err)
			}
			if !ok {
				break
			}
			progress = true
			msg, _, err := m.comm.Recv(st.Source, tagToRoot)
			if err != nil {
				return results, fmt.Errorf("mpimap: %w", err)
			}
			in, err := m.readResults(msg, results)
			if err != nil {
				return results, fmt.Errorf("mpimap: malformed message from rank %d: %w", st.Source, err)
			}
			ran += in.ran
			fails = append(fails, in.fails...)
			if in.final {
				finals++
				if in.cause != "" {
					causes = append(causes, fmt.Sprintf("rank %d: %s", st.Source, in.cause))
				}
			}
			if in.want > 0 {
				var w writer
				w.byte(kindChunks)
				var spans []span
				for !stopping && len(spans) < in.want {
					s, ok := sup.take()
					if !ok {
						break
					}
					spans = append(spans, s)
				}
				w.uint(len(spans))
				for _, s := range spans {
					w.span(s)
				}
				if err := m.comm.Send(st.Source, tagToWorker, w.b); err != nil {
					return results, fmt.Errorf("mpimap: %w", err)
				}
			}
		}
		// Rank 0's own finished pieces.
		for _, d := range p.finished() {
			progress = true
			ran += d.ran
			for _, f := range d.fails {
				own[f.index] = f.err
			}
			fails = append(fails, d.fails...)
		}
		if !stopping && ctx.Err() != nil {
			stopping = true
			causes = append(causes, fmt.Sprintf("rank 0: %v", context.Cause(ctx)))
			m.stopped.Store(true)
			cancel()
			p.drop()
			var w writer
			w.byte(kindStop)
			for r := 1; r < m.np; r++ {
				if err := m.comm.Send(r, tagToWorker, w.b); err != nil {
					return results, fmt.Errorf("mpimap: %w", err)
				}
			}
		}
		for !stopping && m.computes() && p.outstanding < target {
			s, ok := sup.take()
			if !ok {
				break
			}
			m.add(p, s)
		}
		p.feed()
		if finals == m.np-1 && p.outstanding == 0 && (stopping || sup.next >= m.n) {
			break
		}
		if !progress {
			idle.wait(p, watch(ctx, stopping), m.np > 1)
		} else {
			idle.reset()
		}
	}

	sortFailures(fails)
	in := interruption{notRun: m.n - ran, n: m.n, causes: causes}
	var w writer
	w.byte(kindOutcome)
	w.uint(in.notRun)
	w.uint(len(in.causes))
	for _, c := range in.causes {
		w.string(c)
	}
	w.uint(len(fails))
	for _, f := range fails {
		w.failure(f)
	}
	for r := 1; r < m.np; r++ {
		if err := m.comm.Send(r, tagToWorker, w.b); err != nil {
			return results, fmt.Errorf("mpimap: %w", err)
		}
	}
	return results, mapError(fails, own, in, ctx.Err())
}

// resultsMessage is what rank 0 reads from one message of another rank.
type resultsMessage struct {
	want  int // chunks requested
	ran   int
	fails []failure
	final bool
	cause string // why that rank stopped early, if it did
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
	for range r.uint() {
		s := r.span(m.n)
		ran := r.uint()
		payload := r.bytes()
		if r.err != nil {
			break
		}
		if ran > s.count {
			return in, fmt.Errorf("%d of %d tasks ran", ran, s.count)
		}
		if err := m.store(results, span{start: s.start, count: ran, stride: s.stride}, payload); err != nil {
			return in, err
		}
		in.ran += ran
	}
	for range r.uint() {
		if r.err != nil {
			break
		}
		in.fails = append(in.fails, r.failure(m.n))
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
		return m.codec.decode(results[s.start:s.start+s.count], payload)
	}
	vals := make([]R, s.count)
	if err := m.codec.decode(vals, payload); err != nil {
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
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := m.startPool(runCtx, nil)
	defer p.close()

	exhausted := !m.dynamic() // no more tasks will come
	if exhausted {
		m.add(p, m.staticShare())
	}
	var (
		awaiting bool // a request for chunks is unanswered
		stopping bool
		cause    string
		idle     idler[R]
		batch    writer
	)
	own := map[int]error{}
	win := window{workers: m.cfg.workers, chunk: m.cfg.chunk}
	var asked time.Time // when the unanswered request was sent
	for {
		progress := false
		// Finished pieces go into the next message.
		pieces := p.finished()
		var fails []failure
		batch.b = batch.b[:0]
		for _, d := range pieces {
			progress = true
			win.ran(d.ran, d.took)
			for _, f := range d.fails {
				own[f.index] = f.err
			}
			fails = append(fails, d.fails...)
		}
		if !stopping && ctx.Err() != nil {
			stopping, cause = true, context.Cause(ctx).Error()
			m.stopped.Store(true)
			cancel()
			p.drop()
		}
		want := 0
		if target := win.target(); !exhausted && !stopping && !awaiting && p.outstanding < target {
			want = max(1, (target-p.outstanding)/m.cfg.chunk)
		}
		final := p.outstanding == 0 && !awaiting && (exhausted || stopping)
		if len(pieces) > 0 || want > 0 || final {
			kind := kindResults
			if final {
				kind = kindFinal
			}
			if err := m.encodeResults(&batch, kind, want, pieces, fails); err != nil {
				return err
			}
			if final {
				batch.string(cause)
			}
			if err := m.comm.Send(0, tagToRoot, batch.b); err != nil {
				return fmt.Errorf("mpimap: %w", err)
			}
			if awaiting = want > 0; awaiting {
				asked = time.Now()
			}
			if final {
				break
			}
		}
		// Chunks or a stop from rank 0.
		for {
			msg, ok, err := m.receive()
			if err != nil || !ok {
				if err != nil {
					return err
				}
				break
			}
			progress = true
			r := reader{b: msg}
			switch r.byte() {
			case kindChunks:
				awaiting = false
				win.roundTrip(time.Since(asked))
				k := r.uint()
				if k == 0 {
					exhausted = true
				}
				for range k {
					s := r.span(m.n)
					if r.err == nil {
						m.add(p, s)
					}
				}
			case kindStop:
				if !stopping {
					stopping, cause = true, "stopped by rank 0"
					m.stopped.Store(true)
					cancel()
					p.drop()
				}
			default:
				r.fail(fmt.Errorf("unexpected message kind %d", msg[0]))
			}
			if err := r.done(); err != nil {
				return fmt.Errorf("mpimap: malformed message from rank 0: %w", err)
			}
		}
		p.feed()
		if !progress {
			idle.wait(p, watch(ctx, stopping), true)
		} else {
			idle.reset()
		}
	}
	return m.awaitOutcome(ctx, own)
}

// encodeResults writes a message to rank 0: its kind, the chunks wanted, the
// finished pieces' results and the failures.
func (m *mapper[T, R]) encodeResults(w *writer, kind byte, want int, pieces []pieceDone[R], fails []failure) error {
	w.byte(kind)
	w.uint(want)
	w.uint(len(pieces))
	var payload []byte
	for _, d := range pieces {
		var err error
		if payload, err = m.codec.append(payload[:0], d.vals[:d.ran]); err != nil {
			// A value gob cannot encode (a nil pointer in a slice, an
			// unregistered interface type) fails its task, not the map.
			payload, fails = m.encodeEach(payload[:0], d, fails)
		}
		w.span(d.s)
		w.uint(d.ran)
		w.bytes(payload)
	}
	w.uint(len(fails))
	for _, f := range fails {
		w.failure(f)
	}
	return nil
}

// encodeEach encodes a piece whose values would not all encode: the ones that
// fail become task failures and are sent as zero values.
func (m *mapper[T, R]) encodeEach(dst []byte, d pieceDone[R], fails []failure) ([]byte, []failure) {
	var zero R
	for k := range d.ran {
		if _, err := m.codec.append(nil, d.vals[k:k+1]); err != nil {
			d.vals[k] = zero
			fails = append(fails, failure{index: d.s.at(k), rank: m.rank, host: m.host,
				err: fmt.Errorf("mpimap: result of type %T cannot be sent to rank 0: %w", zero, err)})
		}
	}
	dst, err := m.codec.append(dst, d.vals[:d.ran])
	if err != nil { // cannot happen once every value encodes alone
		panic(err)
	}
	return dst, fails
}

// receive takes a message from rank 0 if one is waiting.
func (m *mapper[T, R]) receive() ([]byte, bool, error) {
	_, ok, err := m.comm.Iprobe(0, tagToWorker)
	if err != nil || !ok {
		return nil, false, wrap(err)
	}
	msg, _, err := m.comm.Recv(0, tagToWorker)
	if err == nil && len(msg) == 0 {
		err = fmt.Errorf("empty message from rank 0")
	}
	return msg, err == nil, wrap(err)
}

func wrap(err error) error {
	if err != nil {
		return fmt.Errorf("mpimap: %w", err)
	}
	return nil
}

// awaitOutcome waits for rank 0's word on how the map ended, and turns it
// into this rank's error.
func (m *mapper[T, R]) awaitOutcome(ctx context.Context, own map[int]error) error {
	var idle idler[R]
	for {
		msg, ok, err := m.receive()
		if err != nil {
			return err
		}
		if !ok {
			idle.wait(nil, nil, true)
			continue
		}
		r := reader{b: msg}
		if r.byte() != kindOutcome {
			continue // a stop that crossed our last message
		}
		in := interruption{notRun: r.uint(), n: m.n}
		for range r.uint() {
			in.causes = append(in.causes, r.string())
		}
		var fails []failure
		for range r.uint() {
			if r.err != nil {
				break
			}
			fails = append(fails, r.failure(m.n))
		}
		if err := r.done(); err != nil {
			return fmt.Errorf("mpimap: malformed outcome from rank 0: %w", err)
		}
		return mapError(fails, own, in, ctx.Err())
	}
}

// idler waits between polls for messages: yielding at first, so that a reply
// is seen within microseconds, then sleeping, and after a long quiet spell
// sleeping longer, so that an idle rank leaves its cores to the workers. A
// piece finishing locally ends the wait at once.
type idler[R any] struct {
	rounds int
	timer  *time.Timer
}

func (i *idler[R]) reset() { i.rounds = 0 }

const (
	spinRounds  = 64   // polls that only yield the processor
	shortRounds = 2500 // then short sleeps: about 0.1 s of them
)

// wait waits for a finished piece of p (kept for the next p.finished), for
// cancelled to close, or, when poll is set, for the time to poll again.
func (i *idler[R]) wait(p *pool[R], cancelled <-chan struct{}, poll bool) {
	i.rounds++
	if poll && i.rounds <= spinRounds {
		runtime.Gosched()
		return
	}
	var tick <-chan time.Time
	if poll {
		// Timers are coarse on many machines: a microsecond asked is tens
		// slept, and anything from ten microseconds about a millisecond.
		d := time.Microsecond
		if i.rounds > spinRounds+shortRounds {
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
