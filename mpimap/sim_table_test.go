package mpimap

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// make sim: the simulator's table, after its calibration, and its
// predictions for real maps next to their times (bench/sim.sh).

var (
	simTable   = flag.Bool("sim.table", false, "print the simulator's table (make sim runs it)")
	simMPI     = flag.String("sim.mpi", "", "bench/simcal costs output: the MPI figures of this machine")
	simReal    = flag.String("sim.real", "", "bench/simcal map outputs, one run after another")
	simRanks   = flag.String("sim.ranks", "1024,10240,102400", "the table's rank counts")
	simBudget  = flag.Int("sim.budget", 8_000_000, "the most tasks a row simulates")
	simWorkers = flag.Int("sim.parallel", 2, "rows simulated at once")
	simMachine = flag.String("sim.machines", "", "the machines' costs: read from this file if it exists, else measured and written to it")
)

// simTask is a task-time column of the table.
type simTask struct {
	name    string
	mean    int64 // ns
	dur     func(int) int64
	perCore int // tasks per worker, before the budget: ideal time 0.2–1 s
}

var simTasks = []simTask{
	{name: "100 µs", mean: 100e3, dur: constant(100e3), perCore: 2000},
	{name: "1 ms", mean: 1e6, dur: constant(1e6), perCore: 500},
	{name: "100 ms", mean: 100e6, dur: constant(100e6), perCore: 10},
	{name: "1 ms lognormal σ = 1", mean: 1e6, dur: lognormal(1e6, 1), perCore: 500},
}

// simLayout is how a node's 128 cores hold ranks.
type simLayout struct {
	name             string
	perNode, workers int
}

var simLayouts = []simLayout{{"rank per core", 128, 1}, {"rank per node", 1, 128}}

// simRow is one line of the table.
type simRow struct {
	ranks   int
	layout  simLayout
	task    simTask
	dealing string
	perCore int // tasks per worker, after the budget
	res     simResult
	err     error
	wall    time.Duration
	// With one rank per node there is no leader: dealing through leaders
	// is flat dealing, and the row is its flat twin's.
	copyOf *simRow
	done   chan struct{}
}

// rowTasks is the tasks of a row: perCore per worker, as many as the budget
// allows, at least one per worker.
func rowTasks(ranks int, l simLayout, t simTask, budget int) int {
	workers := ranks * l.workers
	return max(1, min(t.perCore, budget/workers))
}

func TestSimTable(t *testing.T) {
	if !*simTable {
		t.Skip("the simulator's table: make sim")
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	cost, err := calibrate(out)
	if err != nil {
		t.Fatal(err)
	}
	out.Flush()
	if *simReal != "" {
		if err := compareReal(out, cost, *simReal); err != nil {
			t.Fatal(err)
		}
		out.Flush()
	}
	var ranks []int
	for _, f := range strings.Split(*simRanks, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("-sim.ranks: %q is not a rank count", f)
		}
		ranks = append(ranks, n)
	}
	var rows []*simRow
	for _, n := range ranks {
		for _, l := range simLayouts {
			for _, task := range simTasks {
				flat := &simRow{ranks: n, layout: l, task: task, dealing: "flat", perCore: rowTasks(n, l, task, *simBudget),
					done: make(chan struct{})}
				lead := *flat
				lead.dealing, lead.done = "leaders", make(chan struct{})
				if l.perNode == 1 {
					lead.copyOf = flat
				}
				rows = append(rows, flat, &lead)
			}
		}
	}
	// Rows run two at a time hold a few GB at 102,400 ranks; the GC keeps
	// them within this.
	debug.SetMemoryLimit(int64(max(*simWorkers, 1)) * 2560 << 20)
	fmt.Fprintf(out, "\n## Simulated maps: Dynamic, chunk 1, rank 0 computing\n\n")
	fmt.Fprintln(out, "| ranks | layout | task time | dealing | tasks per worker | makespan | efficiency | steady | rank 0 busy | most peers |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|")
	out.Flush()
	start := time.Now()
	runRows(rows, cost, func(r *simRow) {
		fmt.Fprintln(out, r.line())
		out.Flush()
		if r.err != nil {
			t.Errorf("%d ranks, %s, %s, %s: %v", r.ranks, r.layout.name, r.task.name, r.dealing, r.err)
		}
	})
	fmt.Fprintf(out, "\nTasks per worker: %s, as many as a budget of %s tasks per row allows (at least one). "+
		"Efficiency is task time ÷ (workers × makespan), the makespan running to the last rank's return; "+
		"steady is the same while the middle 80%% of the tasks settle, free of the start and the tail. "+
		"Rank 0 busy is the share of the makespan its driver spends in its loop (not idle). "+
		"With one rank per node there are no leaders (each rank is its node's), so those leaders rows are the flat ones. "+
		"Simulated in %v.\n", taskCounts(), commas(*simBudget), time.Since(start).Round(time.Second))
}

func taskCounts() string {
	var s []string
	for _, t := range simTasks {
		s = append(s, fmt.Sprintf("%s: %d", t.name, t.perCore))
	}
	return strings.Join(s, ", ")
}

// runRows simulates rows, -sim.parallel at a time, and hands each to done in
// order as soon as it and those before it are through.
func runRows(rows []*simRow, cost simCost, done func(*simRow)) {
	var wg sync.WaitGroup
	ready := make([]chan struct{}, len(rows))
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	next := make(chan int)
	for range max(*simWorkers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rows[i].run(cost)
				close(ready[i])
			}
		}()
	}
	go func() {
		for i := range rows {
			next <- i
		}
		close(next)
	}()
	for i, r := range rows {
		<-ready[i]
		done(r)
		rows[i] = nil // its memory can go
	}
	wg.Wait()
}

func (r *simRow) run(cost simCost) {
	defer close(r.done)
	if r.copyOf != nil {
		<-r.copyOf.done
		r.res, r.err = r.copyOf.res, r.copyOf.err
		return
	}
	start := time.Now()
	// A node of 128 cores holds at most 128 ranks: each has a core.
	setup := simSetup{ranks: r.ranks, perNode: r.layout.perNode, workers: r.layout.workers, cpu: true, alone: true,
		tasks: r.perCore * r.ranks * r.layout.workers, chunk: 1, dur: r.task.dur, cost: cost}
	if r.dealing == "leaders" {
		setup.leaders = true
	}
	r.res, r.err = simulate(setup)
	r.wall = time.Since(start)
	runtime.GC()
}

func (r *simRow) line() string {
	cells := []string{commas(r.ranks), r.layout.name, r.task.name, r.dealing, strconv.Itoa(r.perCore)}
	if r.err != nil {
		cells = append(cells, "error: "+r.err.Error(), "", "", "", "")
	} else {
		cells = append(cells, fmtDuration(r.res.makespan), percent(r.res.efficiency), percent(r.res.steady),
			percent(float64(r.res.rootBusy)/float64(max(r.res.makespan, 1))), commas(r.res.maxPeers))
	}
	return "| " + strings.Join(cells, " | ") + " |"
}

// commas writes n with thousands separated: 10,240.
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func percent(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func fmtDuration(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
}

// calibrate measures the machines, reads MPI's figures, and prints both.
func calibrate(out *bufio.Writer) (simCost, error) {
	if *simMPI == "" {
		return simCost{}, fmt.Errorf("-sim.mpi: the output of bench/simcal costs is needed")
	}
	mpi, err := readMPICostsFile(*simMPI)
	if err != nil {
		return simCost{}, err
	}
	mc, machinesFrom, err := machines()
	if err != nil {
		return simCost{}, err
	}
	c, err := costModel(mc, mpi)
	if err != nil {
		return simCost{}, err
	}
	us := func(ns float64) string { return fmt.Sprintf("%.2f µs", ns/1e3) }
	fmt.Fprintf(out, "## Calibration\n\n")
	fmt.Fprintf(out, "Measured on this machine (%d cores, Go %s, GOMAXPROCS=1 for MPI): OpenMPI at np=2 through mpi.Comm (bench/simcal), the real encoders, decoders and state machines in process.\n\n",
		runtime.NumCPU(), runtime.Version())
	fmt.Fprintln(out, "| cost | value | from |")
	fmt.Fprintln(out, "|---|---|---|")
	rows := [][3]string{
		{"TryRecv finding nothing", us(mpi["tryrecv_empty_ns"]), "simcal"},
		{"TryRecv taking a 64-byte message", us(mpi["tryrecv_msg_ns"]), "simcal"},
		{"Isend of 64 bytes + its Test", us(mpi["isend_ns"]), "simcal"},
		{"8-byte ping-pong round trip", us(mpi["pingpong8_ns"]), "simcal"},
		{"1 MiB ping-pong round trip", us(mpi["pingpong1m_ns"]), "simcal"},
		{"timer of 1 µs / 1 ms / 10 ms really sleeps", fmt.Sprintf("%s / %s / %s", us(mpi["sleep1us_ns"]), us(mpi["sleep1ms_ns"]), us(mpi["sleep10ms_ns"])), "simcal, GOMAXPROCS=1"},
		{"appendReport (base, per piece, per result)", triple(mc.encReport), machinesFrom},
		{"readReport", triple(mc.decReport), machinesFrom},
		{"dealer.receive of a decoded report", triple(mc.dealerReceive), machinesFrom},
		{"a leader's node dealer's receive (forwards the pieces, merging them)", triple(mc.leaderReceive), machinesFrom},
		{"worker.done + worker.next", triple(mc.workerNext), machinesFrom},
		{"rank 0's own report to its dealer", triple(mc.local), machinesFrom},
		{"dealer.answer of a request / per request left waiting", fmt.Sprintf("%.0f / %.1f ns", mc.answer, mc.answerWaiting), machinesFrom},
		{"appendOrder / readOrder / worker.receive", fmt.Sprintf("%.0f / %.0f / %.0f ns", mc.encOrder, mc.decOrder, mc.workerReceive), machinesFrom},
		{"pool.finished + worker.next, nothing to do", fmt.Sprintf("%.0f ns", mc.poll), machinesFrom},
		{"**worker: report out (base, per piece, per result)**", triple([3]float64{c.workerSend, c.workerSendPiece, c.workerSendResult}), "sum"},
		{"**worker: order in**", us(c.workerRecv), "sum"},
		{"**rank 0: report in (base, per piece, per result)**", triple([3]float64{c.dealerRecv, c.dealerRecvPiece, c.dealerRecvResult}), "sum"},
		{"**rank 0 or a leader: order out**", us(c.dealerSend), "sum"},
		{"**a leader: report in (base, per piece, per result)**", triple([3]float64{c.leaderRecv, c.leaderRecvPiece, c.leaderRecvResult}), "sum"},
		{"**an idle poll**", us(c.poll), "sum"},
		{"**within a node: latency, per byte**", fmt.Sprintf("%s, %.3f ns/B (%.1f GB/s)", us(float64(c.latencyIn)), c.byteIn, 1/math.Max(c.byteIn, 1e-9)), "ping-pongs, less the CPU at each end"},
		{"**between nodes: latency, per byte, message rate**", fmt.Sprintf("%s, %.4f ns/B (%.0f GB/s), %.0f M/s", us(hdrLatencyNs), c.byteOut, hdrBytesPerNs, hdrMessagesPerS/1e6), "InfiniBand HDR: Azure HBv3, NVIDIA ConnectX-6"},
	}
	for _, r := range rows {
		fmt.Fprintf(out, "| %s | %s | %s |\n", r[0], r[1], r[2])
	}
	return c, nil
}

// machines measures the machines' costs, or reads them (-sim.machines), and
// says where they come from.
func machines() (machineCosts, string, error) {
	if *simMachine != "" {
		if _, err := os.Stat(*simMachine); err == nil {
			mc, err := readMachineCosts(*simMachine)
			return mc, "in process, earlier (" + *simMachine + ")", err
		}
	}
	mc, err := measureMachines(7)
	if err == nil && *simMachine != "" {
		err = writeMachineCosts(*simMachine, mc)
	}
	return mc, "in process", err
}

func triple(v [3]float64) string { return fmt.Sprintf("%.0f, %.0f, %.1f ns", v[0], v[1], v[2]) }

// realRun is one real map that bench/simcal timed.
type realRun map[string]float64

// readRealRuns reads simcal's map outputs: each run begins with map_np.
func readRealRuns(path string) ([]realRun, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []realRun
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 || !strings.HasPrefix(fields[0], "map_") {
			continue
		}
		v, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
		}
		if fields[0] == "map_np" {
			runs = append(runs, realRun{})
		}
		if len(runs) > 0 {
			runs[len(runs)-1][fields[0]] = v
		}
	}
	return runs, sc.Err()
}

// compareReal simulates each real run and prints both.
func compareReal(out *bufio.Writer, cost simCost, path string) error {
	runs, err := readRealRuns(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n## Real maps and the simulator's predictions\n\n")
	fmt.Fprintln(out, "Dynamic, chunk 1, rank 0 computing, one process per rank on this machine, GOMAXPROCS=1; the task time is the mean that the tasks measured.")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| np | tasks | task | real time | simulated | difference | real efficiency | simulated efficiency | load average |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range runs {
		np, n, workers := int(r["map_np"]), int(r["map_n"]), int(r["map_workers"])
		if np < 1 || n < 1 || workers < 1 || r["map_ns"] <= 0 || r["map_task_ns"] <= 0 {
			return fmt.Errorf("%s: incomplete run %v", path, r)
		}
		kind := "spinning"
		if r["map_cpu"] == 0 {
			kind = "sleeping"
		}
		res, err := simulate(simSetup{ranks: np, perNode: np, workers: workers, cpu: r["map_cpu"] != 0, tasks: n,
			alone: np <= runtime.NumCPU(),
			chunk: 1, dur: constant(int64(r["map_task_ns"])), cost: cost})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "| %d | %s | %s %s | %s | %s | %+.1f%% | %s | %s | %.1f |\n", np, commas(n), kind,
			fmtDuration(int64(r["map_task_ns"])), fmtDuration(int64(r["map_ns"])), fmtDuration(res.makespan),
			100*(float64(res.makespan)/r["map_ns"]-1), percent(r["map_efficiency"]), percent(res.efficiency), r["map_load"])
	}
	return nil
}
