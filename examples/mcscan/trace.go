package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hpcmap/hpcmap/mpimap"
	"github.com/hpcmap/hpcmap/trace"
	"github.com/hpcmap/hpcmap/trace/gantt"
)

// tracePath is where the map's trace goes: DIR/trace.csv, or for a shard
// DIR/trace-shard-i-of-k.csv, so that the shards of a job array keep theirs.
func (cfg config) tracePath() string {
	name := "trace.csv"
	if cfg.shards > 0 {
		name = "trace-" + shardName(cfg.shard, cfg.shards)
	}
	return filepath.Join(cfg.out, name)
}

// reportTrace draws the trace that the map wrote and tells on stdout where
// both are, with the trace's summary. It draws even with -pictures=false,
// which is there to save the heat maps' time: asking for a trace is asking
// for its picture.
func reportTrace(stdout io.Writer, cfg config, points, ranks int) error {
	path := cfg.tracePath()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	tasks, err := trace.ReadCSV(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintln(stdout, "trace:", trace.Summarize(tasks, ranks))
	fmt.Fprintln(stdout, "wrote", path)
	if len(tasks) == 0 {
		// An empty shard, or a run whose every point came from the
		// journal: nothing ran, nothing to draw, and nothing wrong.
		fmt.Fprintln(stdout, "trace: no point ran in this run, so there is no chart to draw")
		return nil
	}
	png := strings.TrimSuffix(path, ".csv") + ".png"
	sched := cfg.schedule.String()
	if cfg.schedule == mpimap.Dynamic || cfg.schedule == mpimap.Guided {
		sched += fmt.Sprintf(" (chunk %d)", cfg.chunk)
	}
	title := fmt.Sprintf("mcscan: %d points × %d iterations, %s schedule, %d ranks",
		points, cfg.iterations, sched, ranks)
	if err := gantt.WritePNG(png, tasks, gantt.Options{Title: title, Ranks: ranks}); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "wrote", png)
	return nil
}
