package mpimap

import (
	"cmp"
	"slices"
)

// A node's leader merges the pieces of consecutive tasks that its ranks
// reported into one piece before it reports them up, so that rank 0 reads
// and settles a piece per run of tasks rather than per task: with a rank
// per core and chunk 1, a piece per task of every core of a large cluster
// is more than rank 0's core can read (docs/scale.md). Only pieces that
// lose nothing merge: fixed-size results inside the report (their
// encodings then simply join), every task of the span run, no failure,
// log record or trace times. Which rank ran the tasks of a merged piece,
// and for how long, is tallied and goes up in the leader's final report,
// for rank 0's statistics.

// compact merges the runs of consecutive tasks among pieces, the pieces of
// a report about to go up. The pieces that cannot merge keep their order
// (the order in which rank 0 reads their parts). The result is the
// leader's to reuse: a report is encoded and sent before the next is made.
func (l *leader[R]) compact(pieces []pieceDone[R]) []pieceDone[R] {
	keys := l.keys[:0] // of the pieces that may merge, to sort them by task
	for k := range pieces {
		if p := &pieces[k]; l.mergeable(p) {
			keys = append(keys, pieceKey{start: p.s.start, attempt: p.s.attempt, at: k})
		}
	}
	l.keys = keys
	if len(keys) < 2 {
		return pieces
	}
	if cap(l.compacted) > 0 && &pieces[:1][0] == &l.compacted[:1][0] {
		l.compacted = nil // pieces are the last result: not to be written over
	}
	out := l.compacted[:0]
	next := 0 // keys are still in the pieces' order: the others go first, as they came
	for k := range pieces {
		if next < len(keys) && keys[next].at == k {
			next++
			continue
		}
		out = append(out, pieces[k])
	}
	slices.SortFunc(keys, func(a, b pieceKey) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.attempt, b.attempt))
	})
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && follows(&pieces[keys[j-1].at], &pieces[keys[j].at]) {
			j++
		}
		if j-i == 1 {
			out = append(out, pieces[keys[i].at])
		} else {
			out = append(out, l.merge(pieces, keys[i:j]))
		}
		i = j
	}
	l.compacted = out
	return out
}

// pieceKey is where a piece's tasks start, for sorting pieces by it.
type pieceKey struct{ start, attempt, at int }

// mergeable reports whether p may merge with others: a piece of another
// rank's, whose results are fixed-size and inside the report, all run and
// none failed, with nothing else that names its rank.
func (l *leader[R]) mergeable(p *pieceDone[R]) bool {
	return p.payload != nil && !p.merged && p.s.stride == 1 && p.ran == p.s.count && p.ran > 0 &&
		len(p.payload) == p.ran*l.resultSize && len(p.fails) == 0 && len(p.logs) == 0 && p.times == nil
}

// follows reports whether b's tasks come right after a's, in the same
// attempt.
func follows[R any](a, b *pieceDone[R]) bool {
	return b.s.start == a.s.start+a.s.count && b.s.attempt == a.s.attempt
}

// merge is the piece of the pieces of run, whose tasks follow one another;
// it tallies what each rank ran.
func (l *leader[R]) merge(pieces []pieceDone[R], run []pieceKey) pieceDone[R] {
	first := &pieces[run[0].at]
	size := 0
	for _, k := range run {
		size += len(pieces[k.at].payload)
	}
	m := pieceDone[R]{pieceReport: pieceReport{s: span{start: first.s.start, stride: 1, attempt: first.s.attempt},
		rank: l.node.workers[0], host: first.host, merged: true}, payload: make([]byte, 0, size)}
	for _, k := range run {
		p := &pieces[k.at]
		m.payload = append(m.payload, p.payload...)
		m.s.count += p.s.count
		m.ran += p.ran
		l.tally(p) // its took goes there: a merged piece's is no one's
	}
	return m
}

// tally counts p's tasks as its rank's.
func (l *leader[R]) tally(p *pieceDone[R]) {
	members := l.node.workers
	k, found := slices.BinarySearch(members, p.rank) // ascending
	if !found {
		k = slices.Index(members, p.rank)
	}
	if k < 0 {
		return // not of this node: cannot be
	}
	if l.tallies == nil {
		l.tallies = make([]rankTally, len(members))
	}
	t := &l.tallies[k]
	t.rank, t.host = p.rank, p.host
	t.tasks += p.ran
	t.busy += p.took
	t.workers = max(t.workers, p.worker+1)
}

// tallyList is the tallies, by rank, for the final report.
func (l *leader[R]) tallyList() []rankTally {
	var out []rankTally
	for _, t := range l.tallies {
		if t.tasks > 0 {
			out = append(out, t)
		}
	}
	return out
}
