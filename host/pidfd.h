/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A process's identity read through its pidfd rather than by number:
 * /proc/self/fdinfo/<pidfd> says which pid the pidfd's process has in our
 * pid namespace (Pid, -1 once it was reaped or when it is not visible to
 * us) and in every namespace below (NSpid, outermost first).  The pidfd
 * pins the process, so what fdinfo says cannot be about a recycled number.
 */
#ifndef SP_PIDFD_H
#define SP_PIDFD_H

#include <stddef.h>
#include <sys/types.h>
#include "base/error.h"

struct pidfd_identity {
	pid_t pid;          /* in our pid namespace; -1: gone or not visible */
	pid_t ns_pid;       /* in its own (innermost) pid namespace; 0 when unknown */
	unsigned int depth; /* number of NSpid entries: 1 means our own namespace */
};

/* Parse the text of /proc/self/fdinfo/<pidfd>.  -EINVAL without a Pid line. */
int pidfd_identity_parse(const char *text, struct pidfd_identity *id);

int pidfd_identity_read(int pidfd, struct pidfd_identity *id, sp_error_t *err);

/*
 * Check, through a pidfd, that pid is the init of a pid namespace below
 * ours (a container's init: last NSpid entry 1, more than one entry), and
 * return its start time (/proc/<pid>/stat field 22), read while the pidfd
 * showed the same pid before and after, so the time is this process's.
 */
int pidfd_check_ns_init(pid_t pid, unsigned long long *start_time, sp_error_t *err);

#endif
