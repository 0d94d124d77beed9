// binding.h declares the C helpers of binding.c, the only code that calls MPI.
// Each returns MPI's error code (MPI_SUCCESS or an error) unless it says
// otherwise. Buffers are char* rather than void*: cgo checks the memory behind
// an unsafe.Pointer argument for Go pointers on every call, but not a pointer
// to plain bytes. Ranks and tags below zero stand for MPI_ANY_SOURCE and
// MPI_ANY_TAG, whose values differ between implementations.

#ifndef HPCMAP_BINDING_H
#define HPCMAP_BINDING_H

#include <mpi.h>

// Start-up.
MPI_Comm hp_world(void);
int hp_init(int *provided); // *provided: whether MPI_THREAD_SERIALIZED was granted
int hp_dup(MPI_Comm c, MPI_Comm *out);
int hp_split(MPI_Comm c, int color, int key, MPI_Comm *out, int *isnull);
// hp_node_leader sets *leader to the lowest rank of c that shares memory
// with the caller (MPI_Comm_split_type with MPI_COMM_TYPE_SHARED).
int hp_node_leader(MPI_Comm c, int *leader);
// hp_library_version writes MPI_Get_library_version's text (buf:
// MPI_MAX_LIBRARY_VERSION_STRING+1 bytes); it works before MPI_Init.
void hp_library_version(char *buf);
// hp_error describes an error code: its text (buf: MPI_MAX_ERROR_STRING+1
// bytes) and its class.
void hp_error(int code, char *buf, int *class);

// Messages of any length in bytes; those over an int count travel as one
// element of a derived type (hp_set_block lowers that size, for tests).
void hp_set_block(long long n);
int hp_send(MPI_Comm c, char *buf, long long n, int dst, int tag);
int hp_isend(MPI_Comm c, char *buf, long long n, int dst, int tag, MPI_Request *req);
int hp_test(MPI_Request *req, int *flag);
int hp_recv(MPI_Comm c, char *buf, long long n, int src, int tag);
int hp_probe(MPI_Comm c, int src, int tag, int *osrc, int *otag, long long *n);
int hp_iprobe(MPI_Comm c, int src, int tag, int *flag, int *osrc, int *otag, long long *n);
int hp_probe_recv(MPI_Comm c, int src, int tag, int block, char *buf, long long cap,
                  int *flag, int *osrc, int *otag, long long *n, int *got);

// Collectives.
int hp_ibarrier(MPI_Comm c, MPI_Request *req);
int hp_bcast_len(MPI_Comm c, long long *n, int root);
int hp_bcast(MPI_Comm c, char *buf, long long n, int root);
int hp_gather_counts(MPI_Comm c, int *count, int *counts, int root);
int hp_gatherv(MPI_Comm c, char *buf, int n, char *all, int *counts, int *displs, int root);
int hp_scatter_counts(MPI_Comm c, int *counts, int *count, int root);
int hp_scatterv(MPI_Comm c, char *all, int *counts, int *displs, char *buf, int n, int root);
// Reductions name their element type and operation by number; Go sets the
// handle of each number once, at start-up. (Numbers rather than handles per
// call: Open MPI's handles are pointers, which cgo checks on every call.)
#define HP_MAX_TYPES 16
#define HP_MAX_OPS 8
void hp_set_type(int t, MPI_Datatype d);
void hp_set_op(int o, MPI_Op op);
int hp_reduce(MPI_Comm c, char *dst, char *src, int n, int t, int op, int root);
int hp_allreduce(MPI_Comm c, char *dst, char *src, int n, int t, int op);

#endif
