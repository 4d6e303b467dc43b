/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static int error_status(int errnum)
{
	return errnum > 0 ? -errnum : -EINVAL;
}

/* status: the errno the error stands for (0: EINVAL); suffix: the errno
 * whose strerror() ends the message, or 0 for none. */
static int error_vset(sp_error_t *err, int status, int suffix, const char *fmt, va_list ap)
{
	char *base = NULL, *msg = NULL;

	if (!err)
		return error_status(status);

	if (vasprintf(&base, fmt, ap) < 0)
		base = NULL;

	if (base && suffix > 0) {
		if (asprintf(&msg, "%s: %s", base, strerror(suffix)) < 0)
			msg = NULL;
		free(base);
	} else {
		msg = base;
	}

	sp_error_free(err);
	*err = calloc(1, sizeof(**err));
	if (*err) {
		/* What set returned is what every wrap returns. */
		(*err)->status = status > 0 ? status : EINVAL;
		(*err)->msg = msg;
	} else {
		free(msg);
	}
	return error_status(status);
}

int sp_error_set(sp_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = error_vset(err, errnum, errnum, fmt, ap);
	va_end(ap);
	return ret;
}

int sp_error_setx(sp_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = error_vset(err, errnum, 0, fmt, ap);
	va_end(ap);
	return ret;
}

int sp_error_wrap(sp_error_t *err, const char *fmt, ...)
{
	char *ctx = NULL, *msg = NULL;
	va_list ap;

	if (!err || !*err)
		return -EINVAL;

	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		ctx = NULL;
	va_end(ap);

	if (ctx && asprintf(&msg, "%s: %s", ctx, (*err)->msg ? (*err)->msg : "unknown error") >= 0) {
		free((*err)->msg);
		(*err)->msg = msg;
	}
	free(ctx);
	return error_status((*err)->status);
}

void sp_error_free(sp_error_t *err)
{
	if (!err || !*err)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}

const char *sp_error_msg(sp_error_t err)
{
	return err && err->msg ? err->msg : "unknown error";
}
