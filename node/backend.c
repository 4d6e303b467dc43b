/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "node/backend.h"
#include "host/inject.h"
#include "cgroupfs/native.h"
#include "host/proc.h"

enum ksm_backend ksm_backend_detect(void)
{
	return ksm_native_available() ? KSM_BACKEND_NATIVE : KSM_BACKEND_STOCK;
}

const char *ksm_backend_name(enum ksm_backend b)
{
	return b == KSM_BACKEND_NATIVE ? "native" : "stock";
}

static int enable_native(pid_t pid, bool on, struct ksm_enabled *out, sp_error_t *err)
{
	_cleanup_free_ char *cg = NULL;
	int ret;

	ret = ksm_native_cgroup_of_pid(pid, &cg, err);
	if (ret < 0)
		return ret;
	ret = ksm_native_enable(cg, on, err);
	if (ret < 0)
		return ret;
	out->cgroup = TAKE_PTR(cg);
	return 0;
}

int ksm_container_init_enable(pid_t pid, pid_t runtime_pid, bool on, struct ksm_enabled *out, sp_error_t *err)
{
	_cleanup_close_ int pidfd = -EBADF;
	struct inject_result res;

	memset(out, 0, sizeof(*out));
	out->backend = ksm_backend_detect();
	pidfd = proc_confirm_container_init(pid, runtime_pid, &out->start_time, err);
	if (pidfd < 0)
		return pidfd;
	if (out->backend == KSM_BACKEND_NATIVE)
		return enable_native(pid, on, out, err);
	return inject_prctl_memory_merge(pidfd, pid, on, &res, err);
}
