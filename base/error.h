/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The error contract (modelled on crun's libcrun_error_t): library functions
 * return >= 0 on success and a negative errno on failure, and fill *err with
 * a message that names the object.  Callers add context while unwinding with
 * sp_error_wrap(), so main() prints one line such as
 *   "enable KSM for container 3f2a: inject prctl into pid 4121: ptrace seize: Operation not permitted".
 * Only main() prints or exits.
 */
#ifndef SP_ERROR_H
#define SP_ERROR_H

#include <stdarg.h>

struct sp_error_s {
	int status; /* positive errno the error stands for (EINVAL when none was given) */
	char *msg;
};
typedef struct sp_error_s *sp_error_t;

/* Record an error; errnum (positive, or 0) is appended as strerror(errnum).
 * Returns -errnum, or -EINVAL when errnum is 0, so callers can
 * `return sp_error_set(err, errno, "open `%s`", path);`.  A second error
 * replaces the first. */
int sp_error_set(sp_error_t *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like sp_error_set(), but the message gets no strerror() suffix: for a
 * failure that is not a syscall's yet has its errno, such as a refusal by
 * the domain policy (`return sp_error_setx(err, EPERM, "domain ...");`). */
int sp_error_setx(sp_error_t *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the current message with "context: ".  Returns what the call that
 * set the error returned (-EPERM stays -EPERM; -EINVAL when there is no
 * error). */
int sp_error_wrap(sp_error_t *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void sp_error_free(sp_error_t *err);

/* Message of the error, or "unknown error". */
const char *sp_error_msg(sp_error_t err);

#define _cleanup_error_ __attribute__((cleanup(sp_error_free)))

#endif
