package gantt

import (
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"

	"github.com/hpcmap/hpcmap/internal/pngtest"
	"github.com/hpcmap/hpcmap/trace"
	"github.com/hpcmap/hpcmap/trace/internal/simtrace"
)

func TestChartEmpty(t *testing.T) {
	if _, err := Chart(nil, Options{Title: "nothing"}); err != ErrNoTasks {
		t.Errorf("Chart of no tasks: %v, want ErrNoTasks", err)
	}
}

func TestChartTicks(t *testing.T) {
	for _, c := range []struct {
		ranks, workers, told int
		first, last          string
		n                    int
	}{
		{3, 2, 0, "rank 0 / w0", "rank 2 / w1", 6},
		{4, 1, 0, "rank 0", "rank 3", 4},
		{4, 1, 6, "rank 0", "rank 5", 6},       // two ranks ran nothing
		{16, 4, 0, "rank 0", "rank 15", 16},    // too many lanes: one label per rank
		{1000, 1, 0, "rank 0", "rank 975", 40}, // too many ranks: every 25th
	} {
		p, err := Chart(simtrace.Simulate(c.ranks*c.workers, c.ranks, c.workers, true, 1), Options{Ranks: c.told})
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
		if c.told > 0 && !strings.Contains(p.Title.Text, "on 6 ranks") {
			t.Errorf("told of 6 ranks, the title says %q", p.Title.Text)
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
	if err := WritePNG(block, simtrace.Simulate(300, 3, 2, true, 1), Options{Title: "block", Width: 6 * vg.Inch, Height: 4 * vg.Inch}); err != nil {
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
	even := []trace.Task{
		{Index: 0, Rank: 0, Worker: 0, Start: 0, End: 1, Attempt: 1, Status: trace.StatusOK},
		{Index: 1, Rank: 1, Worker: 0, Start: 0, End: 1, Attempt: 1, Status: trace.StatusOK},
	}
	flat := filepath.Join(dir, "even.png")
	if err := WritePNG(flat, even, Options{Title: "even", Width: 6 * vg.Inch, Height: 4 * vg.Inch}); err != nil {
		t.Fatal(err)
	}
	img = pngtest.Decode(t, flat)
	if n := count(img, idleColor); n == 0 || n > 200 {
		t.Errorf("even: %d pixels of the idle colour, want the legend's swatch alone (1 to 200)", n)
	}
	if count(img, failedColor) != 0 {
		t.Error("even: pixels in the failed colour, though nothing failed")
	}
	// Two more ranks that ran nothing: their lanes are idle from start to
	// end, a good part of the picture.
	idleRanks := filepath.Join(dir, "idle-ranks.png")
	if err := WritePNG(idleRanks, even, Options{Ranks: 4, Width: 6 * vg.Inch, Height: 4 * vg.Inch}); err != nil {
		t.Fatal(err)
	}
	if n := count(pngtest.Decode(t, idleRanks), idleColor); n < 576*384/10 {
		t.Errorf("two idle ranks of four: %d pixels of the idle colour, want at least a tenth of the picture", n)
	}

	// A zero size is the default width and a height to fit the lanes.
	auto := filepath.Join(dir, "auto.png")
	if err := WritePNG(auto, even, Options{}); err != nil {
		t.Fatal(err)
	}
	if b := pngtest.Decode(t, auto).Bounds(); b.Dx() != 960 || b.Dy() != int(AutoHeight(2)/vg.Inch*96+0.5) {
		t.Errorf("auto: %v × %v pixels, want 960 × %v", b.Dx(), b.Dy(), AutoHeight(2)/vg.Inch*96)
	}

	if err := WritePNG(filepath.Join(dir, "no", "such", "dir.png"), even, Options{}); err == nil {
		t.Error("WritePNG to a missing directory: no error")
	}
	for _, size := range [][2]vg.Length{{-1, 0}, {0, -1}, {1e6 * vg.Inch, 0}, {0, 51 * vg.Inch}} {
		err := WritePNG(filepath.Join(dir, "bad.png"), even, Options{Width: size[0], Height: size[1]})
		if err == nil || !strings.Contains(err.Error(), "want sizes from 0 to 50 inches") {
			t.Errorf("WritePNG %v × %v: %v", size[0], size[1], err)
		}
	}
	// A trace whose rank asks for billions of lanes is refused, not drawn.
	huge := []trace.Task{{Rank: trace.MaxRank, Attempt: 1, End: 1}}
	if err := WritePNG(filepath.Join(dir, "huge.png"), huge, Options{}); err == nil || !strings.Contains(err.Error(), "lanes") {
		t.Errorf("WritePNG of rank %d: %v, want an error about lanes", trace.MaxRank, err)
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
		tasks := simtrace.Simulate(c.n, c.r, c.w, true, 1)
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "t.png")
			for b.Loop() {
				if err := WritePNG(path, tasks, Options{Title: c.name}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
