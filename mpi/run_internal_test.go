package mpi

import (
	"strings"
	"testing"
)

func TestLaunchMismatch(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	cases := []struct {
		name string
		env  func(string) string
		size int
		want string // "" for no error
	}{
		{"no launcher", env(), 1, ""},
		{"OpenMPI, sizes agree", env("OMPI_COMM_WORLD_SIZE", "4"), 4, ""},
		{"OpenMPI launcher, world of 1", env("OMPI_COMM_WORLD_SIZE", "4"), 1, "OMPI_COMM_WORLD_SIZE=4"},
		{"hydra launcher, world of 1", env("PMI_SIZE", "2"), 1, "PMI_SIZE=2"},
		{"srun step, world of 1", env("SLURM_STEP_NUM_TASKS", "8"), 1, "SLURM_STEP_NUM_TASKS=8"},
		{"one-rank launch", env("PMI_SIZE", "1"), 1, ""},
		{"garbage", env("PMI_SIZE", "x"), 1, ""},
	}
	for _, tc := range cases {
		err := launchMismatch(tc.env, tc.size, "it was built without MPI")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "-tags mpi")):
			t.Errorf("%s: got %v, want an error naming %s and the fix", tc.name, err, tc.want)
		}
	}
}

func TestImplementationOf(t *testing.T) {
	for _, c := range []struct{ version, want string }{
		{"Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4, May 26, 2022", "OpenMPI"},
		{"MPICH Version:\t4.0.2\nMPICH Release date:\tThu Apr  7 12:34:45 CDT 2022\nMPICH ABI:\t14:2:2", "MPICH"},
		{"Intel(R) MPI Library 2021.10 for Linux* OS\n", "Intel MPI"},
		{"MPI VERSION    : CRAY MPICH version 8.1.25.17 (ANL base 3.4a2)\nMPI BUILD INFO : Built Mon Feb 13", "Cray MPICH"},
		{"MVAPICH2 Version      :\t2.3.7\nMVAPICH2 Release date :\tWed March 02 22:00:00 EST 2022", "MVAPICH"},
		{"HPE MPT 2.25  08/13/21 03:16:26", "HPE MPT"},
		{"IBM Spectrum MPI 10.04.00.03, based on Open MPI v4.1", "Spectrum MPI"},
		{"  Acme MPI 1.0\nbuilt yesterday", "Acme MPI 1.0"},
	} {
		if got := implementationOf(c.version); got != c.want {
			t.Errorf("implementationOf(%q) = %q, want %q", c.version, got, c.want)
		}
	}
}
