/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Confine the calling process for the rest of its life: no_new_privs, only
 * the listed capabilities (effective and permitted; inheritable and ambient
 * cleared), and a seccomp allowlist of syscalls.  The pure kernel interface
 * (libcap, libseccomp); which capabilities and syscalls a program needs is
 * its caller's table (node/confine-policy.h).
 *
 * A syscall outside the list fails with ENOSYS and the kernel logs it
 * (SECCOMP_FILTER_FLAG_LOG: an audit record, or a kernel log line without
 * auditd); it does not kill the process.  Why errno and not kill: the hook
 * runs for every container of the node, and a missing entry must cost a
 * warning, never a refused container or a container's init killed mid-
 * injection (docs/hardening.md).  ENOSYS rather than EPERM so that libc
 * falls back from a newer syscall to an older one (faccessat2 ->
 * faccessat) instead of failing.  A syscall of a foreign ABI (int 0x80 on
 * x86_64) kills the process: samepage never makes one.
 */
#ifndef SP_CONFINE_H
#define SP_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include "base/error.h"

/* A syscall allowed only when its argument arg equals value (arg < 0: any
 * arguments). */
struct confine_syscall {
	const char *name;   /* libseccomp's name; unknown on this arch: skipped */
	int arg;
	unsigned long value;
};

/* A policy's seccomp program as libseccomp exported it at build time
 * (seccomp_export_bpf, run by node/gen/confine-bpf-gen.c over the same
 * tables), so that a run loads it with one seccomp() call instead of
 * building it: libseccomp's build and its kernel probes cost about 0.8 ms,
 * paid at every container start.  Used only when arch is the running
 * libseccomp's native one; otherwise the filter is built as before. */
/* What libseccomp loads our filters with (SCMP_FLTATR_CTL_LOG). */
#define CONFINE_BPF_FLAGS SECCOMP_FILTER_FLAG_LOG

struct confine_bpf {
	uint32_t arch;                    /* SCMP_ARCH_* (AUDIT_ARCH_*) */
	uint32_t flags;                   /* SECCOMP_FILTER_FLAG_* to load with */
	unsigned short len;
	const struct sock_filter *insns;
};

struct confine_policy {
	const char *name;                 /* names the policy in messages */
	const int *caps;                  /* CAP_* kept; the rest dropped */
	size_t n_caps;
	const struct confine_syscall *const *lists; /* NULL-name-terminated lists */
	size_t n_lists;                   /* 0: no seccomp filter at all */
	const struct confine_bpf *bpf;    /* precompiled lists, or NULL */
};

/* Apply p to the calling process (all of it: call before threads exist).
 * Messages name the step. */
int confine_apply(const struct confine_policy *p, sp_error_t *err);

/* Build p's filter with libseccomp (ignoring p->bpf) and write the BPF
 * program to fd: what the build exports and the tests compare. */
int confine_export_bpf(const struct confine_policy *p, int fd, sp_error_t *err);

#endif
