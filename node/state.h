/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Node state in the state dir (default /run/samepage): which containers
 * samepage enabled (or refused), in which domain, with pid and start time,
 * and what samepage changed in ksmd's knobs so it can be put back.
 *
 * Writers hold an exclusive flock on <dir>/lock for load-modify-save, taken
 * with a deadline (sp_state_open_timed), never across a ptrace injection:
 * the admission layer records an intent under the lock, injects without
 * it, and confirms under the lock again.  Saves go through
 * write_file_atomic (random O_EXCL temporary, fsync, rename), so readers
 * (status, metrics, the governor's inotify watch on <dir>) never see a torn
 * file without locking.  The dir is 0700 and ours (dir_check_private);
 * state.json is 0600.
 *
 * An entry is one process: the id (a container's OCI id, "cgroup:<path>"
 * or "pid:<n>" for `samepage enable`) *and* its pid and start time.  A
 * second container that reuses an id is a second entry; forgetting a
 * container removes only the entry whose process is gone.
 *
 *   <dir>/state.json:
 *   { "version": 1,
 *     "containers": [ { "id": "c1", "domain": "team-a", "pid": 4121,
 *                       "start_time": 123456, "enabled": true,
 *                       "intent": false, "owner_pid": 0, "owner_start": 0,
 *                       "backend": "stock", "cgroup": "/sys/fs/...",
 *                       "since": 1763778000, "reason": "..." } ],
 *     "kernel_domains": { "next": 3, "ids": { "k8s/team-a": 1, "k8s/team-b": 2 } },
 *     "ksmd": { "managed": true,
 *               "knobs": [ { "name": "run", "saved": "0", "set": "1" } ] },
 *     "recovered": { "at": 1763778000, "what": "..." } }
 *
 * Recovery (writers only, under the lock): a state.json that cannot be
 * parsed (corrupt, truncated, empty, larger than 16 MiB) is renamed to
 * state.json.broken-<unix time> and the state is rebuilt from
 * state.json.prev (the file as it was before the last save) where that
 * parses, keeping only what the node still shows: live processes with KSM
 * on, knobs that still hold the value samepage set.  Otherwise the state
 * starts empty.  A missing dir is recreated.  Either way `recovered` says
 * what happened (doctor reports it) until the node has nothing recorded.
 */
#ifndef SP_STATE_H
#define SP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"
#include "cgroupfs/cgroup.h"

#define SP_STATE_FILE "state.json"
#define SP_STATE_LOCK "lock"
#define SP_STATE_PREV "state.json.prev"
#define SP_STATE_BROKEN "state.json.broken-" /* + unix time */
#define SP_STATE_MAX_KNOBS 8
#define SP_STATE_MAX_MEMBERS 256

/* A process known to belong to an `enable --pid` entry. */
struct sp_member {
	pid_t pid;
	unsigned long long start_time;
};

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
	/* An intent: recorded before KSM is switched on, by the process
	 * owner_pid (started at owner_start).  Confirmed (intent false) or
	 * turned into a refusal by that process; when it died before it could,
	 * prune resolves the entry from what the process really has. */
	bool intent;
	pid_t owner_pid;
	unsigned long long owner_start;
	/* `samepage enable --pid` ("pid:<n>"): the session of the process
	 * when it was enabled, and the processes last seen to belong to the
	 * entry (see sp_lineage_members). */
	pid_t sid;
	unsigned long long enabled_ticks; /* when, in start-time units (clock ticks since boot) */
	struct sp_member *members;
	size_t n_members;
	/* native backend: the kernel domain id written to the cgroup's
	 * ksm.domain (0: nothing written) */
	uint64_t kdomain;
};

struct sp_knob_change {
	char name[32];
	char saved[64];
	char set[64];
};

/* A samepage domain and the kernel domain id it got (node/domain-kernel.h). */
struct sp_kdomain {
	char *domain;
	uint64_t id;
};

struct sp_state {
	struct sp_container *containers;
	size_t n_containers;
	struct sp_kdomain *kdomains;   /* allocated once per domain, kept while the node runs */
	size_t n_kdomains;
	uint64_t kdomain_next;         /* the next id to hand out; ids are never reused */
	bool ksmd_managed;
	struct sp_knob_change knobs[SP_STATE_MAX_KNOBS];
	size_t n_knobs;
	char *recovered;               /* what recovery did, or NULL */
	int64_t recovered_at;
	bool recovered_now;            /* by this sp_state_open: the caller warns */
};

/* Default deadline for taking the lock (config `lock_timeout_ms`). */
#define SP_STATE_LOCK_TIMEOUT_MS 3000

/* Create dir (0700) if needed, refuse it when it is not ours
 * (dir_check_private) and take the exclusive lock, waiting at most
 * timeout_ms: -ETIMEDOUT then, with a message naming the lock file.
 * Returns the lock fd (close it to unlock). */
int sp_state_lock_timed(const char *dir, unsigned int timeout_ms, sp_error_t *err);
int sp_state_lock(const char *dir, sp_error_t *err); /* SP_STATE_LOCK_TIMEOUT_MS */

/* Lock, then load, recovering a broken state (see above; st->recovered_now
 * says it happened): the start of every load-modify-save.  Returns the
 * lock fd (close it after saving); on failure nothing is held. */
int sp_state_open_timed(const char *dir, unsigned int timeout_ms, struct sp_state *st, sp_error_t *err);
int sp_state_open(const char *dir, struct sp_state *st, sp_error_t *err);

/* Load <dir>/state.json without the lock (readers); a missing file is an
 * empty state, a broken one an error. */
int sp_state_load(const char *dir, struct sp_state *st, sp_error_t *err);

/* Parse from a string (for tests and readers of other sources). */
int sp_state_parse(const char *json, const char *what, struct sp_state *st, sp_error_t *err);

/* Save atomically (caller holds the lock). */
int sp_state_save(const char *dir, const struct sp_state *st, sp_error_t *err);

/* Serialize; caller frees. */
char *sp_state_to_json(const struct sp_state *st);

void sp_state_free(struct sp_state *st);

/* The first entry with this id (any process), or NULL. */
struct sp_container *sp_state_find(struct sp_state *st, const char *id);

/* The entry of this id and process (pid and start time), or NULL. */
struct sp_container *sp_state_find_entry(struct sp_state *st, const char *id, pid_t pid,
					 unsigned long long start_time);

/* Add a copy of c, replacing the entry of the same id and process. */
int sp_state_add(struct sp_state *st, const struct sp_container *c, sp_error_t *err);

/* Remove every entry of this id; returns true when something was removed. */
bool sp_state_remove(struct sp_state *st, const char *id);

/* Record domain's kernel id (node/domain-kernel.h allocates); -ENOMEM. */
int sp_state_kdomain_add(struct sp_state *st, const char *domain, uint64_t id);

/* Whether any enabled entry belongs to domain. */
bool sp_state_domain_enabled(const struct sp_state *st, const char *domain);

/* Remove the entry of this id and process; true when there was one. */
bool sp_state_remove_entry(struct sp_state *st, const char *id, pid_t pid, unsigned long long start_time);

struct sp_proc_table;

/* What prune asks of the node; tests inject their own. */
struct sp_probe {
	/* pid exists, is not a zombie and started at start_time */
	bool (*alive)(pid_t pid, unsigned long long start_time);
	/* 1: the process has KSM on (ksm_merge_any), 0: off, <0: cannot tell */
	int (*pid_ksm)(pid_t pid);
	/* a live process of the cgroup (or below) has KSM on */
	bool (*cgroup_ksm)(const char *cgroup, bool native);
	/* the node's processes, for `enable --pid` entries; NULL: such an
	 * entry lives as long as its recorded process */
	int (*proc_table)(struct sp_proc_table *t);
};

/* The node's own answers: /proc/<pid>/stat, /proc/<pid>/ksm_stat and the
 * cgroup's processes (node/state-recover.c, with the lock and recovery). */
extern const struct sp_probe sp_probe_proc;

/* Resolve and drop what is over: an entry whose process is gone; an
 * `enable` cgroup entry ("cgroup:...") while no process of the cgroup has
 * KSM any more (it is not tied to one representative process); an
 * `enable --pid` entry while no process of its lineage has KSM (its
 * members are refreshed; its pid and start time become those of its
 * oldest member with KSM once the enabled process is gone); an intent
 * whose owner is gone: confirmed when its process has KSM on, else kept as
 * refused ("switching KSM on did not finish").  probe NULL uses /proc.
 * Returns the number of entries dropped. */
size_t sp_state_prune(struct sp_state *st, const struct sp_probe *probe);

/*
 * The lineage of an `enable --pid` entry (node/state-lineage.c).  The
 * prctl samepage injects sets MMF_VM_MERGE_ANY on the process's mm, which
 * every child forked later inherits, so the entry is what it enabled, not
 * one pid.  A process of the node belongs to the entry when
 *   1. it is one of the members recorded (pid and start time), or
 *   2. its parent belongs to it (a child forked after enabling; the parent
 *      is alive, so its pid names it), or
 *   3. it has KSM on, started no earlier than the enabled process, and is
 *      in the session recorded at enable time while that session is proven
 *      the same one: a process of it is alive that existed when the entry
 *      was made (started before enabled_ticks), or a recorded member
 *      is alive in it.  A process cannot join a session other than by
 *      being forked into it or creating its own, and the kernel does not
 *      hand a session's number out again while a process is in it; so such
 *      a process has held the number since, and a child orphaned when its
 *      parent exited is still found while nothing of a later session that
 *      reuses the number is.
 * Left open: a session whose every process started after the entry was
 * made (its leader was the enabled process, and it exited), or a session
 * /proc shows as 0 (its leader is outside samepage's pid namespace, or it
 * is the session of pid 1 that services started without setsid() share),
 * with no member recorded since the fork: its orphans are not found, and
 * show as unattributed (visible, never silently trusted).  Prune records members
 * on every admission, so the window is the time between two of them.
 * Other processes of the same session that opted in themselves count too
 * (the same login or service as the process the admin enabled).  Prune
 * records the members it finds (at most SP_STATE_MAX_MEMBERS, the ones
 * with KSM first), so the chain survives the exit of any one of them; the
 * entry lives while any member has KSM on.
 */
struct sp_proc_view {
	pid_t pid, ppid, sid;
	unsigned long long start_time;
	bool ksm;                      /* merge_any, mergeable VMAs or merging pages */
};

struct sp_proc_table {
	struct sp_proc_view *procs;
	size_t n;
};

/* Every process of /proc (kernel threads and zombies left out). */
int sp_proc_table_read(struct sp_proc_table *t, sp_error_t *err);
void sp_proc_table_free(struct sp_proc_table *t);

/* The processes of entry c in t (malloc'd array; those with KSM on
 * first, then by start time).  Returns how many of them have KSM on;
 * -ENOMEM. */
int sp_lineage_members(const struct sp_container *c, const struct sp_proc_table *t, struct sp_member **out,
		       size_t *n_out);

/* Set up the lineage of an entry about to be recorded for pid: its session
 * and the process itself as the first member. */
int sp_lineage_start(struct sp_container *c, sp_error_t *err);

/* Readers (status, metrics, unattributed): the live processes of a pid:
 * entry from /proc now, into l (sorted).  Returns how many have KSM on. */
int sp_lineage_pids(const struct sp_container *c, struct pid_list *l, sp_error_t *err);

/* An `enable --pid` entry. */
bool sp_state_is_pid_entry(const struct sp_container *c);

/* Number of enabled containers. */
size_t sp_state_enabled_count(const struct sp_state *st);

#endif
