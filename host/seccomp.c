/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/seccomp.h>

#include "base/cleanup.h"
#include "base/kernel-abi.h"
#include "base/fileio.h"
#include "host/ksm.h"
#include "host/ptrace.h"
#include "host/seccomp.h"

/* The kernel's limits: BPF_MAXINSNS per program, MAX_INSNS_PER_PATH (256k)
 * over all filters of a thread counted with a 4-instruction penalty. */
#define PROG_MAX 4096
#define FILTERS_MAX 1024

/* struct seccomp_data: nr (4), arch (4), instruction_pointer (8), args (6*8). */
#define SD_SIZE 64
#define SD_OFF_IP 8
#define SD_OFF_ARGS 16

static void seccomp_data_bytes(const struct seccomp_call *call, unsigned char out[SD_SIZE])
{
	uint32_t nr = (uint32_t)call->nr;
	uint64_t ip = 0;

	/* Loads read the struct in host byte order, as the kernel does. */
	memcpy(out, &nr, 4);
	memcpy(out + 4, &call->arch, 4);
	memcpy(out + SD_OFF_IP, &ip, 8);
	memcpy(out + SD_OFF_ARGS, call->args, sizeof(call->args));
}

static int alu(uint16_t op, uint32_t *a, uint32_t operand, bool *div_zero)
{
	switch (op) {
	case BPF_ADD: *a += operand; break;
	case BPF_SUB: *a -= operand; break;
	case BPF_MUL: *a *= operand; break;
	case BPF_DIV:
	case BPF_MOD:
		if (operand == 0) {
			*div_zero = true;
			return 0;
		}
		*a = op == BPF_DIV ? *a / operand : *a % operand;
		break;
	case BPF_AND: *a &= operand; break;
	case BPF_OR: *a |= operand; break;
	case BPF_XOR: *a ^= operand; break;
	/* The kernel runs classic shifts as 32-bit eBPF shifts, which use
	 * the low five bits of the amount (constant amounts >= 32 are
	 * rejected when the filter is loaded). */
	case BPF_LSH: *a <<= (operand & 31); break;
	case BPF_RSH: *a >>= (operand & 31); break;
	case BPF_NEG: *a = -*a; break;
	default: return -EINVAL;
	}
	return 0;
}

int seccomp_bpf_run(const struct sock_filter *prog, size_t len, const struct seccomp_call *call, uint32_t *ret,
		    bool *reads_ip)
{
	unsigned char data[SD_SIZE];
	uint32_t A = 0, X = 0, mem[BPF_MEMWORDS] = { 0 };
	size_t pc = 0;

	*reads_ip = false;
	if (len == 0 || len > PROG_MAX)
		return -EINVAL;
	seccomp_data_bytes(call, data);

	/* Jumps only go forward, so this loop ends within len steps. */
	while (pc < len) {
		const struct sock_filter *in = &prog[pc++];
		uint16_t cls = BPF_CLASS(in->code);
		uint32_t operand, k = in->k;
		bool taken, div_zero = false;

		switch (cls) {
		case BPF_LD:
		case BPF_LDX: {
			uint32_t v;

			if (BPF_SIZE(in->code) != BPF_W)
				return -EINVAL;
			switch (BPF_MODE(in->code)) {
			case BPF_ABS:
				if (cls != BPF_LD || (k & 3) || k >= SD_SIZE)
					return -EINVAL;
				if (k >= SD_OFF_IP && k < SD_OFF_ARGS)
					*reads_ip = true;
				memcpy(&v, data + k, 4);
				break;
			case BPF_LEN: v = SD_SIZE; break;
			case BPF_IMM: v = k; break;
			case BPF_MEM:
				if (k >= BPF_MEMWORDS)
					return -EINVAL;
				v = mem[k];
				break;
			default: return -EINVAL;
			}
			if (cls == BPF_LD)
				A = v;
			else
				X = v;
			break;
		}
		case BPF_ST:
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				return -EINVAL;
			mem[k] = cls == BPF_ST ? A : X;
			break;
		case BPF_ALU:
			operand = BPF_SRC(in->code) == BPF_X ? X : k;
			if (alu(BPF_OP(in->code), &A, operand, &div_zero) < 0)
				return -EINVAL;
			/* Classic BPF ends the program with 0 on a division
			 * by zero; for seccomp 0 is SECCOMP_RET_KILL_THREAD. */
			if (div_zero) {
				*ret = 0;
				return 0;
			}
			break;
		case BPF_JMP:
			if (BPF_OP(in->code) == BPF_JA) {
				if (k >= len - pc)
					return -EINVAL;
				pc += k;
				break;
			}
			operand = BPF_SRC(in->code) == BPF_X ? X : k;
			switch (BPF_OP(in->code)) {
			case BPF_JEQ: taken = A == operand; break;
			case BPF_JGT: taken = A > operand; break;
			case BPF_JGE: taken = A >= operand; break;
			case BPF_JSET: taken = (A & operand) != 0; break;
			default: return -EINVAL;
			}
			if ((size_t)(taken ? in->jt : in->jf) >= len - pc)
				return -EINVAL;
			pc += taken ? in->jt : in->jf;
			break;
		case BPF_RET:
			if (BPF_RVAL(in->code) == BPF_K)
				*ret = k;
			else if (BPF_RVAL(in->code) == BPF_A)
				*ret = A;
			else
				return -EINVAL;
			return 0;
		case BPF_MISC:
			if (BPF_MISCOP(in->code) == BPF_TAX)
				X = A;
			else if (BPF_MISCOP(in->code) == BPF_TXA)
				A = X;
			else
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	/* Fell off the end: the kernel requires a final return. */
	return -EINVAL;
}

static bool action_known(uint32_t action)
{
	switch (action) {
	case SECCOMP_RET_KILL_PROCESS:
	case SECCOMP_RET_KILL_THREAD:
	case SECCOMP_RET_TRAP:
	case SECCOMP_RET_ERRNO:
	case SECCOMP_RET_USER_NOTIF:
	case SECCOMP_RET_TRACE:
	case SECCOMP_RET_LOG:
	case SECCOMP_RET_ALLOW:
		return true;
	}
	return false;
}

/* Lower signed action value wins, as in the kernel's seccomp_run_filters();
 * an action it does not know is handled as KILL_PROCESS. */
static int32_t precedence(uint32_t ret)
{
	uint32_t action = ret & SECCOMP_RET_ACTION_FULL;

	return action_known(action) ? (int32_t)action : (int32_t)SECCOMP_RET_KILL_PROCESS;
}

uint32_t seccomp_action_combine(uint32_t a, uint32_t b)
{
	return precedence(b) < precedence(a) ? b : a;
}

bool seccomp_action_allows(uint32_t ret)
{
	uint32_t action = ret & SECCOMP_RET_ACTION_FULL;

	return action == SECCOMP_RET_ALLOW || action == SECCOMP_RET_LOG;
}

const char *seccomp_action_describe(uint32_t ret, char *buf, size_t size)
{
	uint32_t action = ret & SECCOMP_RET_ACTION_FULL, data = ret & SECCOMP_RET_DATA;

	switch (action) {
	case SECCOMP_RET_KILL_PROCESS: snprintf(buf, size, "kill_process"); break;
	case SECCOMP_RET_KILL_THREAD: snprintf(buf, size, "kill_thread"); break;
	case SECCOMP_RET_TRAP: snprintf(buf, size, "trap (SIGSYS)"); break;
	case SECCOMP_RET_ERRNO: snprintf(buf, size, "errno %u (%s)", data, strerror((int)data)); break;
	case SECCOMP_RET_USER_NOTIF: snprintf(buf, size, "user_notif"); break;
	case SECCOMP_RET_TRACE: snprintf(buf, size, "trace"); break;
	case SECCOMP_RET_LOG: snprintf(buf, size, "log"); break;
	case SECCOMP_RET_ALLOW: snprintf(buf, size, "allow"); break;
	default: snprintf(buf, size, "unknown action 0x%08x (kills)", ret); break;
	}
	return buf;
}

void seccomp_filters_free(struct seccomp_filters *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->progs[i]);
	free(f->progs);
	free(f->lens);
	memset(f, 0, sizeof(*f));
}

int seccomp_filters_get(pid_t pid, struct seccomp_filters *f, sp_error_t *err)
{
	size_t cap = 0;

	memset(f, 0, sizeof(*f));
	for (unsigned long idx = 0; idx < FILTERS_MAX; idx++) {
		_cleanup_free_ struct sock_filter *prog = NULL;
		long n, m;

		n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)idx, NULL);
		if (n < 0 && errno == ENOENT)
			return 0; /* past the oldest filter */
		if (n < 0)
			return sp_error_set(err, errno, "pid %d: read seccomp filter %lu (PTRACE_SECCOMP_GET_FILTER)",
					    (int)pid, idx);
		if (n == 0 || n > PROG_MAX)
			return sp_error_set(err, EINVAL, "pid %d: seccomp filter %lu has %ld instructions", (int)pid,
					    idx, n);
		prog = calloc((size_t)n, sizeof(*prog));
		if (!prog)
			return sp_error_set(err, ENOMEM, "pid %d: seccomp filter %lu", (int)pid, idx);
		m = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)idx, prog);
		if (m < 0)
			return sp_error_set(err, errno, "pid %d: read seccomp filter %lu", (int)pid, idx);
		if (m != n)
			return sp_error_set(err, EAGAIN, "pid %d: seccomp filter %lu changed size while read", (int)pid,
					    idx);
		if (f->n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct sock_filter **np = realloc(f->progs, ncap * sizeof(*np));
			size_t *nl;

			if (!np)
				return sp_error_set(err, ENOMEM, "pid %d: seccomp filters", (int)pid);
			f->progs = np;
			nl = realloc(f->lens, ncap * sizeof(*nl));
			if (!nl)
				return sp_error_set(err, ENOMEM, "pid %d: seccomp filters", (int)pid);
			f->lens = nl;
			cap = ncap;
		}
		f->progs[f->n] = TAKE_PTR(prog);
		f->lens[f->n++] = (size_t)n;
	}
	return sp_error_set(err, E2BIG, "pid %d: more than %d seccomp filters", (int)pid, FILTERS_MAX);
}

int seccomp_filters_eval(const struct seccomp_filters *f, const struct seccomp_call *call, uint32_t *action,
			 bool *reads_ip, sp_error_t *err)
{
	uint32_t combined = SECCOMP_RET_ALLOW;
	size_t i;

	*reads_ip = false;
	for (i = 0; i < f->n; i++) {
		uint32_t r;
		bool ip = false;

		if (seccomp_bpf_run(f->progs[i], f->lens[i], call, &r, &ip) < 0)
			return sp_error_set(err, EINVAL, "seccomp filter %zu is not a valid classic BPF program", i);
		*reads_ip |= ip;
		combined = seccomp_action_combine(combined, r);
	}
	*action = combined;
	return 0;
}

int seccomp_native_prctl(uint32_t *arch, int *nr)
{
#if defined(__x86_64__) && !defined(__ILP32__)
	*arch = AUDIT_ARCH_X86_64;
	*nr = 157;
	return 0;
#elif defined(__aarch64__)
	*arch = AUDIT_ARCH_AARCH64;
	*nr = 167;
	return 0;
#else
	(void)arch;
	(void)nr;
	return -EOPNOTSUPP;
#endif
}

int seccomp_proc_arch(pid_t pid, uint32_t *arch, sp_error_t *err)
{
	unsigned char h[EI_NIDENT + 4];
	_cleanup_close_ int fd = -EBADF;
	char path[64];
	uint16_t machine;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ESRCH))
		return sp_error_set(err, ESRCH, "pid %d exited", (int)pid);
	if (fd < 0)
		return sp_error_set(err, errno, "open `%s`", path);
	n = pread(fd, h, sizeof(h), 0);
	if (n < 0)
		return sp_error_set(err, errno, "read `%s`", path);
	if (n < (ssize_t)sizeof(h) || memcmp(h, ELFMAG, SELFMAG) != 0)
		return sp_error_set(err, ENOEXEC, "`%s` is not an ELF file", path);
	/* e_machine follows e_type right after e_ident in both classes. */
	machine = h[EI_DATA] == ELFDATA2MSB ? (uint16_t)(h[EI_NIDENT + 2] << 8 | h[EI_NIDENT + 3])
					    : (uint16_t)(h[EI_NIDENT + 3] << 8 | h[EI_NIDENT + 2]);
	if (h[EI_CLASS] == ELFCLASS64 && machine == EM_X86_64)
		*arch = AUDIT_ARCH_X86_64;
	else if (h[EI_CLASS] == ELFCLASS64 && machine == EM_AARCH64)
		*arch = AUDIT_ARCH_AARCH64;
	else if (h[EI_CLASS] == ELFCLASS32 && machine == EM_386)
		*arch = AUDIT_ARCH_I386;
	else if (h[EI_CLASS] == ELFCLASS32 && machine == EM_ARM)
		*arch = AUDIT_ARCH_ARM;
	else
		return sp_error_set(err, ENOEXEC, "`%s`: ELF class %d machine %u not known", path, h[EI_CLASS],
				    machine);
	return 0;
}

int seccomp_proc_mode(pid_t pid, sp_error_t *err)
{
	_cleanup_free_ char *buf = NULL;
	char path[64];
	const char *p;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ret = read_file_bounded(AT_FDCWD, path, 65536, &buf, NULL, err);
	if (ret == -ENOENT || ret == -ESRCH)
		return sp_error_set(err, ESRCH, "pid %d exited", (int)pid);
	if (ret < 0)
		return ret;
	p = strstr(buf, "\nSeccomp:");
	if (!p)
		return 0; /* kernel without CONFIG_SECCOMP */
	p += strlen("\nSeccomp:");
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '2')
		return sp_error_set(err, EINVAL, "`%s`: unexpected Seccomp line", path);
	return *p - '0';
}

/* Hold pid at its interrupt stop just long enough to read its filters.
 * Signals it takes before the stop are delivered on the way. */
static int filters_of_stopped(pid_t pid, struct seccomp_filters *f, sp_error_t *err)
{
	struct tracee t;
	int ret;

	ret = tracee_seize(&t, pid, NULL, err);
	if (ret == 0)
		ret = tracee_interrupt(&t, err);
	if (ret < 0)
		sp_error_wrap(err, "pid %d", (int)pid);
	else
		ret = seccomp_filters_get(pid, f, err);
	tracee_release(&t, NULL, NULL);
	return ret;
}

int seccomp_filters_read(pid_t pid, struct seccomp_filters *f, sp_error_t *err)
{
	return filters_of_stopped(pid, f, err);
}

int seccomp_check_prctl_merge(pid_t pid, bool on, char **why, sp_error_t *err)
{
	struct seccomp_call call = { 0 };
	_cleanup_(seccomp_filters_free) struct seccomp_filters f = { 0 };
	uint32_t native, proc_arch, action;
	bool reads_ip;
	char desc[64];
	int mode, ret;

	call.args[0] = PR_SET_MEMORY_MERGE;
	call.args[1] = on ? 1 : 0;
	*why = NULL;
	mode = seccomp_proc_mode(pid, err);
	if (mode < 0)
		return mode;
	if (mode == 0)
		return 1;
	if (mode == 1)
		return asprintf(why, "seccomp strict mode allows only read, write, exit and sigreturn") < 0 ? -ENOMEM : 0;

	if (seccomp_native_prctl(&native, &call.nr) < 0)
		return sp_error_set(err, EOPNOTSUPP, "seccomp check not implemented for this architecture");
	call.arch = native;
	ret = seccomp_proc_arch(pid, &proc_arch, err);
	if (ret < 0)
		return ret;
	if (proc_arch != native)
		return asprintf(why, "not a native process (audit arch 0x%08x), its filter would see another syscall ABI",
				proc_arch) < 0 ? -ENOMEM : 0;

	ret = seccomp_filters_read(pid, &f, err);
	if (ret < 0)
		return ret;

	ret = seccomp_filters_eval(&f, &call, &action, &reads_ip, err);
	if (ret < 0)
		return sp_error_wrap(err, "pid %d", (int)pid);
	if (reads_ip)
		return asprintf(why, "its seccomp filter inspects the instruction pointer") < 0 ? -ENOMEM : 0;
	if (!seccomp_action_allows(action))
		return asprintf(why, "its seccomp filter answers prctl(PR_SET_MEMORY_MERGE, %d, 0, 0, 0) with %s",
				on ? 1 : 0, seccomp_action_describe(action, desc, sizeof(desc))) < 0 ? -ENOMEM : 0;
	return 1;
}
