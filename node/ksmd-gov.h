/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the ksmd governor needs from the kernel: ksmd's pid and CPU time,
 * its progress counters, and knob changes that can be undone.
 *
 * Every knob the governor changes goes through ksmd_set_knob(), so it is
 * recorded in the node state and the hook's last poststop (ksmd_release)
 * puts the original value back even if the governor died.  The governor
 * also keeps its own undo list: when it stops while samepage containers
 * still run, it hands ksmd back as the hook left it (for example with the
 * advisor on again), not as it was before samepage.
 */
#ifndef SP_KSMD_GOV_H
#define SP_KSMD_GOV_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "node/governor.h"
#include "node/state.h"

/* pid of the ksmd kernel thread: comm `ksmd`, parent kthreadd (pid 2). */
int ksmd_find_pid(sp_error_t *err);

/* utime + stime of pid from /proc/<pid>/stat, in seconds. */
int ksmd_cpu_seconds(pid_t pid, double *secs, sp_error_t *err);

/* Parse the CPU seconds out of the text of a /proc/<pid>/stat line. */
int ksmd_parse_stat_cpu(const char *line, long ticks_per_sec, double *secs);

/* ksmd's nice value (the kernel starts it at 5), and setting it: a ksmd
 * at nice 5 on a busy node gets a fraction of a core, so a boost of
 * pages_to_scan alone does not make it merge faster. */
int ksmd_nice_get(pid_t pid, int *nice, sp_error_t *err);
int ksmd_nice_set(pid_t pid, int nice, sp_error_t *err);

/* The counters of struct gov_sample from the KSM sysfs directory (t and
 * cpu are left alone); pages_scanned and smart_scan where the kernel has
 * them. */
int ksmd_read_counters(struct gov_sample *s, sp_error_t *err);

struct ksmd_gov_change {
	char name[32];
	char before[64];   /* value before the governor's first change */
	char set[64];      /* the governor's latest value */
	bool had_record;   /* the state recorded this knob before the governor */
};

struct ksmd_gov_undo {
	struct ksmd_gov_change c[SP_STATE_MAX_KNOBS];
	size_t n;
};

/* Remember a change without making it (a restarted governor adopting the
 * records of its previous run). */
int ksmd_gov_note(struct ksmd_gov_undo *u, const char *name, const char *before, const char *set, bool had_record);

/* Set a knob through ksmd_set_knob(st, ...) and remember it in u. */
int ksmd_gov_set(struct ksmd_gov_undo *u, struct sp_state *st, const char *name, const char *value, sp_error_t *err);

/* Undo every change in reverse order where the knob still holds the
 * governor's value, and fix st's records: one the governor created is
 * dropped, one that existed before gets back the value it had.  A knob
 * someone else changed meanwhile is left alone.  Empties u; returns the
 * number of knobs written. */
int ksmd_gov_restore(struct ksmd_gov_undo *u, struct sp_state *st, sp_error_t *err);

/* Forget every change (the hook already restored ksmd). */
void ksmd_gov_forget(struct ksmd_gov_undo *u);

#endif
