#!/usr/bin/env bash
# cluster-up.sh [STATE_DIR] — start a throw-away Slurm cluster on this machine,
# for testing the sbatch scripts against real Slurm daemons.
#
# It runs as root and starts every daemon by hand (no systemd, no docker):
# munged with a fresh key, slurmctld, and one slurmd per node. Each node
# (n1, n2, ...) lives in its own network namespace with its own hostname and an
# address on a private bridge, so MPI sees two hosts just as on a real
# cluster. Where namespaces cannot be made, the nodes fall back to several
# slurmd on the loopback address (all ranks then share one hostname).
#
# It installs nothing. It needs (Debian/Ubuntu):
#   apt-get install --no-install-recommends slurmctld slurmd slurm-client munge iproute2 util-linux
#
# On success it prints the path of an environment file on stdout; source it
# to talk to the cluster:
#   . "$(scripts/slurm/cluster-up.sh)"   # sets SLURM_CONF and MPI hints
#   sbatch --wait -N2 --wrap 'srun hostname'
#   scripts/slurm/cluster-down.sh
#
# Settings (environment):
#   HPCMAP_SLURM_NODES  number of nodes (default 2)
#   HPCMAP_SLURM_CPUS   CPUs each node claims (default 2); may exceed the real
#                       count: the nodes share this machine's cores anyway
#   HPCMAP_SLURM_NET    first three octets of the private /24 (default 10.241.17)
#   HPCMAP_SLURM_MODE   netns (default, falls back to loopback) or loopback
#
# A failed bring-up tears down whatever it had started.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/cluster-lib.sh"

STATE=${1:-${HPCMAP_SLURM_STATE:-/tmp/hpcmap-slurm}}
NODES=${HPCMAP_SLURM_NODES:-2}
CPUS=${HPCMAP_SLURM_CPUS:-2}
NET=${HPCMAP_SLURM_NET:-10.241.17}
MODE=${HPCMAP_SLURM_MODE:-netns}
CTLD_PORT=6817 # slurmctld has no option to bind one address: it takes 0.0.0.0:6817

t0=$(now)

if ((EUID != 0)); then
	say "must run as root (it starts daemons, namespaces and a bridge)"
	exit 1
fi
for v in NODES CPUS; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		say "HPCMAP_SLURM_$v must be a positive integer, not '${!v}'"
		exit 1
	fi
done
for cmd in munged munge unmunge slurmctld slurmd sinfo sbatch ip nsenter unshare runuser ss; do
	if ! command -v "$cmd" >/dev/null; then
		say "missing $cmd; install: apt-get install --no-install-recommends slurmctld slurmd slurm-client munge iproute2 util-linux"
		exit 1
	fi
done

# A previous cluster on the same state directory is torn down first, so
# cluster-up.sh can be rerun after a crash.
if [[ -e $STATE/created ]]; then
	say "tearing down the previous cluster in $STATE"
	"$here/cluster-down.sh" "$STATE"
fi
if [[ -n $(ss -Hltn "sport = :$CTLD_PORT") ]]; then
	say "port $CTLD_PORT is taken: another slurmctld runs here (another cluster-up.sh, or a real one)"
	exit 1
fi

# Drained or down node states survive restarts in the state save location, so
# every bring-up starts from an empty directory.
rm -rf "$STATE"
mkdir -p "$STATE"/{ctld,run,log}
: >"$STATE/created"

failed() {
	local rc=$?
	rc=${1:-$rc}
	trap - ERR INT TERM
	say "bring-up failed (exit $rc); logs are in $STATE/log; tearing down"
	for f in "$STATE"/log/*.log; do
		[[ -s $f ]] && { echo "--- $f (last lines)" >&2; tail -n 15 "$f" >&2; }
	done
	"$here/cluster-down.sh" "$STATE" || true
	exit "$rc"
}
trap failed ERR
trap 'failed 130' INT TERM
set -E

export SLURM_CONF=$STATE/slurm.conf

# --- munge: authentication between every Slurm component --------------------
# A private munged with its own key and socket, so a system munged (if any)
# is left alone. munged insists on running as an unprivileged user and on
# owning its files.
mkdir -p "$STATE/munge"
dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$STATE/munge"
chmod 0700 "$STATE/munge"
chmod 0400 "$STATE/munge/munge.key"
MUNGE_SOCKET=$STATE/munge/munge.socket
runuser -u munge -- /usr/sbin/munged --force \
	--key-file="$STATE/munge/munge.key" --socket="$MUNGE_SOCKET" \
	--pid-file="$STATE/munge/munged.pid" --seed-file="$STATE/munge/munged.seed" \
	--log-file="$STATE/munge/munged.log"
echo "pidfile munged $STATE/munge/munged.pid" >>"$STATE/created"
munge_works() { munge -n --socket="$MUNGE_SOCKET" | unmunge --socket="$MUNGE_SOCKET" >/dev/null 2>&1; }
wait_for 10 munge_works || {
	say "munged did not answer"
	false
}

# --- the nodes' network ----------------------------------------------------
# netns mode: a bridge carries the controller's address; each node is a
# network namespace joined to the bridge by a veth pair, with an address on a
# /24 that exists only between these namespaces. Nothing leaves the machine.
ctl_addr=127.0.0.1
declare -a node_addr node_port
setup_netns() {
	local i ns
	if [[ -n $(ip -4 -o addr show to "$NET.0/24") || -n $(ip -4 route show "$NET.0/24") ]]; then
		say "$NET.0/24 is already used on this machine; set HPCMAP_SLURM_NET"
		return 1
	fi
	ip link add "$HPCMAP_SLURM_BRIDGE" type bridge || return 1
	echo "link $HPCMAP_SLURM_BRIDGE" >>"$STATE/created"
	ip addr add "$NET.1/24" dev "$HPCMAP_SLURM_BRIDGE" || return 1
	ip link set "$HPCMAP_SLURM_BRIDGE" up || return 1
	for ((i = 1; i <= NODES; i++)); do
		ns=$HPCMAP_SLURM_PREFIX-n$i
		ip netns add "$ns" || return 1
		echo "netns $ns" >>"$STATE/created"
		ip link add "$ns" type veth peer name eth0 netns "$ns" || return 1
		echo "link $ns" >>"$STATE/created"
		ip link set "$ns" master "$HPCMAP_SLURM_BRIDGE" up || return 1
		ip -n "$ns" link set lo up || return 1
		ip -n "$ns" addr add "$NET.$((10 + i))/24" dev eth0 || return 1
		ip -n "$ns" link set eth0 up || return 1
		node_addr[i]=$NET.$((10 + i))
		node_port[i]=6818
	done
	ctl_addr=$NET.1
}
setup_loopback() {
	local i
	ctl_addr=127.0.0.1
	for ((i = 1; i <= NODES; i++)); do
		node_addr[i]=127.0.0.1
		node_port[i]=$((17000 + i)) # several slurmd on one address need their own ports
	done
}
if [[ $MODE == netns ]] && ! setup_netns; then
	say "network namespaces failed; falling back to several slurmd on loopback"
	"$here/cluster-down.sh" --network-only "$STATE"
	MODE=loopback
fi
[[ $MODE == netns ]] || setup_loopback

# Node names resolve through /etc/hosts (MPI launchers look them up). Each
# line carries a marker so cluster-down.sh removes exactly these lines.
hosts_marker="# hpcmap-slurm $STATE"
if [[ $MODE == netns ]]; then
	echo "hosts $hosts_marker" >>"$STATE/created"
	for ((i = 1; i <= NODES; i++)); do
		echo "${node_addr[i]} n$i $hosts_marker" >>/etc/hosts
	done
fi

# --- slurm.conf --------------------------------------------------------------
for ((i = 1; i <= NODES; i++)); do
	mkdir -p "$STATE/spool/n$i" "$STATE/tmp/n$i"
done
{
	cat <<EOF
# Generated by cluster-up.sh for a throw-away test cluster. Not for production.
ClusterName=hpcmap
# The controller must be named by this machine's real hostname.
SlurmctldHost=$(hostname)($ctl_addr)
SlurmctldPort=$CTLD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$STATE/ctld
# Per-node directories (%n = node name): several slurmd share this machine.
SlurmdSpoolDir=$STATE/spool/%n
TmpFS=$STATE/tmp/%n
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd-%n.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd-%n.log
# No cgroups: track processes by parentage. task/affinity binds each task to
# its CPUs with sched_setaffinity, as on a real cluster, so a Go rank's
# GOMAXPROCS follows --cpus-per-task.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Schedule at once; an impossible request is refused at submission instead of
# pending forever; finished jobs leave the queue after 5 s, which keeps
# sbatch --wait polling every 2 s.
SchedulerParameters=batch_sched_delay=0
EnforcePartLimits=ALL
MinJobAge=5
KillWait=5
# Trust the CPU counts below even when they exceed the real ones.
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
EOF
	for ((i = 1; i <= NODES; i++)); do
		if [[ $MODE == netns ]]; then
			echo "NodeName=n$i NodeAddr=${node_addr[i]} CPUs=$CPUS RealMemory=1000 State=UNKNOWN"
		else
			echo "NodeName=n$i NodeHostname=localhost NodeAddr=${node_addr[i]} Port=${node_port[i]} CPUs=$CPUS RealMemory=1000 State=UNKNOWN"
		fi
	done
	echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
} >"$SLURM_CONF"

# --- daemons -------------------------------------------------------------------
echo "pidfile slurmctld $STATE/run/slurmctld.pid" >>"$STATE/created"
slurmctld -c -f "$SLURM_CONF" # -c: ignore any saved state
for ((i = 1; i <= NODES; i++)); do
	echo "pidfile slurmd $STATE/run/slurmd-n$i.pid" >>"$STATE/created"
	if [[ $MODE == netns ]]; then
		# nsenter, not "ip netns exec": the latter remounts /sys without the
		# cgroup tree and slurmd dies. unshare --uts gives the node its hostname.
		nsenter --net="/run/netns/$HPCMAP_SLURM_PREFIX-n$i" unshare --uts \
			sh -c "hostname n$i && exec slurmd -f '$SLURM_CONF' -N n$i"
	else
		slurmd -f "$SLURM_CONF" -N "n$i"
	fi
done

# Wait (bounded) until every node reports idle.
all_idle() {
	local states
	states=$(sinfo -h -N -o '%T' 2>/dev/null) || return 1
	[[ $(grep -cx idle <<<"$states") -eq $NODES ]]
}
if ! wait_for 30 all_idle; then
	say "nodes not idle after 30 s:"
	sinfo -N >&2 || true
	false
fi

# --- the environment file ------------------------------------------------------
{
	echo "# Source this to use the cluster in $STATE (written by cluster-up.sh)."
	echo "export SLURM_CONF=$SLURM_CONF"
	echo "export HPCMAP_SLURM_STATE=$STATE"
	echo "export HPCMAP_SLURM_MODE=$MODE"
	echo "# Keep OpenMPI's TCP traffic on the cluster's own network."
	if [[ $MODE == netns ]]; then
		echo "export OMPI_MCA_btl_tcp_if_include=$NET.0/24"
		echo "export OMPI_MCA_oob_tcp_if_include=$NET.0/24"
	else
		# Every fake node has the same hostname, so OpenMPI's shared-memory
		# segments would collide across them: use TCP on loopback only.
		echo "export OMPI_MCA_btl=self,tcp"
		echo "export OMPI_MCA_btl_tcp_if_include=lo"
		echo "export OMPI_MCA_oob_tcp_if_include=lo"
	fi
} >"$STATE/env"

trap - ERR
say "$NODES nodes idle ($MODE mode) in $(since "$t0") s; source $STATE/env"
echo "$STATE/env"
