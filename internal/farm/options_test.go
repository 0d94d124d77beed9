package farm

import (
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"-kj4", "--joblog=+log", "--timeout", "1h30m", "-0", "--halt", "now,fail=10%",
		"echo", "-k", "{}", ":::", "a", "-j", ":::+", "b", "::::", "f1", "f2", "::::+", "g"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.keepOrder || o.jobs != "4" || o.joblog != "log" || !o.joblogAppend || o.timeout != 90*time.Minute ||
		o.delim != "\x00" || o.halt != (haltPolicy{when: "now", why: "fail", percent: 0.1}) {
		t.Errorf("options %+v", o)
	}
	if strings.Join(o.command, " ") != "echo -k {}" {
		t.Errorf("command %q", o.command)
	}
	want := []sourceSpec{{values: []string{"a", "-j"}}, {values: []string{"b"}, linked: true}, {path: "f1"}, {path: "f2"}, {path: "g", linked: true}}
	if len(o.sources) != len(want) {
		t.Fatalf("sources %+v", o.sources)
	}
	for k := range want {
		if strings.Join(o.sources[k].values, ",") != strings.Join(want[k].values, ",") || o.sources[k].path != want[k].path || o.sources[k].linked != want[k].linked {
			t.Errorf("source %d: %+v, want %+v", k, o.sources[k], want[k])
		}
	}
}

func TestParseArgsRefuses(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus", "echo"}, "unknown option --bogus"},
		{[]string{"-u", "echo"}, "-u is GNU Parallel's"},
		{[]string{"--line-buffer", "echo"}, "always grouped"},
		{[]string{"-j"}, "-j needs a value"},
		{[]string{"-j", "0", "echo"}, "-j 0"},
		{[]string{"-j", "x", "echo"}, "-j x"},
		{[]string{"--resume", "echo"}, "need --joblog"},
		{[]string{"--timeout", "5%", "echo"}, "percentage"},
		{[]string{"--timeout", "-1", "echo"}, "positive"},
		{[]string{"--timeout", "2x", "echo"}, "units"},
		{[]string{"--halt", "sometimes", "echo"}, "--halt sometimes"},
		{[]string{"--halt", "now,fail=0", "echo"}, "--halt now,fail=0"},
		{[]string{"--header", "x", "echo"}, "only --header :"},
		{[]string{"--colsep", "(", "echo"}, "--colsep ("},
		{[]string{"--range", "5-1", "echo"}, "never gets"},
		{[]string{"--range", "1-5:0", "echo"}, "cannot be 0"},
		{[]string{"--range", "a-b", "echo"}, "FIRST-LAST"},
		{[]string{"--results", "r.csv", "echo"}, "table"},
		{[]string{"--gpus-per-task", "0", "echo"}, "1 or more"},
		{[]string{"-a", "-", "echo", "::::", "-"}, "standard input can be read once"},
		{[]string{"--tag=x", "echo"}, "takes no value"},
		{[]string{"echo", "::::"}, ":::: needs file names"},
	} {
		_, err := parseArgs(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one saying %q", c.args, err, c.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90": 90 * time.Second, "1.5": 1500 * time.Millisecond, "2m": 2 * time.Minute, "1h30m": 90 * time.Minute, "1d": 24 * time.Hour, "0.5s": 500 * time.Millisecond,
	} {
		if got, err := parseDuration("--timeout", in); err != nil || got != want {
			t.Errorf("%s: %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestParseHalt(t *testing.T) {
	for in, want := range map[string]haltPolicy{
		"0": {}, "never": {}, "1": {when: "soon", why: "fail", count: 1}, "2": {when: "now", why: "fail", count: 1},
		"-1": {when: "soon", why: "success", count: 1}, "-2": {when: "now", why: "success", count: 1},
		"25%": {when: "soon", why: "fail", percent: 0.25}, "now,done=3": {when: "now", why: "done", count: 3},
	} {
		if got, err := parseHalt(in); err != nil || got != want {
			t.Errorf("--halt %s: %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`,`: ",", `\t`: "\t", `\0`: "\x00", `\012`: "\n", `\x41b`: "Ab", `a\\b`: `a\b`, `\n\n`: "\n\n"} {
		if got, err := unescape(in); err != nil || got != want {
			t.Errorf("unescape(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := unescape(`\q`); err == nil {
		t.Error(`unescape(\q): no error`)
	}
}

func TestParseJobs(t *testing.T) {
	for _, c := range []struct {
		in         string
		cpus, want int
	}{{"3", 8, 3}, {"50%", 8, 4}, {"10%", 8, 1}, {"+2", 8, 10}, {"-2", 8, 6}, {"-9", 8, 1}} {
		if got, err := parseJobs(c.in, c.cpus); err != nil || got != c.want {
			t.Errorf("-j %s on %d CPUs: %d, %v; want %d", c.in, c.cpus, got, err, c.want)
		}
	}
}

func TestRankSlotsGPUs(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "CUDA_VISIBLE_DEVICES" {
				return v
			}
			return ""
		}
	}
	o := &options{gpusPerTask: 2}
	slots, gpus, err := rankSlots(o, 8, env("3,5,7,9,11"))
	if err != nil || slots != 2 || len(gpus) != 2 || strings.Join(gpus[0], ",") != "3,5" || strings.Join(gpus[1], ",") != "7,9" {
		t.Errorf("5 GPUs, 2 per task, 8 CPUs: %d slots %q, %v; want 2 slots 3,5 and 7,9", slots, gpus, err)
	}
	o.jobs = "3"
	if _, _, err := rankSlots(o, 8, env("3,5,7,9,11")); err == nil || !strings.Contains(err.Error(), "needs 6 GPUs") {
		t.Errorf("-j 3 × 2 GPUs of 5: %v, want an error saying 6 are needed", err)
	}
	o.jobs = ""
	if _, _, err := rankSlots(o, 8, env("0")); err == nil {
		t.Error("1 GPU, 2 per task: no error")
	}
}
