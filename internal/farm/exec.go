package farm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Outcome is what became of a task: it travels from the rank that ran it to
// rank 0, which prints it and writes the joblog.
type Outcome struct {
	Host     string  // of the rank that ran it
	Slot     int     // its job slot, {%}
	Start    float64 // Unix time of its (last) start, in seconds
	Runtime  float64 // seconds
	Exitval  int     // as in GNU Parallel's joblog: -1 when a timeout killed it
	Signal   int     // the signal that ended it, or 0
	Stdout   []byte  // up to inlineOutput bytes in all; nil with --results, where the rank wrote it
	Stderr   []byte
	Kept     kept  // output larger than that: where it waits on the rank that ran the task
	Received int64 // bytes of standard output
	TimedOut bool
	// A stop ended the task (Interrupted), or came before it started
	// (NotRun): rank 0 counts it as such, and --resume runs it.
	Interrupted, NotRun bool
}

// signalLag is how long a rank may take to notice a signal that reached
// its tasks at the same moment.
const signalLag = 20 * time.Millisecond

// runner starts the tasks of one rank.
type runner struct {
	shell   string
	env     []string    // the tasks' environment, without PARALLEL_SEQ and the like
	direct  *directExec // for plain command lines; nil: the shell runs every one
	rank    int
	host    string
	tmpdir  string
	results string // --results directory, or ""
	timeout time.Duration
	grace   time.Duration
	gpus    [][]string // per local slot, with --gpus-per-task
	stdin   *os.File   // /dev/null
	groups  *groups
	keep    *keeper // large outputs, until rank 0 prints them

	// A task whose context is cancelled (the map stopped) is stopped at
	// once, unless soft (--halt soon): then only a signal stops it.
	signals context.Context
	soft    bool

	mu          sync.Mutex
	interrupted []int // sequence numbers of tasks stopped by a cancelled context
}

// task is one run of a command.
type task struct {
	seq, slot, localSlot int
	command              string
}

// run runs t once, and says whether a cancelled context stopped it.
func (r *runner) run(ctx context.Context, t task) (out Outcome, stopped bool, err error) {
	out = Outcome{Host: r.host, Slot: t.slot}
	stdout, stderr, err := r.outputFiles(t.seq)
	if err != nil {
		return out, false, err
	}
	defer stdout.Close()
	defer stderr.Close()
	start := time.Now()
	out.Start = float64(start.UnixMilli()) / 1000
	p, direct, err := r.start(t, stdout, stderr)
	if err != nil {
		out.Exitval = 127
		out.Stderr = fmt.Appendf(nil, "hpcmap farm: task %d on %s: cannot start %s: %v\n", t.seq, r.host, r.shell, err)
		return out, false, nil
	}
	g := r.groups.start(p.Pid)
	w := r.watch(ctx, g)
	status, werr := g.wait(p)
	w.end()
	out.Runtime = time.Since(start).Seconds()
	if werr != nil {
		return out, false, fmt.Errorf("task %d on %s: waiting for it: %w", t.seq, r.host, werr)
	}
	r.groups.end(p.Pid)
	var message string
	switch {
	case status.Signaled() && direct:
		// As dash reports the command it ran; a stop or timeout of the
		// farm's own, which dash would not have survived, is set below.
		out.Exitval, message = dashReport(status)
	case status.Signaled():
		out.Signal = int(status.Signal())
	default:
		out.Exitval = status.ExitStatus()
	}
	if w.timedOut {
		// As GNU Parallel logs a job its --timeout killed.
		out.Exitval, out.Signal, out.TimedOut = -1, int(syscall.SIGTERM), true
	}
	if failed := out.Exitval != 0 || out.Signal != 0; failed && !w.interrupted && r.signals.Err() == nil {
		// A signal to the whole job (Slurm's) may end the task an instant
		// before this rank has taken the same signal in: give it that
		// instant, so that the task counts as interrupted, and no other
		// task starts in the slot.
		time.Sleep(signalLag)
		if r.signals.Err() != nil {
			w.interrupted = true
		}
	}
	if w.interrupted {
		r.mu.Lock()
		r.interrupted = append(r.interrupted, t.seq)
		r.mu.Unlock()
		return out, true, nil
	}
	if message != "" && !w.timedOut {
		_, err := stderr.Seek(0, io.SeekEnd)
		if err == nil {
			_, err = stderr.WriteString(message)
		}
		if err != nil {
			return out, false, fmt.Errorf("task %d on %s: its standard error: %w", t.seq, r.host, err)
		}
	}
	return out, false, r.collect(&out, t.seq, stdout, stderr)
}

// start starts task t: without the shell when its command line is plain
// (direct), else under the shell.
func (r *runner) start(t task, stdout, stderr *os.File) (p *os.Process, direct bool, err error) {
	attr := &os.ProcAttr{
		Files: []*os.File{r.stdin, stdout, stderr},
		// A group of its own: a timeout or a stop reaches every process the
		// task started, and a Ctrl-C at the terminal reaches only the ranks.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	}
	var devices string
	if r.gpus != nil {
		devices = joinComma(r.gpus[t.localSlot])
	}
	if prog, argv, ok := r.direct.plan(t.command); ok {
		attr.Env = r.direct.environment(t.seq, t.slot, r.rank, devices)
		if p, err := os.StartProcess(prog, argv, attr); err == nil {
			return p, true, nil
		}
		// It would not start (a script without #!, ...): the shell runs it,
		// or says why not.
	}
	attr.Env = append(r.env[:len(r.env):len(r.env)],
		"PARALLEL_SEQ="+strconv.Itoa(t.seq), "PARALLEL_JOBSLOT="+strconv.Itoa(t.slot), "HPCMAP_RANK="+strconv.Itoa(r.rank))
	if r.gpus != nil {
		attr.Env = append(attr.Env, "CUDA_VISIBLE_DEVICES="+devices)
	}
	p, err = os.StartProcess(r.shell, []string{r.shell, "-c", t.command}, attr)
	return p, false, err
}

// watcher stops a task's group at its timeout, or when its context is
// cancelled and the stop is for now: SIGTERM, then SIGKILL after the grace
// period. It says afterwards which of the two happened while the task ran.
type watcher struct {
	timedOut, interrupted bool // set under the group's lock while it runs
	timer                 *time.Timer
	unwatch               []func() bool
}

func (r *runner) watch(ctx context.Context, g *group) *watcher {
	w := &watcher{}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			g.signal(syscall.SIGTERM)
			// A no-op if the task has ended by then.
			time.AfterFunc(r.grace, func() { g.signal(syscall.SIGKILL) })
		})
	}
	if r.timeout > 0 {
		w.timer = time.AfterFunc(r.timeout, func() {
			g.mark(&w.timedOut)
			stop()
		})
	}
	interrupt := func() {
		g.mark(&w.interrupted)
		stop()
	}
	if !r.soft {
		w.unwatch = append(w.unwatch, context.AfterFunc(ctx, interrupt))
	}
	w.unwatch = append(w.unwatch, context.AfterFunc(r.signals, interrupt))
	return w
}

// stopNow says whether a task whose context is cancelled is to stop at once.
func (r *runner) stopNow() bool { return !r.soft || r.signals.Err() != nil }

// end stops watching, once the task's shell has been waited for.
func (w *watcher) end() {
	for _, u := range w.unwatch {
		u()
	}
	if w.timer != nil {
		w.timer.Stop()
	}
}

// outputFiles opens the files that take a task's standard output and error:
// under --results, its files there; otherwise anonymous temporary files,
// which hold output of any size outside the rank's memory while the task
// runs, and which a process the task leaves behind cannot hold up (a pipe
// would stay open as long as any of them lives).
func (r *runner) outputFiles(seq int) (stdout, stderr *os.File, err error) {
	if r.results != "" {
		d := resultDir(r.results, seq)
		if err := os.MkdirAll(d, 0o777); err != nil {
			return nil, nil, fmt.Errorf("--results: %w", err)
		}
		stdout, err = os.Create(filepath.Join(d, "stdout"))
		if err == nil {
			stderr, err = os.Create(filepath.Join(d, "stderr"))
			if err != nil {
				stdout.Close()
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("--results: %w", err)
		}
		return stdout, stderr, nil
	}
	if stdout, err = tempFile(r.tmpdir); err != nil {
		return nil, nil, err
	}
	if stderr, err = tempFile(r.tmpdir); err != nil {
		stdout.Close()
		return nil, nil, err
	}
	return stdout, stderr, nil
}

// oTmpfile is Linux's O_TMPFILE: a file with no name, gone when closed.
const oTmpfile = 0o20000000 | syscall.O_DIRECTORY

// tempFile opens an anonymous file in dir.
func tempFile(dir string) (*os.File, error) {
	fd, err := syscall.Open(dir, oTmpfile|syscall.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), filepath.Join(dir, "(task output)")), nil
	}
	// Some file systems cannot: a named file, removed at once.
	f, err := os.CreateTemp(dir, "hpcmap-farm-*")
	if err != nil {
		return nil, fmt.Errorf("a file for a task's output: %w (set --tmpdir or TMPDIR)", err)
	}
	os.Remove(f.Name())
	return f, nil
}

// collect reads what the task wrote, or with --results writes its status
// next to its output.
func (r *runner) collect(out *Outcome, seq int, stdout, stderr *os.File) error {
	var err error
	if out.Received, err = size(stdout); err != nil {
		return err
	}
	if r.results != "" {
		d := resultDir(r.results, seq)
		return errors.Join(
			os.WriteFile(filepath.Join(d, "exitval"), fmt.Appendf(nil, "%d\n", out.Exitval), 0o666),
			os.WriteFile(filepath.Join(d, "signal"), fmt.Appendf(nil, "%d\n", out.Signal), 0o666))
	}
	nErr, err := size(stderr)
	if err != nil {
		return err
	}
	if out.Received+nErr > inlineOutput {
		// Too large to cross in the result: it waits here, and rank 0
		// fetches it a piece at a time when it prints it.
		out.Kept, err = r.keep.keep(r.rank, stdout, out.Received, stderr, nErr)
		return err
	}
	if out.Stdout, err = readAll(stdout, out.Received); err != nil {
		return err
	}
	out.Stderr, err = readAll(stderr, nErr)
	return err
}

// inlineOutput is the most output (standard output and error together) a
// task's result carries to rank 0.
const inlineOutput = 4 << 20

func size(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("a task's output: %w", err)
	}
	return fi.Size(), nil
}

// readAll reads the first n bytes of f, from its start.
func readAll(f *os.File, n int64) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading a task's output: %w", err)
	}
	return b, nil
}

// resultDir is where --results puts the files of task seq: a directory per
// thousand tasks, so that no directory holds more than a thousand entries
// until the millionth task.
func resultDir(root string, seq int) string {
	return filepath.Join(root, fmt.Sprintf("%03d", seq/1000), strconv.Itoa(seq))
}

func joinComma(ids []string) string {
	s := ""
	for k, id := range ids {
		if k > 0 {
			s += ","
		}
		s += id
	}
	return s
}

// group is the process group of one running task, led by its shell.
type group struct {
	pid    int
	mu     sync.Mutex
	exited bool // the shell has exited: its pid may soon be reused
}

// signal sends sig to the group while its leader has not been waited for.
func (g *group) signal(sig syscall.Signal) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.exited {
		syscall.Kill(-g.pid, sig)
	}
}

// mark sets *flag unless the shell has exited already: a stop that comes
// after the task ended does not count.
func (g *group) mark(flag *bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.exited {
		*flag = true
	}
}

// wait waits for the shell to exit and reaps it. It first waits without
// reaping, and closes the group to signals, so that a signal can never reach
// another process that gets the pid once it is free.
func (g *group) wait(p *os.Process) (syscall.WaitStatus, error) {
	const pPID, wExited, wNowait = 1, 4, 0x1000000
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(g.pid), uintptr(unsafe.Pointer(&info[0])), wExited|wNowait, 0, 0)
		if errno != syscall.EINTR {
			break
		}
	}
	g.mu.Lock()
	g.exited = true
	g.mu.Unlock()
	st, err := p.Wait()
	if err != nil {
		return 0, err
	}
	return st.Sys().(syscall.WaitStatus), nil
}
