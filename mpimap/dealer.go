package mpimap

import (
	"fmt"
	"slices"
)

// The dealer is rank 0's part of a map toward the ranks that run tasks: it
// deals chunks of Dynamic and Guided, and retries of any schedule, to the
// workers that ask, settles the outcome of every task their reports carry,
// and tells them when to stop and how the map ended. It is a state machine,
// the mirror of the worker (worker.go): it takes in reports and the time and
// gives out orders, and never communicates itself. Rank 0's own worker is
// one of its workers like the others, at rank 0. A node's leader has a dealer
// too, toward the ranks of its node, that deals on the spans rank 0 deals the
// leader (see leader.go).

// settler is where a dealer's settled pieces go: rank 0's results
// (gather), or up to rank 0 through a node's leader (forwarder).
type settler[R any] interface {
	// place takes the results of a piece's tasks that ran; it may fail
	// tasks whose results cannot be kept.
	place(p *pieceDone[R]) error
	// commit takes a piece once its failures are settled; retried marks
	// the failed tasks that will run again.
	commit(p *pieceDone[R], retried func(index int) bool) error
}

// envelope is an order for the worker at rank to.
type envelope struct {
	to int
	o  order
}

type dealer[R any] struct {
	n, chunk   int
	computing  int // ranks that run tasks
	guided     bool
	retriesMax int
	src        source
	retries    []retry // failed tasks waiting for another attempt
	waiting    []int   // ranks whose request for chunks waits, oldest first
	want       []int   // by rank: chunks that rank's waiting request asks for
	held       []int   // by rank: tasks dealt to it and not yet reported
	slots      []int   // by rank: the goroutines that run its tasks (1 until it says)
	allSlots   int     // their sum over the workers
	workers    []int   // the ranks that report to this dealer
	finals     int     // of them, those that sent their final report

	settled  int // tasks whose outcome is final: results, journaled, or failed every attempt
	dealt    int // tasks dealt or shared out and not yet reported
	fails    []failure
	own      map[int]error // rank 0's own tasks' original errors
	stopping bool
	causes   []string    // where and why the map was stopped
	loads    []load      // by rank, from final reports
	tallies  []rankTally // from leaders' final reports: what ranks ran of merged pieces

	out settler[R]
}

// newDealer deals the n tasks of a map, of which the journal holds resumed,
// to workers (ranks of np) under the schedule: rank 0's dealer.
func newDealer[R any](out settler[R], cfg config, n, np, resumed int, workers []int, skip *bitset) *dealer[R] {
	sup := &supply{n: n, skip: skip}
	d := newDealerOf(out, sup, cfg, np, workers)
	d.n, d.settled = n, resumed
	if cfg.schedule.dealt() {
		sup.left = n - resumed
	} else {
		d.dealt = n - resumed // every rank knows its share
	}
	return d
}

// newDealerOf deals the tasks of src to workers (ranks of np).
func newDealerOf[R any](out settler[R], src source, cfg config, np int, workers []int) *dealer[R] {
	d := &dealer[R]{chunk: cfg.chunk, computing: len(workers), guided: cfg.schedule == Guided, retriesMax: cfg.retries,
		src: src, want: make([]int, np), held: make([]int, np), slots: make([]int, np), loads: make([]load, np),
		workers: workers, own: map[int]error{}, out: out, allSlots: len(workers)}
	for _, r := range workers {
		d.slots[r] = 1
	}
	return d
}

// receive takes in a report from the worker at rank from.
func (d *dealer[R]) receive(from int, rep *report[R]) error {
	if rep.kind == kindFailed {
		return fmt.Errorf("mpimap: the map failed on rank %d: %s", from, rep.cause)
	}
	for i := range rep.pieces {
		if err := d.settle(from, &rep.pieces[i]); err != nil {
			return err
		}
	}
	if rep.kind == kindFinal {
		d.finals++
		for _, l := range rep.loads {
			if l.rank >= 0 && l.rank < len(d.loads) {
				d.loads[l.rank] = l.load
			}
		}
		d.tallies = append(d.tallies, rep.tallies...)
		if rep.cause != "" {
			d.causes = append(d.causes, fmt.Sprintf("rank %d: %s", from, rep.cause))
		}
	}
	if rep.want > 0 && d.want[from] == 0 {
		d.waiting = append(d.waiting, from)
	}
	if rep.want > 0 {
		d.want[from] = rep.want
		if rep.slots > 0 {
			d.allSlots += rep.slots - d.slots[from]
			d.slots[from] = rep.slots
		}
	}
	return nil
}

// settle records what became of a piece of tasks that the worker at rank
// from reports: the first ran of them ran, some of those failed, and failed
// ones run again while they have attempts left.
func (d *dealer[R]) settle(from int, p *pieceDone[R]) error {
	if err := d.out.place(p); err != nil {
		return fmt.Errorf("mpimap: results from rank %d: %w", from, err)
	}
	d.dealt -= p.s.count
	d.held[from] -= p.s.count
	d.settled += p.ran - len(p.fails)
	var again []int // failed tasks that will run again
	for _, f := range p.fails {
		if f.attempt <= d.retriesMax && !d.stopping {
			d.retries = append(d.retries, retry{index: f.index, attempt: f.attempt + 1, lastRank: p.rank})
			again = append(again, f.index)
			continue
		}
		d.settled++
		d.fails = append(d.fails, f)
		if p.payload == nil { // ran here: the original error is at hand
			d.own[f.index] = f.err
		}
	}
	retried := noneRetried
	if len(again) > 0 { // a closure for every piece would cost it an allocation
		retried = func(i int) bool { return slices.Contains(again, i) }
	}
	return d.out.commit(p, retried)
}

// noneRetried is the retried of a piece none of whose tasks run again.
func noneRetried(int) bool { return false }

// deal takes the next span for rank: a retry that failed elsewhere, or a
// chunk of the supply.
func (d *dealer[R]) deal(rank int) (span, bool) {
	for k, t := range d.retries {
		// Another rank, where there is one that computes.
		if t.lastRank != rank || d.computing == 1 {
			d.retries = slices.Delete(d.retries, k, k+1)
			d.dealt++
			d.held[rank]++
			return span{start: t.index, count: 1, stride: 1, attempt: t.attempt}, true
		}
	}
	size := d.chunk
	if d.guided {
		// A share of what is left, halving per round of ranks, so that the
		// last chunks are small and finish together.
		r := max(d.computing, 1)
		size = max(d.chunk, (d.src.remaining()+2*r-1)/(2*r))
	}
	s, ok := d.src.take(size)
	d.dealt += s.count
	d.held[rank] += s.count
	return s, ok
}

// exhausted reports whether no task will ever be dealt again: then a request
// is answered with no chunks, the word to finish.
func (d *dealer[R]) exhausted() bool {
	return d.stopping || d.src.empty() && len(d.retries) == 0 && (d.retriesMax == 0 || d.dealt == 0)
}

// answer answers the requests for chunks that can be answered: with chunks,
// or with none when the map is exhausted. With retries, a request waits
// while tasks are out that may yet fail and need another rank.
func (d *dealer[R]) answer() []envelope {
	var out []envelope
	still := d.waiting[:0]
	for _, rank := range d.waiting {
		// However many chunks a rank asks for, it may hold at most a fair
		// share of the work not yet done (as Guided deals), never less than
		// a chunk for each of its goroutines: a rank whose prefetch
		// overshoots (quick first tasks, a slow round trip) cannot hoard
		// the supply and leave the others idle at the end, and a rank is
		// never kept from filling its goroutines.
		// The share is of the ranks' goroutines: a node's leader, which
		// deals on to its node, may hold its node's share.
		fair := max(mulSat(d.chunk, d.slots[rank]), mulDiv(d.slots[rank], d.src.remaining()+d.dealt, 2*max(d.allSlots, 1)))
		var spans []span
		for !d.stopping && len(spans) < d.want[rank] && d.held[rank] < fair {
			s, ok := d.deal(rank)
			if !ok {
				break
			}
			spans = append(spans, s)
		}
		if len(spans) == 0 && !d.exhausted() {
			still = append(still, rank)
			continue
		}
		d.want[rank] = 0
		out = append(out, envelope{rank, order{kind: kindChunks, spans: joinSpans(spans)}})
	}
	d.waiting = still
	return out
}

// stop starts the drain: no task is dealt or started any more, and every
// worker is told so.
func (d *dealer[R]) stop(cause string) []envelope {
	if d.stopping {
		return nil
	}
	d.stopping = true
	d.causes = append(d.causes, cause)
	out := make([]envelope, 0, len(d.workers))
	for _, rank := range d.workers {
		out = append(out, envelope{rank, order{kind: kindStop}})
	}
	return out
}

// finished reports whether the map is over: every worker sent its final
// report, and no task is left to run (or the map was stopped).
func (d *dealer[R]) finished() bool {
	return d.finals == len(d.workers) && (d.stopping || d.src.empty() && len(d.retries) == 0)
}

// outcome is how the map ended, for every worker, and the failures in
// argument order.
func (d *dealer[R]) outcome() order {
	slices.SortFunc(d.fails, func(a, b failure) int { return a.index - b.index })
	return order{kind: kindOutcome, outcome: interruption{notRun: d.n - d.settled, n: d.n, causes: d.causes}, fails: d.fails}
}
