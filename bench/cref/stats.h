/* stats.h: the median of the C references' timings (ref.c, dealer.c, gather.c). */
#ifndef HPCMAP_CREF_STATS_H
#define HPCMAP_CREF_STATS_H

#include <stdlib.h>

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* median sorts v, of n values, and returns its median. */
static inline double median(double *v, int n) {
	qsort(v, n, sizeof v[0], cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
