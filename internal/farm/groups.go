package farm

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// groups keeps the process groups of one rank's tasks: those running, and
// those that a finished task left behind (a process it started in the
// background), so that none outlives the farm. A guardian process kills
// them too if the rank itself dies (kill -9, a crash, a launcher's
// SIGKILL) before it could.
type groups struct {
	mu        sync.Mutex
	running   map[int]*group
	lingering map[int]bool
	guard     *guardian
}

func newGroups(g *guardian) *groups {
	return &groups{running: map[int]*group{}, lingering: map[int]bool{}, guard: g}
}

// start registers the group of a task whose shell has pid pid.
func (gs *groups) start(pid int) *group {
	g := &group{pid: pid}
	gs.mu.Lock()
	gs.running[pid] = g
	gs.mu.Unlock()
	gs.guard.watch(pid)
	return g
}

// end notes that the shell of group pid has been waited for. While a process
// of the group lives on, the group number cannot be given to another
// process, so keeping it is safe; the groups found empty are forgotten.
func (gs *groups) end(pid int) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	delete(gs.running, pid)
	gs.lingering[pid] = true
	for p := range gs.lingering {
		if syscall.Kill(-p, 0) == syscall.ESRCH {
			delete(gs.lingering, p)
			gs.guard.forget(p)
		}
	}
}

// shutdown ends every group still there: SIGTERM now, SIGKILL for those
// left at the deadline; then it lets the guardian go.
func (gs *groups) shutdown(deadline time.Time) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	held := map[int]bool{}
	for pid := range gs.running {
		held[pid] = true
	}
	for pid := range gs.lingering {
		held[pid] = true
	}
	signalAll := func(sig syscall.Signal) {
		for pid := range liveGroups(held) {
			if g, ok := gs.running[pid]; ok {
				g.signal(sig)
			} else {
				syscall.Kill(-pid, sig)
			}
		}
	}
	if len(liveGroups(held)) > 0 {
		signalAll(syscall.SIGTERM)
		for len(liveGroups(held)) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		signalAll(syscall.SIGKILL)
	}
	for pid := range held {
		gs.guard.forget(pid)
	}
	gs.running, gs.lingering = map[int]*group{}, map[int]bool{}
	gs.guard.close()
}

// liveGroups says which of the process groups pgids have a member that is
// not a zombie. (kill(-pgid, 0) cannot tell: a zombie counts as a member
// until its parent, often an init that reaps slowly, waits for it.)
func liveGroups(pgids map[int]bool) map[int]bool {
	live := map[int]bool{}
	if len(pgids) == 0 {
		return live
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return pgids
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold anything.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if pgrp, err := strconv.Atoi(f[2]); err == nil && pgids[pgrp] {
			live[pgrp] = true
		}
	}
	return live
}

// guardianVariable, in a process's environment, makes it a guardian: see
// init. Its value is the grace period in milliseconds.
const guardianVariable = "HPCMAP_FARM_GUARDIAN"

// The guardian is this same program started again: any program that links
// the farm (the hpcmap command, a test binary) can be one, and becomes one
// here, before main, before MPI.
func init() {
	if v, ok := os.LookupEnv(guardianVariable); ok {
		ms, _ := strconv.Atoi(v)
		os.Exit(guardMain(os.Stdin, time.Duration(max(ms, 0))*time.Millisecond))
	}
}

// guardian is a rank's link to its guardian process, which learns of each
// task's process group as it starts and ends, and kills the groups still
// alive when the link breaks: when the rank is gone.
type guardian struct {
	mu   sync.Mutex
	w    *os.File
	proc *os.Process
}

// startGuardian starts the guardian of this rank, with the tasks'
// environment (the program may need its library paths).
func startGuardian(env []string, grace time.Duration) (*guardian, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting the guardian of the tasks: %w", err)
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("starting the guardian of the tasks: %w", err)
	}
	defer null.Close()
	env = append(env[:len(env):len(env)], guardianVariable+"="+strconv.FormatInt(grace.Milliseconds(), 10))
	p, err := os.StartProcess("/proc/self/exe", []string{"hpcmap-farm-guardian"}, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{r, null, null},
		// A session of its own: what kills the rank's process group or the
		// terminal's (a launcher, a Ctrl-C) does not kill the guardian.
		Sys: &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("starting the guardian of the tasks: %w", err)
	}
	return &guardian{w: w, proc: p}, nil
}

func (g *guardian) send(op byte, pid int) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w != nil {
		line := append(strconv.AppendInt([]byte{op}, int64(pid), 10), '\n')
		g.w.Write(line) // a guardian that died cannot be helped
	}
}

func (g *guardian) watch(pid int)  { g.send('+', pid) }
func (g *guardian) forget(pid int) { g.send('-', pid) }

// close ends the link: the guardian kills what it was not told to forget,
// and exits. The rank does not wait for that: a guardian still starting
// (slow for a large binary) holds nothing.
func (g *guardian) close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w != nil {
		g.w.Close()
		g.w = nil
		go g.proc.Wait() // reaped whenever it ends
	}
}

// guardMain is the guardian: it reads "+PID" and "-PID" lines until the
// rank's end of the pipe closes, then sends SIGTERM to the groups it still
// holds, and SIGKILL to those alive after grace.
func guardMain(in io.Reader, grace time.Duration) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	held := map[int]bool{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) < 2 {
			continue
		}
		pid, err := strconv.Atoi(string(line[1:]))
		if err != nil || pid <= 1 {
			continue
		}
		if line[0] == '+' {
			held[pid] = true
		} else {
			delete(held, pid)
		}
	}
	if len(liveGroups(held)) == 0 {
		return 0
	}
	for pid := range held {
		syscall.Kill(-pid, syscall.SIGTERM)
	}
	for end := time.Now().Add(grace); len(liveGroups(held)) > 0 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	for pid := range liveGroups(held) {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
	return 0
}
