# Kernel harness: build Debian's linux-source-6.12 with samepage's patch
# series (kernel/patches/) for a qemu guest, boot it, run the kselftest and
# the native-backend tests inside, and the ksm.stat benchmark.
#
#   make kernel              -> build/kernel/bzImage, build/kernel/vmlinux
#   make check-kernel        boot + tests (part of `make check`)
#   make bench-kernel-stat   ksm.stat vs summing /proc/<pid>/ksm_stat
#
# KERNEL_TIMEOUT (seconds, default 420) bounds one guest boot.

EXTRA_DEB_DEPS += linux-source-6.12 qemu-system-x86 ccache bc flex bison \
	libelf-dev libssl-dev cpio xz-utils patch busybox-static libc6-dev
CHECK_EXTRA += check-kernel

.PHONY: kernel kernel-guest-bins check-kernel bench-kernel-stat

kernel:
	@B=$(B) bash kernel/build.sh

# Static helpers the guest runs (the kselftest, test programs, benchmark).
kernel-guest-bins: kernel
	@B=$(B) bash kernel/guest-bins.sh

check-kernel: kernel kernel-guest-bins all
	@B=$(B) bash kernel/run.sh check

bench-kernel-stat: kernel kernel-guest-bins
	@B=$(B) SP_BENCH_NO_BUILD=1 bench/kernel-stat
