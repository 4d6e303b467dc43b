/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The anonymous pages of a running process, read from outside without
 * stopping or tracing it: /proc/<pid>/maps for the private mappings,
 * /proc/<pid>/pagemap for which pages are present, anonymous and in which
 * physical frame, /proc/<pid>/mem for their contents.
 *
 * "Anonymous" is what KSM can merge: pages of private mappings that are not
 * file pages (pagemap bit 61 clear), i.e. anonymous memory and the
 * copy-on-write copies inside private file mappings.  Pages that map the
 * shared zero page (read but never written) cost nothing and are left out,
 * as are swapped-out pages (reading them would swap them in).
 *
 * Privileges: reading another user's /proc/<pid>/mem needs ptrace read
 * access (CAP_SYS_PTRACE, or the same uid and a permissive Yama); pagemap
 * shows frame numbers only to CAP_SYS_ADMIN (otherwise they read 0 and
 * result.pfn_known is false).  The process keeps running: a page that
 * changes while it is read is just one sample of it.
 *
 * KSM pages: a frame that KSM merged is mapped by every page merged into
 * it.  A page that pagemap does not show as exclusively mapped is looked up
 * in /proc/kpageflags (CAP_SYS_ADMIN, as the frame numbers), and a KSM
 * frame is reported as such, so a caller can count each of its mappings as
 * the page it was before KSM merged it.  That count does not depend on how
 * far ksmd got while the scan ran.  Linux 6.10 to 6.12 set KPF_KSM on every
 * anonymous page; a probe of a page of our own finds that out, and then no
 * page is reported as KSM (result.ksm_known is false).
 */
#ifndef SP_ANON_SCAN_H
#define SP_ANON_SCAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"

/* /proc/<pid>/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)
#define PAGEMAP_FILE_OR_SHARED (1ULL << 61)
#define PAGEMAP_EXCLUSIVE (1ULL << 56)
/* /proc/kpageflags bit of a KSM page (include/uapi/linux/kernel-page-flags.h). */
#define KPAGEFLAGS_KSM (1ULL << 21)
#define PAGEMAP_PFN_MASK ((1ULL << 55) - 1)

/* A mapping line of /proc/<pid>/maps. */
struct anon_vma {
	uint64_t start, end;
	bool private;
	bool special;          /* [vdso], [vvar], [vsyscall]: the kernel's, not the process's */
};

/* Parse one maps line.  0 on success, -EINVAL when malformed. */
int anon_maps_parse_line(const char *line, struct anon_vma *v);

/* Whether a mapping can hold pages KSM merges (private, not special). */
static inline bool anon_vma_eligible(const struct anon_vma *v)
{
	return v->private && !v->special && v->end > v->start;
}

/*
 * Whether a pagemap entry is a present anonymous page worth reading; *pfn
 * gets its frame (0 when the reader may not see frames).  zero_pfn is the
 * frame of the shared zero page (0 when unknown).
 */
bool anon_pagemap_entry_wanted(uint64_t entry, uint64_t zero_pfn, uint64_t *pfn);

/* The frame of the shared zero page as pagemap shows it to us; 0 when we
 * may not see frames. */
uint64_t anon_scan_zero_pfn(void);

/* Whether kpageflags (open as fd) tells KSM pages apart: a page of our own,
 * written and mapped only here, must not read as KSM.  The answer is
 * cached for the process. */
bool anon_kpageflags_ksm_reliable(int fd);

/* A present anonymous page as the scan sees it. */
struct anon_page {
	uint64_t pfn;          /* 0 when the reader may not see frames */
	bool ksm;              /* a frame KSM merged (known only with frames) */
};

/* Whether a wanted pagemap entry may be a KSM frame worth looking up in
 * /proc/kpageflags: KSM frames of more than one mapping are not exclusive. */
static inline bool anon_pagemap_entry_maybe_ksm(uint64_t entry, uint64_t pfn)
{
	return pfn && !(entry & PAGEMAP_EXCLUSIVE);
}

struct anon_scan_ops {
	/* Before a page's content is read: false skips it (e.g. a frame that
	 * was already counted).  NULL reads every page. */
	bool (*want)(void *ctx, const struct anon_page *p);
	/* A page's content (page_size bytes).  A negative return stops the
	 * scan and is returned by anon_scan_pid. */
	int (*page)(void *ctx, const struct anon_page *p, const void *data);
};

struct anon_scan_result {
	uint64_t present;      /* present anonymous pages seen in pagemap */
	uint64_t read;         /* of them read and handed to ops->page */
	uint64_t unreadable;   /* vanished or unreadable while being read */
	uint64_t ksm;          /* of the present pages, mappings of KSM frames */
	bool ksm_known;        /* KSM frames were told apart (kpageflags readable and right) */
	bool pfn_known;        /* pagemap showed frame numbers */
};

/*
 * Walk pid's eligible mappings and hand every wanted page to ops.  -ESRCH
 * (without a message) when the process is gone or has no mm, also when it
 * exits in the middle: callers skip it.  Other errors name the file.
 * result is filled as far as the scan got.
 */
int anon_scan_pid(pid_t pid, const struct anon_scan_ops *ops, void *ctx, struct anon_scan_result *result,
		  sp_error_t *err);

/* Run the caller at the lowest CPU priority (nice 19) and in the idle I/O
 * class, so a scan yields to every workload on the node. */
int anon_scan_be_polite(sp_error_t *err);

#endif
