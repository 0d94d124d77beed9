package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// A picture is one heatmap over β × m per value of h, with each cell's value
// written in it, and a colour bar underneath.
type picture struct {
	file   string
	title  string              // the headline
	label  string              // the colour bar's label: the formula
	value  func(r row) float64 // the quantity in a cell
	format string              // how a cell's value is written
	cmap   palette.ColorMap    // with its Min and Max set
}

// writePictures draws rows, which cover the whole grid in grid order, and
// returns the files it wrote.
func writePictures(dir string, rows []row, cfg config) ([]string, error) {
	dev := moreland.SmoothBlueRed()
	// A fixed ±4σ range, so that colours mean the same in every run; cells
	// beyond it take the end colours and their numbers tell the rest.
	dev.SetMin(-4)
	dev.SetMax(4)
	acc := moreland.ExtendedBlackBody()
	acc.SetMin(0)
	acc.SetMax(1)
	pics := []picture{
		{
			file:   "acceptance.png",
			title:  fmt.Sprintf("Acceptance rate of the Metropolis proposals (%d iterations per point)", cfg.iterations),
			label:  "accepted / proposed",
			value:  func(r row) float64 { return r.Acceptance },
			format: "%.2f",
			cmap:   acc,
		},
		{
			file:   "deviation.png",
			title:  "Deviation of <x²> from quadrature, in standard errors",
			label:  "(x2 − x2_exact) / x2_err",
			value:  row.deviation,
			format: "%.1f",
			cmap:   dev,
		},
	}
	var files []string
	for _, p := range pics {
		path := filepath.Join(dir, p.file)
		if err := p.draw(path, rows, cfg); err != nil {
			return nil, fmt.Errorf("drawing %s: %w", path, err)
		}
		files = append(files, path)
	}
	return files, nil
}

// cells is one panel's values, z[β index][m index], as a plotter.GridXYZ on
// integer coordinates: the grid's values need not be evenly spaced, so the
// axes are labelled with them instead.
type cells [][]float64

func (z cells) Dims() (c, r int)   { return len(z), len(z[0]) }
func (z cells) Z(c, r int) float64 { return z[c][r] }
func (z cells) X(c int) float64    { return float64(c) }
func (z cells) Y(r int) float64    { return float64(r) }

func (p picture) draw(path string, rows []row, cfg config) error {
	nb, nm, nh := len(cfg.betas), len(cfg.ms), len(cfg.hs)
	cols := int(math.Ceil(math.Sqrt(float64(nh))))
	nrows := (nh + cols - 1) / cols

	const cell = 0.5 * vg.Inch
	panelW, panelH := vg.Length(nb)*cell+1.2*vg.Inch, vg.Length(nm)*cell+1.1*vg.Inch
	titleH, barH := 0.5*vg.Inch, 1.0*vg.Inch
	// At least wide enough for the headline, however small the grid.
	width := max(vg.Length(cols)*panelW, 6*vg.Inch)
	img := vgimg.NewWith(vgimg.UseWH(width, titleH+vg.Length(nrows)*panelH+barH), vgimg.UseDPI(96))
	dc := draw.New(img)

	headline := plot.New().Title.TextStyle
	headline.Font.Size = font.Length(14)
	headline.XAlign, headline.YAlign = draw.XCenter, draw.YCenter
	dc.FillText(headline, vg.Point{X: width / 2, Y: dc.Max.Y - titleH/2}, p.title)

	pal := p.cmap.Palette(256)
	plots := make([][]*plot.Plot, nrows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	for ih, h := range cfg.hs {
		z := make(cells, nb)
		labels := plotter.XYLabels{}
		for ib := range z {
			z[ib] = make([]float64, nm)
			for im := range z[ib] {
				// Row-major index of (β, m, h), as mpimap.Grid numbers points.
				v := p.value(rows[(ib*nm+im)*nh+ih])
				z[ib][im] = v
				labels.XYs = append(labels.XYs, plotter.XY{X: float64(ib), Y: float64(im)})
				labels.Labels = append(labels.Labels, cellText(p.format, v))
			}
		}
		hm := plotter.NewHeatMap(z, pal)
		hm.Min, hm.Max = p.cmap.Min(), p.cmap.Max()
		hm.Underflow, hm.Overflow = pal.Colors()[0], pal.Colors()[len(pal.Colors())-1]
		hm.NaN = color.Gray{Y: 200}
		text, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		for i := range text.TextStyle {
			text.TextStyle[i].XAlign = draw.XCenter
			text.TextStyle[i].YAlign = draw.YCenter
			text.TextStyle[i].Font.Size = 8
			text.TextStyle[i].Color = readableOn(hm, z[i/nm][i%nm])
		}

		pl := plot.New()
		pl.Title.Text = "h = " + strconv.FormatFloat(h, 'g', -1, 64)
		pl.X.Label.Text = "β"
		pl.Y.Label.Text = "m"
		pl.X.Tick.Marker = valueTicks(cfg.betas)
		pl.Y.Tick.Marker = valueTicks(cfg.ms)
		pl.X.Padding, pl.Y.Padding = 0, 0
		pl.Add(hm, text)
		plots[ih/cols][ih%cols] = pl
	}
	for _, row := range plots { // empty tiles when nh is not cols·nrows
		for i := range row {
			if row[i] == nil {
				row[i] = plot.New()
				row[i].HideAxes()
			}
		}
	}

	margin := (width - vg.Length(cols)*panelW) / 2
	panels := draw.Crop(dc, margin, -margin, barH, -titleH)
	tiles := draw.Tiles{Rows: nrows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(plots, tiles, panels)
	for j := range plots {
		for i := range plots[j] {
			plots[j][i].Draw(canvases[j][i])
		}
	}

	bar := plot.New()
	bar.Add(&plotter.ColorBar{ColorMap: p.cmap})
	bar.HideY()
	bar.X.Padding = 0
	bar.X.Label.Text = p.label
	bar.X.Label.TextStyle.Font.Size = font.Length(12)
	barArea := draw.Crop(dc, width/8, -width/8, 0, 0)
	barArea.Max.Y = barArea.Min.Y + barH - vg.Millimeter*3
	bar.Draw(barArea)

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// valueTicks labels the integer positions 0, 1, ... with vals.
func valueTicks(vals []float64) plot.ConstantTicks {
	t := make(plot.ConstantTicks, len(vals))
	for i, v := range vals {
		t[i] = plot.Tick{Value: float64(i), Label: strconv.FormatFloat(v, 'g', -1, 64)}
	}
	return t
}

// cellText formats v, without the sign of a value that rounds to zero.
func cellText(format string, v float64) string {
	s := fmt.Sprintf(format, v)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// readableOn is black or white, whichever stands out on v's cell colour.
func readableOn(hm *plotter.HeatMap, v float64) color.Color {
	cs := hm.Palette.Colors()
	var c color.Color
	switch {
	case math.IsNaN(v):
		c = hm.NaN
	case v <= hm.Min:
		c = cs[0]
	case v >= hm.Max:
		c = cs[len(cs)-1]
	default:
		c = cs[int((v-hm.Min)/(hm.Max-hm.Min)*float64(len(cs)-1)+0.5)]
	}
	r, g, b, _ := c.RGBA()
	if 0.299*float64(r)+0.587*float64(g)+0.114*float64(b) > 0.5*0xffff {
		return color.Black
	}
	return color.White
}
