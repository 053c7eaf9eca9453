# vmemu - the Linux mmap subsystem, emulated in user space on real faults.
#
#   make            libvmemu.a and libvmemu.so
#   make test       build and run the whole Criterion suite
#   make demo       build everything and show lazy mapping on a generated file
#   make install    PREFIX=/usr/local (headers, libraries, vmemu.pc, man pages)
#   make asan | ubsan   the suite under a sanitizer
#   make clean
#
# `test` and `demo` install libsigsegv-dev and libcriterion-dev with apt-get
# when they are missing and we are root; otherwise they say what to install.

VERSION   := 0.1.0
SOVERSION := 0
PREFIX    ?= /usr/local
DESTDIR   ?=

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc
LIBCFLAGS = -std=c11 $(WARN) -fPIC -fvisibility=hidden -pthread $(CFLAGS) $(SANFLAGS)
LIBS     := -lsigsegv -lpthread

B        := build$(if $(SAN),-$(SAN))
LIB_SRC  := $(wildcard src/host/*.c src/mm/*.c src/api/*.c src/drivers/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)

ifeq ($(SAN),asan)
SANFLAGS := -fsanitize=address -fno-omit-frame-pointer
endif
ifeq ($(SAN),ubsan)
SANFLAGS := -fsanitize=undefined -fno-sanitize-recover=undefined
endif

.PHONY: all test demo bench install clean asan ubsan deps deps-lib deps-test deps-sdt probes check-headers
all: deps-lib $(B)/libvmemu.a $(B)/libvmemu.so

# --- dependencies ---------------------------------------------------------
define need
	@if ! printf '#include <$(1)>\n' | $(CC) -E -x c - >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "vmemu: installing $(2) with apt-get"; \
	    (apt-get install -y -q $(2) || (apt-get update -q && apt-get install -y -q $(2))) >/dev/null \
	      || { echo "vmemu: apt-get install $(2) failed" >&2; exit 1; }; \
	  else \
	    echo "vmemu: <$(1)> is missing. Install it with:  sudo apt-get install $(2)" >&2; exit 1; \
	  fi; \
	fi
endef
deps-lib:
	$(call need,sigsegv.h,libsigsegv-dev)
deps-test: deps-lib
	$(call need,criterion/criterion.h,libcriterion-dev)
deps: deps-test
# Optional: USDT probes (vmemu:fault, vmemu:writeback) for perf and bpftrace.
# Without <sys/sdt.h> the library builds the same, without probes.
deps-sdt:
	$(call need,sys/sdt.h,systemtap-sdt-dev)
probes: deps-sdt
	$(MAKE) clean all
	@readelf -n $(B)/libvmemu.so | grep -A2 stapsdt | grep -E "Name: (fault|writeback)" \
	  || { echo "vmemu: no USDT probes in $(B)/libvmemu.so" >&2; exit 1; }

# --- the library ------------------------------------------------------------
$(B)/%.o: %.c $(wildcard src/*/*.h include/*.h include/vmemu/*.h tests/*.h) | deps-lib
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LIBCFLAGS) -c $< -o $@

$(B)/libvmemu.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/libvmemu.so: $(LIB_OBJ)
	$(CC) -shared -pthread $(SANFLAGS) -Wl,-soname,libvmemu.so.$(SOVERSION) -Wl,--no-undefined $^ $(LIBS) -o $@

# --- tests --------------------------------------------------------------------
$(B)/tests/%.o: tests/%.c $(wildcard src/*/*.h include/*.h include/vmemu/*.h tests/*.h) | deps-test
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 $(WARN) -Wno-missing-prototypes -pthread $(CFLAGS) $(SANFLAGS) -c $< -o $@

# Programs written against <sys/mman.h>, switched over by compat.h alone.
$(B)/tests/compat_%.o: CPPFLAGS += -include vmemu/compat.h

$(B)/tests/run: $(TEST_OBJ) $(B)/libvmemu.a
	$(CC) -pthread $(SANFLAGS) $(TEST_OBJ) $(B)/libvmemu.a -lcriterion $(LIBS) -o $@

check-headers: | deps-lib
	@mkdir -p $(B)
	printf '#include <vmemu/compat.h>\n#include <vmemu.h>\n' > $(B)/hdr.c
	$(CC) -std=c11 -pedantic $(WARN) -Iinclude -fsyntax-only $(B)/hdr.c
	$(CC) -x c++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only $(B)/hdr.c
	printf '#include <vmemu.h>\n' > $(B)/hdr1.c
	$(CC) -std=c11 -pedantic $(WARN) -Iinclude -fsyntax-only $(B)/hdr1.c
	$(CC) -x c++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only $(B)/hdr1.c

test: deps-test all check-headers $(B)/tests/run $(B)/vmemu-bench $(B)/vmemu
	$(B)/tests/run --jobs 2 $(TESTFLAGS)

# ASan must leave SIGSEGV to vmemu (handle_segv=0), or it would report
# every emulated fault as a crash, and SIGBUS to the program.
asan:
	ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:allow_user_segv_handler=1:$(ASAN_OPTIONS) $(MAKE) SAN=asan test
ubsan:
	$(MAKE) SAN=ubsan test

# --- the vmemu tool and the demo -------------------------------------------
# build/vmemu (src/tool/, vmemu(1)) sees only the public header, as any
# program linked with -lvmemu does.
TOOL_SRC := $(wildcard src/tool/*.c)
$(B)/vmemu: $(TOOL_SRC) $(wildcard src/tool/*.h) include/vmemu.h $(B)/libvmemu.a
	$(CC) -D_GNU_SOURCE -Iinclude -std=gnu11 $(WARN) -pthread $(CFLAGS) $(SANFLAGS) $(TOOL_SRC) $(B)/libvmemu.a $(LIBS) -o $@

demo: deps-test all $(B)/vmemu
	$(B)/vmemu demo --write --pages 32

# --- benchmarks: programs that print numbers, never timed tests -------------
# vmemu-bench: the fault-latency matrix (bench/).  `make bench` runs it at
# 256 MiB so that it finishes in under two minutes, and writes the results
# page; the program's own default is 1 GiB.
BENCH_SRC   := $(wildcard bench/*.c)
BENCHFLAGS  ?= --size 256M
$(B)/vmemu-bench: $(BENCH_SRC) $(wildcard bench/*.h) $(B)/libvmemu.a
	$(CC) $(CPPFLAGS) -std=gnu11 $(WARN) -pthread $(CFLAGS) $(SANFLAGS) $(BENCH_SRC) $(B)/libvmemu.a $(LIBS) -lpthread -lm -o $@

bench: all $(B)/vmemu-bench
	@mkdir -p docs/bench
	$(B)/vmemu-bench $(BENCHFLAGS) --results docs/bench/results.md

# --- install --------------------------------------------------------------------
install: all $(B)/vmemu-bench $(B)/vmemu
	install -d $(DESTDIR)$(PREFIX)/include/vmemu $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3 \
		$(DESTDIR)$(PREFIX)/share/man/man7 $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/vmemu.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/vmemu/compat.h $(DESTDIR)$(PREFIX)/include/vmemu/
	install -m 644 $(B)/libvmemu.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/libvmemu.so $(DESTDIR)$(PREFIX)/lib/libvmemu.so.$(VERSION)
	ln -sf libvmemu.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libvmemu.so.$(SOVERSION)
	ln -sf libvmemu.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libvmemu.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' docs/vmemu.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/vmemu.pc
	install -m 644 docs/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 docs/man/*.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 644 docs/man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	install -m 755 $(B)/vmemu-bench $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(B)/vmemu $(DESTDIR)$(PREFIX)/bin/
	-[ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && ldconfig

clean:
	rm -rf build build-asan build-ubsan
