package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// version is the sampler's: raise it when a change to the program alters
// any point's numbers, so that journals and output directories of the old
// numbers are refused rather than mixed with the new.
const version = 1

// settings are what shape the scan's numbers besides each point itself.
// Runs whose files meet, in one output directory or in one journal, must
// share them.
type settings struct {
	betas, ms, hs []float64
	iterations    int
	targetErr     float64 // relative error that points sample until they reach; 0 for none
	seed          uint64
}

// check refuses settings whose grid has a value twice, or where the exact
// ⟨x²⟩ cannot be computed.
func (s settings) check() error {
	for _, l := range []struct {
		name string
		vals []float64
	}{{"betas", s.betas}, {"ms", s.ms}, {"hs", s.hs}} {
		if v, twice := duplicate(l.vals); twice {
			return fmt.Errorf("-%s %s: %v is there twice, which would make two points of one", l.name, formatFloats(l.vals), v)
		}
	}
	for _, b := range s.betas {
		if !(b > 0) || math.IsInf(b, 1) {
			return fmt.Errorf("-betas: β = %v is not a positive number", b)
		}
	}
	for _, h := range s.hs {
		if !(h > 0) || math.IsInf(h, 1) {
			return fmt.Errorf("-hs: h = %v is not a positive number", h)
		}
	}
	for _, m := range s.ms {
		if math.IsInf(m, 0) || math.IsNaN(m) {
			return fmt.Errorf("-ms: m = %v is not a number", m)
		}
	}
	for _, b := range s.betas {
		for _, m := range s.ms {
			if err := checkX2(b, m); err != nil {
				return fmt.Errorf("-betas and -ms: %w", err)
			}
		}
	}
	return nil
}

// fields are the settings as name and value, as the flags take them.
func (s settings) fields() [][2]string {
	return [][2]string{
		{"version", strconv.Itoa(version)},
		{"betas", formatFloats(s.betas)},
		{"ms", formatFloats(s.ms)},
		{"hs", formatFloats(s.hs)},
		{"iterations", strconv.Itoa(s.iterations)},
		{"seed", strconv.FormatUint(s.seed, 10)},
		{"target-err", strconv.FormatFloat(s.targetErr, 'g', -1, 64)},
	}
}

// journalKey is the key of the scan's journal: the settings, and the shard
// if the run is one (its points are the map's arguments, which the journal
// checks itself; the key says them in words).
func (cfg config) journalKey() []string {
	var key []string
	for _, f := range cfg.settings.fields() {
		key = append(key, "-"+f[0]+" "+f[1])
	}
	if cfg.shards > 0 {
		key = append(key, fmt.Sprintf("-shard %d/%d", cfg.shard, cfg.shards))
	}
	return key
}

// settingsFile, in an output directory, holds the settings of the scan
// there.
const settingsFile = "mcscan.settings"

const settingsHead = "# mcscan writes into this directory with these settings, and refuses others (see -force)\n"

// encode is the settings file's text.
func (s settings) encode() []byte {
	b := []byte(settingsHead)
	for _, f := range s.fields() {
		b = fmt.Appendf(b, "%s %s\n", f[0], f[1])
	}
	return b
}

// readSettings reads a settings file into the flags it names.
func readSettings(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	vals := map[string]string{}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("%s: %q is no setting: not a file of mcscan's", path, line)
		}
		vals[name] = val
	}
	return vals, nil
}

// differences lists how the settings in a file differ from s.
func (s settings) differences(file map[string]string) []string {
	var diffs []string
	for _, f := range s.fields() {
		if there, ok := file[f[0]]; !ok || there != f[1] {
			diffs = append(diffs, fmt.Sprintf("-%s %s there, %s here", f[0], orNone(there), f[1]))
		}
	}
	return diffs
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// prepareOut makes the output directory ready before any point runs: it
// exists, is writable, and holds no scan of other settings, unless force
// says to replace that scan's files. A mistake in -out costs no work.
func prepareOut(dir string, s settings, force bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-out %s: %w", dir, err)
	}
	path := filepath.Join(dir, settingsFile)
	file, err := readSettings(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if old := scanFiles(dir); len(old) > 0 && !force {
			return fmt.Errorf("-out %s holds the files of a scan (%s) but not its settings (%s): "+
				"use another -out, or -force to replace them", dir, filepath.Base(old[0]), settingsFile)
		}
	case err != nil:
		return fmt.Errorf("-out %s: %w", dir, err)
	default:
		diffs := s.differences(file)
		if len(diffs) == 0 {
			return probe(dir) // the same scan, resumed or run again
		}
		if !force {
			return fmt.Errorf("-out %s holds a scan of other settings (%s): use another -out, or -force to replace its files",
				dir, strings.Join(diffs, "; "))
		}
	}
	if force {
		for _, f := range scanFiles(dir) {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("-force: %w", err)
			}
		}
	}
	return writeSettings(path, s)
}

// writeSettings creates the settings file at path, whole or not at all: the
// shards of a job array may start together, and each must find either no
// file or one to compare with.
func writeSettings(path string, s settings) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mcscan-*")
	if err != nil {
		return fmt.Errorf("-out %s: %w", filepath.Dir(path), err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(s.encode())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path) // fails if another run was first
	}
	if errors.Is(err, fs.ErrExist) {
		file, rerr := readSettings(path)
		if rerr != nil {
			return fmt.Errorf("-out %s: %w", filepath.Dir(path), rerr)
		}
		if diffs := s.differences(file); len(diffs) > 0 {
			return fmt.Errorf("-out %s: a run of other settings (%s) started there at the same time", filepath.Dir(path), strings.Join(diffs, "; "))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("-out %s: %w", filepath.Dir(path), err)
	}
	return nil
}

// probe checks that dir is writable.
func probe(dir string) error {
	f, err := os.CreateTemp(dir, ".mcscan-*")
	if err != nil {
		return fmt.Errorf("-out %s: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// scanFiles lists the files in dir that mcscan writes, and the journals
// that the sbatch scripts keep there.
func scanFiles(dir string) []string {
	var files []string
	for _, pattern := range []string{"scan.csv", "shard-*-of-*.csv", "acceptance.png", "deviation.png",
		"trace.csv", "trace.png", "trace-shard-*-of-*.csv", "trace-shard-*-of-*.png", "b*_m*_h*.dat",
		"scan.journal", "scan.shard-*-of-*.journal", settingsFile} {
		m, _ := filepath.Glob(filepath.Join(dir, pattern)) // the patterns are well formed
		files = append(files, m...)
	}
	slices.Sort(files)
	return files
}
