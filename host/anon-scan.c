/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "host/anon-scan.h"

/* Pages per pagemap read and per content read: 2 MiB of content, 4 KiB of
 * pagemap, so a scan holds little memory and each syscall does real work. */
#define SCAN_BATCH 512

int anon_maps_parse_line(const char *line, struct anon_vma *v)
{
	char perms[5] = "";
	int path_at = 0;
	uint64_t start, end;

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3 ||
	    path_at == 0 || strlen(perms) != 4)
		return -EINVAL;
	v->start = start;
	v->end = end;
	v->private = perms[3] == 'p';
	/* The kernel's own mappings: [vdso], [vvar], [vvar_vclock], [vsyscall]. */
	v->special = strncmp(line + path_at, "[vdso]", 6) == 0 || strncmp(line + path_at, "[vvar", 5) == 0 ||
		     strncmp(line + path_at, "[vsyscall]", 10) == 0;
	return 0;
}

bool anon_pagemap_entry_wanted(uint64_t entry, uint64_t zero_pfn, uint64_t *pfn)
{
	if (!(entry & PAGEMAP_PRESENT) || (entry & (PAGEMAP_SWAPPED | PAGEMAP_FILE_OR_SHARED)))
		return false;
	*pfn = entry & PAGEMAP_PFN_MASK;
	return !(zero_pfn && *pfn == zero_pfn);
}

static int pagemap_read(int fd, uint64_t addr, long ps, uint64_t *entries, size_t n)
{
	ssize_t r = pread(fd, entries, n * sizeof(*entries), (off_t)(addr / (uint64_t)ps * sizeof(*entries)));

	if (r < 0)
		return -errno;
	return (int)(r / (ssize_t)sizeof(*entries));
}

/* The pagemap entry of a page of our own, after a read fault (it maps the
 * shared zero page) or a write (a page mapped only here); 0 on failure. */
static uint64_t own_page_entry(bool write)
{
	long ps = sysconf(_SC_PAGESIZE);
	_cleanup_close_ int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	volatile unsigned char *p;
	uint64_t entry = 0;

	if (fd < 0)
		return 0;
	p = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	if (write)
		p[0] = 1;
	else
		(void)p[0];
	if (pagemap_read(fd, (uint64_t)(uintptr_t)p, ps, &entry, 1) != 1)
		entry = 0;
	munmap((void *)p, (size_t)ps);
	return (entry & PAGEMAP_PRESENT) ? entry : 0;
}

uint64_t anon_scan_zero_pfn(void)
{
	return own_page_entry(false) & PAGEMAP_PFN_MASK;
}

bool anon_kpageflags_ksm_reliable(int fd)
{
	static int cached = -1;
	uint64_t pfn, flags = 0;

	if (cached < 0) {
		pfn = own_page_entry(true) & PAGEMAP_PFN_MASK;
		cached = pfn && pread(fd, &flags, sizeof(flags), (off_t)(pfn * sizeof(flags))) == sizeof(flags) &&
			 !(flags & KPAGEFLAGS_KSM);
	}
	return cached;
}

struct scan {
	pid_t pid;
	int pagemap_fd, mem_fd;
	int kpageflags_fd;    /* -1 when not readable: no page is known as KSM */
	long ps;
	uint64_t zero_pfn;
	const struct anon_scan_ops *ops;
	void *ctx;
	struct anon_scan_result *res;
	unsigned char *buf;   /* SCAN_BATCH pages */
	struct anon_page pages[SCAN_BATCH];
};

static bool frame_is_ksm(const struct scan *s, uint64_t pfn)
{
	uint64_t flags;

	if (s->kpageflags_fd < 0)
		return false;
	if (pread(s->kpageflags_fd, &flags, sizeof(flags), (off_t)(pfn * sizeof(flags))) != sizeof(flags))
		return false;
	return flags & KPAGEFLAGS_KSM;
}

static bool pid_gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Read pages [addr, addr + n pages) and hand them on.  A short read means
 * the mapping changed under us: the rest of the run is skipped. */
static int scan_run(struct scan *s, uint64_t addr, size_t first, size_t n)
{
	size_t len = n * (size_t)s->ps, i;
	ssize_t r = pread(s->mem_fd, s->buf, len, (off_t)addr);
	int ret;

	if (r <= 0 && pid_gone(s->pid))
		return -ESRCH;
	if (r < 0)
		r = 0;
	for (i = 0; i < (size_t)r / (size_t)s->ps; i++) {
		s->res->read++;
		ret = s->ops->page(s->ctx, &s->pages[first + i], s->buf + i * (size_t)s->ps);
		if (ret < 0)
			return ret;
	}
	s->res->unreadable += n - i;
	return 0;
}

/* One batch of up to SCAN_BATCH pages at addr: pagemap, then runs of
 * consecutive wanted pages. */
static int scan_batch(struct scan *s, uint64_t addr, size_t n)
{
	uint64_t entries[SCAN_BATCH];
	size_t i, run_start = 0, run_len = 0;
	int got = pagemap_read(s->pagemap_fd, addr, s->ps, entries, n), ret;

	if (got < 0)
		return pid_gone(s->pid) ? -ESRCH : 0;
	for (i = 0; i <= (size_t)got; i++) {
		bool want = false;

		if (i < (size_t)got && anon_pagemap_entry_wanted(entries[i], s->zero_pfn, &s->pages[i].pfn)) {
			struct anon_page *p = &s->pages[i];

			s->res->present++;
			if (p->pfn)
				s->res->pfn_known = true;
			p->ksm = anon_pagemap_entry_maybe_ksm(entries[i], p->pfn) && frame_is_ksm(s, p->pfn);
			if (p->ksm)
				s->res->ksm++;
			want = !s->ops->want || s->ops->want(s->ctx, p);
		}
		if (want) {
			if (run_len++ == 0)
				run_start = i;
			continue;
		}
		if (run_len) {
			ret = scan_run(s, addr + run_start * (uint64_t)s->ps, run_start, run_len);
			if (ret < 0)
				return ret;
			run_len = 0;
		}
	}
	return 0;
}

static int scan_vma(struct scan *s, const struct anon_vma *v)
{
	uint64_t addr;
	int ret;

	for (addr = v->start; addr < v->end;) {
		size_t n = (size_t)((v->end - addr) / (uint64_t)s->ps);

		if (n > SCAN_BATCH)
			n = SCAN_BATCH;
		if (n == 0)
			break;
		ret = scan_batch(s, addr, n);
		if (ret < 0)
			return ret;
		addr += n * (uint64_t)s->ps;
	}
	return 0;
}

static int open_proc(pid_t pid, const char *name, int *fd, sp_error_t *err)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	if (errno == ENOENT || errno == ESRCH)
		return -ESRCH;
	return sp_error_set(err, errno, "open `%s`", path);
}

static int scan_maps(struct scan *s, FILE *maps)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	struct anon_vma v;
	int ret;

	while (getline(&line, &cap, maps) > 0) {
		if (anon_maps_parse_line(line, &v) < 0 || !anon_vma_eligible(&v))
			continue;
		ret = scan_vma(s, &v);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int anon_scan_pid(pid_t pid, const struct anon_scan_ops *ops, void *ctx, struct anon_scan_result *result,
		  sp_error_t *err)
{
	_cleanup_close_ int pagemap_fd = -EBADF, mem_fd = -EBADF, maps_fd = -EBADF, kpageflags_fd = -EBADF;
	_cleanup_fclose_ FILE *maps = NULL;
	_cleanup_free_ struct scan *s = NULL;
	int ret;

	memset(result, 0, sizeof(*result));
	/* Open all three first: a process that exits after this keeps its
	 * files readable until the mm is gone, and then reads return 0. */
	if ((ret = open_proc(pid, "maps", &maps_fd, err)) < 0 || (ret = open_proc(pid, "pagemap", &pagemap_fd, err)) < 0 ||
	    (ret = open_proc(pid, "mem", &mem_fd, err)) < 0)
		return ret;
	maps = fdopen(maps_fd, "r");
	if (!maps)
		return sp_error_set(err, errno, "read /proc/%d/maps", (int)pid);
	TAKE_FD(maps_fd);
	/* Only with frames to look up; without CAP_SYS_ADMIN it is not readable. */
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (kpageflags_fd >= 0 && !anon_kpageflags_ksm_reliable(kpageflags_fd)) {
		close(kpageflags_fd);
		kpageflags_fd = -EBADF;
	}
	result->ksm_known = kpageflags_fd >= 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return sp_error_set(err, ENOMEM, "scan pid %d", (int)pid);
	*s = (struct scan){ .pid = pid, .pagemap_fd = pagemap_fd, .mem_fd = mem_fd,
			    .kpageflags_fd = kpageflags_fd < 0 ? -1 : kpageflags_fd, .ps = sysconf(_SC_PAGESIZE),
			    .zero_pfn = anon_scan_zero_pfn(), .ops = ops, .ctx = ctx, .res = result };
	s->buf = malloc(SCAN_BATCH * (size_t)s->ps);
	if (!s->buf)
		return sp_error_set(err, ENOMEM, "scan pid %d", (int)pid);
	ret = scan_maps(s, maps);
	free(s->buf);
	if (ret == -ESRCH || (ret == 0 && result->present == 0 && pid_gone(pid)))
		return -ESRCH;
	return ret;
}

#ifndef IOPRIO_CLASS_IDLE
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_WHO_PROCESS 1
#endif

int anon_scan_be_polite(sp_error_t *err)
{
	if (setpriority(PRIO_PROCESS, 0, 19) < 0)
		return sp_error_set(err, errno, "setpriority(nice 19)");
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT) < 0)
		return sp_error_set(err, errno, "ioprio_set(IOPRIO_CLASS_IDLE)");
	return 0;
}
