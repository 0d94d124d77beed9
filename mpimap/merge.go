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
// (the order in which rank 0 reads their parts).
func (l *leader[R]) compact(pieces []pieceDone[R]) []pieceDone[R] {
	var may []int // positions of the pieces that may merge
	for k := range pieces {
		if l.mergeable(&pieces[k]) {
			may = append(may, k)
		}
	}
	if len(may) < 2 {
		return pieces
	}
	slices.SortFunc(may, func(a, b int) int {
		return cmp.Or(cmp.Compare(pieces[a].s.start, pieces[b].s.start), cmp.Compare(pieces[a].s.attempt, pieces[b].s.attempt))
	})
	out := make([]pieceDone[R], 0, len(pieces))
	for k := range pieces {
		if !l.mergeable(&pieces[k]) {
			out = append(out, pieces[k])
		}
	}
	for i := 0; i < len(may); {
		j := i + 1
		for j < len(may) && follows(&pieces[may[j-1]], &pieces[may[j]]) {
			j++
		}
		if j-i == 1 {
			out = append(out, pieces[may[i]])
		} else {
			out = append(out, l.merge(pieces, may[i:j]))
		}
		i = j
	}
	return out
}

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

// merge is the piece of the pieces at positions run, whose tasks follow one
// another; it tallies what each rank ran.
func (l *leader[R]) merge(pieces []pieceDone[R], run []int) pieceDone[R] {
	first := &pieces[run[0]]
	size := 0
	for _, k := range run {
		size += len(pieces[k].payload)
	}
	m := pieceDone[R]{pieceReport: pieceReport{s: span{start: first.s.start, stride: 1, attempt: first.s.attempt},
		rank: l.node.workers[0], host: first.host, merged: true}, payload: make([]byte, 0, size)}
	for _, k := range run {
		p := &pieces[k]
		m.payload = append(m.payload, p.payload...)
		m.s.count += p.s.count
		m.ran += p.ran
		m.took += p.took
		l.tally(p)
	}
	return m
}

// tally counts p's tasks as its rank's.
func (l *leader[R]) tally(p *pieceDone[R]) {
	t := l.tallies[p.rank]
	if t == nil {
		t = &rankTally{rank: p.rank, host: p.host}
		l.tallies[p.rank] = t
	}
	t.tasks += p.ran
	t.busy += p.took
	t.workers = max(t.workers, p.worker+1)
}

// tallyList is the tallies, by rank, for the final report.
func (l *leader[R]) tallyList() []rankTally {
	out := make([]rankTally, 0, len(l.tallies))
	for _, t := range l.tallies {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b rankTally) int { return a.rank - b.rank })
	return out
}
