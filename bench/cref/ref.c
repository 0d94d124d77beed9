/*
 * ref.c is the C MPI reference for hpcmap's benchmarks: the floor that the Go
 * layer's latencies are compared against, measured at the launcher's np.
 *
 *   pingpong_us   8-byte round trip between ranks 0 and 1 (others wait)
 *   allreduce_us  MPI_Allreduce of one double over all ranks
 *   probe_pingpong_us   the round trip with each receive preceded by an
 *                 MPI_Probe for the length, as a receive of a message of
 *                 unknown size must be (what mpi.Comm's Recv does)
 *   mprobe_pingpong_us  the same with MPI_Mprobe + MPI_Mrecv
 *
 * Each figure is the median over REPS repetitions of ITERS iterations (after
 * a warm-up), printed by rank 0 as "name value" lines for bench/run.sh.
 *
 * With -serialized, MPI is initialised as hpcmap's mpi package does it, at
 * MPI_THREAD_SERIALIZED, and every name gets the prefix "serialized_". The
 * level has a price of its own: Open MPI takes its internal locks at any level
 * above MPI_THREAD_SINGLE.
 *
 * Usage: mpirun -np N ref [-serialized] [iters [reps]]   (defaults 20000 and 7)
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* How a ping-pong receives: knowing the length, or finding it out first. */
enum recv_mode { KNOWN, PROBE, MPROBE };

static void receive(char *buf, int src, enum recv_mode mode) {
	MPI_Status st;
	MPI_Message msg;
	int n;
	switch (mode) {
	case KNOWN:
		MPI_Recv(buf, 8, MPI_BYTE, src, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		break;
	case PROBE:
		MPI_Probe(src, 0, MPI_COMM_WORLD, &st);
		MPI_Get_count(&st, MPI_BYTE, &n);
		MPI_Recv(buf, n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		break;
	case MPROBE:
		MPI_Mprobe(src, 0, MPI_COMM_WORLD, &msg, &st);
		MPI_Get_count(&st, MPI_BYTE, &n);
		MPI_Mrecv(buf, n, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
		break;
	}
}

/* pingpong returns the mean round-trip time in seconds over iters round trips. */
static double pingpong(int rank, int iters, enum recv_mode mode) {
	char buf[8] = {0};
	double t0;
	MPI_Barrier(MPI_COMM_WORLD);
	t0 = MPI_Wtime();
	if (rank == 0) {
		for (int i = 0; i < iters; i++) {
			MPI_Send(buf, 8, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
			receive(buf, 1, mode);
		}
	} else if (rank == 1) {
		for (int i = 0; i < iters; i++) {
			receive(buf, 0, mode);
			MPI_Send(buf, 8, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
		}
	}
	return (MPI_Wtime() - t0) / iters;
}

/* allreduce returns the mean time in seconds of one MPI_Allreduce of a double. */
static double allreduce(int iters) {
	double x = 1, y;
	double t0;
	MPI_Barrier(MPI_COMM_WORLD);
	t0 = MPI_Wtime();
	for (int i = 0; i < iters; i++) {
		MPI_Allreduce(&x, &y, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
	}
	return (MPI_Wtime() - t0) / iters;
}

int main(int argc, char **argv) {
	int rank, size, iters = 20000, reps = 7;
	double *pp, *ar, *pr, *mp;

	const char *prefix = "";
	int arg = 1, provided = MPI_THREAD_SINGLE;
	if (argc > arg && strcmp(argv[arg], "-serialized") == 0) {
		prefix = "serialized_";
		arg++;
		MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
	} else {
		MPI_Init(&argc, &argv);
	}
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (argc > arg) iters = atoi(argv[arg]);
	if (argc > arg + 1) reps = atoi(argv[arg + 1]);
	if (size < 2 || iters < 1 || reps < 1 || (*prefix && provided < MPI_THREAD_SERIALIZED)) {
		if (rank == 0) fprintf(stderr, "ref: need np >= 2, iters >= 1, reps >= 1 and the thread level asked for (np=%d iters=%d reps=%d level=%d)\n", size, iters, reps, provided);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	pp = malloc(reps * sizeof *pp);
	ar = malloc(reps * sizeof *ar);
	pr = malloc(reps * sizeof *pr);
	mp = malloc(reps * sizeof *mp);

	/* Warm up connections and caches so the first repetition is not an outlier. */
	pingpong(rank, iters / 10 + 1, KNOWN);
	allreduce(iters / 10 + 1);
	/* Interleaved, so that a spell of load from elsewhere hits all alike. */
	for (int r = 0; r < reps; r++) {
		pp[r] = pingpong(rank, iters, KNOWN);
		ar[r] = allreduce(iters);
		pr[r] = pingpong(rank, iters, PROBE);
		mp[r] = pingpong(rank, iters, MPROBE);
	}
	if (rank == 0) {
		printf("np %d\n", size);
		printf("%spingpong_us %.3f\n", prefix, median(pp, reps) * 1e6);
		printf("%sallreduce_us %.3f\n", prefix, median(ar, reps) * 1e6);
		printf("%sprobe_pingpong_us %.3f\n", prefix, median(pr, reps) * 1e6);
		printf("%smprobe_pingpong_us %.3f\n", prefix, median(mp, reps) * 1e6);
	}
	free(pp);
	free(ar);
	free(pr);
	free(mp);
	MPI_Finalize();
	return 0;
}
