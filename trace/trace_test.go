package trace

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"

	"github.com/hpcmap/hpcmap/internal/pngtest"
)

func TestCSVRoundTrip(t *testing.T) {
	tasks := simulate(500, 3, 2, false, 7)
	tasks[3].Status = StatusPanicked
	tasks[4].Attempt = 2
	tasks[5].Host = `odd "host", with a comma`
	var buf bytes.Buffer
	if err := WriteCSV(&buf, tasks); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(buf.String(), "\n"); first != Header {
		t.Fatalf("first line %q, want %q", first, Header)
	}
	got, err := ReadCSV(&buf)
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

func TestReadCSVHeaderOnly(t *testing.T) {
	tasks, err := ReadCSV(strings.NewReader(Header + "\n"))
	if err != nil || len(tasks) != 0 {
		t.Fatalf("ReadCSV(header only) = %v, %v; want no tasks and no error", tasks, err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	const ok = "3,1,node1,0,0.5,1.25,1,ok\n"
	for _, c := range []struct {
		name, in, want string
	}{
		{"empty", "", "empty input"},
		{"header", "index,rank,host,worker,begin,end,attempt,status\n", `line 1, column 24: header has "begin" where "start" belongs`},
		{"short header", "index,rank\n", "wrong number of fields"},
		{"short row", Header + "\n" + ok + "1,2,3\n", "line 3"},
		{"index", Header + "\n" + ok + "x,1,h,0,0,1,1,ok\n", `line 3, column 1 (index): "x" is not an integer`},
		{"negative rank", Header + "\n" + "1,-1,h,0,0,1,1,ok\n", "line 2, column 3 (rank): -1 is less than 0"},
		{"worker", Header + "\n" + "1,1,h,1.5,0,1,1,ok\n", `line 2, column 7 (worker): "1.5" is not an integer`},
		{"start", Header + "\n" + "1,1,h,0,,1,1,ok\n", `line 2, column 9 (start): "" is not a finite number`},
		{"end NaN", Header + "\n" + "1,1,h,0,0,NaN,1,ok\n", `line 2, column 11 (end): "NaN" is not a finite number`},
		{"backwards", Header + "\n" + "1,1,h,0,2,1,1,ok\n", "line 2, column 11 (end): the task ends (1 s) before it starts (2 s)"},
		{"attempt 0", Header + "\n" + "1,1,h,0,0,1,0,ok\n", "line 2, column 13 (attempt): 0 is less than 1"},
		{"status", Header + "\n" + ok + ok + "1,1,h,0,0,1,1,done\n", `line 4, column 15 (status): "done" is not a status`},
		{"quote", Header + "\n" + `1,1,"h,0,0,1,1,ok` + "\n", "line 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ReadCSV: error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// trace4 is a small trace: rank 0 with two workers, rank 1 ran nothing,
// rank 2 with one worker, a failed attempt and its retry.
var trace4 = []Task{
	{Index: 0, Rank: 0, Host: "a", Worker: 0, Start: 0, End: 2, Attempt: 1, Status: StatusOK},
	{Index: 1, Rank: 0, Host: "a", Worker: 1, Start: 0, End: 1, Attempt: 1, Status: StatusFailed},
	{Index: 1, Rank: 2, Host: "b", Worker: 0, Start: 1, End: 4, Attempt: 2, Status: StatusOK},
	{Index: 2, Rank: 0, Host: "a", Worker: 1, Start: 1, End: 2, Attempt: 1, Status: StatusPanicked},
}

func TestSummarize(t *testing.T) {
	got := Summarize(trace4)
	want := Summary{Tasks: 3, Attempts: 4, Failed: 1, Panicked: 1, Ranks: 3, Hosts: 2,
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
	if idle := (Summary{}).Idle(); idle != 0 {
		t.Errorf("empty Summary's Idle = %v, want 0", idle)
	}
}

func TestLanes(t *testing.T) {
	lanes := lanesOf(trace4)
	// Rank 1 ran nothing: it gets as many lanes as the widest rank, 2.
	want := [][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 0}}
	if len(lanes) != len(want) {
		t.Fatalf("%d lanes, want %d", len(lanes), len(want))
	}
	for i, l := range lanes {
		if [2]int{l.rank, l.worker} != want[i] {
			t.Errorf("lane %d is rank %d worker %d, want %v", i, l.rank, l.worker, want[i])
		}
	}
	if l := lanes[1]; len(l.tasks) != 2 || l.tasks[0].Index != 1 || l.tasks[1].Index != 2 || l.end != 2 {
		t.Errorf("rank 0 worker 1: %+v, want tasks 1 then 2, ending at 2", l)
	}
	if len(lanes[2].tasks)+len(lanes[3].tasks) != 0 {
		t.Errorf("rank 1's lanes hold tasks")
	}
}

func TestGanttEmpty(t *testing.T) {
	if _, err := Gantt(nil, "nothing"); err == nil {
		t.Error("Gantt of no tasks: no error")
	}
}

func TestGanttTicks(t *testing.T) {
	for _, c := range []struct {
		ranks, workers int
		first, last    string
		n              int
	}{
		{3, 2, "rank 0 / w0", "rank 2 / w1", 6},
		{4, 1, "rank 0", "rank 3", 4},
		{16, 4, "rank 0", "rank 15", 16},    // too many lanes: one label per rank
		{1000, 1, "rank 0", "rank 975", 40}, // too many ranks: every 25th
	} {
		p, err := Gantt(simulate(c.ranks*c.workers, c.ranks, c.workers, true, 1), "")
		if err != nil {
			t.Fatal(err)
		}
		ticks := p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max)
		if len(ticks) != c.n || ticks[0].Label != c.first || ticks[len(ticks)-1].Label != c.last {
			t.Errorf("%d ranks × %d workers: %d labels %q ... %q, want %d, %q ... %q", c.ranks, c.workers,
				len(ticks), ticks[0].Label, ticks[len(ticks)-1].Label, c.n, c.first, c.last)
		}
		// Rank 0 on top.
		if ticks[0].Value <= ticks[len(ticks)-1].Value {
			t.Errorf("%d ranks × %d workers: rank 0 at %v, below the last rank at %v",
				c.ranks, c.workers, ticks[0].Value, ticks[len(ticks)-1].Value)
		}
	}
}

// count is the number of pixels of exactly colour c.
func count(img image.Image, c color.Color) int {
	n := 0
	r, g, b, a := c.RGBA()
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := img.At(x, y).RGBA()
			if r1 == r && g1 == g && b1 == b && a1 == a {
				n++
			}
		}
	}
	return n
}

func TestWritePNG(t *testing.T) {
	dir := t.TempDir()
	block := filepath.Join(dir, "block.png")
	if err := WritePNG(block, simulate(300, 3, 2, true, 1), "block", 6*vg.Inch, 4*vg.Inch); err != nil {
		t.Fatal(err)
	}
	img := pngtest.Decode(t, block)
	if b := img.Bounds(); b.Dx() != 576 || b.Dy() != 384 {
		t.Errorf("6 × 4 inches at 96 dpi: %v × %v pixels, want 576 × 384", b.Dx(), b.Dy())
	}
	// Costs grow along the arguments, so under Block the first ranks finish
	// early and their lanes' tails are idle: much of the picture.
	blockIdle := count(img, idleColor)
	if blockIdle < 576*384/20 {
		t.Errorf("block: %d pixels of the idle colour, want at least a twentieth of the picture", blockIdle)
	}
	if count(img, failedColor) == 0 {
		t.Error("block: no pixel in the failed colour, though task 5 failed")
	}

	// Lanes that all end together have no idle tail: the idle colour is
	// left in the legend's swatch alone.
	even := []Task{
		{Index: 0, Rank: 0, Worker: 0, Start: 0, End: 1, Attempt: 1, Status: StatusOK},
		{Index: 1, Rank: 1, Worker: 0, Start: 0, End: 1, Attempt: 1, Status: StatusOK},
	}
	flat := filepath.Join(dir, "even.png")
	if err := WritePNG(flat, even, "even", 6*vg.Inch, 4*vg.Inch); err != nil {
		t.Fatal(err)
	}
	img = pngtest.Decode(t, flat)
	if n := count(img, idleColor); n == 0 || n > 200 {
		t.Errorf("even: %d pixels of the idle colour, want the legend's swatch alone (1 to 200)", n)
	}
	if count(img, failedColor) != 0 {
		t.Error("even: pixels in the failed colour, though nothing failed")
	}

	// A zero size is the default width and a height to fit the lanes.
	auto := filepath.Join(dir, "auto.png")
	if err := WritePNG(auto, even, "", 0, 0); err != nil {
		t.Fatal(err)
	}
	if b := pngtest.Decode(t, auto).Bounds(); b.Dx() != 960 || b.Dy() != int(AutoHeight(2)/vg.Inch*96+0.5) {
		t.Errorf("auto: %v × %v pixels, want 960 × %v", b.Dx(), b.Dy(), AutoHeight(2)/vg.Inch*96)
	}

	if err := WritePNG(filepath.Join(dir, "no", "such", "dir.png"), even, "", 0, 0); err == nil {
		t.Error("WritePNG to a missing directory: no error")
	}
	if err := WritePNG(filepath.Join(dir, "neg.png"), even, "", -1, 0); err == nil {
		t.Error("WritePNG with a negative width: no error")
	}
}

func TestAutoHeight(t *testing.T) {
	for _, c := range []struct {
		lanes int
		want  vg.Length
	}{{1, 4 * vg.Inch}, {6, 4 * vg.Inch}, {50, 1.6*vg.Inch + 700}, {10000, 16 * vg.Inch}} {
		if got := AutoHeight(c.lanes); got != c.want {
			t.Errorf("AutoHeight(%d) = %v, want %v", c.lanes, got, c.want)
		}
	}
}

// BenchmarkWritePNG draws 100,000 tasks on few wide lanes (mostly merged
// bars), on many lanes of a few workers, and on a thousand thin lanes (a
// bar per task).
func BenchmarkWritePNG(b *testing.B) {
	for _, c := range []struct {
		name    string
		n, r, w int
	}{{"100k/3x2", 100000, 3, 2}, {"100k/125x8", 100000, 125, 8}, {"100k/1000x1", 100000, 1000, 1}} {
		tasks := simulate(c.n, c.r, c.w, true, 1)
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "t.png")
			for b.Loop() {
				if err := WritePNG(path, tasks, c.name, 0, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadCSV(b *testing.B) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, simulate(100000, 125, 8, false, 1)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := ReadCSV(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}
