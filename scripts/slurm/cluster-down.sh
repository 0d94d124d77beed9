#!/usr/bin/env bash
# cluster-down.sh [STATE_DIR] — tear down the cluster cluster-up.sh started.
#
# Leaves no daemon, job process, network namespace, bridge or /etc/hosts line
# behind. Safe while jobs run (they are cancelled, then killed), and safe to
# run twice: what is already gone is skipped. The logs stay in STATE_DIR/log
# for a post-mortem; the next cluster-up.sh wipes them.
#
# --network-only removes just the namespaces, links and hosts lines (used by
# cluster-up.sh when it falls back to loopback).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/cluster-lib.sh"

network_only=false
if [[ ${1:-} == --network-only ]]; then
	network_only=true
	shift
fi
STATE=${1:-${HPCMAP_SLURM_STATE:-/tmp/hpcmap-slurm}}
created=$STATE/created
t0=$(now)

if [[ ! -e $created ]]; then
	say "no cluster in $STATE; nothing to do"
	exit 0
fi

# pid_from NAME prints the pid recorded for daemon NAME if that process is
# alive and still is NAME.
pid_from() {
	local file p
	file=$(awk -v n="$1" '$1 == "pidfile" && $2 == n { print $3 }' "$created")
	for f in $file; do
		[[ -r $f ]] || continue
		p=$(tr -dc 0-9 <"$f")
		[[ -n $p ]] && alive "$p" "$1" && echo "$p"
	done
	return 0
}

# ancestors prints this script's own pid and those of its ancestors, which a
# sweep must never kill (cluster-down.sh may be called from inside a job).
ancestors() {
	local p=$$
	while [[ -n $p && $p != 0 ]]; do
		echo "$p"
		p=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null) || break
	done
}

if ! $network_only; then
	export SLURM_CONF=$STATE/slurm.conf
	ctld=$(pid_from slurmctld)

	# Let Slurm end running jobs itself first: it signals every process of
	# every step. Bounded: a stuck controller only delays the hard sweep.
	if [[ -n $ctld ]]; then
		jobs=$(timeout 5 squeue -h -o %A 2>/dev/null || true)
		if [[ -n $jobs ]]; then
			say "cancelling running jobs: $(echo $jobs)"
			timeout 5 scancel $jobs 2>/dev/null || true
			queue_empty() { [[ -z $(timeout 5 squeue -h -o %A 2>/dev/null) ]]; }
			wait_for 15 queue_empty || say "jobs still listed after 15 s; killing them"
		fi
	fi

	# Daemons, by the pids they recorded.
	stop_pids 5 $(pid_from slurmd) $ctld

	# Whatever is left: processes in the nodes' namespaces, and those marked
	# as the cluster's (slurmstepd, job processes; see cluster_pids).
	keep=$(ancestors)
	left=()
	for p in $( (
		for ns in $(awk '$1 == "netns" { print $2 }' "$created"); do
			[[ -e /run/netns/$ns ]] && ip netns pids "$ns" 2>/dev/null
		done
		cluster_pids "$STATE"
	) | sort -un); do
		grep -qxF "$p" <<<"$keep" && continue
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == munged ]] && continue # last, below
		alive "$p" && left+=("$p")
	done
	if ((${#left[@]} > 0)); then
		say "stopping leftover processes: ${left[*]}"
		stop_pids 2 "${left[@]}"
	fi

	stop_pids 5 $(pid_from munged)
fi

# Network: links and namespaces in the reverse order of their creation, then
# the hosts lines.
while read -r kind name _; do
	case $kind in
	link) if [[ -e /sys/class/net/$name ]]; then ip link del "$name" || say "warning: could not delete link $name"; fi ;;
	netns) if [[ -e /run/netns/$name ]]; then ip netns del "$name" || say "warning: could not delete namespace $name"; fi ;;
	esac
done < <(tac "$created")
marker="# hpcmap-slurm $STATE"
if grep -qF "$marker" /etc/hosts; then
	# Rewrite in place (not mv): /etc/hosts may be a bind mount.
	hosts=$(grep -vF "$marker" /etc/hosts)
	printf '%s\n' "$hosts" >/etc/hosts
fi

if $network_only; then
	sed -i -E '/^(link|netns|hosts) /d' "$created"
	exit 0
fi

rm -rf "$STATE"/{ctld,run,spool,tmp,munge,env}
rm -f "$created"
say "down in $(since "$t0") s"
