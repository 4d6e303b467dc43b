/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage.conf: a JSON object.  A missing file means defaults; an unknown
 * key or a bad value is an error naming the key and the file.
 *
 *   {
 *     "domain_policy": "exclusive",   // or "shared", or "kernel" (default where ksm.domain exists)
 *     "deny_unmanaged": "/sys/fs/cgroup/x.slice",  // a cgroup samepage keeps at ksm.domain=deny
 *     "manage_ksmd": true,            // may samepage turn ksmd on?
 *     "advisor_mode": "scan-time",    // what to set when it does ("none" keeps pages_to_scan)
 *     "smart_scan": "off",            // or "keep": smart scan while samepage runs ksmd
 *     "namespace_annotation": "io.kubernetes.pod.namespace",  // the runtime's trusted key, or null
 *     "domains": { "shared-ci": ["ci-a", "ci-b"] },           // namespaces sharing one domain
 *     "governor": { ... },            // see samepage.conf(5)
 *     "unattributed": "refuse",       // or "warn": see enum sp_unattributed_mode
 *     "lock_timeout_ms": 3000,        // longest wait for the state lock
 *     "estimate": { "pays_percent": 5, "max_age_secs": 86400 }  // doctor's reading of `samepage estimate`
 *   }
 */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "base/error.h"

#define SP_DEFAULT_CONFIG "/etc/samepage/samepage.conf"
#define SP_DEFAULT_STATE_DIR "/run/samepage"

enum sp_domain_policy {
	SP_POLICY_EXCLUSIVE,
	SP_POLICY_SHARED,
	SP_POLICY_KERNEL,   /* every domain at once, each in its own kernel domain (node/domain-kernel.h) */
};

struct sp_governor_config {
	double cpu_budget;          /* share of one core ksmd may use, 0-1 (default 0.25) */
	unsigned int window_secs;   /* averaging window for the budget */
	unsigned int boost_pages;   /* pages_to_scan while boosting */
	unsigned int boost_sleep_ms;
	unsigned int idle_pages;    /* pages_to_scan once converged */
	unsigned int idle_sleep_ms;
	bool manage;                /* govern ksmd even when samepage did not turn it on */
	int boost_nice;             /* ksmd's nice value while boosting (kernel default 5) */
};

/* How doctor reads the last `samepage estimate` (node/estimate-record.h):
 * a domain whose achievable saving is at least pays_percent of its
 * anonymous memory is worth KSM, one below is not; a result older than
 * max_age_secs is stale and only earns a hint to run it again. */
struct sp_estimate_config {
	double pays_percent;        /* (0, 100], default 5 */
	unsigned int max_age_secs;  /* default 86400 */
};

/* What admission does under domain_policy exclusive while processes that
 * samepage did not enable are mergeable (self-opt-in, node/unattributed.h):
 *   refuse  no new domain is admitted and ksmd is not turned on (default);
 *   warn    admit all the same; status, metrics and doctor still show them.
 * Under shared it changes nothing. */
enum sp_unattributed_mode {
	SP_UNATTRIBUTED_REFUSE,
	SP_UNATTRIBUTED_WARN,
};

const char *sp_unattributed_mode_name(enum sp_unattributed_mode m);

/* A Kubernetes namespace the admin put into a group (`domains`): its
 * containers share the domain group/<group> with the group's other
 * namespaces.  Both are DNS labels (node/domain.h). */
struct sp_namespace_group {
	char ns[64];
	char group[64];
};

struct sp_config {
	enum sp_unattributed_mode unattributed;
	enum sp_domain_policy domain_policy;
	bool domain_policy_set;            /* written in the file (else kernel where the node has ksm.domain) */
	char *deny_unmanaged;              /* cgroup path for ksm.domain=deny, or NULL */
	bool manage_ksmd;
	char advisor_mode[16];
	/* smart_scan: "off" (default) switches the kernel's smart scan off
	 * while samepage runs ksmd, so a late replica meets its twins
	 * (node/ksmd.h); "keep" leaves it as samepage found it. */
	bool smart_scan_off;
	struct sp_governor_config governor;
	struct sp_estimate_config estimate;
	char *namespace_annotation;        /* the annotation the runtime sets to the pod's namespace, or NULL */
	struct sp_namespace_group *groups; /* from `domains`, one entry per namespace */
	size_t n_groups;

	/* The state lock: how long a writer waits for it before giving up
	 * (the hook then warns, or fails a `required` container). */
	unsigned int lock_timeout_ms;
};

/* Defaults; the struct owns nothing yet. */
void sp_config_defaults(struct sp_config *cfg);

/* Free what a loaded config owns; defaults again afterwards. */
void sp_config_free(struct sp_config *cfg);

/* Load path into cfg (defaults first).  A missing file is not an error. */
int sp_config_load(const char *path, struct sp_config *cfg, sp_error_t *err);

/* Parse a config from a NUL-terminated JSON string; `what` names it in errors. */
int sp_config_parse(const char *json, const char *what, struct sp_config *cfg, sp_error_t *err);

const char *sp_domain_policy_name(enum sp_domain_policy p);

/* Config path and state dir: option value, else the environment
 * (SAMEPAGE_CONFIG, SAMEPAGE_STATE_DIR), else the default. */
const char *sp_config_path(const char *option);
const char *sp_state_dir(const char *option);

#endif
