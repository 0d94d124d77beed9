package mpimap

import "time"

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
