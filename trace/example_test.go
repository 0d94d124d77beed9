package trace_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/hpcmap/hpcmap/trace"
)

// A trace of four tasks under the Block schedule on two ranks of one worker
// each: rank 1 got the two costly tasks, so rank 0 waited for it half the
// time.
const blockTrace = `index,rank,host,worker,start,end,attempt,status
0,0,node1,0,0.000012,0.500012,1,ok
2,1,node2,0,0.000020,1.500020,1,ok
1,0,node1,0,0.500015,1.000015,1,ok
3,1,node2,0,1.500023,3.000023,1,ok
`

func ExampleReadCSV() {
	tasks, err := trace.ReadCSV(strings.NewReader(blockTrace))
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range tasks[:2] {
		fmt.Printf("task %d ran on rank %d (%s) for %.1f s\n", t.Index, t.Rank, t.Host, t.End-t.Start)
	}
	fmt.Println(trace.Summarize(tasks))
	// Output:
	// task 0 ran on rank 0 (node1) for 0.5 s
	// task 2 ran on rank 1 (node2) for 1.5 s
	// 4 tasks on 2 ranks, 2 hosts · makespan 3.00 s · idle 33% of worker time
}

func ExampleWritePNG() {
	tasks, err := trace.ReadCSV(strings.NewReader(blockTrace))
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "trace")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A zero size is 10 inches wide and as tall as the lanes need.
	path := filepath.Join(dir, "block.png")
	if err := trace.WritePNG(path, tasks, "Block schedule", 0, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote", filepath.Base(path))
	// Output:
	// wrote block.png
}
