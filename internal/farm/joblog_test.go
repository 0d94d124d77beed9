package farm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJoblogLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	j, err := openJoblog(path, false)
	if err != nil {
		t.Fatal(err)
	}
	j.add(2, &Outcome{Host: "n1", Start: 1700000000.1234, Runtime: 1.5, Received: 12, Exitval: -1, Signal: 15}, "echo 'a\nb'")
	j.add(1, &Outcome{Host: "n2", Start: 1700000001, Received: 0}, "true")
	j.close()
	data, _ := os.ReadFile(path)
	want := joblogHeader + "2\tn1\t1700000000.123\t     1.500\t0\t12\t-1\t15\techo 'a\x00b'\n" +
		"1\tn2\t1700000001.000\t     0.000\t0\t0\t0\t0\ttrue\n"
	if string(data) != want {
		t.Errorf("joblog\n%q\nwant\n%q", data, want)
	}
	lines, cut, err := readJoblog(path)
	if err != nil || cut != -1 || len(lines) != 2 || lines[0].seq != 2 || lines[0].signal != 15 || lines[0].command != "echo 'a\x00b'" {
		t.Errorf("read back: %+v, cut %d, %v", lines, cut, err)
	}
	// A last line cut short by a kill is left out.
	os.WriteFile(path, append(data, "3\tn1\t17"...), 0o666)
	lines, cut, err = readJoblog(path)
	if err != nil || len(lines) != 2 || cut != int64(len(data)) {
		t.Errorf("torn last line: %d lines, cut %d, %v; want 2 lines, cut at %d", len(lines), cut, err, len(data))
	}
}

func TestResumable(t *testing.T) {
	tm := parseTemplate([]string{"echo", "{}", "{%}"}, nil)
	args := []string{"a", "b c", "d"}
	parts := func(i int) []string { return tm.renderAround([]string{args[i]}, i+1) }
	lines := []logged{
		{line: 2, seq: 1, command: "echo a 3"},
		{line: 3, seq: 2, exitval: 1, command: "echo 'b c' 12"},
	}
	skip, err := resumable(lines, "log", 3, false, parts)
	if err != nil || !skip[0] || !skip[1] || skip[2] {
		t.Errorf("--resume: %v, %v; want tasks 1 and 2 skipped", skip, err)
	}
	skip, err = resumable(lines, "log", 3, true, parts)
	if err != nil || !skip[0] || skip[1] || skip[2] {
		t.Errorf("--resume-failed: %v, %v; want task 1 skipped", skip, err)
	}
	lines[1].command = "echo 'b d' 2"
	if _, err := resumable(lines, "log", 3, false, parts); err == nil || !strings.Contains(err.Error(), "line 3 ran task 2") {
		t.Errorf("another input: %v, want a refusal naming line 3", err)
	}
	if _, err := resumable([]logged{{line: 2, seq: 4, command: "x"}}, "log", 3, false, parts); err == nil || !strings.Contains(err.Error(), "make 3 tasks") {
		t.Errorf("a task beyond the inputs: %v", err)
	}
}

func TestReadJoblogRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"no header": "1\tn1\t0\t0\t0\t0\t0\t0\techo\n",
		"bad line":  joblogHeader + "1\tn1\t0\n",
		"bad seq":   joblogHeader + "x\tn1\t0\t0\t0\t0\t0\t0\techo\n",
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o666)
		if _, _, err := readJoblog(path); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestTally(t *testing.T) {
	for _, c := range []struct {
		halt  string
		runs  [][2]int // exitval, signal
		stops int      // the run after which it halts, from 1; 0 for never
		exit  int
	}{
		{"", [][2]int{{0, 0}, {1, 0}, {0, 9}}, 0, 2},
		{"now,fail=1", [][2]int{{0, 0}, {3, 0}, {4, 0}}, 2, 3},
		{"soon,fail=1", [][2]int{{0, 9}}, 1, 137},
		{"soon,fail=2", [][2]int{{0, 0}, {3, 0}, {4, 0}}, 3, 2},
		{"now,success=1", [][2]int{{3, 0}, {0, 0}}, 2, 0},
		{"now,fail=50%", [][2]int{{0, 0}, {3, 0}, {4, 0}, {0, 0}}, 3, 50},
		{"now,done=2", [][2]int{{0, 0}, {3, 0}}, 2, 1},
	} {
		h, _ := parseHalt(c.halt)
		if c.halt == "" {
			h = haltPolicy{}
		}
		tl := tally{policy: h, total: 4}
		stopped := 0
		for k, r := range c.runs {
			if tl.add(r[0], r[1]) && stopped == 0 {
				stopped = k + 1
			}
		}
		if stopped != c.stops || tl.exitStatus() != c.exit {
			t.Errorf("--halt %q: halted after %d, exit %d; want %d, %d", c.halt, stopped, tl.exitStatus(), c.stops, c.exit)
		}
	}
}

func TestJoblogOfAnotherRunRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	first, err := openJoblog(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer first.close()
	first.add(1, &Outcome{Host: "n1"}, "true")
	if _, err := openJoblog(path, false); err == nil || !strings.Contains(err.Error(), "another farm") {
		t.Errorf("a second farm on the same joblog: %v, want a refusal", err)
	}
	if data, _ := os.ReadFile(path); !strings.HasSuffix(string(data), "\ttrue\n") {
		t.Errorf("the refused farm changed the joblog: %q", data)
	}
}
