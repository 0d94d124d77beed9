package mpimap

import (
	"fmt"
	"math"
	"math/bits"
)

// Schedule says how tasks are shared among ranks.
type Schedule int

const (
	// Block gives each rank one contiguous block of tasks, the blocks
	// differing in size by at most one, for any number of tasks ("equal
	// portion"). The default: no messages until results flow back.
	Block Schedule = iota
	// Cyclic gives rank r the tasks r, r+np, r+2np, ...: static, and better
	// than Block when task cost grows or shrinks along the arguments.
	Cyclic
	// Dynamic has rank 0 deal chunks of WithChunk tasks to whichever rank
	// asks next ("card dealer"); rank 0's own workers draw from the same
	// supply. Best for tasks of unpredictable cost.
	Dynamic
	// Guided deals like Dynamic with chunks that shrink as the supply runs
	// down: a share of the remaining tasks, never less than WithChunk.
	Guided
	numSchedules
)

var scheduleNames = [...]string{"block", "cyclic", "dynamic", "guided"}

func (s Schedule) String() string {
	if s < 0 || s >= numSchedules {
		return fmt.Sprintf("Schedule(%d)", int(s))
	}
	return scheduleNames[s]
}

// ParseSchedule is the Schedule named s ("block", "cyclic", "dynamic" or
// "guided"), for command-line flags.
func ParseSchedule(s string) (Schedule, error) {
	for i, name := range scheduleNames {
		if s == name {
			return Schedule(i), nil
		}
	}
	return 0, fmt.Errorf("mpimap: unknown schedule %q (want block, cyclic, dynamic or guided)", s)
}

// dealt reports whether tasks are dealt as ranks ask for them, rather than
// shared out in advance.
func (s Schedule) dealt() bool { return s == Dynamic || s == Guided }

// span is a run of task indices: start, start+stride, ... (count of them),
// each at its attempt-th try.
type span struct{ start, count, stride, attempt int }

func (s span) at(k int) int { return s.start + k*s.stride }

// staticShare is the span of n tasks that Block or Cyclic gives the q-th of p
// ranks that compute.
func staticShare(s Schedule, n, p, q int) span {
	if s == Cyclic {
		if q >= n {
			return span{stride: p, attempt: 1}
		}
		return span{start: q, count: (n - q + p - 1) / p, stride: p, attempt: 1}
	}
	// Rank q gets [q·n/p, (q+1)·n/p): sizes differ by at most one, for any
	// n. The products are taken in 128 bits: n·p may not fit in an int.
	start, end := mulDiv(q, n, p), mulDiv(q+1, n, p)
	return span{start: start, count: end - start, stride: 1, attempt: 1}
}

// mulDiv is a·b/c for non-negative a ≤ c and b, c > 0, without overflow.
func mulDiv(a, b, c int) int {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c)) // hi < c, since a·b/c ≤ b
	return int(q)
}

// source is where a dealer takes the tasks it deals: the map's task indices
// (rank 0's supply), or the spans a node's leader got from rank 0 (a
// spanQueue).
type source interface {
	take(size int) (span, bool) // up to size tasks, in one span
	remaining() int             // tasks not yet dealt
	empty() bool                // none left, and none will come
}

// supply is rank 0's source: the tasks of Dynamic and Guided in index order,
// passing over journaled ones.
type supply struct {
	next, n int
	left    int // tasks not yet dealt
	skip    *bitset
}

func (s *supply) empty() bool    { return s.left <= 0 }
func (s *supply) remaining() int { return max(s.left, 0) }

func (s *supply) take(size int) (span, bool) {
	for s.next < s.n && s.skip.has(s.next) {
		s.next++
	}
	if s.left <= 0 || s.next >= s.n {
		return span{}, false
	}
	sp := span{start: s.next, stride: 1, attempt: 1}
	for sp.count < size && s.next < s.n && !s.skip.has(s.next) {
		sp.count++
		s.next++
	}
	s.left -= sp.count
	return sp, true
}

// spanQueue is a node leader's source: the spans rank 0 dealt it, dealt on
// in pieces to the node's ranks. It is empty once rank 0 has said no more
// will come and the last is dealt.
type spanQueue struct {
	spans  []span
	count  int  // tasks in spans
	closed bool // no more will come
}

func (q *spanQueue) push(s span) {
	if s.count > 0 {
		q.spans = append(q.spans, s)
		q.count += s.count
	}
}

func (q *spanQueue) take(size int) (span, bool) {
	if len(q.spans) == 0 {
		return span{}, false
	}
	head := &q.spans[0]
	sp := *head
	sp.count = min(size, head.count)
	head.start, head.count = head.at(sp.count), head.count-sp.count
	if head.count == 0 {
		q.spans = q.spans[1:]
	}
	q.count -= sp.count
	return sp, true
}

func (q *spanQueue) remaining() int { return q.count }
func (q *spanQueue) empty() bool    { return q.closed && q.count == 0 }

// drop forgets what is left, and says how many tasks that was.
func (q *spanQueue) drop() int {
	n := q.count
	q.spans, q.count = nil, 0
	return n
}

// retry is a failed task waiting for another attempt.
type retry struct {
	index, attempt int // the attempt to come
	lastRank       int // where it failed
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

// pieceSize is how many tasks of a span of count one worker goroutine takes
// at a time: enough pieces to balance the goroutines, few enough to keep
// overhead low.
func pieceSize(count, workers int, dealt bool) int {
	per := 2 * workers // two pieces per worker balance the tasks of a dealt span
	if !dealt {
		per *= 4 // a static share is large: balance it more finely
	}
	return min(max(1, count/per+min(count%per, 1)), 4096)
}

// window sizes the tasks a worker keeps requested or at hand under Dynamic
// and Guided: two chunks per worker goroutine (one, for tasks far longer than
// a round trip), plus what its goroutines get
// through in one round trip to the dealer (the bandwidth-delay product), so
// that short tasks are never held up by messaging while the tail imbalance
// stays within about one round trip. Capped at 256 chunks or 4096 tasks per
// goroutine, whichever is more.
type window struct {
	workers, chunk int
	rtt, perTask   float64 // moving averages, in seconds
}

func (w *window) target() int {
	base := mulSat(2*w.workers, w.chunk)
	if w.rtt > 0 && w.perTask > 20*w.rtt {
		// Long tasks: a chunk for each goroutine is enough, the next one
		// asked for as a goroutine frees; more would be taken from ranks
		// that are idle at the end.
		base = mulSat(w.workers, w.chunk)
	}
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

// average folds a sample into a moving average.
func average(avg *float64, sample float64) {
	if *avg == 0 {
		*avg = sample
	} else {
		*avg += (sample - *avg) / 8
	}
}

func (w *window) roundTrip(seconds float64) { average(&w.rtt, seconds) }

func (w *window) ran(tasks int, seconds float64) {
	if tasks > 0 {
		average(&w.perTask, seconds/float64(tasks))
	}
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

// bitset is a set of task indices; the nil set is empty.
type bitset struct{ words []uint64 }

func newBitset(n int) *bitset { return &bitset{words: make([]uint64, (n+63)/64)} }

func (b *bitset) has(i int) bool {
	return b != nil && b.words[i/64]&(1<<(i%64)) != 0
}

func (b *bitset) set(i int) { b.words[i/64] |= 1 << (i % 64) }
