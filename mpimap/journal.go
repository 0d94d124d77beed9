package mpimap

import (
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
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	done := make([]bool, len(args))
	if len(data) == 0 {
		if _, err := f.Write(header.b); err != nil {
			f.Close()
			return nil, nil, 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
		}
		return j, done, 0, nil
	}
	if !bytes.HasPrefix(data, header.b) {
		f.Close()
		return nil, nil, 0, fmt.Errorf("mpimap: journal %s was written by a different map (%s); "+
			"this map has %d tasks of results %v: use another path, or delete it to start over",
			path, describeJournal(data), len(args), reflect.TypeFor[R]())
	}
	good, count := readJournal(data[len(header.b):], c, results, done)
	// Drop a torn last record, so that new records follow the last good one.
	end := int64(len(header.b) + good)
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

// readJournal decodes the records in data into results and done, and returns
// how many bytes of data are good records and how many distinct tasks they
// hold.
func readJournal[R any](data []byte, c codec.Codec[R], results []R, done []bool) (good, count int) {
	return scanJournal(data, len(results), func(index int, payload []byte) bool {
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

// scanJournal calls record for each good record of data, the records after
// a journal's header, until one is torn or record returns false; it returns
// the length of the good records.
func scanJournal(data []byte, n int, record func(index int, payload []byte) bool) (good int) {
	for len(data) > good {
		r := reader{b: data[good:]}
		index := r.uint()
		payload := r.bytes()
		if r.err != nil || len(r.b) < 4 || index >= n {
			break
		}
		body := len(data[good:]) - len(r.b)
		if binary.LittleEndian.Uint32(r.b) != crc32.ChecksumIEEE(data[good:good+body]) || !record(index, payload) {
			break
		}
		good += body + 4
	}
	return good
}

// describeJournal says what map a journal's header describes, for errors.
func describeJournal(data []byte) string {
	tasks, resultType, _, err := parseJournalHeader(data)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d tasks of results %q, or other arguments", tasks, resultType) // quoted: the file may say anything
}

// parseJournalHeader reads the header at the start of a journal's data: the
// number of tasks and the result type of the map that wrote it, and the
// header's length in bytes. Its errors complete "the journal ...".
func parseJournalHeader(data []byte) (tasks int, resultType string, length int, err error) {
	if !bytes.HasPrefix(data, []byte(journalMagic)) {
		return 0, "", 0, errors.New("it is not an hpcmap journal")
	}
	r := reader{b: data[len(journalMagic):]}
	fp := reader{b: r.bytes()}
	tasks = fp.uint()
	fp.bytes() // the arguments' hash
	resultType = fp.string()
	length = len(data) - len(r.b) + 4
	if r.err != nil || fp.err != nil || len(r.b) < 4 ||
		binary.LittleEndian.Uint32(r.b) != crc32.ChecksumIEEE(data[:length-4]) {
		return 0, "", 0, errors.New("its header is damaged")
	}
	return tasks, resultType, length, nil
}

// JournalProgress reads the journal at path, as WithJournal writes it, and
// returns how many tasks the map that wrote it has and how many of those have
// a result in it. It only reads, so it may watch the journal of a running
// map (or of a job killed at its time limit) to tell how far it got; a record
// cut short at the end, being written or torn by a kill, does not count.
func JournalProgress(path string) (done, tasks int, err error) {
	seen := make(map[int]bool) // not a slice of tasks: a damaged header may claim any number
	tasks, err = scanJournalFile(path, func(index int) { seen[index] = true })
	return len(seen), tasks, err
}

// scanJournalFile reads the journal at path without changing it, calls
// record with the task of each good record, and returns the number of tasks
// of the map that wrote it.
func scanJournalFile(path string, record func(index int)) (tasks int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("mpimap: journal: %w", err)
	}
	tasks, _, headerLen, err := parseJournalHeader(data)
	if err != nil {
		return 0, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	scanJournal(data[headerLen:], tasks, func(index int, _ []byte) bool {
		record(index)
		return true
	})
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
