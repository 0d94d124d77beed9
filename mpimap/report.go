package mpimap

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/hpcmap/hpcmap/internal/codec"
)

// appendReport appends rep, as the map of sequence seq sends it, to dst. The
// results of each piece are its payload if it has one (received from another
// rank), else its values encoded by c; values that cannot be encoded fail
// their tasks (see encodeValues).
func appendReport[R any](dst []byte, seq uint64, rep *report[R], c codec.Codec[R], host string) []byte {
	w := writer{b: dst}
	w.uint(int(seq))
	w.byte(rep.kind)
	if rep.kind == kindFailed {
		w.string(rep.cause)
		return w.b
	}
	w.uint(rep.want)
	w.uint(rep.slots)
	// The hosts of the pieces, each once: pieces name theirs by position.
	var hosts []string
	hostOf := func(h string) int {
		for i, x := range hosts {
			if x == h {
				return i
			}
		}
		hosts = append(hosts, h)
		return len(hosts) - 1
	}
	hostOf(host)
	for i := range rep.pieces {
		hostOf(rep.pieces[i].host)
	}
	w.uint(len(hosts))
	for _, h := range hosts {
		w.string(h)
	}
	w.uint(len(rep.pieces))
	for i := range rep.pieces {
		p := &rep.pieces[i]
		w.uint(p.rank)
		w.uint(hostOf(p.host))
		w.span(p.s)
		w.uint(p.ran)
		w.bool(p.merged)
		// The results, after a fixed-width length filled in once known, so
		// that they are encoded straight into the message.
		at := len(w.b)
		w.b = append(w.b, 0, 0, 0, 0, 0, 0, 0, 0)
		if p.payload != nil {
			w.b = append(w.b, p.payload...)
		} else {
			w.b, p.fails = encodeValues(w.b, p, c, partMin)
		}
		binary.LittleEndian.PutUint64(w.b[at:], uint64(len(w.b)-at-8))
		w.uint(len(p.fails))
		for _, f := range p.fails {
			w.failure(f)
		}
		w.uint(p.worker)
		w.uint(int(p.took))
		w.uint(len(p.times))
		for _, t := range p.times {
			w.uint(int(t))
		}
		w.uint(len(p.logs))
		for _, l := range p.logs {
			w.record(l)
		}
	}
	if rep.kind == kindFinal {
		w.string(rep.cause)
		w.uint(len(rep.loads))
		for _, l := range rep.loads {
			w.uint(l.rank)
			w.uint(l.messages)
			w.uint(l.peers)
		}
		w.uint(len(rep.tallies))
		for _, t := range rep.tallies {
			w.uint(t.rank)
			w.string(t.host)
			w.uint(t.tasks)
			w.uint(int(t.busy))
			w.uint(t.workers)
		}
	}
	return w.b
}

// readReport decodes the body of a report (after its sequence number) of a
// map of n tasks. The pieces' payloads are slices of msg.
func readReport[R any](msg []byte, n int) (report[R], error) {
	var rep report[R]
	err := rep.read(msg, n)
	return rep, err
}

// minPieceBytes is the least a piece takes in a report: twelve one-byte
// varints, a flag and the fixed-width size of its results.
const minPieceBytes = 21

// read decodes the body of a report into rep, as readReport, reusing the
// memory of rep's pieces (not of their lists, which a dealer may keep):
// rank 0 and a leader read a piece per task, and allocating it was most of
// the cost of one.
func (rep *report[R]) read(msg []byte, n int) error {
	r := reader{b: msg}
	*rep = report[R]{kind: r.byte(), pieces: rep.pieces[:0]}
	switch rep.kind {
	case kindFailed:
		rep.cause = r.string()
		return r.done()
	case kindResults, kindFinal:
	default:
		return fmt.Errorf("unexpected message kind %d", rep.kind)
	}
	rep.want, rep.slots = r.uint(), r.uint()
	hosts := r.list()
	names := make([]string, 0, min(hosts, 64))
	for range hosts {
		if r.err != nil {
			break
		}
		names = append(names, r.string())
	}
	count := r.uint()
	if count > len(r.b)/minPieceBytes {
		r.fail(errShort)
	}
	if r.err == nil {
		rep.pieces = slices.Grow(rep.pieces, count)[:count]
		for i := range rep.pieces {
			p := &rep.pieces[i]
			*p = pieceDone[R]{}
			if p.payload = r.piece(&p.pieceReport, names, n); r.err != nil {
				break
			}
		}
	}
	if rep.kind == kindFinal {
		rep.cause = r.string()
		for range r.list() {
			if r.err != nil {
				break
			}
			rep.loads = append(rep.loads, rankLoad{rank: r.uint(), load: load{messages: r.uint(), peers: r.uint()}})
		}
		for range r.list() {
			if r.err != nil {
				break
			}
			rep.tallies = append(rep.tallies, rankTally{rank: r.uint(), host: r.string(), tasks: r.uint(),
				busy: time.Duration(r.uint()), workers: r.uint()})
		}
	}
	if r.err != nil {
		rep.pieces = rep.pieces[:0]
	}
	return r.done()
}

// piece decodes a piece of a report, of a map of n tasks whose hosts are
// names, into p (zero), and returns its results' encoding. Its lists are
// mostly empty, and cost nothing then.
func (r *reader) piece(p *pieceReport, names []string, n int) (payload []byte) {
	p.rank, p.host = r.uint(), r.host(names)
	p.s, p.ran, p.merged = r.span(n), r.uint(), r.bool()
	payload = r.sized()
	if k := r.list(); k > 0 {
		p.fails = make([]failure, 0, min(k, 64))
		for ; k > 0 && r.err == nil; k-- {
			p.fails = append(p.fails, r.failure(n))
		}
	}
	p.worker = r.uint()
	p.took = time.Duration(r.uint())
	if k := r.list(); k > 0 {
		p.times = make([]int64, 0, k)
		for ; k > 0 && r.err == nil; k-- {
			p.times = append(p.times, int64(r.uint()))
		}
	}
	if k := r.list(); k > 0 {
		p.logs = make([]logRecord, 0, min(k, 64))
		for ; k > 0 && r.err == nil; k-- {
			p.logs = append(p.logs, r.record(n))
		}
	}
	if r.err == nil && (p.ran > p.s.count || len(p.fails) > p.ran) {
		r.fail(fmt.Errorf("%d of %d tasks ran, %d failed", p.ran, p.s.count, len(p.fails)))
	}
	return payload
}

// encodeValues appends the encoding of p's results to dst, and returns p's
// failures with those of the results that cannot be encoded: such a value
// (an unregistered type in an interface) fails its task, not the map, and is
// sent as the zero value. Results that travel as memory, of big bytes or
// more (if big > 0), are left out of dst and added to p's parts instead
// (parts.go); a piece whose vals are a part keeps them until sent.
func encodeValues[R any](dst []byte, p *pieceDone[R], c codec.Codec[R], big int) ([]byte, []failure) {
	if c.Raw() {
		out, parts, _ := c.AppendHead(dst, p.vals[:p.ran], p.parts, big)
		if c.Fixed() && len(parts) > len(p.parts) {
			p.vals = nil // the part is their memory: not for reuse
		}
		p.parts = parts
		return out, p.fails
	}
	out, err := c.Append(dst, p.vals[:p.ran])
	if err == nil {
		return out, p.fails
	}
	fails := p.fails
	failed := func(i int) bool {
		for _, f := range fails {
			if f.index == i {
				return true
			}
		}
		return false
	}
	for k := range p.ran {
		if _, err := c.Append(nil, p.vals[k:k+1]); err != nil {
			clear(p.vals[k : k+1])
			fails = append(fails, p.failure(k, fmt.Errorf("mpimap: result of type %v cannot cross ranks: %w", typeName[R](), err)))
		}
	}
	if out, err = c.Append(dst, p.vals[:p.ran]); err != nil {
		// Values that fail only together: every task of the piece fails.
		for k := range p.ran {
			clear(p.vals[k : k+1])
			if !failed(p.s.at(k)) {
				fails = append(fails, p.failure(k, fmt.Errorf("mpimap: results of type %v cannot cross ranks: %w", typeName[R](), err)))
			}
		}
		out, _ = c.Append(dst, p.vals[:p.ran])
	}
	return out, fails
}
