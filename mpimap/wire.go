package mpimap

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hpcmap/hpcmap/mpi"
)

// Messages of a Map. Workers send to rank 0 on tagToRoot: results, with a
// request for more chunks, and a final message when they are done. Rank 0
// sends to workers on tagToWorker: chunks (none when the supply is exhausted),
// stop, and the outcome that ends the map.
const (
	tagToRoot   = mpi.ReservedTag
	tagToWorker = mpi.ReservedTag + 1
)

// Every message begins with the sequence number of its map on the
// communicator (a uvarint), then its kind: a map discards the messages of an
// earlier one, which a failure may leave behind.
const (
	kindResults byte = iota + 1 // worker → root: pieces of results, and a request
	kindFinal                   // worker → root: last results; this rank is done
	kindChunks                  // root → worker: spans to run; none means no more
	kindStop                    // root → worker: stop starting tasks
	kindOutcome                 // root → worker: how the map ended
	kindAbort                   // root → worker: the map failed on rank 0
	kindFailed                  // worker → root: the map failed on that rank
)

// message starts a message of the map of the given kind.
func (m *mapper[T, R]) message(kind byte) writer {
	var w writer
	w.uint(int(m.seq))
	w.byte(kind)
	return w
}

// ours strips the sequence number off msg, and says whether msg belongs to
// this map rather than to an earlier one.
func (m *mapper[T, R]) ours(msg []byte) ([]byte, bool) {
	r := reader{b: msg}
	seq := r.uint()
	return r.b, r.err == nil && uint64(seq) == m.seq
}

// span is a run of task indices: start, start+stride, ... (count of them),
// each at its attempt-th try.
type span struct{ start, count, stride, attempt int }

func (s span) at(k int) int { return s.start + k*s.stride }

// failure is a task's error as it crosses ranks.
type failure struct {
	index   int
	attempt int
	rank    int
	host    string
	panic   bool
	err     error
}

func (f failure) taskError() *TaskError {
	return &TaskError{Index: f.index, Rank: f.rank, Host: f.host, Panic: f.panic, Err: f.err, Attempts: f.attempt}
}

// writer builds a message.
type writer struct{ b []byte }

func (w *writer) uint(v int)      { w.b = binary.AppendUvarint(w.b, uint64(v)) }
func (w *writer) int(v int64)     { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) byte(v byte)     { w.b = append(w.b, v) }
func (w *writer) bytes(v []byte)  { w.uint(len(v)); w.b = append(w.b, v...) }
func (w *writer) string(v string) { w.uint(len(v)); w.b = append(w.b, v...) }
func (w *writer) span(s span) {
	w.uint(s.start)
	w.uint(s.count)
	w.uint(s.stride)
	w.uint(s.attempt)
}
func (w *writer) bool(v bool) {
	if v {
		w.byte(1)
	} else {
		w.byte(0)
	}
}
func (w *writer) failure(f failure) {
	w.uint(f.index)
	w.uint(f.attempt)
	w.uint(f.rank)
	w.string(f.host)
	w.bool(f.panic)
	w.string(fmt.Sprint(f.err)) // as %v does: an Error method that panics says so
	w.uint(sentinelOf(f.err))
}

// reader takes a message apart; the first malformed field sets err, and every
// later read returns zero values, so a decoder checks err once at the end.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("message ends early")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) uint() int {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<62 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *reader) int() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail(errShort)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uint()
	if n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string { return string(r.bytes()) }
func (r *reader) bool() bool     { return r.byte() != 0 }

// span reads a span and checks that it lies inside [0, n).
func (r *reader) span(n int) span {
	s := span{start: r.uint(), count: r.uint(), stride: r.uint(), attempt: r.uint()}
	if r.err == nil && (s.count < 0 || s.stride < 1 || s.attempt < 1 || s.start >= n && s.count > 0 ||
		s.count > 0 && (s.count-1) > (n-1-s.start)/s.stride) {
		r.fail(fmt.Errorf("span %+v outside %d tasks", s, n))
	}
	return s
}

func (r *reader) failure(n int) failure {
	f := failure{index: r.uint(), attempt: r.uint(), rank: r.uint(), host: r.string(), panic: r.bool()}
	e := &remoteError{msg: r.string()}
	if k := r.uint(); k > 0 && k <= len(sentinels) {
		e.cause = sentinels[k-1]
	}
	f.err = e
	if r.err == nil && f.index >= n {
		r.fail(fmt.Errorf("failure of task %d outside %d tasks", f.index, n))
	}
	return f
}

// done checks that the whole message was read.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes left over", len(r.b))
	}
	return r.err
}
