/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage.conf: sp_config_parse().  What it accepts must be in range, and
 * it must be all there is: a file holding one object and then more (an
 * operator appending `{"governor": ...}` as a second object) must not load
 * as just the first.
 */
#include <json-c/json.h>
#include "test/fuzz/fuzz.h"
#include "node/config.h"
#include "node/domain.h"

/* Bytes after the first JSON value of s that are not whitespace, or NULL. */
static const char *trailing(const char *s)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;
	const char *rest = NULL;
	size_t len = strlen(s), end;

	if (!tok)
		abort();
	o = json_tokener_parse_ex(tok, s, (int)len);
	if (o) {
		for (end = json_tokener_get_parse_end(tok); end < len && !rest; end++)
			if (!strchr(" \t\r\n", s[end]))
				rest = s + end;
		json_object_put(o);
	}
	json_tokener_free(tok);
	return rest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_error_ sp_error_t err = NULL;
	char *json = fuzz_strndup(data, size);
	struct sp_config cfg;
	const struct sp_governor_config *g = &cfg.governor;
	int ret;

	sp_config_defaults(&cfg);
	ret = sp_config_parse(json, "fuzz.conf", &cfg, &err);
	if (ret < 0) {
		FUZZ_ASSERT(err && err->msg, "failed (%d) without a message", ret);
		free(json);
		sp_config_free(&cfg);
		return 0;
	}
	FUZZ_ASSERT(ret == 0, "ret %d", ret);
	FUZZ_ASSERT(!trailing(json), "accepted `%.40s` after the config object", trailing(json));
	free(json);
	FUZZ_ASSERT(cfg.domain_policy == SP_POLICY_EXCLUSIVE || cfg.domain_policy == SP_POLICY_SHARED, "policy %d",
		    (int)cfg.domain_policy);
	FUZZ_ASSERT(strcmp(cfg.advisor_mode, "scan-time") == 0 || strcmp(cfg.advisor_mode, "none") == 0,
		    "advisor_mode `%s`", cfg.advisor_mode);
	FUZZ_ASSERT(g->cpu_budget > 0 && g->cpu_budget <= 1, "cpu_budget %g", g->cpu_budget);
	FUZZ_ASSERT(g->window_secs >= 1 && g->window_secs <= 3600, "window_secs %u", g->window_secs);
	FUZZ_ASSERT(g->boost_pages >= 1 && g->boost_pages <= 1000000, "boost_pages %u", g->boost_pages);
	FUZZ_ASSERT(g->idle_pages >= 1 && g->idle_pages <= 1000000, "idle_pages %u", g->idle_pages);
	FUZZ_ASSERT(g->boost_sleep_ms >= 1 && g->boost_sleep_ms <= 60000, "boost_sleep_ms %u", g->boost_sleep_ms);
	FUZZ_ASSERT(g->idle_sleep_ms >= 1 && g->idle_sleep_ms <= 60000, "idle_sleep_ms %u", g->idle_sleep_ms);
	/* The tenant's own keys are never trusted for the namespace. */
	FUZZ_ASSERT(!cfg.namespace_annotation || strncmp(cfg.namespace_annotation, "samepage.io/", 12) != 0,
		    "namespace_annotation `%s`", cfg.namespace_annotation);
	for (size_t i = 0; i < cfg.n_groups; i++)
		FUZZ_ASSERT(sp_domain_label_valid(cfg.groups[i].ns) && sp_domain_label_valid(cfg.groups[i].group),
			    "group `%s` of `%s`", cfg.groups[i].group, cfg.groups[i].ns);
	sp_config_free(&cfg);
	return 0;
}
