/*
 * static_wrap.c - a program linked -static with vmemu-wrap's flags, which
 * cannot work: libvmemu.a's own calls are wrapped too.  `make
 * check-static-wrap` checks that its first call stops it with a message
 * saying so, instead of recursing until it hangs or overflows its stack.
 */
#include <unistd.h>

int main(void)
{
	char c;

	return read(0, &c, 0) == 0 ? 0 : 1;
}
