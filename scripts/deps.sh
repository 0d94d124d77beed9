#!/usr/bin/env bash
# deps.sh installs, through apt, the Debian/Ubuntu packages that the named
# parts of hpcmap need, skipping what is already there:
#
#   scripts/deps.sh openmpi mpich mpi4py slurm parallel
#
# It needs root (or sudo). Go modules come through the Go module proxy on
# their own.
set -euo pipefail

declare -A packages=(
	[openmpi]="pkg-config openmpi-bin libopenmpi-dev"
	[mpich]="pkg-config mpich libmpich-dev"
	[mpi4py]="python3-mpi4py"
	[slurm]="slurmctld slurmd slurm-client munge iproute2 util-linux"
	[parallel]="parallel" # GNU Parallel, which hpcmap farm's tests compare with
)

missing=()
for part in "$@"; do
	[[ -n ${packages[$part]:-} ]] || { echo "deps.sh: unknown part '$part' (want: ${!packages[*]})" >&2; exit 2; }
	for p in ${packages[$part]}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
done
((${#missing[@]})) || exit 0

sudo=""
if [[ $(id -u) != 0 ]]; then
	command -v sudo >/dev/null || { echo "deps.sh: need root to install: ${missing[*]}" >&2; exit 1; }
	sudo=sudo
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# An index older than a day may name package versions the mirror no longer has.
if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1) ]]; then
	$sudo apt-get update -qq
fi
# Slurm's Recommends pull in some thirty plugin packages that tests do not use.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
