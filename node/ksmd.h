/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Who runs ksmd.  When the first samepage container is enabled and ksmd is
 * off (`run` = 0), samepage may turn it on (config `manage_ksmd`), recording
 * each knob's old and new value in the node state; when the last samepage
 * container is gone it puts back every knob that still holds samepage's
 * value.  A knob someone else changed meanwhile is theirs and is left alone;
 * a ksmd someone else turned on is never touched.
 */
#ifndef SP_KSMD_H
#define SP_KSMD_H

#include "node/config.h"
#include "node/state.h"

/* The `set` value of a knob recorded because samepage's advisor owns it
 * (pages_to_scan): it is put back together with the advisor. */
#define KSMD_SET_BY_ADVISOR "(advisor)"

/* Returns 1 when samepage turned ksmd on now, 0 when nothing was needed
 * (already on, already managed, or not allowed). */
int ksmd_take(struct sp_state *st, const struct sp_config *cfg, sp_error_t *err);

/* Put back what samepage changed.  Returns the number of knobs restored. */
int ksmd_release(struct sp_state *st, sp_error_t *err);

/* Set a knob and record it in st (used by the governor too: the first
 * recorded value of a knob is the one put back). */
int ksmd_set_knob(struct sp_state *st, const char *name, const char *value, sp_error_t *err);

#endif
