package mpimap

import (
	"fmt"
	"os"
	"slices"
)

// JournalInfo is what a journal that WithJournal wrote holds, as
// InspectJournal reads it.
type JournalInfo struct {
	Tasks   int      // the tasks of the map that wrote it
	Done    int      // distinct tasks with a result in it
	Key     []string // the key the map passed to WithJournal after the path
	Results string   // the map's result type, in full (as the journal checks it)
	// Damaged counts the stretches of damaged bytes between good records,
	// DamagedBytes their length: a disk or a copy gone wrong. A map resumed
	// from the journal skips them and keeps every good record.
	Damaged      int
	DamagedBytes int64
	// Torn is the length of what follows the last good record without
	// being one: a record being written, or cut short by a kill. A map
	// resumed from the journal drops it.
	Torn int64
}

// InspectJournal reads the journal at path without changing it. It may
// watch the journal of a running map (or of a job killed at its time limit)
// to tell how far it got.
func InspectJournal(path string) (JournalInfo, error) {
	var seen taskSet
	if st, err := os.Stat(path); err == nil {
		seen.bound = 8 * st.Size() // a bitset no larger than the file
	}
	info, err := scanJournalFile(path, seen.add)
	info.Done = seen.n
	return info, err
}

// JournalProgress reads the journal at path, as WithJournal writes it, and
// returns how many tasks the map that wrote it has and how many of those have
// a result in it. It only reads, so it may watch the journal of a running
// map (or of a job killed at its time limit) to tell how far it got; a record
// cut short at the end, being written or torn by a kill, does not count, nor
// does a damaged one. InspectJournal tells more.
func JournalProgress(path string) (done, tasks int, err error) {
	info, err := InspectJournal(path)
	return info.Done, info.Tasks, err
}

// taskSet counts distinct task indices: below bound in a bitset, grown to
// the highest index seen, and above it in a map. A journal whose tasks are
// mostly done has at least 8 bytes per task, so its indices all fit in a
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
// record with the task of each good record, and returns what its header
// says and what damage it found.
func scanJournalFile(path string, record func(index int)) (JournalInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return JournalInfo{}, fmt.Errorf("mpimap: journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return JournalInfo{}, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	jr := newJournalReader(f, st.Size()) // what is there now: a running map may append
	head, err := jr.header()
	if err != nil {
		return JournalInfo{}, fmt.Errorf("mpimap: journal %s: %w", path, err)
	}
	for {
		index, _, ok := jr.next(head.tasks)
		if !ok {
			break
		}
		record(index)
	}
	if jr.err != nil {
		return JournalInfo{}, fmt.Errorf("mpimap: journal %s: %w", path, jr.err)
	}
	return JournalInfo{Tasks: head.tasks, Key: head.key, Results: head.results,
		Damaged: jr.damaged, DamagedBytes: jr.damagedBytes, Torn: jr.torn}, nil
}
