/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "oci/seccomp-profile.h"

enum { SYS_PRCTL, SYS_MADVISE, SYS_IO_URING_SETUP, SYS_COUNT };

static const char *const sys_names[SYS_COUNT] = { "prctl", "madvise", "io_uring_setup" };

struct rule_arg {
	unsigned int index;
	uint64_t value;
	const char *op;
};

/* The rules samepage writes: the denies, then what gives the rest back. */
struct rule {
	int sys;
	bool deny;
	size_t n_args;
	struct rule_arg args[2];
};

#define PR_SET_MEMORY_MERGE_NR 67
#define MADV_MERGEABLE_NR 12
#define DENY_ERRNO 1 /* EPERM */

static const struct rule rules[] = {
	{ SYS_PRCTL, true, 2, { { 0, PR_SET_MEMORY_MERGE_NR, "SCMP_CMP_EQ" }, { 1, 0, "SCMP_CMP_NE" } } },
	{ SYS_MADVISE, true, 1, { { 2, MADV_MERGEABLE_NR, "SCMP_CMP_EQ" } } },
	{ SYS_IO_URING_SETUP, true, 0, { { 0 } } },
	{ SYS_PRCTL, false, 1, { { 0, PR_SET_MEMORY_MERGE_NR, "SCMP_CMP_NE" } } },
	{ SYS_PRCTL, false, 2, { { 0, PR_SET_MEMORY_MERGE_NR, "SCMP_CMP_EQ" }, { 1, 0, "SCMP_CMP_EQ" } } },
	{ SYS_MADVISE, false, 1, { { 2, MADV_MERGEABLE_NR, "SCMP_CMP_NE" } } },
};

/* What the profile did with a syscall before the edit. */
struct sys_action {
	char *action;   /* NULL: no entry named it (the default action applies) */
	int errno_ret;  /* -1: none given */
};

static const char *str_field(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int sys_index(const char *name)
{
	int i;

	for (i = 0; i < SYS_COUNT; i++)
		if (strcmp(name, sys_names[i]) == 0)
			return i;
	return -1;
}

/* An absent or empty `args`, `includes` or `excludes`. */
static bool field_empty(json_object *e, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(e, key, &v) || v == NULL)
		return true;
	if (json_object_is_type(v, json_type_array))
		return json_object_array_length(v) == 0;
	if (json_object_is_type(v, json_type_object))
		return json_object_object_length(v) == 0;
	return false;
}

static bool arg_matches(json_object *a, const struct rule_arg *r)
{
	json_object *idx, *val, *two;
	const char *op = str_field(a, "op");

	if (!json_object_object_get_ex(a, "index", &idx) || !json_object_object_get_ex(a, "value", &val) || !op)
		return false;
	if (json_object_object_get_ex(a, "valueTwo", &two) && json_object_get_uint64(two) != 0)
		return false;
	return json_object_get_uint64(idx) == r->index && json_object_get_uint64(val) == r->value &&
	       strcmp(op, r->op) == 0;
}

/* Is e exactly one of our rules?  Returns its index, or -1. */
static int our_rule(json_object *e)
{
	json_object *names, *args;
	const char *action = str_field(e, "action");
	size_t i, j;

	if (!action || !json_object_object_get_ex(e, "names", &names) || !json_object_is_type(names, json_type_array) ||
	    json_object_array_length(names) != 1)
		return -1;
	if (!json_object_object_get_ex(e, "args", &args) || !json_object_is_type(args, json_type_array))
		args = NULL;
	for (i = 0; i < ARRAY_SIZE(rules); i++) {
		const struct rule *r = &rules[i];
		const char *name = json_object_get_string(json_object_array_get_idx(names, 0));
		size_t n = args ? json_object_array_length(args) : 0;
		bool match = name && strcmp(name, sys_names[r->sys]) == 0 && n == r->n_args;

		if (r->deny && strcmp(action, "SCMP_ACT_ERRNO") != 0)
			match = false;
		for (j = 0; match && j < n; j++)
			match = arg_matches(json_object_array_get_idx(args, j), &r->args[j]);
		if (match && field_empty(e, "includes") && field_empty(e, "excludes"))
			return (int)i;
	}
	return -1;
}

static int remember(struct sys_action *sa, json_object *e)
{
	json_object *er;

	if (sa->action)
		return 0; /* the first entry is what runc would have used */
	sa->action = strdup(str_field(e, "action") ? str_field(e, "action") : "");
	if (!sa->action)
		return -ENOMEM;
	sa->errno_ret = json_object_object_get_ex(e, "errnoRet", &er) ? json_object_get_int(er) : -1;
	return 0;
}

/* Take prctl, madvise and io_uring_setup out of a foreign entry, keeping
 * what it said about them; *drop when it names nothing else. */
static int strip_entry(json_object *e, size_t idx, struct sys_action *sa, bool *drop, const char *what,
		       sp_error_t *err)
{
	bool conditional = !field_empty(e, "args") || !field_empty(e, "includes") || !field_empty(e, "excludes");
	json_object *names;
	const char *name = str_field(e, "name"); /* Docker's old single-name form */
	size_t j;

	*drop = false;
	if (!json_object_object_get_ex(e, "names", &names) || !json_object_is_type(names, json_type_array))
		names = NULL;
	for (j = names ? json_object_array_length(names) : 0; j > 0 || (name && !names); j--) {
		const char *n = names ? json_object_get_string(json_object_array_get_idx(names, j - 1)) : name;
		int s = n ? sys_index(n) : -1;

		if (s >= 0 && conditional)
			return sp_error_set(err, 0,
					    "%s: `syscalls[%zu]` names %s with conditions (args, includes or excludes): "
					    "rewriting it would change what it means; merge the denies by hand (docs/seccomp.md)",
					    what, idx, n);
		if (s >= 0 && remember(&sa[s], e) < 0)
			return sp_error_set(err, ENOMEM, "%s", what);
		if (!names) {
			*drop = s >= 0;
			return 0;
		}
		if (s >= 0)
			json_object_array_del_idx(names, j - 1, 1);
	}
	*drop = names && json_object_array_length(names) == 0;
	return 0;
}

static json_object *rule_entry(const struct rule *r, const char *action, int errno_ret)
{
	json_object *e = json_object_new_object(), *names = json_object_new_array();
	size_t i;

	json_object_array_add(names, json_object_new_string(sys_names[r->sys]));
	json_object_object_add(e, "names", names);
	json_object_object_add(e, "action", json_object_new_string(action));
	if (errno_ret >= 0)
		json_object_object_add(e, "errnoRet", json_object_new_int(errno_ret));
	if (r->n_args) {
		json_object *args = json_object_new_array();

		for (i = 0; i < r->n_args; i++) {
			json_object *a = json_object_new_object();

			json_object_object_add(a, "index", json_object_new_int((int)r->args[i].index));
			json_object_object_add(a, "value", json_object_new_uint64(r->args[i].value));
			json_object_object_add(a, "op", json_object_new_string(r->args[i].op));
			json_object_array_add(args, a);
		}
		json_object_object_add(e, "args", args);
	}
	return e;
}

static bool action_lets_run(const char *a)
{
	return strcmp(a, "SCMP_ACT_ALLOW") == 0 || strcmp(a, "SCMP_ACT_LOG") == 0 || strcmp(a, "SCMP_ACT_TRACE") == 0 ||
	       strcmp(a, "SCMP_ACT_NOTIFY") == 0;
}

/* Step 3 for one syscall: append its rules to out. */
static void add_rules(json_object *out, int s, const struct sys_action *sa, const char *default_action)
{
	const char *action = sa->action ? sa->action : default_action;
	size_t i;

	if (!action_lets_run(action)) {
		/* Refused already: keep the profile's own entry. */
		if (sa->action && strcmp(action, default_action) != 0)
			json_object_array_add(out, rule_entry(&(struct rule){ .sys = s }, action, sa->errno_ret));
		return;
	}
	for (i = 0; i < ARRAY_SIZE(rules); i++) {
		if (rules[i].sys != s)
			continue;
		if (rules[i].deny)
			json_object_array_add(out, rule_entry(&rules[i], "SCMP_ACT_ERRNO", DENY_ERRNO));
		else if (strcmp(action, default_action) != 0)
			json_object_array_add(out, rule_entry(&rules[i], action, sa->errno_ret));
	}
}

/* Steps 1 and 2: the entries of syscalls that stay, in order, into kept. */
static int sort_out(json_object *syscalls, json_object *kept, struct sys_action *sa, const char *what,
		    sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *allow_entry = json_tokener_parse("{\"action\": \"SCMP_ACT_ALLOW\"}");
	size_t i;
	int ret = 0;

	if (!allow_entry)
		return sp_error_set(err, ENOMEM, "%s", what);
	for (i = 0; syscalls && i < json_object_array_length(syscalls); i++) {
		json_object *e = json_object_array_get_idx(syscalls, i);
		int ours;
		bool drop;

		if (!json_object_is_type(e, json_type_object))
			return sp_error_set(err, 0, "%s: `syscalls[%zu]` must be an object", what, i);
		ours = our_rule(e);
		if (ours >= 0) {
			/* A give-back rule of ours carries the original action; an
			 * unconditional deny of ours stands for one that let the
			 * call run (it has no give-back to say so). */
			if (!rules[ours].deny)
				ret = remember(&sa[rules[ours].sys], e);
			else if (rules[ours].n_args == 0)
				ret = remember(&sa[rules[ours].sys], allow_entry);
			if (ret < 0)
				return sp_error_set(err, ENOMEM, "%s", what);
			continue;
		}
		if (strip_entry(e, i, sa, &drop, what, err) < 0)
			return -EINVAL;
		if (!drop)
			json_object_array_add(kept, json_object_get(e));
	}
	return 0;
}

int oci_seccomp_deny_ksm(json_object *profile, const char *what, sp_error_t *err)
{
	struct sys_action sa[SYS_COUNT] = { { NULL, -1 }, { NULL, -1 }, { NULL, -1 } };
	json_object *syscalls = NULL, *out = NULL, *kept = NULL;
	const char *def;
	size_t i;
	int s, ret = -ENOMEM;

	if (!json_object_is_type(profile, json_type_object))
		return sp_error_set(err, 0, "%s: the seccomp profile must be an object", what);
	def = str_field(profile, "defaultAction");
	if (!def)
		return sp_error_set(err, 0, "%s: the seccomp profile has no `defaultAction` string", what);
	if (json_object_object_get_ex(profile, "syscalls", &syscalls) && syscalls &&
	    !json_object_is_type(syscalls, json_type_array))
		return sp_error_set(err, 0, "%s: `syscalls` must be an array", what);
	out = json_object_new_array();
	kept = json_object_new_array();
	if (!out || !kept)
		goto fail;
	ret = sort_out(syscalls, kept, sa, what, err);
	if (ret < 0)
		goto fail;
	for (s = 0; s < SYS_COUNT; s++)
		add_rules(out, s, &sa[s], def);
	for (i = 0; i < json_object_array_length(kept); i++)
		json_object_array_add(out, json_object_get(json_object_array_get_idx(kept, i)));
	/* Replacing the key frees the old array (and the entries dropped). */
	json_object_object_add(profile, "syscalls", out);
	out = NULL;
	ret = 0;
fail:
	if (ret == -ENOMEM)
		sp_error_set(err, ENOMEM, "%s", what);
	json_object_put(out);
	json_object_put(kept);
	for (s = 0; s < SYS_COUNT; s++)
		free(sa[s].action);
	return ret;
}

json_object *oci_seccomp_fragment(void)
{
	json_object *p = json_object_new_object();

	if (!p)
		return NULL;
	json_object_object_add(p, "defaultAction", json_object_new_string("SCMP_ACT_ALLOW"));
	if (oci_seccomp_deny_ksm(p, "fragment", NULL) < 0) {
		json_object_put(p);
		return NULL;
	}
	return p;
}
