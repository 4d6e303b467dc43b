# samepage — KSM per container, from outside.
# Targets: all (default), check, deps, demo, install, clean, sanitize.
# Area-specific targets live in */*.mk fragments included at the bottom.

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
SYSCONFDIR ?= /etc
DESTDIR ?=

CC ?= gcc
AR ?= ar
ARCH ?= $(shell $(CC) -dumpmachine | cut -d- -f1)
B := build

CFLAGS ?= -O2 -g
SP_CFLAGS := -std=gnu11 -Wall -Wextra -Wformat=2 -Wshadow \
	-Werror=implicit-function-declaration -D_GNU_SOURCE \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE \
	-DSAMEPAGE_VERSION='"$(VERSION)"' -I.
SP_LDFLAGS := -pie -Wl,-z,relro,-z,now
# libcap and libseccomp confine every program (host/confine.c).
LIBS := -ljson-c -lseccomp -lcap
# `samepage estimate` hashes pages with xxHash: only build/samepage and the
# unit tests that need it link it, never the static hook.
ESTIMATE_LIBS := -lxxhash -lm

ifeq ($(SANITIZE),1)
CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
SP_LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRCS := $(wildcard base/*.c oci/*.c host/*.c cgroupfs/*.c node/*.c) host/arch/$(ARCH).c
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)
CMD_SRCS := $(wildcard cmd/*.c)
CMD_OBJS := $(CMD_SRCS:%.c=$(B)/obj/%.o)
HOOK_SRCS := $(wildcard hooks/*.c)
HOOK_OBJS := $(HOOK_SRCS:%.c=$(B)/obj/%.o)
UNIT_SRCS := $(wildcard test/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:test/unit/%.c=$(B)/test/%)
# build/gen/confine-bpf.c compiled (rules below "all").
CONFINE_BPF_OBJ := $(B)/obj/gen/confine-bpf.o
HDRS := $(wildcard base/*.h oci/*.h host/*.h host/arch/*.h cgroupfs/*.h node/*.h cmd/*.h hooks/*.h)

# Area fragments (kernel/, packaging/, bench/) add targets, CHECK_EXTRA
# (run by check), INSTALL_EXTRA (run by install) and EXTRA_DEB_DEPS.
.DEFAULT_GOAL := all

.PHONY: all check check-layers check-unit check-integration check-integration-unified check-cross deps deps-check demo install clean sanitize
all: $(B)/samepage-hook $(B)/samepage

$(B)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libsamepage.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# Every container start runs the hook: linked statically (still PIE) it
# skips the dynamic loader, about 1 ms per run on this machine.
HOOK_LDFLAGS ?= -static-pie
ifeq ($(SANITIZE),1)
HOOK_LDFLAGS :=
endif
$(B)/samepage-hook: $(HOOK_OBJS) $(B)/libsamepage.a $(CONFINE_BPF_OBJ)
	$(CC) $(CFLAGS) $(SP_LDFLAGS) $(HOOK_LDFLAGS) $(LDFLAGS) -o $@ $(HOOK_OBJS) $(CONFINE_BPF_OBJ) $(B)/libsamepage.a $(LIBS)

$(B)/samepage: $(CMD_OBJS) $(B)/libsamepage.a $(CONFINE_BPF_OBJ)
	$(CC) $(CFLAGS) $(SP_LDFLAGS) $(LDFLAGS) -o $@ $(CMD_OBJS) $(CONFINE_BPF_OBJ) $(B)/libsamepage.a $(LIBS) $(ESTIMATE_LIBS)

# The seccomp programs of node/confine-policy.c, exported by libseccomp at
# build time (host/confine.h: struct confine_bpf) so that a hook run loads
# its filter instead of building it.  The generator links only what the
# export needs, without the generated object (its symbols are weak).
CONFINE_GEN_OBJS := $(B)/obj/node/gen/confine-bpf-gen.o $(B)/obj/host/confine.o \
	$(B)/obj/node/confine-policy.o $(B)/obj/base/error.o
$(B)/confine-bpf-gen: $(CONFINE_GEN_OBJS)
	$(CC) $(CFLAGS) $(SP_LDFLAGS) $(LDFLAGS) -o $@ $^ -lseccomp -lcap
$(B)/gen/confine-bpf.c: $(B)/confine-bpf-gen
	@mkdir -p $(dir $@)
	$< > $@.tmp && mv $@.tmp $@
$(CONFINE_BPF_OBJ): $(B)/gen/confine-bpf.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) -c -o $@ $<

# Programs the test containers run, static for their busybox rootfses (so
# no sanitizers): fillmem, the memory-filling workload of the containers,
# the kernel guest and bench/converge; selfopt, a container that tries to
# turn KSM on by itself; stuck, a process ptrace cannot stop in time.
TEST_STATIC_BINS := $(B)/test/fillmem $(B)/test/selfopt $(B)/test/stuck
$(TEST_STATIC_BINS): $(B)/test/%: test/integration/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) -O2 -static -o $@ $<

$(B)/test/%: test/unit/%.c $(B)/libsamepage.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $(SP_LDFLAGS) -o $@ $< $(B)/libsamepage.a $(LIBS) $(TEST_LIBS) -lcmocka
$(B)/test/test-estimate: TEST_LIBS := $(ESTIMATE_LIBS)
# test-confine checks the build-time programs against libseccomp's.
$(B)/test/test-confine: TEST_LIBS := $(CONFINE_BPF_OBJ)
$(B)/test/test-confine: $(CONFINE_BPF_OBJ)

# Debian packages the build, the tests and the demo need.
DEB_DEPS = build-essential pkg-config libjson-c-dev libcap-dev libseccomp-dev \
	libcmocka-dev libxxhash-dev bats bats-assert bats-support runc crun \
	busybox-static jq util-linux procps gcc-aarch64-linux-gnu libc6-dev-arm64-cross
DEB_DEPS += $(EXTRA_DEB_DEPS)

deps:
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_DEPS)

# Installs only when something is missing, so a warm machine pays nothing.
deps-check:
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(DEB_DEPS) 2>/dev/null | \
		awk '$$NF != "installed" {print $$1}'; \
		for p in $(DEB_DEPS); do dpkg-query -W $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make: installing missing Debian packages:" $$missing; \
		$(MAKE) --no-print-directory deps; \
	fi

# The guest kernels build in the background meanwhile (kernel/prebuild.sh);
# ended if a host suite fails first.
check: deps-check
	$(MAKE) --no-print-directory all $(UNIT_BINS)
	@$(if $(KERNEL_PREBUILD),bash kernel/prebuild.sh start $(B) B=$(B) $(KERNEL_PREBUILD),:)
	@SAMEPAGE_TEST_STRICT=$${SAMEPAGE_TEST_STRICT:-1} $(MAKE) --no-print-directory check-layers check-unit check-cross check-integration $(CHECK_EXTRA); \
		rc=$$?; bash kernel/prebuild.sh stop $(B); exit $$rc

# The dependency rule of CONTRIBUTING.md: no upward include, one spelling.
check-layers:
	test/check-layers.sh

# A root-only test exits 77 when not root: reported as skipped, and, as in
# bats, a failure under SAMEPAGE_TEST_STRICT=1 (make check).
check-unit: $(UNIT_BINS)
	@skipped=""; for t in $(UNIT_BINS); do echo "== $$t"; rc=0; $$t || rc=$$?; \
		case $$rc in \
		0) ;; \
		77) echo "== $$t: SKIPPED (exit 77)"; skipped="$$skipped $$t" ;; \
		*) echo "== $$t: FAILED (exit $$rc)"; exit 1 ;; \
		esac; \
	done; \
	[ -z "$$skipped" ] || echo "check-unit: skipped:$$skipped"; \
	if [ -n "$$skipped" ] && [ "$${SAMEPAGE_TEST_STRICT:-0}" = 1 ]; then \
		echo "check-unit: FAIL: skipped tests under SAMEPAGE_TEST_STRICT=1"; exit 1; \
	fi

# aarch64 must at least compile: the arch-specific injection and its callers.
check-cross:
	@mkdir -p $(B)/cross
	aarch64-linux-gnu-gcc $(SP_CFLAGS) -O2 -c -o $(B)/cross/arch.o host/arch/aarch64.c
	aarch64-linux-gnu-gcc $(SP_CFLAGS) -O2 -c -o $(B)/cross/inject.o host/inject.c
	aarch64-linux-gnu-gcc $(SP_CFLAGS) -O2 -c -o $(B)/cross/ptrace.o host/ptrace.c

# The whole suite under runc; the hook's own tests (0*.bats) again under crun.
# Then the hook's tests and the tests of cgroup paths as on a unified-only host.
check-integration: all $(TEST_STATIC_BINS)
	SAMEPAGE_TEST_STRICT=$${SAMEPAGE_TEST_STRICT:-1} bats --print-output-on-failure test/integration
	RUNTIME=crun SAMEPAGE_TEST_STRICT=$${SAMEPAGE_TEST_STRICT:-1} bats --print-output-on-failure test/integration/0*.bats
	$(MAKE) --no-print-directory check-integration-unified

# The same bats files in a mount and cgroup namespace that shows one cgroup2
# hierarchy at /sys/fs/cgroup and nothing else (test/integration/unified-only.sh):
# a stock unified-cgroup host such as Debian 12, simulated on a hybrid one.
# runc only: crun on cgroup2 raises RLIMIT_MEMLOCK for its device filter,
# which needs CAP_SYS_RESOURCE, and CI sandboxes may not grant it.
UNIFIED_BATS := $(wildcard test/integration/0*.bats) test/integration/200-status.bats \
	test/integration/210-metrics.bats test/integration/220-enable.bats
check-integration-unified: all $(TEST_STATIC_BINS)
	SAMEPAGE_TEST_STRICT=$${SAMEPAGE_TEST_STRICT:-1} test/integration/unified-only.sh \
		bats --print-output-on-failure $(UNIFIED_BATS)

demo: deps-check all $(B)/test/fillmem
	bash test/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)/samepage
	install -m 0755 $(B)/samepage $(DESTDIR)$(BINDIR)/samepage
	install -m 0755 $(B)/samepage-hook $(DESTDIR)$(LIBEXECDIR)/samepage/samepage-hook
	$(if $(INSTALL_EXTRA),$(MAKE) --no-print-directory $(INSTALL_EXTRA))

sanitize:
	$(MAKE) clean
	$(MAKE) SANITIZE=1 check-unit

clean:
	rm -rf $(B)/obj $(B)/test $(B)/cross $(B)/man $(B)/deb $(B)/fuzz $(B)/gen $(B)/libsamepage.a $(B)/samepage $(B)/samepage-hook $(B)/confine-bpf-gen

-include $(wildcard */*.mk) test/fuzz/fuzz.mk test/cri/cri.mk
