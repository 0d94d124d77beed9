package trace

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Header is the first line of a trace file, naming its columns.
const Header = "index,rank,host,worker,start,end,attempt,status"

var columns = [...]string{"index", "rank", "host", "worker", "start", "end", "attempt", "status"}

// The values of Task.Status.
const (
	StatusOK       = "ok"       // the task returned a result
	StatusFailed   = "failed"   // the task returned an error
	StatusPanicked = "panicked" // the task panicked
)

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
	Status     string // StatusOK, StatusFailed or StatusPanicked
}

// ReadCSV reads a trace file: the Header line, then one row per attempt in
// any order. A malformed file is an error naming the line and the column of
// the first bad field.
func ReadCSV(r io.Reader) ([]Task, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(columns)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("trace: empty input: want the header %q", Header)
	}
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	for i, name := range columns {
		if head[i] != name {
			line, col := cr.FieldPos(i)
			return nil, fmt.Errorf("trace: line %d, column %d: header has %q where %q belongs (want %q)",
				line, col, head[i], name, Header)
		}
	}

	var tasks []Task
	hosts := make(map[string]string) // one string per host, not per row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return tasks, nil
		}
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		t, field, err := parseRow(rec)
		if err != nil {
			line, col := cr.FieldPos(field)
			return nil, fmt.Errorf("trace: line %d, column %d (%s): %w", line, col, columns[field], err)
		}
		h, ok := hosts[rec[2]]
		if !ok {
			h = rec[2]
			hosts[h] = h
		}
		t.Host = h
		tasks = append(tasks, t)
	}
}

// parseRow parses the fields of one row but the host, and on failure says
// which field is wrong.
func parseRow(rec []string) (t Task, field int, err error) {
	ints := []struct {
		field int
		dst   *int
		least int
	}{{0, &t.Index, 0}, {1, &t.Rank, 0}, {3, &t.Worker, 0}, {6, &t.Attempt, 1}}
	for _, f := range ints {
		v, err := strconv.Atoi(rec[f.field])
		if err != nil {
			return t, f.field, fmt.Errorf("%q is not an integer", rec[f.field])
		}
		if v < f.least {
			return t, f.field, fmt.Errorf("%d is less than %d", v, f.least)
		}
		*f.dst = v
	}
	for _, f := range []struct {
		field int
		dst   *float64
	}{{4, &t.Start}, {5, &t.End}} {
		v, err := strconv.ParseFloat(rec[f.field], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return t, f.field, fmt.Errorf("%q is not a finite number of seconds", rec[f.field])
		}
		*f.dst = v
	}
	if t.End < t.Start {
		return t, 5, fmt.Errorf("the task ends (%v s) before it starts (%v s)", t.End, t.Start)
	}
	switch s := rec[7]; s {
	case StatusOK, StatusFailed, StatusPanicked:
		t.Status = s
	default:
		return t, 7, fmt.Errorf("%q is not a status (want %s, %s or %s)", s, StatusOK, StatusFailed, StatusPanicked)
	}
	return t, 0, nil
}

// WriteCSV writes tasks to w as a trace file that ReadCSV reads back, with
// times to the microsecond.
func WriteCSV(w io.Writer, tasks []Task) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(columns[:]); err != nil {
		return err
	}
	rec := make([]string, len(columns))
	for _, t := range tasks {
		rec[0] = strconv.Itoa(t.Index)
		rec[1] = strconv.Itoa(t.Rank)
		rec[2] = t.Host
		rec[3] = strconv.Itoa(t.Worker)
		rec[4] = strconv.FormatFloat(t.Start, 'f', 6, 64)
		rec[5] = strconv.FormatFloat(t.End, 'f', 6, 64)
		rec[6] = strconv.Itoa(t.Attempt)
		rec[7] = t.Status
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Summary is what a trace says about a map as a whole.
type Summary struct {
	Tasks    int // distinct task indices
	Attempts int // rows: tasks plus retries
	Failed   int // attempts that returned an error
	Panicked int // attempts that panicked
	Ranks    int // ranks 0 ... the highest rank in the trace
	Hosts    int // distinct hosts
	Lanes    int // rank × worker lanes of the Gantt chart (see Gantt)
	// Makespan is the latest end: the map's length in seconds, as far as
	// the trace tells.
	Makespan float64
	Busy     float64 // seconds spent in tasks, summed over all attempts
}

// Idle is the fraction of the lanes' time, Lanes × Makespan, spent outside
// tasks: waiting for work, for messages, or for the slowest lane to finish.
// It is 0 for an empty trace.
func (s Summary) Idle() float64 {
	total := float64(s.Lanes) * s.Makespan
	if total <= 0 {
		return 0
	}
	return max(0, 1-s.Busy/total)
}

// Summarize sums up tasks.
func Summarize(tasks []Task) Summary {
	first := layout(tasks)
	s := Summary{Attempts: len(tasks), Lanes: first[len(first)-1]}
	seen := make(map[int]bool)
	hosts := make(map[string]bool)
	for _, t := range tasks {
		seen[t.Index] = true
		hosts[t.Host] = true
		s.Ranks = max(s.Ranks, t.Rank+1)
		s.Makespan = max(s.Makespan, t.End)
		s.Busy += t.End - t.Start
		switch t.Status {
		case StatusFailed:
			s.Failed++
		case StatusPanicked:
			s.Panicked++
		}
	}
	s.Tasks = len(seen)
	s.Hosts = len(hosts)
	return s
}

// String is the summary on one line, as in the chart's title.
func (s Summary) String() string {
	str := fmt.Sprintf("%d tasks on %s, %s · makespan %s · idle %.0f%% of worker time",
		s.Tasks, plural(s.Ranks, "rank"), plural(s.Hosts, "host"), seconds(s.Makespan), 100*s.Idle())
	if s.Attempts != s.Tasks {
		str += fmt.Sprintf(" · %d attempts", s.Attempts)
	}
	if s.Failed > 0 {
		str += fmt.Sprintf(" · %d failed", s.Failed)
	}
	if s.Panicked > 0 {
		str += fmt.Sprintf(" · %d panicked", s.Panicked)
	}
	return str
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// seconds formats a duration in seconds with three significant digits or
// more, as 0.0123 s, 1.23 s, 123 s, 12345 s.
func seconds(s float64) string {
	return strconv.FormatFloat(s, 'f', max(0, 2-int(math.Floor(math.Log10(max(s, 1e-6))))), 64) + " s"
}

// errNoTasks is Gantt's error for a trace without rows.
var errNoTasks = errors.New("trace: no tasks to draw")
