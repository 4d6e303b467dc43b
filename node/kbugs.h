/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Known kernel bugs that matter to whole-process KSM, by mainline version.
 * `samepage doctor` reports them next to its live probes: a probe says
 * whether this kernel behaves, the table says why and where it was fixed.
 * Distributions backport fixes, so a version in a bug's range is reported
 * as "may be affected" when the fix was marked for stable kernels.
 */
#ifndef SP_KBUGS_H
#define SP_KBUGS_H

#include <stdbool.h>
#include <stddef.h>

struct kernel_version {
	int major, minor, patch;
};

/* "6.18.44-fc-v669" -> 6.18.44; "5.10" -> 5.10.0.  -EINVAL when it does
 * not start with MAJOR.MINOR. */
int kernel_version_parse(const char *release, struct kernel_version *v);

/* <0, 0, >0 as v is older than, equal to, newer than major.minor. */
int kernel_version_cmp(const struct kernel_version *v, int major, int minor);

struct kbug {
	const char *name;       /* doctor check name */
	const char *summary;    /* what goes wrong */
	int since_major, since_minor; /* first release with the problem */
	int fixed_major, fixed_minor; /* first mainline release with the fix */
	bool stable_fix;        /* the fix was sent to stable kernels too */
	const char *reference;  /* patch subject, seed file */
	const char *action;     /* what the operator can do */
};

enum kbug_verdict {
	KBUG_NOT_APPLICABLE, /* older than the feature the bug is in */
	KBUG_FIXED,
	KBUG_MAYBE,          /* in range, but a stable backport may have the fix */
	KBUG_AFFECTED,
};

extern const struct kbug kbugs[];
extern const size_t n_kbugs;

const struct kbug *kbug_find(const char *name);
enum kbug_verdict kbug_check(const struct kbug *b, const struct kernel_version *v);

#endif
