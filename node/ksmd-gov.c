/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "host/ksm.h"
#include "host/proc.h"
#include "node/ksmd-gov.h"
#include "node/state.h"

int ksmd_find_pid(sp_error_t *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	d = opendir("/proc");
	if (!d)
		return sp_error_set(err, errno, "open `/proc`");
	while ((de = readdir(d))) {
		struct proc_info pi;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]) || parse_long(de->d_name, 1, 1L << 22, &pid) < 0)
			continue;
		/* Kernel threads are children of kthreadd, pid 2. */
		if (proc_info_read((pid_t)pid, &pi, NULL) < 0 || pi.ppid != 2)
			continue;
		if (strcmp(pi.comm, "ksmd") == 0)
			return (int)pid;
	}
	return sp_error_set(err, ESRCH, "no ksmd kernel thread in /proc (kernel without CONFIG_KSM?)");
}

int ksmd_cpu_seconds(pid_t pid, double *secs, sp_error_t *err)
{
	long ticks = sysconf(_SC_CLK_TCK);
	struct proc_info pi;
	int ret;

	ret = proc_info_read(pid, &pi, err);
	if (ret < 0)
		return ret;
	if (ticks <= 0)
		return sp_error_set(err, EINVAL, "sysconf(_SC_CLK_TCK)");
	*secs = (double)(pi.utime + pi.stime) / (double)ticks;
	return 0;
}

int ksmd_nice_get(pid_t pid, int *nice, sp_error_t *err)
{
	int n;

	errno = 0;
	n = getpriority(PRIO_PROCESS, (id_t)pid);
	if (n == -1 && errno)
		return sp_error_set(err, errno, "getpriority of pid %d", (int)pid);
	*nice = n;
	return 0;
}

int ksmd_nice_set(pid_t pid, int nice, sp_error_t *err)
{
	if (setpriority(PRIO_PROCESS, (id_t)pid, nice) < 0)
		return sp_error_set(err, errno, "set nice %d on pid %d", nice, (int)pid);
	return 0;
}

int ksmd_read_counters(struct gov_sample *s, sp_error_t *err)
{
	static const struct {
		const char *name;
		size_t off;
	} counters[] = {
		{ "pages_shared", offsetof(struct gov_sample, pages_shared) },
		{ "pages_sharing", offsetof(struct gov_sample, pages_sharing) },
		{ "pages_unshared", offsetof(struct gov_sample, pages_unshared) },
		{ "pages_volatile", offsetof(struct gov_sample, pages_volatile) },
		{ "full_scans", offsetof(struct gov_sample, full_scans) },
	};
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		uint64_t *c = (uint64_t *)((char *)s + counters[i].off);
		int ret = ksm_knob_read_u64(counters[i].name, c, err);

		if (ret < 0)
			return ret;
	}
	s->has_pages_scanned = ksm_knob_read_u64("pages_scanned", &s->pages_scanned, NULL) == 0;
	s->smart_scan = ksm_knob_read_u64("smart_scan", &v, NULL) == 0 && v == 1;
	if (!s->has_pages_scanned)
		s->pages_scanned = 0;
	return 0;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int ksmd_gov_init(struct ksmd_gov *gv, const char *state_dir, const struct sp_config *cfg, ksmd_gov_log_fn log,
		  sp_error_t *err)
{
	struct gov_params params;
	int ret;

	memset(gv, 0, sizeof(*gv));
	if (!ksm_knob_exists("run"))
		return sp_error_set(err, ENOENT, "%s/run missing: this kernel has no KSM", ksm_sysfs_dir());
	ret = ksmd_find_pid(err);
	if (ret < 0)
		return ret;
	gv->ksmd_pid = ret;
	gv->state_dir = state_dir;
	gv->cfg = *cfg;
	gv->log = log;
	gov_params_from_config(&params, &cfg->governor);
	gov_init(&gv->g, &params);
	gv->next_sample = -1;
	return 0;
}

void ksmd_gov_free(struct ksmd_gov *gv)
{
	size_t i;

	for (i = 0; i < gv->n_seen; i++)
		free(gv->seen[i].id);
	free(gv->seen);
	gv->seen = NULL;
	gv->n_seen = 0;
}

static bool seen_has(const struct ksmd_gov *gv, const struct sp_container *c)
{
	size_t i;

	for (i = 0; i < gv->n_seen; i++)
		if (gv->seen[i].since == c->since && strcmp(gv->seen[i].id, c->id) == 0)
			return true;
	return false;
}

/* Remember the enabled containers of st; returns how many are new. */
static size_t seen_update(struct ksmd_gov *gv, const struct sp_state *st)
{
	struct ksmd_gov_seen *next = calloc(st->n_containers + 1, sizeof(*next));
	size_t i, n = 0, fresh = 0;

	if (!next)
		return 0;
	for (i = 0; i < st->n_containers; i++) {
		const struct sp_container *c = &st->containers[i];

		if (!c->enabled)
			continue;
		if (!seen_has(gv, c))
			fresh++;
		next[n].id = strdup(c->id);
		next[n].since = c->since;
		if (next[n].id)
			n++;
	}
	ksmd_gov_free(gv);
	gv->seen = next;
	gv->n_seen = n;
	return fresh;
}

static bool state_managed(const struct ksmd_gov *gv, const struct sp_state *st)
{
	return st->ksmd_managed || gv->cfg.governor.manage;
}

/* Taking ksmd: adopt an earlier run's records, remember smart_scan, and
 * switch the advisor off (pages_to_scan cannot be written while it runs). */
static int take_ksmd(struct ksmd_gov *gv, struct sp_state *st, sp_error_t *err)
{
	_cleanup_free_ char *smart = NULL, *adv = NULL;
	const char *saved;
	int ret;

	ksmd_undo_adopt(&gv->undo, st, &gv->cfg);
	gv->smart_orig[0] = '\0';
	if (ksm_knob_exists("smart_scan") && ksm_knob_read("smart_scan", &smart, NULL) == 0)
		snprintf(gv->smart_orig, sizeof(gv->smart_orig), "%s", smart);
	/* Settled, ksmd scans smart as before samepage: the hook turned it
	 * off, or a previous run was killed while boosting. */
	saved = ksmd_saved(st, "smart_scan");
	if (saved && gv->smart_orig[0])
		snprintf(gv->smart_orig, sizeof(gv->smart_orig), "%s", saved);
	if (!ksm_knob_exists("advisor_mode") || ksm_knob_read("advisor_mode", &adv, NULL) < 0 ||
	    strcmp(adv, "none") == 0)
		return 0;
	ret = ksmd_undo_set(&gv->undo, st, "advisor_mode", "none", err);
	if (ret < 0)
		return ret;
	gv->log(LOG_INFO, "advisor_mode %s -> none while governing", adv);
	return 0;
}

/* Someone else changed a knob: put back what still holds our values and
 * wait until samepage takes ksmd again. */
static void step_aside(struct ksmd_gov *gv, struct sp_state *st, const char *which)
{
	_cleanup_error_ sp_error_t err = NULL;

	gv->log(LOG_WARNING, "%s was changed by someone else; leaving ksmd alone until samepage takes it again",
		which);
	if (ksmd_undo_restore(&gv->undo, st, &err) < 0)
		gv->log(LOG_WARNING, "restore: %s", sp_error_msg(err));
	gv->governing = false;
	gv->stood_down = true;
	sp_state_save(gv->state_dir, st, NULL);
}

/* The scan rate and smart_scan of k, where they differ from what is set. */
static int set_rates(struct ksmd_gov *gv, struct sp_state *st, const struct gov_knobs *k, bool all,
		     sp_error_t *err)
{
	char val[32];
	int ret;

	if (all || gv->applied.sleep_ms != k->sleep_ms) {
		snprintf(val, sizeof(val), "%u", k->sleep_ms);
		ret = ksmd_undo_set(&gv->undo, st, "sleep_millisecs", val, err);
		if (ret < 0)
			return ret;
	}
	if (all || gv->applied.pages_to_scan != k->pages_to_scan) {
		snprintf(val, sizeof(val), "%u", k->pages_to_scan);
		ret = ksmd_undo_set(&gv->undo, st, "pages_to_scan", val, err);
		if (ret < 0)
			return ret;
	}
	if (gv->smart_orig[0]) {
		const char *want = k->smart_scan_off ? "0" : gv->smart_orig;
		_cleanup_free_ char *cur = NULL;

		ret = ksm_knob_read("smart_scan", &cur, err);
		if (ret == 0 && strcmp(cur, want) != 0)
			ret = ksmd_undo_set(&gv->undo, st, "smart_scan", want, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Apply knobs k under the state lock.  Returns 0, or -EAGAIN when the
 * governor no longer governs (hook released ksmd, someone else took it). */
static int apply_knobs(struct ksmd_gov *gv, const struct gov_knobs *k, bool taking)
{
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_close_ int lock = -EBADF;
	const char *which;
	int ret;

	lock = sp_state_open(gv->state_dir, &st, &err);
	if (lock < 0) {
		gv->log(LOG_ERR, "%s", sp_error_msg(err));
		return lock;
	}
	if (!state_managed(gv, &st)) {
		ksmd_undo_forget(&gv->undo);
		gv->governing = false;
		return -EAGAIN;
	}
	if (!taking && (which = ksmd_undo_changed(&gv->undo))) {
		step_aside(gv, &st, which);
		return -EAGAIN;
	}
	ret = taking ? take_ksmd(gv, &st, &err) : 0;
	if (ret == 0)
		ret = set_rates(gv, &st, k, !gv->have_applied || taking, &err);
	if (ret == 0)
		ret = sp_state_save(gv->state_dir, &st, &err);
	if (ret < 0) {
		gv->log(LOG_ERR, "set ksmd knobs: %s", sp_error_msg(err));
		/* Keep the records of what did change. */
		sp_state_save(gv->state_dir, &st, NULL);
		return ret;
	}
	gv->applied = *k;
	gv->have_applied = true;
	return 0;
}

static void log_knobs(const struct ksmd_gov *gv, const struct gov_knobs *k, const char *why)
{
	gv->log(LOG_INFO, "%s: %s, pages_to_scan %u, sleep_millisecs %u (ksmd %.2f CPU-s in the last %.0f s)", why,
		gov_mode_name(gv->g.mode), k->pages_to_scan, k->sleep_ms, gov_window_cpu(&gv->g),
		gv->g.p.window_secs);
}

static int take_sample(struct ksmd_gov *gv, struct gov_sample *s)
{
	_cleanup_error_ sp_error_t err = NULL;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = ksmd_read_counters(s, &err);
	if (ret == 0)
		ret = ksmd_cpu_seconds(gv->ksmd_pid, &s->cpu, &err);
	if (ret < 0) {
		gv->log(LOG_ERR, "sample ksmd: %s", sp_error_msg(err));
		return ret;
	}
	s->t = now_mono();
	return 0;
}

static void schedule(struct ksmd_gov *gv)
{
	if (gv->governing && (gv->g.mode == GOV_BOOST || gv->enabled > 0 || gv->cfg.governor.manage))
		gv->next_sample = now_mono() + gov_next_sample_ms(&gv->g) / 1000.0;
	else
		gv->next_sample = -1;
}

int ksmd_gov_timeout_ms(const struct ksmd_gov *gv)
{
	double d;

	if (gv->next_sample < 0)
		return -1;
	d = gv->next_sample - now_mono();
	return d <= 0 ? 0 : (int)(d * 1000) + 1;
}

static void sample_and_decide(struct ksmd_gov *gv)
{
	struct gov_sample s;
	struct gov_knobs k;
	enum gov_mode before = gv->g.mode;
	bool was_throttled = gv->g.throttled;
	bool changed;

	if (take_sample(gv, &s) < 0)
		return;
	changed = gov_feed(&gv->g, &s, &k);
	if (gv->trace)
		gv->trace(gv, &s, &k);
	if (changed || !gv->have_applied) {
		if (apply_knobs(gv, &k, false) == 0 &&
		    (before != gv->g.mode || was_throttled != gv->g.throttled))
			log_knobs(gv, &k,
				  before != gv->g.mode ? (gv->g.mode == GOV_BOOST ? "memory arriving" : "converged")
						       : (gv->g.throttled ? "over the CPU budget" : "within the CPU budget"));
	}
}

/* ksmd's priority follows the mode: governor.boost_nice while boosting
 * (the kernel runs ksmd at nice 5, and on a busy node that leaves a boost
 * of pages_to_scan waiting for CPU), what it was otherwise.  The CPU
 * budget still bounds what ksmd uses; the priority only decides how soon
 * it gets it.  A nice value someone else set meanwhile is theirs. */
static void apply_nice(struct ksmd_gov *gv)
{
	_cleanup_error_ sp_error_t err = NULL;
	bool want = gv->governing && gv->g.mode == GOV_BOOST;
	int cur = 0;

	if (want == gv->nice_raised || gv->nice_failed)
		return;
	if (ksmd_nice_get(gv->ksmd_pid, &cur, &err) < 0) {
		gv->log(LOG_WARNING, "%s", sp_error_msg(err));
		gv->nice_failed = true;
		return;
	}
	if (want) {
		if (cur <= gv->cfg.governor.boost_nice)
			return;
		if (ksmd_nice_set(gv->ksmd_pid, gv->cfg.governor.boost_nice, &err) < 0) {
			gv->log(LOG_WARNING, "ksmd priority not raised: %s", sp_error_msg(err));
			gv->nice_failed = true;
			return;
		}
		gv->nice_orig = cur;
		gv->nice_raised = true;
		return;
	}
	if (cur == gv->cfg.governor.boost_nice && ksmd_nice_set(gv->ksmd_pid, gv->nice_orig, &err) < 0)
		gv->log(LOG_WARNING, "ksmd priority not restored: %s", sp_error_msg(err));
	gv->nice_raised = false;
}

void ksmd_gov_tick(struct ksmd_gov *gv)
{
	if (gv->next_sample >= 0 && now_mono() >= gv->next_sample) {
		sample_and_decide(gv);
		schedule(gv);
	}
	apply_nice(gv);
}

/* The hook released ksmd (its ksmd_release() put back every recorded
 * knob, the governor's too): forget and start over. */
static void released(struct ksmd_gov *gv)
{
	if (gv->governing)
		gv->log(LOG_INFO, "ksmd released by samepage; not governing");
	ksmd_undo_forget(&gv->undo);
	gv->governing = false;
	gv->stood_down = false;
	gv->have_applied = false;
	gv->was_managed = false;
	gov_init(&gv->g, &gv->g.p);
}

static void start_governing(struct ksmd_gov *gv, size_t fresh)
{
	struct gov_knobs k;
	struct gov_sample s;

	gv->stood_down = false;
	gv->governing = true;
	gov_init(&gv->g, &gv->g.p);
	if (take_sample(gv, &s) == 0)
		gov_feed(&gv->g, &s, &k);
	if (fresh > 0)
		gov_event(&gv->g, now_mono(), &k);
	else
		gov_knobs(&gv->g, &k);
	if (apply_knobs(gv, &k, true) == 0)
		log_knobs(gv, &k, fresh ? "governing, new containers" : "governing");
}

/* Reload the node state: start or stop governing, boost for new
 * containers. */
static void refresh(struct ksmd_gov *gv)
{
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	struct gov_knobs k;
	size_t fresh;

	if (sp_state_load(gv->state_dir, &st, &err) < 0) {
		gv->log(LOG_ERR, "%s", sp_error_msg(err));
		return;
	}
	fresh = seen_update(gv, &st);
	gv->enabled = sp_state_enabled_count(&st);
	if (!state_managed(gv, &st)) {
		released(gv);
		return;
	}
	if (gv->stood_down && gv->was_managed)
		return;
	gv->was_managed = true;
	if (!gv->governing) {
		start_governing(gv, fresh);
		return;
	}
	if (fresh > 0) {
		gov_event(&gv->g, now_mono(), &k);
		if (apply_knobs(gv, &k, false) == 0)
			log_knobs(gv, &k, "container started");
	}
}

void ksmd_gov_refresh(struct ksmd_gov *gv)
{
	refresh(gv);
	schedule(gv);
	apply_nice(gv);
}

void ksmd_gov_stop(struct ksmd_gov *gv)
{
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_close_ int lock = -EBADF;
	int ret;

	gv->governing = false;
	apply_nice(gv);
	if (gv->undo.n == 0)
		return;
	lock = sp_state_open(gv->state_dir, &st, &err);
	if (lock < 0) {
		gv->log(LOG_ERR, "restore ksmd: %s", sp_error_msg(err));
		return;
	}
	ret = ksmd_undo_restore(&gv->undo, &st, &err);
	if (ret < 0)
		gv->log(LOG_ERR, "restore ksmd: %s", sp_error_msg(err));
	else
		gv->log(LOG_INFO, "stopped; restored %d ksmd knob%s", ret, ret == 1 ? "" : "s");
	sp_error_free(&err);
	if (sp_state_save(gv->state_dir, &st, &err) < 0)
		gv->log(LOG_ERR, "%s", sp_error_msg(err));
}
