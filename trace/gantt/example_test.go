package gantt_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/hpcmap/hpcmap/trace"
	"github.com/hpcmap/hpcmap/trace/gantt"
)

func ExampleWritePNG() {
	// Four tasks under the Block schedule on two ranks of one worker each:
	// rank 1 got the two costly tasks, so rank 0 waited for it half the time.
	tasks, err := trace.ReadCSV(strings.NewReader(`index,rank,host,worker,start,end,attempt,status
0,0,node1,0,0.000012,0.500012,1,ok
2,1,node2,0,0.000020,1.500020,1,ok
1,0,node1,0,0.500015,1.000015,1,ok
3,1,node2,0,1.500023,3.000023,1,ok
`))
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "gantt")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A zero size is 10 inches wide and as tall as the lanes need.
	path := filepath.Join(dir, "block.png")
	if err := gantt.WritePNG(path, tasks, gantt.Options{Title: "Block schedule"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote", filepath.Base(path))
	// Output:
	// wrote block.png
}
