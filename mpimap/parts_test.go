package mpimap

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/hpcmap/hpcmap/mpi"
)

// partsReport is a report of pieces of one slice each, of 64 KiB + 8 bytes
// (a part each) filled with val, for tasks from start on.
func partsReport(start int, val float64, pieces int) report[[]float64] {
	rep := report[[]float64]{kind: kindResults}
	for k := range pieces {
		v := make([]float64, 1<<13+1)
		for i := range v {
			v[i] = val
		}
		rep.pieces = append(rep.pieces, pieceDone[[]float64]{
			pieceReport: pieceReport{s: span{start: start + k, count: 1, stride: 1, attempt: 1}, ran: 1, rank: 1},
			vals:        [][]float64{v}})
	}
	return rep
}

// TestPartsSkipWhatAFailedMapLeft: rank 0 reads the report of a map and the
// part of its first piece only, as a map that fails on rank 0 does; the parts
// of the next map, of the same size, must still land where they belong, not
// the earlier map's left in their place.
func TestPartsSkipWhatAFailedMapLeft(t *testing.T) {
	const failed, next = 5, 6
	err := mpi.Local(2, func(_ context.Context, c mpi.Comm) error {
		cd := newCodec[[]float64](t)
		if c.Rank() == 1 {
			for _, sv := range []struct {
				seq uint64
				val float64
			}{{failed, -1}, {next, 2}} {
				seq, val := sv.seq, sv.val
				m := &mapper[[]float64]{comm: c, seq: seq, np: 2, codec: cd}
				out := outbox{comm: c, tag: tagToDealer}
				rep := partsReport(0, val, 3)
				if err := out.send(0, appendReport(nil, seq, &rep, cd, "node")); err != nil {
					return err
				}
				if err := m.sendParts(&out, &rep); err != nil {
					return err
				}
				if err := out.flush(); err != nil {
					return err
				}
			}
			return nil
		}
		got := map[uint64][][]float64{}
		for range 2 {
			msg, _, err := c.Recv(1, tagToDealer)
			if err != nil {
				return err
			}
			seq, body, _ := sequence(msg)
			rep, err := readReport[[]float64](body, 3)
			if err != nil {
				return err
			}
			m := &mapper[[]float64]{comm: c, seq: seq, np: 2}
			g := &gather[[]float64]{codec: cd, results: make([][]float64, 3), parts: m.partsIn()}
			for i := range rep.pieces {
				if seq == failed && i > 0 {
					break // the map failed: the rest of its parts stay unread
				}
				if err := g.place(&rep.pieces[i]); err != nil {
					return fmt.Errorf("map %d, piece %d: %w", seq, i, err)
				}
			}
			got[seq] = g.results
		}
		for i, r := range got[next] {
			if len(r) != 1<<13+1 || slices.ContainsFunc(r, func(v float64) bool { return v != 2 }) {
				return fmt.Errorf("result %d of the next map holds what the failed map sent", i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
