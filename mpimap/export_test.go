package mpimap

import (
	"strings"
	"time"
)

// JournaledTasks lists the tasks whose results the journal at path holds, as
// a resumed map would read them.
func JournaledTasks(path string) ([]int, error) {
	var tasks []int
	_, err := scanJournalFile(path, func(index int) { tasks = append(tasks, index) })
	return tasks, err
}

// SetDrainGrace sets how long a stopped map waits for running tasks.
func SetDrainGrace(d time.Duration) (restore func()) {
	old := drainGrace
	drainGrace = d
	return func() { drainGrace = old }
}

// ProgressLine is what WithProgress writes to a log when done of a map's n
// tasks are done after elapsed, resumed of them from a journal.
func ProgressLine(n, resumed, done int, elapsed time.Duration) string {
	var b strings.Builder
	p := newProgress(&b, n, resumed, "scan.journal")
	b.Reset() // the line that says what was resumed
	p.start = time.Now().Add(-elapsed)
	p.last = p.start
	p.update(done, 0, false)
	return b.String()
}

// CountTasks counts the distinct indices with a taskSet whose bitset holds
// those below bound.
func CountTasks(bound int64, indices []int) int {
	s := taskSet{bound: bound}
	for _, i := range indices {
		s.add(i)
	}
	return s.n
}
