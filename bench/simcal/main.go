// Command simcal measures, on the real MPI, what the map simulator
// (mpimap/sim_*_test.go, make sim) needs from this machine, and runs the real
// maps whose times the simulator predicts. Build it with -tags mpi and start
// it with mpirun.openmpi (bench/sim.sh does both):
//
//	simcal costs   at np=2: MPI call costs through mpi.Comm, and timers
//	simcal map     a Dynamic MapN of known tasks, timed
//
// Rank 0 prints one "name value" line per figure: for a cost, the least of
// -reps repetitions (on a shared machine, other work only ever adds time);
// for a map or a timer, the median:
//
//	costs: pingpong8_ns (round trip of 8 bytes, Send/Recv), pingpong1m_ns
//	(1 MiB into a warm buffer), tryrecv_empty_ns (a TryRecv that finds
//	nothing), tryrecv_msg_ns (one that takes a waiting 64-byte message),
//	isend_ns (Isend of 64 bytes and the Test that sees it complete),
//	sleep1us_ns, sleep1ms_ns, sleep10ms_ns (what a timer of 1 µs, 1 ms and
//	10 ms really sleeps in an idle process: the idle driver's naps)
//	map: map_np, map_cpu (1: spinning tasks, 0: sleeping), map_workers, map_n, map_task_ns (the mean time a task took, as it
//	measured itself), map_load (the load average as it ended), map_ns (the map's time on rank 0, from a barrier),
//	map_efficiency (task time ÷ (np × workers × map time))
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

var (
	reps  = flag.Int("reps", 5, "repetitions per figure (the median is printed)")
	calls = flag.Int("calls", 20000, "calls per repetition of a cost")
	task  = flag.String("task", "spin", "map: spin (CPU-bound) or sleep")
	taskD = flag.Duration("taskdur", time.Millisecond, "map: each task's time")
	tasks = flag.Int("n", 2000, "map: tasks")
	chunk = flag.Int("chunk", 1, "map: Dynamic's chunk")
)

func main() {
	flag.Parse()
	if flag.NArg() != 1 || (flag.Arg(0) != "costs" && flag.Arg(0) != "map") {
		fmt.Fprintln(os.Stderr, "usage: simcal [flags] costs|map")
		os.Exit(2)
	}
	os.Exit(mpi.Run(run))
}

func run(ctx context.Context, world mpi.Comm) error {
	if *reps < 1 || *calls < 1 || *tasks < 0 || *chunk < 1 || *taskD <= 0 {
		return fmt.Errorf("simcal: -reps, -calls, -chunk and -taskdur must be positive, -n not negative")
	}
	if flag.Arg(0) == "map" {
		return realMap(ctx, world)
	}
	if world.Size() != 2 {
		return fmt.Errorf("simcal costs: run at np=2, not %d", world.Size())
	}
	costs := []struct {
		name string
		op   func(mpi.Comm, int) (time.Duration, error)
	}{
		{"pingpong8", func(c mpi.Comm, n int) (time.Duration, error) { return pingPong(c, n, 8) }},
		{"pingpong1m", func(c mpi.Comm, n int) (time.Duration, error) { return pingPong(c, max(n/200, 20), 1<<20) }},
		{"tryrecv_empty", tryRecvEmpty},
		{"tryrecv_msg", tryRecvMsg},
		{"isend", isend},
	}
	for _, f := range costs {
		got := make([]float64, *reps)
		for i := range got {
			d, err := f.op(world, *calls)
			if err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			got[i] = d.Seconds() * 1e9
		}
		if world.Rank() == 0 {
			fmt.Printf("%s_ns %.1f\n", f.name, slices.Min(got))
		}
	}
	if world.Rank() == 0 {
		for _, d := range []time.Duration{time.Microsecond, time.Millisecond, 10 * time.Millisecond} {
			fmt.Printf("sleep%s_ns %.0f\n", map[time.Duration]string{time.Microsecond: "1us",
				time.Millisecond: "1ms", 10 * time.Millisecond: "10ms"}[d], timerSleep(d))
		}
	}
	return world.Barrier()
}

// pingPong is the time of one round trip of size bytes between ranks 0 and
// 1, over n of them, into buffers already touched.
func pingPong(c mpi.Comm, n, size int) (time.Duration, error) {
	msg := make([]byte, size)
	buf := make([]byte, size)
	for i := range msg {
		msg[i], buf[i] = byte(i), byte(i)
	}
	if err := c.Barrier(); err != nil {
		return 0, err
	}
	start := time.Now()
	for range n {
		var err error
		if c.Rank() == 0 {
			if err = c.Send(1, 1, msg); err == nil {
				err = recvInto(c, buf, 1)
			}
		} else {
			if err = recvInto(c, buf, 0); err == nil {
				err = c.Send(0, 1, msg)
			}
		}
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start) / time.Duration(n), nil
}

// recvInto receives into buf, spinning on TryRecv as the map's loops do.
func recvInto(c mpi.Comm, buf []byte, src int) error {
	for {
		_, _, ok, err := c.TryRecv(buf, src, 1)
		if err != nil || ok {
			return err
		}
	}
}

// tryRecvEmpty times rank 0's TryRecv with nothing to receive.
func tryRecvEmpty(c mpi.Comm, n int) (time.Duration, error) {
	buf := make([]byte, 64)
	if err := c.Barrier(); err != nil {
		return 0, err
	}
	var d time.Duration
	if c.Rank() == 0 {
		start := time.Now()
		for range n {
			if _, _, ok, err := c.TryRecv(buf, mpi.AnySource, 2); err != nil || ok {
				return 0, fmt.Errorf("TryRecv: %v, got a message: %v", err, ok)
			}
		}
		d = time.Since(start) / time.Duration(n)
	}
	return d, c.Barrier()
}

// tryRecvMsg times rank 0's TryRecv of 64-byte messages that are waiting,
// in batches that rank 1 sends first.
func tryRecvMsg(c mpi.Comm, n int) (time.Duration, error) {
	const batch = 100
	buf := make([]byte, 64)
	var d time.Duration
	for done := 0; done < n; done += batch {
		if c.Rank() == 1 {
			for range batch {
				if err := c.Send(0, 3, buf); err != nil {
					return 0, err
				}
			}
		}
		if err := c.Barrier(); err != nil {
			return 0, err
		}
		if c.Rank() == 0 {
			// The first call also moves the batch out of the transport's
			// queues; so it would in a map.
			start := time.Now()
			for got := 0; got < batch; {
				_, _, ok, err := c.TryRecv(buf, mpi.AnySource, 3)
				if err != nil {
					return 0, err
				}
				if ok {
					got++
				}
			}
			d += time.Since(start)
		}
		if err := c.Barrier(); err != nil {
			return 0, err
		}
	}
	return d / time.Duration((n+batch-1)/batch*batch), nil
}

// isend times rank 0's Isend of 64 bytes and the Test that sees it done,
// while rank 1 receives.
func isend(c mpi.Comm, n int) (time.Duration, error) {
	const batch = 100
	buf := make([]byte, 64)
	var d time.Duration
	for done := 0; done < n; done += batch {
		if err := c.Barrier(); err != nil {
			return 0, err
		}
		if c.Rank() == 0 {
			start := time.Now()
			reqs := make([]mpi.Request, 0, batch)
			for range batch {
				req, err := c.Isend(1, 4, buf)
				if err != nil {
					return 0, err
				}
				reqs = append(reqs, req)
				for k, r := range reqs {
					if ok, err := r.Test(); err != nil {
						return 0, err
					} else if ok {
						reqs = slices.Delete(reqs, k, k+1)
						break
					}
				}
			}
			d += time.Since(start)
			for _, r := range reqs {
				if err := r.Wait(); err != nil {
					return 0, err
				}
			}
		} else {
			for got := 0; got < batch; {
				_, _, ok, err := c.TryRecv(buf, 0, 4)
				if err != nil {
					return 0, err
				}
				if ok {
					got++
				}
			}
		}
	}
	return d / time.Duration((n+batch-1)/batch*batch), nil
}

// timerSleep is the median time a timer of d really takes to fire, waited
// on as the idle driver waits (a select on its channel).
func timerSleep(d time.Duration) float64 {
	n := 200
	if d >= 10*time.Millisecond {
		n = 30
	}
	got := make([]float64, n)
	t := time.NewTimer(d)
	<-t.C
	for i := range got {
		start := time.Now()
		t.Reset(d)
		<-t.C
		got[i] = float64(time.Since(start))
	}
	return median(got)
}

// realMap times a MapN of -n tasks of -taskdur under Dynamic, rank 0
// computing, and reports the mean time tasks measured themselves.
func realMap(ctx context.Context, world mpi.Comm) error {
	fn := func(_ context.Context, i int) (int64, error) {
		start := time.Now()
		if *task == "sleep" {
			time.Sleep(*taskD)
		} else {
			x := i
			for time.Since(start) < *taskD {
				for range 100 {
					x = x*1664525 + 1013904223
				}
			}
			_ = x
		}
		return int64(time.Since(start)), nil
	}
	opts := []mpimap.Option{mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithChunk(*chunk)}
	times, sums := make([]float64, *reps), make([]float64, *reps)
	for i := -1; i < *reps; i++ { // the first map warms up
		if err := world.Barrier(); err != nil {
			return err
		}
		start := time.Now()
		res, err := mpimap.MapN(ctx, world, *tasks, fn, opts...)
		elapsed := time.Since(start)
		if err != nil {
			return err
		}
		if i < 0 || world.Rank() != 0 {
			continue
		}
		var sum int64
		for _, r := range res {
			sum += r
		}
		times[i], sums[i] = float64(elapsed), float64(sum)
	}
	if world.Rank() == 0 {
		m := median(times)
		k := slices.Index(times, m) // median returns one of them
		workers := runtime.GOMAXPROCS(0)
		cpu := 1
		if *task == "sleep" {
			cpu = 0
		}
		var load float64
		if b, err := os.ReadFile("/proc/loadavg"); err == nil {
			fmt.Sscan(string(b), &load)
		}
		fmt.Printf("map_np %d\nmap_cpu %d\nmap_workers %d\nmap_n %d\nmap_task_ns %.0f\nmap_ns %.0f\nmap_efficiency %.4f\n",
			world.Size(), cpu, workers, *tasks, median(sums)/float64(max(*tasks, 1)), m,
			sums[k]/(float64(world.Size()*workers)*m))
		fmt.Printf("map_load %.2f\n", load) // other work on the machine skews the times
	}
	return nil
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}
