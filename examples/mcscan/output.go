package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/hpcmap/hpcmap/mpimap"
)

// row is one line of scan.csv: a grid point and what was measured there.
type row struct {
	mpimap.Point[float64]
	result
	Host string
}

// header names scan.csv's columns.
var header = []string{"index", "beta", "m", "h", "x2", "x2_err", "x2_exact", "acceptance", "rank", "host", "seconds"}

// deviation is how many standard errors the estimate is from the exact value.
func (r row) deviation() float64 { return (r.X2 - r.X2Exact) / r.X2Err }

// fields formats r as the columns of header. Numbers are written in the
// shortest form that reads back to the same float64, so that equal results
// give equal text.
func (r row) fields() []string {
	g := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return []string{
		strconv.Itoa(r.Index), g(r.Values[0]), g(r.Values[1]), g(r.Values[2]),
		g(r.X2), g(r.X2Err), g(r.X2Exact), g(r.Acceptance),
		strconv.Itoa(r.Rank), r.Host, g(r.Seconds),
	}
}

// parseRow reads the columns of header back into a row of grid, checking
// that the index and the parameters agree with it.
func parseRow(f []string, grid []mpimap.Point[float64]) (row, error) {
	var r row
	index, err := strconv.Atoi(f[0])
	if err != nil || index < 0 || index >= len(grid) {
		return r, fmt.Errorf("index %q is not a point of the %d-point grid", f[0], len(grid))
	}
	r.Point = grid[index]
	if want := r.fields()[:4]; !slices.Equal(f[:4], want) {
		return r, fmt.Errorf("point %v is %v in this grid: were the shards run with other -betas, -ms or -hs?", f[:4], want)
	}
	nums := []*float64{&r.X2, &r.X2Err, &r.X2Exact, &r.Acceptance}
	for i, p := range nums {
		if *p, err = strconv.ParseFloat(f[4+i], 64); err != nil {
			return r, fmt.Errorf("column %s: %w", header[4+i], err)
		}
	}
	if r.Rank, err = strconv.Atoi(f[8]); err != nil {
		return r, fmt.Errorf("column rank: %w", err)
	}
	r.Host = f[9]
	if r.Seconds, err = strconv.ParseFloat(f[10], 64); err != nil {
		return r, fmt.Errorf("column seconds: %w", err)
	}
	return r, nil
}

// writeCSV writes rows with a header to dir/name and returns the file's path
// in a list, for report.
func writeCSV(dir, name string, rows []row) ([]string, error) {
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := csv.NewWriter(f)
	w.Write(header)
	for _, r := range rows {
		w.Write(r.fields())
	}
	w.Flush()
	err = w.Error()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return []string{path}, nil
}

// readCSV reads a file written by writeCSV.
func readCSV(path string, grid []mpimap.Point[float64]) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(header)
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 || !slices.Equal(recs[0], header) {
		return nil, fmt.Errorf("%s: not an mcscan file: want the header %v", path, header)
	}
	rows := make([]row, len(recs)-1)
	for i, rec := range recs[1:] {
		if rows[i], err = parseRow(rec, grid); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+2, err)
		}
	}
	return rows, nil
}

// writePerPoint writes the classic's one file per point, b{β}_m{m}_h{h}.dat:
// the same header and the point's row.
func writePerPoint(dir string, rows []row) error {
	for _, r := range rows {
		name := fmt.Sprintf("b%v_m%v_h%v.dat", r.Values[0], r.Values[1], r.Values[2])
		if _, err := writeCSV(dir, name, []row{r}); err != nil {
			return err
		}
	}
	return nil
}

func shardName(i, k int) string { return fmt.Sprintf("shard-%d-of-%d.csv", i, k) }

// merge combines the shard files in cfg.merge, of the settings recorded
// beside them, into cfg.out's scan.csv and pictures.
func merge(stdout io.Writer, cfg config) error {
	s, err := shardSettings(cfg)
	if err != nil {
		return err
	}
	cfg.settings = s
	grid := mpimap.Grid(s.betas, s.ms, s.hs)
	rows, err := mergeShards(cfg.merge, grid)
	if err != nil {
		return err
	}
	if filepath.Clean(cfg.out) != filepath.Clean(cfg.merge) {
		if err := prepareOut(cfg.out, s, cfg.force); err != nil {
			return err
		}
	}
	return report(stdout, cfg.out, "scan.csv", rows, grid, cfg)
}

// shardSettings are the settings that the shards in cfg.merge ran with. A
// setting given on the command line must agree with them.
func shardSettings(cfg config) (settings, error) {
	dir := cfg.merge
	file, err := readSettings(filepath.Join(dir, settingsFile))
	if err != nil {
		return settings{}, fmt.Errorf("-merge %s: the shards' settings: %w (mcscan writes %s beside its output)", dir, err, settingsFile)
	}
	if file["version"] != strconv.Itoa(version) {
		return settings{}, fmt.Errorf("-merge %s: the shards were computed by mcscan version %s, this is version %d", dir, orNone(file["version"]), version)
	}
	s := settings{}
	parse := map[string]func(string) error{
		"betas": floats(&s.betas), "ms": floats(&s.ms), "hs": floats(&s.hs),
		"iterations": count(&s.iterations, batches, maxIterations), "target-err": fraction(&s.targetErr),
		"seed": func(v string) (err error) { s.seed, err = strconv.ParseUint(v, 10, 64); return err },
	}
	for name, set := range parse {
		if err := set(file[name]); err != nil {
			return settings{}, fmt.Errorf("-merge %s: %s: %s %q: %w", dir, settingsFile, name, file[name], err)
		}
	}
	if err := s.check(); err != nil {
		return settings{}, fmt.Errorf("-merge %s: %s: %w", dir, settingsFile, err)
	}
	given, ran := cfg.settings.fields(), s.fields()
	for i, f := range given {
		if cfg.set[f[0]] && f[1] != ran[i][1] {
			return settings{}, fmt.Errorf("-%s %s: the shards in %s ran with -%s %s", f[0], f[1], dir, f[0], ran[i][1])
		}
	}
	return s, nil
}

// mergeShards reads the shard files in dir, which must hold every shard of
// one split of grid and together every point exactly once, and returns the
// rows in grid order.
func mergeShards(dir string, grid []mpimap.Point[float64]) ([]row, error) {
	files, err := filepath.Glob(filepath.Join(dir, "shard-*-of-*.csv"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("-merge %s: no shard-*-of-*.csv files there", dir)
	}
	var k int
	if _, err := fmt.Sscanf(filepath.Base(files[0]), "shard-%d-of-%d.csv", new(int), &k); err != nil || k < 1 {
		return nil, fmt.Errorf("-merge %s: cannot read the shard count from %s", dir, files[0])
	}
	rows := make([]row, len(grid))
	seen := make([]bool, len(grid))
	for i := range k {
		path := filepath.Join(dir, shardName(i, k))
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("-merge %s: shard %d of %d is missing (%s): run mcscan -shard %d/%d -out %s first",
				dir, i, k, filepath.Base(path), i, k, dir)
		}
		shard, err := readCSV(path, grid)
		if err != nil {
			return nil, fmt.Errorf("-merge %s: %w", dir, err)
		}
		for _, r := range shard {
			if r.Index%k != i || seen[r.Index] {
				return nil, fmt.Errorf("-merge %s: point %d in %s belongs elsewhere or appears twice", dir, r.Index, path)
			}
			rows[r.Index], seen[r.Index] = r, true
		}
	}
	if len(files) != k {
		return nil, fmt.Errorf("-merge %s: %d shard files, but they say the grid was split in %d", dir, len(files), k)
	}
	if missing := slices.Index(seen, false); missing >= 0 {
		return nil, fmt.Errorf("-merge %s: no shard has point %d %v", dir, missing, grid[missing].Values)
	}
	return rows, nil
}
