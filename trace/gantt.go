package trace

import (
	"cmp"
	"fmt"
	"image/color"
	"os"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The chart's colours. Tasks alternate between two blues so that neighbours
// stay apart; the idle tail is a pale red that draws the eye without hiding
// the lane; failures are orange and panics black, which no blue resembles.
var (
	taskShades  = [2]color.Color{color.RGBA{0x2f, 0x6b, 0xb3, 0xff}, color.RGBA{0x74, 0xa9, 0xdf, 0xff}}
	denseShade  = color.RGBA{0x45, 0x85, 0xc8, 0xff} // runs of tasks too short to tell apart
	failedColor = color.RGBA{0xf5, 0x8a, 0x07, 0xff}
	panicColor  = color.RGBA{0x11, 0x11, 0x11, 0xff}
	idleColor   = color.RGBA{0xf8, 0xc9, 0xc4, 0xff}
	endColor    = color.RGBA{0xd0, 0x10, 0x10, 0xff}
	rankRule    = color.RGBA{0x80, 0x80, 0x80, 0xff}
)

// lane is the attempts that one worker goroutine of one rank ran, by start.
type lane struct {
	rank, worker int
	tasks        []Task
	end          float64 // the lane's last end; 0 if it ran nothing
}

// layout numbers the lanes of a chart of tasks: rank r's lanes are
// first[r] to first[r+1]−1, worker by worker. Every rank from 0 to the
// highest in the trace gets lanes, and every worker from 0 to the highest
// its rank used, so that a rank or a worker that ran nothing shows as an
// empty lane rather than vanishing. A rank with no tasks at all gets as many
// lanes as the widest rank.
func layout(tasks []Task) (first []int) {
	workers := make(map[int]int) // rank → highest worker + 1
	ranks, widest := 0, 1
	for _, t := range tasks {
		workers[t.Rank] = max(workers[t.Rank], t.Worker+1)
		ranks = max(ranks, t.Rank+1)
		widest = max(widest, t.Worker+1)
	}
	first = make([]int, ranks+1)
	for r := range ranks {
		w := workers[r]
		if w == 0 {
			w = widest
		}
		first[r+1] = first[r] + w
	}
	return first
}

// lanesOf sorts tasks into the lanes of layout, each by start.
func lanesOf(tasks []Task) []lane {
	first := layout(tasks)
	ranks := len(first) - 1
	lanes := make([]lane, first[ranks])
	for r := range ranks {
		for i := first[r]; i < first[r+1]; i++ {
			lanes[i] = lane{rank: r, worker: i - first[r]}
		}
	}
	for _, t := range tasks {
		l := &lanes[first[t.Rank]+t.Worker]
		l.tasks = append(l.tasks, t)
		l.end = max(l.end, t.End)
	}
	for i := range lanes {
		slices.SortFunc(lanes[i].tasks, func(a, b Task) int { return cmp.Compare(a.Start, b.Start) })
	}
	return lanes
}

// Gantt draws tasks as a Gantt chart: one horizontal lane per worker
// goroutine of each rank, rank 0 at the top, and a bar per attempt from its
// start to its end, seconds along the x axis; a rule separates ranks of
// several workers. Empty lane is idle time. From each lane's last task to
// the end of the map (a red line at the latest end) the lane is tinted pale
// red: that is the idle tail that a static schedule leaves when its blocks
// cost unequal time, and that a dynamic one all but removes. Failed attempts
// are orange and panicked ones black. The title is followed by the Summary's
// line, and a row of legend entries stands between the title and the lanes.
//
// Bars narrower than about a point that touch are drawn as one, so that a
// trace of a hundred thousand tasks draws in under a second and looks the
// same as if each had been drawn.
//
// Gantt returns an error if tasks is empty.
func Gantt(tasks []Task, title string) (*plot.Plot, error) {
	p, _, err := newGantt(tasks, title)
	return p, err
}

func newGantt(tasks []Task, title string) (*plot.Plot, *gantt, error) {
	if len(tasks) == 0 {
		return nil, nil, errNoTasks
	}
	g := &gantt{lanes: lanesOf(tasks), sum: Summarize(tasks)}
	for _, t := range tasks {
		switch t.Status {
		case StatusFailed:
			g.failed = true
		case StatusPanicked:
			g.panicked = true
		}
	}

	p := plot.New()
	p.Title.Text = g.sum.String()
	if title != "" {
		p.Title.Text = title + "\n" + p.Title.Text
	}
	p.X.Label.Text = "seconds since the map's start (on each rank's own clock)"
	p.X.Min = 0
	// Room after the end line, so that it stands clear of the plot's edge.
	p.X.Max = 1.02 * g.sum.Makespan
	if p.X.Max == 0 {
		p.X.Max = 1 // every task took no time: still a readable axis
	}
	p.X.Padding, p.Y.Padding = 0, 0
	p.Y.Min, p.Y.Max = 0, float64(len(g.lanes))
	p.Y.Tick.Marker = laneMarker{lanes: g.lanes, ranks: g.sum.Ranks}
	p.Y.Tick.Label.Font.Size = font.Length(9)
	p.Add(g)

	// The legend goes in a row of its own above the lanes, in space the
	// title's padding keeps free: plot's own legend would cover lanes.
	g.legend = g.legendEntries()
	g.legendStyle = p.Legend.TextStyle
	g.legendStyle.Font.Size = font.Length(10)
	g.legendStyle.YAlign = draw.YCenter
	p.Title.Padding = g.legendStyle.Rectangle("Xg").Size().Y + 4*vg.Millimeter
	return p, g, nil
}

// WritePNG draws tasks with Gantt and saves the chart as a PNG image of
// width × height at 96 dots per inch. A zero width is 10 inches; a zero
// height fits the lanes, between 4 and 16 inches.
func WritePNG(path string, tasks []Task, title string, width, height vg.Length) error {
	p, g, err := newGantt(tasks, title)
	if err != nil {
		return err
	}
	if width == 0 {
		width = 10 * vg.Inch
	}
	if height == 0 {
		height = AutoHeight(len(g.lanes))
	}
	if width < 0 || height < 0 {
		return fmt.Errorf("trace: negative size %v × %v", width, height)
	}
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96))
	dc := draw.New(img)
	p.Draw(dc)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("trace: writing %s: %w", path, err)
	}
	return nil
}

// AutoHeight is the height WritePNG gives a chart of n lanes: 14 points a
// lane plus room for the title, legend and axis, between 4 and 16 inches.
func AutoHeight(lanes int) vg.Length {
	return min(max(1.6*vg.Inch+vg.Length(lanes)*14, 4*vg.Inch), 16*vg.Inch)
}

// gantt is the plot.Plotter that draws the lanes.
type gantt struct {
	lanes            []lane
	sum              Summary
	failed, panicked bool

	legend      []legendEntry
	legendStyle text.Style
}

// DataRange implements plot.DataRanger.
func (g *gantt) DataRange() (xmin, xmax, ymin, ymax float64) {
	return 0, g.sum.Makespan, 0, float64(len(g.lanes))
}

// laneY is the bottom of lane i on the y axis: lane 0 at the top.
func (g *gantt) laneY(i int) float64 { return float64(len(g.lanes) - 1 - i) }

// Plot implements plot.Plotter.
func (g *gantt) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	laneH := trY(1) - trY(0)
	// A gap between lanes while there is room for one.
	inset := min(laneH*0.12, 1.5*vg.Millimeter)
	if laneH < 3 {
		inset = 0
	}

	end := trX(g.sum.Makespan)
	for i, l := range g.lanes {
		y0, y1 := trY(g.laneY(i))+inset, trY(g.laneY(i)+1)-inset
		if tail := trX(l.end); end-tail > 0 {
			c.FillPolygon(idleColor, rect(tail, end, y0, y1))
		}
		drawBars(c, trX, l.tasks, y0, y1, laneH >= 4)
	}
	// A rule between ranks of several lanes. Not shaded bands: idle time
	// must look the same, empty, on every rank.
	for i := 1; i < len(g.lanes); i++ {
		if g.lanes[i].rank != g.lanes[i-1].rank && g.lanes[i].worker+g.lanes[i-1].worker > 0 && laneH >= 4 {
			y := trY(g.laneY(i) + 1)
			c.StrokeLine2(draw.LineStyle{Color: rankRule, Width: vg.Points(0.75)}, c.Min.X, y, c.Max.X, y)
		}
	}
	c.StrokeLine2(draw.LineStyle{Color: endColor, Width: vg.Points(1.5)}, end, c.Min.Y, end, c.Max.Y)

	g.drawLegend(c)
}

// drawBars draws one lane's attempts between heights y0 and y1. Successful
// attempts first, so that a failure among thousands of tiny successes is
// never painted over; and those narrower than a point are merged with their
// neighbours, since drawing each would cost time and show nothing more.
// Wider ones alternate in shade if alternate is set; on lanes too thin for
// the eye to follow, shades would only make a moiré, so there all bars that
// touch are merged.
func drawBars(c draw.Canvas, trX func(float64) vg.Length, tasks []Task, y0, y1 vg.Length, alternate bool) {
	const narrow = 1 // point
	var run struct{ x0, x1 vg.Length }
	open := false
	flush := func() {
		if open {
			c.FillPolygon(denseShade, rect(run.x0, max(run.x1, run.x0+0.75), y0, y1))
			open = false
		}
	}
	shade := 0
	for _, t := range tasks {
		if t.Status != StatusOK {
			continue
		}
		x0, x1 := trX(t.Start), trX(t.End)
		if alternate && x1-x0 >= narrow {
			flush()
			c.FillPolygon(taskShades[shade], rect(x0, x1, y0, y1))
			shade ^= 1
			continue
		}
		if open && x0-run.x1 < narrow {
			run.x1 = max(run.x1, x1)
			continue
		}
		flush()
		run.x0, run.x1, open = x0, x1, true
	}
	flush()

	for _, t := range tasks {
		clr := failedColor
		switch t.Status {
		case StatusOK:
			continue
		case StatusPanicked:
			clr = panicColor
		}
		// Wide enough to see, however short.
		x0, x1 := trX(t.Start), trX(t.End)
		if x1-x0 < 2 {
			mid := (x0 + x1) / 2
			x0, x1 = mid-1, mid+1
		}
		c.FillPolygon(clr, rect(x0, x1, y0, y1))
	}
}

func rect(x0, x1, y0, y1 vg.Length) []vg.Point {
	return []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
}

// legendEntry is a swatch of one or more colours side by side, or a line,
// and its text.
type legendEntry struct {
	fill []color.Color // the swatch, or nil for a line
	line color.Color
	text string
}

func (g *gantt) legendEntries() []legendEntry {
	e := []legendEntry{
		{fill: taskShades[:], text: "tasks"},
	}
	if g.failed {
		e = append(e, legendEntry{fill: []color.Color{failedColor}, text: "failed"})
	}
	if g.panicked {
		e = append(e, legendEntry{fill: []color.Color{panicColor}, text: "panicked"})
	}
	return append(e,
		legendEntry{fill: []color.Color{idleColor}, text: "idle after the lane's last task"},
		legendEntry{line: endColor, text: "end of the map, " + seconds(g.sum.Makespan)},
	)
}

// drawLegend draws the legend in one row above the data canvas c, starting
// at its left edge.
func (g *gantt) drawLegend(c draw.Canvas) {
	sty := g.legendStyle
	h := sty.Rectangle("Xg").Size().Y
	y := c.Max.Y + 2*vg.Millimeter + h/2
	x := c.Min.X
	const swatch = 16
	for _, e := range g.legend {
		if e.fill != nil {
			w := swatch / vg.Length(len(e.fill))
			for i, clr := range e.fill {
				c.FillPolygon(clr, rect(x+vg.Length(i)*w, x+vg.Length(i+1)*w, y-h/3, y+h/3))
			}
		} else {
			c.StrokeLine2(draw.LineStyle{Color: e.line, Width: vg.Points(1.5)}, x+swatch/2, y-h/2, x+swatch/2, y+h/2)
		}
		x += swatch + 3
		c.FillText(sty, vg.Point{X: x, Y: y}, e.text)
		x += sty.Rectangle(e.text).Size().X + 4*vg.Millimeter
	}
}

// laneMarker labels the lanes: each lane by rank and worker while they are
// few, else each rank, else every so many ranks, so that labels never
// crowd.
type laneMarker struct {
	lanes []lane
	ranks int
}

// Ticks implements plot.Ticker.
func (m laneMarker) Ticks(min, max float64) []plot.Tick {
	const most = 40
	n := len(m.lanes)
	var ticks []plot.Tick
	if n <= most {
		oneWorker := n == m.ranks
		for i, l := range m.lanes {
			label := fmt.Sprintf("rank %d / w%d", l.rank, l.worker)
			if oneWorker {
				label = fmt.Sprintf("rank %d", l.rank)
			}
			ticks = append(ticks, plot.Tick{Value: float64(n-1-i) + 0.5, Label: label})
		}
		return ticks
	}
	step := (m.ranks + most - 1) / most
	first := 0
	for i := 1; i <= n; i++ {
		if i < n && m.lanes[i].rank == m.lanes[first].rank {
			continue
		}
		if r := m.lanes[first].rank; r%step == 0 {
			// The middle of the rank's lanes.
			mid := float64(n) - float64(first+i)/2
			ticks = append(ticks, plot.Tick{Value: mid, Label: fmt.Sprintf("rank %d", r)})
		}
		first = i
	}
	return ticks
}
