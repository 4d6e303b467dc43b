/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scope-bound cleanup helpers (systemd/lxcfs style).  A variable declared
 * with one of these is released when it goes out of scope; TAKE_PTR/TAKE_FD
 * hand ownership on.
 */
#ifndef SP_CLEANUP_H
#define SP_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                 \
	static inline void func##p(type *p)                     \
	{                                                       \
		if (*p)                                         \
			func(*p);                               \
	}

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f) {
		int saved = errno;
		fclose(*f);
		errno = saved;
	}
}

static inline void closedirp(DIR **d)
{
	if (*d) {
		int saved = errno;
		closedir(*d);
		errno = saved;
	}
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

#define TAKE_PTR(p)                             \
	({                                      \
		__typeof__(p) _tmp_ = (p);      \
		(p) = NULL;                     \
		_tmp_;                          \
	})

#define TAKE_FD(fd)                             \
	({                                      \
		int _tmp_ = (fd);               \
		(fd) = -EBADF;                  \
		_tmp_;                          \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
