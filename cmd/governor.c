/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage governor: a small daemon that runs ksmd fast when a KSM-enabled
 * container starts and slow once its duplicates are merged, within a CPU
 * budget.  The decisions are node/governor.c's and the actuator (sampling
 * ksmd, applying and putting back its knobs) is node/ksmd-gov.c's; this
 * file parses the options, watches the node state (inotify on the state
 * dir: the hook saves state.json by rename) and the signals, and logs.
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
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "node/config.h"
#include "node/confine-policy.h"
#include "node/ksmd-gov.h"
#include "node/state.h"
#include "cmd/verbs.h"

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

/* SAMEPAGE_GOVERNOR_TRACE=1: one stderr line per sample, for tuning. */
static void trace_sample(const struct ksmd_gov *gv, const struct gov_sample *s, const struct gov_knobs *k)
{
	fprintf(stderr,
		"samepage governor: trace t=%.3f cpu=%.2f shared=%llu sharing=%llu unshared=%llu volatile=%llu scans=%llu scanned=%llu -> %s%s %u/%u\n",
		s->t, s->cpu, (unsigned long long)s->pages_shared, (unsigned long long)s->pages_sharing,
		(unsigned long long)s->pages_unshared, (unsigned long long)s->pages_volatile,
		(unsigned long long)s->full_scans, (unsigned long long)s->pages_scanned, gov_mode_name(gv->g.mode),
		gv->g.throttled ? " throttled" : "", k->pages_to_scan, k->sleep_ms);
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

static int setup_fds(const char *state_dir, int *ino, int *sig)
{
	_cleanup_error_ sp_error_t err = NULL;
	sigset_t mask;

	if (mkdir_p(state_dir, 0755, &err) < 0) {
		sp_cli_error("governor: state dir: %s", sp_error_msg(err));
		return -1;
	}
	*ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (*ino < 0 || inotify_add_watch(*ino, state_dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) < 0) {
		sp_cli_error("governor: inotify on `%s`: %s", state_dir, strerror(errno));
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

/* SIGTERM or SIGINT arrived (SIGHUP is ignored). */
static bool stop_signalled(int sig)
{
	struct signalfd_siginfo si;

	while (read(sig, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo != SIGHUP)
			return true;
	return false;
}

/* --once: done when not governing, or once a boost has decayed (or no
 * container needed one). */
static bool once_done(const struct ksmd_gov *gv, bool *boosted)
{
	if (gv->g.mode == GOV_BOOST)
		*boosted = true;
	if (!gv->governing || (*boosted && gv->g.mode == GOV_IDLE) || (!*boosted && gv->enabled == 0)) {
		gov_log(LOG_INFO, "%s", gv->governing ? "converged" : "not governing ksmd");
		return true;
	}
	return false;
}

static int run(struct ksmd_gov *gv, bool once)
{
	_cleanup_close_ int ino = -EBADF, sig = -EBADF;
	bool boosted = false;

	if (setup_fds(gv->state_dir, &ino, &sig) < 0)
		return 1;
	ksmd_gov_refresh(gv);
	for (;;) {
		struct pollfd fds[2] = { { .fd = ino, .events = POLLIN }, { .fd = sig, .events = POLLIN } };
		int r;

		if (once && once_done(gv, &boosted))
			break;
		r = poll(fds, 2, ksmd_gov_timeout_ms(gv));
		if (r < 0 && errno != EINTR) {
			gov_log(LOG_ERR, "poll: %s", strerror(errno));
			ksmd_gov_stop(gv);
			return 1;
		}
		if ((fds[1].revents & POLLIN) && stop_signalled(sig))
			break;
		if ((fds[0].revents & POLLIN) && state_changed(ino))
			ksmd_gov_refresh(gv);
		ksmd_gov_tick(gv);
	}
	ksmd_gov_stop(gv);
	return 0;
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
	const char *trace = getenv("SAMEPAGE_GOVERNOR_TRACE");
	struct ksmd_gov gv;
	struct sp_config cfg;
	bool foreground = false, once = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "f1h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = true;
			break;
		case '1':
			once = true;
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
	if (sp_config_load(sp_config_path(g->config), &cfg, &err) < 0 ||
	    ksmd_gov_init(&gv, sp_state_dir(g->state_dir), &cfg, gov_log, &err) < 0) {
		sp_cli_error("governor: %s", sp_error_msg(err));
		return 1;
	}
	if (trace && strcmp(trace, "1") == 0)
		gv.trace = trace_sample;
	if (!foreground && !once) {
		/* nochdir: a relative --state-dir keeps working */
		if (daemon(1, 0) < 0) {
			sp_cli_error("governor: daemon: %s", strerror(errno));
			return 1;
		}
		openlog("samepage-governor", LOG_PID, LOG_DAEMON);
		use_syslog = true;
	}
	if (confine_apply(&sp_policy_governor, &err) < 0) {
		gov_log(LOG_WARNING, "%s", sp_error_msg(err));
		sp_error_free(&err);
	}
	gov_log(LOG_INFO, "watching %s (budget %.0f%% of a core over %u s, ksmd pid %d)", gv.state_dir,
		cfg.governor.cpu_budget * 100, cfg.governor.window_secs, (int)gv.ksmd_pid);
	ret = run(&gv, once);
	ksmd_gov_free(&gv);
	return ret;
}
