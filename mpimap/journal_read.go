package mpimap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/hpcmap/hpcmap/internal/codec"
)

// journalReader reads a journal from its start, holding a window of the file
// as large as its largest record: a resumed map of millions of results would
// otherwise hold the whole file besides the results it decodes from it. It
// reads at offsets, so that it can look past a damaged record for the next
// good one.
type journalReader struct {
	r      io.ReaderAt
	size   int64  // of the file: what was there when reading began
	off    int64  // where the next record begins
	win    []byte // the file's bytes from winOff on
	winOff int64
	err    error // the first read error; the end of the file is none

	good         int   // good records read
	goodBytes    int64 // their length
	last         int64 // the length of the last good record
	damaged      int   // stretches of damaged bytes skipped between good records
	damagedBytes int64 // their length
	torn         int64 // bytes after the last good record: a record cut short
}

// windowSize is the least a reader reads at once.
const windowSize = 64 << 10

// minRecord is the length of the shortest record: its mark, an index, an
// empty result and the checksum.
const minRecord = len(recordMark) + 1 + 1 + 4

func newJournalReader(r io.ReaderAt, size int64) *journalReader {
	return &journalReader{r: r, size: size}
}

// at returns the n bytes at off, valid until the next call, or false if the
// file has fewer.
func (jr *journalReader) at(off, n int64) ([]byte, bool) {
	if jr.err != nil || off < 0 || n < 0 || n > jr.size-off {
		return nil, false
	}
	if off >= jr.winOff && off+n <= jr.winOff+int64(len(jr.win)) {
		return jr.win[off-jr.winOff : off-jr.winOff+n], true
	}
	want := min(max(n, windowSize), jr.size-off)
	if int64(cap(jr.win)) < want {
		jr.win = make([]byte, want)
	}
	got, err := jr.r.ReadAt(jr.win[:want], off)
	jr.win, jr.winOff = jr.win[:got], off
	if err != nil && !errors.Is(err, io.EOF) {
		jr.err = err
		return nil, false
	}
	if int64(got) < want {
		jr.size = off + int64(got) // the file shrank while it was read
	}
	if int64(got) < n {
		return nil, false
	}
	return jr.win[:n], true
}

// errOr is the read error that stopped jr, if there was one, else what.
func (jr *journalReader) errOr(what string) error {
	if jr.err != nil {
		return jr.err
	}
	return errors.New(what)
}

// header reads a journal's header, checksum included, and leaves jr at the
// first record. Its errors complete "the journal ...", but for a read error,
// which is returned as it is.
func (jr *journalReader) header() (journalHead, error) {
	magic, ok := jr.at(0, int64(len(journalMagic)))
	switch {
	case ok && string(magic) == journalMagicV1:
		return journalHead{}, errors.New("it was written by an older hpcmap (journal format 1), whose header " +
			"does not tell enough to resume from safely: finish the run with that version, or delete it to start over")
	case !ok || string(magic) != journalMagic:
		return journalHead{}, jr.errOr("it is not an hpcmap journal")
	}
	start := int64(len(journalMagic))
	b, _ := jr.at(start, min(binary.MaxVarintLen64, jr.size-start))
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(jr.size) {
		return journalHead{}, jr.errOr("its header is damaged")
	}
	end := start + int64(k) + int64(n)
	whole, ok := jr.at(0, end+4)
	if !ok {
		return journalHead{}, jr.errOr("its header is damaged")
	}
	head, ok := parseJournalHead(whole[start+int64(k) : end])
	if !ok || binary.LittleEndian.Uint32(whole[end:]) != crc32.ChecksumIEEE(whole[:end]) {
		return journalHead{}, errors.New("its header is damaged")
	}
	jr.off = end + 4
	return head, nil
}

// recordAt reads the record at off of a journal of n tasks: its task, its
// encoded result (valid until the next read) and its length; ok is false if
// no good record begins there.
func (jr *journalReader) recordAt(off int64, n int) (index int, payload []byte, length int64, ok bool) {
	const most = int64(len(recordMark) + 2*binary.MaxVarintLen64)
	b, ok := jr.at(off, min(most, jr.size-off))
	if !ok || len(b) < minRecord || !bytes.HasPrefix(b, recordMark[:]) {
		return 0, nil, 0, false
	}
	i, k1 := binary.Uvarint(b[len(recordMark):])
	if k1 <= 0 || i >= uint64(n) {
		return 0, nil, 0, false
	}
	size, k2 := binary.Uvarint(b[len(recordMark)+k1:])
	head := int64(len(recordMark) + k1 + k2)
	if rest := jr.size - off - head - 4; k2 <= 0 || rest < 0 || size > uint64(rest) {
		return 0, nil, 0, false
	}
	length = head + int64(size) + 4
	rec, ok := jr.at(off, length)
	if !ok || binary.LittleEndian.Uint32(rec[length-4:]) != crc32.ChecksumIEEE(rec[:length-4]) {
		return 0, nil, 0, false
	}
	return int(i), rec[head : length-4], length, true
}

// next returns the next good record of a journal of n tasks, skipping
// damaged bytes, or false at the end. What follows the last good record is
// torn, not damaged.
func (jr *journalReader) next(n int) (index int, payload []byte, ok bool) {
	for jr.off < jr.size && jr.err == nil {
		if index, payload, length, ok := jr.recordAt(jr.off, n); ok {
			jr.off += length
			jr.good++
			jr.goodBytes += length
			jr.last = length
			return index, payload, true
		}
		good, found := jr.resync(jr.off+1, n)
		if !found {
			break
		}
		jr.damaged++
		jr.damagedBytes += good - jr.off
		jr.off = good
	}
	jr.torn = max(jr.size-jr.off, 0)
	jr.off = jr.size
	return 0, nil, false
}

// resync finds the first good record at or after from, by its mark.
func (jr *journalReader) resync(from int64, n int) (int64, bool) {
	for off := from; jr.size-off >= int64(minRecord); {
		b, ok := jr.at(off, min(windowSize, jr.size-off))
		if !ok {
			return 0, false
		}
		i := bytes.Index(b, recordMark[:])
		if i < 0 {
			off += max(int64(len(b))-int64(len(recordMark))+1, 1) // a mark may straddle windows
			continue
		}
		if _, _, _, ok := jr.recordAt(off+int64(i), n); ok {
			return off + int64(i), true
		}
		off += int64(i) + 1
	}
	return 0, false
}

// undo counts the last good record as damaged after all: its result did not
// decode.
func (jr *journalReader) undo() {
	jr.good--
	jr.goodBytes -= jr.last
	jr.damaged++
	jr.damagedBytes += jr.last
}

// damage says what damage the reader skipped.
func (jr *journalReader) damage() string {
	return fmt.Sprintf("%s of damaged bytes (%d bytes) that hold no good record, skipped",
		plural(jr.damaged, "stretch", "stretches"), jr.damagedBytes)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// readJournal decodes the records that jr reads from a journal of n tasks
// into results (unless nil) and done, and returns how many distinct tasks
// they hold. A task journaled twice (run again after a resume) has its last
// result. A record whose result does not decode counts as damaged. Each
// record's result is also handed to each, if given, for the tasks not yet
// done; each returning false stops the reading.
func readJournal[R any](jr *journalReader, c codec.Codec[R], n int, results []R, done *bitset, each ...func(index int, r R) bool) (count int) {
	one := make([]R, 1)
	var zero R
	for {
		index, payload, ok := jr.next(n)
		if !ok {
			return count
		}
		one[0] = zero // decoding into a used value could keep its fields
		if c.Decode(one, payload) != nil {
			jr.undo()
			continue
		}
		if results != nil {
			results[index] = one[0]
		}
		if done.has(index) {
			continue
		}
		done.set(index)
		count++
		for _, f := range each {
			if !f(index, one[0]) {
				return count
			}
		}
	}
}
