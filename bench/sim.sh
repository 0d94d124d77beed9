#!/usr/bin/env bash
# sim.sh is `make sim`: it calibrates the map simulator on this machine,
# runs real maps at np=2 and np=4 next to the simulator's predictions for
# them, and prints the simulator's table of maps at 1,024 to 102,400 ranks
# (mpimap/sim_*_test.go; docs/scale.md explains the model and the table).
#
#   1. bench/simcal costs, at np=2 under OpenMPI, one rank per core and
#      GOMAXPROCS=1, without mpi_yield_when_idle: the MPI costs and timers.
#   2. bench/simcal map: real Dynamic maps of spinning tasks at np=2 (one
#      rank per core) and of sleeping tasks at np=4 (more ranks than cores:
#      tasks that spin would share the cores).
#   3. The mpimap test binary's TestSimTable: the machines' costs measured
#      in process, the predictions for step 2, and the table.
#
# Environment (all optional):
#   SIM_RANKS="1024,10240,102400"  the table's rank counts
#   SIM_BUDGET=16000000            the most tasks a row simulates
#   SIM_PARALLEL=2                 rows simulated at once
#   SIM_BUILD=bench/build/sim      where binaries and outputs go
#   SIM_REUSE=1                    skip steps 1 and 2 and the in-process
#                                  measurements: reuse those of the last run
#                                  in SIM_BUILD (on a busy machine, they are
#                                  what it is busy with, not the map's costs)
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${SIM_BUILD:-bench/build/sim}
mkdir -p "$BUILD"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
go build -tags mpi -o "$BUILD/simcal" ./bench/simcal
go test -c -o "$BUILD/mpimap.test" ./mpimap

if [ -n "${SIM_REUSE:-}" ]; then
	for f in mpi.txt real.txt machines.txt; do
		[ -s "$BUILD/$f" ] || { echo "sim: SIM_REUSE: no $BUILD/$f from an earlier run" >&2; exit 2; }
	done
	echo "sim: reusing the calibration of $(date -r "$BUILD/machines.txt")" >&2
else
	rm -f "$BUILD/machines.txt"
	cores=$(nproc)
	echo "sim: MPI costs at np=2 (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
	mpirun.openmpi -np 2 -x GOMAXPROCS=1 "$BUILD/simcal" costs >"$BUILD/mpi.txt"

	# real NP YIELD ARGS...: one real map, appended to real.txt.
	real() {
		local np=$1 yield=$2
		shift 2
		echo "sim: real map at np=$np: $*" >&2
		env OMPI_MCA_mpi_yield_when_idle="$yield" OMPI_MCA_rmaps_base_oversubscribe=1 \
			OMPI_MCA_hwloc_base_binding_policy="$([ "$np" -le "$cores" ] && echo core || echo none)" \
			mpirun.openmpi -np "$np" -x GOMAXPROCS=1 "$BUILD/simcal" -reps 3 "$@" map >>"$BUILD/real.txt"
	}
	: >"$BUILD/real.txt"
	real 2 0 -task spin -taskdur 1ms -n 2000
	real 2 0 -task spin -taskdur 100us -n 10000
	real 4 1 -task sleep -taskdur 1ms -n 2000
	real 4 1 -task sleep -taskdur 100us -n 10000
fi

echo "sim: simulating" >&2
# Niced: the machine may be shared, and the simulation's times are virtual.
nice "$BUILD/mpimap.test" -test.run '^TestSimTable$' -test.timeout 2h -sim.table \
	-sim.mpi "$BUILD/mpi.txt" -sim.real "$BUILD/real.txt" -sim.machines "$BUILD/machines.txt" \
	-sim.ranks "${SIM_RANKS:-1024,10240,102400}" -sim.budget "${SIM_BUDGET:-16000000}" \
	-sim.parallel "${SIM_PARALLEL:-2}" | grep -v '^PASS$'
