package mpimap

import "math"

// simExec is a rank's pool in the simulator: the executor its worker drives,
// with the pool's shape (pool.go) in virtual time. A span is split into pieces
// by pieceSize, as pool.add splits it; pieces wait in pending until the queue
// (the pool's channel, of capacity workers) has room, and only the driver
// moves them there (pool.feed runs in add and finished), handing a piece
// straight to a goroutine blocked on the empty queue. A goroutine runs its
// piece's tasks back to back, then yields (pool.work's Gosched: the driver
// takes its core, see simRank.nextTurn) and takes the next queued piece, or
// blocks.
//
// Cores: a rank has one core per worker goroutine, and its driver shares
// them. With CPU-bound tasks (cpu set) the driver gets a core only when a
// goroutine finishes a piece and yields, blocks on the empty queue, or when
// Go's sysmon preempts a goroutine that has run for simPreempt (see
// simRank.coreAt); a goroutine
// handed a piece while the driver holds the last free core starts when the
// driver yields it. Tasks that sleep (cpu unset) hold no core.
type simExec struct {
	rank, workers int
	cpu           bool
	dur           func(i int) int64 // task i's duration, ns
	pending       []simPiece
	queue         []simPiece // at most workers
	slots         []simSlot
	idle          []int     // slots blocked on the empty queue
	ends          indexHeap // running slots by the end of their piece
	outstanding   int       // tasks pending, queued, running or finished and not yet collected
	done          []pieceDone[float64]
	spare         *runner[float64] // value slices, recycled by the dealer's gather
	useful        *int64           // task time run, summed over the simulation

	// During a driver's turn.
	driverOn  bool
	deferred  []int // slots handed a piece that wait for the driver's core
	paused    int   // the slot the driver preempted, or -1
	turnStart int64
	now       int64 // the clock of the turn, for pieces handed out
}

type simPiece struct {
	s   span
	dur int64
}

type simSlot struct {
	p               simPiece
	start, runSince int64
	pos             int32 // in the heap of running slots
}

func newSimExec(rank, workers int, cpu bool, dur func(int) int64, spare *runner[float64], useful *int64) *simExec {
	e := &simExec{rank: rank, workers: workers, cpu: cpu, dur: dur, slots: make([]simSlot, workers),
		paused: -1, spare: spare, useful: useful}
	for i := workers - 1; i >= 0; i-- {
		e.idle = append(e.idle, i)
	}
	e.ends.key = func(i int32) int64 { s := &e.slots[i]; return s.start + s.p.dur }
	e.ends.pos = func(i int32) *int32 { return &e.slots[i].pos }
	return e
}

// add splits s into pieces, as pool.add does.
func (e *simExec) add(s span) {
	size := pieceSize(s.count, e.workers, true)
	for k := 0; k < s.count; k += size {
		c := min(size, s.count-k)
		p := simPiece{s: span{start: s.at(k), count: c, stride: s.stride, attempt: s.attempt}}
		for j := range c {
			p.dur += e.dur(p.s.at(j))
		}
		e.pending = append(e.pending, p)
		e.outstanding += c
	}
	e.feed()
}

func (e *simExec) held() int { return e.outstanding }

// stop drops the pieces not yet queued, as poolExec.stop does.
func (e *simExec) stop() {
	for _, p := range e.pending {
		e.outstanding -= p.s.count
	}
	e.pending = nil
}

func (e *simExec) abandon() { e.stop(); e.outstanding = 0 }

// feed moves pending pieces to blocked goroutines, then into the queue.
func (e *simExec) feed() {
	for len(e.pending) > 0 {
		p := e.pending[0]
		switch {
		case len(e.idle) > 0:
			i := e.idle[len(e.idle)-1]
			e.idle = e.idle[:len(e.idle)-1]
			e.slots[i] = simSlot{p: p, start: e.now, runSince: e.now}
			if e.driverOn && e.cpu && e.running() >= e.workers-1 {
				e.deferred = append(e.deferred, i) // no core until the driver yields
			} else {
				e.ends.push(i)
			}
		case len(e.queue) < e.workers:
			e.queue = append(e.queue, p)
		default:
			return
		}
		e.pending = e.pending[1:]
	}
}

// running is the number of goroutines on a core: those in the heap (a
// paused one is taken out while the driver runs in its place).
func (e *simExec) running() int { return e.ends.len() }

// advance runs the goroutines up to time t: each finished piece is kept for
// finished, and its goroutine takes the next queued piece or blocks.
func (e *simExec) advance(t int64) {
	for e.ends.len() > 0 {
		i := e.ends.top()
		sl := &e.slots[i]
		end := sl.start + sl.p.dur
		if end > t {
			return
		}
		e.ends.pop()
		e.complete(sl, i, end)
		if len(e.queue) > 0 {
			sl.p, sl.start, sl.runSince = e.queue[0], end, end // it yielded in between
			e.queue = e.queue[1:]
			e.ends.push(i)
		} else {
			e.idle = append(e.idle, i)
		}
	}
}

func (e *simExec) complete(sl *simSlot, worker int, end int64) {
	s := sl.p.s
	vals := e.spare.values(s.count)
	for k := range vals {
		vals[k] = simValue(s.at(k))
	}
	e.done = append(e.done, pieceDone[float64]{pieceReport: pieceReport{s: s, ran: s.count, rank: e.rank,
		host: "sim", worker: worker, took: durationOf(end - sl.start)}, vals: vals})
	*e.useful += sl.p.dur
}

// simValue is the result of task i in the simulator: checked at the end, so
// that a task lost or run twice cannot go unnoticed.
func simValue(i int) float64 { return float64(i) + 0.5 }

// finished takes the pieces finished by t, as pool.finished does.
func (e *simExec) finished(t int64) []pieceDone[float64] {
	e.advance(t)
	out := e.done
	e.done = nil
	for i := range out {
		e.outstanding -= out[i].s.count
	}
	e.now = t
	e.feed()
	return out
}

// beginTurn puts the driver on a core at t: a free one, that of a goroutine
// that yielded at t, or that of the goroutine running longest, which it
// preempts.
func (e *simExec) beginTurn(t int64) {
	e.advance(t)
	e.driverOn, e.turnStart, e.now = true, t, t
	if !e.cpu || e.running() < e.workers {
		return
	}
	best := never
	for _, i := range e.ends.items {
		since := e.slots[i].runSince
		if since == t {
			since = -1 // it yielded just now
		}
		if since < best {
			best, e.paused = since, int(i)
		}
	}
	e.ends.remove(e.paused)
}

// endTurn gives the driver's core back at t: deferred goroutines start, a
// preempted one resumes, later by the length of the turn. It reports whether
// a goroutine was waiting for that core: then the driver yielded it, and
// waits for one itself.
func (e *simExec) endTurn(t int64) bool {
	waited := e.paused >= 0 || len(e.deferred) > 0
	if e.paused >= 0 {
		sl := &e.slots[e.paused]
		sl.start += t - e.turnStart
		sl.runSince = t
		e.ends.push(e.paused)
		e.paused = -1
	}
	for _, i := range e.deferred {
		e.slots[i].start, e.slots[i].runSince = t, t
		e.ends.push(i)
	}
	e.deferred = e.deferred[:0]
	e.driverOn = false
	return waited
}

// firstEnd is when the next piece finishes.
func (e *simExec) firstEnd() int64 {
	if e.ends.len() == 0 {
		return never
	}
	i := e.ends.top()
	return e.slots[i].start + e.slots[i].p.dur
}

// freeAt is the first time from t on when a core is free for the driver: at
// once if a goroutine is blocked, else when one finishes with the queue empty.
// Only the driver fills the queue, so until its next turn this is fixed.
func (e *simExec) freeAt(t int64, scratch *[]int64) int64 {
	if !e.cpu || len(e.idle) > 0 {
		return t
	}
	if e.ends.len() == 0 {
		return t
	}
	// The goroutines' ends, in a heap of their own; each queued piece goes to
	// the first goroutine to finish, and the one after those blocks.
	h := (*scratch)[:0]
	for _, i := range e.ends.items {
		h = append(h, e.slots[i].start+e.slots[i].p.dur)
	}
	heapInit(h)
	for _, p := range e.queue {
		h[0] += p.dur
		heapDown(h, 0)
	}
	*scratch = h
	return max(h[0], t)
}

// yieldAt is the first time from w on when a running goroutine finishes a
// piece and yields its core: the pieces running, and those queued after them
// (the first goroutine to finish takes the next).
func (e *simExec) yieldAt(w int64, scratch *[]int64) int64 {
	if e.ends.len() == 0 {
		return never
	}
	if first := e.firstEnd(); first >= w {
		return first
	}
	h := (*scratch)[:0]
	for _, i := range e.ends.items {
		h = append(h, e.slots[i].start+e.slots[i].p.dur)
	}
	heapInit(h)
	defer func() { *scratch = h }()
	for _, p := range e.queue {
		if h[0] >= w {
			return h[0]
		}
		h[0] += p.dur
		heapDown(h, 0)
	}
	// The queue is empty by then: the goroutines block as they finish,
	// which freeAt counts.
	for len(h) > 0 && h[0] < w {
		h[0] = h[len(h)-1]
		h = h[:len(h)-1]
		heapDown(h, 0)
	}
	if len(h) == 0 {
		return never
	}
	return h[0]
}

// preemptAt is the first time from w on when sysmon preempts one of the
// running goroutines: each is preempted every simPreempt it runs.
func (e *simExec) preemptAt(w int64) int64 {
	best := never
	for _, i := range e.ends.items {
		since := e.slots[i].runSince
		k := max(1, (w-since+simPreempt-1)/simPreempt)
		best = min(best, since+k*simPreempt)
	}
	return best
}

// never is a time that does not come.
const never = int64(math.MaxInt64)

// heapInit and heapDown keep a plain min-heap of times.
func heapInit(h []int64) {
	for k := len(h)/2 - 1; k >= 0; k-- {
		heapDown(h, k)
	}
}

func heapDown(h []int64, k int) {
	for {
		l, best := 2*k+1, k
		if l < len(h) && h[l] < h[best] {
			best = l
		}
		if r := l + 1; r < len(h) && h[r] < h[best] {
			best = r
		}
		if best == k {
			return
		}
		h[k], h[best] = h[best], h[k]
		k = best
	}
}
