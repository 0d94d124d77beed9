package mpimap

import (
	"fmt"

	"github.com/hpcmap/hpcmap/internal/codec"
)

// gather is where rank 0 keeps the results the dealer settles: in a slice in
// argument order (Map, MapN), or handed to a sink as they come (Each,
// EachN); and in the journal, if there is one. It also shows each piece to
// the monitor.
type gather[R any] struct {
	codec   codec.Codec[R]
	results []R                        // Map: every result; nil for Each
	sink    func(index int, r R) error // Each
	sinkErr error                      // the sink's first error: it is called no more
	scratch []R                        // Each: a piece's results, decoded
	journal *journal[R]
	mon     *monitor
	run     *runner[R] // whose spare value slices a local piece's go back to
	payload []byte     // reused to encode rank 0's own results
	parts   *partsIn   // receives the parts of other ranks' results
}

// place puts the results of the tasks of p that ran into their slots of
// results, or into scratch for the sink. A piece from another rank is
// decoded from its payload, and from its parts, which come straight from the
// rank that ran it (through a node's leader too: parts.go): the parts of a
// piece in argument order land straight in their slots.
// Rank 0's own results become what they would have become on another rank,
// so that a result never depends on where its task ran: a slice is copied to
// its exact length (nil if empty), and a value that travels through gob goes
// through it (gob makes an empty slice nil, and refuses some values, whose
// tasks fail).
func (g *gather[R]) place(p *pieceDone[R]) error {
	if p.payload == nil {
		return g.placeOwn(p)
	}
	var parts codec.Parts
	if g.parts != nil {
		g.parts.from = p.rank
		parts = g.parts
	}
	if g.results != nil && p.s.stride == 1 {
		return g.codec.DecodeHead(g.results[p.s.start:p.s.start+p.ran], p.payload, parts)
	}
	if err := g.codec.DecodeHead(g.scratchFor(p.ran), p.payload, parts); err != nil {
		return err
	}
	g.scatter(p)
	return nil
}

// placeOwn places the results of a piece that ran on rank 0.
func (g *gather[R]) placeOwn(p *pieceDone[R]) error {
	defer func() {
		g.run.recycle(p.vals)
		p.vals = nil
	}()
	vals := p.vals[:p.ran]
	if !g.codec.Raw() {
		g.payload, p.fails = encodeValues(g.payload[:0], p, g.codec, 0)
		return g.place(&pieceDone[R]{pieceReport: p.pieceReport, payload: g.payload})
	}
	switch {
	case g.results == nil:
		g.codec.Clone(g.scratchFor(p.ran), vals)
	case p.s.stride == 1:
		g.codec.Clone(g.results[p.s.start:p.s.start+p.ran], vals)
	default:
		for k := range vals {
			i := p.s.at(k)
			g.codec.Clone(g.results[i:i+1], vals[k:k+1])
		}
	}
	return nil
}

// scratchFor is scratch, zeroed, for n results.
func (g *gather[R]) scratchFor(n int) []R {
	if cap(g.scratch) < n {
		g.scratch = make([]R, n)
	}
	g.scratch = g.scratch[:n]
	clear(g.scratch)
	return g.scratch
}

// scatter copies the results of p from scratch into their slots of results,
// for Map; a sink takes them from scratch.
func (g *gather[R]) scatter(p *pieceDone[R]) {
	if g.results == nil {
		return
	}
	for k := range p.ran {
		g.results[p.s.at(k)] = g.scratch[k]
	}
}

// commit journals the results of p's tasks that succeeded, hands them to the
// sink, and shows p to the monitor; retried marks failed tasks that will run
// again.
func (g *gather[R]) commit(p *pieceDone[R], retried func(index int) bool) error {
	if err := g.mon.piece(p.rank, p.host, p.pieceReport, retried); err != nil {
		return err
	}
	if g.journal == nil && g.sink == nil {
		return nil
	}
	failed := func(i int) bool {
		for _, f := range p.fails {
			if f.index == i {
				return true
			}
		}
		return false
	}
	for k := range p.ran {
		i := p.s.at(k)
		if len(p.fails) > 0 && failed(i) {
			continue
		}
		v := g.value(k, i)
		if g.journal != nil {
			if err := g.journal.add(i, v); err != nil {
				return fmt.Errorf("mpimap: journal: task %d: %w", i, err)
			}
		}
		if g.sink != nil && g.sinkErr == nil {
			if err := g.sink(i, v[0]); err != nil {
				g.sinkErr = fmt.Errorf("mpimap: sink: task %d: %w", i, err)
			}
		}
	}
	return nil
}

// value is the result of task i, the k-th of the piece placed last, as a
// slice of one.
func (g *gather[R]) value(k, i int) []R {
	if g.results != nil {
		return g.results[i : i+1]
	}
	return g.scratch[k : k+1]
}
