/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage governor: a small daemon that runs ksmd fast when a KSM-enabled
 * container starts and slow once its duplicates are merged, within a CPU
 * budget.  The decisions are node/governor.c's; this file watches the node
 * state (inotify on the state dir: the hook saves state.json by rename),
 * samples ksmd, and applies the knobs under the state lock.
 *
 * It governs only a ksmd samepage turned on (the node state's
 * ksmd.managed) or, with `governor.manage: true`, any ksmd.  The scan-time
 * advisor is switched off while it governs: the kernel refuses writes to
 * pages_to_scan while the advisor is on, and the advisor aims at a fixed
 * full-scan time instead of reacting to containers starting.  On SIGTERM or
 * SIGINT it puts back every knob it changed that still holds its value.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "node/config.h"
#include "base/fileio.h"
#include "node/governor.h"
#include "node/state.h"
#include "host/ksm.h"
#include "node/ksmd-gov.h"
#include "cmd/verbs.h"

struct seen {
	char *id;
	int64_t since;
};

struct governor {
	const char *state_dir;
	struct sp_config cfg;
	struct gov g;
	struct ksmd_gov_undo undo;
	pid_t ksmd_pid;
	bool foreground;
	bool once;
	bool governing;      /* knobs are ours to set */
	bool stood_down;     /* someone else changed a knob; wait for the next take */
	bool was_managed;
	size_t enabled;
	struct seen *seen;
	size_t n_seen;
	struct gov_knobs applied;
	bool have_applied;
	char smart_orig[8];  /* smart_scan when the governor took ksmd ("" when absent) */
	int nice_orig;       /* ksmd's nice before the boost raised its priority */
	bool nice_raised;
	bool nice_failed;    /* setpriority refused (no CAP_SYS_NICE): stop trying */
	double next_sample;  /* monotonic seconds, < 0: none due */
};

static bool use_syslog;

static void gov_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gov_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		fprintf(stderr, "samepage governor: %s", prio <= LOG_WARNING ? "warning: " : "");
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void governor_usage(FILE *f)
{
	fputs("Usage: samepage governor [--foreground] [--once]\n"
	      "Run ksmd fast while new KSM containers' memory merges and slowly once it has,\n"
	      "within a CPU budget (samepage.conf `governor`).  Acts only on a ksmd samepage\n"
	      "turned on (or any with `governor.manage: true`); puts back what it changed when\n"
	      "it stops (SIGTERM, SIGINT).\n"
	      "\nOptions:\n"
	      "  -f, --foreground   log to stderr instead of syslog and do not detach (systemd)\n"
	      "  -1, --once         boost for the containers running now, and once merging has\n"
	      "                     converged put ksmd's knobs back and exit\n"
	      "\nExamples:\n"
	      "  systemctl enable --now samepage-governor.service\n"
	      "  samepage governor --foreground\n",
	      f);
}

static void seen_free(struct governor *gv)
{
	size_t i;

	for (i = 0; i < gv->n_seen; i++)
		free(gv->seen[i].id);
	free(gv->seen);
	gv->seen = NULL;
	gv->n_seen = 0;
}

static bool seen_has(const struct governor *gv, const struct sp_container *c)
{
	size_t i;

	for (i = 0; i < gv->n_seen; i++)
		if (gv->seen[i].since == c->since && strcmp(gv->seen[i].id, c->id) == 0)
			return true;
	return false;
}

/* Remember the enabled containers of st; returns how many are new. */
static size_t seen_update(struct governor *gv, const struct sp_state *st)
{
	struct seen *next = calloc(st->n_containers + 1, sizeof(*next));
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
	seen_free(gv);
	gv->seen = next;
	gv->n_seen = n;
	return fresh;
}

static bool state_managed(const struct governor *gv, const struct sp_state *st)
{
	return st->ksmd_managed || gv->cfg.governor.manage;
}

/* A knob the governor set that now holds another value: someone else is
 * tuning ksmd, and the governor steps aside. */
static bool knobs_taken_over(const struct governor *gv, const char **which)
{
	size_t i;

	for (i = 0; i < gv->undo.n; i++) {
		_cleanup_free_ char *cur = NULL;

		if (ksm_knob_read(gv->undo.c[i].name, &cur, NULL) < 0)
			continue;
		if (strcmp(cur, gv->undo.c[i].set) != 0) {
			*which = gv->undo.c[i].name;
			return true;
		}
	}
	return false;
}

/* Adopt what an earlier governor run recorded (it may have been killed):
 * pages_to_scan, sleep_millisecs and smart_scan are only ever recorded by
 * the governor, so their recorded original is what to put back; the hook
 * records advisor_mode with the configured mode, which the governor's
 * `none` replaced. */
static void adopt_records(struct governor *gv, const struct sp_state *st)
{
	size_t i;

	for (i = 0; i < st->n_knobs; i++) {
		const struct sp_knob_change *k = &st->knobs[i];

		if (strcmp(k->name, "pages_to_scan") == 0 || strcmp(k->name, "sleep_millisecs") == 0 ||
		    strcmp(k->name, "smart_scan") == 0)
			ksmd_gov_note(&gv->undo, k->name, k->saved, k->set, false);
		else if (strcmp(k->name, "advisor_mode") == 0 && strcmp(k->set, "none") == 0 &&
			 strcmp(gv->cfg.advisor_mode, "none") != 0)
			ksmd_gov_note(&gv->undo, k->name, gv->cfg.advisor_mode, k->set, true);
	}
}

/* Apply knobs k under the state lock.  Returns 0, or -EAGAIN when the
 * governor no longer governs (hook released ksmd, someone else took it). */
static int apply_knobs(struct governor *gv, const struct gov_knobs *k, bool taking)
{
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_close_ int lock = -EBADF;
	char val[32];
	const char *which = NULL;
	int ret;

	lock = sp_state_open(gv->state_dir, &st, &err);
	if (lock < 0) {
		gov_log(LOG_ERR, "%s", sp_error_msg(err));
		return lock;
	}
	if (!state_managed(gv, &st)) {
		ksmd_gov_forget(&gv->undo);
		gv->governing = false;
		return -EAGAIN;
	}
	if (taking) {
		_cleanup_free_ char *smart = NULL;

		adopt_records(gv, &st);
		gv->smart_orig[0] = '\0';
		if (ksm_knob_exists("smart_scan") && ksm_knob_read("smart_scan", &smart, NULL) == 0)
			snprintf(gv->smart_orig, sizeof(gv->smart_orig), "%s", smart);
		/* A previous run that was killed while boosting left it off. */
		for (size_t i = 0; i < gv->undo.n; i++)
			if (strcmp(gv->undo.c[i].name, "smart_scan") == 0)
				snprintf(gv->smart_orig, sizeof(gv->smart_orig), "%s", gv->undo.c[i].before);
		/* pages_to_scan cannot be written while the advisor runs. */
		if (ksm_knob_exists("advisor_mode")) {
			_cleanup_free_ char *adv = NULL;

			if (ksm_knob_read("advisor_mode", &adv, &err) == 0 && strcmp(adv, "none") != 0) {
				ret = ksmd_gov_set(&gv->undo, &st, "advisor_mode", "none", &err);
				if (ret < 0)
					goto fail;
				gov_log(LOG_INFO, "advisor_mode %s -> none while governing", adv);
			}
		}
	} else if (knobs_taken_over(gv, &which)) {
		gov_log(LOG_WARNING, "%s was changed by someone else; leaving ksmd alone until samepage takes it again",
			which);
		ret = ksmd_gov_restore(&gv->undo, &st, &err);
		if (ret < 0)
			gov_log(LOG_WARNING, "restore: %s", sp_error_msg(err));
		sp_error_free(&err);
		gv->governing = false;
		gv->stood_down = true;
		sp_state_save(gv->state_dir, &st, NULL);
		return -EAGAIN;
	}
	if (!gv->have_applied || taking || gv->applied.sleep_ms != k->sleep_ms) {
		snprintf(val, sizeof(val), "%u", k->sleep_ms);
		ret = ksmd_gov_set(&gv->undo, &st, "sleep_millisecs", val, &err);
		if (ret < 0)
			goto fail;
	}
	if (!gv->have_applied || taking || gv->applied.pages_to_scan != k->pages_to_scan) {
		snprintf(val, sizeof(val), "%u", k->pages_to_scan);
		ret = ksmd_gov_set(&gv->undo, &st, "pages_to_scan", val, &err);
		if (ret < 0)
			goto fail;
	}
	if (gv->smart_orig[0]) {
		const char *want = k->smart_scan_off ? "0" : gv->smart_orig;
		_cleanup_free_ char *cur = NULL;

		if (ksm_knob_read("smart_scan", &cur, &err) < 0 ||
		    (strcmp(cur, want) != 0 && ksmd_gov_set(&gv->undo, &st, "smart_scan", want, &err) < 0)) {
			ret = -EIO;
			goto fail;
		}
	}
	ret = sp_state_save(gv->state_dir, &st, &err);
	if (ret < 0)
		goto fail;
	gv->applied = *k;
	gv->have_applied = true;
	return 0;
fail:
	gov_log(LOG_ERR, "set ksmd knobs: %s", sp_error_msg(err));
	/* Keep the records of what did change. */
	sp_state_save(gv->state_dir, &st, NULL);
	return ret;
}

static void log_knobs(const struct governor *gv, const struct gov_knobs *k, const char *why)
{
	gov_log(LOG_INFO, "%s: %s, pages_to_scan %u, sleep_millisecs %u (ksmd %.2f CPU-s in the last %.0f s)", why,
		gov_mode_name(gv->g.mode), k->pages_to_scan, k->sleep_ms, gov_window_cpu(&gv->g),
		gv->g.p.window_secs);
}

/* SAMEPAGE_GOVERNOR_TRACE=1: one stderr line per sample, for tuning. */
static bool trace;

static void trace_sample(const struct governor *gv, const struct gov_sample *s, const struct gov_knobs *k)
{
	fprintf(stderr,
		"samepage governor: trace t=%.3f cpu=%.2f shared=%llu sharing=%llu unshared=%llu volatile=%llu scans=%llu scanned=%llu -> %s%s %u/%u\n",
		s->t, s->cpu, (unsigned long long)s->pages_shared, (unsigned long long)s->pages_sharing,
		(unsigned long long)s->pages_unshared, (unsigned long long)s->pages_volatile,
		(unsigned long long)s->full_scans, (unsigned long long)s->pages_scanned, gov_mode_name(gv->g.mode),
		gv->g.throttled ? " throttled" : "", k->pages_to_scan, k->sleep_ms);
}

static int take_sample(struct governor *gv, struct gov_sample *s)
{
	_cleanup_error_ sp_error_t err = NULL;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = ksmd_read_counters(s, &err);
	if (ret == 0)
		ret = ksmd_cpu_seconds(gv->ksmd_pid, &s->cpu, &err);
	if (ret < 0) {
		gov_log(LOG_ERR, "sample ksmd: %s", sp_error_msg(err));
		return ret;
	}
	s->t = now_mono();
	return 0;
}

static void schedule(struct governor *gv)
{
	if (gv->governing && (gv->g.mode == GOV_BOOST || gv->enabled > 0 || gv->cfg.governor.manage))
		gv->next_sample = now_mono() + gov_next_sample_ms(&gv->g) / 1000.0;
	else
		gv->next_sample = -1;
}

static void sample_and_decide(struct governor *gv)
{
	struct gov_sample s;
	struct gov_knobs k;
	enum gov_mode before = gv->g.mode;
	bool was_throttled = gv->g.throttled;
	bool changed;

	if (take_sample(gv, &s) < 0)
		return;
	changed = gov_feed(&gv->g, &s, &k);
	if (trace)
		trace_sample(gv, &s, &k);
	if (changed || !gv->have_applied) {
		if (apply_knobs(gv, &k, false) == 0 &&
		    (before != gv->g.mode || was_throttled != gv->g.throttled))
			log_knobs(gv, &k,
				  before != gv->g.mode ? (gv->g.mode == GOV_BOOST ? "memory arriving" : "converged")
						       : (gv->g.throttled ? "over the CPU budget" : "within the CPU budget"));
	}
}

/* Reload the node state: start or stop governing, boost for new
 * containers. */
static void refresh(struct governor *gv)
{
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	bool managed;
	size_t fresh;

	if (sp_state_load(gv->state_dir, &st, &err) < 0) {
		gov_log(LOG_ERR, "%s", sp_error_msg(err));
		return;
	}
	managed = state_managed(gv, &st);
	fresh = seen_update(gv, &st);
	gv->enabled = sp_state_enabled_count(&st);

	if (!managed) {
		if (gv->governing)
			gov_log(LOG_INFO, "ksmd released by samepage; not governing");
		/* The hook's ksmd_release() put back every recorded knob. */
		ksmd_gov_forget(&gv->undo);
		gv->governing = false;
		gv->stood_down = false;
		gv->have_applied = false;
		gv->was_managed = false;
		gov_init(&gv->g, &gv->g.p);
		return;
	}
	if (gv->stood_down && gv->was_managed)
		return;
	gv->was_managed = true;
	if (!gv->governing) {
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
		return;
	}
	if (fresh > 0) {
		struct gov_knobs k;

		gov_event(&gv->g, now_mono(), &k);
		if (apply_knobs(gv, &k, false) == 0)
			log_knobs(gv, &k, "container started");
	}
}

/* ksmd's priority follows the mode: governor.boost_nice while boosting
 * (the kernel runs ksmd at nice 5, and on a busy node that leaves a boost
 * of pages_to_scan waiting for CPU), what it was otherwise.  The CPU
 * budget still bounds what ksmd uses; the priority only decides how soon
 * it gets it.  A nice value someone else set meanwhile is theirs. */
static void apply_nice(struct governor *gv)
{
	_cleanup_error_ sp_error_t err = NULL;
	bool want = gv->governing && gv->g.mode == GOV_BOOST;
	int cur;

	if (want == gv->nice_raised || gv->nice_failed)
		return;
	if (ksmd_nice_get(gv->ksmd_pid, &cur, &err) < 0) {
		gov_log(LOG_WARNING, "%s", sp_error_msg(err));
		gv->nice_failed = true;
		return;
	}
	if (want) {
		if (cur <= gv->cfg.governor.boost_nice)
			return;
		if (ksmd_nice_set(gv->ksmd_pid, gv->cfg.governor.boost_nice, &err) < 0) {
			gov_log(LOG_WARNING, "ksmd priority not raised: %s", sp_error_msg(err));
			gv->nice_failed = true;
			return;
		}
		gv->nice_orig = cur;
		gv->nice_raised = true;
		return;
	}
	if (cur == gv->cfg.governor.boost_nice && ksmd_nice_set(gv->ksmd_pid, gv->nice_orig, &err) < 0)
		gov_log(LOG_WARNING, "ksmd priority not restored: %s", sp_error_msg(err));
	gv->nice_raised = false;
}

static void shutdown_restore(struct governor *gv)
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
		gov_log(LOG_ERR, "restore ksmd: %s", sp_error_msg(err));
		return;
	}
	ret = ksmd_gov_restore(&gv->undo, &st, &err);
	if (ret < 0)
		gov_log(LOG_ERR, "restore ksmd: %s", sp_error_msg(err));
	else
		gov_log(LOG_INFO, "stopped; restored %d ksmd knob%s", ret, ret == 1 ? "" : "s");
	sp_error_free(&err);
	if (sp_state_save(gv->state_dir, &st, &err) < 0)
		gov_log(LOG_ERR, "%s", sp_error_msg(err));
}

static int setup_fds(struct governor *gv, int *ino, int *sig)
{
	_cleanup_error_ sp_error_t err = NULL;
	sigset_t mask;

	if (mkdir_p(gv->state_dir, 0755, &err) < 0) {
		sp_cli_error("governor: state dir: %s", sp_error_msg(err));
		return -1;
	}
	*ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (*ino < 0 || inotify_add_watch(*ino, gv->state_dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) < 0) {
		sp_cli_error("governor: inotify on `%s`: %s", gv->state_dir, strerror(errno));
		return -1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	*sig = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (*sig < 0) {
		sp_cli_error("governor: signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Drain inotify; true when state.json changed. */
static bool state_changed(int ino)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t n;

	while ((n = read(ino, buf, sizeof(buf))) > 0) {
		char *p = buf;

		while (p < buf + n) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->len && strcmp(ev->name, SP_STATE_FILE) == 0)
				changed = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return changed;
}

static int run(struct governor *gv)
{
	_cleanup_close_ int ino = -EBADF, sig = -EBADF;
	bool boosted = false;

	if (setup_fds(gv, &ino, &sig) < 0)
		return 1;
	refresh(gv);
	schedule(gv);
	apply_nice(gv);
	for (;;) {
		struct pollfd fds[2] = { { .fd = ino, .events = POLLIN }, { .fd = sig, .events = POLLIN } };
		int timeout = -1, r;

		if (gv->once) {
			if (gv->g.mode == GOV_BOOST)
				boosted = true;
			if (!gv->governing || (boosted && gv->g.mode == GOV_IDLE) || (!boosted && gv->enabled == 0)) {
				gov_log(LOG_INFO, "%s", gv->governing ? "converged" : "not governing ksmd");
				shutdown_restore(gv);
				return 0;
			}
		}
		if (gv->next_sample >= 0) {
			double d = gv->next_sample - now_mono();

			timeout = d <= 0 ? 0 : (int)(d * 1000) + 1;
		}
		r = poll(fds, 2, timeout);
		if (r < 0 && errno != EINTR) {
			gov_log(LOG_ERR, "poll: %s", strerror(errno));
			shutdown_restore(gv);
			return 1;
		}
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sig, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP)
					continue;
				shutdown_restore(gv);
				return 0;
			}
		}
		if ((fds[0].revents & POLLIN) && state_changed(ino)) {
			refresh(gv);
			schedule(gv);
		}
		if (gv->next_sample >= 0 && now_mono() >= gv->next_sample) {
			sample_and_decide(gv);
			schedule(gv);
		}
		apply_nice(gv);
	}
}

int verb_governor(int argc, char **argv, const struct sp_global_opts *g)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "once", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_error_ sp_error_t err = NULL;
	struct governor gv = { 0 };
	struct gov_params params;
	int c, ret;

	while ((c = getopt_long(argc, argv, "f1h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			gv.foreground = true;
			break;
		case '1':
			gv.once = true;
			break;
		case 'h':
			governor_usage(stdout);
			return 0;
		default:
			governor_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		sp_cli_error("governor: unexpected argument `%s`", argv[optind]);
		return 2;
	}
	gv.state_dir = sp_state_dir(g->state_dir);
	trace = getenv("SAMEPAGE_GOVERNOR_TRACE") && strcmp(getenv("SAMEPAGE_GOVERNOR_TRACE"), "1") == 0;
	if (sp_config_load(sp_config_path(g->config), &gv.cfg, &err) < 0) {
		sp_cli_error("governor: %s", sp_error_msg(err));
		return 1;
	}
	if (!ksm_knob_exists("run")) {
		sp_cli_error("governor: %s/run missing: this kernel has no KSM", ksm_sysfs_dir());
		return 1;
	}
	ret = ksmd_find_pid(&err);
	if (ret < 0) {
		sp_cli_error("governor: %s", sp_error_msg(err));
		return 1;
	}
	gv.ksmd_pid = ret;
	gov_params_from_config(&params, &gv.cfg.governor);
	gov_init(&gv.g, &params);
	gv.next_sample = -1;

	if (!gv.foreground && !gv.once) {
		/* nochdir: a relative --state-dir keeps working */
		if (daemon(1, 0) < 0) {
			sp_cli_error("governor: daemon: %s", strerror(errno));
			return 1;
		}
		openlog("samepage-governor", LOG_PID, LOG_DAEMON);
		use_syslog = true;
	}
	gov_log(LOG_INFO, "watching %s (budget %.0f%% of a core over %u s, ksmd pid %d)", gv.state_dir,
		gv.cfg.governor.cpu_budget * 100, gv.cfg.governor.window_secs, (int)gv.ksmd_pid);
	ret = run(&gv);
	seen_free(&gv);
	return ret;
}
