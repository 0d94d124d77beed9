package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
)

// TestTaskEnvironment lists the environment of tasks under both launchers:
// none of the launcher's variables, and GNU Parallel's PARALLEL_SEQ and
// PARALLEL_JOBSLOT with hpcmap's HPCMAP_RANK.
func TestTaskEnvironment(t *testing.T) {
	mpitest.StartsJobs(t)
	launcherPrefixes := []string{"OMPI_COMM_WORLD", "OMPI_MCA_ess", "OMPI_MCA_orte", "PMIX_", "PMI_", "HYDRA_", "HYDI_", "MPI_LOCALRANKID"}
	for _, l := range mpitest.Launchers {
		t.Run(l.Command, func(t *testing.T) {
			dir := t.TempDir()
			j := startFarm(t, l.Command, 2, "", "-j2", "env > "+dir+"/env.{#}", ":::", "a", "b", "c", "d", "e", "f")
			if status := j.wait(t, 60*time.Second); status != 0 {
				t.Fatalf("exit %d\n%s", status, j.stderr.String())
			}
			ranks := map[string]bool{}
			for seq := 1; seq <= 6; seq++ {
				data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("env.%d", seq)))
				if err != nil {
					t.Fatal(err)
				}
				env := map[string]string{}
				for _, kv := range strings.Split(strings.TrimSpace(string(data)), "\n") {
					k, v, _ := strings.Cut(kv, "=")
					env[k] = v
					for _, p := range launcherPrefixes {
						if strings.HasPrefix(k, p) {
							t.Errorf("task %d sees the launcher's %s", seq, kv)
						}
					}
				}
				slot, _ := strconv.Atoi(env["PARALLEL_JOBSLOT"])
				if env["PARALLEL_SEQ"] != strconv.Itoa(seq) || slot < 1 || slot > 4 || env["HPCMAP_RANK"] == "" {
					t.Errorf("task %d: PARALLEL_SEQ=%q PARALLEL_JOBSLOT=%q HPCMAP_RANK=%q; want %d, 1 to 4, a rank",
						seq, env["PARALLEL_SEQ"], env["PARALLEL_JOBSLOT"], env["HPCMAP_RANK"], seq)
				}
				ranks[env["HPCMAP_RANK"]] = true
				if env["OMPI_ALLOW_RUN_AS_ROOT"] != "1" {
					t.Errorf("task %d lost OMPI_ALLOW_RUN_AS_ROOT, a setting of the user's", seq)
				}
			}
		})
	}
}

// TestTaskRunsMPI runs a farm whose tasks are farms themselves, MPI programs
// started alone: with the launcher's variables they would try to join the
// outer job (OpenMPI's then hangs, MPICH's fails).
func TestTaskRunsMPI(t *testing.T) {
	mpitest.StartsJobs(t)
	for _, l := range mpitest.Launchers {
		t.Run(l.Command, func(t *testing.T) {
			bin := binary(t, map[string]string{"mpirun.openmpi": "mpi", "mpirun.mpich": "mpich"}[l.Command])
			j := startFarm(t, l.Command, 2, "", "-k", bin+" farm echo nested {} ::: x", ":::", "a", "b", "c")
			status := j.wait(t, 60*time.Second)
			if want := "nested a x\nnested b x\nnested c x\n"; status != 0 || j.stdout.String() != want {
				t.Errorf("exit %d, output %q; want 0, %q\n%s", status, j.stdout.String(), want, j.stderr.String())
			}
		})
	}
}

// TestSlotsAndHostsInJoblog runs 12 tasks on 3 ranks of 2 slots each: the
// joblog names the host, every rank takes part, and tasks that overlap in
// time never share a slot ({%} is unique across the job).
func TestSlotsAndHostsInJoblog(t *testing.T) {
	mpitest.StartsJobs(t)
	host, _ := os.Hostname()
	for _, l := range mpitest.Launchers {
		t.Run(l.Command, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "joblog")
			j := startFarm(t, l.Command, 3, "", "-j2", "--joblog", log, "sleep 0.3; echo $HPCMAP_RANK {%}", ":::", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
			if status := j.wait(t, 60*time.Second); status != 0 {
				t.Fatalf("exit %d\n%s", status, j.stderr.String())
			}
			type run struct {
				start, end float64
				slot       int
			}
			var runs []run
			data, _ := os.ReadFile(log)
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
				f := strings.Split(line, "\t")
				start, _ := strconv.ParseFloat(f[2], 64)
				took, _ := strconv.ParseFloat(strings.TrimSpace(f[3]), 64)
				slot, _ := strconv.Atoi(f[8][strings.LastIndexByte(f[8], ' ')+1:])
				if f[1] != host || slot < 1 || slot > 6 {
					t.Errorf("joblog line %q: want host %s and a slot from 1 to 6", line, host)
				}
				runs = append(runs, run{start, start + took, slot})
			}
			for a := range runs {
				for b := range a {
					if runs[a].slot == runs[b].slot && runs[a].start < runs[b].end-0.01 && runs[b].start < runs[a].end-0.01 {
						t.Errorf("two tasks ran at once in slot %d: %+v and %+v", runs[a].slot, runs[a], runs[b])
					}
				}
			}
			var ranks []string
			for _, line := range strings.Split(strings.TrimSpace(j.stdout.String()), "\n") {
				if r := strings.Fields(line)[0]; !slices.Contains(ranks, r) {
					ranks = append(ranks, r)
				}
			}
			if len(runs) != 12 || len(ranks) != 3 {
				t.Errorf("%d joblog lines, tasks ran on ranks %v; want 12 lines and 3 ranks", len(runs), ranks)
			}
		})
	}
}

// TestBadCommandLinesUnderLaunchers: every rank exits 255, and the job says
// what is wrong once.
func TestBadCommandLinesUnderLaunchers(t *testing.T) {
	mpitest.StartsJobs(t)
	for _, l := range mpitest.Launchers {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--bogus", "echo", ":::", "a"}, "unknown option --bogus"},
			{[]string{"echo", "::::", "/nonexistent/inputs"}, "no such file"},
			{[]string{"--resume", "echo", ":::", "a"}, "need --joblog"},
		} {
			t.Run(l.Command+"/"+c.args[0], func(t *testing.T) {
				j := startFarm(t, l.Command, 3, "", c.args...)
				status := j.wait(t, 30*time.Second)
				msg := strings.ToLower(j.stderr.String())
				if status != 255 || bytes.Count([]byte(msg), []byte("hpcmap farm:")) != 1 || !strings.Contains(msg, c.want) {
					t.Errorf("exit %d, stderr %q; want 255 and one message saying %q", status, j.stderr.String(), c.want)
				}
			})
		}
	}
}
