#!/usr/bin/env bash
# demo.sh is what `make demo` runs: it finds the MPI of this machine, builds
# the examples for it into bin/, runs auc and the full 324-point mcscan on 2
# ranks, once more under the Block schedule for its trace, and says where the
# results and the traces' pictures are.
#
# The MPI is what a cluster's `module load` or a package put on the paths:
# the launcher is $MPIRUN (words, e.g. "srun --mpi=pmix"), else mpirun, else
# mpiexec; the build is -tags mpi for Open MPI's launcher where pkg-config
# knows ompi, -tags mpich for MPICH's where it knows mpich, and otherwise
# -tags mpicc with the flags of $MPICC, or of the mpicc beside the launcher or
# on PATH. Only where no MPI is found at all, on Debian or Ubuntu, does it
# install OpenMPI with apt-get (scripts/deps.sh); anywhere else it says what
# to load.
#
# DEMO_QUICK=1 runs small problems only, to test that all of this works.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "demo: $*"; }
die() { echo "demo: $*" >&2; exit 1; }

command -v go >/dev/null || die "go not found: install Go (https://go.dev/dl) or load its module (module load go)"

# launcher_of prints the launcher's command words, one a line; nothing if none.
launcher_of() {
	if [[ -n ${MPIRUN:-} ]]; then
		printf '%s\n' $MPIRUN
		return
	fi
	local l
	for l in mpirun mpiexec; do
		if command -v "$l" >/dev/null; then
			command -v "$l"
			return
		fi
	done
}

# flavour_of LAUNCHER prints openmpi, mpich or unknown: what its --version says.
flavour_of() {
	local v
	v=$("$1" --version 2>&1 | head -5 || true)
	case $v in
	*"Open MPI"* | *"OpenRTE"*) echo openmpi ;;
	*HYDRA* | *MPICH*) echo mpich ;;
	*) echo unknown ;;
	esac
}

# mpicc_for LAUNCHER prints the C compiler wrapper to take flags from: $MPICC,
# the mpicc beside the launcher, or mpicc on PATH; nothing if none.
mpicc_for() {
	local beside
	beside=$(dirname "$(command -v "$1" || echo .)")/mpicc
	if [[ -n ${MPICC:-} ]]; then
		echo "$MPICC"
	elif [[ -x $beside ]]; then
		echo "$beside"
	else
		command -v mpicc || true
	fi
}

has_pc() { pkg-config --exists "$1" 2>/dev/null; }

mapfile -t launcher < <(launcher_of)
if ((${#launcher[@]} == 0)) && ! has_pc ompi && ! has_pc mpich && ! command -v mpicc >/dev/null; then
	if [[ -e /etc/debian_version ]] && command -v apt-get >/dev/null; then
		say "no MPI found; installing OpenMPI with apt-get"
		bash scripts/deps.sh openmpi
		mapfile -t launcher < <(launcher_of)
	else
		die "no MPI found: load one (module load openmpi, or mpich) and run make demo again"
	fi
fi
((${#launcher[@]} > 0)) || die "no MPI launcher found: load your MPI's module, or name the launcher in MPIRUN (MPIRUN=srun under Slurm)"

flavour=$(flavour_of "${launcher[0]}")
mpicc=$(mpicc_for "${launcher[0]}")
if [[ $flavour == openmpi ]] && has_pc ompi; then
	tag=mpi how="OpenMPI (pkg-config ompi)"
elif [[ $flavour == mpich ]] && has_pc mpich; then
	tag=mpich how="MPICH (pkg-config mpich)"
elif [[ -n $mpicc ]]; then
	tag=mpicc how="the MPI of $mpicc (-tags mpicc)"
	eval "$(scripts/mpicc-flags.sh "$mpicc")"
else
	die "found ${launcher[0]} but nothing to build with: load your MPI's development module, which brings mpicc"
fi

say "building bin/auc and bin/mcscan for $how; launching with ${launcher[*]}"
mkdir -p bin
go build -tags "$tag" -o bin/ ./examples/auc ./examples/mcscan

# OpenMPI refuses to run as root without being told twice; let 2 ranks share a
# smaller machine, and keep idle ranks from spinning; leave the ranks unbound so
# each one's goroutines may use every core; and do without the single-copy
# transport that some containers forbid. Anything already set is kept; other
# MPIs ignore these.
if [[ $(id -u) == 0 ]]; then
	export OMPI_ALLOW_RUN_AS_ROOT="${OMPI_ALLOW_RUN_AS_ROOT:-1}"
	export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}"
fi
export OMPI_MCA_rmaps_base_oversubscribe="${OMPI_MCA_rmaps_base_oversubscribe:-1}"
export OMPI_MCA_mpi_yield_when_idle="${OMPI_MCA_mpi_yield_when_idle:-1}"
export OMPI_MCA_hwloc_base_binding_policy="${OMPI_MCA_hwloc_base_binding_policy:-none}"
export OMPI_MCA_btl_vader_single_copy_mechanism="${OMPI_MCA_btl_vader_single_copy_mechanism:-none}"

# Two ranks share this machine: give each half the cores, so that ranks ×
# workers fit the CPUs (the placement line would warn otherwise).
export GOMAXPROCS=${GOMAXPROCS:-$(($(nproc) / 2 > 0 ? $(nproc) / 2 : 1))}

np=(-np 2)
[[ $(basename "${launcher[0]}") == srun ]] && np=(-n 2)
run() {
	echo
	echo "\$ ${launcher[*]} ${np[*]} $*"
	timeout 300 "${launcher[@]}" "${np[@]}" "$@"
}
if [[ ${DEMO_QUICK:-} == 1 ]]; then
	run bin/auc -n 100
	run bin/mcscan -out mc_data -betas 1,2 -ms 1 -hs 1 -iterations 1000 -pictures=false
	echo
	say "quick run done; the scan is in mc_data/scan.csv"
	exit 0
fi
run bin/auc -n 100
run bin/auc -n 20000000
# Every point samples until its error bar is within 1% (-target-err), so
# slowly mixing points (small β, small h) cost up to 64 times more: uneven
# costs, as in real scans.
scan=(-iterations 20000 -target-err 0.01 -trace)
run bin/mcscan -out mc_data -progress "${scan[@]}"
# The same scan under the Block schedule, for its trace alone: beside the
# first one it shows what dealing points dynamically changes.
run bin/mcscan -out mc_data/block -schedule block -pictures=false "${scan[@]}"

echo
say "the scan is in mc_data/scan.csv; look at mc_data/acceptance.png and mc_data/deviation.png"
say "how the points ran, a lane per worker: mc_data/trace.png (dynamic schedule) against"
echo "      mc_data/block/trace.png (block). Pale red is a worker idle after its last point until the"
echo "      map ends: the tail Block leaves when one rank's share of the grid costs more. Dynamic"
echo "      deals points as ranks free up, and its lanes end together; the titles give the idle share."
