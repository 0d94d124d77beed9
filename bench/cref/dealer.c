// dealer.c is the C reference for Map's dealing: the protocol of
// mpimap.Dynamic, written in plain MPI. Rank 0 answers chunk requests from
// any source and stores the results that come with them; each other rank
// keeps two requests in flight and returns a chunk's results with its next
// request. Tasks are empty: each task's result is its index (8 bytes), so
// what is measured is the cost of dealing.
//
//	mpirun -np 2 dealer [-serialized]
//
// prints, for chunks of 1 and 16 tasks, "cdealer_chunkK_tps RATE", the
// median of 5 timed runs of at least 0.2 s each.
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

enum { TAG = 7, MAXCHUNK = 16, REPS = 5 };

static double now(void) { return MPI_Wtime(); }

// deal runs one map of n tasks in chunks of chunk; rank 0 returns the time.
static double deal(int rank, int np, int64_t n, int chunk, int64_t *results) {
	// A request: [start, count, result...]; a reply: [start, count].
	int64_t msg[2 + MAXCHUNK], reply[2];
	MPI_Status st;
	MPI_Barrier(MPI_COMM_WORLD);
	double t0 = now();
	if (rank == 0) {
		int64_t next = 0;
		int done = 0;
		while (done < np - 1) {
			MPI_Recv(msg, 2 + MAXCHUNK, MPI_INT64_T, MPI_ANY_SOURCE, TAG, MPI_COMM_WORLD, &st);
			if (msg[1] > 0) memcpy(results + msg[0], msg + 2, msg[1] * sizeof(int64_t));
			if (msg[1] < 0) { // the worker's last word: it has no request out
				done++;
				continue;
			}
			reply[0] = next;
			reply[1] = next + chunk <= n ? chunk : n - next;
			next += reply[1];
			MPI_Send(reply, 2, MPI_INT64_T, st.MPI_SOURCE, TAG, MPI_COMM_WORLD);
		}
	} else {
		msg[0] = 0, msg[1] = 0;
		MPI_Send(msg, 2, MPI_INT64_T, 0, TAG, MPI_COMM_WORLD);
		MPI_Send(msg, 2, MPI_INT64_T, 0, TAG, MPI_COMM_WORLD);
		int out = 2; // requests in flight
		while (out > 0) {
			MPI_Recv(reply, 2, MPI_INT64_T, 0, TAG, MPI_COMM_WORLD, &st);
			out--;
			if (reply[1] == 0) continue; // the supply is empty
			msg[0] = reply[0], msg[1] = reply[1];
			for (int64_t k = 0; k < reply[1]; k++) msg[2 + k] = reply[0] + k; // the tasks
			MPI_Send(msg, 2 + (int)reply[1], MPI_INT64_T, 0, TAG, MPI_COMM_WORLD);
			out++;
		}
		msg[1] = -1;
		MPI_Send(msg, 2, MPI_INT64_T, 0, TAG, MPI_COMM_WORLD);
	}
	MPI_Barrier(MPI_COMM_WORLD);
	return now() - t0;
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "-serialized") == 0) {
		int provided;
		MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
	} else {
		MPI_Init(&argc, &argv);
	}
	int rank, np;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &np);
	int chunks[] = {1, 16};
	for (int c = 0; c < 2; c++) {
		int chunk = chunks[c];
		// Grow n until one map takes 0.2 s; rank 0 decides.
		int64_t n = 1000;
		int64_t *results = NULL;
		for (;;) {
			results = realloc(results, n * sizeof(int64_t));
			memset(results, 0, n * sizeof(int64_t)); // warm: first touch is slow here
			double t = deal(rank, np, n, chunk, results);
			int64_t grow = t < 0.2 ? n * 2 : 0;
			MPI_Bcast(&grow, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
			if (!grow) break;
			n = grow;
		}
		double rates[REPS];
		for (int r = 0; r < REPS; r++) rates[r] = n / deal(rank, np, n, chunk, results);
		if (rank == 0) {
			for (int64_t i = 0; i < n; i++)
				if (results[i] != i) {
					fprintf(stderr, "dealer: result %lld is %lld\n", (long long)i, (long long)results[i]);
					MPI_Abort(MPI_COMM_WORLD, 1);
				}
			printf("cdealer_chunk%d_tps %.4g\n", chunk, median(rates, REPS));
		}
		free(results);
	}
	MPI_Finalize();
	return 0;
}
