/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test workload that a tracer cannot stop, or cannot finish a syscall in:
 *
 *   stuck vfork       the process vforks; the child sleeps, so the parent
 *                     waits in the kernel's killable vfork wait for good
 *   stuck usernotif   the process installs a seccomp filter that sends
 *                     getppid() to a user-notification listener, with
 *                     SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV; a child it
 *                     forked receives the notification and never answers,
 *                     so the getppid() waits killably for good
 *   stuck sleep       prints its SigBlk and sleeps (the fault-injection
 *                     target: its mask must never change)
 *
 * It prints "ready" on stdout (flushed) before it blocks.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

static void ready(void)
{
	fputs("ready\n", stdout);
	fflush(stdout);
}

static int usernotif(void)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };
	struct seccomp_notif req;
	long fd;
	pid_t child;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		perror("no_new_privs");
		return 1;
	}
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		     SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
	if (fd < 0) {
		perror("seccomp");
		return 1;
	}
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		/* The supervisor that takes the notification and never answers;
		 * it dies with its parent. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		memset(&req, 0, sizeof(req));
		if (ioctl((int)fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
			_exit(1);
		ready();
		for (;;)
			pause();
	}
	syscall(SYS_getppid); /* received, never answered: waits for good */
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "vfork") == 0) {
		pid_t pid;

		ready();
		pid = vfork();
		if (pid == 0) {
			/* The vfork child: only async-signal-safe calls, then it
			 * sleeps until killed. */
			for (;;)
				pause();
		}
		return pid < 0;
	}
	if (argc == 2 && strcmp(argv[1], "usernotif") == 0)
		return usernotif();
	if (argc == 2 && strcmp(argv[1], "sleep") == 0) {
		ready();
		for (;;)
			pause();
	}
	fprintf(stderr, "usage: stuck vfork|usernotif|sleep\n");
	return 2;
}
