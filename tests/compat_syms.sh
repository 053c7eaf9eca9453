#!/bin/sh
# compat_syms.sh OBJECT... - fail if an object compiled with vmemu/compat.h
# refers to a host call that compat.h redirects, which would bypass vmemu:
# a name that vmemu-wrap wraps (src/api/wrap.syms: the calls, their 64
# names and glibc's fortified _chk forms), or __sysv_signal, glibc's signal
# in strict ISO C.  Each object must refer to some vme_ call.
syms="$(dirname "$0")/../src/api/wrap.syms"
status=0
for obj in "$@"; do
	undef=$(nm -u "$obj" | awk '{ print $NF }') || exit 1
	bad=$(printf '%s\n' "$undef" | grep -Fx -f "$syms" -e __sysv_signal)
	if [ -n "$bad" ]; then
		echo "$obj calls the host, not vmemu:" $bad >&2
		status=1
	elif ! printf '%s\n' "$undef" | grep -q '^vme_'; then
		echo "$obj calls no vme_ function" >&2
		status=1
	fi
done
exit $status
