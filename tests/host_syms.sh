#!/bin/sh
# host_syms.sh OBJECT... - every system call the library makes goes through
# host_sys (src/host/syscalls.c): fail if any object but syscalls.o refers
# to a function outside the objects given that tests/host_syms.allow does
# not list as making no system call.  Deny by default: a new libc call is
# either routed through the table or listed there with the reason it makes
# no system call.  Sanitizer runtime calls are not the library's own.
allow="$(dirname "$0")/host_syms.allow"
known=$(mktemp) || exit 1
trap 'rm -f "$known"' EXIT
{
	sed -e 's/#.*//' "$allow" | awk 'NF { print $1 }'
	nm --defined-only -g "$@" | awk 'NF == 3 { print $3 }'
} | sort -u >"$known" || exit 1
status=0
for obj in "$@"; do
	case "$obj" in */host/syscalls.o) continue ;; esac
	undef=$(nm -u "$obj") || exit 1
	bad=$(printf '%s\n' "$undef" | awk 'NF { print $NF }' |
	      grep -Ev '^__(asan|ubsan|lsan|sanitizer)_' | grep -Fxv -f "$known")
	if [ -n "$bad" ]; then
		echo "$obj calls the host outside host_sys:" $bad >&2
		echo "  route it through src/host/syscalls.c, or, if it makes no system call, list it in $allow" >&2
		status=1
	fi
done
exit $status
