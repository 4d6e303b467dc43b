/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "base/json.h"
#include "node/estimate-record.h"

/* Thousands of domains fit in far less; anything bigger is not ours. */
#define EST_RECORD_MAX (4u << 20)

/* Rounded to the nearest byte without libm: the hook links this library
 * statically and never needs it. */
static int64_t round_bytes(double pages, long ps)
{
	double b = pages * (double)ps;

	return (int64_t)(b < 0 ? b - 0.5 : b + 0.5);
}

int64_t est_ksm_saved_bytes(const struct ksm_group_stat *s, double sharing, long page_size)
{
	return round_bytes((double)s->merging_pages * sharing + (double)s->zero_pages, page_size);
}

/* The scan counts every mapping of a KSM frame already (estimate.h); what
 * it cannot see are KSM's zero pages (use_zero_pages maps the shared zero
 * page, which is not scanned), so those come from ksm_stat.  Where it could
 * not tell KSM frames apart (ksm_unknown), it counted each once, and all
 * KSM saved comes from ksm_stat (then a scan that runs while ksmd merges
 * reads the twins on different sides of the merge: an approximation). */
static void figures_from(const struct est_figures *f, long ps, double sharing, bool ksm_unknown,
			 struct est_record_figures *o)
{
	int64_t add;

	o->saved_at_scan_bytes = est_ksm_saved_bytes(&f->ksm_now, sharing, ps);
	add = ksm_unknown ? o->saved_at_scan_bytes : (int64_t)(f->ksm_now.zero_pages * (uint64_t)ps);
	o->anon_bytes = (int64_t)(f->anon_pages * (uint64_t)ps) + add;
	o->achievable_bytes = round_bytes(f->saving_pages, ps) + add;
	o->achievable_stderr_bytes = round_bytes(f->saving_se, ps);
	o->achievable_any_bytes = round_bytes(f->saving_any_pages, ps) + add;
}

int est_record_from(const struct estimate *e, long page_size, double sharing, int64_t now, struct est_record *r,
		    sp_error_t *err)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	r->time = now;
	r->sample = e->sample;
	r->complete = !e->truncated;
	r->frames_known = e->pfn_known;
	r->containers = e->n_containers;
	figures_from(&e->node, page_size, sharing, e->ksm_unknown, &r->node);
	if (e->n_domains && !(r->domains = calloc(e->n_domains, sizeof(*r->domains))))
		return sp_error_set(err, ENOMEM, "estimate record");
	for (i = 0; i < e->n_domains; i++, r->n_domains++) {
		if (!(r->domains[i].domain = strdup(e->domains[i].name)))
			return sp_error_set(err, ENOMEM, "estimate record");
		r->domains[i].containers = e->domains[i].containers;
		figures_from(&e->domains[i].f, page_size, sharing, e->ksm_unknown, &r->domains[i].f);
	}
	return 0;
}

static void json_figures(json_object *o, const struct est_record_figures *f)
{
	json_object_object_add(o, "anon_bytes", json_object_new_int64(f->anon_bytes));
	json_object_object_add(o, "achievable_bytes", json_object_new_int64(f->achievable_bytes));
	json_object_object_add(o, "achievable_stderr_bytes", json_object_new_int64(f->achievable_stderr_bytes));
	json_object_object_add(o, "saved_at_scan_bytes", json_object_new_int64(f->saved_at_scan_bytes));
	json_object_object_add(o, "achievable_ignoring_domains_bytes", json_object_new_int64(f->achievable_any_bytes));
}

json_object *est_record_json(const struct est_record *r)
{
	json_object *o = json_object_new_object(), *node = json_object_new_object(), *ds = json_object_new_array();
	size_t i;

	if (!o || !node || !ds) {
		json_object_put(o);
		json_object_put(node);
		json_object_put(ds);
		return NULL;
	}
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "time", json_object_new_int64(r->time));
	json_object_object_add(o, "sample", json_object_new_double(r->sample));
	json_object_object_add(o, "complete", json_object_new_boolean(r->complete));
	json_object_object_add(o, "frames_known", json_object_new_boolean(r->frames_known));
	json_object_object_add(node, "containers", json_object_new_int64((int64_t)r->containers));
	json_figures(node, &r->node);
	for (i = 0; i < r->n_domains; i++) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "domain", json_object_new_string(r->domains[i].domain));
		json_object_object_add(d, "containers", json_object_new_int64((int64_t)r->domains[i].containers));
		json_figures(d, &r->domains[i].f);
		json_object_array_add(ds, d);
	}
	json_object_object_add(o, "node", node);
	json_object_object_add(o, "domains", ds);
	return o;
}

int est_record_save(const char *state_dir, const struct est_record *r, sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *o = est_record_json(r);
	_cleanup_free_ char *path = NULL;
	const char *text;

	if (!o || asprintf(&path, "%s/%s", state_dir, EST_RECORD_FILE) < 0)
		return sp_error_set(err, ENOMEM, "save the estimate");
	if (mkdir_p(state_dir, 0755, err) < 0)
		return sp_error_wrap(err, "save the estimate");
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (write_file_atomic(path, text, strlen(text), 0644, err) < 0)
		return sp_error_wrap(err, "save the estimate");
	return 0;
}

/* An integer member, or -EINVAL naming it. */
static int get_int(json_object *o, const char *key, const char *what, int64_t *out, sp_error_t *err)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return sp_error_set(err, EINVAL, "%s: `%s` missing or not an integer", what, key);
	*out = json_object_get_int64(v);
	return 0;
}

static int parse_figures(json_object *o, const char *what, struct est_record_figures *f, sp_error_t *err)
{
	if (!json_object_is_type(o, json_type_object))
		return sp_error_set(err, EINVAL, "%s: figures are not an object", what);
	if (get_int(o, "anon_bytes", what, &f->anon_bytes, err) < 0 ||
	    get_int(o, "achievable_bytes", what, &f->achievable_bytes, err) < 0 ||
	    get_int(o, "achievable_stderr_bytes", what, &f->achievable_stderr_bytes, err) < 0 ||
	    get_int(o, "saved_at_scan_bytes", what, &f->saved_at_scan_bytes, err) < 0 ||
	    get_int(o, "achievable_ignoring_domains_bytes", what, &f->achievable_any_bytes, err) < 0)
		return -EINVAL;
	return 0;
}

static int parse_domains(json_object *ds, const char *what, struct est_record *r, sp_error_t *err)
{
	size_t i, n;

	if (!json_object_is_type(ds, json_type_array))
		return sp_error_set(err, EINVAL, "%s: `domains` is not an array", what);
	n = json_object_array_length(ds);
	if (n && !(r->domains = calloc(n, sizeof(*r->domains))))
		return sp_error_set(err, ENOMEM, "%s", what);
	for (i = 0; i < n; i++, r->n_domains++) {
		json_object *d = json_object_array_get_idx(ds, i), *name;
		int64_t c;

		if (!json_object_object_get_ex(d, "domain", &name) || !json_object_is_type(name, json_type_string))
			return sp_error_set(err, EINVAL, "%s: a domain without a `domain` name", what);
		if (!(r->domains[i].domain = strdup(json_object_get_string(name))))
			return sp_error_set(err, ENOMEM, "%s", what);
		if (get_int(d, "containers", what, &c, err) < 0 || parse_figures(d, what, &r->domains[i].f, err) < 0)
			return -EINVAL;
		r->domains[i].containers = (size_t)(c < 0 ? 0 : c);
	}
	return 0;
}

static int parse_record(json_object *o, const char *what, struct est_record *r, sp_error_t *err)
{
	json_object *v, *node, *ds;
	int64_t version, c;

	if (!json_object_is_type(o, json_type_object))
		return sp_error_set(err, EINVAL, "%s: not a JSON object", what);
	if (get_int(o, "version", what, &version, err) < 0)
		return -EINVAL;
	if (version != 1)
		return sp_error_set(err, EINVAL, "%s: version %lld, this samepage reads 1", what, (long long)version);
	if (get_int(o, "time", what, &r->time, err) < 0)
		return -EINVAL;
	if (json_object_object_get_ex(o, "sample", &v))
		r->sample = json_object_get_double(v);
	if (json_object_object_get_ex(o, "complete", &v))
		r->complete = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "frames_known", &v))
		r->frames_known = json_object_get_boolean(v);
	if (!json_object_object_get_ex(o, "node", &node) || !json_object_object_get_ex(o, "domains", &ds))
		return sp_error_set(err, EINVAL, "%s: `node` or `domains` missing", what);
	if (get_int(node, "containers", what, &c, err) < 0 || parse_figures(node, what, &r->node, err) < 0)
		return -EINVAL;
	r->containers = (size_t)(c < 0 ? 0 : c);
	return parse_domains(ds, what, r, err);
}

int est_record_load(const char *state_dir, struct est_record *r, sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int ret;

	memset(r, 0, sizeof(*r));
	if (asprintf(&path, "%s/%s", state_dir, EST_RECORD_FILE) < 0)
		return sp_error_set(err, ENOMEM, "read the last estimate");
	ret = read_file_bounded(AT_FDCWD, path, EST_RECORD_MAX, &buf, &len, err);
	if (ret == -ENOENT) {
		sp_error_free(err);
		return -ENOENT;
	}
	if (ret == 0)
		ret = sp_json_parse(buf, len, path, &o, err);
	if (ret == 0)
		ret = parse_record(o, path, r, err);
	if (ret < 0)
		est_record_free(r);
	return ret;
}

void est_record_free(struct est_record *r)
{
	size_t i;

	for (i = 0; i < r->n_domains; i++)
		free(r->domains[i].domain);
	free(r->domains);
	memset(r, 0, sizeof(*r));
}

const struct est_record_domain *est_record_find(const struct est_record *r, const char *domain)
{
	size_t i;

	for (i = 0; domain && i < r->n_domains; i++)
		if (strcmp(r->domains[i].domain, domain) == 0)
			return &r->domains[i];
	return NULL;
}

double est_record_ratio(int64_t saved_bytes, int64_t achievable_bytes)
{
	double q;

	if (achievable_bytes <= 0)
		return -1;
	q = (double)(saved_bytes < 0 ? 0 : saved_bytes) / (double)achievable_bytes;
	return q > 1 ? 1 : q;
}
