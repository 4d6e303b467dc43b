/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "host/proc.h"

int proc_info_parse(const char *line, struct proc_info *pi)
{
	const char *open = strchr(line, '('), *close = strrchr(line, ')');
	const char *p;
	size_t clen;
	int field;

	memset(pi, 0, sizeof(*pi));
	if (!open || !close || close < open)
		return -EINVAL;
	pi->pid = (pid_t)strtol(line, NULL, 10);
	clen = close - open - 1;
	if (clen >= sizeof(pi->comm))
		clen = sizeof(pi->comm) - 1;
	memcpy(pi->comm, open + 1, clen);
	pi->comm[clen] = '\0';

	/* Field 3 (state) follows ") ". */
	p = close + 1;
	for (field = 3; *p; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		switch (field) {
		case 3:
			pi->state = *p;
			break;
		case 4:
			pi->ppid = (pid_t)strtol(p, NULL, 10);
			break;
		case 6:
			pi->sid = (pid_t)strtol(p, NULL, 10);
			break;
		case 14:
			pi->utime = strtoull(p, NULL, 10);
			break;
		case 15:
			pi->stime = strtoull(p, NULL, 10);
			break;
		case 20:
			pi->num_threads = strtol(p, NULL, 10);
			break;
		case 22:
			pi->start_time = strtoull(p, NULL, 10);
			return 0;
		}
		while (*p && *p != ' ')
			p++;
	}
	return -EINVAL;
}

int proc_info_read(pid_t pid, struct proc_info *pi, sp_error_t *err)
{
	_cleanup_free_ char *buf = NULL;
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ret = read_file_bounded(AT_FDCWD, path, 4096, &buf, NULL, err);
	if (ret < 0)
		return ret;
	if (proc_info_parse(buf, pi) < 0)
		return sp_error_set(err, 0, "cannot parse `%s`", path);
	return 0;
}

bool proc_alive(pid_t pid, unsigned long long start_time)
{
	struct proc_info pi;

	if (proc_info_read(pid, &pi, NULL) < 0)
		return false;
	return pi.state != 'Z' && pi.state != 'X' && pi.start_time == start_time;
}

int proc_same_pidns(pid_t pid, bool *same, sp_error_t *err)
{
	struct stat a, b;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	if (stat(path, &a) < 0)
		return sp_error_set(err, errno, "stat `%s`", path);
	if (stat("/proc/self/ns/pid", &b) < 0)
		return sp_error_set(err, errno, "stat `/proc/self/ns/pid`");
	*same = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	return 0;
}

int pidfd_open_pid(pid_t pid, sp_error_t *err)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		return sp_error_set(err, errno, "pidfd_open pid %d", (int)pid);
	return fd;
}

/* A pidfd polls readable once its process has exited; unlike
 * pidfd_send_signal(0) this needs no CAP_KILL. */
bool pidfd_alive(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

int proc_confirm_container_init(pid_t pid, pid_t runtime_pid, unsigned long long *start_time, sp_error_t *err)
{
	_cleanup_close_ int pidfd = -EBADF;
	struct proc_info pi;
	bool same_ns = true;
	int ret;

	pidfd = pidfd_open_pid(pid, err);
	if (pidfd < 0)
		return pidfd;
	ret = proc_info_read(pid, &pi, err);
	if (ret < 0)
		return ret;
	if (pi.state == 'Z' || pi.state == 'X')
		return sp_error_set(err, ESRCH, "pid %d has exited", (int)pid);
	if (pi.ppid != runtime_pid)
		return sp_error_set(err, EPERM,
				    "pid %d (%s) is not a child of the runtime process %d that ran the hook (its parent is %d); not touching it",
				    (int)pid, pi.comm, (int)runtime_pid, (int)pi.ppid);
	ret = proc_same_pidns(pid, &same_ns, err);
	if (ret < 0)
		return ret;
	if (same_ns)
		return sp_error_set(err, EPERM,
				    "pid %d (%s) is in the hook's own pid namespace, so it is not a container's init; not touching it",
				    (int)pid, pi.comm);
	/* The reads above went through /proc/<pid>: make sure they described
	 * the process the pidfd holds, not a successor that reused the pid. */
	if (!pidfd_alive(pidfd))
		return sp_error_set(err, ESRCH, "pid %d exited while being checked", (int)pid);
	*start_time = pi.start_time;
	return TAKE_FD(pidfd);
}
