// Hpcmap-trace draws a trace that mpimap.WithTrace wrote as a Gantt chart: one
// lane per worker goroutine of each rank, a bar per task, the idle tail of
// each lane up to the end of the map in pale red.
//
// Usage:
//
//	hpcmap-trace [-o out.png] [-title T] [-width 10] [-height 0] trace.csv
//
// The picture goes to -o, by default the trace's name with .png for .csv. The
// title defaults to the trace's file name; a line under it sums up the trace:
// tasks, ranks, hosts, the makespan and the idle share of the workers' time,
// which the command also prints. Sizes are in inches at 96 dots per inch; a
// zero height fits the number of lanes. See package trace for the file
// format and what to look for.
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
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the command with its arguments; it returns the exit code: 0, 1 for
// a failure, 2 for a bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hpcmap-trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the PNG to `file` (default: the trace's name with .png)")
	title := fs.String("title", "", "the chart's title (default: the trace's file name)")
	width := fs.Float64("width", 10, "width in `inches`")
	height := fs.Float64("height", 0, "height in `inches` (0: fit the lanes)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hpcmap-trace [-o out.png] [-title T] [-width in] [-height in] trace.csv")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if !(*width > 0) || !(*height >= 0) {
		fmt.Fprintf(stderr, "hpcmap-trace: -width %v -height %v: want a positive width and a height ≥ 0\n", *width, *height)
		return 2
	}
	in := fs.Arg(0)
	if *out == "" {
		*out = strings.TrimSuffix(in, filepath.Ext(in)) + ".png"
	}
	if *title == "" {
		*title = filepath.Base(in)
	}

	tasks, err := readTrace(in)
	if err == nil {
		err = trace.WritePNG(*out, tasks, *title, vg.Length(*width)*vg.Inch, vg.Length(*height)*vg.Inch)
	}
	if err != nil {
		fmt.Fprintln(stderr, "hpcmap-trace:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %v\nwrote %s\n", in, trace.Summarize(tasks), *out)
	return 0
}

func readTrace(path string) ([]trace.Task, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tasks, err := trace.ReadCSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tasks, nil
}
