//go:build (mpi || mpich || mpicc) && !(mpi && mpich) && !(mpi && mpicc) && !(mpich && mpicc) && linux

package mpi

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

// A rank that leaves without finalising MPI, as one whose task calls
// os.Exit(0), must fail the job. Open MPI's launcher sees to that. MPICH's
// (hydra) does not: it kills the other ranks at once and exits with the
// vanished rank's code, 0, so the job looks successful. No rank can prevent
// it: os.Exit runs no Go code on its way out, and the others are killed
// within milliseconds. So under a PMI launcher (hydra, or srun --mpi=pmi2,
// which name PMI_FD) each rank runs as a child of a supervisor process, the
// one the launcher started, which holds on to the launcher's PMI connection:
// the launcher learns of the child's end from the supervisor, which exits 1
// if the child initialised MPI and then exited 0 without finalising it.
// Anything else, the supervisor passes on: the child's exit code, or the
// signal that killed it.

// supervisorEnv names, in the child, the pipe on which it tells the
// supervisor that MPI is initialised ('i') and finalised ('f').
const supervisorEnv = "HPCMAP_SUPERVISOR_FD"

// supervisorPipe is the child's end of that pipe; nil without a supervisor.
var supervisorPipe *os.File

func init() {
	if fd, err := strconv.Atoi(os.Getenv(supervisorEnv)); err == nil {
		os.Unsetenv(supervisorEnv) // for this process alone, not its children
		supervisorPipe = os.NewFile(uintptr(fd), "supervisor")
		syscall.CloseOnExec(fd)
		return
	}
	if os.Getenv("PMI_FD") != "" {
		os.Exit(supervise())
	}
}

// tellSupervisor sends it a mark, if there is a supervisor.
func tellSupervisor(mark byte) {
	if supervisorPipe != nil {
		supervisorPipe.Write([]byte{mark})
	}
}

// supervise runs this program again as a child, and returns the exit code
// for this process.
func supervise() int {
	// The child is killed if this process dies; the signal comes when the
	// thread that started the child ends, so keep this one.
	runtime.LockOSThread()
	exe, err := os.Executable()
	if err != nil {
		return supervisorFailed(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return supervisorFailed(err)
	}
	// The write end keeps its number in the child, as every descriptor
	// without close-on-exec does, the launcher's PMI connection among them.
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, w.Fd(), syscall.F_SETFD, 0); e != 0 {
		return supervisorFailed(e)
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), supervisorEnv+"="+strconv.Itoa(int(w.Fd())))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Launchers signal the process group, the child included: here the
	// signals are only caught, so that this process outlives the child.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP,
		syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	if err := cmd.Start(); err != nil {
		return supervisorFailed(err)
	}
	w.Close()
	marks, _ := io.ReadAll(r) // until the child is gone
	cmd.Wait()
	st := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case st.Signaled():
		signal.Reset(st.Signal())
		syscall.Kill(os.Getpid(), st.Signal())
		return 128 + int(st.Signal())
	case st.ExitStatus() == 0 && bytes.IndexByte(marks, 'i') >= 0 && bytes.IndexByte(marks, 'f') < 0:
		fmt.Fprintf(os.Stderr, "rank %s: the process exited with code 0 without finalising MPI "+
			"(os.Exit in a task, or a program that leaves without returning from mpi.Run): the job has failed\n",
			os.Getenv("PMI_RANK"))
		return 1
	}
	return st.ExitStatus()
}

func supervisorFailed(err error) int {
	fmt.Fprintf(os.Stderr, "mpi: starting rank %s under its supervisor: %v\n", os.Getenv("PMI_RANK"), err)
	return 1
}
