package trace_test

import (
	"fmt"
	"log"
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
	fmt.Println(trace.Summarize(tasks, 0))
	// Output:
	// task 0 ran on rank 0 (node1) for 0.5 s
	// task 2 ran on rank 1 (node2) for 1.5 s
	// 4 tasks on 2 ranks, 2 hosts · makespan 3.00 s · idle 33% of worker time
}

// A trace read while its map runs, or after a kill, may end in a line cut
// short: the Reader skips it and says so.
func ExampleReader() {
	r := trace.NewReader(strings.NewReader(blockTrace + "1,0,node1,0,0.5000"))
	tasks, err := r.ReadAll()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d tasks; torn last line skipped: %v\n", len(tasks), r.Torn())
	// Output:
	// 4 tasks; torn last line skipped: true
}
