# test-lib.sh — what the Slurm tests (test.sh with test-longrun.sh, and
# test-farm.sh) share: counting and showing failures, submitting a script of
# this folder, and following a job that runs while a check signals it and
# that requeues itself. Sourced after cluster-lib.sh, in the scratch
# directory where the jobs run; it uses the sourcing script's here (this
# folder), limit (seconds allowed per job) and failures (a count).

fail() {
	say "FAIL: $*"
	failures=$((failures + 1))
}
pass() { say "ok: $*"; }

# show FILE prints a job's output after a failed check.
show() { sed 's/^/    | /' "$1" >&2 || true; }

# submit [SBATCH_OPTIONS...] SCRIPT [ARGS...] submits a script of this folder
# (options before its name are sbatch's, as on the command line) and waits for
# it: sbatch's exit code is the job's. Sets job to the job id.
submit() {
	local opts=() t rc=0
	while [[ $1 == -* ]]; do
		opts+=("$1")
		shift
	done
	local name=$1
	shift
	t=$(now)
	job=$(timeout "$limit" sbatch --parsable --wait "${opts[@]}" "$here/$name" "$@") || rc=$?
	job=${job%%;*}
	say "$name ${opts[*]}: job $job exit $rc in $(since "$t") s"
	return "$rc"
}

# start SBATCH_ARGS... runs sbatch --wait with them in the background, as
# sbatch_pid, so that a check can signal the job while it runs, and returns
# once sbatch has printed the job's id, in job. Without an id in 10 s it
# stops sbatch, sets job to nothing and returns 1.
start() {
	rm -f started.id
	timeout "$limit" sbatch --parsable --wait "$@" >started.id &
	sbatch_pid=$!
	job=
	if ! wait_for 10 test -s started.id; then
		kill "$sbatch_pid" 2>/dev/null || true
		wait "$sbatch_pid" 2>/dev/null || true
		return 1
	fi
	job=$(head -n1 started.id)
	job=${job%%;*}
}

# or_over CMD... succeeds when CMD does or when the started job is over
# (sbatch --wait returned): a wait for something the job will never do ends
# early.
or_over() { "$@" || all_gone "$sbatch_pid"; }

# abandon CHECK WHY fails CHECK, cancels the started job (which ends sbatch
# --wait) and shows its state and its output, $out.
abandon() {
	fail "$1: $2"
	[[ -z $job ]] || scancel "$job" 2>/dev/null || true
	wait_for 10 all_gone "$sbatch_pid" || kill "$sbatch_pid" 2>/dev/null || true
	wait "$sbatch_pid" 2>/dev/null || true
	if [[ -n $job ]]; then
		scontrol show job "$job" 2>/dev/null | head -n 4 >&2 || true
		[[ -z ${out:-} ]] || show "$out"
	fi
}

# requeued succeeds when the started job is pending again, counted as a
# restart: its script requeued it.
requeued() {
	local s
	s=$(scontrol show job "$job" 2>/dev/null) || return 1
	[[ $s == *JobState=PENDING* && $s == *Restarts=1* ]]
}

# rerun CHECK REQUEUED_AT starts the started job again, requeued at
# REQUEUED_AT (seconds since the epoch), and waits for it to end; rc is then
# its exit code. If either fails it abandons CHECK and returns 1.
#
# Slurm holds a requeued job back until the credentials of its first run
# expire (Reason=BeginTime: AuthInfo's cred_expire, 120 s by default).
# Release it sooner, but not within the second of the requeue: slurmd
# refuses a launch whose credential is no newer than the revocation, in
# whole seconds, and Slurm then ends the job ("Killing non-startable batch
# JobId=...: Job credential revoked", exit 1) instead of requeueing it. And
# release it with StartTime=now, not a later time: the update starts it at
# once, but a begin time that merely passes waits for the backfill scheduler
# (up to 30 s).
rerun() {
	local check=$1 requeued_at=$2
	next_second() { (($(date +%s) > requeued_at)); }
	wait_for 2 next_second || true
	scontrol update JobId="$job" StartTime=now || {
		abandon "$check" "could not release job $job (scontrol update StartTime=now)"
		return 1
	}
	wait_for "$limit" all_gone "$sbatch_pid" || {
		abandon "$check" "job $job did not finish within $limit s"
		return 1
	}
	rc=0
	wait "$sbatch_pid" || rc=$?
}
