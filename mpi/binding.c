//go:build (mpi || mpich || mpicc) && !(mpi && mpich) && !(mpi && mpicc) && !(mpich && mpicc)

// The C half of the binding: every call into MPI that the Go half makes goes
// through one of these helpers (binding.h lists them), so that MPI's macros,
// whose values and types differ between implementations, are named only here.

#include <limits.h>
#include <stddef.h>
#include "binding.h"

static int hp_source(int s) { return s < 0 ? MPI_ANY_SOURCE : s; }
static int hp_tag(int t) { return t < 0 ? MPI_ANY_TAG : t; }
MPI_Comm hp_world(void) { return MPI_COMM_WORLD; }

int hp_init(int *provided) {
	int err = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided);
	if (err == MPI_SUCCESS) {
		// Errors come back as codes, to become Go errors, instead of aborting.
		MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	}
	*provided = *provided >= MPI_THREAD_SERIALIZED;
	return err;
}

// A message of n bytes travels as one element of a derived type when n is too
// large for an int count: bigBytes big blocks, then the remainder.
static long long hp_block = 1LL << 30;

static int hp_bytes_type(long long n, MPI_Datatype *t, int *count) {
	if (n <= INT_MAX && n <= hp_block) {
		*t = MPI_BYTE;
		*count = (int)n;
		return MPI_SUCCESS;
	}
	MPI_Datatype block, blocks;
	long long nblocks = n / hp_block, rest = n % hp_block;
	int err = MPI_Type_contiguous((int)hp_block, MPI_BYTE, &block);
	if (err) return err;
	err = MPI_Type_contiguous((int)nblocks, block, &blocks);
	MPI_Type_free(&block);
	if (err) return err;
	int lens[2] = {1, (int)rest};
	MPI_Aint displs[2] = {0, (MPI_Aint)(nblocks * hp_block)};
	MPI_Datatype types[2] = {blocks, MPI_BYTE};
	err = MPI_Type_create_struct(2, lens, displs, types, t);
	MPI_Type_free(&blocks);
	if (err) return err;
	*count = 1;
	return MPI_Type_commit(t);
}

static void hp_type_free(MPI_Datatype t) {
	if (t != MPI_BYTE) MPI_Type_free(&t);
}

int hp_send(MPI_Comm c, char *buf, long long n, int dst, int tag) {
	MPI_Datatype t; int count;
	int err = hp_bytes_type(n, &t, &count);
	if (err) return err;
	err = MPI_Send(buf, count, t, dst, tag, c);
	hp_type_free(t);
	return err;
}

// The buffer of an Isend is Go memory that the caller has pinned: no
// noescape for this one, MPI keeps the pointer until the request completes.
int hp_isend(MPI_Comm c, char *buf, long long n, int dst, int tag, MPI_Request *req) {
	MPI_Datatype t; int count;
	int err = hp_bytes_type(n, &t, &count);
	if (err) return err;
	err = MPI_Isend(buf, count, t, dst, tag, c, req);
	hp_type_free(t); // freed once the send no longer needs it
	return err;
}

int hp_test(MPI_Request *req, int *flag) { return MPI_Test(req, flag, MPI_STATUS_IGNORE); }

static int hp_status(MPI_Status *st, int *src, int *tag, long long *n) {
	MPI_Count count;
	int err = MPI_Get_elements_x(st, MPI_BYTE, &count);
	*src = st->MPI_SOURCE;
	*tag = st->MPI_TAG;
	*n = count;
	return err;
}

int hp_probe(MPI_Comm c, int src, int tag, int *osrc, int *otag, long long *n) {
	MPI_Status st;
	int err = MPI_Probe(hp_source(src), hp_tag(tag), c, &st);
	if (err) return err;
	return hp_status(&st, osrc, otag, n);
}

int hp_iprobe(MPI_Comm c, int src, int tag, int *flag, int *osrc, int *otag, long long *n) {
	MPI_Status st;
	int err = MPI_Iprobe(hp_source(src), hp_tag(tag), c, flag, &st);
	if (err || !*flag) return err;
	return hp_status(&st, osrc, otag, n);
}

int hp_recv(MPI_Comm c, char *buf, long long n, int src, int tag) {
	MPI_Datatype t; int count;
	int err = hp_bytes_type(n, &t, &count);
	if (err) return err;
	err = MPI_Recv(buf, count, t, src, tag, c, MPI_STATUS_IGNORE);
	hp_type_free(t);
	return err;
}

// hp_probe_recv probes for a message, waiting for one if block is set, and
// when it fits in the cap bytes at buf receives it there in the same call:
// one cgo transition per message instead of two. *flag says whether there
// was a message, *n its length, *got whether it is in buf.
int hp_probe_recv(MPI_Comm c, int src, int tag, int block, char *buf, long long cap,
                         int *flag, int *osrc, int *otag, long long *n, int *got) {
	int err = block ? hp_probe(c, src, tag, osrc, otag, n)
	                : hp_iprobe(c, src, tag, flag, osrc, otag, n);
	if (block) *flag = 1;
	*got = 0;
	if (err || !*flag || *n > cap) return err;
	err = hp_recv(c, buf, *n, *osrc, *otag);
	*got = err == MPI_SUCCESS;
	return err;
}

int hp_bcast_len(MPI_Comm c, long long *n, int root) {
	return MPI_Bcast(n, 1, MPI_LONG_LONG, root, c);
}

void hp_set_block(long long n) { hp_block = n; }

int hp_bcast(MPI_Comm c, char *buf, long long n, int root) {
	MPI_Datatype t; int count;
	int err = hp_bytes_type(n, &t, &count);
	if (err) return err;
	err = MPI_Bcast(buf, count, t, root, c);
	hp_type_free(t);
	return err;
}

int hp_gather_counts(MPI_Comm c, int *count, int *counts, int root) {
	return MPI_Gather(count, 1, MPI_INT, counts, 1, MPI_INT, root, c);
}

int hp_gatherv(MPI_Comm c, char *buf, int n, char *all, int *counts, int *displs, int root) {
	return MPI_Gatherv(buf, n, MPI_BYTE, all, counts, displs, MPI_BYTE, root, c);
}

int hp_scatter_counts(MPI_Comm c, int *counts, int *count, int root) {
	return MPI_Scatter(counts, 1, MPI_INT, count, 1, MPI_INT, root, c);
}

int hp_scatterv(MPI_Comm c, char *all, int *counts, int *displs, char *buf, int n, int root) {
	return MPI_Scatterv(all, counts, displs, MPI_BYTE, buf, n, MPI_BYTE, root, c);
}

// The handles of the element types and operations, by their numbers in Go
// (which fills these, naming each handle there).
static MPI_Datatype hp_types[HP_MAX_TYPES];
static MPI_Op hp_ops[HP_MAX_OPS];

void hp_set_type(int t, MPI_Datatype d) { hp_types[t] = d; }
void hp_set_op(int o, MPI_Op op) { hp_ops[o] = op; }

int hp_reduce(MPI_Comm c, char *dst, char *src, int n, int t, int op, int root) {
	return MPI_Reduce(src, dst, n, hp_types[t], hp_ops[op], root, c);
}

int hp_allreduce(MPI_Comm c, char *dst, char *src, int n, int t, int op) {
	return MPI_Allreduce(src, dst, n, hp_types[t], hp_ops[op], c);
}

int hp_split(MPI_Comm c, int color, int key, MPI_Comm *out, int *isnull) {
	int err = MPI_Comm_split(c, color < 0 ? MPI_UNDEFINED : color, key, out);
	*isnull = err == MPI_SUCCESS && *out == MPI_COMM_NULL;
	return err;
}

int hp_dup(MPI_Comm c, MPI_Comm *out) { return MPI_Comm_dup(c, out); }

int hp_node_leader(MPI_Comm c, int *leader) {
	int rank, err;
	MPI_Comm node;
	if ((err = MPI_Comm_rank(c, &rank))) return err;
	if ((err = MPI_Comm_split_type(c, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node))) return err;
	err = MPI_Allreduce(&rank, leader, 1, MPI_INT, MPI_MIN, node);
	MPI_Comm_free(&node);
	return err;
}
int hp_ibarrier(MPI_Comm c, MPI_Request *req) { return MPI_Ibarrier(c, req); }

void hp_library_version(char *buf) {
	int len = 0;
	MPI_Get_library_version(buf, &len);
	buf[len] = 0;
}

void hp_error(int code, char *buf, int *class) {
	int len = 0;
	MPI_Error_string(code, buf, &len);
	buf[len] = 0;
	if (MPI_Error_class(code, class) != MPI_SUCCESS) *class = MPI_ERR_UNKNOWN;
}
