/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "base/cleanup.h"
#include "node/config.h"
#include "base/fileio.h"
#include "base/json.h"
#include "node/domain.h"


#define CONFIG_MAX (256 * 1024)

void sp_config_defaults(struct sp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->domain_policy = SP_POLICY_EXCLUSIVE;
	cfg->manage_ksmd = true;
	strcpy(cfg->advisor_mode, "scan-time");
	cfg->smart_scan_off = true;
	cfg->governor.cpu_budget = 0.25;
	cfg->governor.window_secs = 10;
	cfg->governor.boost_pages = 20000;
	cfg->governor.boost_sleep_ms = 10;
	cfg->governor.idle_pages = 100;
	cfg->governor.idle_sleep_ms = 200;
	cfg->governor.boost_nice = 0;

	cfg->lock_timeout_ms = 3000;
	cfg->estimate.pays_percent = 5;
	cfg->estimate.max_age_secs = 86400;
}

void sp_config_free(struct sp_config *cfg)
{
	free(cfg->namespace_annotation);
	free(cfg->groups);
	free(cfg->deny_unmanaged);
	sp_config_defaults(cfg);
}

const char *sp_domain_policy_name(enum sp_domain_policy p)
{
	return p == SP_POLICY_SHARED ? "shared" : p == SP_POLICY_KERNEL ? "kernel" : "exclusive";
}

static int want_type(json_object *v, json_type t, const char *what, const char *key, const char *tname, sp_error_t *err)
{
	if (!json_object_is_type(v, t))
		return sp_error_set(err, 0, "%s: `%s` must be %s", what, key, tname);
	return 0;
}

static int parse_uint(json_object *v, const char *what, const char *key, unsigned int max, unsigned int *out,
		      sp_error_t *err)
{
	int64_t n;

	if (want_type(v, json_type_int, what, key, "an integer", err) < 0)
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < 1 || n > max)
		return sp_error_set(err, 0, "%s: `%s` must be between 1 and %u, got %lld", what, key, max,
				    (long long)n);
	*out = (unsigned int)n;
	return 0;
}

static int parse_governor(json_object *gov, const char *what, struct sp_governor_config *g, sp_error_t *err)
{
	int ret = 0;

	if (want_type(gov, json_type_object, what, "governor", "an object", err) < 0)
		return -EINVAL;
	json_object_object_foreach(gov, key, v) {
		if (strcmp(key, "cpu_budget") == 0) {
			double d;

			if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
				return sp_error_set(err, 0, "%s: `governor.cpu_budget` must be a number", what);
			d = json_object_get_double(v);
			if (!(d > 0 && d <= 1))
				return sp_error_set(err, 0, "%s: `governor.cpu_budget` must be in (0, 1], got %g", what, d);
			g->cpu_budget = d;
		} else if (strcmp(key, "window_secs") == 0) {
			ret = parse_uint(v, what, "governor.window_secs", 3600, &g->window_secs, err);
		} else if (strcmp(key, "boost_pages") == 0) {
			ret = parse_uint(v, what, "governor.boost_pages", 1000000, &g->boost_pages, err);
		} else if (strcmp(key, "boost_sleep_ms") == 0) {
			ret = parse_uint(v, what, "governor.boost_sleep_ms", 60000, &g->boost_sleep_ms, err);
		} else if (strcmp(key, "idle_pages") == 0) {
			ret = parse_uint(v, what, "governor.idle_pages", 1000000, &g->idle_pages, err);
		} else if (strcmp(key, "idle_sleep_ms") == 0) {
			ret = parse_uint(v, what, "governor.idle_sleep_ms", 60000, &g->idle_sleep_ms, err);
		} else if (strcmp(key, "boost_nice") == 0) {
			int64_t n;

			if (want_type(v, json_type_int, what, "governor.boost_nice", "an integer", err) < 0)
				return -EINVAL;
			n = json_object_get_int64(v);
			if (n < -20 || n > 19)
				return sp_error_set(err, 0, "%s: `governor.boost_nice` must be between -20 and 19, got %lld", what,
						    (long long)n);
			g->boost_nice = (int)n;
		} else if (strcmp(key, "manage") == 0) {
			if (want_type(v, json_type_boolean, what, "governor.manage", "true or false", err) < 0)
				return -EINVAL;
			g->manage = json_object_get_boolean(v);
		} else {
			return sp_error_set(err, 0, "%s: unknown key `governor.%s`", what, key);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* --- estimate (doctor's thresholds) ------------------------------------ */

static int parse_estimate(json_object *est, const char *what, struct sp_estimate_config *c, sp_error_t *err)
{
	int ret = 0;

	if (want_type(est, json_type_object, what, "estimate", "an object", err) < 0)
		return -EINVAL;
	json_object_object_foreach(est, key, v) {
		if (strcmp(key, "pays_percent") == 0) {
			double d;

			if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
				return sp_error_set(err, 0, "%s: `estimate.pays_percent` must be a number", what);
			d = json_object_get_double(v);
			if (!(d > 0 && d <= 100))
				return sp_error_set(err, 0, "%s: `estimate.pays_percent` must be in (0, 100], got %g", what, d);
			c->pays_percent = d;
		} else if (strcmp(key, "max_age_secs") == 0) {
			ret = parse_uint(v, what, "estimate.max_age_secs", 365 * 86400, &c->max_age_secs, err);
		} else {
			return sp_error_set(err, 0, "%s: unknown key `estimate.%s`", what, key);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* --- deny_unmanaged (kernel domains) ------------------------------------- */

static int parse_deny_unmanaged(json_object *v, const char *what, struct sp_config *cfg, sp_error_t *err)
{
	const char *s;

	if (json_object_is_type(v, json_type_null))
		return 0;
	if (want_type(v, json_type_string, what, "deny_unmanaged", "a string", err) < 0)
		return -EINVAL;
	s = json_object_get_string(v);
	if (s[0] != '/' || strstr(s, "/..") || strlen(s) > 4096)
		return sp_error_set(err, 0, "%s: `deny_unmanaged`: want an absolute cgroup path without `..`, got `%.64s`",
				    what, s);
	free(cfg->deny_unmanaged);
	cfg->deny_unmanaged = strdup(s);
	return cfg->deny_unmanaged ? 0 : sp_error_set(err, ENOMEM, "%s: `deny_unmanaged`", what);
}

/* --- unattributed (self-opt-in) ----------------------------------------- */

const char *sp_unattributed_mode_name(enum sp_unattributed_mode m)
{
	return m == SP_UNATTRIBUTED_WARN ? "warn" : "refuse";
}

static int parse_unattributed(json_object *v, const char *what, struct sp_config *cfg, sp_error_t *err)
{
	const char *s;

	if (want_type(v, json_type_string, what, "unattributed", "a string", err) < 0)
		return -EINVAL;
	s = json_object_get_string(v);
	if (strcmp(s, "refuse") == 0)
		cfg->unattributed = SP_UNATTRIBUTED_REFUSE;
	else if (strcmp(s, "warn") == 0)
		cfg->unattributed = SP_UNATTRIBUTED_WARN;
	else
		return sp_error_set(err, 0, "%s: `unattributed`: invalid value `%.32s` (want refuse or warn)", what, s);
	return 0;
}

static int parse_smart_scan(json_object *v, const char *what, struct sp_config *cfg, sp_error_t *err)
{
	const char *s;

	if (want_type(v, json_type_string, what, "smart_scan", "a string", err) < 0)
		return -EINVAL;
	s = json_object_get_string(v);
	if (strcmp(s, "off") == 0)
		cfg->smart_scan_off = true;
	else if (strcmp(s, "keep") == 0)
		cfg->smart_scan_off = false;
	else
		return sp_error_set(err, 0, "%s: `smart_scan`: invalid value `%.32s` (want off or keep)", what, s);
	return 0;
}

/* ------------------------------------------------------------------------ */

/* A JSON string without an embedded NUL: what the file says is what is used. */
static const char *whole_string(json_object *v)
{
	const char *s = json_object_get_string(v);

	return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

static bool annotation_key_valid(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-", s[i]))
			return false;
	return true;
}

/* The key the runtime sets after copying the pod's annotations; never one
 * of samepage's own, which the tenant writes. */
static int parse_namespace_annotation(json_object *v, const char *what, struct sp_config *cfg, sp_error_t *err)
{
	const char *s;

	free(cfg->namespace_annotation);
	cfg->namespace_annotation = NULL;
	if (json_object_is_type(v, json_type_null))
		return 0;
	if (want_type(v, json_type_string, what, "namespace_annotation", "a string or null", err) < 0)
		return -EINVAL;
	s = whole_string(v);
	if (!s || !annotation_key_valid(s))
		return sp_error_set(err, 0, "%s: `namespace_annotation`: invalid annotation key `%.64s` (want 1-253 of "
				    "a-z, A-Z, 0-9, '.', '_', '/' and '-')", what, json_object_get_string(v));
	if (strncmp(s, "samepage.io/", 12) == 0)
		return sp_error_set(err, 0, "%s: `namespace_annotation`: `%s` is set by the tenant, not the runtime",
				    what, s);
	cfg->namespace_annotation = strdup(s);
	if (!cfg->namespace_annotation)
		return sp_error_set(err, ENOMEM, "%s: `namespace_annotation`", what);
	return 0;
}

static int add_group_member(struct sp_config *cfg, const char *group, json_object *m, const char *what,
			     sp_error_t *err)
{
	struct sp_namespace_group *g;
	const char *ns;
	size_t i;

	ns = json_object_is_type(m, json_type_string) ? whole_string(m) : NULL;
	if (!ns || !sp_domain_label_valid(ns))
		return sp_error_set(err, 0, "%s: `domains.%s`: invalid namespace %s (want a DNS label)", what, group,
				    json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN));
	for (i = 0; i < cfg->n_groups; i++)
		if (strcmp(cfg->groups[i].ns, ns) == 0)
			return sp_error_set(err, 0, "%s: `domains.%s`: namespace `%s` is already in group `%s`", what,
					    group, ns, cfg->groups[i].group);
	g = realloc(cfg->groups, (cfg->n_groups + 1) * sizeof(*g));
	if (!g)
		return sp_error_set(err, ENOMEM, "%s: `domains`", what);
	cfg->groups = g;
	g = &cfg->groups[cfg->n_groups++];
	strcpy(g->ns, ns);          /* both checked to be at most 63 characters */
	strcpy(g->group, group);
	return 0;
}

/* "domains": {"GROUP": ["NS", ...], ...}: the admin's list of namespaces
 * that trust each other. */
static int parse_domains(json_object *v, const char *what, struct sp_config *cfg, sp_error_t *err)
{
	size_t i;
	int ret;

	if (want_type(v, json_type_object, what, "domains", "an object", err) < 0)
		return -EINVAL;
	json_object_object_foreach(v, group, members) {
		if (!sp_domain_label_valid(group))
			return sp_error_set(err, 0, "%s: `domains`: invalid group name `%.64s` (want a DNS label)", what,
					    group);
		if (!json_object_is_type(members, json_type_array) || json_object_array_length(members) == 0)
			return sp_error_set(err, 0, "%s: `domains.%s` must be a non-empty array of namespaces", what, group);
		for (i = 0; i < json_object_array_length(members); i++) {
			ret = add_group_member(cfg, group, json_object_array_get_idx(members, i), what, err);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

int sp_config_parse(const char *json, const char *what, struct sp_config *cfg, sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	int ret;

	ret = sp_json_parse(json, strlen(json), what, &root, err);
	if (ret < 0)
		return ret;
	if (!json_object_is_type(root, json_type_object))
		return sp_error_set(err, 0, "%s: not a JSON object", what);

	json_object_object_foreach(root, key, v) {
		if (strcmp(key, "domain_policy") == 0) {
			const char *s;

			if (want_type(v, json_type_string, what, key, "a string", err) < 0)
				return -EINVAL;
			s = json_object_get_string(v);
			cfg->domain_policy_set = true;
			if (strcmp(s, "auto") == 0) {
				/* the default: kernel where ksm.domain exists (node/domain-kernel.h) */
				cfg->domain_policy = SP_POLICY_EXCLUSIVE;
				cfg->domain_policy_set = false;
			} else if (strcmp(s, "exclusive") == 0)
				cfg->domain_policy = SP_POLICY_EXCLUSIVE;
			else if (strcmp(s, "shared") == 0)
				cfg->domain_policy = SP_POLICY_SHARED;
			else if (strcmp(s, "kernel") == 0)
				cfg->domain_policy = SP_POLICY_KERNEL;
			else
				return sp_error_set(err, 0,
						    "%s: `domain_policy`: invalid value `%.32s` (want auto, exclusive, shared or kernel)",
						    what, s);
		} else if (strcmp(key, "deny_unmanaged") == 0) {
			ret = parse_deny_unmanaged(v, what, cfg, err);
		} else if (strcmp(key, "manage_ksmd") == 0) {
			if (want_type(v, json_type_boolean, what, key, "true or false", err) < 0)
				return -EINVAL;
			cfg->manage_ksmd = json_object_get_boolean(v);
		} else if (strcmp(key, "advisor_mode") == 0) {
			const char *s;

			if (want_type(v, json_type_string, what, key, "a string", err) < 0)
				return -EINVAL;
			s = json_object_get_string(v);
			if (strcmp(s, "scan-time") != 0 && strcmp(s, "none") != 0)
				return sp_error_set(err, 0, "%s: `advisor_mode`: invalid value `%.32s` (want scan-time or none)",
						    what, s);
			strcpy(cfg->advisor_mode, s);
		} else if (strcmp(key, "smart_scan") == 0) {
			ret = parse_smart_scan(v, what, cfg, err);
		} else if (strcmp(key, "lock_timeout_ms") == 0) {
			ret = parse_uint(v, what, key, 600000, &cfg->lock_timeout_ms, err);
			if (ret < 0)
				return ret;
		} else if (strcmp(key, "governor") == 0) {
			ret = parse_governor(v, what, &cfg->governor, err);
		} else if (strcmp(key, "unattributed") == 0) {
			ret = parse_unattributed(v, what, cfg, err);
		} else if (strcmp(key, "estimate") == 0) {
			ret = parse_estimate(v, what, &cfg->estimate, err);
		} else if (strcmp(key, "namespace_annotation") == 0) {
			ret = parse_namespace_annotation(v, what, cfg, err);
		} else if (strcmp(key, "domains") == 0) {
			ret = parse_domains(v, what, cfg, err);
		} else {
			return sp_error_set(err, 0, "%s: unknown key `%s`", what, key);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

int sp_config_load(const char *path, struct sp_config *cfg, sp_error_t *err)
{
	_cleanup_free_ char *buf = NULL;
	int ret;

	sp_config_defaults(cfg);
	ret = read_file_bounded(AT_FDCWD, path, CONFIG_MAX, &buf, NULL, err);
	if (ret == -ENOENT) {
		sp_error_free(err);
		return 0;
	}
	if (ret < 0)
		return sp_error_wrap(err, "config");
	return sp_config_parse(buf, path, cfg, err);
}

static const char *pick(const char *option, const char *env, const char *def)
{
	const char *e;

	if (option)
		return option;
	e = getenv(env);
	return e && *e ? e : def;
}

const char *sp_config_path(const char *option)
{
	return pick(option, "SAMEPAGE_CONFIG", SP_DEFAULT_CONFIG);
}

const char *sp_state_dir(const char *option)
{
	return pick(option, "SAMEPAGE_STATE_DIR", SP_DEFAULT_STATE_DIR);
}
