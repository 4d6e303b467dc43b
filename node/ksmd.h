/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one owner of ksmd's knobs: which ones samepage changes, what it took,
 * what the governor tuned, and the order they go back in.
 *
 * Who runs ksmd.  When the first samepage container is enabled and ksmd is
 * off (`run` = 0), samepage may turn it on (config `manage_ksmd`), with the
 * advisor (`advisor_mode`) and smart scan off (`smart_scan`), recording
 * each knob's old and new value in the node state; when the last samepage
 * container is gone it puts back every knob that still holds samepage's
 * value.  A knob someone else changed meanwhile is theirs and is left alone;
 * a ksmd someone else turned on is never touched.
 *
 * The governor changes knobs through ksmd_undo_set(): the change is recorded
 * in the node state too (so the hook's last poststop, ksmd_release(), puts
 * the original value back even if the governor died) and in the governor's
 * own undo list (so a governor that stops while samepage containers still
 * run hands ksmd back as the hook left it, e.g. with the advisor on again).
 *
 * The order knobs go back in, for every restore here and for the shell
 * helper of the tests (test/ksm-knobs.bash, checked by test-ksmd.c):
 *
 *   advisor_mode   first when it goes back to `none`: the kernel refuses
 *                  pages_to_scan while an advisor runs, and resets
 *                  pages_to_scan whenever the mode changes;
 *   pages_to_scan  the scan rate before `run`: ksmd holds its mutex for a
 *                  whole batch, and a write to `run` waits for it;
 *   sleep_millisecs, smart_scan, run;
 *   advisor_mode   last when it goes back to a mode: from then on the
 *                  advisor owns pages_to_scan, which therefore goes back
 *                  with the advisor (also after the governor tuned it).
 */
#ifndef SP_KSMD_H
#define SP_KSMD_H

#include <stdbool.h>

#include "node/config.h"
#include "node/state.h"

/* The knobs samepage may change, in the order they go back (advisor_mode
 * is listed last; it moves first when it goes back to `none`).
 * NULL-terminated. */
extern const char *const ksmd_knobs[];

/* The `set` value of a knob recorded because samepage's advisor owns it
 * (pages_to_scan): it is put back together with the advisor. */
#define KSMD_SET_BY_ADVISOR "(advisor)"

/* Returns 1 when samepage turned ksmd on now, 0 when nothing was needed
 * (already on, already managed, or not allowed). */
int ksmd_take(struct sp_state *st, const struct sp_config *cfg, sp_error_t *err);

/* ksmd_take, write-ahead: the knob changes are recorded in st and
 * commit(st, arg) (the caller's state save) runs before any knob is
 * written; a failed commit writes nothing. */
typedef int (*ksmd_commit_fn)(struct sp_state *st, void *arg, sp_error_t *err);
int ksmd_take_logged(struct sp_state *st, const struct sp_config *cfg, ksmd_commit_fn commit, void *arg,
		     sp_error_t *err);

/* The value a knob had before samepage first changed it (its record in
 * st), or NULL when samepage did not change it. */
const char *ksmd_saved(const struct sp_state *st, const char *name);

/* Put back what samepage changed.  Returns the number of knobs restored. */
int ksmd_release(struct sp_state *st, sp_error_t *err);

/* Set a knob and record it in st: the first recorded value of a knob is
 * the one put back. */
int ksmd_set_knob(struct sp_state *st, const char *name, const char *value, sp_error_t *err);

/* What the governor tuned: its own undo list, on top of st's records. */
struct ksmd_undo_change {
	char name[32];
	char before[64];   /* value to put back: before the governor's first change */
	char set[64];      /* the governor's latest value */
	char rec_set[64];  /* st's record `set` before the governor ("": no record) */
};

struct ksmd_undo {
	struct ksmd_undo_change c[SP_STATE_MAX_KNOBS];
	size_t n;
};

/* Remember a change without making it.  rec_set: the `set` of the record
 * st had before the governor, NULL when there was none. */
int ksmd_undo_note(struct ksmd_undo *u, const char *name, const char *before, const char *set, const char *rec_set);

/* Adopt what an earlier governor run recorded in st (it may have been
 * killed): sleep_millisecs is only recorded by the governor; smart_scan
 * by the governor, or by the hook (config `smart_scan: off`), whose `0`
 * is what goes back when the governor stops; pages_to_scan by the
 * governor or as the advisor's; the hook records advisor_mode with the
 * configured mode, which the governor's `none` replaced. */
void ksmd_undo_adopt(struct ksmd_undo *u, const struct sp_state *st, const struct sp_config *cfg);

/* Set a knob through ksmd_set_knob(st, ...) and remember it in u. */
int ksmd_undo_set(struct ksmd_undo *u, struct sp_state *st, const char *name, const char *value, sp_error_t *err);

/* The name of a knob in u that no longer holds the governor's value
 * (someone else is tuning ksmd), or NULL. */
const char *ksmd_undo_changed(const struct ksmd_undo *u);

/* Undo every change, in the order above, where the knob still holds the
 * governor's value, and fix st's records: one the governor created is
 * dropped, one that existed before gets back the `set` it had.  A knob
 * someone else changed meanwhile is left alone.  Empties u; returns the
 * number of knobs written. */
int ksmd_undo_restore(struct ksmd_undo *u, struct sp_state *st, sp_error_t *err);

/* Forget every change (the hook already restored ksmd). */
void ksmd_undo_forget(struct ksmd_undo *u);

#endif
