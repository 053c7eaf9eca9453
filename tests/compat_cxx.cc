/*
 * compat_cxx.cc - a C++ program using <iostream>, compiled with
 * vmemu/compat.h: std::istream::read and std::ostream::write keep their
 * names (compat.h renames nothing in C++), and ::read and the other calls
 * still reach vmemu.
 */
#include <iostream>
#include <sstream>

#define COMPAT_SUITE compat_cxx
#include "compat_calls.h"

Test(compat_cxx, iostream_read_and_write_are_untouched)
{
	std::istringstream in("vmemu compat");
	char word[5];

	in.read(word, 5);
	cr_assert_eq(in.gcount(), 5);
	std::ostringstream out;
	out.write(word, 5);
	cr_assert(out.str() == "vmemu");
	std::cout.write("", 0);
	cr_assert(std::cout.good());
}
