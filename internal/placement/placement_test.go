package placement

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/mpi"
)

func TestParseCPUList(t *testing.T) {
	cases := []struct {
		in   string
		want []int
		bad  bool
	}{
		{in: "", want: nil},
		{in: "0", want: []int{0}},
		{in: "0-3,8,10-11", want: []int{0, 1, 2, 3, 8, 10, 11}},
		{in: " 2-3\n", want: []int{2, 3}},
		{in: "3,1,1-2", want: []int{1, 2, 3}}, // sorted, no repeats
		{in: "0-8:4", want: []int{0, 4, 8}},   // stride, as in cpuset(7)
		{in: "a", bad: true},
		{in: "3-1", bad: true},
		{in: "1-", bad: true},
		{in: "-1", bad: true},
		{in: "0:2", bad: true},
		{in: "0-4:0", bad: true},
		{in: "0,,1", bad: true},
	}
	for _, c := range cases {
		got, err := parseCPUList(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("parseCPUList(%q) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestDescribePlacement(t *testing.T) {
	// place is a rank on host with w workers and the CPUs in list.
	place := func(host string, w int, list string, nodeCPUs, perTask int) rankPlace {
		ids, err := parseCPUList(list)
		if err != nil {
			t.Fatal(err)
		}
		n := len(ids)
		if n == 0 {
			n = 4 // a system that does not say which CPUs: count only
		}
		return rankPlace{Host: host, Workers: w, CPUs: list, NumCPU: n, NodeCPUs: nodeCPUs, CPUsPerTask: perTask}
	}
	cases := []struct {
		name  string
		ranks []rankPlace
		first string   // the summary line
		warn  []string // one fragment per expected warning line, in order
	}{
		{
			name:  "one rank",
			ranks: []rankPlace{place("vm", 2, "0-1", 0, 0)},
			first: "placement: 1 rank on 1 host (vm), 2 workers per rank",
		},
		{
			name:  "hybrid: one rank per node, workers fill the allocation",
			ranks: []rankPlace{place("n1", 2, "0-1", 2, 2), place("n2", 2, "0-1", 2, 2)},
			first: "placement: 2 ranks on 2 hosts (n1, n2), 2 workers per rank",
		},
		{
			name: "bound ranks, one worker each",
			ranks: []rankPlace{place("n1", 1, "0", 2, 0), place("n1", 1, "1", 2, 0),
				place("n2", 1, "0", 2, 0), place("n2", 1, "1", 2, 0)},
			first: "placement: 4 ranks on 2 hosts (n1, n2), 1 worker per rank",
		},
		{
			name: "unbound ranks oversubscribe Slurm's allocation",
			ranks: []rankPlace{place("n1", 2, "0-1", 2, 0), place("n1", 2, "0-1", 2, 0),
				place("n2", 2, "0-1", 2, 0), place("n2", 2, "0-1", 2, 0)},
			first: "placement: 4 ranks on 2 hosts (n1, n2), 2 workers per rank",
			warn: []string{
				"placement: warning: n1 runs 2 ranks of 2 workers each on 2 CPUs (SLURM_CPUS_ON_NODE)",
				"placement: warning: n2 runs 2 ranks of 2 workers each on 2 CPUs (SLURM_CPUS_ON_NODE)",
			},
		},
		{
			name:  "Slurm's count wins over a wider mask",
			ranks: []rankPlace{place("n1", 8, "0-7", 4, 0)},
			first: "placement: 1 rank on 1 host (n1), 8 workers per rank",
			warn:  []string{"n1 runs 1 rank of 8 workers on 4 CPUs (SLURM_CPUS_ON_NODE)"},
		},
		{
			name:  "outside Slurm the union of the masks counts",
			ranks: []rankPlace{place("pc", 1, "0", 0, 0), place("pc", 1, "1", 0, 0)},
			first: "placement: 2 ranks on 1 host (pc), 1 worker per rank",
		},
		{
			name:  "outside Slurm, two unbound ranks with all CPUs each",
			ranks: []rankPlace{place("pc", 2, "0-1", 0, 0), place("pc", 2, "0-1", 0, 0)},
			first: "placement: 2 ranks on 1 host (pc), 2 workers per rank",
			warn:  []string{"pc runs 2 ranks of 2 workers each on 2 CPUs (the ranks' CPU affinity)"},
		},
		{
			name:  "no mask known: the CPU count",
			ranks: []rankPlace{place("pc", 4, "", 0, 0), place("pc", 4, "", 0, 0)},
			first: "placement: 2 ranks on 1 host (pc), 4 workers per rank",
			warn:  []string{"pc runs 2 ranks of 4 workers each on 4 CPUs (the CPU count)"},
		},
		{
			name:  "different workers per rank",
			ranks: []rankPlace{place("pc", 1, "0", 0, 0), place("pc", 4, "0-3", 0, 0)},
			first: "placement: 2 ranks on 1 host (pc), 1 to 4 workers per rank",
			warn:  []string{"pc runs 2 ranks with 5 workers in all on 4 CPUs"},
		},
		{
			name: "srun without --cpus-per-task binds each rank to one CPU",
			ranks: []rankPlace{place("n1", 1, "0", 4, 4), place("n2", 1, "0", 4, 4),
				place("n3", 4, "0-3", 4, 4)},
			first: "placement: 3 ranks on 3 hosts (n1, n2, n3), 1 to 4 workers per rank",
			warn:  []string{"placement: warning: ranks 0-1 may use only 1 CPU each though --cpus-per-task=4"},
		},
		{
			name:  "one squeezed rank",
			ranks: []rankPlace{place("n1", 2, "0-1", 8, 4), place("n1", 4, "0-3", 8, 4)},
			first: "placement: 2 ranks on 1 host (n1), 2 to 4 workers per rank",
			warn:  []string{"placement: warning: rank 0 may use only 2 CPUs though --cpus-per-task=4"},
		},
		{
			name:  "--cpus-per-task=1 is never squeezed",
			ranks: []rankPlace{place("n1", 1, "0", 2, 1), place("n1", 1, "1", 2, 1)},
			first: "placement: 2 ranks on 1 host (n1), 1 worker per rank",
		},
		{
			name:  "hosts in order of their first rank",
			ranks: []rankPlace{place("b", 1, "0", 2, 0), place("a", 1, "0", 2, 0), place("b", 1, "1", 2, 0)},
			first: "placement: 3 ranks on 2 hosts (b, a), 1 worker per rank",
		},
	}
	for _, c := range cases {
		lines := strings.Split(describePlacement(c.ranks), "\n")
		if lines[0] != c.first {
			t.Errorf("%s: first line\n%q\nwant\n%q", c.name, lines[0], c.first)
		}
		warns := lines[1:]
		if len(warns) != len(c.warn) {
			t.Errorf("%s: %d warnings, want %d:\n%s", c.name, len(warns), len(c.warn), strings.Join(warns, "\n"))
			continue
		}
		for i, w := range warns {
			if !strings.HasPrefix(w, "placement: warning: ") || !strings.Contains(w, c.warn[i]) {
				t.Errorf("%s: warning %d\n%q\ndoes not contain\n%q", c.name, i, w, c.warn[i])
			}
		}
	}
}

func TestDescribePlacementManyHosts(t *testing.T) {
	var ranks []rankPlace
	for i := range 10 {
		ranks = append(ranks, rankPlace{Host: fmt.Sprintf("n%02d", i), Workers: 1, CPUs: "0", NumCPU: 1})
	}
	want := "placement: 10 ranks on 10 hosts (n00, n01, n02, n03, ..., n09), 1 worker per rank"
	if got := describePlacement(ranks); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestThisRank(t *testing.T) {
	env := map[string]string{"SLURM_CPUS_ON_NODE": "6", "SLURM_CPUS_PER_TASK": "3"}
	p := thisRank("h", func(k string) string { return env[k] })
	if p.Host != "h" || p.Workers != runtime.GOMAXPROCS(0) || p.NodeCPUs != 6 || p.CPUsPerTask != 3 {
		t.Errorf("thisRank = %+v", p)
	}
	if p.NumCPU < 1 {
		t.Errorf("NumCPU = %d", p.NumCPU)
	}
	if _, err := os.Stat("/proc/self/status"); err == nil {
		ids, err := parseCPUList(p.CPUs)
		if err != nil || len(ids) != p.NumCPU {
			t.Errorf("CPUs %q (%v) does not hold NumCPU = %d CPUs", p.CPUs, err, p.NumCPU)
		}
	}
	p = thisRank("h", func(string) string { return "" })
	if p.NodeCPUs != 0 || p.CPUsPerTask != 0 {
		t.Errorf("outside Slurm: %+v", p)
	}
}

func TestPlacementLocal(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	t.Setenv("SLURM_CPUS_PER_TASK", "")
	for _, c := range []struct {
		nodeCPUs string
		warn     bool
	}{
		{nodeCPUs: "100000", warn: false},
		{nodeCPUs: "1", warn: true},
	} {
		t.Setenv("SLURM_CPUS_ON_NODE", c.nodeCPUs)
		const n = 3
		texts := make([]string, n)
		err := mpi.Local(n, func(ctx context.Context, w mpi.Comm) error {
			s, err := Describe(w)
			texts[w.Rank()] = s
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(texts[0], "\n")
		want := fmt.Sprintf("placement: 3 ranks on 1 host (%s), %s per rank", host, plural(runtime.GOMAXPROCS(0), "worker"))
		if lines[0] != want {
			t.Errorf("SLURM_CPUS_ON_NODE=%s: rank 0 got\n%q\nwant\n%q", c.nodeCPUs, lines[0], want)
		}
		wantWarn := fmt.Sprintf("placement: warning: %s runs 3 ranks of %s each on 1 CPU (SLURM_CPUS_ON_NODE)",
			host, plural(runtime.GOMAXPROCS(0), "worker"))
		if c.warn && (len(lines) != 2 || !strings.HasPrefix(lines[1], wantWarn)) {
			t.Errorf("SLURM_CPUS_ON_NODE=%s: got %q, want a warning beginning %q", c.nodeCPUs, texts[0], wantWarn)
		}
		if !c.warn && len(lines) != 1 {
			t.Errorf("SLURM_CPUS_ON_NODE=%s: unexpected warnings in %q", c.nodeCPUs, texts[0])
		}
		for r := 1; r < n; r++ {
			if texts[r] != "" {
				t.Errorf("rank %d got %q, want \"\"", r, texts[r])
			}
		}
	}
}
