package mpimap

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/hpcmap/hpcmap/internal/codec"
	"hash/crc32"
	"io"
	"os"
	"reflect"
	"slices"
	"time"
)

// A journal is an append-only file of finished results, written by rank 0:
//
//	header:  "hpcmap journal 1\n", uvarint len, fingerprint, crc32
//	record:  uvarint index, uvarint len, result, crc32 (of the three before it)
//
// The fingerprint is the number of tasks, a SHA-256 of the encoded
// arguments and the result type, so that a journal is never mixed into
// another map. A record cut short by a kill is detected by its length or
// checksum, and it and anything after it are dropped.
const journalMagic = "hpcmap journal 1\n"

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
}

// journalFingerprint describes a map: its tasks, its arguments and its
// result type.
func journalFingerprint[T, R any](args []T) ([]byte, error) {
	ac, err := codec.New[T]()
	if err != nil {
		return nil, fmt.Errorf("mpimap: WithJournal fingerprints the arguments, but %w", err)
	}
	enc, err := ac.Append(nil, args)
	if err != nil {
		return nil, fmt.Errorf("mpimap: WithJournal fingerprints the arguments: %w", err)
	}
	sum := sha256.Sum256(enc)
	var w writer
	w.uint(len(args))
	w.bytes(sum[:])
	w.string(reflect.TypeFor[R]().String())
	return w.b, nil
}

// openJournal opens or creates the journal at path, fills results with the
// tasks it holds, and returns which tasks those are and how many.
func openJournal[T, R any](path string, args []T, c codec.Codec[R], results []R) (*journal[R], []bool, int, error) {
	fp, err := journalFingerprint[T, R](args)
	if err != nil {
		return nil, nil, 0, err
	}
	var header writer
	header.b = append(header.b, journalMagic...)
	header.bytes(fp)
	header.b = binary.LittleEndian.AppendUint32(header.b, crc32.ChecksumIEEE(header.b))

	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mpimap: journal: %w", err)
	}
	j := &journal[R]{f: f, path: path, codec: c, synced: time.Now()}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	done := make([]bool, len(args))
	if st.Size() == 0 {
		if _, err := f.Write(header.b); err != nil {
			f.Close()
			return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
		}
		return j, done, 0, nil
	}
	jr := newJournalReader(f, st.Size())
	ours := jr.take(int64(len(header.b))) && bytes.Equal(jr.buf, header.b)
	if jr.err == nil && !ours {
		theirs := describeJournal(io.NewSectionReader(f, 0, st.Size()), st.Size())
		f.Close()
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s was written by a different map (%s); "+
			"this map has %d tasks of results %v: use another path, or delete it to start over",
			path, theirs, len(args), reflect.TypeFor[R]())
	}
	good, count := readJournal(jr, c, results, done) // nothing after a read error
	if jr.err != nil {
		// Not a torn record, which the truncation below drops: keep the file.
		f.Close()
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, jr.err)
	}
	// Drop a torn last record, so that new records follow the last good one.
	end := int64(len(header.b)) + good
	if err := f.Truncate(end); err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	return j, done, count, nil
}

// journalReader reads a journal from its start, holding one header or
// record at a time: a resumed map of millions of results would otherwise
// hold the whole file besides the results it decodes from it.
type journalReader struct {
	r    *bufio.Reader
	left int64  // bytes not yet read
	buf  []byte // the current header or record, reused
	err  error  // the first read error; the end of the file is none
}

func newJournalReader(r io.Reader, size int64) *journalReader {
	return &journalReader{r: bufio.NewReaderSize(r, int(min(max(size, 16), 64<<10))), left: size}
}

// take appends the next n bytes to buf, if the file has them.
func (jr *journalReader) take(n int64) bool {
	if n < 0 || n > jr.left {
		return false
	}
	start := len(jr.buf)
	jr.buf = slices.Grow(jr.buf, int(n))[:start+int(n)]
	if _, err := io.ReadFull(jr.r, jr.buf[start:]); err != nil {
		jr.fail(err)
		return false
	}
	jr.left -= n
	return true
}

// uvarint appends the next uvarint's bytes to buf and returns its value.
func (jr *journalReader) uvarint() (int, bool) {
	start := len(jr.buf)
	for jr.left > 0 && len(jr.buf)-start < binary.MaxVarintLen64 {
		b, err := jr.r.ReadByte()
		if err != nil {
			jr.fail(err)
			return 0, false
		}
		jr.left--
		jr.buf = append(jr.buf, b)
		if b < 0x80 {
			r := reader{b: jr.buf[start:]}
			v := r.uint()
			return v, r.err == nil
		}
	}
	return 0, false
}

// fail keeps the first error other than the file ending early, which is
// only a torn record (the file may shrink while it is read).
func (jr *journalReader) fail(err error) {
	if jr.err == nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		jr.err = err
	}
	jr.left = 0
}

// header reads a journal's header, checksum included, and returns the number
// of tasks and the result type of the map that wrote it. Its errors complete
// "the journal ...", but for a read error, which is returned as it is.
func (jr *journalReader) header() (tasks int, resultType string, err error) {
	jr.buf = jr.buf[:0]
	if !jr.take(int64(len(journalMagic))) || string(jr.buf) != journalMagic {
		return 0, "", jr.errOr("it is not an hpcmap journal")
	}
	n, ok := jr.uvarint()
	start := len(jr.buf)
	if !ok || !jr.take(int64(n)+4) {
		return 0, "", jr.errOr("its header is damaged")
	}
	body := len(jr.buf) - 4
	fp := reader{b: jr.buf[start:body]}
	tasks = fp.uint()
	fp.bytes() // the arguments' hash
	resultType = fp.string()
	if fp.err != nil || binary.LittleEndian.Uint32(jr.buf[body:]) != crc32.ChecksumIEEE(jr.buf[:body]) {
		return 0, "", errors.New("its header is damaged")
	}
	return tasks, resultType, nil
}

// errOr is the read error that stopped jr, if there was one, else what.
func (jr *journalReader) errOr(what string) error {
	if jr.err != nil {
		return jr.err
	}
	return errors.New(what)
}

// record reads the next record of a journal of n tasks: its task and its
// encoded result, which is valid until the next call. It returns false at
// the end, and at a record that is torn or damaged.
func (jr *journalReader) record(n int) (index int, payload []byte, ok bool) {
	jr.buf = jr.buf[:0]
	index, okIndex := jr.uvarint()
	length, okLength := jr.uvarint()
	if !okIndex || !okLength || index >= n {
		return 0, nil, false
	}
	body := len(jr.buf)
	if !jr.take(int64(length) + 4) {
		return 0, nil, false
	}
	end := body + length
	if binary.LittleEndian.Uint32(jr.buf[end:]) != crc32.ChecksumIEEE(jr.buf[:end]) {
		return 0, nil, false
	}
	return index, jr.buf[body:end], true
}

// readJournal decodes the records that jr reads into results and done, and
// returns how many bytes are good records and how many distinct tasks they
// hold.
func readJournal[R any](jr *journalReader, c codec.Codec[R], results []R, done []bool) (good int64, count int) {
	return scanJournal(jr, len(results), func(index int, payload []byte) bool {
		if c.Decode(results[index:index+1], payload) != nil {
			return false
		}
		if !done[index] {
			done[index] = true
			count++
		}
		return true
	}), count
}

// scanJournal calls record for each good record that jr reads from a journal
// of n tasks, until one is torn or record returns false; it returns the
// length of the good records.
func scanJournal(jr *journalReader, n int, record func(index int, payload []byte) bool) (good int64) {
	for {
		index, payload, ok := jr.record(n)
		if !ok || !record(index, payload) {
			return good
		}
		good += int64(len(jr.buf))
	}
}

// describeJournal says what map the journal that r reads (of size bytes)
// was written by, for errors.
func describeJournal(r io.Reader, size int64) string {
	tasks, resultType, err := newJournalReader(r, size).header()
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d tasks of results %q, or other arguments", tasks, resultType) // quoted: the file may say anything
}

// JournalProgress reads the journal at path, as WithJournal writes it, and
// returns how many tasks the map that wrote it has and how many of those have
// a result in it. It only reads, so it may watch the journal of a running
// map (or of a job killed at its time limit) to tell how far it got; a record
// cut short at the end, being written or torn by a kill, does not count.
func JournalProgress(path string) (done, tasks int, err error) {
	var seen taskSet
	if st, err := os.Stat(path); err == nil {
		seen.bound = 8 * st.Size() // a bitset no larger than the file
	}
	tasks, err = scanJournalFile(path, seen.add)
	return seen.n, tasks, err
}

// taskSet counts distinct task indices: below bound in a bitset, grown to
// the highest index seen, and above it in a map. A journal whose tasks are
// mostly done has at least 6 bytes per task, so its indices all fit in a
// bitset no larger than the file (1e6 tasks: 125 KB, where a map took
// 50 MB); the few indices of a sparse or damaged journal go in the map, so a
// header or record claiming a huge index cannot make it allocate much.
type taskSet struct {
	bound  int64
	bits   []uint64
	sparse map[int]bool
	n      int
}

func (s *taskSet) add(index int) {
	if int64(index) >= s.bound {
		if s.sparse == nil {
			s.sparse = make(map[int]bool)
		}
		if !s.sparse[index] {
			s.sparse[index] = true
			s.n++
		}
		return
	}
	word, bit := index/64, uint64(1)<<(index%64)
	if word >= len(s.bits) {
		s.bits = slices.Grow(s.bits, word+1-len(s.bits))[:word+1]
	}
	if s.bits[word]&bit == 0 {
		s.bits[word] |= bit
		s.n++
	}
}

// scanJournalFile reads the journal at path without changing it, calls
// record with the task of each good record, and returns the number of tasks
// of the map that wrote it.
func scanJournalFile(path string, record func(index int)) (tasks int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("mpimap: journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	jr := newJournalReader(f, st.Size()) // what is there now: a running map may append
	if tasks, _, err = jr.header(); err != nil {
		return 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	scanJournal(jr, tasks, func(index int, _ []byte) bool {
		record(index)
		return true
	})
	if jr.err != nil {
		return 0, fmt.Errorf("mpimap: journal %s: %w", path, jr.err)
	}
	return tasks, nil
}

// add appends the record of task index, whose result is v.
func (j *journal[R]) add(index int, v []R) error {
	var err error
	if j.payload, err = j.codec.Append(j.payload[:0], v); err != nil {
		return err
	}
	start := len(j.buf)
	w := writer{b: j.buf}
	w.uint(index)
	w.bytes(j.payload)
	j.buf = binary.LittleEndian.AppendUint32(w.b, crc32.ChecksumIEEE(w.b[start:]))
	return nil
}

// flush writes the records added so far: from then on a killed process
// loses none of them.
func (j *journal[R]) flush() error {
	if len(j.buf) > 0 {
		if _, err := j.f.Write(j.buf); err != nil {
			return fmt.Errorf("mpimap: journal %s: %w", j.path, err)
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
