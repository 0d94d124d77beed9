package farm

import (
	"fmt"
	"math/bits"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// usableCPUs is the number of CPUs this process may run on: its affinity
// mask, which under Slurm is --cpus-per-task and under mpirun what the
// binding left.
func usableCPUs() int {
	var mask [1024 / 64]uint64
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask[0])))
	if errno != 0 {
		return runtime.NumCPU()
	}
	n := 0
	for _, w := range mask {
		n += bits.OnesCount64(w)
	}
	return max(1, n)
}

// parseJobs reads -j for a rank that may use cpus CPUs: N; N% of the CPUs;
// +N or -N more or fewer than the CPUs (at least 1).
func parseJobs(v string, cpus int) (int, error) {
	bad := fmt.Errorf("-j %s: want a number of tasks at a time per rank (N, N%%, +N or -N of the CPUs)", v)
	switch {
	case strings.HasSuffix(v, "%"):
		p, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil || p <= 0 {
			return 0, bad
		}
		return max(1, int(float64(cpus)*p/100)), nil
	case strings.HasPrefix(v, "+"), strings.HasPrefix(v, "-"):
		d, err := strconv.Atoi(v)
		if err != nil {
			return 0, bad
		}
		return max(1, cpus+d), nil
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		return 0, bad
	case n == 0:
		return 0, fmt.Errorf("-j 0 (as many as possible) is not supported: give a number of tasks at a time per rank")
	case n < 0:
		return 0, bad
	}
	return n, nil
}

// visibleGPUs lists the GPUs this rank may give its tasks: its
// CUDA_VISIBLE_DEVICES when set (as Slurm sets it for --gpus), otherwise
// the devices /dev/nvidia0, /dev/nvidia1, ...
func visibleGPUs(getenv func(string) string) []string {
	if v := getenv("CUDA_VISIBLE_DEVICES"); v != "" {
		var ids []string
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		return ids
	}
	devs, _ := filepath.Glob("/dev/nvidia[0-9]*")
	var nums []int
	for _, d := range devs {
		if n, err := strconv.Atoi(strings.TrimPrefix(d, "/dev/nvidia")); err == nil {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	ids := make([]string, len(nums))
	for k, n := range nums {
		ids[k] = strconv.Itoa(n)
	}
	return ids
}

// rankSlots decides a rank's job slots: how many tasks it runs at a time,
// and with --gpus-per-task each slot's devices. Without -j a rank runs one
// task per CPU it may use, or fewer if its GPUs run out first.
func rankSlots(o *options, cpus int, getenv func(string) string) (slots int, gpus [][]string, err error) {
	if o.jobs != "" {
		if slots, err = parseJobs(o.jobs, cpus); err != nil {
			return 0, nil, err
		}
	} else {
		slots = cpus
	}
	if o.gpusPerTask == 0 {
		return slots, nil, nil
	}
	ids := visibleGPUs(getenv)
	have := len(ids) / o.gpusPerTask
	switch {
	case have == 0:
		return 0, nil, fmt.Errorf("--gpus-per-task %d: this rank sees %d GPUs (CUDA_VISIBLE_DEVICES=%q)", o.gpusPerTask, len(ids), getenv("CUDA_VISIBLE_DEVICES"))
	case o.jobs == "":
		slots = min(slots, have)
	case slots > have:
		return 0, nil, fmt.Errorf("-j %d with --gpus-per-task %d needs %d GPUs per rank, but this rank sees %d (%s)",
			slots, o.gpusPerTask, slots*o.gpusPerTask, len(ids), strings.Join(ids, ","))
	}
	for k := range slots {
		gpus = append(gpus, ids[k*o.gpusPerTask:(k+1)*o.gpusPerTask])
	}
	return slots, gpus, nil
}
