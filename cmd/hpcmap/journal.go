package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hpcmap/hpcmap/mpimap"
)

func init() {
	commands["journal"] = command{
		summary: "say how far the maps that wrote some journals got",
		run:     func(args []string) int { return runJournal(args, os.Stdout, os.Stderr) },
	}
}

const journalUsage = `usage: hpcmap journal [-v] FILE...

says how many of its map's tasks each journal written by mpimap.WithJournal
holds, and what damage it has; -v also prints the map's key and result type`

// runJournal is hpcmap journal, which tells how far the maps that wrote
// some journals got: for each file that mpimap.WithJournal wrote, how many
// of the map's tasks have a result in it.
//
// Usage:
//
//	hpcmap journal [-v] FILE...
//
// It prints a line per file, "FILE: DONE of TASKS tasks done", followed by
// what damage the journal holds if it holds any (a resumed map skips damaged
// records and keeps the good ones). With -v it also prints the key that the
// map passed to WithJournal (for mcscan, the settings that shape a point's
// result) and the map's result type. It only reads: it may watch the journal
// of a running job, or tell what a job killed at its time limit left for the
// next run. It exits 1 if some file is not a readable journal, 2 for a bad
// command line; -h prints this usage.
func runJournal(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hpcmap journal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	verbose := fs.Bool("v", false, "also print each journal's key and result type")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, journalUsage)
			return 0
		}
		fmt.Fprintln(stderr, journalUsage)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, journalUsage)
		return 2
	}
	code := 0
	for _, path := range fs.Args() {
		info, err := mpimap.InspectJournal(path)
		if err != nil {
			fmt.Fprintf(stderr, "hpcmap journal: %v\n", err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: %d of %d tasks done", path, info.Done, info.Tasks)
		if info.Damaged > 0 {
			fmt.Fprintf(stdout, "; %d damaged stretch(es), %d bytes, skipped", info.Damaged, info.DamagedBytes)
		}
		fmt.Fprintln(stdout)
		if *verbose {
			fmt.Fprintf(stdout, "  key %q\n  results %s\n", info.Key, info.Results)
		}
	}
	return code
}
