package farm

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// haltPolicy is --halt: when to stop early, and how.
type haltPolicy struct {
	when    string  // "" (never), "soon" (start no more tasks) or "now" (also stop running ones)
	why     string  // "fail", "success" or "done"
	count   int     // after this many tasks ...
	percent float64 // ... or this share of all tasks (0 < percent <= 1), when count is 0
}

// parseHalt reads --halt: now|soon,fail|success|done=N|P%, GNU Parallel's
// shorthands 0, 1, 2, -1, -2, and P% for soon,fail=P%.
func parseHalt(v string) (haltPolicy, error) {
	long := map[string]string{"0": "never", "1": "soon,fail=1", "2": "now,fail=1", "-1": "soon,success=1", "-2": "now,success=1"}
	spec := v
	if l, ok := long[v]; ok {
		spec = l
	} else if strings.HasSuffix(v, "%") && !strings.Contains(v, ",") {
		spec = "soon,fail=" + v
	}
	bad := fmt.Errorf("--halt %s: want never, or now or soon followed by ,fail=N ,success=N or ,done=N (N a count or a percentage such as 10%%)", v)
	if spec == "never" {
		return haltPolicy{}, nil
	}
	when, rest, ok := strings.Cut(spec, ",")
	why, amount, ok2 := strings.Cut(rest, "=")
	if !ok || !ok2 || (when != "now" && when != "soon") || (why != "fail" && why != "success" && why != "done") {
		return haltPolicy{}, bad
	}
	h := haltPolicy{when: when, why: why}
	if p, isPct := strings.CutSuffix(amount, "%"); isPct {
		x, err := strconv.ParseFloat(p, 64)
		if err != nil || x <= 0 || x > 100 {
			return haltPolicy{}, bad
		}
		h.percent = x / 100
		return h, nil
	}
	n, err := strconv.Atoi(amount)
	if err != nil || n < 1 {
		return haltPolicy{}, bad
	}
	h.count = n
	return h, nil
}

// tally counts what became of the tasks, on rank 0, to decide the exit
// status and --halt.
type tally struct {
	policy   haltPolicy
	total    int // tasks of the run (not those a --resume skipped)
	done     int
	failed   int
	halted   bool
	haltExit int // the exit status a halt decided
}

// add counts a finished task with its exit value and signal, and reports
// whether the run must now halt.
func (t *tally) add(exitval, signal int) (halt bool) {
	t.done++
	failed := exitval != 0 || signal != 0
	if failed {
		t.failed++
	}
	p := t.policy
	if t.halted || p.when == "" {
		return false
	}
	var reached int
	switch {
	case p.why == "fail" && failed:
		reached = t.failed
	case p.why == "success" && !failed:
		reached = t.done - t.failed
	case p.why == "done":
		reached = t.done
	default:
		return false
	}
	limit := float64(p.count)
	if p.count == 0 {
		limit = float64(t.total) * p.percent
	}
	if float64(reached) < limit {
		return false
	}
	t.halted = true
	// GNU Parallel's exit status for a halt: for success, 0; for fail and
	// done, the failures as a count (or percentage), except that after a
	// single one, the failing task's own status (a signal as 128+N).
	switch {
	case p.why == "success":
		t.haltExit = 0
	case p.count == 1:
		t.haltExit = exitval
		if exitval == 0 && signal != 0 {
			t.haltExit = 128 + signal
		}
	case p.count == 0:
		t.haltExit = int(math.Ceil(float64(t.failed) / float64(max(1, t.total)) * 100))
	default:
		t.haltExit = min(t.failed, 101)
	}
	return true
}

// forget uncounts a finished task that turned out to have been interrupted.
func (t *tally) forget(exitval, signal int) {
	t.done--
	if exitval != 0 || signal != 0 {
		t.failed--
	}
}

// exitStatus is GNU Parallel's exit status: what a halt decided, or the
// number of failed tasks, 101 for more than 100.
func (t *tally) exitStatus() int {
	if t.halted {
		return t.haltExit
	}
	return min(t.failed, 101)
}
