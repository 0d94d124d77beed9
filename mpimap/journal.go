package mpimap

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"reflect"
	"slices"
	"time"

	"github.com/hpcmap/hpcmap/internal/codec"
)

// A journal is an append-only file of finished results, written by rank 0:
//
//	header:  "hpcmap journal 2\n", uvarint len, fingerprint, crc32
//	record:  mark (2 bytes), uvarint index, uvarint len, result, crc32
//
// The fingerprint is what makes a result: the number of tasks, a SHA-256 of
// the arguments' type and canonical encoding (codec.Digest: independent of
// map order and padding), the result type's full layout, and the key that
// WithJournal was given. A journal is never mixed into another map.
//
// A record's crc32 covers the mark and everything before it. A record cut
// short at the end by a kill is dropped when the map resumes; a damaged
// record among good ones is skipped and the good ones after it are kept,
// found again by their mark and checksum.
const journalMagic = "hpcmap journal 2\n"

// journalMagicV1 began the journals of hpcmap before the key and the full
// result layout: their fingerprint cannot tell enough to resume from.
const journalMagicV1 = "hpcmap journal 1\n"

// recordMark begins every record, so that the records after a damaged one
// can be found again without trying every byte.
var recordMark = [2]byte{0xd5, 0x4a}

// journalSyncEvery bounds how long results sit in the page cache before
// fsync: a killed process loses nothing written, a crashed node up to this.
const journalSyncEvery = time.Second

type journal[R any] struct {
	f       *os.File
	path    string
	codec   codec.Codec[R]
	buf     []byte
	payload []byte // reused for each record's encoded result
	synced  time.Time
	n       int   // tasks of the map
	end     int64 // the length of the file when it was opened
}

// journalHead is what a journal's header says about the map that wrote it.
type journalHead struct {
	tasks   int
	args    [sha256.Size]byte // of the arguments' layout and digest
	results string            // the result type's layout
	key     []string
}

// resultLayout is the layout of R as a journal records it, with how its
// values are encoded where that changed: slices of fixed-size elements went
// through gob before they travelled as memory, and a journal of either is
// refused by a map of the other rather than misread.
func resultLayout[R any]() string {
	layout := codec.Layout(reflect.TypeFor[R]())
	if c, err := codec.New[R](); err == nil && c.Raw() && !c.Fixed() {
		layout += " as memory"
	}
	return layout
}

// journalHeadOfN describes a map of n tasks by index (MapN, EachN), whose
// results are R, journaled with key: it has no arguments.
func journalHeadOfN[R any](n int, key []string) journalHead {
	head := journalHead{tasks: n, results: resultLayout[R](), key: key}
	h := sha256.New()
	var w writer
	w.string("task index")
	h.Write(w.b)
	h.Sum(head.args[:0])
	return head
}

// journalHeadOf describes a map of args whose results are R, journaled with
// key.
func journalHeadOf[T, R any](args []T, key []string) (journalHead, error) {
	h := sha256.New()
	var w writer
	w.string(codec.Layout(reflect.TypeFor[T]()))
	h.Write(w.b)
	if err := codec.Digest(h, args); err != nil {
		return journalHead{}, fmt.Errorf("mpimap: WithJournal fingerprints the arguments, but %w", err)
	}
	head := journalHead{tasks: len(args), results: resultLayout[R](), key: key}
	h.Sum(head.args[:0])
	return head, nil
}

// encode is the header as it begins the file.
func (head journalHead) encode() []byte {
	var body writer
	body.uint(head.tasks)
	body.bytes(head.args[:])
	body.string(head.results)
	body.uint(len(head.key))
	for _, k := range head.key {
		body.string(k)
	}
	w := writer{b: []byte(journalMagic)}
	w.bytes(body.b)
	w.b = binary.LittleEndian.AppendUint32(w.b, crc32.ChecksumIEEE(w.b))
	return w.b
}

// parseJournalHead reads a header's body.
func parseJournalHead(body []byte) (journalHead, bool) {
	var head journalHead
	r := reader{b: body}
	head.tasks = r.uint()
	if args := r.bytes(); len(args) == len(head.args) {
		copy(head.args[:], args)
	} else {
		r.fail(errShort)
	}
	head.results = r.string()
	n := r.uint()
	if n > len(r.b) { // each key takes a byte at least
		r.fail(errShort)
	}
	for i := 0; i < n && r.err == nil; i++ {
		head.key = append(head.key, r.string())
	}
	return head, r.done() == nil
}

// mismatch says how the map that wrote the journal differs from this one,
// or "" if it does not.
func (head journalHead) mismatch(this journalHead) string {
	switch {
	case head.tasks != this.tasks:
		return fmt.Sprintf("it holds a map of %d tasks, this map has %d", head.tasks, this.tasks)
	case head.results != this.results:
		// Quoted: the file may say anything.
		return fmt.Sprintf("its results are %q, this map's are %q", head.results, this.results)
	case !slices.Equal(head.key, this.key):
		return fmt.Sprintf("its key is %q, this map's is %q (the key is what WithJournal was given after the path)", head.key, this.key)
	case head.args != this.args:
		return fmt.Sprintf("its map of %d tasks had other arguments", head.tasks)
	}
	return ""
}

// openJournal opens or creates the journal that cfg names, fills results
// with the tasks it holds, and returns which tasks those are and how many. A
// record torn at the end is dropped, so that new records follow the last good
// one; damaged records between good ones are skipped but kept in the file,
// and so said on cfg's progress writer if it has one.
//
// With results nil (a map whose results go to a sink), the records are only
// checked: replay hands them over later.
func openJournal[R any](cfg config, this journalHead, c codec.Codec[R], n int, results []R) (*journal[R], *bitset, int, error) {
	path := cfg.journal
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mpimap: journal: %w", err)
	}
	j, done, count, err := resume(f, path, this, c, n, results, cfg.progress)
	if err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	return j, done, count, nil
}

func resume[R any](f *os.File, path string, this journalHead, c codec.Codec[R], n int, results []R, progress io.Writer) (*journal[R], *bitset, int, error) {
	j := &journal[R]{f: f, path: path, codec: c, synced: time.Now()}
	st, err := f.Stat()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	done := newBitset(n)
	if st.Size() == 0 {
		head := this.encode()
		if _, err := f.Write(head); err != nil {
			return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
		}
		j.n, j.end = n, int64(len(head))
		return j, done, 0, nil
	}
	jr := newJournalReader(f, st.Size())
	head, err := jr.header()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	if why := head.mismatch(this); why != "" {
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s was written by a different map: %s; "+
			"use another path, or delete it to start over", path, why)
	}
	count := readJournal(jr, c, n, results, done)
	if jr.err != nil {
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, jr.err)
	}
	if jr.damaged > 0 && progress != nil {
		fmt.Fprintf(progress, "progress: the journal %s has %s; the %d good records around them are kept\n",
			path, jr.damage(), jr.good)
	}
	// Drop a record torn at the end, with nothing good after it, so that
	// new records follow the last good one.
	end := st.Size() - jr.torn
	if jr.torn > 0 {
		if err := f.Truncate(end); err != nil {
			return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
		}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	j.n, j.end = n, end
	return j, done, count, nil
}

// replay hands sink the result of every task the journal held when it was
// opened, each once, in the order they were journaled.
func (j *journal[R]) replay(sink func(index int, r R) error) error {
	jr := newJournalReader(j.f, j.end)
	if _, err := jr.header(); err != nil {
		return fmt.Errorf("mpimap: journal %s: %w", j.path, err)
	}
	var err error
	readJournal(jr, j.codec, j.n, nil, newBitset(j.n), func(index int, r R) bool {
		if err = sink(index, r); err != nil {
			err = fmt.Errorf("mpimap: sink: task %d (from the journal): %w", index, err)
		}
		return err == nil
	})
	if jr.err != nil {
		return fmt.Errorf("mpimap: journal %s: %w", j.path, jr.err)
	}
	return err
}

// add appends the record of task index, whose result is v. A large result
// that travels as memory is written from where it lies, its memory being
// its record's payload: no copy of it is made.
func (j *journal[R]) add(index int, v []R) error {
	if !j.codec.Raw() {
		var err error
		if j.payload, err = j.codec.Append(j.payload[:0], v); err != nil {
			return err
		}
		j.buf = appendRecord(j.buf, index, j.payload)
		return nil
	}
	prefix, mem := j.codec.AppendSplit(j.payload[:0], &v[0])
	j.payload = prefix
	if len(mem) < journalDirect {
		j.payload = append(prefix, mem...)
		j.buf = appendRecord(j.buf, index, j.payload)
		return nil
	}
	// The record around mem: its head and the prefix into the buffer, which
	// is written, then mem itself, and the checksum of all three begins
	// the buffer again.
	start := len(j.buf)
	w := writer{b: append(j.buf, recordMark[:]...)}
	w.uint(index)
	w.uint(len(prefix) + len(mem))
	j.buf = append(w.b, prefix...)
	crc := crc32.Update(crc32.ChecksumIEEE(j.buf[start:]), crc32.IEEETable, mem)
	if err := j.write(j.buf); err != nil {
		return err
	}
	if err := j.write(mem); err != nil {
		return err
	}
	j.buf = binary.LittleEndian.AppendUint32(j.buf[:0], crc)
	return nil
}

// journalDirect is the least result written from its own memory rather than
// copied into the journal's buffer: a write of its own costs more than
// copying anything smaller.
const journalDirect = 64 << 10

// appendRecord appends to b the record of task index with payload.
func appendRecord(b []byte, index int, payload []byte) []byte {
	start := len(b)
	w := writer{b: append(b, recordMark[:]...)}
	w.uint(index)
	w.bytes(payload)
	return binary.LittleEndian.AppendUint32(w.b, crc32.ChecksumIEEE(w.b[start:]))
}

// write writes b to the journal.
func (j *journal[R]) write(b []byte) error {
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("mpimap: journal %s: %w", j.path, err)
	}
	return nil
}

// flush writes the records added so far: from then on a killed process
// loses none of them.
func (j *journal[R]) flush() error {
	if len(j.buf) > 0 {
		if err := j.write(j.buf); err != nil {
			return err
		}
		j.buf = j.buf[:0]
	}
	if time.Since(j.synced) > journalSyncEvery {
		j.synced = time.Now()
		return j.f.Sync()
	}
	return nil
}

func (j *journal[R]) close() error {
	err := j.flush()
	return errors.Join(err, j.f.Sync(), j.f.Close())
}
