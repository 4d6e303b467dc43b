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


#define CONFIG_MAX (256 * 1024)

void sp_config_defaults(struct sp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->domain_policy = SP_POLICY_EXCLUSIVE;
	cfg->manage_ksmd = true;
	strcpy(cfg->advisor_mode, "scan-time");
	cfg->governor.cpu_budget = 0.25;
	cfg->governor.window_secs = 10;
	cfg->governor.boost_pages = 20000;
	cfg->governor.boost_sleep_ms = 10;
	cfg->governor.idle_pages = 100;
	cfg->governor.idle_sleep_ms = 200;
	cfg->governor.boost_nice = 0;
}

const char *sp_domain_policy_name(enum sp_domain_policy p)
{
	return p == SP_POLICY_SHARED ? "shared" : "exclusive";
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

/* ------------------------------------------------------------------------ */

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
			if (strcmp(s, "exclusive") == 0)
				cfg->domain_policy = SP_POLICY_EXCLUSIVE;
			else if (strcmp(s, "shared") == 0)
				cfg->domain_policy = SP_POLICY_SHARED;
			else
				return sp_error_set(err, 0, "%s: `domain_policy`: invalid value `%.32s` (want exclusive or shared)",
						    what, s);
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
		} else if (strcmp(key, "governor") == 0) {
			ret = parse_governor(v, what, &cfg->governor, err);
			if (ret < 0)
				return ret;
		} else if (strcmp(key, "unattributed") == 0) {
			ret = parse_unattributed(v, what, cfg, err);
			if (ret < 0)
				return ret;
		} else {
			return sp_error_set(err, 0, "%s: unknown key `%s`", what, key);
		}
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
