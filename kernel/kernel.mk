# Kernel harness: build Debian's linux-source-6.12 with samepage's patch
# series (kernel/patches/) for a qemu guest, boot it, run the kselftest and
# the native-backend tests inside, and the ksm.stat benchmark.
#
#   make kernel              -> build/kernel/bzImage, build/kernel/vmlinux
#   make check-kernel        boot + tests (part of `make check`)
#   make bench-kernel-stat   ksm.stat vs summing /proc/<pid>/ksm_stat
#   make kernel-debug        -> build/kernel-debug/ (lockdep, DEBUG_ATOMIC_SLEEP,
#                            DEBUG_VM: kernel/config.debug.fragment)
#   make check-kernel-debug  debug kernel: controller tests + the stresses, no
#                            kernel report allowed (part of `make check`)
#   make kernel-kasan        -> build/kernel-kasan/ (the debug kernel + KASAN:
#                            kernel/config.kasan.fragment)
#   make check-kernel-kasan  the debug guest's suite under KASAN (not in
#                            `make check`; KERNEL_CHECK_KASAN=1 adds it)
#
# KERNEL_TIMEOUT (seconds, default 1200; debug guest 1500) bounds one guest
# boot; KSM_STRESS_SECONDS (default 60) the stress in the debug guest.

EXTRA_DEB_DEPS += linux-source-6.12 qemu-system-x86 ccache bc flex bison \
	libelf-dev libssl-dev cpio xz-utils patch busybox-static libc6-dev
CHECK_EXTRA += check-kernel
# Built in the background while the host suites run (kernel/prebuild.sh).
KERNEL_PREBUILD += kernel
# The debug guest (lockdep, DEBUG_ATOMIC_SLEEP, DEBUG_VM; the controller
# tests and the stresses) after the normal one; KASAN on top only on request
# (kernel/README.md has what each costs).
KERNEL_CHECK_DEBUG ?= 1
ifeq ($(KERNEL_CHECK_DEBUG),1)
CHECK_EXTRA += check-kernel-debug
KERNEL_PREBUILD += kernel-debug
endif
KERNEL_CHECK_KASAN ?= 0
ifeq ($(KERNEL_CHECK_KASAN),1)
CHECK_EXTRA += check-kernel-kasan
KERNEL_PREBUILD += kernel-kasan
endif

.PHONY: kernel kernel-guest-bins check-kernel bench-kernel-stat $(GUEST_KSELFTESTS)
.PHONY: kernel-debug check-kernel-debug kernel-kasan check-kernel-kasan

kernel:
	@B=$(B) bash kernel/build.sh

kernel-debug:
	@B=$(B) KERNEL_VARIANT=debug bash kernel/build.sh

kernel-kasan:
	@B=$(B) KERNEL_VARIANT=kasan bash kernel/build.sh

# What the guest runs, built here on the host (the guest sees the host's
# root read-only and compiles nothing): the kselftests from the patched tree,
# samepage's native-backend test and the ksm.stat benchmark driver, with the
# flags of the main Makefile, and the fillmem workload ($(B)/test/fillmem).
KSRC := $(B)/kernel-src/linux-source-6.12
KOBJ := $(B)/kernel/obj
KSELFTEST := $(KSRC)/tools/testing/selftests/cgroup
GB := $(B)/kernel/guest-bin
GUEST_KSELFTESTS := $(GB)/test_ksm $(GB)/test_core $(GB)/test_ksm_domain
GUEST_BINS := $(GUEST_KSELFTESTS) $(GB)/test-native-guest $(GB)/test-domain-guest $(GB)/kernel-stat $(B)/test/fillmem \
	$(GB)/ksm-late-twins
# selfopt: the container that opts in by itself (test/kernel/020-native-domains.bats)
GUEST_BINS += $(B)/test/selfopt

# After `kernel` (which patches the tree), not as a prerequisite of each
# file: the kselftests' own Makefile decides what is stale.
kernel-guest-bins: kernel
	@$(MAKE) --no-print-directory $(GUEST_BINS)

# uapi headers of the guest kernel, for the kselftests.  Same CC/HOSTCC as
# kernel/build.sh, or kbuild sees changed commands and rebuilds its host
# tools on every alternation.
.PHONY: kernel-uapi-headers
kernel-uapi-headers:
	@$(MAKE) -s -C $(KSRC) O=$(abspath $(KOBJ)) ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" headers >/dev/null

# A kselftest the tree lacks (test_ksm before the patch series exists)
# leaves a marker the guest reports from (kernel/guest/check.sh).
$(GUEST_KSELFTESTS): kernel-uapi-headers
	@mkdir -p $(GB)
	@rm -f $@.missing
	@if [ -f $(KSELFTEST)/$(@F).c ]; then \
		$(MAKE) -s -C $(KSELFTEST) OUTPUT=$(abspath $(GB)) \
			KHDR_INCLUDES="-isystem $(abspath $(KOBJ))/usr/include" $(abspath $@); \
	else \
		echo "$(KSELFTEST)/$(@F).c does not exist" > $@.missing; rm -f $@; \
		echo "kernel-guest-bins: $(@F): no $(@F).c in the kernel tree"; \
	fi

# selftests/mm/ksm_vma_merge (patch 0006), compiled alone: the mm
# selftests' Makefile would build all of its tests. Always rebuilt (one
# small file), as its source only exists in the patched tree.
GUEST_BINS += $(GB)/ksm_vma_merge
.PHONY: $(GB)/ksm_vma_merge
$(GB)/ksm_vma_merge: kernel-uapi-headers
	@mkdir -p $(GB)
	@rm -f $@.missing
	@f=$(KSRC)/tools/testing/selftests/mm/ksm_vma_merge.c; \
	if [ -f $$f ]; then \
		$(CC) -Wall -O2 -isystem $(abspath $(KOBJ))/usr/include -o $@ $$f; \
	else \
		echo "$$f does not exist" > $@.missing; rm -f $@; \
		echo "kernel-guest-bins: ksm_vma_merge: no ksm_vma_merge.c in the kernel tree"; \
	fi

$(GB)/test-native-guest: test/kernel/test-native-guest.c $(B)/libsamepage.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $(SP_LDFLAGS) -o $@ $< $(B)/libsamepage.a $(LIBS) -lcmocka

$(GB)/test-domain-guest: test/kernel/test-domain-guest.c $(B)/libsamepage.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $(SP_LDFLAGS) -o $@ $< $(B)/libsamepage.a $(LIBS)

$(GB)/kernel-stat: bench/kernel-stat.d/kernel-stat.c $(B)/libsamepage.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $(SP_LDFLAGS) -o $@ $< $(B)/libsamepage.a $(LIBS)

# Standalone (no libsamepage): it runs on any kernel, the host's too.
$(GB)/ksm-late-twins: test/kernel/ksm-late-twins.c
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $(SP_LDFLAGS) -o $@ $<

GUEST_BINS += $(GB)/ksm-stress
# Static, like test/integration's workloads: its exec loops then measure
# the kernel, not the dynamic loader.
$(GB)/ksm-stress: test/kernel/ksm-stress.c
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) -O2 -static -pthread -o $@ $<

# KSM domains under stress (issue 12): static and standalone like ksm-stress.
GUEST_BINS += $(GB)/ksm-domain-stress
$(GB)/ksm-domain-stress: test/kernel/ksm-domain-stress.c
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) -O2 -static -pthread -o $@ $<

check-kernel: kernel kernel-guest-bins all
	@B=$(B) bash kernel/run.sh check

# The debug kernel's guest (kernel/guest/debug.sh).  The guest binaries come
# from kernel-guest-bins, which builds the normal kernel first (its uapi
# headers); build.sh serializes the two builds on the shared patched tree.
check-kernel-debug: kernel-debug kernel-guest-bins
	@B=$(B) bash kernel/run.sh debug

check-kernel-kasan: kernel-kasan kernel-guest-bins
	@B=$(B) KERNEL_VARIANT=kasan bash kernel/run.sh debug

bench-kernel-stat: kernel kernel-guest-bins
	@B=$(B) SP_BENCH_NO_BUILD=1 bench/kernel-stat

# Smart scan's cost and the late twin, kernels without and with 0007.
.PHONY: bench-kernel-smart-scan
bench-kernel-smart-scan: kernel kernel-guest-bins
	@B=$(B) bench/kernel-smart-scan

# What the controller costs fork and exec (static key off/on, prctl vs cgroup).
.PHONY: bench-kernel-fork
bench-kernel-fork: kernel
	@B=$(B) SP_BENCH_NO_BUILD=1 bench/kernel-fork

# The domain stress alone on the normal kernel (KERNEL_VARIANT=debug|kasan for
# the others).  Not in `make check` yet: it finds KSM pages mapped by
# processes under ksm.domain=deny (kernel/README.md, "Open").
.PHONY: check-kernel-domain-stress
check-kernel-domain-stress: kernel kernel-guest-bins
	@mkdir -p $(B)/kernel
	@printf '#!/bin/bash\nexec %s -t %s\n' "$(abspath $(GB))/ksm-domain-stress" "$${KSM_STRESS_SECONDS:-60}" >$(B)/kernel/domain-stress.sh
	@B=$(B) bash kernel/run.sh script $(B)/kernel/domain-stress.sh
