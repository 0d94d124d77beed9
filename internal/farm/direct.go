package farm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A task whose command line has no shell syntax at all runs without the
// shell: the rank execs the command itself, as the shell would have, with
// the environment the shell would have given it. Starting dash as well
// costs more than the command (a second exec and dynamic link, and a fork
// in dash), as much as a 10 ms task's own start on a small machine.
//
// Only dash is bypassed: its behaviour for a simple command is known
// exactly (a PATH search, an environment it rewrites, the way it reports a
// command that a signal killed). Other shells, and any line this cannot
// prove plain, go through the shell.

// directExec runs plain command lines of one rank without the shell.
type directExec struct {
	path []string // the directories of the shell's PATH
	// env is the environment dash passes to a command, found by asking it
	// (see probeEnvironment), with the task's variables at these indices.
	env                      []string
	seq, slot, rank, devices int // -1 when absent
}

// Placeholders of the task variables in the probe, replaced per task.
const (
	seqMark     = "hpcmap-probe-seq"
	slotMark    = "hpcmap-probe-slot"
	rankMark    = "hpcmap-probe-rank"
	devicesMark = "hpcmap-probe-devices"
)

// newDirectExec prepares direct execution under shell sh for tasks whose
// environment is env (the task variables aside); nil when sh is not dash or
// its environment cannot be learnt, and every task then uses the shell.
func newDirectExec(sh string, env []string, gpus bool) *directExec {
	if real, err := filepath.EvalSymlinks(sh); err != nil || filepath.Base(real) != "dash" {
		return nil
	}
	printer, err := exec.LookPath("env")
	if err != nil {
		return nil
	}
	env = append(env[:len(env):len(env)], "PARALLEL_SEQ="+seqMark, "PARALLEL_JOBSLOT="+slotMark, "HPCMAP_RANK="+rankMark)
	if gpus {
		env = append(env, "CUDA_VISIBLE_DEVICES="+devicesMark)
	}
	got, err := probeEnvironment(sh, printer, env)
	if err != nil {
		return nil
	}
	d := &directExec{env: got, seq: -1, slot: -1, rank: -1, devices: -1}
	for i, kv := range got {
		switch kv {
		case "PARALLEL_SEQ=" + seqMark:
			d.seq = i
		case "PARALLEL_JOBSLOT=" + slotMark:
			d.slot = i
		case "HPCMAP_RANK=" + rankMark:
			d.rank = i
		case "CUDA_VISIBLE_DEVICES=" + devicesMark:
			d.devices = i
		}
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			d.path = strings.Split(p, ":")
		}
	}
	if d.seq < 0 || d.slot < 0 || d.rank < 0 || gpus && d.devices < 0 || !absolutePath(d.path) {
		return nil
	}
	return d
}

// absolutePath reports whether every directory of a PATH is absolute and
// plain: a relative one depends on the directory, and dash reads a % in
// one as a directive of its own.
func absolutePath(dirs []string) bool {
	for _, d := range dirs {
		if !strings.HasPrefix(d, "/") || strings.Contains(d, "%") {
			return false
		}
	}
	return len(dirs) > 0
}

// probeEnvironment runs `env -0` (printer is env's path) under sh -c, as a
// task's command, and returns the environment it was given: the variables
// dash drops (names it cannot hold), adds (PWD) and rewrites (IFS, PPID,
// OPTIND), in dash's order. The rank is the parent of both the probe's
// shell and every task's shell, and its directory does not change, so what
// dash does to the environment here it does for every task. An env without
// -0 (not GNU's or BusyBox's) fails the probe, and the shell runs every
// task.
func probeEnvironment(sh, printer string, env []string) ([]string, error) {
	out, err := tempFile(os.TempDir())
	if err != nil {
		return nil, err
	}
	defer out.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	p, err := os.StartProcess(sh, []string{sh, "-c", "exec " + quote(printer) + " -0"}, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{null, out, null},
	})
	if err != nil {
		return nil, err
	}
	st, err := p.Wait()
	if err != nil || !st.Success() {
		return nil, fmt.Errorf("the environment probe failed: %v %v", st, err)
	}
	n, err := size(out)
	if err != nil {
		return nil, err
	}
	b, err := readAll(out, n)
	if err != nil {
		return nil, err
	}
	var got []string
	for _, kv := range strings.Split(string(b), "\x00") {
		if kv != "" {
			got = append(got, kv)
		}
	}
	return got, nil
}

// plan says how to run command without the shell: the program and its
// arguments; ok is false when the shell must run it.
func (d *directExec) plan(command string) (prog string, argv []string, ok bool) {
	if d == nil || !plainLine(command) {
		return "", nil, false
	}
	argv = strings.Fields(command)
	if len(argv) == 0 || shellWords[argv[0]] || strings.Contains(argv[0], "=") {
		return "", nil, false
	}
	if strings.Contains(argv[0], "/") {
		return argv[0], argv, true
	}
	for _, dir := range d.path {
		p := dir + "/" + argv[0]
		if executable(p) {
			return p, argv, true
		}
	}
	return "", nil, false // not found: the shell says so, in its words
}

// environment is the task's environment.
func (d *directExec) environment(seq, slot, rank int, devices string) []string {
	env := append([]string(nil), d.env...)
	env[d.seq] = "PARALLEL_SEQ=" + strconv.Itoa(seq)
	env[d.slot] = "PARALLEL_JOBSLOT=" + strconv.Itoa(slot)
	env[d.rank] = "HPCMAP_RANK=" + strconv.Itoa(rank)
	if d.devices >= 0 {
		env[d.devices] = "CUDA_VISIBLE_DEVICES=" + devices
	}
	return env
}

// executable reports whether dash's exec of p would start it: a file (not
// a directory) that this process may execute. A file the kernel cannot
// exec (a script without #!) fails to start, and the shell runs it then.
func executable(p string) bool {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return false
	}
	return syscall.Access(p, 1) == nil // X_OK
}

// plainLine reports whether the shell would read line as words only: ASCII
// letters, digits, _./,:=+@%- and spaces, nothing it expands, quotes,
// redirects or splits at. (Not ~, *, ?, [, #, tabs, newlines, $, quotes.)
func plainLine(line string) bool {
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(" _./,:=+@%-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// shellWords are the first words that the shell runs itself: dash's
// builtins and reserved words, and bash's, should /bin/sh be bash one day.
var shellWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`. : [ [[ ]] { } ! alias bg break builtin caller case cd chdir command
		compgen complete compopt continue coproc declare dirs disown do done echo elif else enable esac eval
		exec exit export false fc fg fi for function getopts hash help history if in jobs kill let local
		logout mapfile popd printf pushd pwd read readarray readonly return select set shift shopt source
		suspend test then time times trap true type typeset ulimit umask unalias unset until wait while`) {
		shellWords[w] = true
	}
}

// dashReport is what dash does when the command it ran was killed by a
// signal: it exits with 128 plus the signal, and prints the signal's
// description on its standard error, unless it is SIGINT or SIGPIPE.
func dashReport(st syscall.WaitStatus) (exitval int, message string) {
	sig := st.Signal()
	if sig == syscall.SIGINT || sig == syscall.SIGPIPE {
		return 128 + int(sig), ""
	}
	message = signalDescription(sig)
	if st.CoreDump() {
		message += " (core dumped)"
	}
	return 128 + int(sig), message + "\n"
}

// signalDescriptions are the C library's (glibc's strsignal), which dash
// prints.
var signalDescriptions = [...]string{
	1: "Hangup", 2: "Interrupt", 3: "Quit", 4: "Illegal instruction", 5: "Trace/breakpoint trap",
	6: "Aborted", 7: "Bus error", 8: "Floating point exception", 9: "Killed", 10: "User defined signal 1",
	11: "Segmentation fault", 12: "User defined signal 2", 13: "Broken pipe", 14: "Alarm clock",
	15: "Terminated", 16: "Stack fault", 17: "Child exited", 18: "Continued", 19: "Stopped (signal)",
	20: "Stopped", 21: "Stopped (tty input)", 22: "Stopped (tty output)", 23: "Urgent I/O condition",
	24: "CPU time limit exceeded", 25: "File size limit exceeded", 26: "Virtual timer expired",
	27: "Profiling timer expired", 28: "Window changed", 29: "I/O possible", 30: "Power failure",
	31: "Bad system call",
}

func signalDescription(sig syscall.Signal) string {
	if int(sig) < len(signalDescriptions) && sig > 0 {
		return signalDescriptions[sig]
	}
	if sig >= 34 && sig <= 64 {
		return "Real-time signal " + strconv.Itoa(int(sig)-34)
	}
	return "Unknown signal " + strconv.Itoa(int(sig))
}
