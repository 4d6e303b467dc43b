/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/doctor.h"

int doctor_report_addv(struct doctor_report *r, const char *name, enum doctor_status st, const char *action,
		       const char *fmt, va_list ap)
{
	struct doctor_check *c;

	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 32;
		struct doctor_check *n = realloc(r->checks, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->checks = n;
		r->cap = ncap;
	}
	c = &r->checks[r->n];
	c->name = name;
	c->status = st;
	if (vasprintf(&c->reason, fmt, ap) < 0)
		c->reason = NULL;
	c->action = action && *action ? strdup(action) : NULL;
	if (!c->reason || (action && *action && !c->action)) {
		free(c->reason);
		free(c->action);
		return -ENOMEM;
	}
	r->n++;
	return 0;
}
