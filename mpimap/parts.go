package mpimap

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/hpcmap/hpcmap/mpi"
)

// Large results travel as parts: the report that carries a piece holds the
// head of its results' encoding, and each large run of values (a piece of
// fixed-size results, or one slice) follows as a message of its own on
// tagParts, sent from the worker's memory and received on rank 0 straight
// into the results' memory — the slots of Map's results, or a slice made to
// its length — with no copy but MPI's (codec.AppendHead, DecodeHead).
//
// A part carries no header, so that it lands where its values belong. Its
// place is known from order alone: a worker sends the parts of a report
// right after it, and rank 0 receives them, in order, as it places the
// report's pieces. What a failed map left behind must not be taken for
// this one's parts, so each rank's first part of a map is preceded by a
// marker of the map, and rank 0 discards what comes before it.
//
// Parts bypass node leaders: a rank whose dealer is its node's leader
// sends its report to the leader and the report's parts straight to rank
// 0, where they wait until the leader's report up carries the piece (the
// piece names the rank that ran it, whose parts rank 0 then reads). A
// leader forwards the pieces that have parts in the order it received them
// (it merges only pieces without), so the order that places a part holds
// through it; and a leader never holds a
// megabyte-sized result for rank 0, nor copies one. The price: rank 0
// exchanges messages with every rank that sends it large results, not
// only with the leaders.
const tagParts = mpi.ReservedTag + 2

// partMin is the least size of a part: smaller results travel inside their
// report, where a copy out of it costs less than a message of their own.
const partMin = 16 << 10

// partsMarker begins a marker, followed by the map's sequence number: far
// shorter than a part, and unlike anything but itself.
var partsMarker = []byte("hpcmap parts of map ")

func marker(seq uint64) []byte {
	return binary.LittleEndian.AppendUint64(bytes.Clone(partsMarker), seq)
}

// sendParts sends the parts of rep's pieces to rank 0, after the report
// that announces them. They are the pieces' own memory, which the outbox
// keeps until sent.
func (m *mapper[R]) sendParts(out *outbox, rep *report[R]) error {
	for i := range rep.pieces {
		for _, part := range rep.pieces[i].parts {
			if !m.marked {
				if err := out.sendOn(tagParts, 0, marker(m.seq)); err != nil {
					return err
				}
				m.marked = true
			}
			if err := out.sendOn(tagParts, 0, part); err != nil {
				return err
			}
		}
		rep.pieces[i].parts = nil
	}
	return nil
}

// partsIn receives the parts of the reports of a map on the rank they are
// sent to: codec.Parts, for the sender that from names.
type partsIn struct {
	comm   mpi.Comm
	seq    uint64
	load   *loadCount
	from   int     // the rank whose parts are read now
	synced *bitset // ranks whose marker has been read
}

func (m *mapper[R]) partsIn() *partsIn {
	return &partsIn{comm: m.comm, seq: m.seq, load: &m.load, synced: newBitset(m.np)}
}

// Next waits for the next part from the rank from, and returns its size.
// Waiting blocks: the part was sent with the report being read.
func (in *partsIn) Next() (int, error) {
	if !in.synced.has(in.from) {
		if err := in.sync(); err != nil {
			return 0, err
		}
	}
	st, err := in.comm.Probe(in.from, tagParts)
	if err != nil {
		return 0, wrap(err)
	}
	return st.Count, nil
}

// Read receives the part that Next announced into dst.
func (in *partsIn) Read(dst []byte) error {
	got, st, ok, err := in.comm.TryRecv(dst[:len(dst):len(dst)], in.from, tagParts)
	switch {
	case err != nil:
		return wrap(err)
	case !ok:
		return fmt.Errorf("mpimap: the part announced by rank %d is gone", in.from)
	case len(got) != len(dst) || len(dst) > 0 && &got[0] != &dst[0]:
		return fmt.Errorf("mpimap: a part of %d bytes from rank %d, where %d were expected", st.Count, in.from, len(dst))
	}
	in.load.received(st.Source, in.comm.Size())
	return nil
}

// sync discards the messages on tagParts from the rank from up to this
// map's marker: parts a failed map left unread, and its markers.
func (in *partsIn) sync() error {
	want := marker(in.seq)
	for {
		msg, st, err := in.comm.Recv(in.from, tagParts)
		if err != nil {
			return wrap(err)
		}
		in.load.received(st.Source, in.comm.Size())
		if bytes.Equal(msg, want) {
			in.synced.set(in.from)
			return nil
		}
	}
}
