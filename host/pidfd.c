/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "host/pidfd.h"
#include "host/proc.h"

#define FDINFO_MAX 4096

/* "Key:\t<number>[\t<number>...]" lines; the value is what follows the tab. */
static const char *field(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':')
			return p + klen + 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

int pidfd_identity_parse(const char *text, struct pidfd_identity *id)
{
	const char *p = field(text, "Pid");
	char *end;
	long v;

	memset(id, 0, sizeof(*id));
	if (!p)
		return -EINVAL;
	v = strtol(p, &end, 10);
	if (end == p || v < -1 || v > INT32_MAX)
		return -EINVAL;
	id->pid = (pid_t)v;
	p = field(text, "NSpid");
	while (p) {
		v = strtol(p, &end, 10);
		if (end == p || v < 0 || v > INT32_MAX)
			break;
		id->ns_pid = (pid_t)v;
		id->depth++;
		p = (*end == '\t' || *end == ' ') ? end + 1 : NULL;
	}
	return 0;
}

int pidfd_identity_read(int pidfd, struct pidfd_identity *id, sp_error_t *err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	int ret;

	if (asprintf(&path, "/proc/self/fdinfo/%d", pidfd) < 0)
		return sp_error_set(err, ENOMEM, "pidfd identity");
	ret = read_file_bounded(AT_FDCWD, path, FDINFO_MAX, &text, NULL, err);
	if (ret < 0)
		return ret;
	if (pidfd_identity_parse(text, id) < 0)
		return sp_error_set(err, EINVAL, "`%s`: no Pid line (not a pidfd?)", path);
	return 0;
}

static int same_process(int pidfd, pid_t pid, struct pidfd_identity *id, sp_error_t *err)
{
	int ret = pidfd_identity_read(pidfd, id, err);

	if (ret < 0)
		return ret;
	if (id->pid != pid)
		return sp_error_set(err, ESRCH, "pid %d has exited", (int)pid);
	return 0;
}

int pidfd_check_ns_init(pid_t pid, unsigned long long *start_time, sp_error_t *err)
{
	_cleanup_close_ int pidfd = -EBADF;
	struct pidfd_identity id;
	struct proc_info pi;
	int ret;

	pidfd = pidfd_open_pid(pid, err);
	if (pidfd < 0)
		return pidfd;
	ret = same_process(pidfd, pid, &id, err);
	if (ret < 0)
		return ret;
	if (id.depth < 2)
		return sp_error_set(err, EPERM, "pid %d is in the hook's own pid namespace, not a container's init",
				    (int)pid);
	if (id.ns_pid != 1)
		return sp_error_set(err, EPERM, "pid %d is pid %d of its pid namespace, not its init (pid 1)",
				    (int)pid, (int)id.ns_pid);
	ret = proc_info_read(pid, &pi, err);
	if (ret < 0)
		return ret;
	/* Still ours after the read: the start time is this process's. */
	ret = same_process(pidfd, pid, &id, err);
	if (ret < 0)
		return ret;
	*start_time = pi.start_time;
	return 0;
}
