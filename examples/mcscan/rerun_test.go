package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// scan runs mcscan on np in-process ranks and returns rank 0's stdout and
// the error.
func scan(np int, args ...string) (string, error) {
	var out bytes.Buffer
	err := mpi.Local(np, func(ctx context.Context, c mpi.Comm) error {
		w := io.Discard
		if c.Rank() == 0 {
			w = &out
		}
		return mcscan(ctx, c, args, w)
	})
	return out.String(), err
}

// wantError fails t unless err says every part of want.
func wantError(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %v, want one that says %q", what, err, w)
			return
		}
	}
}

// A journal of other settings is refused, saying both, and before any
// point runs; one of the same settings resumes, on fewer ranks than wrote
// it too (the ranks' hosts come from the journal).
func TestJournalOfOtherSettings(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "j.journal")
	if _, err := scan(2, args(filepath.Join(dir, "a"), "-journal", journal, "-pictures=false")...); err != nil {
		t.Fatal(err)
	}
	said, err := scan(2, append(slices.Clip(small), "-iterations", "4000", "-seed", "42", "-journal", journal, "-out", filepath.Join(dir, "b"))...)
	wantError(t, "a journal of -iterations 2000 -seed 1, resumed with -iterations 4000 -seed 42", err,
		"different map", `"-iterations 2000" "-seed 1"`, `"-iterations 4000" "-seed 42"`)
	if strings.Contains(said, "resuming") || strings.Contains(said, "points ×") {
		t.Errorf("before refusing the journal, mcscan said:\n%s", said)
	}
	if _, err := os.Stat(filepath.Join(dir, "b", "scan.csv")); err == nil {
		t.Error("the refused run wrote a scan.csv")
	}
	said, err = scan(1, args(filepath.Join(dir, "a"), "-journal", journal, "-pictures=false")...)
	if err != nil || !strings.Contains(said, "resuming: 8 of 8 points") {
		t.Errorf("the same settings: %v, said\n%s", err, said)
	}
	recs, err := readScan(filepath.Join(dir, "a", "scan.csv"))
	if err != nil || len(recs) != 9 || slices.ContainsFunc(recs[1:], func(r []string) bool { return r[9] == "" }) {
		t.Errorf("resumed on 1 rank from a journal of 2: %v, scan %v; want every host named", err, recs)
	}
}

// A bad -out is found before the work: nothing runs, not even the
// placement report.
func TestBadOutBeforeWork(t *testing.T) {
	dir := t.TempDir()
	afile := filepath.Join(dir, "afile")
	if err := os.WriteFile(afile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{afile, filepath.Join(afile, "sub"), "/proc/nope", ""} {
		said, err := scan(2, args(out)...)
		if err == nil || said != "" {
			t.Errorf("-out %q: error %v, said %q; want an error and nothing run", out, err, said)
		}
	}
	_, err := scan(2, args("")...)
	wantError(t, `-out ""`, err, `-out "": want a directory`)
}

// A directory that holds a scan of other settings is refused, unless
// -force, which replaces that scan's files; one of the same settings is
// written again.
func TestNoSilentOverwrite(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	journal := filepath.Join(out, "scan.journal") // where mcscan.sbatch keeps it
	if _, err := scan(1, args(out, "-per-point", "-journal", journal)...); err != nil {
		t.Fatal(err)
	}
	if _, err := scan(1, args(out, "-per-point")...); err != nil {
		t.Fatalf("the same settings again: %v", err)
	}
	other := []string{"-betas", "1", "-ms", "1", "-hs", "1", "-iterations", "2000", "-out", out, "-journal", journal}
	_, err := scan(1, other...)
	wantError(t, "another grid into the same -out", err, "holds a scan of other settings", "-betas 0.5,2 there, 1 here", "-force")
	if _, err := scan(1, append(other, "-force")...); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	want := []string{"acceptance.png", "deviation.png", "mcscan.settings", "scan.csv", "scan.journal"}
	if !slices.Equal(files, want) {
		t.Errorf("-force left %v, want %v: the old scan's files replaced", files, want)
	}
	if info, err := mpimap.InspectJournal(journal); err != nil || info.Tasks != 1 {
		t.Errorf("after -force, the journal in -out is %+v, %v; want the new scan's, of 1 point", info, err)
	}
	recs, err := readScan(filepath.Join(out, "scan.csv"))
	if err != nil || len(recs) != 2 {
		t.Errorf("-force: scan.csv has %d lines (%v), want the header and 1 point", len(recs), err)
	}
	// Files of a scan without their settings (an older mcscan's) are not
	// taken over either.
	os.Remove(filepath.Join(out, settingsFile))
	_, err = scan(1, args(out)...)
	wantError(t, "a scan without settings", err, "not its settings", "-force")
}

// Duplicate values would make two points of one (and name two files the
// same).
func TestDuplicateValues(t *testing.T) {
	for _, dup := range [][]string{{"-betas", "0.5,0.50"}, {"-ms", "2,2"}, {"-hs", "1,2,1e0"}} {
		_, err := scan(1, append(args(t.TempDir()), dup...)...)
		wantError(t, strings.Join(dup, " "), err, dup[0]+" ", "is there twice")
	}
}

// Shards of other settings in one directory: the second is refused, and a
// merge given settings other than the shards' says which.
func TestShardsOfOtherSettings(t *testing.T) {
	out := filepath.Join(t.TempDir(), "parts")
	if _, err := scan(2, args(out, "-shard", "0/2")...); err != nil {
		t.Fatal(err)
	}
	// The case: a failed shard rerun without the original flags.
	_, err := scan(2, "-betas", "0.5,2", "-ms", "0.3,3", "-hs", "0.5,2.5", "-out", out, "-shard", "1/2")
	wantError(t, "shard 1 with the default -iterations", err, "-iterations 2000 there, 100000 here")
	if _, err := scan(2, args(out, "-shard", "1/2")...); err != nil {
		t.Fatal(err)
	}
	_, err = scan(1, "-merge", out, "-iterations", "4000")
	wantError(t, "-merge with -iterations 4000", err, "-iterations 4000: the shards in "+out+" ran with -iterations 2000")
	// No grid flags needed: the merge takes the shards' settings, and its
	// picture names their iterations.
	said, err := scan(1, "-merge", out)
	if err != nil || !strings.Contains(said, "wrote "+filepath.Join(out, "scan.csv")) {
		t.Fatalf("-merge alone: %v, said\n%s", err, said)
	}
	got, err := numbers(filepath.Join(out, "scan.csv"))
	if err == nil {
		err = sameNumbers(got, reference(t))
	}
	if err != nil {
		t.Error(err)
	}
}

// A merge writes where -out says, and refuses the flags it has no use for.
func TestMergeFlags(t *testing.T) {
	parts := filepath.Join(t.TempDir(), "parts")
	for i := range 2 {
		if _, err := scan(1, args(parts, "-shard", fmt.Sprintf("%d/2", i))...); err != nil {
			t.Fatal(err)
		}
	}
	elsewhere := filepath.Join(t.TempDir(), "whole")
	if _, err := scan(1, "-merge", parts, "-out", elsewhere, "-pictures=false"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "scan.csv")); err != nil {
		t.Errorf("-merge %s -out %s: %v", parts, elsewhere, err)
	}
	if _, err := os.Stat(filepath.Join(parts, "scan.csv")); err == nil {
		t.Errorf("-merge %s -out %s wrote %s/scan.csv", parts, elsewhere, parts)
	}
	for _, flags := range [][]string{{"-trace"}, {"-journal", "j"}, {"-schedule", "block"}, {"-workers", "2"}, {"-progress"}} {
		_, err := scan(1, append([]string{"-merge", parts}, flags...)...)
		wantError(t, "-merge with "+flags[0], err, flags[0]+" with -merge")
	}
	_, err := scan(1, "-merge", "")
	wantError(t, `-merge ""`, err, `-merge "": want the directory`)
	_, err = scan(1, "-merge", filepath.Join(t.TempDir(), "missing"))
	wantError(t, "-merge of a missing directory", err, "the shards' settings")
}

// The guide's example of a shard and a merge: a missing shard is named.
func TestMergeNamesTheMissingShard(t *testing.T) {
	parts := filepath.Join(t.TempDir(), "parts")
	if _, err := scan(1, args(parts, "-shard", "2/8")...); err != nil {
		t.Fatal(err)
	}
	_, err := scan(1, "-merge", parts)
	wantError(t, "-merge of one shard of 8", err, "shard 0 of 8 is missing", "-shard 0/8 -out "+parts)
}

// An empty shard (more shards than points) is a success, with a file for
// the merge and no chart; the merge of all shards is the whole scan.
func TestEmptyShard(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	for i := range 10 {
		said, err := scan(2, args(out, "-shard", fmt.Sprintf("%d/10", i), "-trace")...)
		if err != nil {
			t.Fatalf("shard %d/10 of 8 points: %v\n%s", i, err, said)
		}
		if i >= 8 && !strings.Contains(said, "holds none of the 8 points") {
			t.Errorf("shard %d/10 said:\n%s", i, said)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "trace-shard-9-of-10.png")); err == nil {
		t.Error("an empty shard drew a chart")
	}
	if _, err := scan(1, "-merge", out, "-pictures=false"); err != nil {
		t.Fatal(err)
	}
	got, err := numbers(filepath.Join(out, "scan.csv"))
	if err == nil {
		err = sameNumbers(got, reference(t))
	}
	if err != nil {
		t.Error(err)
	}
}

// Shards given one -journal keep a journal each, named after the shard,
// and resume from it.
func TestShardJournals(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "arr.journal")
	for run := range 2 {
		for i := range 2 {
			said, err := scan(2, args(filepath.Join(dir, "out"), "-shard", fmt.Sprintf("%d/2", i), "-journal", journal)...)
			if err != nil {
				t.Fatalf("run %d, shard %d: %v", run, i, err)
			}
			own := filepath.Join(dir, fmt.Sprintf("arr.shard-%d-of-2.journal", i))
			if run == 1 && !strings.Contains(said, "resuming: 4 of 4 points are in the journal "+own) {
				t.Errorf("run %d, shard %d said:\n%s", run, i, said)
			}
		}
	}
	if _, err := os.Stat(journal); err == nil {
		t.Errorf("the shards wrote the unsharded journal %s", journal)
	}
}

// The mcscan commands of docs/examples.md run as shown, one after another (on a
// smaller grid, added to each but a merge, which takes its shards').
func TestGuideCommands(t *testing.T) {
	if mpitest.RealMPI() {
		t.Skip("the guide is read by the plain test run")
	}
	readme, err := os.ReadFile("../../docs/examples.md")
	if err != nil {
		t.Fatal(err)
	}
	command := regexp.MustCompile(`(?m)^(?:mpirun\.openmpi -np (\d+) )?bin/mcscan ([^#\n]*)`)
	found := command.FindAllSubmatch(readme, -1)
	if len(found) < 3 {
		t.Fatalf("docs/examples.md shows %d mcscan commands, want at least a scan, a shard and a merge", len(found))
	}
	t.Chdir(t.TempDir())
	for _, m := range found {
		np := 1
		if len(m[1]) > 0 {
			np, _ = strconv.Atoi(string(m[1]))
		}
		cmd := strings.Fields(string(m[2]))
		if !slices.Contains(cmd, "-merge") {
			cmd = append(cmd, small...)
		}
		if said, err := scan(np, cmd...); err != nil {
			t.Errorf("%s: %v\n%s", m[0], err, said)
		}
	}
}
