/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * host/confine.c with the real tables of node/confine-policy.c: a child
 * process applies a policy and reports what it can and cannot do.  The
 * parent is never confined.  Linked with the build-time seccomp programs
 * (build/gen/confine-bpf.c), which must be what libseccomp builds from the
 * tables now.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <seccomp.h>
#include <sys/mman.h>

#include "node/confine-policy.h"

/* Exit codes of the child's checks. */
enum { OK = 0, FAIL_APPLY = 10, FAIL_ALLOWED, FAIL_REFUSED, FAIL_STATUS };

static long status_field(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
			v = strtol(line + strlen(key) + 1, NULL, 16);
	fclose(f);
	return v;
}

/* In a child: apply p, then check(); the exit code says what failed. */
static int in_child(const struct confine_policy *p, int (*check)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		sp_error_t err = NULL;

		if (confine_apply(p, &err) < 0) {
			fprintf(stderr, "%s\n", sp_error_msg(err));
			_exit(FAIL_APPLY);
		}
		_exit(check());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* What the hook's createRuntime stage keeps: files, syslog's unix socket,
 * ptrace; what it loses: other sockets, mount, and every capability but
 * CAP_SYS_PTRACE and CAP_KILL. */
static int check_hook_create(void)
{
	int fd;

	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return FAIL_ALLOWED;
	close(fd);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return FAIL_ALLOWED;
	close(fd);
	errno = 0;
	if (socket(AF_INET, SOCK_STREAM, 0) >= 0 || errno != ENOSYS)
		return FAIL_REFUSED;
	errno = 0;
	if (mount("none", "/mnt", "tmpfs", 0, NULL) == 0 || errno != ENOSYS)
		return FAIL_REFUSED;
	errno = 0;
	if (syscall(SYS_execve, "/bin/true", NULL, NULL) == 0 || errno != ENOSYS)
		return FAIL_REFUSED;
	if (status_field("NoNewPrivs") != 1 || status_field("Seccomp") != 2)
		return FAIL_STATUS;
	if (status_field("CapEff") != ((1L << 19) | (1L << 5))) /* CAP_SYS_PTRACE | CAP_KILL */
		return FAIL_STATUS;
	return OK;
}

static void test_hook_create_policy(void **state)
{
	(void)state;
	assert_int_equal(in_child(&sp_policy_hook_create, check_hook_create), OK);
}

/* poststop keeps no capability and cannot ptrace. */
static int check_hook_poststop(void)
{
	errno = 0;
	if (syscall(SYS_ptrace, 0x4206 /* PTRACE_SEIZE */, getppid(), 0, 0) == 0 || errno != ENOSYS)
		return FAIL_REFUSED;
	if (status_field("CapEff") != 0 || status_field("CapPrm") != 0)
		return FAIL_STATUS;
	return OK;
}

static void test_hook_poststop_policy(void **state)
{
	(void)state;
	assert_int_equal(in_child(&sp_policy_hook_poststop, check_hook_poststop), OK);
}

/* Each filtered policy carries its build-time program, and that program is
 * instruction for instruction what libseccomp exports from the tables. */
static void test_precompiled_is_current(void **state)
{
	const struct confine_policy *policies[] = {
		&sp_policy_hook_create, &sp_policy_hook_poststop, &sp_policy_governor,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		const struct confine_policy *p = policies[i];
		sp_error_t err = NULL;
		int fd = memfd_create("bpf", MFD_CLOEXEC);
		off_t size;
		void *now;

		assert_true(fd >= 0);
		assert_non_null(p->bpf);
		assert_int_equal(p->bpf->arch, seccomp_arch_native());
		assert_int_equal(p->bpf->flags, SECCOMP_FILTER_FLAG_LOG);
		assert_int_equal(confine_export_bpf(p, fd, &err), 0);
		size = lseek(fd, 0, SEEK_END);
		assert_int_equal(size, (off_t)p->bpf->len * (off_t)sizeof(struct sock_filter));
		now = malloc((size_t)size);
		assert_non_null(now);
		assert_int_equal(pread(fd, now, (size_t)size, 0), size);
		assert_memory_equal(now, p->bpf->insns, (size_t)size);
		free(now);
		close(fd);
	}
}

/* A program that allows everything: loaded, AF_INET sockets work; not
 * loaded (the policy's rules built instead), they fail with ENOSYS. */
static const struct sock_filter allow_all[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };

static int check_inet_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0) {
		close(fd);
		return OK;
	}
	return errno == ENOSYS ? FAIL_REFUSED : FAIL_ALLOWED;
}

/* The build-time program is what gets loaded when its arch is native... */
static void test_precompiled_loaded(void **state)
{
	struct confine_bpf b = { .arch = seccomp_arch_native(), .flags = SECCOMP_FILTER_FLAG_LOG, .len = 1,
				 .insns = allow_all };
	struct confine_policy p = sp_policy_hook_poststop;

	(void)state;
	p.bpf = &b;
	assert_int_equal(in_child(&p, check_inet_socket), OK);
}

/* ...and never for another architecture: the rules are built instead. */
static void test_precompiled_other_arch(void **state)
{
	struct confine_bpf b = { .arch = seccomp_arch_native() == SCMP_ARCH_AARCH64 ? SCMP_ARCH_X86_64 : SCMP_ARCH_AARCH64,
				 .flags = SECCOMP_FILTER_FLAG_LOG, .len = 1, .insns = allow_all };
	struct confine_policy p = sp_policy_hook_poststop;

	(void)state;
	p.bpf = &b;
	assert_int_equal(in_child(&p, check_inet_socket), FAIL_REFUSED);
	p.bpf = NULL;
	assert_int_equal(in_child(&p, check_inet_socket), FAIL_REFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hook_create_policy),
		cmocka_unit_test(test_hook_poststop_policy),
		cmocka_unit_test(test_precompiled_is_current),
		cmocka_unit_test(test_precompiled_loaded),
		cmocka_unit_test(test_precompiled_other_arch),
	};

	/* 77: skipped, as automake and make check-unit count it. */
	if (geteuid() != 0) {
		fprintf(stderr, "test-confine: needs root (capabilities to drop)\n");
		return 77;
	}
	return cmocka_run_group_tests_name("confine", tests, NULL, NULL);
}
