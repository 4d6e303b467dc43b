/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What each samepage program may do once it has parsed its arguments: the
 * capabilities it keeps and the syscalls it makes (host/confine.h applies
 * them).  One table per program and stage, measured with strace on the
 * integration suites (docs/hardening.md).
 */
#ifndef SP_CONFINE_POLICY_H
#define SP_CONFINE_POLICY_H

#include <stdbool.h>
#include "base/error.h"
#include "host/confine.h"

extern const struct confine_policy sp_policy_hook_create;   /* createRuntime, prestart */
extern const struct confine_policy sp_policy_hook_create_native; /* + CAP_SYS_ADMIN for ksm.domain */
extern const struct confine_policy sp_policy_hook_poststop;
extern const struct confine_policy sp_policy_enable;        /* samepage enable/disable */
extern const struct confine_policy sp_policy_governor;

/* The hook's one call, right after its arguments are parsed.  native: the kernel has the ksm controller (createRuntime then keeps
 * CAP_SYS_ADMIN, which writing a kernel domain id needs). */
int sp_confine_hook(bool create, bool native, sp_error_t *err);

#endif
