package mpimap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// writer builds a message: the fields of every kind, which reader takes
// apart.
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

// record and reader.record carry a task's log record across ranks.
func (w *writer) record(l logRecord) {
	w.uint(l.index)
	w.uint(l.attempt)
	// Seconds and nanoseconds: UnixNano overflows for the zero time, which
	// a handler may be given.
	w.int(l.time.Unix())
	w.uint(l.time.Nanosecond())
	w.int(int64(l.level))
	w.string(l.msg)
	w.uint(len(l.attrs))
	for _, s := range l.attrs {
		w.string(s)
	}
}

// reader takes a message apart; the first malformed field sets err, and every
// later read returns zero values, so a decoder checks err once at the end.
type reader struct {
	b   []byte
	err error
}

var (
	errShort     = errors.New("message ends early")
	errBadRecord = errors.New("log record of a task outside the map, or with a dangling key")
)

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) uint() int {
	if len(r.b) > 0 && r.b[0] < 0x80 { // most are small: one byte
		v := r.b[0]
		r.b = r.b[1:]
		return int(v)
	}
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

func (r *reader) take(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte  { return r.take(r.uint()) }
func (r *reader) string() string { return string(r.bytes()) }
func (r *reader) bool() bool     { return r.byte() != 0 }

// sized reads bytes after a fixed-width length, as appendReport writes
// results.
func (r *reader) sized() []byte {
	n := r.take(8)
	if r.err != nil {
		return nil
	}
	size := binary.LittleEndian.Uint64(n)
	if size > uint64(len(r.b)) {
		r.fail(errShort)
		return nil
	}
	return r.take(int(size))
}

// list reads the length of a list. Every element takes a byte at least, so
// a length beyond what is left is a lie, refused before anything is
// allocated for it.
func (r *reader) list() int {
	n := r.uint()
	if n > len(r.b) {
		r.fail(errShort)
		return 0
	}
	return n
}

// each calls read n times, or until the message turns out malformed: the one
// list reader of every decoder.
func (r *reader) each(n int, read func()) {
	for i := 0; i < n && r.err == nil; i++ {
		read()
	}
}

// span reads a span and checks that it lies inside [0, n).
func (r *reader) span(n int) span {
	s := span{start: r.uint(), count: r.uint(), stride: r.uint(), attempt: r.uint()}
	if r.err == nil && (s.count < 0 || s.stride < 1 || s.attempt < 1 || s.start >= n && s.count > 0 ||
		s.count > 0 && (s.count-1) > (n-1-s.start)/s.stride) {
		r.fail(fmt.Errorf("span %+v outside %d tasks", s, n))
	}
	return s
}

// inputs reads the inputs of the tasks of spans: one each, or none. They
// are slices of the message.
func (r *reader) inputs(spans []span) [][]byte {
	k := r.list()
	if k == 0 || r.err != nil {
		return nil
	}
	tasks := 0
	for _, s := range spans {
		if tasks += s.count; tasks > k { // k is at most the message's length: no overflow
			break
		}
	}
	if k != tasks {
		r.fail(fmt.Errorf("%d inputs for %d tasks", k, tasks))
		return nil
	}
	in := make([][]byte, 0, k)
	r.each(k, func() { in = append(in, r.bytes()) })
	return in
}

// host reads a position in names.
func (r *reader) host(names []string) string {
	i := r.uint()
	if r.err == nil && i >= len(names) {
		r.fail(fmt.Errorf("host %d of %d", i, len(names)))
		return ""
	}
	if r.err != nil {
		return ""
	}
	return names[i]
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

func (r *reader) record(n int) logRecord {
	l := logRecord{index: r.uint(), attempt: r.uint()}
	sec, nsec := r.int(), r.uint()
	l.time = time.Unix(sec, int64(nsec)).UTC()
	l.level, l.msg = slog.Level(r.int()), r.string()
	r.each(r.list(), func() { l.attrs = append(l.attrs, r.string()) })
	if r.err == nil && (l.index >= n || len(l.attrs)%2 != 0) {
		r.fail(errBadRecord)
	}
	return l
}

// done checks that the whole message was read.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes left over", len(r.b))
	}
	return r.err
}
