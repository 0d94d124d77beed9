# Shared by cluster-up.sh and cluster-down.sh; sourced, not run.
#
# The throw-away cluster keeps everything it makes under one state directory,
# and writes down each thing it creates outside it (network namespaces, links,
# /etc/hosts lines) in $STATE/created as it goes, so that teardown removes
# exactly what this cluster made and nothing else, even after a half-finished
# bring-up.

# Names of the things the cluster creates outside its state directory. One
# cluster at a time per machine: slurmctld listens on a fixed port anyway.
HPCMAP_SLURM_PREFIX=hpcmap
HPCMAP_SLURM_BRIDGE=${HPCMAP_SLURM_PREFIX}br0

# say prints a progress message on stderr; stdout is kept for results.
say() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

# now prints seconds since the epoch with millisecond resolution.
now() { date +%s.%3N; }

# since T0 prints the seconds elapsed since T0 (a value of now).
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# alive PID [COMM] succeeds when PID is a live process (a zombie is dead: it
# only waits to be reaped by a parent that may never do it), and, if COMM is
# given, its command name is COMM (so a recycled pid is not mistaken for ours).
alive() {
	local stat comm
	[[ -r /proc/$1/stat ]] || return 1
	stat=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[[ $stat != Z && $stat != X ]] || return 1
	if [[ $# -ge 2 ]]; then
		comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
		[[ $comm == "$2" ]] || return 1
	fi
}

# wait_for SECONDS CMD... polls CMD every 50 ms until it succeeds (return 0)
# or SECONDS have passed (return 1). Every wait in these scripts is bounded.
wait_for() {
	local deadline
	deadline=$(($(date +%s%N) + ${1%.*} * 1000000000))
	shift
	until "$@"; do
		(($(date +%s%N) < deadline)) || return 1
		sleep 0.05
	done
}

# all_gone PID... succeeds when none of the processes is alive.
all_gone() {
	local p
	for p in "$@"; do ! alive "$p" || return 1; done
}

# stop_pids SECONDS PID... sends SIGTERM, waits up to SECONDS for the
# processes to go, then sends SIGKILL to the rest and waits for them too.
stop_pids() {
	local secs=$1 p
	shift
	(($# > 0)) || return 0
	kill -TERM "$@" 2>/dev/null || true
	if ! wait_for "$secs" all_gone "$@"; then
		for p in "$@"; do
			if alive "$p"; then
				say "pid $p ($(cat /proc/"$p"/comm 2>/dev/null)) ignored SIGTERM; killing it"
				kill -KILL "$p" 2>/dev/null || true
			fi
		done
		wait_for 5 all_gone "$@" || say "warning: some of pids $* survived SIGKILL"
	fi
}

# cluster_pids STATE lists the live processes that belong to the cluster in
# STATE, found by exact marks rather than by name:
#  - Slurm daemons, and the slurmstepd they fork (which start with an empty
#    environment and may outlive slurmd), hold a log file in STATE/log open
#    for writing;
#  - job processes carry the cluster's SLURM_CONF together with a SLURM_JOB_ID.
cluster_pids() {
	local f p flags env
	while read -r f; do
		p=${f#/proc/}
		p=${p%%/*}
		# fdinfo flags are octal; the low two bits are the access mode.
		flags=$(awk '/^flags:/ { print $2 }' "/proc/$p/fdinfo/${f##*/}" 2>/dev/null) || continue
		[[ -n $flags ]] && (((8#$flags & 3) != 0)) && alive "$p" && echo "$p"
	done < <(find /proc/[0-9]*/fd -maxdepth 1 -lname "$1/log/*" 2>/dev/null)
	for f in /proc/[0-9]*/environ; do
		p=${f#/proc/}
		p=${p%/environ}
		env=$(tr '\0' '\n' 2>/dev/null <"$f") || continue
		if grep -qxF "SLURM_CONF=$1/slurm.conf" <<<"$env" && grep -q '^SLURM_JOB_ID=' <<<"$env"; then
			alive "$p" && echo "$p"
		fi
	done
	return 0
}
