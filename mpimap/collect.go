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
}

// place decodes the results of the tasks of p that ran: into their slots of
// results, or into scratch for the sink. Rank 0's own results go through the
// encoding that other ranks' results go through, so that what a result
// becomes never depends on where its task ran: gob makes an empty slice
// nil, and refuses some values (their tasks fail).
func (g *gather[R]) place(p *pieceDone[R]) error {
	payload := p.payload
	if payload == nil {
		if g.codec.Fixed() && g.results != nil {
			// As good as decoding: the same bytes.
			for k := range p.ran {
				g.results[p.s.at(k)] = p.vals[k]
			}
			g.run.recycle(p.vals)
			p.vals = nil
			return nil
		}
		g.payload, p.fails = encodeValues(g.payload[:0], p, g.codec)
		payload = g.payload
		g.run.recycle(p.vals)
		p.vals = nil
	}
	if g.results != nil && p.s.stride == 1 {
		return g.codec.Decode(g.results[p.s.start:p.s.start+p.ran], payload)
	}
	if cap(g.scratch) < p.ran {
		g.scratch = make([]R, p.ran)
	}
	g.scratch = g.scratch[:p.ran]
	clear(g.scratch)
	if err := g.codec.Decode(g.scratch, payload); err != nil {
		return err
	}
	if g.results != nil {
		for k, v := range g.scratch {
			g.results[p.s.at(k)] = v
		}
	}
	return nil
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
