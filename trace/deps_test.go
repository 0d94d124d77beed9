package trace_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoPlotting: the trace format, and the map engine that writes it, link
// no plotting library; only trace/gantt does.
func TestNoPlotting(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	for _, pkg := range []string{"github.com/hpcmap/hpcmap/trace", "github.com/hpcmap/hpcmap/mpimap"} {
		out, err := exec.Command(gotool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		if strings.Contains(string(out), "gonum.org/v1/plot") {
			t.Errorf("%s links gonum.org/v1/plot", pkg)
		}
	}
}
