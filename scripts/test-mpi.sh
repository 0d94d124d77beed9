#!/usr/bin/env bash
# test-mpi.sh runs, on the real MPIs, the tests of every package whose tests
# use internal/mpitest: each package's test binary is built with -tags mpi and
# started by mpirun.openmpi at np 1, 2, 3, 4 and 8, then built with -tags
# mpich and started by mpirun.mpich at np 1, 2 and 4. Every rank runs every
# test; a failure on any rank fails the job.
#
# Then the build for any MPI (-tags mpicc, its flags from a compiler wrapper
# by scripts/mpicc-flags.sh) is tested the same way, once with the flags of
# mpicc.openmpi under mpirun.openmpi and once with mpicc.mpich's under
# mpirun.mpich, for the packages nearest the binding (MPICC_PKGS); each test
# binary must link the library of the MPI whose flags built it.
#
# Last, scripts/test-demo.sh runs `make demo` as a cluster user would.
#
# Environment: OPENMPI_NP, MPICH_NP, MPICC_NP (the rank counts), MPICC_PKGS,
# RUN (a -test.run regexp), DEMO=0 (no demo).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

OPENMPI_NP=${OPENMPI_NP:-"1 2 3 4 8"}
MPICH_NP=${MPICH_NP:-"1 2 4"}
MPICC_NP=${MPICC_NP:-"1 3"}
MPICC_PKGS=${MPICC_PKGS:-"./mpi ./mpimap ./internal/agree"}
RUN=${RUN:-.}
# More ranks than cores, as root, ranks that yield when idle (see mpi-facts.md).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_btl_vader_single_copy_mechanism=none

pkgs=$(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
	awk '/internal\/mpitest/ && $1 !~ /internal\/mpitest$/ {print $1}')
mpicc_pkgs=$(go list $MPICC_PKGS) || exit 1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

failed=0 passed=0
fail() { # name, message: count a failure and show why
	failed=$((failed + 1))
	printf 'FAIL  %s\n' "$1"
	[[ -z ${2:-} ]] || printf '%s\n' "$2" | tail -40 | sed 's/^/      /'
}
run() { # label launcher np pkg binary
	local start=$SECONDS
	if timeout 300 "$2" -np "$3" "$5" -test.run "$RUN" -test.timeout 240s >"$dir/out" 2>&1; then
		passed=$((passed + 1))
		printf 'ok    %-40s %-22s np=%s  %ss\n' "$4" "$1 ($2)" "$3" $((SECONDS - start))
	else
		fail "$(printf '%-40s %-22s np=%s  %ss' "$4" "$1 ($2)" "$3" $((SECONDS - start)))" "$(cat "$dir/out")"
	fi
}
# test LABEL TAG LAUNCHER LIBRARY PKGS NPS: build each package's tests with
# TAG (and the cgo flags in the environment), check that the binary links
# LIBRARY, and run it under LAUNCHER at each rank count.
test_build() {
	local label=$1 tag=$2 launcher=$3 lib=$4 pkgs=$5 nps=$6 pkg bin out
	for pkg in $pkgs; do
		bin=$dir/$(basename "$pkg").$label.test
		if ! out=$(go test -c -tags "$tag" -o "$bin" "$pkg" 2>&1); then
			fail "$pkg $label: build" "$out"
			continue
		fi
		out=$(ldd "$bin")
		if ! grep -q "/$lib\.so" <<<"$out"; then
			fail "$pkg $label: the test binary does not link $lib" "$out"
			continue
		fi
		for np in $nps; do run "$label" "$launcher" "$np" "$pkg" "$bin"; done
	done
}
test_build mpi mpi mpirun.openmpi libmpi "$pkgs" "$OPENMPI_NP"
test_build mpich mpich mpirun.mpich libmpich "$pkgs" "$MPICH_NP"
# test_mpicc IMPL LIBRARY: the mpicc build with the flags of mpicc.IMPL, which
# stay in this function.
test_mpicc() {
	local CGO_CFLAGS CGO_LDFLAGS flags
	if ! flags=$(scripts/mpicc-flags.sh "mpicc.$1" 2>&1); then
		fail "mpicc.$1: no flags" "$flags"
		return
	fi
	eval "$flags"
	test_build "mpicc:$1" mpicc "mpirun.$1" "$2" "$mpicc_pkgs" "$MPICC_NP"
}
test_mpicc openmpi libmpi
test_mpicc mpich libmpich
if [[ ${DEMO:-1} != 0 ]]; then
	if out=$(bash scripts/test-demo.sh 2>&1); then
		passed=$((passed + 1))
		printf '%s\n' "$out"
	else
		fail "make demo as a cluster user" "$out"
	fi
fi
echo "mpi: $passed passed, $failed failed"
((failed == 0))
