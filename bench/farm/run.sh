#!/usr/bin/env bash
# bench/farm/run.sh — tasks per second of hpcmap farm against GNU Parallel
# and xargs, on two slots each, for trivial tasks (true) and 10 ms tasks
# (sleep 0.01). Part of make bench (bench/run.sh calls it); it can also run
# alone from the project root.
#
# The three run in turns (farm, GNU Parallel, xargs, farm, ...), LAUNCHES
# times each, and the median wall time of each decides its figure, so that a
# spell of load from elsewhere falls on all three. Each run is a whole
# process: the farm's figure includes mpirun starting two ranks, GNU
# Parallel's its Perl start-up. xargs execs the command itself, with no
# shell: fork and exec alone, the limit for any tool that starts a process
# per task. GNU Parallel runs each task under /bin/sh; the farm does too for
# `true` (a builtin), and execs `sleep 0.01` itself, as dash would (a plain
# command line: docs/farm.md, Performance).
#
# Environment (all optional):
#   LAUNCHES=3        runs of each tool and workload
#   FARM_TASKS=500    tasks per run
#   BENCH_BUILD=bench/build  where the binary goes
set -u -o pipefail

cd "$(dirname "$0")/../.." || exit 1
LAUNCHES=${LAUNCHES:-3}
N=${FARM_TASKS:-500}
BUILD=${BENCH_BUILD:-bench/build}
mkdir -p "$BUILD/logs"
warn() { echo "bench farm: $*" >&2; }

for cmd in mpirun.openmpi parallel xargs; do
	command -v "$cmd" >/dev/null || {
		warn "$cmd not found (make deps installs OpenMPI and GNU Parallel)"
		exit 1
	}
done
if ! go build -tags mpi -o "$BUILD/hpcmap" ./cmd/hpcmap >"$BUILD/logs/build-hpcmap.log" 2>&1; then
	warn "building cmd/hpcmap failed:"
	sed 's/^/    /' "$BUILD/logs/build-hpcmap.log" >&2
	exit 1
fi

# OpenMPI as root on a small machine (as in bench/run.sh).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export PARALLEL_SHELL=/bin/sh

# Each task's argument is "0.01": sleep takes it as its duration; true ignores it.
args=$BUILD/farm-args
yes 0.01 | head -n "$N" >"$args"

# wall CMD...: runs CMD, output discarded, and prints its wall time in seconds.
wall() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>>"$BUILD/logs/farm-bench.err" || warn "failed: $*"
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A secs
load=$(cut -d' ' -f1 /proc/loadavg)
start=$SECONDS
for task in true sleep; do
	declare -A runs=([farm]="" [gnu]="" [xargs]="")
	for ((i = 1; i <= LAUNCHES; i++)); do
		runs[farm]+="$(wall mpirun.openmpi -np 2 "$BUILD/hpcmap" farm -j1 -a "$args" "$task") "
		runs[gnu]+="$(wall parallel --will-cite -j2 -a "$args" "$task") "
		runs[xargs]+="$(wall xargs -P2 -n1 -a "$args" "$task") "
	done
	for tool in farm gnu xargs; do
		secs[$task.$tool]=$(tr ' ' '\n' <<<"${runs[$tool]}" | grep . | median)
	done
done

rate() { awk -v n="$N" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", b / a }'; } # of rates: time b over time a
# over SECONDS: the time of a slot per task beyond the task's own 10 ms.
over() { awk -v n="$N" -v s="$1" 'BEGIN { printf "%.1f", 2 * s / n * 1000 - 10 }'; }

echo
echo "| $N tasks on 2 slots | hpcmap farm (2 ranks × -j1) | GNU Parallel -j2 | xargs -P2 | farm ÷ xargs | farm ÷ GNU Parallel |"
echo "|---|---|---|---|---|---|"
for task in true sleep; do
	label='`true`'
	[ "$task" = sleep ] && label='`sleep 0.01`'
	echo "| $label (tasks/s) | $(rate "${secs[$task.farm]}") | $(rate "${secs[$task.gnu]}") | $(rate "${secs[$task.xargs]}") |" \
		"$(ratio "${secs[$task.farm]}" "${secs[$task.xargs]}") | $(ratio "${secs[$task.farm]}" "${secs[$task.gnu]}") |"
done
echo "| \`sleep 0.01\`: a slot's time per task beyond the 10 ms (ms) | $(over "${secs[sleep.farm]}") | $(over "${secs[sleep.gnu]}") | $(over "${secs[sleep.xargs]}") | | |"
echo
echo "Median of $LAUNCHES runs of each, in turns; whole processes (start-up included). Goal: farm ≥ 0.7× xargs -P2." \
	"$(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n), $(nproc) cores, load average $load at the start, $((SECONDS - start)) s of runs."
echo
echo "Published per-task overheads of task farms with a server of their own (not measured here):"
echo
echo "| tool | per task | source |"
echo "|---|---|---|"
echo "| HyperQueue | about 0.1 ms of the server's scheduling | README and FAQ, github.com/It4innovations/hyperqueue |"
echo "| NERSC TaskFarmer | the server handles 5–10 tasks/s, i.e. 100–200 ms per task, on a node of its own | docs.nersc.gov/jobs/workflow/taskfarmer |"
echo "| disBatch | no figure published; a Python controller hands out each task through a TCP key-value store | github.com/flatironinstitute/disBatch (Readme.md, DesignNotes.md) |"
