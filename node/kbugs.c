/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/kbugs.h"

int kernel_version_parse(const char *release, struct kernel_version *v)
{
	const char *p = release;
	long n[3] = { 0, 0, 0 };
	int parts = 0;

	/* Up to three dot-separated numbers; anything after is the local
	 * version ("-amd64", "-rc3"). */
	while (parts < 3 && isdigit((unsigned char)*p)) {
		char *end;

		n[parts] = strtol(p, &end, 10);
		if (n[parts] > 100000)
			return -EINVAL;
		parts++;
		p = end;
		if (*p != '.')
			break;
		p++;
	}
	if (parts < 2)
		return -EINVAL;
	v->major = (int)n[0];
	v->minor = (int)n[1];
	v->patch = (int)n[2];
	return 0;
}

int kernel_version_cmp(const struct kernel_version *v, int major, int minor)
{
	if (v->major != major)
		return v->major < major ? -1 : 1;
	if (v->minor != minor)
		return v->minor < minor ? -1 : 1;
	return 0;
}

const struct kbug kbugs[] = {
	{
		.name = "bug_exec_drops_ksm",
		.summary = "whole-process KSM (prctl PR_SET_MEMORY_MERGE) is dropped at execve, so a container's entrypoint runs without it",
		.since_major = 6, .since_minor = 4,
		.fixed_major = 6, .fixed_minor = 7,
		.stable_fix = false,
		.reference = "\"mm/ksm: support fork/exec for prctl\" (Linux 6.7); seed 000 (the 6.4 prctl series)",
		.action = "use Linux >= 6.7 for the stock backend, or the native ksm controller",
	},
	{
		.name = "bug_vma_merge",
		.summary = "with whole-process KSM every new mapping is unmergeable with its neighbours, so processes pile up VMAs (slower mmap, vm.max_map_count reached sooner)",
		.since_major = 6, .since_minor = 4,
		.fixed_major = 6, .fixed_minor = 17,
		.stable_fix = false, /* posted with "please no backport" */
		.reference = "Lorenzo Stoakes, \"mm: prevent KSM from completely breaking VMA merging\" (2025, mainline 6.17, not backported); seed 001",
		.action = "for mmap-heavy workloads watch /proc/<pid>/maps counts against vm.max_map_count, or run Linux >= 6.17",
	},
	{
		.name = "bug_exec_race",
		.summary = "ksmd scanning a process in the middle of execve can clear its merge-any flag, so the new program silently runs without KSM; a fast ksmd (boost) makes it likelier",
		.since_major = 6, .since_minor = 4,
		.fixed_major = 6, .fixed_minor = 19,
		.stable_fix = true, /* Cc: stable; which stable releases carry it is not known here */
		.reference = "xu xin, \"mm/ksm: fix exec/fork inheritance support for prctl\" (Oct 2025, mm-stable for 6.19, Cc: stable)",
		.action = "check ksm_merge_any of new containers (`samepage status`); use a kernel with the fix (6.19, or a stable kernel that backported it)",
	},
};

const size_t n_kbugs = sizeof(kbugs) / sizeof(kbugs[0]);

const struct kbug *kbug_find(const char *name)
{
	size_t i;

	for (i = 0; i < n_kbugs; i++)
		if (strcmp(kbugs[i].name, name) == 0)
			return &kbugs[i];
	return NULL;
}

enum kbug_verdict kbug_check(const struct kbug *b, const struct kernel_version *v)
{
	if (kernel_version_cmp(v, b->since_major, b->since_minor) < 0)
		return KBUG_NOT_APPLICABLE;
	if (kernel_version_cmp(v, b->fixed_major, b->fixed_minor) >= 0)
		return KBUG_FIXED;
	return b->stable_fix ? KBUG_MAYBE : KBUG_AFFECTED;
}
