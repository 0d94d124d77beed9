package farm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testRunner is a runner of one slot under /bin/sh with environment env,
// running plain command lines without the shell if direct.
func testRunner(t *testing.T, env []string, direct bool) *runner {
	t.Helper()
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	r := &runner{shell: "/bin/sh", env: env, host: "here", tmpdir: t.TempDir(), stdin: stdin,
		groups: newGroups(nil), keep: &keeper{dir: t.TempDir()}, signals: context.Background(), grace: time.Second}
	if direct {
		if real, _ := filepath.EvalSymlinks("/bin/sh"); filepath.Base(real) != "dash" {
			t.Skip("/bin/sh is not dash: every task runs under the shell")
		}
		if r.direct = newDirectExec("/bin/sh", env, false); r.direct == nil {
			t.Fatal("/bin/sh is dash, but its environment could not be learnt: no task runs without it")
		}
	}
	return r
}

// TestPlainLines: only a line with no shell syntax, whose command is a
// program found on PATH, runs without the shell.
func TestPlainLines(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "prog", "#!/bin/sh\necho prog\n")
	d := testRunner(t, taskEnvironment(os.Environ(), false), true).direct
	for line, want := range map[string]bool{
		"sleep 0.01": true, "env": true, "expr 1 + 2": true, dir + "/prog a,b x=y @%+ -": true,
		"/no/such/program": true, // exec fails: the shell then says so
		"echo -e x":        false, "printf %s x": false, "true": false, "exit 3": false, "cd /": false,
		"kill 1": false, "test -n x": false, "[ -n x ]": false, ". x": false, ": x": false, "if": false,
		"A=1 env": false, "./a=b": false, "ls *": false, "ls ~": false, "ls a?": false, "sleep 1 # x": false,
		"sleep\t1": false, "sleep 1\nenv": false, "env $HOME": false, "env 'x'": false, `env \x`: false,
		"sleep 1 &": false, "sleep 1; env": false, "env > f": false, "env {a,b}": false, "é": false,
		"no-such-command-here": false, "": false, "   ": false,
	} {
		if _, _, got := d.plan(line); got != want {
			t.Errorf("%q: without the shell %v, want %v", line, got, want)
		}
	}
}

// TestDirectIsTheShell: a task run without the shell prints and exits as
// under /bin/sh, byte for byte: its environment (dash drops, adds and
// rewrites variables), arguments, exit statuses, dash's report of a
// command a signal killed, a script the kernel cannot exec.
func TestDirectIsTheShell(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "die", "#!/bin/sh\necho dying >&2\nkill -$1 $$\n")
	writeScript(t, dir, "nohashbang", "echo no '#!' \"$@\"\n")
	writeScript(t, dir, "status", "#!/bin/sh\necho status $1\nexit $1\n")
	env := append(taskEnvironment(os.Environ(), false),
		"A-B=1", "X=1", "X=2", "IFS=:", "OPTIND=7", "PPID=1", "PS4=z", "BAD NAME=3", "=empty", "PATH="+dir+":"+os.Getenv("PATH"))
	var noPWD []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PWD=") {
			noPWD = append(noPWD, kv)
		}
	}
	lines := []string{"env", "/usr/bin/printf %s, a b-c x=y 1,2 @%+", "expr 1 + 1", "expr 0 + 0", "expr x + 1",
		"status 0", "status 3", "die TERM", "die SEGV", "die KILL", "die INT", "die PIPE", "die USR1", "die ABRT",
		"nohashbang a b", dir + "/nohashbang c", "no-such-command-here", "/no/such/program x"}
	for _, e := range []struct {
		name string
		env  []string
	}{{"environment", env}, {"no PWD", noPWD}} {
		shell, direct := testRunner(t, e.env, false), testRunner(t, e.env, true)
		for k, line := range lines {
			want, _, err := shell.run(context.Background(), task{seq: k + 1, slot: 1, command: line})
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := direct.run(context.Background(), task{seq: k + 1, slot: 1, command: line})
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Stdout) != string(want.Stdout) || string(got.Stderr) != string(want.Stderr) ||
				got.Exitval != want.Exitval || got.Signal != want.Signal {
				t.Errorf("%s: %q without the shell: stdout %q\nstderr %q\nexit %d signal %d\nunder the shell: stdout %q\nstderr %q\nexit %d signal %d",
					e.name, line, got.Stdout, got.Stderr, got.Exitval, got.Signal, want.Stdout, want.Stderr, want.Exitval, want.Signal)
			}
		}
	}
}

// TestBuiltinsDiffer: the lines that the shell keeps would print otherwise
// without it, so that TestPlainLines's refusals matter.
func TestBuiltinsDiffer(t *testing.T) {
	for _, line := range [][]string{{"echo", "-e", "x"}, {"pwd", "-P", "x"}} {
		sh, err := exec.Command("/bin/sh", "-c", strings.Join(line, " ")).CombinedOutput()
		prog, _ := exec.Command(line[0], line[1:]...).CombinedOutput()
		if err == nil && string(sh) == string(prog) {
			t.Errorf("%q prints %q under the shell and as a program", line, sh)
		}
	}
}

func writeScript(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
}
