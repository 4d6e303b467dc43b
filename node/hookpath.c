/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "node/hookpath.h"

/* candidate if it is executable (canonicalised), else NULL; frees it. */
static char *executable(char *candidate)
{
	char *real;

	if (!candidate)
		return NULL;
	real = realpath(candidate, NULL);
	free(candidate);
	if (real && access(real, X_OK) == 0)
		return real;
	free(real);
	return NULL;
}

static char *beside_self(const char *rel)
{
	_cleanup_free_ char *self = realpath("/proc/self/exe", NULL);
	char *slash, *p;

	if (!self || !(slash = strrchr(self, '/')))
		return NULL;
	*slash = '\0';
	if (asprintf(&p, "%s/%s", self, rel) < 0)
		return NULL;
	return executable(p);
}

char *sp_hook_find(void)
{
	static const char *const fixed[] = {
		SP_HOOK_DEFAULT_PATH,
		"/usr/local/libexec/samepage/" SP_HOOK_NAME,
	};
	char *p;
	size_t i;

	p = beside_self("../libexec/samepage/" SP_HOOK_NAME);
	if (!p)
		p = beside_self(SP_HOOK_NAME);
	for (i = 0; !p && i < ARRAY_SIZE(fixed); i++)
		p = executable(strdup(fixed[i]));
	return p;
}
