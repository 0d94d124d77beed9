package mpimap

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hpcmap/hpcmap/internal/codec"
)

// The fuzz targets here feed malformed journals to the journal's readers:
// records alone, records with damage among them, whole files, headers. Each
// checks that the reader neither panics nor allocates beyond a bound of the
// input's size, that it keeps every record that checks out, and that what it
// accepts reads back the same once journaled again.

// journalRecords are the records of a journal of n ≥ 10 tasks after its
// header, as journal.add writes them: some tasks twice (a retry's result
// after a resumed map's), and the last record torn.
func journalRecords[R any](t testing.TB, val func(i int) R) []byte {
	t.Helper()
	c, err := codec.New[R]()
	if err != nil {
		t.Fatal(err)
	}
	j := &journal[R]{codec: c}
	for _, i := range []int{0, 1, 2, 9, 5, 1, 3} {
		if err := j.add(i, []R{val(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return j.buf[:len(j.buf)-2]
}

func addJournalSeeds(f *testing.F) {
	f.Add(uint16(10), journalRecords(f, func(i int) float64 { return float64(i) / 3 }))
	f.Add(uint16(10), journalRecords(f, func(i int) string { return strings.Repeat("x", i) }))
	f.Add(uint16(3), journalRecords(f, func(i int) float64 { return float64(i) }))
	f.Add(uint16(10), []byte{})
	damaged := journalRecords(f, func(i int) float64 { return float64(i) / 3 })
	damaged[20] ^= 0xff
	f.Add(uint16(10), damaged)
}

// bytesJournal reads a journal's records, or a whole journal, from data.
func bytesJournal(data []byte) *journalReader {
	return newJournalReader(bytes.NewReader(data), int64(len(data)))
}

// checkReadJournal reads journal records into results of type R of a map
// of n tasks, and checks that every byte is accounted for as a good record,
// damage or a torn end, and that the journal's writer, given the tasks
// read, writes records that read back the same.
func checkReadJournal[R any](t *testing.T, n int, data []byte, lim allocLimit) {
	c, err := codec.New[R]()
	if err != nil {
		t.Fatal(err)
	}
	read := func(data []byte) ([]R, []bool, int, *journalReader) {
		results, done := make([]R, n), newBitset(n)
		jr := bytesJournal(data)
		count := readJournal(jr, c, n, results, done)
		return results, done.bools(n), count, jr
	}
	var (
		results []R
		done    []bool
		count   int
		jr      *journalReader
	)
	checkAlloc(t, fmt.Sprintf("readJournal[%T]", results), len(data), lim, func() { results, done, count, jr = read(data) })
	if jr.goodBytes+jr.damagedBytes+jr.torn != int64(len(data)) || jr.goodBytes < 0 || jr.damagedBytes < 0 || jr.torn < 0 {
		t.Fatalf("%d bytes read as %d good, %d damaged, %d torn", len(data), jr.goodBytes, jr.damagedBytes, jr.torn)
	}
	var zero R
	tasks := 0
	for i, d := range done {
		if d {
			tasks++
		} else if !reflect.DeepEqual(results[i], zero) {
			t.Fatalf("task %d, not done, got result %v", i, results[i])
		}
	}
	if tasks != count || count > jr.good {
		t.Fatalf("readJournal counted %d tasks of %d good records, and marked %d done", count, jr.good, tasks)
	}
	j := &journal[R]{codec: c}
	for i, d := range done {
		if d {
			if err := j.add(i, results[i:i+1]); err != nil {
				t.Fatalf("journaling task %d: %v", i, err)
			}
		}
	}
	results2, done2, count2, jr2 := read(j.buf)
	if jr2.goodBytes != int64(len(j.buf)) || count2 != count || !slices.Equal(done, done2) ||
		!bytes.Equal(encodeAll(t, c, results), encodeAll(t, c, results2)) {
		t.Fatalf("read %d tasks, %v; journaled again, %d of %d bytes read to %d tasks, %v",
			count, results, jr2.goodBytes, len(j.buf), count2, results2)
	}
}

// FuzzReadJournal reads malformed journal records into results.
func FuzzReadJournal(f *testing.F) {
	addJournalSeeds(f)
	f.Fuzz(func(t *testing.T, n uint16, data []byte) {
		checkReadJournal[float64](t, fuzzTasks(n), data, wireLimit)
		checkReadJournal[string](t, fuzzTasks(n), data, gobLimit)
	})
}

// FuzzJournalDamage writes the records of a map of 20 tasks, replaces
// the bytes from at to at+cut with junk, and reads them: every record that
// the damage did not touch must be read, at its place, whatever the junk
// (a record the junk itself makes up may be read too).
func FuzzJournalDamage(f *testing.F) {
	f.Add(uint16(30), uint8(1), []byte{0x00})
	f.Add(uint16(31), uint8(0), []byte{0xd5, 0x4a})
	f.Add(uint16(0), uint8(200), []byte{})
	f.Add(uint16(100), uint8(3), []byte{0xd5, 0x4a, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f})
	c, err := codec.New[float64]()
	if err != nil {
		f.Fatal(err)
	}
	const n = 20
	var whole []byte
	var offsets []int // of each record in whole
	for i := range n {
		offsets = append(offsets, len(whole))
		payload, err := c.Append(nil, []float64{float64(i) / 7})
		if err != nil {
			f.Fatal(err)
		}
		whole = appendRecord(whole, i, payload)
	}
	offsets = append(offsets, len(whole))
	f.Fuzz(func(t *testing.T, at uint16, cut uint8, junk []byte) {
		start := int(at) % (len(whole) + 1)
		end := min(start+int(cut), len(whole))
		data := slices.Concat(whole[:start], junk, whole[end:])
		shift := len(junk) - (end - start)
		jr := bytesJournal(data)
		var read []int // offsets in data of the records read
		checkAlloc(t, "reading a damaged journal", len(data), wireLimit, func() {
			jr, read = bytesJournal(data), nil
			for {
				if _, _, ok := jr.next(n); !ok {
					break
				}
				read = append(read, int(jr.off-jr.last))
			}
		})
		for i := range n {
			lo, hi := offsets[i], offsets[i+1]
			untouched := hi <= start || lo >= end
			if lo >= end {
				lo += shift
			}
			if untouched && !slices.Contains(read, lo) {
				t.Fatalf("record %d at %d (damage from %d to %d, %d bytes of junk) was not read; read %v",
					i, lo, start, end, len(junk), read)
			}
		}
		for _, off := range read {
			inJunk := off >= start && off < start+len(junk)
			original := slices.Contains(offsets, off) && off < start || slices.Contains(offsets, off-shift) && off >= start+len(junk)
			if !inJunk && !original {
				t.Fatalf("read a record at %d, which is neither an original record nor in the junk at %d to %d", off, start, start+len(junk))
			}
		}
		if jr.goodBytes+jr.damagedBytes+jr.torn != int64(len(data)) {
			t.Fatalf("%d bytes read as %d good, %d damaged, %d torn", len(data), jr.goodBytes, jr.damagedBytes, jr.torn)
		}
	})
}

// journalHeaders caches the header openJournal writes for n tasks.
var journalHeaders sync.Map // uint8 → []byte

// journalArgs are the arguments of a fuzzed journaled map of n tasks.
func journalArgs(n uint8) []int32 {
	args := make([]int32, n)
	for i := range args {
		args[i] = int32(i) * 7
	}
	return args
}

// journalConfig is the configuration of a map journaled at path.
func journalConfig(path string, key ...string) config {
	return newConfig([]Option{WithJournal(path, key...)})
}

// journalHeader is the header that openJournal writes for a new journal of
// a map of n tasks with float64 results.
func journalHeader(t testing.TB, n uint8) []byte {
	t.Helper()
	if h, ok := journalHeaders.Load(n); ok {
		return h.([]byte)
	}
	path := filepath.Join(t.TempDir(), "journal")
	c, err := codec.New[float64]()
	if err != nil {
		t.Fatal(err)
	}
	j, _, _, err := openJournalArgs(journalConfig(path), journalArgs(n), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.f.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	journalHeaders.Store(n, h)
	return h
}

// FuzzOpenJournal opens journals of malformed contents: after the header
// of this map's journal when header is set, else on their own.
func FuzzOpenJournal(f *testing.F) {
	for _, n := range []uint8{10, 3} {
		f.Add(n, true, journalRecords(f, func(i int) float64 { return float64(i) / 3 }))
		f.Add(n, true, []byte{})
	}
	f.Add(uint8(10), false, []byte{})
	f.Add(uint8(10), false, journalHeader(f, 11))              // another map's journal
	f.Add(uint8(10), false, journalHeader(f, 10)[:20])         // a torn header
	f.Add(uint8(10), false, []byte("#!/bin/sh\necho hello\n")) // not a journal
	f.Add(uint8(10), false, []byte(journalMagicV1+"\x05abcde"))
	c, err := codec.New[float64]()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, n uint8, header bool, data []byte) {
		args, hdr := journalArgs(n), journalHeader(t, n)
		content := data
		if header {
			content = append(slices.Clip(hdr), data...)
		}
		path := filepath.Join(t.TempDir(), "journal")
		results := make([]float64, n)
		var (
			j     *journal[float64]
			done  []bool
			count int
			err   error
		)
		open := func() { // again from the start when checkAlloc runs it twice
			if j != nil {
				j.f.Close()
			}
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			j, done, count, err = openJournalArgs(journalConfig(path), args, c, results)
		}
		checkAlloc(t, "openJournal", len(content), wireLimit, open)
		ours := len(content) == 0 || bytes.HasPrefix(content, hdr)
		if err != nil {
			if ours {
				t.Fatalf("refused this map's journal: %v", err)
			}
			if !strings.Contains(err.Error(), "not an hpcmap journal") && !strings.Contains(err.Error(), "header is damaged") &&
				!strings.Contains(err.Error(), "different map") && !strings.Contains(err.Error(), "journal format 1") {
				t.Fatalf("refused another journal with %q, which does not say why", err)
			}
			return
		}
		defer j.f.Close()
		if !ours {
			t.Fatalf("accepted a journal that does not start with this map's header")
		}
		if tasks := len(slices.DeleteFunc(slices.Clone(done), func(d bool) bool { return !d })); len(done) != int(n) || tasks != count {
			t.Fatalf("%d tasks read, %d of %d marked done", count, tasks, len(done))
		}
		kept, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// Only a torn end may go: every good record stays, and the damage
		// between them too.
		jr := bytesJournal(content)
		if len(content) > 0 {
			if _, err := jr.header(); err != nil {
				t.Fatal(err)
			}
			for {
				if _, _, ok := jr.next(int(n)); !ok {
					break
				}
			}
		}
		if len(content) == 0 && !bytes.Equal(kept, hdr) || len(content) > 0 && !bytes.Equal(kept, content[:int64(len(content))-jr.torn]) {
			t.Fatalf("a journal of %d bytes, %d of them torn at the end, was left as %d bytes", len(content), jr.torn, len(kept))
		}
		if n == 0 {
			return
		}
		// A record written after resuming is read back on the next resume,
		// after the ones kept.
		i := int(n) - 1
		if err := j.add(i, []float64{-0.25}); err != nil {
			t.Fatal(err)
		}
		if err := j.flush(); err != nil {
			t.Fatal(err)
		}
		if err := j.f.Close(); err != nil {
			t.Fatal(err)
		}
		results2 := make([]float64, n)
		j2, done2, count2, err := openJournalArgs(journalConfig(path), args, c, results2)
		if err != nil {
			t.Fatalf("reopening after a record was added: %v", err)
		}
		defer j2.f.Close()
		want := count
		if !done[i] {
			want++
		}
		done[i], results[i] = true, -0.25
		if count2 != want || !slices.Equal(done2, done) || !bytes.Equal(encodeAll(t, c, results2), encodeAll(t, c, results)) {
			t.Fatalf("after adding task %d to %d tasks %v, reopening read %d tasks %v", i, count, results, count2, results2)
		}
	})
}

// FuzzJournalHeader reads malformed headers: an error that says what is
// wrong, or a header that encodes back to one that reads the same.
func FuzzJournalHeader(f *testing.F) {
	f.Add(journalHeader(f, 10))
	f.Add(append(journalHeader(f, 3), journalRecords(f, func(i int) float64 { return float64(i) })...))
	f.Add(journalHeader(f, 10)[:30])
	f.Add([]byte(journalMagic))
	f.Add([]byte(journalMagicV1))
	f.Add([]byte("hpcmap journal 3\n"))
	f.Add(journalHead{tasks: 5, results: "float64", key: []string{"a", "", "\n"}}.encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			head journalHead
			err  error
		)
		checkAlloc(t, "reading a journal's header", len(data), wireLimit, func() { head, err = bytesJournal(data).header() })
		if err != nil {
			switch msg := err.Error(); {
			case msg == "it is not an hpcmap journal":
				if bytes.HasPrefix(data, []byte(journalMagic)) {
					t.Fatalf("a journal's magic, yet %q", msg)
				}
			case msg == "its header is damaged", strings.Contains(msg, "journal format 1"):
			default:
				t.Fatalf("header error %q", msg)
			}
			return
		}
		again, err := bytesJournal(head.encode()).header()
		if err != nil || !reflect.DeepEqual(again, head) {
			t.Fatalf("header %+v encodes to one that reads as %+v, %v", head, again, err)
		}
	})
}

// openJournalArgs opens the journal of a Map of args, as rank 0 does.
func openJournalArgs[T, R any](cfg config, args []T, c codec.Codec[R], results []R) (*journal[R], []bool, int, error) {
	head, err := journalHeadOf[T, R](args, cfg.journalKey)
	if err != nil {
		return nil, nil, 0, err
	}
	if results == nil {
		results = make([]R, len(args))
	}
	j, done, count, err := openJournal(cfg, head, c, len(args), results)
	return j, done.bools(len(args)), count, err
}

// bools is the set as n booleans.
func (b *bitset) bools(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = b.has(i)
	}
	return out
}
