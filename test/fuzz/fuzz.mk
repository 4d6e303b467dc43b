# libFuzzer harnesses for samepage's parsers of untrusted input (test/fuzz/).
#
#   make fuzz         build build/fuzz/fuzz-* and run each for FUZZ_SECONDS
#                     (default 20) on its corpus copy build/fuzz/corpus-<name>
#   make check-fuzz   the same, FUZZ_CHECK_SECONDS (default 8) each; run by
#                     make check (about 50 s plus the first build)
#   make fuzz-<name>  one harness, e.g. make fuzz-state FUZZ_SECONDS=600
#
# The library is compiled again with clang, libFuzzer's coverage and
# ASan+UBSan into build/fuzz/obj.  Any crash, leak, UB, timeout or failed
# property fails the target; the input is left in build/fuzz/artifacts/.
# A bug found this way gets its input added to test/fuzz/corpus/<name>/,
# which every run replays first.
#
# fuzz-seccomp-kernel installs the fuzzed filters in a child process, and
# the kernel audits every child a filter kills and every call made under
# SECCOMP_RET_LOG (/proc/sys/kernel/seccomp/actions_logged): without auditd
# that is "audit: type=1326" lines in the kernel log, rate-limited to about
# two a second plus "kauditd_printk_skb: N callbacks suppressed".

EXTRA_DEB_DEPS += clang-14 libclang-rt-14-dev
CHECK_EXTRA += check-fuzz

FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 20
FUZZ_CHECK_SECONDS ?= 8
FUZZ_TIMEOUT ?= 10
FUZZ_NAMES := oci-state config state proc seccomp
# The differential seccomp harness makes raw x86_64 system calls.
ifeq ($(ARCH),x86_64)
FUZZ_NAMES += seccomp-kernel
endif
FUZZ_BINS := $(FUZZ_NAMES:%=$(B)/fuzz/fuzz-%)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := $(filter-out -D_FORTIFY_SOURCE=2,$(SP_CFLAGS)) -O1 -g $(FUZZ_SAN)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(B)/fuzz/obj/%.o)

.PHONY: fuzz check-fuzz fuzz-build $(FUZZ_NAMES:%=fuzz-%)

$(B)/fuzz/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(B)/fuzz/libsamepage.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/fuzz/fuzz-%: test/fuzz/fuzz-%.c test/fuzz/fuzz.h $(B)/fuzz/libsamepage.a $(HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(B)/fuzz/libsamepage.a $(LIBS)

fuzz-build: $(FUZZ_BINS)

# $(call fuzz_loop,seconds,names): run each harness on its corpus copy;
# every one runs even when another fails, the failures are listed at the
# end.  Seeds are copied, not fuzzed in place, so test/fuzz/corpus stays
# small and reviewed.  test/fuzz/<name>.dict is used when present.
define fuzz_loop
	@failed=; for n in $(2); do \
		mkdir -p $(B)/fuzz/corpus-$$n $(B)/fuzz/artifacts; \
		cp test/fuzz/corpus/$$n/* $(B)/fuzz/corpus-$$n/; \
		dict=; [ ! -f test/fuzz/$$n.dict ] || dict=-dict=test/fuzz/$$n.dict; \
		echo "== fuzz-$$n for $(1) s"; \
		UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		timeout -k 10 $$(( $(1) * 3 + 60 )) $(B)/fuzz/fuzz-$$n -max_total_time=$(1) -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=$(B)/fuzz/artifacts/$$n- $$dict \
			$(B)/fuzz/corpus-$$n || failed="$$failed $$n"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed (inputs in $(B)/fuzz/artifacts/)"; exit 1; fi
endef

fuzz: $(FUZZ_BINS)
	$(call fuzz_loop,$(FUZZ_SECONDS),$(FUZZ_NAMES))

check-fuzz: $(FUZZ_BINS)
	$(call fuzz_loop,$(FUZZ_CHECK_SECONDS),$(FUZZ_NAMES))

$(FUZZ_NAMES:%=fuzz-%): fuzz-%: $(B)/fuzz/fuzz-%
	$(call fuzz_loop,$(FUZZ_SECONDS),$*)
