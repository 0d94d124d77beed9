"""futures_bench.py measures mpi4py.futures mapping empty tasks: the Python
baseline that hpcmap's Dynamic schedule is compared against.

Run it under the mpi4py.futures launcher, so that rank 0 runs this script and
the other ranks serve as workers (rank 0 only deals, as in the Go benchmark
with rank 0 kept from computing):

    mpirun.openmpi -np 2 /usr/bin/python3 -m mpi4py.futures bench/futures_bench.py

Prints, for each chunk size, the median over --reps maps of tasks per second:

    futures_chunk1_tps 2950
    futures_chunk16_tps 41000
"""

import argparse
import statistics
import time

from mpi4py.futures import MPIPoolExecutor


def empty(i):
    """The empty task: returns its argument, like the Go benchmark's."""
    return i


def rate(executor, n, chunksize):
    """Tasks per second of one map of n empty tasks; results are consumed
    (in order) so that the whole map is timed, not just its submission."""
    start = time.perf_counter()
    got = sum(1 for _ in executor.map(empty, range(n), chunksize=chunksize))
    elapsed = time.perf_counter() - start
    if got != n:
        raise RuntimeError(f"map returned {got} results for {n} tasks")
    return n / elapsed


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n1", type=int, default=1500, help="tasks per map at chunksize 1")
    p.add_argument("--n16", type=int, default=20000, help="tasks per map at chunksize 16")
    p.add_argument("--reps", type=int, default=3, help="maps per chunk size (median reported)")
    args = p.parse_args()

    with MPIPoolExecutor() as executor:
        # Warm up: start the workers and the communication before timing.
        rate(executor, 200, 1)
        for name, n, chunk in (("futures_chunk1_tps", args.n1, 1), ("futures_chunk16_tps", args.n16, 16)):
            rates = [rate(executor, n, chunk) for _ in range(args.reps)]
            print(f"{name} {statistics.median(rates):.0f}", flush=True)


if __name__ == "__main__":
    main()
