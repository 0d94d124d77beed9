package trace

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Summary is what a trace says about a map as a whole.
type Summary struct {
	Tasks    int // distinct task indices
	Attempts int // rows: tasks plus retries
	Failed   int // attempts that returned an error
	Panicked int // attempts that panicked
	Ranks    int // ranks 0 ... the highest rank in the trace, or as many as the map had
	Hosts    int // distinct hosts
	Lanes    int // rank × worker lanes of a Gantt chart (see Lanes)
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

// Summarize sums up the tasks of a map that ran on ranks ranks. A trace
// cannot tell ranks that ran no task, so ranks counts them in: 0, or fewer
// than the trace names, means ranks 0 to the highest in the trace.
func Summarize(tasks []Task, ranks int) Summary {
	ranks, widths, widest := laneWidths(tasks, ranks)
	s := Summary{Attempts: len(tasks), Ranks: ranks, Lanes: laneCount(ranks, widths, widest)}
	seen := make(map[int]bool)
	hosts := make(map[string]bool)
	for _, t := range tasks {
		seen[t.Index] = true
		hosts[t.Host] = true
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

// String is the summary on one line, as in a chart's title.
func (s Summary) String() string {
	str := fmt.Sprintf("%d tasks on %s, %s · makespan %s · idle %.0f%% of worker time",
		s.Tasks, plural(s.Ranks, "rank"), plural(s.Hosts, "host"), Seconds(s.Makespan), 100*s.Idle())
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

// Seconds formats a duration in seconds with three significant digits or
// more, as 0.0123 s, 1.23 s, 123 s, 12345 s.
func Seconds(s float64) string {
	return strconv.FormatFloat(s, 'f', max(0, 2-int(math.Floor(math.Log10(max(s, 1e-6))))), 64) + " s"
}

// Lane is what one worker goroutine of one rank ran: a lane of a Gantt
// chart.
type Lane struct {
	Rank, Worker int
	Tasks        []Task  // by start
	End          float64 // the lane's last end; 0 if it ran nothing
}

// MaxLanes is the most lanes that Lanes lays out: far more than a picture
// can show apart.
const MaxLanes = 1 << 20

// Lanes sorts the tasks of a map that ran on ranks ranks (as Summarize
// counts them) into lanes, rank by rank and within a rank worker by worker.
// Every rank gets lanes, and every worker from 0 to the highest its rank
// used, so that a rank or a worker that ran nothing shows as an empty lane
// rather than vanishing; a rank with no tasks at all gets as many lanes as
// the widest rank. More than MaxLanes lanes is an error.
func Lanes(tasks []Task, ranks int) ([]Lane, error) {
	for _, t := range tasks {
		if t.Rank < 0 || t.Rank > MaxRank || t.Worker < 0 || t.Worker > MaxWorker {
			return nil, fmt.Errorf("trace: task %d ran on rank %d, worker %d: want 0 ≤ rank ≤ %d and 0 ≤ worker ≤ %d",
				t.Index, t.Rank, t.Worker, MaxRank, MaxWorker)
		}
	}
	if ranks > MaxRank+1 {
		return nil, fmt.Errorf("trace: %d ranks: at most %d", ranks, MaxRank+1)
	}
	ranks, widths, widest := laneWidths(tasks, ranks)
	if n := laneCount(ranks, widths, widest); n > MaxLanes {
		return nil, fmt.Errorf("trace: %d ranks with up to %d workers make %d lanes, more than the %d a chart lays out",
			ranks, widest, n, MaxLanes)
	}
	first := make([]int, ranks+1) // rank r's lanes are first[r] ... first[r+1]−1
	for r := range ranks {
		w, ok := widths[r]
		if !ok {
			w = widest
		}
		first[r+1] = first[r] + w
	}
	lanes := make([]Lane, first[ranks])
	for r := range ranks {
		for i := first[r]; i < first[r+1]; i++ {
			lanes[i] = Lane{Rank: r, Worker: i - first[r]}
		}
	}
	for _, t := range tasks {
		l := &lanes[first[t.Rank]+t.Worker]
		l.Tasks = append(l.Tasks, t)
		l.End = max(l.End, t.End)
	}
	for i := range lanes {
		slices.SortFunc(lanes[i].Tasks, func(a, b Task) int { return cmp.Compare(a.Start, b.Start) })
	}
	return lanes, nil
}

// laneWidths returns the ranks of the lanes of tasks (at least ranks), each
// rank's workers (highest + 1) where it ran tasks, and the widest rank's.
// Ranks and workers are held within MaxRank and MaxWorker, so that the lanes
// can be counted without overflow.
func laneWidths(tasks []Task, ranks int) (int, map[int]int, int) {
	widths := make(map[int]int)
	ranks = min(max(ranks, 0), MaxRank+1)
	widest := 1
	for _, t := range tasks {
		rank, width := min(max(t.Rank, 0), MaxRank), min(max(t.Worker, 0), MaxWorker)+1
		widths[rank] = max(widths[rank], width)
		ranks = max(ranks, rank+1)
		widest = max(widest, width)
	}
	return ranks, widths, widest
}

// laneCount is the number of lanes of laneWidths' answer, computed without
// a lane or rank's worth of memory each.
func laneCount(ranks int, widths map[int]int, widest int) int {
	n := (ranks - len(widths)) * widest
	for _, w := range widths {
		n += w
	}
	return n
}
