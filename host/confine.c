/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * no_new_privs, capabilities and the seccomp allowlist; see confine.h.
 */
#include <errno.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host/confine.h"

static int confine_caps(const struct confine_policy *p, sp_error_t *err)
{
	cap_t caps = cap_init(); /* all clear */
	int r = 0;

	if (!caps)
		return sp_error_set(err, errno, "capabilities: cap_init");
	if (p->n_caps > 0 &&
	    (cap_set_flag(caps, CAP_EFFECTIVE, (int)p->n_caps, (const cap_value_t *)p->caps, CAP_SET) < 0 ||
	     cap_set_flag(caps, CAP_PERMITTED, (int)p->n_caps, (const cap_value_t *)p->caps, CAP_SET) < 0))
		r = sp_error_set(err, errno, "capabilities: set flags");
	else if (cap_set_proc(caps) < 0)
		r = sp_error_set(err, errno, "capabilities: drop all but %zu", p->n_caps);
	cap_free(caps);
	if (r == 0 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		r = sp_error_set(err, errno, "capabilities: clear ambient");
	return r;
}

static int confine_rule(scmp_filter_ctx ctx, const struct confine_syscall *s, sp_error_t *err)
{
	int nr = seccomp_syscall_resolve_name(s->name);
	int r;

	if (nr == __NR_SCMP_ERROR)
		return 0; /* not a syscall on this architecture */
	if (s->arg < 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	else
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_CMP((unsigned int)s->arg, SCMP_CMP_EQ, s->value));
	/* A syscall listed twice (or pseudo-syscall) is not an error. */
	if (r < 0 && r != -EEXIST)
		return sp_error_set(err, -r, "seccomp: allow %s", s->name);
	return 0;
}

/* *out: a new libseccomp context holding p's rules. */
static int confine_build(const struct confine_policy *p, scmp_filter_ctx *out, sp_error_t *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
	int r = 0;

	if (!ctx)
		return sp_error_set(err, ENOMEM, "seccomp: init");
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1) < 0)
		r = sp_error_set(err, EINVAL, "seccomp: set attributes");
	for (size_t l = 0; r == 0 && l < p->n_lists; l++)
		for (const struct confine_syscall *s = p->lists[l]; r == 0 && s->name; s++)
			r = confine_rule(ctx, s, err);
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*out = ctx;
	return 0;
}

/* Load the build-time program when it was made for this architecture.
 * 1: loaded; 0: not usable here (other arch, or a kernel that refuses its
 * flags), build it instead; negative: failed. */
static int confine_load_precompiled(const struct confine_bpf *b, sp_error_t *err)
{
	struct sock_fprog prog = { .len = b->len, .filter = (struct sock_filter *)b->insns };

	if (b->len == 0 || b->arch != seccomp_arch_native())
		return 0;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, b->flags, &prog) == 0)
		return 1;
	if (errno == EINVAL || errno == ENOSYS)
		return 0;
	return sp_error_set(err, errno, "seccomp: load precompiled filter");
}

static int confine_seccomp(const struct confine_policy *p, sp_error_t *err)
{
	scmp_filter_ctx ctx;
	int r = p->bpf ? confine_load_precompiled(p->bpf, err) : 0;

	if (r != 0)
		return r < 0 ? r : 0;
	r = confine_build(p, &ctx, err);
	if (r < 0)
		return r;
	r = seccomp_load(ctx);
	if (r < 0)
		r = sp_error_set(err, -r, "seccomp: load filter");
	seccomp_release(ctx);
	return r;
}

int confine_export_bpf(const struct confine_policy *p, int fd, sp_error_t *err)
{
	scmp_filter_ctx ctx;
	int r = confine_build(p, &ctx, err);

	if (r < 0)
		return r;
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		r = sp_error_set(err, -r, "seccomp: export %s", p->name);
	seccomp_release(ctx);
	return r;
}

int confine_apply(const struct confine_policy *p, sp_error_t *err)
{
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = sp_error_set(err, errno, "set no_new_privs");
	else if ((r = confine_caps(p, err)) == 0 && p->n_lists > 0)
		r = confine_seccomp(p, err);
	if (r < 0)
		sp_error_wrap(err, "confine %s", p->name);
	return r;
}
