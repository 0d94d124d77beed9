# test-longrun.sh — the checks of test.sh for long runs: the time-limit
# warning drains, requeues and resumes mcscan; scancel drains and ends it.
# Sourced by test.sh, whose helpers (submit, check_scan, journal_done, ...)
# and cluster it uses.

# --- a time-limit warning: drain, requeue, carry on from the journal ---------------
# What mcscan.sbatch does under --signal=B:USR1@N --requeue, for real. Slurm
# delivers that warning as a USR1 to the batch shell alone (B:), and so does
# scancel --batch --signal=USR1, at once (Slurm 22.05: sbatch(1) --signal,
# scancel(1) --batch; both signal the batch step with KILL_JOB_BATCH, and a
# job with --time=1 --signal=B:USR1@50 left the same log). This grid takes a
# few seconds, so that the signal lands between its first and last point.
slow_grid=(-betas 0.5,1,2 -ms 1,2 -hs 0.25,0.5,1,2.5 -iterations 6000000)
slow_points=24

# check_requeue runs the slow grid once straight through, for reference, and
# once interrupted mid-way; the interrupted job must drain into its journal,
# requeue itself, and finish with the same numbers, each point run once.
check_requeue() {
	local t ref rc=0 sbatch_pid out journal at_signal at_requeue total requeued_at
	if submit mcscan.sbatch "${slow_grid[@]}"; then
		ref=mcscan-$job/scan.csv
		points=$slow_points check_scan "requeue: reference" "$ref" "mcscan-$job.out"
	else
		fail "requeue: the uninterrupted reference scan failed"
		show "mcscan-$job.out"
		return
	fi

	t=$(now)
	out=
	if ! start --requeue "$here/mcscan.sbatch" "${slow_grid[@]}"; then
		fail "requeue: sbatch printed no job id in 10 s"
		return
	fi
	out=mcscan-$job.out journal=mcscan-$job/scan.journal

	# Once some points are journaled, the warning.
	started() {
		at_signal=$(journal_done "$journal")
		((at_signal > 0))
	}
	if ! wait_for 30 or_over started || ! started; then
		abandon requeue "no point of job $job in its journal $journal after 30 s, or the job ended"
		return
	fi
	scancel --batch --signal=USR1 "$job" || {
		abandon requeue "scancel --batch --signal=USR1 $job failed"
		return
	}
	# The ranks finish the points they run, then the script requeues the job.
	if ! wait_for 30 or_over requeued || ! requeued; then
		abandon requeue "job $job was not requeued within 30 s of the warning"
		return
	fi
	requeued_at=$(date +%s)
	at_requeue=$(journal_done "$journal")
	rerun requeue "$requeued_at" || return
	say "mcscan.sbatch --requeue, interrupted: job $job exit $rc in $(since "$t") s"

	local before=$failures
	if ((rc != 0)); then
		fail "requeue: the requeued job $job ended with exit code $rc"
		scontrol show job "$job" 2>/dev/null | head -n 4 >&2 || true
	fi
	if ((at_signal < at_requeue && at_requeue < slow_points)); then
		pass "requeue: $at_signal of $slow_points points journaled at the warning, $at_requeue at the requeue"
	else
		fail "requeue: want 0 < $at_signal (at the warning) < $at_requeue (at the requeue) < $slow_points points journaled: the points in flight must finish"
	fi
	grep -q '^mcscan.sbatch: time limit near (USR1): stopping the scan, journal kept' "$out" ||
		fail "requeue: no drain message in $out"
	# srun answers a TERM of its own with SIGKILL for the ranks.
	! grep -q 'forcing job termination' "$out" || fail "requeue: the ranks were killed, not drained"
	(($(grep -c '^placement: ' "$out") == 2)) || fail "requeue: want the two runs' placement lines in $out"
	grep -q "^progress: $at_requeue/$slow_points ([0-9]*%) from the journal $journal\$" "$out" ||
		fail "requeue: the second run did not report $at_requeue of $slow_points points from the journal in $out"
	grep -q "^progress: $slow_points/$slow_points (100%)," "$out" ||
		fail "requeue: the second run's progress did not reach $slow_points/$slow_points in $out"
	if ((failures == before)); then
		pass "requeue: job $job drained (its ranks were not killed), requeued itself and ran again, exit 0"
	else
		show "$out"
	fi
	points=$slow_points check_scan requeue "mcscan-$job/scan.csv" "$out"
	if [[ -s $ref && -s mcscan-$job/scan.csv ]]; then
		check_same requeue "mcscan-$job/scan.csv" "$ref" "the requeued scan equals the uninterrupted one"
	fi
	total=$(journal_done "$journal")
	if ((total == slow_points)); then
		pass "requeue: the journal holds all $slow_points points"
	else
		fail "requeue: the journal $journal holds $total of $slow_points points"
	fi
}
check_requeue

# --- scancel: drain, and end for good ------------------------------------------------
# A user who cancels a job means it: scancel's TERM reaches the batch shell
# and the ranks; the ranks drain into the journal, and the job ends
# CANCELLED, never requeued, though submitted with --requeue.
check_cancel() {
	local t sbatch_pid out journal state at_cancel after rc=0
	t=$(now)
	out=
	if ! start --requeue "$here/mcscan.sbatch" "${slow_grid[@]}"; then
		fail "cancel: sbatch printed no job id in 10 s"
		return
	fi
	out=mcscan-$job.out journal=mcscan-$job/scan.journal
	started() {
		at_cancel=$(journal_done "$journal")
		((at_cancel > 0))
	}
	if ! wait_for 30 or_over started || ! started; then
		fail "cancel: no point of job $job in its journal $journal after 30 s, or the job ended"
		scancel "$job" 2>/dev/null || true
		wait "$sbatch_pid" 2>/dev/null || true
		show "$out"
		return
	fi
	scancel "$job"
	# sbatch --wait returns once the job has ended; a requeued job would be
	# pending again instead.
	if ! wait_for 30 all_gone "$sbatch_pid"; then
		state=$(scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z]* .*Restarts=[0-9]*' || true)
		fail "cancel: job $job still not over 30 s after scancel ($state): requeued?"
		scancel "$job" 2>/dev/null || true
		wait_for 10 all_gone "$sbatch_pid" || kill "$sbatch_pid" 2>/dev/null || true
		wait "$sbatch_pid" 2>/dev/null || true
		show "$out"
		return
	fi
	wait "$sbatch_pid" || rc=$?
	say "mcscan.sbatch --requeue, cancelled: job $job exit $rc in $(since "$t") s"
	local before=$failures
	# Ending, or ended and forgotten (MinJobAge): never pending or running
	# again, never restarted.
	settled() {
		state=$(scontrol show job "$job" 2>/dev/null || true)
		[[ -z $state || $state == *JobState=CANCELLED* ]]
	}
	wait_for 15 settled || true
	if [[ -n $state && ($state != *JobState=CANCELLED* || $state != *Restarts=0*) ]]; then
		fail "cancel: job $job: want JobState=CANCELLED and Restarts=0, got $(grep -o 'JobState=[A-Z]*' <<<"$state") $(grep -o 'Restarts=[0-9]*' <<<"$state")"
	fi
	grep -q '^mcscan.sbatch: cancelled or at the time limit (TERM): stopping the scan, journal kept' "$out" &&
		grep -q '^mcscan.sbatch: the job ends here' "$out" || fail "cancel: no message of the cancel in $out"
	! grep -q 'time limit near' "$out" || fail "cancel: the script took scancel's TERM for the time-limit warning"
	(($(grep -c '^placement: ' "$out") == 1)) || fail "cancel: want one run's placement line in $out, the job ran again"
	after=$(journal_done "$journal")
	if ((after < at_cancel || after >= slow_points)); then
		fail "cancel: want $at_cancel ≤ points journaled < $slow_points after the cancel, got $after"
	fi
	if ((failures == before)); then
		pass "cancel: job $job ended for good, CANCELLED and not requeued; $after of $slow_points points journaled ($at_cancel at the scancel)"
	else
		show "$out"
	fi
}
check_cancel
