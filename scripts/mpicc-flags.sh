#!/bin/sh
# mpicc-flags.sh [MPICC] prints, for `eval`, the cgo flags that build hpcmap
# with -tags mpicc against the MPI whose C compiler wrapper is MPICC (default:
# $MPICC, else mpicc on PATH):
#
#   eval "$(scripts/mpicc-flags.sh)" && go build -tags mpicc ./examples/auc
#
# It asks the wrapper what it adds to a compiler's command line: OpenMPI's
# wrappers answer --showme, MPICH's and its derivatives' (Intel MPI, MVAPICH,
# Cray's cc) -show. Include paths and macros go to CGO_CFLAGS, everything else
# (library paths, libraries, linker options) to CGO_LDFLAGS; Go's own default
# CGO_CFLAGS (-O2 -g) are kept.
set -eu
mpicc=${1:-${MPICC:-mpicc}}
if ! command -v "$mpicc" >/dev/null 2>&1; then
	echo "mpicc-flags.sh: $mpicc not found: load your MPI (module load openmpi, say) or name its wrapper" >&2
	exit 1
fi
line=$("$mpicc" -show 2>/dev/null) || line=$("$mpicc" --showme 2>/dev/null) || {
	echo "mpicc-flags.sh: $mpicc answers neither -show nor --showme" >&2
	exit 1
}
cflags="-O2 -g" ldflags=""
first=true
for word in $line; do
	if $first; then # the compiler itself
		first=false
		continue
	fi
	case $word in
	-I* | -D* | -pthread) cflags="$cflags $word" ;;
	esac
	case $word in
	-I* | -D*) ;;
	*) ldflags="${ldflags:+$ldflags }$word" ;;
	esac
done
printf "export CGO_CFLAGS='%s' CGO_LDFLAGS='%s'\n" "$cflags" "$ldflags"
