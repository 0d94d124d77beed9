package gantt

import (
	"errors"
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/hpcmap/hpcmap/trace"
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

// Options say how to draw a chart. The zero value draws a 10-inch-wide
// chart of the ranks that the trace names, without a title of its own.
type Options struct {
	Title string // a line above the trace's summary
	// Ranks is the number of ranks the map ran on: a trace cannot tell the
	// ranks that ran no task, which get empty lanes when Ranks counts them.
	Ranks int
	// Width and Height are WritePNG's picture size, at most MaxSize each. A
	// zero width is 10 inches; a zero height fits the lanes, between 4 and
	// 16 inches (AutoHeight).
	Width, Height vg.Length
}

// MaxSize is the largest width or height of a picture: 50 inches, 4800
// pixels at 96 dots per inch.
const MaxSize = 50 * vg.Inch

// ErrNoTasks is the error for a trace without rows: there is nothing to draw.
var ErrNoTasks = errors.New("gantt: no tasks to draw")

// Chart draws tasks as a Gantt chart: one horizontal lane per worker
// goroutine of each rank (see trace.Lanes), rank 0 at the top, and a bar per
// attempt from its start to its end, seconds along the x axis; a rule
// separates ranks of several workers. Empty lane is idle time. From each
// lane's last task to the end of the map (a red line at the latest end) the
// lane is tinted pale red: that is the idle tail that a static schedule
// leaves when its blocks cost unequal time, and that a dynamic one all but
// removes. Failed attempts are orange and panicked ones black. The title is
// followed by the trace.Summary's line, and a row of legend entries stands
// between the title and the lanes.
//
// Bars narrower than about a point that touch are drawn as one, so that a
// trace of a hundred thousand tasks draws in under a second and looks the
// same as if each had been drawn.
//
// An empty trace is ErrNoTasks; more lanes than trace.Lanes lays out, an
// error.
func Chart(tasks []trace.Task, opt Options) (*plot.Plot, error) {
	p, _, err := newChart(tasks, opt)
	return p, err
}

func newChart(tasks []trace.Task, opt Options) (*plot.Plot, *gantt, error) {
	if len(tasks) == 0 {
		return nil, nil, ErrNoTasks
	}
	lanes, err := trace.Lanes(tasks, opt.Ranks)
	if err != nil {
		return nil, nil, err
	}
	g := &gantt{lanes: lanes, sum: trace.Summarize(tasks, opt.Ranks)}
	for _, t := range tasks {
		switch t.Status {
		case trace.StatusFailed:
			g.failed = true
		case trace.StatusPanicked:
			g.panicked = true
		}
	}

	p := plot.New()
	p.Title.Text = g.sum.String()
	if opt.Title != "" {
		p.Title.Text = opt.Title + "\n" + p.Title.Text
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

// WritePNG draws tasks with Chart and saves the chart at path as a PNG
// image of opt.Width × opt.Height at 96 dots per inch.
func WritePNG(path string, tasks []trace.Task, opt Options) error {
	width, height := opt.Width, opt.Height
	if width < 0 || height < 0 || width > MaxSize || height > MaxSize {
		return fmt.Errorf("gantt: a picture of %.4g × %.4g inches: want sizes from 0 to %g inches",
			width/vg.Inch, height/vg.Inch, MaxSize/vg.Inch)
	}
	p, g, err := newChart(tasks, opt)
	if err != nil {
		return err
	}
	if width == 0 {
		width = 10 * vg.Inch
	}
	if height == 0 {
		height = AutoHeight(len(g.lanes))
	}
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96))
	dc := draw.New(img)
	p.Draw(dc)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("gantt: %w", err)
	}
	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("gantt: writing %s: %w", path, err)
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
	lanes            []trace.Lane
	sum              trace.Summary
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
		if tail := trX(l.End); end-tail > 0 {
			c.FillPolygon(idleColor, rect(tail, end, y0, y1))
		}
		drawBars(c, trX, l.Tasks, y0, y1, laneH >= 4)
	}
	// A rule between ranks of several lanes. Not shaded bands: idle time
	// must look the same, empty, on every rank.
	for i := 1; i < len(g.lanes); i++ {
		if g.lanes[i].Rank != g.lanes[i-1].Rank && g.lanes[i].Worker+g.lanes[i-1].Worker > 0 && laneH >= 4 {
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
func drawBars(c draw.Canvas, trX func(float64) vg.Length, tasks []trace.Task, y0, y1 vg.Length, alternate bool) {
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
		if t.Status != trace.StatusOK {
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
		case trace.StatusOK:
			continue
		case trace.StatusPanicked:
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
		legendEntry{line: endColor, text: "end of the map, " + trace.Seconds(g.sum.Makespan)},
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
	lanes []trace.Lane
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
			label := fmt.Sprintf("rank %d / w%d", l.Rank, l.Worker)
			if oneWorker {
				label = fmt.Sprintf("rank %d", l.Rank)
			}
			ticks = append(ticks, plot.Tick{Value: float64(n-1-i) + 0.5, Label: label})
		}
		return ticks
	}
	step := (m.ranks + most - 1) / most
	first := 0
	for i := 1; i <= n; i++ {
		if i < n && m.lanes[i].Rank == m.lanes[first].Rank {
			continue
		}
		if r := m.lanes[first].Rank; r%step == 0 {
			// The middle of the rank's lanes.
			mid := float64(n) - float64(first+i)/2
			ticks = append(ticks, plot.Tick{Value: mid, Label: fmt.Sprintf("rank %d", r)})
		}
		first = i
	}
	return ticks
}
