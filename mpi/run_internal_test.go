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
