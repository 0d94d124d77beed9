#!/usr/bin/env bash
# test-mpi.sh runs, on the real MPIs, the tests of every package whose tests
# use internal/mpitest: each package's test binary is built with -tags mpi and
# started by mpirun.openmpi at np 1, 2, 3, 4 and 8, then built with -tags
# mpich and started by mpirun.mpich at np 1, 2 and 4. Every rank runs every
# test; a failure on any rank fails the job.
#
# Environment: OPENMPI_NP, MPICH_NP (the rank counts), RUN (a -test.run regexp).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

OPENMPI_NP=${OPENMPI_NP:-"1 2 3 4 8"}
MPICH_NP=${MPICH_NP:-"1 2 4"}
RUN=${RUN:-.}
# More ranks than cores, as root, ranks that yield when idle (see mpi-facts.md).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_btl_vader_single_copy_mechanism=none

pkgs=$(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
	awk '/internal\/mpitest/ && $1 !~ /internal\/mpitest$/ {print $1}')
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

failed=0 passed=0
run() { # tag launcher np pkg binary
	local start=$SECONDS
	if timeout 300 "$2" -np "$3" "$5" -test.run "$RUN" -test.timeout 240s >"$dir/out" 2>&1; then
		passed=$((passed + 1))
		printf 'ok    %-40s %-15s np=%s  %ss\n' "$4" "$2" "$3" $((SECONDS - start))
	else
		failed=$((failed + 1))
		printf 'FAIL  %-40s %-15s np=%s  %ss\n' "$4" "$2" "$3" $((SECONDS - start))
		tail -40 "$dir/out" | sed 's/^/      /'
	fi
}
for pkg in $pkgs; do
	for impl in "mpi mpirun.openmpi $OPENMPI_NP" "mpich mpirun.mpich $MPICH_NP"; do
		set -- $impl
		tag=$1 launcher=$2
		shift 2
		bin=$dir/$(basename "$pkg").$tag.test
		if ! go test -c -tags "$tag" -o "$bin" "$pkg"; then
			failed=$((failed + 1))
			continue
		fi
		for np in "$@"; do run "$tag" "$launcher" "$np" "$pkg" "$bin"; done
	done
done
echo "mpi: $passed passed, $failed failed"
((failed == 0))
