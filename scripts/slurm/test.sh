#!/usr/bin/env bash
# test.sh — prove the sbatch scripts on a real (throw-away) two-node Slurm.
#
# Brings up the cluster of cluster-up.sh, submits every script in this folder
# with sbatch --wait under a timeout, checks what each job wrote (the checks
# of time limits and scancel are in test-longrun.sh, those of farm.sbatch in
# test-farm.sh), and tears the cluster
# down again, also when a check fails or the run is interrupted.
# Exit code 0 only when every check passed.
#
# Run as root after `make build` and `make build MPI=mpich` (make test-slurm
# does all three). Settings (environment):
#   HPCMAP_BIN            OpenMPI binaries (default <project>/bin)
#   HPCMAP_MPICH_BIN      MPICH binaries (default $HPCMAP_BIN/mpich)
#   HPCMAP_SLURM_STATE    the cluster's state directory (default /tmp/hpcmap-slurm-test)
#   HPCMAP_SLURM_TIMEOUT  seconds allowed per job (default 120)
# and those of cluster-up.sh (HPCMAP_SLURM_MODE=loopback, ...).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/cluster-lib.sh"

# Jobs start in a scratch directory, so the binaries are named absolutely.
export HPCMAP_BIN=${HPCMAP_BIN:-$root/bin}
mpich_bin=${HPCMAP_MPICH_BIN:-$HPCMAP_BIN/mpich}
state=${HPCMAP_SLURM_STATE:-/tmp/hpcmap-slurm-test}
limit=${HPCMAP_SLURM_TIMEOUT:-120}

for b in "$HPCMAP_BIN/auc" "$HPCMAP_BIN/mcscan" "$HPCMAP_BIN/hpcmap" "$mpich_bin/auc" "$mpich_bin/mcscan" "$mpich_bin/hpcmap"; do
	if [[ ! -x $b ]]; then
		say "missing $b: run make build and make build MPI=mpich first"
		exit 1
	fi
done

t0=$(now)
work=$(mktemp -d /tmp/hpcmap-slurm-jobs.XXXXXX)
failures=0
munged_pid=

# The teardown runs however the script ends; then it checks that nothing of
# the cluster is left behind.
finish() {
	local rc=$?
	set +e
	"$here/cluster-down.sh" "$state"
	local left
	left=$(
		cluster_pids "$state"
		[[ -n $munged_pid ]] && alive "$munged_pid" munged && echo "$munged_pid"
	)
	if [[ -n $left ]] || ip netns list | grep -q "^$HPCMAP_SLURM_PREFIX-" ||
		[[ -e /sys/class/net/$HPCMAP_SLURM_BRIDGE ]] || grep -qF "# hpcmap-slurm $state" /etc/hosts; then
		say "FAIL: teardown left processes ($(echo $left)), namespaces, the bridge or hosts lines"
		((rc == 0)) && rc=1
	fi
	if ((rc == 0)); then
		rm -rf "$work"
		say "all checks passed in $(since "$t0") s"
	else
		say "FAILED; job outputs kept in $work, cluster logs in $state/log"
	fi
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

. "$("$here/cluster-up.sh" "$state")"
munged_pid=$(cat "$state/munge/munged.pid")
# With namespaces each node has its own hostname. In the loopback fallback
# both fake nodes share this machine's, so the ranks of both count against
# one host's CPUs and the checks that expect no warning are skipped.
if [[ $HPCMAP_SLURM_MODE == netns ]]; then
	hosts="2 hosts (n1, n2)" names="n1 n2" strict=true
else
	hosts="1 host ($(hostname))" names=$(hostname) strict=false
fi
# sbatch hands this environment to the jobs. These let OpenMPI's mpirun run
# as root and put more ranks than cores on the two shared CPUs; idle ranks
# yield instead of busy-polling, which otherwise stalls TCP for seconds.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_btl_vader_single_copy_mechanism=none
export MPIRUN=${MPIRUN:-mpirun.openmpi}
cd "$work"

. "$here/test-lib.sh" # fail, pass, show, submit, start, ...

# placement FILE prints the summary line of the program's placement report.
placement() { grep -m1 '^placement: [0-9]' "$1" || true; }

# numbers CSV prints the scan without the columns that say where and how
# long a point ran: what must not depend on ranks, shards or schedule.
numbers() {
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = $i != "rank" && $i != "host" && $i != "seconds" }
		{ s = ""; for (i = 1; i <= NF; i++) if (keep[i]) s = s (s == "" ? "" : ",") $i; print s }' "$1"
}

# column CSV NAME prints one column by its header name.
column() { awk -F, -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next } c { print $c }' "$1"; }

# check_placement NAME OUT WANT: the placement line is WANT and, where each
# node has its own hostname, no warning follows.
check_placement() {
	if [[ $(placement "$2") == "$3" ]] && ! { $strict && grep -q '^placement: warning' "$2"; }; then
		pass "$1: $3"
	else
		fail "$1: want exactly '$3' (and, nodes having their own hostnames, no placement warning)"
		show "$2"
	fi
}

# check_auc NAME OUT: the published figure for n = 100 (8.1620175), whatever
# the number of ranks, and the placement over both nodes.
check_auc() {
	local ok=true
	grep -q '^The area is 8\.1620175\b' "$2" || ok=false
	[[ $(placement "$2") == "placement: 4 ranks on $hosts,"* ]] || ok=false
	if $ok; then pass "$1: area 8.1620175 on 4 ranks on $hosts"; else
		fail "$1: want 'The area is 8.1620175' and 'placement: 4 ranks on $hosts, ...' in $2"
		show "$2"
	fi
}

# A small grid keeps the scans to seconds: 3 × 2 × 2 = 12 points.
grid=(-betas 0.5,1,2 -ms 1,2 -hs 0.5,1 -iterations 20000)
points=12

# check_scan NAME CSV OUT [HOSTS]: the CSV has one row per point, the
# expected header, and (if HOSTS) rows from each of those hosts.
check_scan() {
	local name=$1 csv=$2 out=$3 hosts=${4:-} h before=$failures
	if [[ ! -s $csv ]]; then
		fail "$name: no $csv"
		show "$out"
		return
	fi
	if ! head -n1 "$csv" | grep -q '^index,beta,m,h,x2,x2_err,x2_exact,acceptance,rank,host,seconds'; then
		fail "$name: unexpected header in $csv: $(head -n1 "$csv")"
	fi
	if (($(tail -n +2 "$csv" | wc -l) != points)); then
		fail "$name: $csv has $(tail -n +2 "$csv" | wc -l) rows, want $points"
	elif [[ $(column "$csv" index | sort -n | tr '\n' ' ') != "$(seq -s ' ' 0 $((points - 1))) " ]]; then
		fail "$name: the indices in $csv are not 0 to $((points - 1)), each once"
	fi
	for h in $hosts; do
		column "$csv" host | grep -qx "$h" || fail "$name: no row of $csv ran on $h"
	done
	if ((failures == before)); then
		pass "$name: $csv has $points rows${hosts:+ from $hosts}"
	else
		show "$out"
	fi
}

# check_same NAME CSV REF WHAT: CSV has the numbers of REF, every column but
# rank, host and seconds; WHAT says so in the report.
check_same() {
	if diff <(numbers "$3") <(numbers "$2") >/dev/null; then
		pass "$1: $4 (all but rank, host, seconds)"
	else
		fail "$1: $2 differs from $3"
		diff <(numbers "$3") <(numbers "$2") | head >&2
	fi
}

# journal_done FILE prints how many points a scan's journal holds (0 while
# there is no journal yet), as hpcmap journal reads it.
journal_done() {
	local line
	[[ -s $1 ]] && line=$("$HPCMAP_BIN/hpcmap" journal "$1") || line=": 0 of"
	line=${line##*: }
	echo "${line%% of*}"
}

# --- srun across nodes ---------------------------------------------------------
if submit auc.sbatch -n 100; then check_auc auc "auc-$job.out"; else
	fail "auc.sbatch failed"
	show "auc-$job.out"
fi

# --- the scan, dealt cyclically so that both nodes surely get points ---------------
whole=
if submit mcscan.sbatch "${grid[@]}" -schedule cyclic; then
	whole=mcscan-$job/scan.csv
	check_scan mcscan "$whole" "mcscan-$job.out" "$names"
else
	fail "mcscan.sbatch failed"
	show "mcscan-$job.out"
fi

# --- one rank per node, two workers each -------------------------------------------
if submit hybrid.sbatch "${grid[@]}"; then
	check_placement hybrid "hybrid-$job.out" "placement: 2 ranks on $hosts, 2 workers per rank"
	check_scan hybrid "hybrid-$job/scan.csv" "hybrid-$job.out"
else
	fail "hybrid.sbatch failed"
	show "hybrid-$job.out"
fi

# --- a job array of shards, merged by a dependent job -------------------------------
if submit array.sbatch "${grid[@]}"; then
	# sbatch --wait returned when the array ended; the merge job runs after.
	queue_empty() { [[ -z $(squeue -h -o %A) ]]; }
	wait_for "$limit" queue_empty || fail "array: the merge job did not finish in $limit s"
	merged=array-$job/scan.csv
	check_scan array "$merged" "$(ls array-merge-*.out 2>/dev/null | head -n1)"
	if (($(ls "array-$job"/shard-*-of-4.csv 2>/dev/null | wc -l) != 4)); then
		fail "array: want 4 shard files in array-$job"
	fi
	if [[ -n $whole && -s $merged ]]; then
		check_same array "$merged" "$whole" "merged shards equal the whole scan"
	fi
else
	fail "array.sbatch failed"
	for f in array-"$job"_*.out; do show "$f"; done
fi

# --- hpcmap farm: test-farm.sh, on this cluster ---------------------------------------
HPCMAP_MPICH_BIN=$mpich_bin HPCMAP_SLURM_MODE=$HPCMAP_SLURM_MODE HPCMAP_SLURM_TIMEOUT=$limit "$here/test-farm.sh" ||
	fail "test-farm.sh: some checks of farm.sbatch failed (above)"

# --- time limits and scancel: test-longrun.sh ---------------------------------------
. "$here/test-longrun.sh"

# --- the scan on MPICH, with srun's PMI plugin for it --------------------------------
if HPCMAP_BIN=$mpich_bin submit mcscan.sbatch "${grid[@]}" -schedule cyclic; then
	check_scan "mcscan, MPICH" "mcscan-$job/scan.csv" "mcscan-$job.out" "$names"
	[[ -z $whole ]] || check_same "mcscan, MPICH" "mcscan-$job/scan.csv" "$whole" "MPICH's scan equals OpenMPI's"
else
	fail "mcscan.sbatch with the MPICH build failed"
	show "mcscan-$job.out"
fi

# --- CPUs per task reach the ranks through srun ----------------------------------------
# Every srun of the scripts states --cpus-per-task, as the README says: since
# Slurm 22.05 srun does not take it over from sbatch. (On these two-CPU nodes
# a job of one task per node gets its node's CPUs either way, so the job
# below shows the workers, and this the scripts' text.)
for f in "$here"/*.sbatch; do
	if grep -E '^\s*srun ' "$f" | grep -qv -- '--cpus-per-task'; then
		fail "${f##*/}: an srun without --cpus-per-task: $(grep -E '^\s*srun ' "$f" | grep -v -- '--cpus-per-task' | head -n1)"
	fi
done
if submit --ntasks-per-node=1 --cpus-per-task=2 mcscan.sbatch "${grid[@]}"; then
	check_placement "mcscan --cpus-per-task=2" "mcscan-$job.out" "placement: 2 ranks on $hosts, 2 workers per rank"
else
	fail "mcscan.sbatch --cpus-per-task=2 failed"
	show "mcscan-$job.out"
fi

# --- more shards than points, a trace and one -journal for all ---------------------------
# Shards 4 and 5 of a 4-point grid are empty: a success. Each shard keeps its
# own journal, named after it; the merge runs.
tiny=(-betas 0.5,1 -ms 1 -hs 0.5,1 -iterations 20000)
if submit --array=0-5 array.sbatch "${tiny[@]}" -trace -journal arr.journal; then
	queue_empty() { [[ -z $(squeue -h -o %A) ]]; }
	wait_for "$limit" queue_empty || fail "empty shards: the merge job did not finish in $limit s"
	points=4 check_scan "empty shards" "array-$job/scan.csv" "$(ls -t array-merge-*.out 2>/dev/null | head -n1)"
	journals=$(ls arr.shard-*-of-6.journal 2>/dev/null | wc -l)
	if ((journals == 6)); then pass "empty shards: a journal per shard (arr.shard-i-of-6.journal)"; else
		fail "empty shards: $journals journals arr.shard-*-of-6.journal, want 6"
	fi
else
	fail "array.sbatch with empty shards failed"
	for f in array-"$job"_*.out; do show "$f"; done
fi

# --- a failed shard rerun with other settings is refused -----------------------------------
if [[ -s array-$job/scan.csv ]]; then
	arr=$job
	if submit --array=1 array.sbatch -shards 6 -out "array-$arr" "${tiny[@]}" -iterations 30000; then
		fail "a shard rerun with -iterations 30000 among shards of 20000 succeeded"
	elif grep -q "holds a scan of other settings (-iterations 20000 there, 30000 here)" "array-${job}_1.out"; then
		pass "a shard rerun with other settings: refused, saying -iterations 20000 there, 30000 here"
	else
		fail "a shard rerun with other settings: want the reason in array-${job}_1.out"
		show "array-${job}_1.out"
	fi
fi

# --- mpirun inside the allocation -------------------------------------------------
if submit mpirun.sbatch -n 100; then check_auc mpirun "mpirun-$job.out"; else
	fail "mpirun.sbatch failed"
	show "mpirun-$job.out"
fi

# ... with two CPUs per rank: mpirun must be told, or it binds each rank to one.
if submit --ntasks-per-node=1 --cpus-per-task=2 mpirun.sbatch -n 100; then
	check_placement "mpirun --cpus-per-task=2" "mpirun-$job.out" "placement: 2 ranks on $hosts, 2 workers per rank"
else
	fail "mpirun.sbatch --cpus-per-task=2 failed"
	show "mpirun-$job.out"
fi

# --- the warning when binding undoes --cpus-per-task ------------------------------
# mpirun binding each rank to one core (as it does by default for two ranks)
# although the job asked for two CPUs per task.
t=$(now)
job=$(OMPI_MCA_hwloc_base_binding_policy=core timeout "$limit" sbatch --parsable --wait \
	--job-name=bound --nodes=2 --ntasks-per-node=1 --cpus-per-task=2 --output=%x-%j.out \
	--wrap="$MPIRUN $HPCMAP_BIN/auc") || fail "the bound mpirun job failed"
say "bound mpirun: job $job in $(since "$t") s"
want="placement: warning: ranks 0-1 may use only 1 CPU each though --cpus-per-task=2"
if grep -q "^$want" "bound-$job.out"; then pass "bound mpirun: $want"; else
	fail "bound mpirun: want a line beginning '$want'"
	show "bound-$job.out"
fi

# --- the MPICH build -------------------------------------------------------------
if HPCMAP_BIN=$mpich_bin submit mpich.sbatch -n 100; then check_auc mpich "mpich-$job.out"; else
	fail "mpich.sbatch failed"
	show "mpich-$job.out"
fi

((failures == 0)) || {
	say "$failures check(s) failed"
	exit 1
}
