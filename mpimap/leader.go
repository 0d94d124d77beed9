package mpimap

import (
	"bytes"
	"time"
)

// A node's leader stands between rank 0 and the other ranks of its node, so
// that rank 0 exchanges messages with a leader per node rather than with
// every rank: toward rank 0 it is a worker, whose executor is the node; toward
// its node it is a dealer, dealing on the spans rank 0 deals it, and its own
// tasks come from that dealer too, through a local worker as rank 0's do.
// The results its node reports go up batched with its next report, their
// encoding untouched: pieces of consecutive tasks merged into one where
// nothing is lost by it (merge.go), the others as they came.
//
// Through a leader, the schedules mean:
//   - Block and Cyclic: each rank still computes its own share; the leader
//     forwards its node's results.
//   - Dynamic and Guided: rank 0 deals a leader chunks in proportion to its
//     node's goroutines, and the leader asks for more before its node runs
//     dry (its window covers the node); it deals them on in chunks of
//     WithChunk (Guided: shrinking with what it holds).
//   - Retries: rank 0 decides them, as ever, and deals them to a leader (or a
//     rank of its own node) as any task.
//
// Like the dealer and the worker, a leader never communicates itself: a
// driver feeds it messages and sends what it gives out.
type leader[R any] struct {
	up    *worker[R] // toward rank 0
	node  *dealer[R] // toward the node's ranks, the leader's own included
	exec  *nodeExec[R]
	local *worker[R] // the leader's own tasks
	// resultSize is the size of a result's encoding when results are of a
	// fixed size, and pieces of them may merge (merge.go); 0 otherwise.
	resultSize int
	tallies    []rankTally    // by position in the node: what each rank ran of merged pieces
	keys       []pieceKey     // reused by compact
	compacted  []pieceDone[R] // reused by compact
}

// leaderWindow is how many times its node's goroutines a leader's window
// counts (see newLeader).
const leaderWindow = 3

// newLeader is the leader of the node of ranks members (the leader first),
// in a map of np ranks. slots is the goroutines of the node, local the
// leader's own worker (it reports to node as rank members[0]); resultSize
// is the size of a result's encoding if fixed, else 0.
func newLeader[R any](cfg config, np int, members []int, slots int, local *worker[R], static bool, resultSize int) *leader[R] {
	q := &spanQueue{}
	l := &leader[R]{local: local, resultSize: resultSize}
	l.exec = &nodeExec[R]{queue: q, static: static}
	l.up = newWorker[R](l.exec, slots, cfg.chunk, nil, cfg.retries > 0, false)
	// The node dealer lets a rank hold at most half its share of what the
	// leader holds, and a rank's window is two chunks per goroutine and
	// more: a leader that held only its node's windows would hand each rank
	// one task at a time, and its ranks would idle a round trip to it per
	// chunk (simulated, 1,024 ranks of 1 ms tasks, rank per core: 85%
	// efficient, and 97% at three times). It holds three times theirs.
	l.up.win.workers = leaderWindow * max(slots, 1)
	if static {
		l.up.exhausted = cfg.retries == 0 // only retries are ever dealt
	}
	nodeCfg := cfg
	nodeCfg.retries = 0 // rank 0 decides every retry
	l.node = newDealerOf[R](&forwarder[R]{l}, q, nodeCfg, np, members)
	l.exec.node = l.node
	if resultSize > 0 {
		l.up.compact = l.compact
	}
	return l
}

// fromNode takes a report from a rank of the node (the leader's own worker's
// too).
func (l *leader[R]) fromNode(from int, rep *report[R]) error { return l.node.receive(from, rep) }

// fromRoot takes an order of rank 0's.
func (l *leader[R]) fromRoot(now time.Time, o *order) error {
	err := l.up.receive(now, o)
	l.exec.queue.closed = l.up.exhausted || l.up.stopping
	return err
}

// stop starts no more tasks in the node, for the reason given.
func (l *leader[R]) stop(now time.Time, why string) {
	l.up.stop(now, why)
	l.exec.queue.closed = true
}

// orders are the orders for the node's ranks to send now.
func (l *leader[R]) orders() []envelope {
	envs := l.exec.pending
	l.exec.pending = nil
	return append(envs, l.node.answer()...)
}

// next is the report for rank 0 to send now, if there is one.
func (l *leader[R]) next(now time.Time) *report[R] {
	rep := l.up.next(now)
	if rep != nil && rep.kind == kindFinal {
		// The node's share of the map's messages, for rank 0's statistics.
		for _, r := range l.node.workers[1:] {
			rep.loads = append(rep.loads, rankLoad{r, l.node.loads[r]})
		}
		rep.tallies = l.tallyList()
	}
	return rep
}

// forwarder settles a node's pieces by handing them up: the leader's worker
// reports them to rank 0 as its own.
type forwarder[R any] struct{ l *leader[R] }

func (f *forwarder[R]) place(p *pieceDone[R]) error {
	if p.payload != nil {
		// The message it came in is reused for the next one; this piece
		// may wait for the next report up.
		p.payload = bytes.Clone(p.payload)
	}
	return nil
}

func (f *forwarder[R]) commit(p *pieceDone[R], _ func(int) bool) error {
	f.l.exec.reported(p)
	f.l.up.done([]pieceDone[R]{*p})
	return nil
}

// nodeExec is a node as its leader's executor: the tasks handed to it wait
// in the node dealer's queue for the node's ranks to ask.
type nodeExec[R any] struct {
	queue     *spanQueue
	node      *dealer[R]
	static    bool       // the node's ranks run static shares: only retries are dealt
	heldTasks int        // dealt to the node and not yet reported
	abandoned bool       // stopped waiting for the node
	pending   []envelope // orders to send the node's ranks: a stop
}

func (e *nodeExec[R]) add(s span) {
	e.queue.push(s)
	e.heldTasks += s.count
}

// held counts a node whose ranks have not all sent their final reports as
// holding a task at least: the leader's final report must follow theirs.
func (e *nodeExec[R]) held() int {
	if e.abandoned {
		return 0
	}
	if e.node.finals < len(e.node.workers) {
		return max(e.heldTasks, 1)
	}
	return e.heldTasks
}

func (e *nodeExec[R]) stop() {
	e.heldTasks -= e.queue.drop()
	e.queue.closed = true
	e.pending = append(e.pending, e.node.stop("stopped by rank 0")...)
}

func (e *nodeExec[R]) abandon() { e.abandoned = true }

// reported takes back a piece that a rank of the node reported.
func (e *nodeExec[R]) reported(p *pieceDone[R]) {
	if !e.static || p.s.attempt > 1 { // a static share was never handed over
		e.heldTasks = max(0, e.heldTasks-p.s.count)
	}
}
