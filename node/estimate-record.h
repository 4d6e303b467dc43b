/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The last result of `samepage estimate`, kept in samepage's state dir
 * (<state_dir>/estimate.json, replaced atomically) so that `status`,
 * `metrics` and `doctor` can show what is saved now beside what could be
 * saved at most (`saved / achievable`).  Only the node-wide and per-domain
 * figures are kept: containers come and go, and the point is how close a
 * domain is to its limit.  The file's layout is docs/estimate.md's
 * "Last result" ("version": 1).
 */
#ifndef SP_ESTIMATE_RECORD_H
#define SP_ESTIMATE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <json-c/json.h>
#include "base/error.h"
#include "node/estimate.h"

#define EST_RECORD_FILE "estimate.json"

/* Figures in bytes (savings estimated, rounded).  The scan counts each
 * mapping of a KSM frame as the page it was before the merge, so its
 * figures are those of nothing merged; KSM's zero pages, which the scan does
 * not see, are added from ksm_stat. */
struct est_record_figures {
	int64_t anon_bytes;             /* as if nothing were merged: scanned + KSM zero pages */
	int64_t achievable_bytes;       /* within the domain, including what KSM saved already */
	int64_t saved_at_scan_bytes;    /* what KSM saved already (est_ksm_saved_bytes) */
	int64_t achievable_stderr_bytes;
	int64_t achievable_any_bytes;   /* if domains were ignored */
};

struct est_record_domain {
	char *domain;
	size_t containers;
	struct est_record_figures f;
};

struct est_record {
	int64_t time;                   /* when the scan finished, seconds since the epoch */
	double sample;
	bool complete;                  /* not cut short by --max-pages */
	bool frames_known;
	size_t containers;
	struct est_record_figures node;
	struct est_record_domain *domains;
	size_t n_domains;
};

/* What KSM saves for a group of processes: its zero pages, plus its
 * merging pages less its part of the KSM pages they map (the node's
 * pages_shared apportioned by merging pages: exact when one domain merges,
 * as under exclusive).  sharing = pages_sharing / (pages_shared +
 * pages_sharing) of the node, 0 when nothing is merged. */
int64_t est_ksm_saved_bytes(const struct ksm_group_stat *s, double sharing, long page_size);

/* The record of a finished estimate e, taken at time now; sharing as for
 * est_ksm_saved_bytes() when e was scanned. */
int est_record_from(const struct estimate *e, long page_size, double sharing, int64_t now, struct est_record *r,
		    sp_error_t *err);

/* The record as the JSON document of the file; NULL when out of memory. */
json_object *est_record_json(const struct est_record *r);

/* Write it to <state_dir>/estimate.json atomically (the dir is created). */
int est_record_save(const char *state_dir, const struct est_record *r, sp_error_t *err);

/* Read the last record: -ENOENT (no message) when there is none. */
int est_record_load(const char *state_dir, struct est_record *r, sp_error_t *err);

void est_record_free(struct est_record *r);

/* The domain's figures, or NULL. */
const struct est_record_domain *est_record_find(const struct est_record *r, const char *domain);

/* saved / achievable, clamped to [0, 1]; -1 when nothing is achievable. */
double est_record_ratio(int64_t saved_bytes, int64_t achievable_bytes);

#endif
