/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Self-opt-in, prevented: a seccomp profile that denies a container the
 * three ways to make its own memory mergeable, with EPERM:
 *
 *   prctl(PR_SET_MEMORY_MERGE = 67, arg2 != 0)   whole-process KSM
 *   madvise(addr, len, MADV_MERGEABLE = 12)      per-VMA KSM
 *   io_uring_setup(...)                          a ring can issue the madvise
 *
 * Everything else keeps what the profile said: prctl(67, 0) (switching KSM
 * off) and every other prctl and madvise are untouched.  samepage-hook's own
 * prctl is injected at createRuntime, before the runtime loads the
 * container's filter, so containers samepage admits keep working.
 *
 * The profile is an OCI `linux.seccomp` object or a Docker-style profile
 * (podman, CRI-O, containerd, a Kubernetes Localhost profile): both have
 * `defaultAction` and a `syscalls` array of { names, action, args, errnoRet }.
 * runc resolves an allow rule and a deny rule for the same syscall by its
 * order, libseccomp refuses some overlaps, so the edit leaves no overlap at
 * all:
 *
 *  1. entries samepage wrote earlier are dropped (the edit is idempotent);
 *  2. prctl, madvise and io_uring_setup are taken out of every other entry
 *     (an entry left without names is dropped), remembering the first
 *     entry's action for each: what the profile did with that syscall.  An
 *     entry that names one of them with argument conditions, or Docker's
 *     `includes`/`excludes`, is refused: the edit could not keep its meaning;
 *  3. at the top of `syscalls`, for each of the three whose action lets it
 *     run (ALLOW, LOG, TRACE, NOTIFY; the default action when no entry named
 *     it), the deny rule, and, when that action is not the default action,
 *     rules that give it back for every other argument (prctl: arg0 != 67;
 *     arg0 == 67 && arg1 == 0; madvise: arg2 != 12), which do not overlap the
 *     deny; for one the profile already refuses, its own entry, unchanged.
 */
#ifndef SP_SECCOMP_PROFILE_H
#define SP_SECCOMP_PROFILE_H

#include <json-c/json.h>
#include "base/error.h"

/* Edit a seccomp profile object in place; `what` starts error messages. */
int oci_seccomp_deny_ksm(json_object *profile, const char *what, sp_error_t *err);

/* A new profile: defaultAction SCMP_ACT_ALLOW and the denies (the fragment
 * packaging/seccomp/samepage-deny-ksm.json).  NULL when out of memory. */
json_object *oci_seccomp_fragment(void);

#endif
