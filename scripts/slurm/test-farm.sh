#!/usr/bin/env bash
# test-farm.sh — prove farm.sbatch on a real (throw-away) two-node Slurm.
#
# With SLURM_CONF in the environment (as test.sh has it once its cluster is
# up) it submits to that cluster; otherwise it brings up its own with
# cluster-up.sh, under flock /tmp/hpcmap-slurm.lock (one cluster per
# machine), and tears it down at the end. Checks:
#  - a farm on two nodes: tasks run on both, the joblog's Host column names
#    both, -k output is in argument order, the exit status is 0; the same
#    with the MPICH build (bin/mpich, srun --mpi=pmi2) when it is built;
#  - failing tasks: the job's exit status is their number, as GNU Parallel's;
#  - the time-limit cycle: a warning (scancel --batch --signal=TERM) mid-run,
#    the running tasks get SIGTERM and stay out of the joblog, the job
#    requeues itself, and the requeued run (--resume) runs exactly the rest:
#    in the end every task is in the joblog once.
# Exit code 0 only when every check passed.
#
# Run as root after make build (and make build MPI=mpich). Settings
# (environment): HPCMAP_BIN (default <project>/bin), HPCMAP_MPICH_BIN
# (default $HPCMAP_BIN/mpich), HPCMAP_SLURM_STATE, HPCMAP_SLURM_TIMEOUT
# (seconds per job, default 120), and those of cluster-up.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/cluster-lib.sh"

export HPCMAP_BIN=${HPCMAP_BIN:-$root/bin}
limit=${HPCMAP_SLURM_TIMEOUT:-120}
if [[ ! -x $HPCMAP_BIN/hpcmap ]]; then
	say "missing $HPCMAP_BIN/hpcmap: run make build first"
	exit 1
fi

own=false
if [[ -z ${SLURM_CONF:-} ]]; then
	# A cluster of our own: one at a time on this machine.
	if [[ -z ${HPCMAP_SLURM_LOCKED:-} ]]; then
		export HPCMAP_SLURM_LOCKED=1
		exec flock /tmp/hpcmap-slurm.lock "$0" "$@"
	fi
	own=true
	state=${HPCMAP_SLURM_STATE:-/tmp/hpcmap-slurm-test}
fi

t0=$(now)
work=$(mktemp -d /tmp/hpcmap-slurm-farm.XXXXXX)
failures=0
finish() {
	local rc=$?
	set +e
	$own && "$here/cluster-down.sh" "$state"
	if ((rc == 0 && failures == 0)); then
		rm -rf "$work"
		say "all farm checks passed in $(since "$t0") s"
	else
		((rc == 0)) && rc=1
		say "FAILED; job outputs kept in $work"
	fi
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

if $own; then
	. "$("$here/cluster-up.sh" "$state")"
	# As test.sh: OpenMPI's mpirun as root, more ranks than cores, idle
	# ranks yielding.
	export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
	export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
	export OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_btl_vader_single_copy_mechanism=none
fi
if [[ ${HPCMAP_SLURM_MODE:-netns} == netns ]]; then
	names="n1 n2"
else
	names=$(hostname) # the loopback fallback: both nodes share this host's name
fi
cd "$work"

. "$here/test-lib.sh" # fail, pass, show, submit, start, ...

# seqs JOBLOG prints the sequence numbers of a joblog's lines, sorted.
seqs() { tail -n +2 "$1" | cut -f1 | sort -n | tr '\n' ' '; }

# --- tasks on both nodes ------------------------------------------------------------
# Eight tasks on two nodes of two slots: a round of four, then another.
if submit farm.sbatch -k 'sleep 0.5; echo {} $(hostname)' ::: 1 2 3 4 5 6 7 8; then
	log=farm-$job.joblog out=farm-$job.out
	before=$failures
	[[ $(seqs "$log") == "1 2 3 4 5 6 7 8 " ]] || fail "hosts: the joblog lists tasks $(seqs "$log"), want 1 to 8"
	for h in $names; do
		tail -n +2 "$log" | cut -f2 | grep -qx "$h" || fail "hosts: no task of the joblog ran on $h"
	done
	[[ $(grep -E '^[1-8] ' "$out" | cut -d' ' -f1 | tr '\n' ' ') == "1 2 3 4 5 6 7 8 " ]] ||
		fail "hosts: the output is not the 8 tasks in argument order"
	# Each task says where it ran: the joblog's Host must agree.
	while IFS=$'\t' read -r seq host _; do
		grep -qx "$seq $host" "$out" || fail "hosts: task $seq ran on $(grep "^$seq " "$out" | cut -d' ' -f2), the joblog says $host"
	done < <(tail -n +2 "$log")
	if ((failures == before)); then
		pass "farm.sbatch: 8 tasks on $names, the joblog's Host agrees, output in argument order"
	else
		show "$out"
		show "$log"
	fi
else
	fail "farm.sbatch failed"
	show "farm-$job.out"
fi

# --- the MPICH build, started by srun --mpi=pmi2 -------------------------------------
mpich_bin=${HPCMAP_MPICH_BIN:-$HPCMAP_BIN/mpich}
if [[ -x $mpich_bin/hpcmap ]]; then
	if HPCMAP_BIN=$mpich_bin HPCMAP_SRUN_MPI=pmi2 submit farm.sbatch -k 'sleep 0.5; echo {} $(hostname)' ::: 1 2 3 4 5 6 7 8; then
		hosts_seen=$(tail -n +2 "farm-$job.joblog" | cut -f2 | sort -u | tr '\n' ' ')
		if [[ $(seqs "farm-$job.joblog") == "1 2 3 4 5 6 7 8 " && $hosts_seen == "$(tr ' ' '\n' <<<"$names" | grep . | sort -u | tr '\n' ' ')" ]]; then
			pass "farm.sbatch with MPICH (srun --mpi=pmi2): 8 tasks on $hosts_seen"
		else
			fail "farm.sbatch with MPICH: joblog lists tasks $(seqs "farm-$job.joblog") on $hosts_seen"
			show "farm-$job.out"
		fi
	else
		fail "farm.sbatch with MPICH failed"
		show "farm-$job.out"
	fi
else
	say "no $mpich_bin/hpcmap (make build MPI=mpich): the MPICH check is skipped"
fi

# --- the exit status counts failed tasks --------------------------------------------
rc=0
submit farm.sbatch 'exit {}' ::: 0 3 0 4 0 || rc=$?
if ((rc == 2)); then
	pass "farm.sbatch: two failing tasks, job exit code 2 (GNU Parallel's convention)"
else
	fail "farm.sbatch with two failing tasks: job exit code $rc, want 2"
	show "farm-$job.out"
fi

# --- the time-limit warning: drain, requeue, resume ---------------------------------
# Twelve tasks of 3 s on four slots: three rounds. The warning comes once the
# first round is in the joblog; the second round is then running.
check_requeue() {
	local t sbatch_pid log out rc=0 requeued_at task
	task='trap "echo {} >> interrupted; exit 1" TERM; sleep 3 & wait; echo done {}'
	t=$(now)
	out=
	if ! start --requeue "$here/farm.sbatch" "$task" ::: $(seq 12); then
		fail "requeue: sbatch printed no job id in 10 s"
		return
	fi
	log=farm-$job.joblog out=farm-$job.out
	first_round() { [[ -s $log ]] && (($(tail -n +2 "$log" | wc -l) >= 4)); }
	if ! wait_for 60 or_over first_round || ! first_round; then
		abandon requeue "the first four tasks of job $job were not in its joblog after 60 s"
		return
	fi
	scancel --batch --signal=TERM "$job" || {
		abandon requeue "scancel --batch --signal=TERM $job failed"
		return
	}
	if ! wait_for 40 or_over requeued || ! requeued; then
		abandon requeue "job $job was not requeued within 40 s of the warning"
		return
	fi
	requeued_at=$(date +%s)
	local at_requeue interrupted_then
	at_requeue=$(seqs "$log")
	interrupted_then=$(sort -n interrupted 2>/dev/null | tr '\n' ' ')
	rerun requeue "$requeued_at" || return
	say "farm.sbatch --requeue, interrupted: job $job exit $rc in $(since "$t") s"

	local before=$failures s
	((rc == 0)) || fail "requeue: the requeued job $job ended with exit code $rc"
	if [[ -z $interrupted_then ]]; then
		fail "requeue: no running task got SIGTERM at the warning"
	fi
	for s in $interrupted_then; do
		[[ " $at_requeue" != *" $s "* ]] || fail "requeue: task $s, interrupted, was in the joblog at the requeue ($at_requeue)"
	done
	[[ $(seqs "$log") == "$(seq -s ' ' 12) " ]] ||
		fail "requeue: in the end the joblog lists tasks $(seqs "$log"), want 1 to 12 once each"
	(($(tail -n +2 "$log" | cut -f7 | grep -cvx 0) == 0)) || fail "requeue: a task of the joblog failed"
	grep -q '^farm.sbatch: time limit near' "$out" || fail "requeue: no drain message in $out"
	grep -q 'hpcmap farm: stopped by SIGTERM' "$out" || fail "requeue: the farm did not report its stop in $out"
	! grep -q 'forcing job termination' "$out" || fail "requeue: the ranks were killed, not drained"
	if ((failures == before)); then
		pass "requeue: at the warning tasks $interrupted_then got SIGTERM and stayed out of the joblog ($at_requeue); the requeued run ran the rest, each task once"
	else
		show "$out"
		show "$log"
	fi
}
check_requeue
