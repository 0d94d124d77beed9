package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/vg"

	"github.com/hpcmap/hpcmap/trace"
	"github.com/hpcmap/hpcmap/trace/gantt"
)

func init() {
	commands["trace"] = command{
		summary: "draw a trace that mpimap.WithTrace wrote as a Gantt chart",
		run:     func(args []string) int { return runTrace(args, os.Stdout, os.Stderr) },
	}
}

const traceUsage = "usage: hpcmap trace [-o out.png] [-title T] [-ranks N] [-width in] [-height in] trace.csv"

// runTrace is hpcmap trace, which draws a trace that mpimap.WithTrace wrote
// as a Gantt chart: one lane per worker goroutine of each rank, a bar per
// task, the idle tail of each lane up to the end of the map in pale red.
//
// Usage:
//
//	hpcmap trace [-o out.png] [-title T] [-ranks N] [-width 10] [-height 0] trace.csv
//
// The picture goes to -o, by default the trace's name with .png for .csv. The
// title defaults to the trace's file name; a line under it sums up the trace:
// tasks, ranks, hosts, the makespan and the idle share of the workers' time,
// which the command also prints. A trace names only the ranks that ran a
// task: -ranks gives the number the map ran on, so that ranks that ran
// nothing show as idle lanes and count in the summary. Sizes are in inches
// at 96 dots per inch, at most 50; a zero height fits the number of lanes.
// The trace may be one that a running or killed map is writing: a last line
// cut short is skipped, and the command says so. See packages trace and
// trace/gantt for the file format and what to look for.
func runTrace(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hpcmap trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the PNG to `file` (default: the trace's name with .png)")
	title := fs.String("title", "", "the chart's title (default: the trace's file name)")
	ranks := fs.Int("ranks", 0, "the `number` of ranks the map ran on (default: as many as the trace names)")
	width := fs.Float64("width", 10, "width in `inches`")
	height := fs.Float64("height", 0, "height in `inches` (0: fit the lanes)")
	fs.Usage = func() {} // the whole usage is for -h only, on stdout
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, traceUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintln(stderr, traceUsage)
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, traceUsage)
		return 2
	}
	max := float64(gantt.MaxSize / vg.Inch)
	if !(*width > 0 && *width <= max) || !(*height >= 0 && *height <= max) {
		fmt.Fprintf(stderr, "hpcmap trace: -width %v -height %v: want a width above 0 and a height from 0, both at most %v inches\n",
			*width, *height, max)
		return 2
	}
	if *ranks < 0 || *ranks > trace.MaxRank+1 {
		fmt.Fprintf(stderr, "hpcmap trace: -ranks %d: want 0 to %d\n", *ranks, trace.MaxRank+1)
		return 2
	}
	in := fs.Arg(0)
	if *out == "" {
		*out = strings.TrimSuffix(in, filepath.Ext(in)) + ".png"
	}
	if *title == "" {
		*title = filepath.Base(in)
	}

	tasks, torn, err := readTrace(in)
	if err == nil {
		if torn {
			fmt.Fprintf(stdout, "%s: skipped its last line, cut short (the map still runs, or was killed)\n", in)
		}
		err = gantt.WritePNG(*out, tasks, gantt.Options{Title: *title, Ranks: *ranks,
			Width: vg.Length(*width) * vg.Inch, Height: vg.Length(*height) * vg.Inch})
	}
	if err != nil {
		fmt.Fprintln(stderr, "hpcmap trace:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %v\nwrote %s\n", in, trace.Summarize(tasks, *ranks), *out)
	return 0
}

func readTrace(path string) (tasks []trace.Task, torn bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	r := trace.NewReader(f)
	if tasks, err = r.ReadAll(); err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	if len(tasks) == 0 {
		return nil, r.Torn(), fmt.Errorf("%s: %w", path, gantt.ErrNoTasks)
	}
	return tasks, r.Torn(), nil
}
