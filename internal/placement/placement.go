// Package placement tells where the ranks of a job run, and warns when their
// layout wastes the allocation: the first line the examples print.
package placement

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/hpcmap/hpcmap/internal/ranks"
	"github.com/hpcmap/hpcmap/mpi"
)

// Describe describes where the ranks of c run, for a program to print before
// it starts work: the number of ranks, the hosts, and the workers per rank
// (runtime.GOMAXPROCS, which mpimap uses by default), as in
//
//	placement: 4 ranks on 2 hosts (n1, n2), 1 worker per rank
//
// followed by one line per problem found, each beginning
// "placement: warning:":
//   - the ranks on a host run more workers in all than the CPUs allocated
//     there (Slurm's SLURM_CPUS_ON_NODE, or else the union of the ranks' CPU
//     affinity masks), so goroutines of different ranks compete for CPUs;
//   - a rank may use fewer CPUs than Slurm's --cpus-per-task asked for,
//     because the launcher bound it more tightly (srun not given
//     --cpus-per-task, mpirun binding to one core).
//
// Placement is collective. Rank 0 gets the text, without a final newline;
// other ranks get "".
func Describe(c mpi.Comm) (string, error) {
	me, err := json.Marshal(thisRank(c.Host(), os.Getenv))
	if err != nil {
		return "", fmt.Errorf("placement: %w", err)
	}
	all, err := c.Gather(0, me)
	if err != nil {
		return "", fmt.Errorf("placement: %w", err)
	}
	if c.Rank() != 0 {
		return "", nil
	}
	reports := make([]rankPlace, len(all))
	for r, b := range all {
		if err := json.Unmarshal(b, &reports[r]); err != nil {
			return "", fmt.Errorf("placement: report of rank %d: %w", r, err)
		}
	}
	return describePlacement(reports), nil
}

// rankPlace is what one rank reports about where it runs.
type rankPlace struct {
	Host    string `json:"host"`
	Workers int    `json:"workers"` // runtime.GOMAXPROCS(0)
	// CPUs lists the CPUs in the affinity mask in the kernel's list format
	// ("0-3,8"); "" where the system does not say.
	CPUs string `json:"cpus,omitempty"`
	// NumCPU is the number of CPUs this rank may use.
	NumCPU int `json:"numcpu"`
	// Slurm's allocation, 0 outside Slurm: CPUs of the job on this node, and
	// CPUs asked for per task.
	NodeCPUs    int `json:"nodecpus,omitempty"`
	CPUsPerTask int `json:"cpuspertask,omitempty"`
}

// thisRank describes the calling process.
func thisRank(host string, getenv func(string) string) rankPlace {
	p := rankPlace{Host: host, Workers: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU()}
	// The mask now, not at start-up as runtime.NumCPU reports it.
	if list, ok := cpusAllowedList(); ok {
		if ids, err := parseCPUList(list); err == nil && len(ids) > 0 {
			p.CPUs, p.NumCPU = list, len(ids)
		}
	}
	p.NodeCPUs = slurmCount(getenv("SLURM_CPUS_ON_NODE"))
	p.CPUsPerTask = slurmCount(getenv("SLURM_CPUS_PER_TASK"))
	return p
}

// cpusAllowedList returns the Cpus_allowed_list line of /proc/self/status
// (Linux): the CPU affinity mask in list form. The standard library has no
// sched_getaffinity.
func cpusAllowedList() (string, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// slurmCount reads a Slurm CPU count such as SLURM_CPUS_ON_NODE; 0 when unset
// or not a positive number.
func slurmCount(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// parseCPUList parses the kernel's CPU list format: comma-separated CPU
// numbers and ranges, "0-3,8,10-11". Ranges may carry a stride, "0-8:2"
// (cpuset(7)); it returns the CPUs sorted and without repeats.
func parseCPUList(s string) ([]int, error) {
	var ids []int
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		rng, strideText, hasStride := strings.Cut(part, ":")
		loText, hiText, isRange := strings.Cut(rng, "-")
		lo, err := strconv.Atoi(loText)
		hi := lo
		if err == nil && isRange {
			hi, err = strconv.Atoi(hiText)
		}
		stride := 1
		if err == nil && hasStride {
			stride, err = strconv.Atoi(strideText)
		}
		if err != nil || lo < 0 || hi < lo || stride < 1 || (hasStride && !isRange) {
			return nil, fmt.Errorf("placement: bad CPU list %q at %q", s, part)
		}
		for id := lo; id <= hi; id += stride {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// describePlacement writes Placement's text from every rank's report, in
// rank order.
func describePlacement(reports []rankPlace) string {
	type host struct {
		name    string
		ranks   []int
		workers int          // in all
		cpus    map[int]bool // union of the affinity masks; nil once one is unknown
		maxCPU  int          // largest NumCPU of its ranks
		slurm   int          // SLURM_CPUS_ON_NODE, largest seen
	}
	var hosts []*host
	byName := map[string]*host{}
	for r, p := range reports {
		h := byName[p.Host]
		if h == nil {
			h = &host{name: p.Host, cpus: map[int]bool{}}
			byName[p.Host] = h
			hosts = append(hosts, h)
		}
		h.ranks = append(h.ranks, r)
		h.workers += p.Workers
		h.maxCPU = max(h.maxCPU, p.NumCPU)
		h.slurm = max(h.slurm, p.NodeCPUs)
		ids, err := parseCPUList(p.CPUs)
		if err != nil || len(ids) == 0 {
			h.cpus = nil
		}
		for _, id := range ids {
			if h.cpus != nil {
				h.cpus[id] = true
			}
		}
	}

	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.name
	}
	// A long host list is cut in the middle: the line stays one line.
	if len(names) > 8 {
		names = append(names[:4:4], "...", names[len(names)-1])
	}
	minW := slices.MinFunc(reports, func(a, b rankPlace) int { return cmp.Compare(a.Workers, b.Workers) }).Workers
	maxW := slices.MaxFunc(reports, func(a, b rankPlace) int { return cmp.Compare(a.Workers, b.Workers) }).Workers
	workers := plural(maxW, "worker")
	if minW != maxW {
		workers = fmt.Sprintf("%d to %d workers", minW, maxW)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "placement: %s on %s (%s), %s per rank",
		plural(len(reports), "rank"), plural(len(hosts), "host"), strings.Join(names, ", "), workers)

	for _, h := range hosts {
		alloc, source := h.slurm, "SLURM_CPUS_ON_NODE"
		switch {
		case alloc > 0:
		case h.cpus != nil:
			alloc, source = len(h.cpus), "the ranks' CPU affinity"
		default:
			alloc, source = h.maxCPU, "the CPU count"
		}
		if alloc <= 0 || h.workers <= alloc {
			continue
		}
		load := fmt.Sprintf("%s with %d workers in all", plural(len(h.ranks), "rank"), h.workers)
		if w := reports[h.ranks[0]].Workers; h.workers == w*len(h.ranks) {
			load = fmt.Sprintf("%s of %s each", plural(len(h.ranks), "rank"), plural(w, "worker"))
			if len(h.ranks) == 1 {
				load = "1 rank of " + plural(w, "worker")
			}
		}
		fmt.Fprintf(&b, "\nplacement: warning: %s runs %s on %s (%s): goroutines will compete for CPUs; "+
			"run fewer ranks per host, or fewer workers per rank (GOMAXPROCS)",
			h.name, load, plural(alloc, "CPU"), source)
	}

	// Ranks held to fewer CPUs than --cpus-per-task, grouped by the numbers.
	type squeeze struct{ have, want int }
	squeezed := map[squeeze][]int{}
	var order []squeeze
	for r, p := range reports {
		if p.CPUsPerTask > 1 && p.NumCPU > 0 && p.NumCPU < p.CPUsPerTask {
			k := squeeze{p.NumCPU, p.CPUsPerTask}
			if squeezed[k] == nil {
				order = append(order, k)
			}
			squeezed[k] = append(squeezed[k], r)
		}
	}
	for _, k := range order {
		rs := squeezed[k]
		who := ranks.Noun(rs) + " may use only " + plural(k.have, "CPU")
		if len(rs) > 1 {
			who += " each"
		}
		fmt.Fprintf(&b, "\nplacement: warning: %s though --cpus-per-task=%d: "+
			"the launcher's CPU binding is tighter; give srun --cpus-per-task=%d as well "+
			"(since Slurm 22.05 srun does not take it from sbatch; or export SRUN_CPUS_PER_TASK), "+
			"or start mpirun with --map-by slot:PE=%d",
			who, k.want, k.want, k.want)
	}
	return b.String()
}

// plural writes "1 rank", "2 ranks".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
