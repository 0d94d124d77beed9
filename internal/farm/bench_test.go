package farm

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/mpi"
)

// BenchmarkTasks runs b.N tasks on one in-process rank of two slots: the
// farm's cost per task, fork and exec of /bin/sh included. Compare with
// bench/farm/run.sh's xargs figure for what fork and exec alone cost.
func BenchmarkTasks(b *testing.B) {
	for _, command := range []string{"true", "sleep 0.01 #"} {
		b.Run(command, func(b *testing.B) {
			args := []string{"-j2", "--range", "1-" + strconv.Itoa(b.N), command}
			err := mpi.Local(1, func(ctx context.Context, c mpi.Comm) error {
				status, err := Run(ctx, c, args, Stdio{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard})
				if err == nil && status != 0 {
					b.Errorf("exit status %d", status)
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
