# finlock - one GNU Makefile for every program, library, test and benchmark.
#
#   make          build everything (optimised) into build/rel
#   make test     install missing packages, build under ASan+UBSan, run all tests
#   make run      install, build, start finlockd with a demo lender
#   make fuzz     run every fuzz target for FUZZ_SECONDS each
#   make install  install the programs and the systemd unit (PREFIX, DESTDIR)
#   make bench    run the benchmarks under bench/
#
# Sources are found by folder, so a new module needs no edit here:
#   src/core/*.c      -> libflcore.a    (pure logic, no I/O)
#   src/store/*.c     -> libflstore.a   (storage backends)
#   src/agent/*.c     -> libflagent.a   (the device agent library)
#   src/server/*.c    -> finlockd       (main.c holds main, the rest a library)
#   web/*             -> compiled into finlockd (scripts/web-assets.sh)
#   src/cli/*.c       -> finlock
#   src/device/*.c    -> finlock-device (the simulated phone)
#   tests/unit/test_*.c, tests/integration/test_*.c, tests/e2e/test_*.c
#                     -> one test program each
#   fuzz/fuzz_*.c     -> one libFuzzer target each

CC      ?= cc
# The version, and the commit the build comes from (printed by --version):
# the git checkout's, "-dirty" with uncommitted changes; outside a git
# checkout give COMMIT=... or it is reported as "unknown".
VERSION := 0.1.0
COMMIT  ?= $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
             { git diff-index --quiet HEAD -- 2>/dev/null && echo $$c || \
               echo $$c-dirty; })
VERSION_DEFS := -DFL_BUILD_VERSION='"$(VERSION)"' \
                -DFL_BUILD_COMMIT='"$(COMMIT)"'
# version.o is compiled again whenever the version or commit changes.
$(shell mkdir -p build && echo '$(VERSION) $(COMMIT)' | \
        cmp -s - build/version.stamp || \
        echo '$(VERSION) $(COMMIT)' > build/version.stamp)
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
# systemd looks for units under /usr/local/lib too, so the unit follows
# PREFIX; packagers of /usr give PREFIX=/usr.
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR  ?= $(PREFIX)/share/man
# V=1 shows every command.
Q       := $(if $(V),,@)
PKGS    := libsodium jansson libmicrohttpd sqlite3 libcurl libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Werror
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CPPFLAGS_ALL := -Iinclude -Isrc -Itests $(PKG_CFLAGS)
REL_CFLAGS := $(CSTD) $(WARN) -O2 -g -fno-strict-aliasing
SAN_CFLAGS := $(CSTD) $(WARN) -O1 -g -fno-omit-frame-pointer \
              -fsanitize=address,undefined -fno-sanitize-recover=all
LDLIBS  := $(PKG_LIBS) -lpthread -lm

CORE_SRC   := $(sort $(wildcard src/core/*.c))
STORE_SRC  := $(sort $(wildcard src/store/*.c))
AGENT_SRC  := $(sort $(wildcard src/agent/*.c))
SERVER_SRC := $(sort $(filter-out src/server/main.c,$(wildcard src/server/*.c)))
CLI_SRC    := $(sort $(filter-out src/cli/main.c,$(wildcard src/cli/*.c)))
DEVICE_SRC := $(sort $(filter-out src/device/main.c,$(wildcard src/device/*.c)))
UNIT_TESTS := $(sort $(wildcard tests/unit/test_*.c))
INT_TESTS  := $(sort $(wildcard tests/integration/test_*.c tests/e2e/test_*.c))
TEST_SUPPORT := $(sort $(wildcard tests/support/*.c))
FUZZ_SRC   := $(sort $(wildcard fuzz/fuzz_*.c))
# The browser tests (node + playwright-core + chromium) run as one program.
BROWSER_TESTS := $(wildcard tests/browser/run.sh)
BENCH_SRC  := $(sort $(wildcard bench/bench_*.c))
# The console and buyer's page: served by finlockd from byte arrays that
# scripts/web-assets.sh generates into build/gen at build time.
WEB_ASSETS := $(sort $(wildcard web/*.html web/*.css web/*.js web/*.svg))
WEB_GEN    := build/gen/web_assets.c

PROGS := $(if $(wildcard src/server/main.c),finlockd) \
         $(if $(wildcard src/cli/main.c),finlock) \
         $(if $(wildcard src/device/main.c),finlock-device)

# $(call objs,VARIANT,SOURCES)
objs = $(patsubst %.c,build/$(1)/obj/%.o,$(2))
# Libraries in link order (users before what they use); empty ones are skipped.
libs = $(if $(CLI_SRC),build/$(1)/libflcli.a) \
       $(if $(DEVICE_SRC),build/$(1)/libfldevice.a) \
       $(if $(SERVER_SRC),build/$(1)/libflserver.a) \
       $(if $(STORE_SRC),build/$(1)/libflstore.a) \
       $(if $(AGENT_SRC),build/$(1)/libflagent.a) \
       build/$(1)/libflcore.a

.PHONY: all rel san test unit-tests run fuzz bench clean deps format check-format \
        install layers

all: rel
rel: $(addprefix build/rel/bin/,$(PROGS)) \
     $(if $(wildcard src/cli/main.c),build/rel/share/man/man1/finlock.1)
san: $(addprefix build/san/bin/,$(PROGS)) \
     $(patsubst tests/%.c,build/san/tests/%,$(UNIT_TESTS) $(INT_TESTS))

deps:
	@sh scripts/deps.sh

# --- compilation -----------------------------------------------------------
$(WEB_GEN): $(WEB_ASSETS) web scripts/web-assets.sh
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)sh scripts/web-assets.sh $@ $(WEB_ASSETS)
build/rel/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(REL_CFLAGS) $(CPPFLAGS_ALL) $(EXTRA_DEFS) -MMD -MP -c $< -o $@
build/san/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC san  $<"
	$(Q)$(CC) $(SAN_CFLAGS) $(CPPFLAGS_ALL) $(EXTRA_DEFS) -MMD -MP -c $< -o $@
VERSION_OBJS := $(foreach v,rel san fuzz,build/$(v)/obj/src/core/version.o)
$(VERSION_OBJS): EXTRA_DEFS = $(VERSION_DEFS)
$(VERSION_OBJS): build/version.stamp

define variant
build/$(1)/libflcore.a: $(call objs,$(1),$(CORE_SRC))
	@rm -f $$@; ar rcs $$@ $$^
build/$(1)/libflstore.a: $(call objs,$(1),$(STORE_SRC))
	@rm -f $$@; ar rcs $$@ $$^
build/$(1)/libflagent.a: $(call objs,$(1),$(AGENT_SRC))
	@rm -f $$@; ar rcs $$@ $$^
build/$(1)/libflserver.a: $(call objs,$(1),$(SERVER_SRC) $(WEB_GEN))
	@rm -f $$@; ar rcs $$@ $$^
build/$(1)/libflcli.a: $(call objs,$(1),$(CLI_SRC))
	@rm -f $$@; ar rcs $$@ $$^
build/$(1)/libfldevice.a: $(call objs,$(1),$(DEVICE_SRC))
	@rm -f $$@; ar rcs $$@ $$^
build/$(1)/bin/finlockd: build/$(1)/obj/src/server/main.o $(call libs,$(1))
	@mkdir -p $$(dir $$@)
	@echo "  LD      $$@"
	$$(Q)$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)
build/$(1)/bin/finlock: build/$(1)/obj/src/cli/main.o $(call libs,$(1))
	@mkdir -p $$(dir $$@)
	@echo "  LD      $$@"
	$$(Q)$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)
build/$(1)/bin/finlock-device: build/$(1)/obj/src/device/main.o $(call libs,$(1))
	@mkdir -p $$(dir $$@)
	@echo "  LD      $$@"
	$$(Q)$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)
endef
$(eval $(call variant,rel,$(REL_CFLAGS)))
$(eval $(call variant,san,$(SAN_CFLAGS)))

# finlock's manual page, made by the binary from its own help text.
build/rel/share/man/man1/finlock.1: build/rel/bin/finlock
	@mkdir -p $(dir $@)
	@echo "  MAN     $@"
	$(Q)$< help --man >$@.tmp && mv $@.tmp $@

# A test program may add link flags as LDFLAGS_<program>: the allocation
# failure test routes every allocation of the code under test through its
# own allocator.
LDFLAGS_test_alloc_fail := $(foreach f,malloc calloc realloc strdup strndup,-Wl,--wrap=$(f))
# The live OpenAPI check reads docs/openapi.yaml with libyaml.
LDFLAGS_test_server_openapi_live := -lyaml
build/san/tests/%: tests/%.c $(call objs,san,$(TEST_SUPPORT)) $(call libs,san)
	@mkdir -p $(dir $@)
	@echo "  LD san  $@"
	$(Q)$(CC) $(SAN_CFLAGS) $(CPPFLAGS_ALL) -o $@ $^ -lcmocka $(LDLIBS) \
		$(LDFLAGS_$(notdir $@))

# --- tests -----------------------------------------------------------------
# finlockd's includes run one way, lowest layer first (src/server/layers.txt,
# docs/server.md "Source layout"): an include of a higher layer, or a cycle,
# fails `make test` and `make check` before anything runs.
layers:
	@sh scripts/layers.sh

# Every test program runs under ASan+UBSan; scripts/run-tests.sh prints each
# program's cmocka summary and a final "N passed, N failed" line.
test: deps layers
	@$(MAKE) --no-print-directory san
	@FINLOCK_BIN=$(CURDIR)/build/san/bin sh scripts/run-tests.sh \
		$(patsubst tests/%.c,build/san/tests/%,$(INT_TESTS) $(UNIT_TESTS)) \
		$(BROWSER_TESTS)

# Run one test program: make check T=unit/test_imei; T=browser runs the
# browser tests (tests/browser/run.sh).
check: deps layers
	@$(MAKE) --no-print-directory $(if $(filter browser,$(T)),,build/san/tests/$(T)) \
		$(addprefix build/san/bin/,$(PROGS))
	@FINLOCK_BIN=$(CURDIR)/build/san/bin sh scripts/run-tests.sh \
		$(if $(filter browser,$(T)),tests/browser/run.sh,build/san/tests/$(T))

# --- run -------------------------------------------------------------------
run: deps
	@$(MAKE) --no-print-directory rel
	@sh scripts/run.sh

# --- fuzzing ---------------------------------------------------------------
FUZZ_SECONDS ?= 20
FUZZ_CC ?= clang
# The -Werror gate is the cc build; clang also flags two idioms gcc takes
# ({NULL} at the end of an option table, v*printf wrappers of a checked
# format), so they do not stop a fuzz build of the server or CLI code.
FUZZ_CFLAGS := $(CSTD) $(WARN) -Wno-unused-command-line-argument -O1 -g \
               -Wno-missing-field-initializers -Wno-format-nonliteral \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_CORE := $(patsubst %.c,build/fuzz/obj/%.o,$(CORE_SRC))
# Every target links the core objects. One that fuzzes code outside core
# names the libraries it needs, users first, in FUZZ_LIBS_<target>.
FUZZ_LIBS_fuzz_srvconf := server store
FUZZ_LIBS_fuzz_jsonio  := server store
FUZZ_LIBS_fuzz_netaddr := server store
FUZZ_LIBS_fuzz_cliconf := cli
FUZZ_LIBS_fuzz_csv     := cli
fuzz_libs = $(foreach l,$(FUZZ_LIBS_$(1)),build/fuzz/libfl$(l).a)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC fuzz $<"
	$(Q)$(FUZZ_CC) $(filter-out -fsanitize=fuzzer%,$(FUZZ_CFLAGS)) \
		-fsanitize=fuzzer-no-link,address,undefined $(CPPFLAGS_ALL) \
		$(EXTRA_DEFS) -MMD -MP -c $< -o $@
$(eval $(call variant,fuzz,$(FUZZ_CFLAGS)))
.SECONDEXPANSION:
build/fuzz/%: fuzz/%.c $$(call fuzz_libs,$$*) $(FUZZ_CORE)
	@mkdir -p $(dir $@)
	@echo "  LD fuzz $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(CPPFLAGS_ALL) -MMD -MP -o $@ $< \
		$(filter %.a %.o,$^) $(LDLIBS)
fuzz: deps $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
	@set -e; for f in $(patsubst fuzz/%.c,%,$(FUZZ_SRC)); do \
		mkdir -p build/fuzz/corpus/$$f; \
		echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
		build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
			build/fuzz/corpus/$$f $$( [ -d fuzz/corpus/$$f ] && echo fuzz/corpus/$$f ) \
			2>build/fuzz/$$f.log || { tail -40 build/fuzz/$$f.log; exit 1; }; \
	done

# --- benchmarks ------------------------------------------------------------
bench: deps rel $(patsubst bench/%.c,build/rel/bench/%,$(BENCH_SRC))
	@sh bench/run.sh
build/rel/bench/%: bench/%.c $(call libs,rel)
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) $(CPPFLAGS_ALL) -o $@ $^ $(LDLIBS)

# --- install ---------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=/staging]: the three programs,
# the systemd unit (its ExecStart pointing at BINDIR), the sysusers.d entry
# that creates its user, and the man page.
# INSTALL_VARIANT=san installs the sanitizer build (the install test does,
# to reuse what `make test` built).
INSTALL_VARIANT ?= rel
install: $(addprefix build/$(INSTALL_VARIANT)/bin/,$(PROGS))
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $^ $(DESTDIR)$(BINDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' packaging/finlockd.service \
		> $(DESTDIR)$(UNITDIR)/finlockd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/finlockd.service
	install -m 0644 packaging/finlockd.sysusers \
		$(DESTDIR)$(SYSUSERSDIR)/finlockd.conf
	install -m 0644 packaging/finlockd.8 $(DESTDIR)$(MANDIR)/man8/finlockd.8

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')
check-format:
	clang-format --dry-run -Werror $(shell git ls-files '*.c' '*.h')

clean:
	rm -rf build

.SECONDARY:

-include $(shell find build -name '*.d' 2>/dev/null)
