/*
 * gather.c is the C reference for hpcmap's large results (mapbench -big): rank
 * 0 receives 256 MiB of results, messages of 32 KiB or 1 MiB that the other
 * ranks send in turn, each straight into its slot of a results array, as
 * well as MPI allows. It prints, as "name value" lines for bench/run.sh:
 *
 *   gather_<size>_gbs       results' bytes per second, in GB/s, received into
 *                           fresh memory (a new array each time, as every map
 *                           of hpcmap makes one)
 *   gather_<size>_warm_gbs  the same into an array touched before
 *   first_touch_gbs         writing fresh memory for the first time
 *   second_touch_gbs        writing it again
 *
 * (size 32k or 1m), each the median of REPS repetitions after a warm-up.
 *
 * Usage: mpirun -np N gather [reps]   (N >= 2; reps defaults to 5)
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "stats.h"

#define BIG (256L << 20)

/* fresh maps memory that no one has touched: its pages come at first touch. */
static char *fresh(void) {
	void *p = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("gather: mmap");
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	return p;
}

/* gather times one gathering of messages of size bytes into res on rank 0,
 * the other ranks sending task i's result from rank 1 + i % (np-1), and
 * returns GB/s on rank 0. */
static double gather(char *res, char *buf, long size, int rank, int np) {
	long n = BIG / size;
	MPI_Barrier(MPI_COMM_WORLD);
	double t = MPI_Wtime();
	for (long i = 0; i < n; i++) {
		int from = 1 + (int)(i % (np - 1));
		if (rank == 0) {
			MPI_Recv(res + i * size, (int)size, MPI_BYTE, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else if (rank == from) {
			buf[0] = (char)i;
			MPI_Send(buf, (int)size, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
		}
	}
	t = MPI_Wtime() - t;
	if (rank == 0) {
		for (long i = 0; i < n; i++) {
			if (res[i * size] != (char)i) {
				fprintf(stderr, "gather: result %ld is wrong\n", i);
				MPI_Abort(MPI_COMM_WORLD, 1);
			}
		}
	}
	return BIG / t / 1e9;
}

static double touch_rate(char *p) {
	double t = MPI_Wtime();
	memset(p, 1, BIG);
	return BIG / (MPI_Wtime() - t) / 1e9;
}

int main(int argc, char **argv) {
	MPI_Init(&argc, &argv);
	int rank, np;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &np);
	int reps = argc > 1 ? atoi(argv[1]) : 5;
	if (np < 2 || reps < 1) {
		if (rank == 0)
			fprintf(stderr, "usage: mpirun -np N gather [reps]  (N >= 2)\n");
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	double *v = malloc(sizeof(double) * reps), *w = malloc(sizeof(double) * reps);
	const long sizes[] = {32L << 10, 1L << 20};
	const char *names[] = {"32k", "1m"};
	char *buf = malloc(1L << 20);
	memset(buf, 0, 1L << 20);
	for (int s = 0; s < 2; s++) {
		char *warm = rank == 0 ? fresh() : NULL;
		if (warm)
			memset(warm, 0, BIG);
		for (int r = -1; r < reps; r++) {
			char *res = rank == 0 ? fresh() : NULL;
			double cold = gather(res, buf, sizes[s], rank, np);
			double hot = gather(warm, buf, sizes[s], rank, np);
			if (res)
				munmap(res, BIG);
			if (r >= 0) {
				v[r] = cold;
				w[r] = hot;
			}
		}
		if (rank == 0) {
			printf("gather_%s_gbs %.4g\n", names[s], median(v, reps));
			printf("gather_%s_warm_gbs %.4g\n", names[s], median(w, reps));
			munmap(warm, BIG);
		}
	}
	if (rank == 0) {
		for (int r = 0; r < reps; r++) {
			char *p = fresh();
			v[r] = touch_rate(p);
			w[r] = touch_rate(p);
			munmap(p, BIG);
		}
		printf("first_touch_gbs %.4g\nsecond_touch_gbs %.4g\n", median(v, reps), median(w, reps));
	}
	free(v);
	free(w);
	free(buf);
	MPI_Finalize();
	return 0;
}
