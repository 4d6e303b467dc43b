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
#include "base/error.h"

/* A syscall allowed only when its argument arg equals value (arg < 0: any
 * arguments). */
struct confine_syscall {
	const char *name;   /* libseccomp's name; unknown on this arch: skipped */
	int arg;
	unsigned long value;
};

struct confine_policy {
	const char *name;                 /* names the policy in messages */
	const int *caps;                  /* CAP_* kept; the rest dropped */
	size_t n_caps;
	const struct confine_syscall *const *lists; /* NULL-name-terminated lists */
	size_t n_lists;                   /* 0: no seccomp filter at all */
};

/* Apply p to the calling process (all of it: call before threads exist).
 * Messages name the step. */
int confine_apply(const struct confine_policy *p, sp_error_t *err);

#endif
