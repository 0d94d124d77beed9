package mpimap

import (
	"fmt"
	"os"
	"time"
)

// JournaledTasks lists the tasks whose results the journal at path holds, as
// a resumed map would read them.
func JournaledTasks(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := reader{b: data}
	for range len(journalMagic) {
		r.byte()
	}
	fp := reader{b: r.bytes()}
	n := fp.uint()
	r.b = r.b[min(4, len(r.b)):] // the header's checksum
	if r.err != nil || fp.err != nil {
		return nil, fmt.Errorf("%s: damaged header", path)
	}
	var tasks []int
	scanJournal(r.b, n, func(index int, _ []byte) bool { tasks = append(tasks, index); return true })
	return tasks, nil
}

// SetDrainGrace sets how long a stopped map waits for running tasks.
func SetDrainGrace(d time.Duration) (restore func()) {
	old := drainGrace
	drainGrace = d
	return func() { drainGrace = old }
}
