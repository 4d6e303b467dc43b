/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The governor's actuator: it samples ksmd (its pid, CPU time and progress
 * counters), feeds node/governor.c's state machine, and applies the knobs
 * it answers with under the node state's lock, through node/ksmd.h's undo
 * list, so every change is recorded and can be put back.
 *
 * It governs only a ksmd samepage turned on (the node state's
 * ksmd.managed) or, with `governor.manage: true`, any ksmd.  The scan-time
 * advisor is switched off while it governs: the kernel refuses writes to
 * pages_to_scan while the advisor is on, and the advisor aims at a fixed
 * full-scan time instead of reacting to containers starting.  A knob
 * someone else changes makes it step aside until samepage takes ksmd
 * again.  ksmd's nice value follows the mode (governor.boost_nice while
 * boosting).
 *
 * The program (cmd/governor.c) owns the loop: it calls ksmd_gov_refresh()
 * when the node state changed, ksmd_gov_tick() when ksmd_gov_timeout_ms()
 * has passed, and ksmd_gov_stop() on its way out.  The actuator prints
 * nothing: it reports through the program's log callback.
 */
#ifndef SP_KSMD_GOV_H
#define SP_KSMD_GOV_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "node/config.h"
#include "node/governor.h"
#include "node/ksmd.h"

/* pid of the ksmd kernel thread: comm `ksmd`, parent kthreadd (pid 2). */
int ksmd_find_pid(sp_error_t *err);

/* utime + stime of pid from /proc/<pid>/stat, in seconds. */
int ksmd_cpu_seconds(pid_t pid, double *secs, sp_error_t *err);

/* ksmd's nice value (the kernel starts it at 5), and setting it: a ksmd
 * at nice 5 on a busy node gets a fraction of a core, so a boost of
 * pages_to_scan alone does not make it merge faster. */
int ksmd_nice_get(pid_t pid, int *nice, sp_error_t *err);
int ksmd_nice_set(pid_t pid, int nice, sp_error_t *err);

/* The counters of struct gov_sample from the KSM sysfs directory (t and
 * cpu are left alone); pages_scanned and smart_scan where the kernel has
 * them. */
int ksmd_read_counters(struct gov_sample *s, sp_error_t *err);

/* prio: syslog's LOG_ERR, LOG_WARNING, LOG_INFO. */
typedef void (*ksmd_gov_log_fn)(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct ksmd_gov;
/* Called after every sample with the knobs decided (tracing), or NULL. */
typedef void (*ksmd_gov_trace_fn)(const struct ksmd_gov *gv, const struct gov_sample *s, const struct gov_knobs *k);

struct ksmd_gov_seen {
	char *id;
	int64_t since;
};

struct ksmd_gov {
	/* set by ksmd_gov_init() */
	const char *state_dir;
	struct sp_config cfg;
	pid_t ksmd_pid;
	ksmd_gov_log_fn log;
	ksmd_gov_trace_fn trace;     /* the program may set it after init */
	/* read by the program */
	struct gov g;                /* the state machine: g.mode */
	bool governing;              /* knobs are ours to set */
	size_t enabled;              /* enabled containers in the node state */
	/* the actuator's own */
	struct ksmd_undo undo;
	bool stood_down;             /* someone else changed a knob; wait for the next take */
	bool was_managed;
	struct ksmd_gov_seen *seen;
	size_t n_seen;
	struct gov_knobs applied;
	bool have_applied;
	char smart_orig[8];          /* smart_scan when the governor took ksmd ("" when absent) */
	int nice_orig;               /* ksmd's nice before the boost raised its priority */
	bool nice_raised;
	bool nice_failed;            /* setpriority refused (no CAP_SYS_NICE): stop trying */
	double next_sample;          /* monotonic seconds, < 0: none due */
};

/* Find ksmd (fails without KSM) and set up the state machine from cfg. */
int ksmd_gov_init(struct ksmd_gov *gv, const char *state_dir, const struct sp_config *cfg, ksmd_gov_log_fn log,
		  sp_error_t *err);

/* The node state changed: start or stop governing, boost for new
 * containers, set ksmd's priority. */
void ksmd_gov_refresh(struct ksmd_gov *gv);

/* Milliseconds until ksmd_gov_tick() is due, -1 when nothing is. */
int ksmd_gov_timeout_ms(const struct ksmd_gov *gv);

/* Take the sample that is due (if one is), decide, apply. */
void ksmd_gov_tick(struct ksmd_gov *gv);

/* Stop governing: ksmd's priority and every knob the governor changed
 * that still holds its value go back. */
void ksmd_gov_stop(struct ksmd_gov *gv);

void ksmd_gov_free(struct ksmd_gov *gv);

#endif
