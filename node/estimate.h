/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What KSM could save on the workloads running now, before anyone turns it
 * on: the anonymous pages of each container's processes (host/anon-scan.h)
 * are hashed with XXH3-128 and counted.
 *
 * - Each physical page counts once, by frame number: pages shared after a
 *   fork are one page (the first container that maps it gets it).
 * - A frame KSM merged counts once per mapping, as the pages it was before
 *   the merge (host/anon-scan.h tells KSM frames apart).  So the figures do
 *   not depend on how far ksmd got, also when it merges while the scan runs
 *   and the processes that share a frame are read on either side of the
 *   merge; the saving includes what KSM saves already.  Where KSM
 *   frames cannot be told apart (ksm_unknown) they count once, and
 *   estimate-record.h adds what ksm_stat says KSM saved.  (KSM pages that
 *   became the shared zero page under use_zero_pages are not mapped pages;
 *   estimate-record.h adds them from ksm_stat.)
 * - The saving KSM could reach inside a domain is its pages minus its
 *   distinct contents; the same figure over all containers is what the node
 *   would save if domains were ignored.  A container's share of its
 *   domain's saving: each of its pages in a content class of c pages of the
 *   domain counts (c - 1) / c.
 * - Zero-filled pages are counted exactly (every page is read).
 * - Sampling: with a fraction f < 1 only the contents whose hash falls below
 *   f enter the table (a content is in or out as a whole, so duplicates are
 *   never split); savings are scaled by 1/f and carry a standard error.
 *
 * Memory: the digest table holds one 24-byte slot per distinct (content,
 * container) pair in the sample and is at most 3/4 full; the frame set holds
 * one 8-byte slot per page scanned, at most 3/4 full.  EST_BYTES_PER_PAGE is
 * the worst case of both per page scanned with f = 1.
 */
#ifndef SP_ESTIMATE_H
#define SP_ESTIMATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"
#include "host/sample.h"

#define EST_DIGEST_SLOT_BYTES 24
#define EST_PFN_SLOT_BYTES 8
/* A table doubles when 3/4 full, so right after a doubling a slot in use
 * costs (slot / (3/8)); that is the worst case per page. */
#define EST_BYTES_PER_PAGE ((EST_DIGEST_SLOT_BYTES + EST_PFN_SLOT_BYTES) * 8 / 3)

struct est_digest {
	uint64_t lo, hi;
};

/* Figures of a container, a domain or the node.  Savings are in pages,
 * estimated (scaled by 1/sample); the rest are exact counts. */
struct est_figures {
	uint64_t anon_pages;        /* anonymous pages scanned: each frame once, a KSM frame once per mapping */
	uint64_t ksm_pages;         /* of them mappings of KSM frames */
	uint64_t frame_pages;       /* physical frames they take: a KSM frame once (all when frames are unknown) */
	uint64_t zero_pages;        /* of them filled with zeros */
	uint64_t sampled_pages;     /* of them in the sample */
	double saving_pages;        /* KSM could save at most, within the domain */
	double saving_se;           /* its standard error (0 without sampling) */
	double saving_any_pages;    /* the same if domains were ignored */
	double saving_any_se;
	double zero_saving_pages;   /* the part of saving_pages that is zero pages */
	struct ksm_group_stat ksm_now; /* what KSM saves now (ksm_stat) */
};

struct est_container {
	char *id;
	size_t domain;              /* index into est_domain[] */
	uint64_t processes;         /* scanned (exited ones are left out) */
	uint64_t exited;            /* processes that went away before or while scanned */
	struct est_figures f;
};

struct est_domain {
	char *name;
	size_t containers;
	struct est_figures f;
};

struct est_progress {
	uint64_t pages_read;
	uint64_t pages_expected;    /* from statm, for a progress bar; may be exceeded */
};
typedef void (*est_progress_fn)(void *ctx, const struct est_progress *p);

struct estimate {
	double sample;              /* fraction in (0, 1]; 1 = every content */
	uint64_t max_pages;         /* stop after reading this many pages (0: no limit) */
	est_progress_fn progress;   /* called every few thousand pages, or NULL */
	void *progress_ctx;

	struct est_container *containers;
	size_t n_containers;
	struct est_domain *domains;
	size_t n_domains;
	struct est_figures node;

	bool pfn_known;             /* frames were visible: physical pages counted once */
	bool ksm_unknown;           /* a process was scanned without telling KSM frames apart
	                             * (no kpageflags, or one that marks every page KSM):
	                             * its KSM frames counted once, as ordinary frames */
	bool truncated;             /* max_pages stopped the scan */
	struct est_progress done;
	size_t table_bytes_peak;    /* digest table + frame set at their largest */
	bool finished;

	/* private */
	struct est_slot *slots;
	size_t n_slots, used_slots;
	uint64_t *pfns;
	size_t n_pfns, used_pfns;
	struct est_digest zero_digest;
	size_t cur;                 /* container being scanned */
};

/* An empty estimate; sample 1, no page limit. */
void est_init(struct estimate *e);
void est_free(struct estimate *e);

/* Add a container of domain (added on first use); *idx gets its index. */
int est_add_container(struct estimate *e, const char *id, const char *domain, size_t *idx, sp_error_t *err);

/* XXH3-128 of a page. */
struct est_digest est_hash_page(const void *data, size_t page_size);

/* Count one page of container idx: pfn 0 when unknown (not deduplicated).
 * Returns 1 when counted, 0 when the frame was counted before, -E2BIG when
 * max_pages is reached (the page is not counted), -ENOMEM. */
int est_add_page(struct estimate *e, size_t idx, uint64_t pfn, const struct est_digest *d);

/* Count one mapping of the KSM frame pfn by container idx: every mapping
 * counts, as the page it was before KSM merged it.  Returns as est_add_page
 * (never 0). */
int est_add_ksm_page(struct estimate *e, size_t idx, uint64_t pfn, const struct est_digest *d);

/* Scan the processes of container idx (host/anon-scan.h) and read their
 * ksm_stat.  Processes that exit are skipped.  -E2BIG when max_pages
 * stopped the scan (not an error: e->truncated is set, no message). */
int est_scan_pids(struct estimate *e, size_t idx, const pid_t *pids, size_t n, sp_error_t *err);

/* After the last page (once): the savings of containers, domains and the
 * node.  Pages added after it are an error (the table is gone). */
int est_finish(struct estimate *e, sp_error_t *err);

#endif
