/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <json-c/json.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "base/json.h"
#include "node/state.h"
#include "host/proc.h"


static void container_free(struct sp_container *c)
{
	free(c->id);
	free(c->domain);
	free(c->backend);
	free(c->cgroup);
	free(c->reason);
	free(c->members);
	memset(c, 0, sizeof(*c));
}

void sp_state_free(struct sp_state *st)
{
	size_t i;

	for (i = 0; i < st->n_containers; i++)
		container_free(&st->containers[i]);
	free(st->containers);
	for (i = 0; i < st->n_kdomains; i++)
		free(st->kdomains[i].domain);
	free(st->kdomains);
	free(st->recovered);
	memset(st, 0, sizeof(*st));
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int copy_container(struct sp_container *dst, const struct sp_container *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->id = strdup(src->id);
	dst->domain = strdup(src->domain ? src->domain : "default");
	dst->backend = dup_or_null(src->backend);
	dst->cgroup = dup_or_null(src->cgroup);
	dst->reason = dup_or_null(src->reason);
	dst->pid = src->pid;
	dst->start_time = src->start_time;
	dst->enabled = src->enabled;
	dst->since = src->since;
	dst->intent = src->intent;
	dst->owner_pid = src->owner_pid;
	dst->owner_start = src->owner_start;
	dst->sid = src->sid;
	dst->enabled_ticks = src->enabled_ticks;
	dst->kdomain = src->kdomain;
	if (src->n_members) {
		dst->members = malloc(src->n_members * sizeof(*dst->members));
		if (!dst->members) {
			container_free(dst);
			return -ENOMEM;
		}
		memcpy(dst->members, src->members, src->n_members * sizeof(*dst->members));
		dst->n_members = src->n_members;
	}
	if (!dst->id || !dst->domain || (src->backend && !dst->backend) || (src->cgroup && !dst->cgroup) ||
	    (src->reason && !dst->reason)) {
		container_free(dst);
		return -ENOMEM;
	}
	return 0;
}

int sp_state_add(struct sp_state *st, const struct sp_container *c, sp_error_t *err)
{
	struct sp_container *n;

	sp_state_remove_entry(st, c->id, c->pid, c->start_time);
	n = realloc(st->containers, (st->n_containers + 1) * sizeof(*n));
	if (!n)
		return sp_error_set(err, ENOMEM, "state: add container `%s`", c->id);
	st->containers = n;
	if (copy_container(&n[st->n_containers], c) < 0)
		return sp_error_set(err, ENOMEM, "state: add container `%s`", c->id);
	st->n_containers++;
	return 0;
}

/* "members": [[pid, start_time], ...]; c->members malloc'd (the caller
 * frees it: parse_container's strings are borrowed, this is not). */
static int parse_members(json_object *o, struct sp_container *c, const char *what, sp_error_t *err)
{
	json_object *arr;
	size_t i, n;

	if (!json_object_object_get_ex(o, "members", &arr) || !json_object_is_type(arr, json_type_array))
		return 0;
	n = json_object_array_length(arr);
	if (n > SP_STATE_MAX_MEMBERS)
		n = SP_STATE_MAX_MEMBERS;
	c->members = calloc(n ? n : 1, sizeof(*c->members));
	if (!c->members)
		return sp_error_set(err, ENOMEM, "%s: members", what);
	for (i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(m, json_type_array) || json_object_array_length(m) != 2)
			continue;
		c->members[c->n_members].pid = (pid_t)json_object_get_int64(json_object_array_get_idx(m, 0));
		c->members[c->n_members].start_time = json_object_get_uint64(json_object_array_get_idx(m, 1));
		c->n_members++;
	}
	return 0;
}

static int parse_container(json_object *o, struct sp_container *c, const char *what, sp_error_t *err)
{
	json_object *v;
	const char *id = get_str(o, "id");

	memset(c, 0, sizeof(*c));
	if (!json_object_is_type(o, json_type_object) || !id)
		return sp_error_set(err, 0, "%s: container entry without `id`", what);
	c->id = (char *)id;
	c->domain = (char *)get_str(o, "domain");
	c->backend = (char *)get_str(o, "backend");
	c->cgroup = (char *)get_str(o, "cgroup");
	c->reason = (char *)get_str(o, "reason");
	if (json_object_object_get_ex(o, "pid", &v))
		c->pid = (pid_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "start_time", &v))
		c->start_time = (unsigned long long)json_object_get_uint64(v);
	if (json_object_object_get_ex(o, "since", &v))
		c->since = json_object_get_int64(v);
	c->enabled = json_object_object_get_ex(o, "enabled", &v) && json_object_get_boolean(v);
	c->intent = json_object_object_get_ex(o, "intent", &v) && json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "owner_pid", &v))
		c->owner_pid = (pid_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "owner_start", &v))
		c->owner_start = (unsigned long long)json_object_get_uint64(v);
	if (json_object_object_get_ex(o, "sid", &v))
		c->sid = (pid_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "enabled_ticks", &v))
		c->enabled_ticks = json_object_get_uint64(v);
	if (json_object_object_get_ex(o, "kdomain", &v))
		c->kdomain = json_object_get_uint64(v);
	return parse_members(o, c, what, err);
}

static void copy_bounded(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

int sp_state_kdomain_add(struct sp_state *st, const char *domain, uint64_t id)
{
	struct sp_kdomain *n = realloc(st->kdomains, (st->n_kdomains + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	st->kdomains = n;
	n[st->n_kdomains].domain = strdup(domain);
	if (!n[st->n_kdomains].domain)
		return -ENOMEM;
	n[st->n_kdomains++].id = id;
	if (id >= st->kdomain_next && id != UINT64_MAX)
		st->kdomain_next = id + 1;
	return 0;
}

static int parse_kdomains(json_object *root, struct sp_state *st, const char *what, sp_error_t *err)
{
	json_object *kd, *ids, *v;

	if (!json_object_object_get_ex(root, "kernel_domains", &kd) || !json_object_is_type(kd, json_type_object))
		return 0;
	if (json_object_object_get_ex(kd, "next", &v))
		st->kdomain_next = json_object_get_uint64(v);
	if (!json_object_object_get_ex(kd, "ids", &ids) || !json_object_is_type(ids, json_type_object))
		return 0;
	json_object_object_foreach(ids, key, val) {
		if (sp_state_kdomain_add(st, key, json_object_get_uint64(val)) < 0)
			return sp_error_set(err, ENOMEM, "%s: kernel_domains", what);
	}
	return 0;
}

static int parse_recovered(json_object *root, struct sp_state *st, const char *what, sp_error_t *err)
{
	json_object *rec, *v;
	const char *text;

	if (!json_object_object_get_ex(root, "recovered", &rec) || !json_object_is_type(rec, json_type_object))
		return 0;
	text = get_str(rec, "what");
	if (json_object_object_get_ex(rec, "at", &v))
		st->recovered_at = json_object_get_int64(v);
	if (text && !(st->recovered = strdup(text))) {
		sp_state_free(st);
		return sp_error_set(err, ENOMEM, "%s: recovered", what);
	}
	return 0;
}

int sp_state_parse(const char *json, const char *what, struct sp_state *st, sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	json_object *arr, *ksmd, *v;
	size_t i;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = sp_json_parse(json, strlen(json), what, &root, err);
	if (ret < 0)
		return ret;
	if (!json_object_is_type(root, json_type_object))
		return sp_error_set(err, 0, "%s: not a JSON object", what);

	if (json_object_object_get_ex(root, "containers", &arr) && json_object_is_type(arr, json_type_array)) {
		for (i = 0; i < json_object_array_length(arr); i++) {
			struct sp_container c;

			ret = parse_container(json_object_array_get_idx(arr, i), &c, what, err);
			if (ret == 0)
				ret = sp_state_add(st, &c, err);
			free(c.members);
			if (ret < 0) {
				sp_state_free(st);
				return ret;
			}
		}
	}
	if (json_object_object_get_ex(root, "ksmd", &ksmd) && json_object_is_type(ksmd, json_type_object)) {
		st->ksmd_managed = json_object_object_get_ex(ksmd, "managed", &v) && json_object_get_boolean(v);
		if (json_object_object_get_ex(ksmd, "knobs", &arr) && json_object_is_type(arr, json_type_array)) {
			for (i = 0; i < json_object_array_length(arr) && st->n_knobs < SP_STATE_MAX_KNOBS; i++) {
				json_object *k = json_object_array_get_idx(arr, i);
				struct sp_knob_change *kc = &st->knobs[st->n_knobs];

				if (!get_str(k, "name"))
					continue;
				copy_bounded(kc->name, sizeof(kc->name), get_str(k, "name"));
				copy_bounded(kc->saved, sizeof(kc->saved), get_str(k, "saved"));
				copy_bounded(kc->set, sizeof(kc->set), get_str(k, "set"));
				st->n_knobs++;
			}
		}
	}
	ret = parse_kdomains(root, st, what, err);
	if (ret < 0) {
		sp_state_free(st);
		return ret;
	}
	return parse_recovered(root, st, what, err);
}

static void add_str(json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

static void add_lineage(json_object *o, const struct sp_container *c)
{
	json_object *arr;
	size_t i;

	if (!c->n_members)
		return;
	arr = json_object_new_array();
	for (i = 0; i < c->n_members; i++) {
		json_object *m = json_object_new_array();

		json_object_array_add(m, json_object_new_int64(c->members[i].pid));
		json_object_array_add(m, json_object_new_uint64(c->members[i].start_time));
		json_object_array_add(arr, m);
	}
	json_object_object_add(o, "sid", json_object_new_int64(c->sid));
	json_object_object_add(o, "enabled_ticks", json_object_new_uint64(c->enabled_ticks));
	json_object_object_add(o, "members", arr);
}

char *sp_state_to_json(const struct sp_state *st)
{
	_cleanup_(json_object_putp) json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();
	json_object *ksmd = json_object_new_object();
	json_object *knobs = json_object_new_array();
	size_t i;

	json_object_object_add(root, "version", json_object_new_int(1));
	for (i = 0; i < st->n_containers; i++) {
		const struct sp_container *c = &st->containers[i];
		json_object *o = json_object_new_object();

		add_str(o, "id", c->id);
		add_str(o, "domain", c->domain);
		json_object_object_add(o, "pid", json_object_new_int64(c->pid));
		json_object_object_add(o, "start_time", json_object_new_uint64(c->start_time));
		json_object_object_add(o, "enabled", json_object_new_boolean(c->enabled));
		add_str(o, "backend", c->backend);
		add_str(o, "cgroup", c->cgroup);
		add_str(o, "reason", c->reason);
		json_object_object_add(o, "since", json_object_new_int64(c->since));
		add_lineage(o, c);
		if (c->kdomain)
			json_object_object_add(o, "kdomain", json_object_new_uint64(c->kdomain));
		if (c->intent) {
			json_object_object_add(o, "intent", json_object_new_boolean(true));
			json_object_object_add(o, "owner_pid", json_object_new_int64(c->owner_pid));
			json_object_object_add(o, "owner_start", json_object_new_uint64(c->owner_start));
		}
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "containers", arr);
	if (st->n_kdomains || st->kdomain_next) {
		json_object *kd = json_object_new_object(), *ids = json_object_new_object();

		for (i = 0; i < st->n_kdomains; i++)
			json_object_object_add(ids, st->kdomains[i].domain, json_object_new_uint64(st->kdomains[i].id));
		json_object_object_add(kd, "next", json_object_new_uint64(st->kdomain_next));
		json_object_object_add(kd, "ids", ids);
		json_object_object_add(root, "kernel_domains", kd);
	}
	json_object_object_add(ksmd, "managed", json_object_new_boolean(st->ksmd_managed));
	for (i = 0; i < st->n_knobs; i++) {
		json_object *k = json_object_new_object();

		add_str(k, "name", st->knobs[i].name);
		add_str(k, "saved", st->knobs[i].saved);
		add_str(k, "set", st->knobs[i].set);
		json_object_array_add(knobs, k);
	}
	json_object_object_add(ksmd, "knobs", knobs);
	json_object_object_add(root, "ksmd", ksmd);
	/* A node that has nothing recorded has nothing of a recovery left. */
	if (st->recovered && (st->n_containers > 0 || st->ksmd_managed)) {
		json_object *rec = json_object_new_object();

		json_object_object_add(rec, "at", json_object_new_int64(st->recovered_at));
		add_str(rec, "what", st->recovered);
		json_object_object_add(root, "recovered", rec);
	}
	return strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The file as it was before this save, for recovery: a hard link, so it
 * costs no copy. */
static void keep_previous(const char *dir)
{
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	/* No current file (moved aside, deleted): the older .prev is all
	 * there is; keep it. */
	if (dfd < 0 || faccessat(dfd, SP_STATE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (unlinkat(dfd, SP_STATE_PREV, 0) < 0 && errno != ENOENT)
		return;
	if (linkat(dfd, SP_STATE_FILE, dfd, SP_STATE_PREV, 0) < 0)
		return; /* no previous file yet: nothing to keep */
}

int sp_state_save(const char *dir, const struct sp_state *st, sp_error_t *err)
{
	_cleanup_free_ char *path = NULL, *json = sp_state_to_json(st);
	int ret;

	if (!json || asprintf(&path, "%s/" SP_STATE_FILE, dir) < 0)
		return sp_error_set(err, ENOMEM, "save state");
	keep_previous(dir);
	ret = write_file_atomic(path, json, strlen(json), 0600, err);
	if (ret < 0)
		return sp_error_wrap(err, "save state");
	return 0;
}

struct sp_container *sp_state_find(struct sp_state *st, const char *id)
{
	size_t i;

	for (i = 0; i < st->n_containers; i++)
		if (strcmp(st->containers[i].id, id) == 0)
			return &st->containers[i];
	return NULL;
}

static bool same_process(const struct sp_container *c, pid_t pid, unsigned long long start_time)
{
	return c->pid == pid && c->start_time == start_time;
}

struct sp_container *sp_state_find_entry(struct sp_state *st, const char *id, pid_t pid,
					 unsigned long long start_time)
{
	size_t i;

	for (i = 0; i < st->n_containers; i++)
		if (strcmp(st->containers[i].id, id) == 0 && same_process(&st->containers[i], pid, start_time))
			return &st->containers[i];
	return NULL;
}

static void remove_at(struct sp_state *st, size_t i)
{
	container_free(&st->containers[i]);
	memmove(&st->containers[i], &st->containers[i + 1], (st->n_containers - i - 1) * sizeof(*st->containers));
	st->n_containers--;
}

bool sp_state_domain_enabled(const struct sp_state *st, const char *domain)
{
	size_t i;

	for (i = 0; i < st->n_containers; i++)
		if (st->containers[i].enabled && st->containers[i].domain &&
		    strcmp(st->containers[i].domain, domain) == 0)
			return true;
	return false;
}

bool sp_state_remove(struct sp_state *st, const char *id)
{
	size_t i = 0;
	bool removed = false;

	while (i < st->n_containers) {
		if (strcmp(st->containers[i].id, id) == 0) {
			remove_at(st, i);
			removed = true;
		} else {
			i++;
		}
	}
	return removed;
}

bool sp_state_remove_entry(struct sp_state *st, const char *id, pid_t pid, unsigned long long start_time)
{
	struct sp_container *c = sp_state_find_entry(st, id, pid, start_time);

	if (!c)
		return false;
	remove_at(st, (size_t)(c - st->containers));
	return true;
}

static bool is_cgroup_entry(const struct sp_container *c)
{
	return c->cgroup && strncmp(c->id, "cgroup:", 7) == 0;
}

/* The owner of an intent died before it confirmed: what does the process
 * really have?  Returns false when the entry is to be dropped. */
static bool resolve_intent(struct sp_container *c, const struct sp_probe *p)
{
	if (c->pid > 0 && !p->alive(c->pid, c->start_time))
		return false;
	c->intent = false;
	c->owner_pid = 0;
	c->owner_start = 0;
	if (p->pid_ksm(c->pid) == 1)
		return true;
	c->enabled = false;
	free(c->reason);
	c->reason = strdup("switching KSM on did not finish (the hook or `samepage enable` ended first)");
	return true;
}

/* The node's processes, read once per prune and only when needed. */
struct lazy_table {
	struct sp_proc_table t;
	int state; /* 0 unread, 1 read, -1 failed */
};

/* An `enable --pid` entry: alive while a process of its lineage has KSM;
 * its members are refreshed, and it is named by its oldest member with
 * KSM once the enabled process is gone. */
static bool lineage_live(struct sp_container *c, const struct sp_probe *p, struct lazy_table *lt)
{
	struct sp_member *m = NULL;
	size_t n = 0;
	int with_ksm;

	if (lt->state == 0)
		lt->state = p->proc_table(&lt->t) < 0 ? -1 : 1;
	if (lt->state < 0)
		return c->pid <= 0 || p->alive(c->pid, c->start_time);
	with_ksm = sp_lineage_members(c, &lt->t, &m, &n);
	if (with_ksm <= 0) {
		free(m);
		return with_ksm < 0; /* ENOMEM: keep it */
	}
	free(c->members);
	c->members = m;
	c->n_members = n < SP_STATE_MAX_MEMBERS ? n : SP_STATE_MAX_MEMBERS;
	if (!p->alive(c->pid, c->start_time)) {
		c->pid = m[0].pid;
		c->start_time = m[0].start_time;
	}
	return true;
}

static bool entry_live(struct sp_container *c, const struct sp_probe *p, struct lazy_table *lt)
{
	if (c->intent) {
		if (c->owner_pid > 0 && p->alive(c->owner_pid, c->owner_start))
			return true;
		return resolve_intent(c, p);
	}
	if (c->enabled && is_cgroup_entry(c))
		return p->cgroup_ksm(c->cgroup, c->backend && strcmp(c->backend, "native") == 0);
	if (c->enabled && sp_state_is_pid_entry(c) && p->proc_table)
		return lineage_live(c, p, lt);
	return c->pid <= 0 || p->alive(c->pid, c->start_time);
}

size_t sp_state_prune(struct sp_state *st, const struct sp_probe *probe)
{
	struct lazy_table lt = { 0 };
	size_t i = 0, dropped = 0;

	if (!probe)
		probe = &sp_probe_proc;
	while (i < st->n_containers) {
		if (!entry_live(&st->containers[i], probe, &lt)) {
			remove_at(st, i);
			dropped++;
		} else {
			i++;
		}
	}
	sp_proc_table_free(&lt.t);
	return dropped;
}

size_t sp_state_enabled_count(const struct sp_state *st)
{
	size_t i, n = 0;

	for (i = 0; i < st->n_containers; i++)
		n += st->containers[i].enabled;
	return n;
}
