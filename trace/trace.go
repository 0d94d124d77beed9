package trace

import "fmt"

// Header is the first line of a trace file, naming its columns.
const Header = "index,rank,host,worker,start,end,attempt,status"

var columns = [...]string{"index", "rank", "host", "worker", "start", "end", "attempt", "status"}

// Status is how an attempt at a task ended.
type Status uint8

// The values of Status, written in a trace as ok, failed and panicked.
const (
	StatusOK       Status = iota // the task returned a result
	StatusFailed                 // the task returned an error
	StatusPanicked               // the task panicked
	numStatuses
)

var statusNames = [numStatuses]string{"ok", "failed", "panicked"}

// String is the status as a trace writes it.
func (s Status) String() string {
	if s >= numStatuses {
		return fmt.Sprintf("Status(%d)", uint8(s))
	}
	return statusNames[s]
}

// ParseStatus is the Status that a trace writes as s.
func ParseStatus(s string) (Status, error) {
	for i, name := range statusNames {
		if s == name {
			return Status(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not a status (want %s, %s or %s)", s, StatusOK, StatusFailed, StatusPanicked)
}

// Task is one attempt at one task: a row of a trace file.
type Task struct {
	Index  int    // the task's position in the map's arguments
	Rank   int    // the rank that ran it
	Host   string // that rank's host
	Worker int    // the goroutine within the rank, 0 ... workers−1
	// Start and End are seconds since the map began, on the clock of the
	// rank that ran the task: ranks' clocks are not synchronised, so times
	// on different ranks compare only as well as their starts agreed.
	Start, End float64
	Attempt    int    // 1 for the first attempt, 2 for the first retry, ...
	Status     Status // how the attempt ended
}

// The largest rank and worker that a trace may name. No MPI job has more
// ranks, nor a rank more goroutines; the bounds keep a damaged or hostile
// trace from asking a reader for lanes by the billion.
const (
	MaxRank   = 1<<24 - 1
	MaxWorker = 1<<16 - 1
)
