# libFuzzer harnesses for samepage's parsers of untrusted input (test/fuzz/).
#
#   make fuzz         build build/fuzz/fuzz-* and run each for FUZZ_SECONDS
#                     (default 20) on its corpus copy build/fuzz/corpus-<name>
#   make check-fuzz   the same, FUZZ_CHECK_SECONDS (default 8) each, for
#                     make check
#   make fuzz-<name>  one harness, e.g. make fuzz-state FUZZ_SECONDS=600
#
# The library is compiled again with clang, libFuzzer's coverage and
# ASan+UBSan into build/fuzz/obj.  Any crash, leak, UB, timeout or failed
# property fails the target; the input is left in build/fuzz/artifacts/.
# A bug found this way gets its input added to test/fuzz/corpus/<name>/,
# which every run replays first.

EXTRA_DEB_DEPS += clang-14 libclang-rt-14-dev

FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 20
FUZZ_CHECK_SECONDS ?= 8
FUZZ_TIMEOUT ?= 10
FUZZ_NAMES := oci-state config state proc seccomp seccomp-kernel
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

# Seeds are copied, not fuzzed in place, so test/fuzz/corpus stays small
# and reviewed.  A dictionary test/fuzz/<name>.dict is used when present.
$(FUZZ_NAMES:%=fuzz-%): fuzz-%: $(B)/fuzz/fuzz-%
	@mkdir -p $(B)/fuzz/corpus-$* $(B)/fuzz/artifacts
	@cp test/fuzz/corpus/$*/* $(B)/fuzz/corpus-$*/
	@echo "== fuzz-$* for $(FUZZ_SECONDS) s"
	UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	$(B)/fuzz/fuzz-$* -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix=$(B)/fuzz/artifacts/$*- \
		$(if $(wildcard test/fuzz/$*.dict),-dict=test/fuzz/$*.dict) $(B)/fuzz/corpus-$*

fuzz: $(FUZZ_BINS)
	@set -e; for n in $(FUZZ_NAMES); do $(MAKE) --no-print-directory fuzz-$$n FUZZ_SECONDS=$(FUZZ_SECONDS); done

check-fuzz:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_CHECK_SECONDS)
