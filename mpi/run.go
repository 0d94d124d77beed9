package mpi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hpcmap/hpcmap/internal/ranks"
)

// Run initialises MPI (or, in a build without MPI, the single-process world),
// calls main on every rank, finalises, and returns the process exit code:
//
//	func main() { os.Exit(mpi.Run(run)) }
//
// If main returns an error or panics on any rank, that rank aborts the whole
// job with a non-zero code (1 for an error, 2 for a panic): never a hang,
// never exit 0. It prints "rank R on HOST: <error>" to stderr first, but when
// every rank returns from main within 3 s of the failure, each distinct error
// is printed once instead, "ranks 0-7 on HOST: <error>" when several ranks
// failed alike: a failed map on a thousand ranks says so once, not a
// thousand times.
//
// The context is cancelled on SIGTERM or SIGINT (a Slurm time limit, scancel,
// Ctrl-C, or mpirun forwarding them), so that main can drain and return; a
// second signal has its default effect.
//
// A binary built without MPI, or for the other MPI implementation, that is
// started by a launcher as several ranks fails at once with a message saying
// how to rebuild, instead of running as independent copies.
func Run(main func(ctx context.Context, world Comm) error) int {
	if main == nil {
		fmt.Fprintln(os.Stderr, "mpi: Run called with a nil main")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default action for a second signal
	}()
	return run(ctx, main)
}

// farewellGrace is how long a rank whose main failed waits for every other
// rank to return from main, so that the job can report each failure once and
// finalise, before it reports its own and aborts the job.
const farewellGrace = 3 * time.Second

var errPeersBusy = fmt.Errorf("mpi: not every rank returned from main within %v of this one's failure", farewellGrace)

// reportFailures is called on every rank once all have returned from main,
// err being this rank's failure or nil, and says whether any rank failed.
// Each distinct error is printed to w once, by the lowest rank that has it,
// naming every rank that has it: "ranks 0-2 on n1, n2: flag provided but not
// defined: -bogus" instead of a line per rank. Ranks are compared by a hash
// of their error's text and their host, so the errors never travel whole.
func reportFailures(c Comm, err error, w io.Writer) (anyFailed bool, _ error) {
	failed, text := byte(0), ""
	if err != nil {
		failed, text = 1, err.Error()
		var re *RankError
		if errors.As(err, &re) {
			text = re.Err.Error()
		}
	}
	sum := sha256.Sum256([]byte(text))
	mine := append(append([]byte{failed}, sum[:]...), c.Host()...)
	const key = 1 + sha256.Size // failed, then the hash; then the host
	all, gerr := AllgatherSlice(c, mine)
	if gerr != nil {
		return false, fmt.Errorf("mpi: reporting the ranks' failures: %w", gerr)
	}
	for _, p := range all {
		anyFailed = anyFailed || len(p) > 0 && p[0] == 1
	}
	if failed == 0 {
		return anyFailed, nil
	}
	var alike []int
	var hosts []string
	for q, p := range all {
		if len(p) < key || !bytes.Equal(p[:key], mine[:key]) {
			continue
		}
		if q < c.Rank() {
			return true, nil // a lower rank reports it
		}
		alike = append(alike, q)
		if h := string(p[key:]); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	_, werr := fmt.Fprintf(w, "%s: %s\n", rankLabel(alike, hosts), text)
	return true, werr
}

// rankLabel names ranks (ascending) and their hosts: "rank 3 on n1",
// "ranks 0-2, 5 on n1, n2", or "ranks 0-99 on 12 hosts".
func rankLabel(rs []int, hosts []string) string {
	if len(hosts) > 4 {
		return fmt.Sprintf("%s on %d hosts", ranks.Noun(rs), len(hosts))
	}
	return ranks.Noun(rs) + " on " + strings.Join(hosts, ", ")
}

// exitCode is the code a failed rank exits or aborts with.
func exitCode(err error) int {
	if re, ok := err.(*RankError); ok && re.Panic {
		return 2
	}
	return 1
}

// launchSize is the number of ranks the launcher's environment announces, and
// the variable that says so; 0 when there is none. It reads the variables of
// OpenMPI's mpirun, of PMI launchers (MPICH's hydra, srun --mpi=pmi2), and of a
// Slurm job step (srun with any plugin).
func launchSize(getenv func(string) string) (int, string) {
	for _, v := range []string{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS"} {
		if n, err := strconv.Atoi(getenv(v)); err == nil && n > 0 {
			return n, v
		}
	}
	return 0, ""
}

// launchMismatch explains a process that the launcher started as one of n
// ranks but that sees a world of size ranks; nil when they agree.
func launchMismatch(getenv func(string) string, size int, build string) error {
	n, v := launchSize(getenv)
	if n <= 1 || n == size {
		return nil
	}
	return fmt.Errorf("mpi: the launcher started %d ranks (%s=%d) but this process sees %d: %s; "+
		"rebuild with -tags mpi for OpenMPI or -tags mpich for MPICH, matching the launcher (mpirun.openmpi, mpirun.mpich, or srun --mpi=pmix for OpenMPI, --mpi=pmi2 for MPICH)",
		n, v, n, size, build)
}

// Implementation names the MPI this binary was built for: "OpenMPI" (build tag
// mpi), "MPICH" (build tag mpich), or "" in a build without MPI.
func Implementation() string { return implementation }
