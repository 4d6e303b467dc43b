/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Processes as /proc shows them, and pidfds that pin their identity.
 */
#ifndef SP_PROC_H
#define SP_PROC_H

#include <stdbool.h>
#include <sys/types.h>
#include "base/error.h"

struct proc_info {
	pid_t pid;
	pid_t ppid;
	pid_t sid;                     /* field 6: session id */
	char state;                    /* R, S, D, Z, X, t, T, ... */
	unsigned long long utime;      /* fields 14, 15: CPU time in clock ticks */
	unsigned long long stime;
	unsigned long long start_time; /* field 22: clock ticks after boot */
	long num_threads;
	char comm[32];
};

/* Parse /proc/<pid>/stat (comm may hold spaces and parentheses). */
int proc_info_read(pid_t pid, struct proc_info *pi, sp_error_t *err);
int proc_info_parse(const char *line, struct proc_info *pi);

/* true when pid exists, is not a zombie, and started at start_time. */
bool proc_alive(pid_t pid, unsigned long long start_time);

/* Compare pid's pid namespace with ours (inode of /proc/<pid>/ns/pid). */
int proc_same_pidns(pid_t pid, bool *same, sp_error_t *err);

/* pidfd_open(2) and a liveness probe (poll: no CAP_KILL needed; a zombie
 * counts as exited). */
int pidfd_open_pid(pid_t pid, sp_error_t *err);
bool pidfd_alive(int pidfd);

/*
 * Confirm that pid is the init process of the container the runtime
 * runtime_pid is creating, before anyone touches it: it is held by pidfd,
 * its parent is the runtime process that ran the hook, it lives in a pid
 * namespace other than ours, it is not a zombie, and it is still the same
 * process after these reads.  Returns the pidfd (caller closes) and its
 * start time, or a negative errno with a message saying which check failed.
 */
int proc_confirm_container_init(pid_t pid, pid_t runtime_pid, unsigned long long *start_time, sp_error_t *err);

#endif
