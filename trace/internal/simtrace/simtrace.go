// Package simtrace makes up traces for the tests and benchmarks of trace and
// trace/gantt.
package simtrace

import (
	"container/heap"
	"math/rand/v2"

	"github.com/hpcmap/hpcmap/trace"
)

// Simulate is a trace of n tasks of uneven cost run on ranks × workers
// lanes, either in contiguous blocks per rank (as mpimap.Block) or dealt to
// whichever lane is free first (as mpimap.Dynamic).
func Simulate(n, ranks, workers int, block bool, seed uint64) []trace.Task {
	rng := rand.New(rand.NewPCG(seed, 0))
	cost := make([]float64, n)
	for i := range cost {
		// Costs grow along the arguments, as in a scan over a growing
		// parameter, with noise.
		cost[i] = 0.001 * (1 + 4*float64(i)/float64(n)) * (0.5 + rng.Float64())
	}
	var tasks []trace.Task
	run := func(free *laneHeap, idx []int) {
		for _, i := range idx {
			l := heap.Pop(free).(freeLane)
			t := trace.Task{Index: i, Rank: l.rank, Host: "node", Worker: l.worker,
				Start: l.at, End: l.at + cost[i], Attempt: 1, Status: trace.StatusOK}
			if i%997 == 5 {
				t.Status = trace.StatusFailed
			}
			tasks = append(tasks, t)
			l.at = t.End
			heap.Push(free, l)
		}
	}
	if block {
		for r := range ranks {
			lo, hi := r*n/ranks, (r+1)*n/ranks
			free := &laneHeap{}
			for w := range workers {
				heap.Push(free, freeLane{rank: r, worker: w})
			}
			idx := make([]int, 0, hi-lo)
			for i := lo; i < hi; i++ {
				idx = append(idx, i)
			}
			run(free, idx)
		}
		return tasks
	}
	free := &laneHeap{}
	for r := range ranks {
		for w := range workers {
			heap.Push(free, freeLane{rank: r, worker: w})
		}
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	run(free, idx)
	return tasks
}

type freeLane struct {
	rank, worker int
	at           float64
}

type laneHeap []freeLane

func (h laneHeap) Len() int { return len(h) }
func (h laneHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].worker < h[j].worker
}
func (h laneHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *laneHeap) Push(x any)   { *h = append(*h, x.(freeLane)) }
func (h *laneHeap) Pop() any     { x := (*h)[len(*h)-1]; *h = (*h)[:len(*h)-1]; return x }
