/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Node state in the state dir (default /run/samepage): which containers
 * samepage enabled (or refused), in which domain, with pid and start time,
 * and what samepage changed in ksmd's knobs so it can be put back.
 *
 * Writers hold an exclusive flock on <dir>/lock for load-modify-save and
 * save by write-to-temp-and-rename, so readers (status, metrics, the
 * governor's inotify watch on <dir>) never see a torn file without locking.
 *
 *   <dir>/state.json:
 *   { "version": 1,
 *     "containers": [ { "id": "c1", "domain": "team-a", "pid": 4121,
 *                       "start_time": 123456, "enabled": true,
 *                       "backend": "stock", "cgroup": "/sys/fs/...",
 *                       "since": 1763778000, "reason": "..." } ],
 *     "ksmd": { "managed": true,
 *               "knobs": [ { "name": "run", "saved": "0", "set": "1" } ] } }
 */
#ifndef SP_STATE_H
#define SP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"

#define SP_STATE_FILE "state.json"
#define SP_STATE_LOCK "lock"
#define SP_STATE_MAX_KNOBS 8

struct sp_container {
	char *id;
	char *domain;
	pid_t pid;
	unsigned long long start_time; /* /proc/<pid>/stat field 22, clock ticks since boot */
	bool enabled;                  /* false: refused, reason says why */
	char *backend;                 /* "stock" or "native" */
	char *cgroup;                  /* cgroup path, or NULL */
	char *reason;
	int64_t since;                 /* unix time the entry was made */
};

struct sp_knob_change {
	char name[32];
	char saved[64];
	char set[64];
};

struct sp_state {
	struct sp_container *containers;
	size_t n_containers;
	bool ksmd_managed;
	struct sp_knob_change knobs[SP_STATE_MAX_KNOBS];
	size_t n_knobs;
};

/* Create dir if needed and take the exclusive lock.  Returns the lock fd
 * (close it to unlock). */
int sp_state_lock(const char *dir, sp_error_t *err);

/* Lock, then load: the start of every load-modify-save.  Returns the lock
 * fd (close it after saving); on failure nothing is held. */
int sp_state_open(const char *dir, struct sp_state *st, sp_error_t *err);

/* Load <dir>/state.json; a missing file is an empty state. */
int sp_state_load(const char *dir, struct sp_state *st, sp_error_t *err);

/* Parse from a string (for tests and readers of other sources). */
int sp_state_parse(const char *json, const char *what, struct sp_state *st, sp_error_t *err);

/* Save atomically (caller holds the lock). */
int sp_state_save(const char *dir, const struct sp_state *st, sp_error_t *err);

/* Serialize; caller frees. */
char *sp_state_to_json(const struct sp_state *st);

void sp_state_free(struct sp_state *st);

struct sp_container *sp_state_find(struct sp_state *st, const char *id);

/* Add a copy of c (replacing an entry with the same id). */
int sp_state_add(struct sp_state *st, const struct sp_container *c, sp_error_t *err);

/* Remove by id; returns true when something was removed. */
bool sp_state_remove(struct sp_state *st, const char *id);

/* Drop entries whose process is gone (pid dead or start time differs).
 * is_alive is injectable for tests; NULL uses /proc.  Returns the number
 * dropped. */
typedef bool (*sp_alive_fn)(pid_t pid, unsigned long long start_time);
size_t sp_state_prune(struct sp_state *st, sp_alive_fn is_alive);

/* Number of enabled containers. */
size_t sp_state_enabled_count(const struct sp_state *st);

#endif
