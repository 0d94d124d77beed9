package farm

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// joblogHeader is the first line of a joblog, as GNU Parallel writes it.
const joblogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

// joblog is the --joblog file, written by rank 0 one whole line per task as
// each finishes, in GNU Parallel's format.
type joblog struct {
	f    *os.File
	path string
	line []byte
}

// openJoblog opens the joblog: appending (--resume, or --joblog +FILE) or
// anew. A new or empty file gets the header.
func openJoblog(path string, appendTo bool) (*joblog, error) {
	// Opened for appending either way; emptied once locked, if new.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666)
	if err != nil {
		return nil, fmt.Errorf("--joblog: %w", err)
	}
	// Two farms writing one joblog would mix their lines, and a --resume
	// would then skip tasks of the other run: the second is refused. (A
	// file system without locks cannot tell; the farm then goes on.)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, fmt.Errorf("--joblog %s: another farm is writing it; give each run its own joblog", path)
	}
	if !appendTo {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, fmt.Errorf("--joblog: %w", err)
		}
	}
	j := &joblog{f: f, path: path}
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		if _, err := f.WriteString(joblogHeader); err != nil {
			f.Close()
			return nil, fmt.Errorf("--joblog: %w", err)
		}
	}
	return j, nil
}

// add writes the line of a finished task; newlines in its command become
// NUL bytes, as GNU Parallel writes them, so that a line is a task.
func (j *joblog) add(seq int, o *Outcome, command string) error {
	b := j.line[:0]
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, '\t')
	b = append(b, o.Host...)
	b = fmt.Appendf(b, "\t%.3f\t%10.3f\t0\t%d\t%d\t%d\t", o.Start, o.Runtime, o.Received, o.Exitval, o.Signal)
	b = append(b, strings.ReplaceAll(command, "\n", "\x00")...)
	b = append(b, '\n')
	j.line = b
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("--joblog %s: %w", j.path, err)
	}
	return nil
}

func (j *joblog) close() error {
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("--joblog %s: %w", j.path, err)
	}
	return nil
}

// logged is a task line of a joblog.
type logged struct {
	line            int // in the file, from 1
	seq             int
	exitval, signal int
	command         string // with NULs for newlines, as logged
}

// readJoblog reads the task lines of a joblog for --resume. A last line
// without its newline was cut short by a kill: it is left out, and cut
// says where the complete lines end, so that the file can be mended before
// new lines follow.
func readJoblog(path string) (lines []logged, cut int64, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, -1, nil
	}
	if err != nil {
		return nil, -1, fmt.Errorf("--resume: %w", err)
	}
	cut = -1
	if end := bytes.LastIndexByte(data, '\n'); end+1 < len(data) {
		cut = int64(end + 1)
		data = data[:end+1]
	}
	if len(data) == 0 {
		return nil, cut, nil
	}
	head, rest, _ := strings.Cut(string(data), "\n")
	if head+"\n" != joblogHeader {
		return nil, -1, fmt.Errorf("--resume: %s is not a joblog: its first line is not GNU Parallel's header (Seq Host Starttime ...)", path)
	}
	if rest == "" {
		return nil, cut, nil
	}
	for k, text := range strings.Split(strings.TrimSuffix(rest, "\n"), "\n") {
		l, err := parseLogged(text)
		if err != nil {
			return nil, -1, fmt.Errorf("--resume: %s line %d: %v", path, k+2, err)
		}
		l.line = k + 2
		lines = append(lines, l)
	}
	return lines, cut, nil
}

func parseLogged(text string) (logged, error) {
	f := strings.SplitN(text, "\t", 9)
	if len(f) != 9 {
		return logged{}, fmt.Errorf("not a joblog line (want 9 tab-separated columns): %q", text)
	}
	var l logged
	var errs [3]error
	l.seq, errs[0] = strconv.Atoi(f[0])
	l.exitval, errs[1] = strconv.Atoi(f[6])
	l.signal, errs[2] = strconv.Atoi(f[7])
	if errors.Join(errs[:]...) != nil || l.seq < 1 {
		return logged{}, fmt.Errorf("not a joblog line (Seq, Exitval and Signal must be numbers): %q", text)
	}
	l.command = f[8]
	return l, nil
}

// resumable is what a --resume or --resume-failed skips: the tasks (by
// index) that the joblog records, or records as succeeded. Each line must
// be the command of its task with today's inputs: a joblog of another
// command or other inputs is refused, naming the first line that differs.
func resumable(lines []logged, path string, n int, failedToo bool, parts func(i int) []string) ([]bool, error) {
	skip := make([]bool, n)
	for _, l := range lines {
		if l.seq > n {
			return nil, usageError{fmt.Errorf("--resume: %s line %d is task %d, but these inputs make %d tasks: the joblog is of other inputs; give another --joblog (or remove %s to start over)",
				path, l.line, l.seq, n, path)}
		}
		want := parts(l.seq - 1)
		for k := range want {
			want[k] = strings.ReplaceAll(want[k], "\n", "\x00")
		}
		if !matchesAround(l.command, want) {
			return nil, usageError{fmt.Errorf("--resume: %s line %d ran task %d as\n\t%s\nbut with this command and these inputs it is\n\t%s\nthe joblog is of another command or other inputs; give another --joblog (or remove %s to start over)",
				path, l.line, l.seq, l.command, strings.Join(want, "{%}"), path)}
		}
		if !failedToo || l.exitval == 0 && l.signal == 0 {
			skip[l.seq-1] = true
		}
	}
	return skip, nil
}
