#!/usr/bin/env bash
# run.sh is `make bench`: it builds the Go benchmark (bench/mapbench) for both
# MPIs and the C reference (bench/cref/ref.c), runs them and the mpi4py.futures
# baseline (bench/futures_bench.py) at np=2 and np=4 on OpenMPI and np=2 on
# MPICH, and prints one markdown table side by side.
#
# Every program repeats each measurement and prints the median of its
# repetitions; this script launches each program LAUNCHES times and keeps the
# best median (highest rate, lowest latency), so that a burst of load from
# something else on the machine does not decide the figure.
#
# Environment (all optional):
#   LAUNCHES=2        launches per program and configuration
#   BENCH_YIELD=auto  OpenMPI's mpi_yield_when_idle: auto = 1 only when the
#                     ranks outnumber the cores (oversubscribed ranks that
#                     busy-poll starve each other), or 0 / 1 for every run
#   BENCH_TIMEOUT=60  seconds allowed per launch
#   BENCH_CONFIGS="openmpi:2 openmpi:4 mpich:2"
#   BENCH_BUILD=bench/build  where binaries and logs go
#   BENCH_BIG=1       the large results' figures (mapbench -big beside
#                     bench/cref/gather.c), on the configurations of np=2;
#                     0 leaves them out (they take minutes)
#   BIG_TIMEOUT=900   seconds allowed per launch of those
set -u -o pipefail

cd "$(dirname "$0")/.." || exit 1
LAUNCHES=${LAUNCHES:-2}
BENCH_YIELD=${BENCH_YIELD:-auto}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-60}
BENCH_CONFIGS=${BENCH_CONFIGS:-"openmpi:2 openmpi:4 mpich:2"}
BUILD=${BENCH_BUILD:-bench/build}
BENCH_BIG=${BENCH_BIG:-1}
BIG_TIMEOUT=${BIG_TIMEOUT:-900}
PY=/usr/bin/python3 # Debian's python3-mpi4py is installed for this one
CORES=$(nproc)
mkdir -p "$BUILD/logs"

failed=0
warn() { echo "bench: $*" >&2; }

# OpenMPI as root on a small machine (see mpi-facts.md): allow root, allow
# more ranks than cores, do not bind (a bound Go rank sees GOMAXPROCS=1), and
# work in containers that block process_vm_readv.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none
export OMPI_MCA_btl_vader_single_copy_mechanism=none

# ---- build -----------------------------------------------------------------
declare -A built # built[impl.prog]=1
build() { # build NAME LOG CMD...: run CMD, remember success under NAME
	local name=$1 log=$2
	shift 2
	if "$@" >"$log" 2>&1; then
		built[$name]=1
	else
		warn "building $name failed (see $log):"
		sed 's/^/    /' "$log" | head -20 >&2
		failed=1
	fi
}
for impl in openmpi mpich; do
	tag=mpi
	[ "$impl" = mpich ] && tag=mpich
	if ! command -v "mpicc.$impl" >/dev/null; then
		warn "mpicc.$impl not found: install $([ "$impl" = mpich ] && echo 'mpich libmpich-dev' || echo 'openmpi-bin libopenmpi-dev')"
		failed=1
		continue
	fi
	build "$impl.ref" "$BUILD/logs/build-ref.$impl.log" \
		"mpicc.$impl" -O2 -Wall -o "$BUILD/ref.$impl" bench/cref/ref.c
	build "$impl.dealer" "$BUILD/logs/build-dealer.$impl.log" \
		"mpicc.$impl" -O2 -Wall -o "$BUILD/dealer.$impl" bench/cref/dealer.c
	build "$impl.gather" "$BUILD/logs/build-gather.$impl.log" \
		"mpicc.$impl" -O2 -Wall -o "$BUILD/gather.$impl" bench/cref/gather.c
	build "$impl.go" "$BUILD/logs/build-go.$impl.log" \
		go build -tags "$tag,hpcmapbench" -o "$BUILD/mapbench.$impl" ./bench/mapbench
done
have_futures=0
if "$PY" -c 'import mpi4py.futures' 2>/dev/null; then
	have_futures=1
else
	warn "$PY cannot import mpi4py.futures (apt-get install python3-mpi4py): its rows are left empty"
fi

# ---- run -------------------------------------------------------------------
declare -A val # val[config.key]=best value

# launch CFG I NAME CMD...: run CMD under the launcher of CFG (impl:np), as
# launch number I, and keep for each "key value" line it prints the best value
# so far.
launch() {
	local cfg=$1 i=$2 name=$3 impl=${1%%:*} np=${1##*:}
	shift 3
	local runner yield=$BENCH_YIELD
	if [ "$yield" = auto ]; then
		yield=0
		[ "$np" -gt "$CORES" ] && yield=1
	fi
	if [ "$impl" = openmpi ]; then
		runner=(env "OMPI_MCA_mpi_yield_when_idle=$yield" mpirun.openmpi -np "$np")
	else
		runner=(mpirun.mpich -np "$np")
	fi
	local log="$BUILD/logs/$name.$impl.np$np.$i.log" key v
	if ! timeout -k 5 "${LAUNCH_TIMEOUT:-$BENCH_TIMEOUT}" "${runner[@]}" "$@" >"$log" 2>&1; then
		warn "$name on $impl np=$np failed or timed out (see $log):"
		sed 's/^/    /' "$log" | tail -8 >&2
		failed=1 # the figures it printed before failing still count
	fi
	while read -r key v; do
		case $key in
		*_us | *_ratio | *_mib | *_s | *_s_p1 | *_per_result) better='<' ;;
		*_gbs) better='>' ;;
		*_tps_p1) better='>' ;;
		*_tps) better='>' ;;
		*) continue ;;
		esac
		if [ -z "${val[$cfg.$key]:-}" ] ||
			awk -v a="$v" -v b="${val[$cfg.$key]}" "BEGIN{exit !(a $better b)}"; then
			val[$cfg.$key]=$v
		fi
	done <"$log"
}

start=$SECONDS
load=$(cut -d' ' -f1 /proc/loadavg) # others' work on the machine skews every figure
for cfg in $BENCH_CONFIGS; do
	impl=${cfg%%:*}
	echo "bench: $impl np=${cfg##*:}" >&2
	# The programs take turns, launch by launch, so that a spell of load from
	# elsewhere falls on the C reference and on Go alike, not on one of them.
	for ((i = 1; i <= LAUNCHES; i++)); do
		if [ -n "${built[$impl.ref]:-}" ]; then
			launch "$cfg" "$i" ref "$BUILD/ref.$impl"
			launch "$cfg" "$i" ref-serialized "$BUILD/ref.$impl" -serialized
		fi
		[ -n "${built[$impl.dealer]:-}" ] && launch "$cfg" "$i" dealer "$BUILD/dealer.$impl" -serialized
		if [ -n "${built[$impl.go]:-}" ]; then
			launch "$cfg" "$i" mapbench "$BUILD/mapbench.$impl"
			# As a rank bound to one CPU runs: dealing and CPU-bound maps.
			launch "$cfg" "$i" mapbench-p1 env GOMAXPROCS=1 "$BUILD/mapbench.$impl" -dealing
		fi
		# mpi4py in Debian is built against OpenMPI only.
		[ "$impl" = openmpi ] && [ "$have_futures" = 1 ] &&
			launch "$cfg" "$i" futures "$PY" -m mpi4py.futures bench/futures_bench.py
		# Large results: rank 0 gathering 256 MiB per map, against C.
		if [ "$BENCH_BIG" = 1 ] && [ "${cfg##*:}" = 2 ]; then
			[ -n "${built[$impl.gather]:-}" ] &&
				LAUNCH_TIMEOUT=$BIG_TIMEOUT launch "$cfg" "$i" gather "$BUILD/gather.$impl" 3
			[ -n "${built[$impl.go]:-}" ] &&
				LAUNCH_TIMEOUT=$BIG_TIMEOUT launch "$cfg" "$i" mapbench-big "$BUILD/mapbench.$impl" -big -reps 3
		fi
	done
done

# ---- table -----------------------------------------------------------------
# fmt KIND VALUE: tasks/s with k/M, µs with two decimals, ratios with ×
# (x: whole, x2: two decimals).
fmt() {
	[ -z "$2" ] && { echo "–"; return; }
	awk -v k="$1" -v v="$2" 'BEGIN{
		if (k == "tps") { if (v >= 1e6) printf "%.2f M", v/1e6; else if (v >= 1e3) printf "%.1f k", v/1e3; else printf "%.0f", v }
		else if (k == "us") printf "%.2f", v
		else if (k == "mib") printf "%.0f MiB", v
		else if (k == "s") printf "%.3f s", v
		else if (k == "ratio") printf "%.2f × n·s", v
		else if (k == "x2") printf "%.2f×", v
		else if (k == "gbs") printf "%.3g GB/s", v
		else if (k == "n") printf "%.2g", v
		else printf "%.0f×", v }'
}
ratio() { # ratio A B FORMAT: A/B, empty if either is missing
	[ -z "$1" ] || [ -z "$2" ] && return
	awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN{ if (b > 0) printf f, a/b }'
}

rows=(
	"Dynamic chunk 1, empty tasks (tasks/s)|dynamic_chunk1_tps|tps|≥ 1.2 M"
	"Dynamic chunk 16, empty tasks (tasks/s)|dynamic_chunk16_tps|tps|≥ 12 M"
	"Dynamic chunk 16, rank 0 computing too (tasks/s)|dynamic_chunk16_root_tps|tps|"
	"C dealer (bench/cref/dealer.c), chunk 1 (tasks/s)|cdealer_chunk1_tps|tps|"
	"C dealer, chunk 16 (tasks/s)|cdealer_chunk16_tps|tps|"
	"Dynamic chunk 1 at GOMAXPROCS=1 (tasks/s)|dynamic_chunk1_tps_p1|tps|"
	"Dynamic chunk 16 at GOMAXPROCS=1 (tasks/s)|dynamic_chunk16_tps_p1|tps|"
	"2000 CPU-bound 1 ms tasks at GOMAXPROCS=1, Block (s)|cpu1ms_block_s_p1|s|"
	"… Dynamic chunk 1 (s)|cpu1ms_dynamic1_s_p1|s|"
	"Block 1e6 tasks → float64 (tasks/s)|block_tps|tps|≥ 20 M"
	"reduce.AllSum, 1 float64 (µs)|allsum_us|us|"
	"Rank 0 peak memory growth, Block map of 1e6 × 100 B results|gather_peak_mib|mib|"
	"… as a multiple of the results' n·s bytes|gather_peak_ratio|ratio|≤ 2 × n·s"
	"… the same map resumed, every result from its journal|resume_peak_mib|mib|"
	"… as a multiple of the results' n·s bytes|resume_peak_ratio|ratio|"
	"Rank 0 peak memory growth, EachN of 1e7 × 100 B results (1 GB) to a sink|eachn_peak_mib|mib|tens of MB"
	"mpi.Comm Send/Recv 8 B round trip (µs)|go_pingpong_us|us|"
	"C ping-pong 8 B round trip (µs)|pingpong_us|us|"
	"C ping-pong, MPI_Probe before each MPI_Recv (µs)|probe_pingpong_us|us|"
	"C MPI_Allreduce, 1 double (µs)|allreduce_us|us|"
	"… at MPI_THREAD_SERIALIZED, as package mpi initialises (µs)|serialized_allreduce_us|us|"
	"mpi4py.futures chunksize 1 (tasks/s)|futures_chunk1_tps|tps|"
	"mpi4py.futures chunksize 16 (tasks/s)|futures_chunk16_tps|tps|"
)
cfgs=($BENCH_CONFIGS)
header="| | "
sep="|---|"
for cfg in "${cfgs[@]}"; do
	name=OpenMPI
	[ "${cfg%%:*}" = mpich ] && name=MPICH
	header+="$name np=${cfg##*:} | "
	sep+="---|"
done
echo
echo "${header}target (OpenMPI np=2) |"
echo "${sep}---|"
# value_row LABEL KEY KIND TARGET: one row of the figures printed as KEY.
value_row() {
	local line="| $1 |" cfg
	for cfg in "${cfgs[@]}"; do line+=" $(fmt "$3" "${val[$cfg.$2]:-}") |"; done
	echo "$line $4 |"
}
for row in "${rows[@]}"; do
	IFS='|' read -r label key kind target <<<"$row"
	value_row "$label" "$key" "$kind" "$target"
done
# ratio_row LABEL NUMERATOR DENOMINATOR KIND TARGET: one row of ratios.
ratio_row() {
	local line="| $1 |" cfg
	for cfg in "${cfgs[@]}"; do
		line+=" $(fmt "$4" "$(ratio "${val[$cfg.$2]:-}" "${val[$cfg.$3]:-}" %.6g)") |"
	done
	echo "$line $5 |"
}
ratio_row "Dynamic chunk 1 ÷ mpi4py.futures chunksize 1" dynamic_chunk1_tps futures_chunk1_tps x "≥ 300×"
ratio_row "Dynamic chunk 16 ÷ mpi4py.futures chunksize 16" dynamic_chunk16_tps futures_chunk16_tps x ""
ratio_row "Dynamic chunk 16, rank 0 computing ÷ C dealer chunk 16" dynamic_chunk16_root_tps cdealer_chunk16_tps x2 "≥ 0.7×"
ratio_row "Dynamic chunk 1 at GOMAXPROCS=1 ÷ at GOMAXPROCS=2" dynamic_chunk1_tps_p1 dynamic_chunk1_tps x2 "≥ 0.5×"
ratio_row "Dynamic chunk 16 at GOMAXPROCS=1 ÷ at GOMAXPROCS=2" dynamic_chunk16_tps_p1 dynamic_chunk16_tps x2 "≥ 0.5×"
ratio_row "1 ms tasks at GOMAXPROCS=1: Dynamic chunk 1 ÷ Block (time)" cpu1ms_dynamic1_s_p1 cpu1ms_block_s_p1 x2 "≤ 1.02×"
ratio_row "AllSum ÷ C MPI_Allreduce" allsum_us allreduce_us x2 "≤ 1.5×"
ratio_row "AllSum ÷ C MPI_Allreduce at MPI_THREAD_SERIALIZED" allsum_us serialized_allreduce_us x2 ""
# Measured in one process, in turns, so that load from elsewhere hits both.
value_row "AllSum ÷ C MPI_Allreduce, in turns in one process (at MPI_THREAD_SERIALIZED)" allsum_inproc_ratio x2 ""
if [ "$BENCH_BIG" = 1 ]; then
	# Large results (docs/big-results.md), rank 0 only gathering (WithoutRoot).
	echo
	echo "${header}target (OpenMPI np=2) |"
	echo "${sep}---|"
	value_row "First touch of fresh memory (C memset)" first_touch_gbs gbs ""
	value_row "Second touch (C memset)" second_touch_gbs gbs ""
	for size in 32k 1m; do
		value_row "C gather of $size messages into fresh memory (bench/cref/gather.c)" "gather_${size}_gbs" gbs ""
		value_row "… into memory touched before" "gather_${size}_warm_gbs" gbs ""
		for kind in array slice; do
			for sched in block dynamic; do
				key=big_${kind}_${size}_$sched
				value_row "Map, $size $kind results, ${sched^}" "${key}_gbs" gbs ""
				value_row "… bytes rank 0 allocates ÷ the results' bytes" "${key}_alloc_ratio" x2 "≤ 1.1×"
				value_row "… heap objects rank 0 allocates per result" "${key}_objs_per_result" n "≤ 2"
			done
		done
	done
fi
echo
echo "Best of $LAUNCHES launches of each program; each launch prints the median of its repetitions" \
	"(C: 7 × 20000 iterations; Go: 5 repetitions of ≥ 0.2 s each, sizes grown as in testing.B, Block fixed at 1e6;" \
	"mpi4py.futures: 3 maps of 1500 / 20000 tasks)." \
	"Dynamic runs keep rank 0 from computing (it only deals), as mpi4py.futures does." \
	"OpenMPI mpi_yield_when_idle=$BENCH_YIELD (auto: 1 only when np > $CORES cores); binding none." \
	"$(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n), $CORES cores, load average $load at the start, $((SECONDS - start)) s of runs."
# ---- hpcmap farm against GNU Parallel and xargs (bench/farm/run.sh) ----------
bash bench/farm/run.sh || failed=1
exit $failed
