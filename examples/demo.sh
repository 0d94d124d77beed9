#!/bin/sh
# demo.sh is what `make demo` runs: it installs OpenMPI with apt when it is
# missing, builds the examples for it into bin/, runs auc and the full
# 324-point mcscan on 2 ranks, once more under the Block schedule for its
# trace, and says where the results and the traces' pictures are.
set -eu
cd "$(dirname "$0")/.."

if ! command -v mpirun.openmpi >/dev/null 2>&1 || ! pkg-config --exists ompi 2>/dev/null; then
	echo "demo: OpenMPI is missing; installing it with apt-get"
	sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	$sudo apt-get install -y pkg-config openmpi-bin libopenmpi-dev
fi

echo "demo: building bin/auc and bin/mcscan for OpenMPI"
go build -tags mpi -o bin/ ./examples/auc ./examples/mcscan

# OpenMPI refuses to run as root without being told twice; let 2 ranks share a
# smaller machine, and keep idle ranks from spinning; leave the ranks unbound so
# each one's goroutines may use every core; and do without the single-copy
# transport that some containers forbid. Anything already set is kept.
if [ "$(id -u)" = 0 ]; then
	export OMPI_ALLOW_RUN_AS_ROOT="${OMPI_ALLOW_RUN_AS_ROOT:-1}"
	export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}"
fi
export OMPI_MCA_rmaps_base_oversubscribe="${OMPI_MCA_rmaps_base_oversubscribe:-1}"
export OMPI_MCA_mpi_yield_when_idle="${OMPI_MCA_mpi_yield_when_idle:-1}"
export OMPI_MCA_hwloc_base_binding_policy="${OMPI_MCA_hwloc_base_binding_policy:-none}"
export OMPI_MCA_btl_vader_single_copy_mechanism="${OMPI_MCA_btl_vader_single_copy_mechanism:-none}"

# Two ranks share this machine: give each half the cores, so that ranks ×
# workers fit the CPUs (the placement line would warn otherwise).
export GOMAXPROCS=${GOMAXPROCS:-$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))}

run() {
	echo
	echo "\$ $*"
	timeout 300 "$@"
}
run mpirun.openmpi -np 2 bin/auc -n 100
run mpirun.openmpi -np 2 bin/auc -n 20000000
# Every point samples until its error bar is within 1% (-target-err), so
# slowly mixing points (small β, small h) cost up to 64 times more: uneven
# costs, as in real scans.
scan=(-iterations 20000 -target-err 0.01 -trace)
run mpirun.openmpi -np 2 bin/mcscan -out mc_data -progress "${scan[@]}"
# The same scan under the Block schedule, for its trace alone: beside the
# first one it shows what dealing points dynamically changes.
run mpirun.openmpi -np 2 bin/mcscan -out mc_data/block -schedule block -pictures=false "${scan[@]}"

echo
echo "demo: the scan is in mc_data/scan.csv; look at mc_data/acceptance.png and mc_data/deviation.png"
echo "demo: how the points ran, a lane per worker: mc_data/trace.png (dynamic schedule) against"
echo "      mc_data/block/trace.png (block). Pale red is a worker idle after its last point until the"
echo "      map ends: the tail Block leaves when one rank's share of the grid costs more. Dynamic"
echo "      deals points as ranks free up, and its lanes end together; the titles give the idle share."
