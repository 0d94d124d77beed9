package trace_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/trace"
	"github.com/hpcmap/hpcmap/trace/internal/simtrace"
)

func TestCSVRoundTrip(t *testing.T) {
	tasks := simtrace.Simulate(500, 3, 2, false, 7)
	tasks[3].Status = trace.StatusPanicked
	tasks[4].Attempt = 2
	tasks[5].Host = `odd "host", with a comma`
	var buf bytes.Buffer
	if err := trace.WriteCSV(&buf, tasks); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(buf.String(), "\n"); first != trace.Header {
		t.Fatalf("first line %q, want %q", first, trace.Header)
	}
	got, err := trace.ReadCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(tasks) {
		t.Fatalf("read %d tasks, wrote %d", len(got), len(tasks))
	}
	for i, w := range tasks {
		g := got[i]
		// Times are written to the microsecond.
		if math.Abs(g.Start-w.Start) > 5e-7 || math.Abs(g.End-w.End) > 5e-7 {
			t.Errorf("row %d: times %v..%v, wrote %v..%v", i, g.Start, g.End, w.Start, w.End)
		}
		g.Start, g.End = w.Start, w.End
		if g != w {
			t.Errorf("row %d: read %+v, wrote %+v", i, g, w)
		}
	}
}

// A host name with a line break is written on one line.
func TestWriteHostWithLineBreak(t *testing.T) {
	var buf bytes.Buffer
	if err := trace.WriteCSV(&buf, []trace.Task{{Host: "a\nb\r\nc", Attempt: 1}}); err != nil {
		t.Fatal(err)
	}
	got, err := trace.ReadCSV(&buf)
	if err != nil || len(got) != 1 || got[0].Host != "a b c" {
		t.Fatalf("read %+v, %v; want one task on host %q", got, err, "a b c")
	}
}

// The Writer holds rows until Flush, then writes them whole in one write.
func TestWriterFlush(t *testing.T) {
	var w writes
	tw := trace.NewWriter(&w)
	for i := range 3 {
		if err := tw.Write(trace.Task{Index: i, Attempt: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if len(w) != 0 || tw.Buffered() == 0 {
		t.Fatalf("%d writes and %d bytes buffered before Flush, want none and some", len(w), tw.Buffered())
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(w) != 1 || strings.Count(w[0], "\n") != 4 || tw.Buffered() != 0 {
		t.Fatalf("Flush made writes %q, want one of the header and 3 rows", w)
	}
	// A write error sticks.
	tw = trace.NewWriter(failing{})
	tw.Write(trace.Task{Attempt: 1})
	if err := tw.Flush(); err == nil || tw.Write(trace.Task{Attempt: 1}) == nil {
		t.Fatalf("a failed write: Flush %v, and the next Write no error", err)
	}
}

type writes []string

func (w *writes) Write(p []byte) (int, error) { *w = append(*w, string(p)); return len(p), nil }

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestReadCSVHeaderOnly(t *testing.T) {
	tasks, err := trace.ReadCSV(strings.NewReader(trace.Header + "\n"))
	if err != nil || len(tasks) != 0 {
		t.Fatalf("ReadCSV(header only) = %v, %v; want no tasks and no error", tasks, err)
	}
}

// A kill can leave the last line without its end: it is skipped, and the
// Reader says so. Anywhere else a bad line is an error.
func TestReadTornLastLine(t *testing.T) {
	const row = "3,1,node1,0,0.500000,1.250000,1,ok\n"
	whole := trace.Header + "\n" + row + row
	for cut := len(trace.Header) - 5; cut < len(whole); cut++ {
		r := trace.NewReader(strings.NewReader(whole[:cut]))
		tasks, err := r.ReadAll()
		rows := strings.Count(whole[:cut], "\n") - 1
		torn := !strings.HasSuffix(whole[:cut], "\n")
		switch whole[:cut] {
		case trace.Header:
			torn = false // a whole header without its line break
		case trace.Header + "\n" + row[:len(row)-1], trace.Header + "\n" + row + row[:len(row)-1]:
			rows, torn = rows+1, false // a whole row without its line break
		}
		if err != nil || len(tasks) != max(rows, 0) || r.Torn() != torn {
			t.Errorf("%d of %d bytes: %d tasks, torn %v, error %v; want %d tasks, torn %v",
				cut, len(whole), len(tasks), r.Torn(), err, max(rows, 0), torn)
		}
	}
	// A bad line with a line break after it is no torn line.
	_, err := trace.ReadCSV(strings.NewReader(trace.Header + "\n3,1,node1,0,0.5\n" + row))
	if err == nil || !strings.Contains(err.Error(), "line 2: 5 fields, want 8") {
		t.Errorf("a short line in the middle: %v", err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	const ok = "3,1,node1,0,0.5,1.25,1,ok\n"
	for _, c := range []struct {
		name, in, want string
	}{
		{"empty", "", "empty input"},
		{"header", "index,rank,host,worker,begin,end,attempt,status\n", `line 1, column 24: header has "begin" where "start" belongs`},
		{"short header", "index,rank\n", "line 1: 2 fields, want 8"},
		{"long header", trace.Header + ",more\n", "line 1: more than 8 fields"},
		{"short row", trace.Header + "\n" + ok + "1,2,3\n", "line 3: 3 fields"},
		{"index", trace.Header + "\n" + ok + "x,1,h,0,0,1,1,ok\n", `line 3, column 1 (index): "x" is not an integer`},
		{"negative rank", trace.Header + "\n" + "1,-1,h,0,0,1,1,ok\n", "line 2, column 3 (rank): -1 is less than 0"},
		{"huge rank", trace.Header + "\n" + "1,2000000000,h,0,0,1,1,ok\n", "line 2, column 3 (rank): 2000000000 is more than 16777215"},
		{"huger rank", trace.Header + "\n" + "1,99999999999999999999,h,0,0,1,1,ok\n", "(rank): 99999999999999999999 is more than 16777215"},
		{"huge worker", trace.Header + "\n" + "1,1,h,2000000000,0,1,1,ok\n", "line 2, column 7 (worker): 2000000000 is more than 65535"},
		{"worker", trace.Header + "\n" + "1,1,h,1.5,0,1,1,ok\n", `line 2, column 7 (worker): "1.5" is not an integer`},
		{"start", trace.Header + "\n" + "1,1,h,0,,1,1,ok\n", `line 2, column 9 (start): "" is not a finite number`},
		{"end NaN", trace.Header + "\n" + "1,1,h,0,0,NaN,1,ok\n", `line 2, column 11 (end): "NaN" is not a finite number`},
		{"backwards", trace.Header + "\n" + "1,1,h,0,2,1,1,ok\n", "line 2, column 11 (end): the task ends (1 s) before it starts (2 s)"},
		{"attempt 0", trace.Header + "\n" + "1,1,h,0,0,1,0,ok\n", "line 2, column 13 (attempt): 0 is less than 1"},
		{"status", trace.Header + "\n" + ok + ok + "1,1,h,0,0,1,1,done\n", `line 4, column 15 (status): "done" is not a status`},
		{"quote", trace.Header + "\n" + `1,1,"h,0,0,1,1,ok` + "\n", "line 2, column 5: a quote that does not close"},
		{"long line", trace.Header + "\n" + strings.Repeat("1", 5000) + "\n", "line 2 is longer than 4096 bytes"},
		{"huge line", trace.Header + "\n" + strings.Repeat("1", 100000) + "\n", "line 2 is longer than 4096 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := trace.ReadCSV(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ReadCSV: error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	for _, s := range []trace.Status{trace.StatusOK, trace.StatusFailed, trace.StatusPanicked} {
		if got, err := trace.ParseStatus(s.String()); got != s || err != nil {
			t.Errorf("ParseStatus(%q) = %v, %v", s.String(), got, err)
		}
	}
	if s := trace.Status(7).String(); s != "Status(7)" {
		t.Errorf("Status(7) is %q", s)
	}
}

// trace4 is a small trace: rank 0 with two workers, rank 1 ran nothing,
// rank 2 with one worker, a failed attempt and its retry.
var trace4 = []trace.Task{
	{Index: 0, Rank: 0, Host: "a", Worker: 0, Start: 0, End: 2, Attempt: 1, Status: trace.StatusOK},
	{Index: 1, Rank: 0, Host: "a", Worker: 1, Start: 0, End: 1, Attempt: 1, Status: trace.StatusFailed},
	{Index: 1, Rank: 2, Host: "b", Worker: 0, Start: 1, End: 4, Attempt: 2, Status: trace.StatusOK},
	{Index: 2, Rank: 0, Host: "a", Worker: 1, Start: 1, End: 2, Attempt: 1, Status: trace.StatusPanicked},
}

func TestSummarize(t *testing.T) {
	got := trace.Summarize(trace4, 0)
	want := trace.Summary{Tasks: 3, Attempts: 4, Failed: 1, Panicked: 1, Ranks: 3, Hosts: 2,
		Lanes: 5, Makespan: 4, Busy: 7}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	// 5 lanes × 4 s, 7 s of it busy.
	if idle := got.Idle(); math.Abs(idle-13.0/20) > 1e-12 {
		t.Errorf("Idle = %v, want %v", idle, 13.0/20)
	}
	const line = "3 tasks on 3 ranks, 2 hosts · makespan 4.00 s · idle 65% of worker time · 4 attempts · 1 failed · 1 panicked"
	if s := got.String(); s != line {
		t.Errorf("String =\n%s\nwant\n%s", s, line)
	}
	if idle := (trace.Summary{}).Idle(); idle != 0 {
		t.Errorf("empty Summary's Idle = %v, want 0", idle)
	}
	// Ranks that ran nothing after the last in the trace count when told
	// of: two more, of two lanes each.
	more := trace.Summarize(trace4, 5)
	if more.Ranks != 5 || more.Lanes != 9 || !strings.Contains(more.String(), "on 5 ranks") {
		t.Errorf("Summarize of 5 ranks = %+v, %q", more, more)
	}
	if fewer := trace.Summarize(trace4, 1); fewer.Ranks != 3 {
		t.Errorf("Summarize of 1 rank, which the trace contradicts: %d ranks, want 3", fewer.Ranks)
	}
}

func TestLanes(t *testing.T) {
	lanes, err := trace.Lanes(trace4, 4)
	if err != nil {
		t.Fatal(err)
	}
	// Ranks 1 and 3 ran nothing: each gets as many lanes as the widest
	// rank, 2.
	want := [][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 0}, {3, 0}, {3, 1}}
	if len(lanes) != len(want) || len(lanes) != trace.Summarize(trace4, 4).Lanes {
		t.Fatalf("%d lanes, want %d as Summarize counts them", len(lanes), len(want))
	}
	for i, l := range lanes {
		if [2]int{l.Rank, l.Worker} != want[i] {
			t.Errorf("lane %d is rank %d worker %d, want %v", i, l.Rank, l.Worker, want[i])
		}
	}
	if l := lanes[1]; len(l.Tasks) != 2 || l.Tasks[0].Index != 1 || l.Tasks[1].Index != 2 || l.End != 2 {
		t.Errorf("rank 0 worker 1: %+v, want tasks 1 then 2, ending at 2", l)
	}
	if len(lanes[2].Tasks)+len(lanes[3].Tasks) != 0 {
		t.Errorf("rank 1's lanes hold tasks")
	}
}

// Lanes refuses to lay out more than MaxLanes, whatever the trace asks for,
// before allocating them.
func TestLanesBounded(t *testing.T) {
	for _, c := range []struct {
		tasks []trace.Task
		ranks int
		want  string
	}{
		{[]trace.Task{{Rank: trace.MaxRank, Attempt: 1}}, 0, "16777216 ranks with up to 1 workers make 16777216 lanes"},
		{[]trace.Task{{Rank: 100, Worker: trace.MaxWorker, Attempt: 1}}, 0, "more than the 1048576"},
		{[]trace.Task{{Rank: 2000000000, Attempt: 1}}, 0, "rank 2000000000, worker 0"},
		{[]trace.Task{{Rank: -1, Attempt: 1}}, 0, "rank -1"},
		{[]trace.Task{{Worker: 1 << 40, Attempt: 1}}, 0, "worker 1099511627776"},
		{trace4, 1 << 40, "1099511627776 ranks"},
	} {
		if _, err := trace.Lanes(c.tasks, c.ranks); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Lanes(rank %d worker %d, %d ranks): %v, want an error saying %q",
				c.tasks[0].Rank, c.tasks[0].Worker, c.ranks, err, c.want)
		}
		trace.Summarize(c.tasks, c.ranks) // no panic, no giant allocation
	}
}

func BenchmarkReadCSV(b *testing.B) {
	var buf bytes.Buffer
	if err := trace.WriteCSV(&buf, simtrace.Simulate(100000, 125, 8, false, 1)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := trace.ReadCSV(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriter(b *testing.B) {
	tasks := simtrace.Simulate(100000, 125, 8, false, 1)
	b.ResetTimer()
	for b.Loop() {
		w := trace.NewWriter(io.Discard)
		for _, t := range tasks {
			w.Write(t)
		}
		w.Flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tasks)), "ns/row")
}
