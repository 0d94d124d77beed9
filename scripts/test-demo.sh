#!/usr/bin/env bash
# test-demo.sh runs `make demo` (quick: DEMO_QUICK=1) as a cluster user would:
# not root, the MPI from a module-style environment (a directory on PATH
# holding mpirun and mpicc wrappers, and PKG_CONFIG_PATH; the system's .pc
# files hidden), with fake apt-get and sudo first on PATH that record any call
# and fail. Three machines:
#   openmpi  a module whose pkg-config file is ompi: built with -tags mpi
#   vendor   MPICH under a name pkg-config does not know (as Cray's or
#            Intel's): built with -tags mpicc from the module's mpicc
#   none     no MPI at all, on this Debian machine: the demo asks apt-get
#            (dpkg-query hidden too, so that the packages look missing)
# In the first two apt is never called, the binaries link the module's MPI,
# and the demo's programs run. Needs root (it runs the demo as nobody).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$PWD
if [[ $(id -u) != 0 ]]; then
	echo "test-demo: skipped: needs root, to run the demo as another user"
	exit 0
fi
user=nobody
tmp=$(mktemp -d /tmp/hpcmap-demo-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
# A Go build cache of the user's own, kept between runs: building plot cold
# takes minutes on a small machine.
cache=/tmp/hpcmap-demo-test-gocache
mkdir -p "$cache" && chown -R "$user" "$cache"

# The project as a user's clone: the tracked files as they are now, and the
# modules vendored (the user's machine has its own module cache).
mkdir "$tmp/repo"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$tmp/repo"
(cd "$tmp/repo" && go mod vendor) || exit 1

# module DIR IMPL PCNAME: a module's bin/mpirun and bin/mpicc (wrappers of
# IMPL's) and lib/pkgconfig/PCNAME.pc (a copy of IMPL's own).
module() {
	local dir=$tmp/modules/$1 impl=$2 pc=$3 own
	mkdir -p "$dir/bin" "$dir/lib/pkgconfig"
	for tool in mpirun mpicc; do
		printf '#!/bin/sh\nexec %s.%s "$@"\n' "$tool" "$impl" >"$dir/bin/$tool"
		chmod 755 "$dir/bin/$tool"
	done
	own=ompi
	[[ $impl == mpich ]] && own=mpich
	cp "$(pkg-config --variable=pcfiledir "$own")/$own.pc" "$dir/lib/pkgconfig/$pc.pc"
}
module openmpi openmpi ompi
module vendor mpich vendor-mpi
mkdir -p "$tmp/fake" "$tmp/empty" "$tmp/none/bin"
for tool in apt-get apt sudo; do
	printf '#!/bin/sh\necho "%s $*" >>%s/apt-calls\nexit 1\n' "$tool" "$tmp" >"$tmp/fake/$tool"
	chmod 755 "$tmp/fake/$tool"
done
# A machine without MPI: only the tools the demo and make use, from /usr/bin.
for tool in bash sh env make dirname basename id nproc head mkdir timeout pkg-config cat grep sed tr ls rm mktemp find; do
	ln -s "$(command -v "$tool")" "$tmp/none/bin/$tool"
done
chown -R "$user" "$tmp/repo"
chmod 777 "$tmp"

failed=0
fail() { echo "FAIL  demo $1: $2"; failed=$((failed + 1)); }
# demo NAME PATH PKG_CONFIG_PATH: run `make demo` as the user; output in $tmp/NAME.out.
demo() {
	rm -f "$tmp/apt-calls" && rm -rf "$tmp/repo/bin" "$tmp/repo/mc_data"
	timeout 600 runuser -u "$user" -- env -i HOME="$tmp" PATH="$2" PKG_CONFIG_PATH="$3" \
		PKG_CONFIG_LIBDIR="$tmp/empty" GOCACHE="$cache" GOFLAGS="-mod=vendor -trimpath" GOPROXY=off \
		GOTOOLCHAIN=local DEMO_QUICK=1 make -C "$tmp/repo" demo >"$tmp/$1.out" 2>&1
}
go=$(dirname "$(command -v go)")
for m in "openmpi mpi libmpi" "vendor mpicc libmpich"; do
	set -- $m
	start=$SECONDS before=$failed
	if ! demo "$1" "$tmp/fake:$tmp/modules/$1/bin:$go:/usr/bin:/bin" "$tmp/modules/$1/lib/pkgconfig"; then
		fail "$1" "make demo failed:"
		tail -20 "$tmp/$1.out" | sed 's/^/      /'
		continue
	fi
	out=$(cat "$tmp/$1.out")
	[[ ! -e $tmp/apt-calls ]] || fail "$1" "called $(cat "$tmp/apt-calls")"
	grep -q -- "-tags $2\|pkg-config ompi" <<<"$out" && [[ $2 != mpicc || $out == *"-tags mpicc"* ]] ||
		fail "$1" "did not build with -tags $2:"$'\n'"$out"
	grep -q "/$3\.so" <<<"$(ldd "$tmp/repo/bin/auc")" || fail "$1" "bin/auc does not link $3"
	grep -q "The area is 8.1620175" <<<"$out" && grep -q "wrote mc_data/scan.csv" <<<"$out" ||
		fail "$1" "the programs did not run:"$'\n'"$out"
	((failed > before)) || echo "ok    demo $1 (-tags $2, $3) in $((SECONDS - start)) s"
done
demo none "$tmp/fake:$tmp/none/bin:$go" ""
if grep -q "apt-get" "$tmp/apt-calls" 2>/dev/null && grep -q "no MPI found" "$tmp/none.out"; then
	echo "ok    demo none: asks apt-get for OpenMPI ($(head -1 "$tmp/apt-calls"))"
else
	fail none "want a call of apt-get install; got $(cat "$tmp/apt-calls" 2>/dev/null) and"$'\n'"$(cat "$tmp/none.out")"
fi
((failed == 0)) && echo "demo: all passed"
((failed == 0))
