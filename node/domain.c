/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/domain.h"

#define LABEL_RULE "1-63 of a-z, 0-9 and '-', starting and ending with a letter or digit"
#define WANT_LABEL "want " LABEL_RULE
#define WANT_DOMAIN "want k8s/NS, k8s/NS/NAME, group/G, group/G/NAME or local/NAME, each part " LABEL_RULE

static bool label_valid_n(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > SP_DOMAIN_LABEL_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && !(c == '-' && i > 0 && i < len - 1))
			return false;
	}
	return true;
}

bool sp_domain_label_valid(const char *s)
{
	return label_valid_n(s, strlen(s));
}

bool sp_domain_valid(const char *domain)
{
	const char *rest, *slash;

	/* local/ has one part: its name is the narrowest there is. */
	if (strncmp(domain, "local/", 6) == 0)
		return sp_domain_label_valid(domain + 6);
	if (strncmp(domain, "k8s/", 4) == 0)
		rest = domain + 4;
	else if (strncmp(domain, "group/", 6) == 0)
		rest = domain + 6;
	else
		return false;
	slash = strchr(rest, '/');
	if (!slash)
		return sp_domain_label_valid(rest);
	return label_valid_n(rest, (size_t)(slash - rest)) && sp_domain_label_valid(slash + 1);
}

static const char *ellipsis(const char *s)
{
	return strlen(s) > 64 ? "..." : "";
}

int sp_domain_check(const char *domain, sp_error_t *err)
{
	if (sp_domain_valid(domain))
		return 0;
	return sp_error_setx(err, EINVAL, "invalid domain `%.64s%s` (" WANT_DOMAIN ")", domain, ellipsis(domain));
}

int sp_domain_label_check(const char *label, sp_error_t *err)
{
	if (sp_domain_label_valid(label))
		return 0;
	return sp_error_setx(err, EINVAL, "invalid domain `%.64s%s` (" WANT_LABEL ")", label, ellipsis(label));
}

static int format_domain(char **domain, sp_error_t *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int format_domain(char **domain, sp_error_t *err, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(domain, fmt, ap);
	va_end(ap);
	if (ret < 0) {
		*domain = NULL;
		return sp_error_set(err, ENOMEM, "domain");
	}
	return 0;
}

/* The value of key, checked to be a label; NULL when absent. */
static int label_annotation(const struct sp_annotation *anns, size_t n, const char *key, const char **out,
			    sp_error_t *err)
{
	const struct sp_annotation *found = NULL;
	size_t i;

	*out = NULL;
	for (i = 0; i < n; i++) {
		if (strcmp(anns[i].key, key) != 0)
			continue;
		if (found)
			return sp_error_setx(err, EINVAL, "annotation `%s`: given twice", key);
		found = &anns[i];
	}
	if (!found)
		return 0;
	/* What an admission rule saw is the whole value: never use a prefix. */
	if (strlen(found->value) != found->value_len)
		return sp_error_setx(err, EINVAL, "annotation `%s`: value contains a NUL byte", key);
	if (sp_domain_label_check(found->value, err) < 0)
		return sp_error_wrap(err, "annotation `%s`", key);
	*out = found->value;
	return 0;
}

static bool has_key(const struct sp_annotation *anns, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(anns[i].key, key) == 0)
			return true;
	return false;
}

/* Plainly a Kubernetes container: the runtime's own container-type key. */
static const char *kubernetes_marker(const struct sp_annotation *anns, size_t n)
{
	if (has_key(anns, n, CRIO_ANNOTATION_CONTAINER_TYPE))
		return CRIO_ANNOTATION_CONTAINER_TYPE;
	if (has_key(anns, n, CONTAINERD_ANNOTATION_CONTAINER_TYPE))
		return CONTAINERD_ANNOTATION_CONTAINER_TYPE;
	return NULL;
}

static const char *namespace_group(const struct sp_config *cfg, const char *ns)
{
	size_t i;

	for (i = 0; i < cfg->n_groups; i++)
		if (strcmp(cfg->groups[i].ns, ns) == 0)
			return cfg->groups[i].group;
	return NULL;
}

static int kubernetes_domain(const struct sp_config *cfg, const char *ns, const char *name, char **domain,
			     sp_error_t *err)
{
	const char *group = namespace_group(cfg, ns);
	const char *base = group ? "group" : "k8s";
	const char *part = group ? group : ns;

	/* Naming one's own namespace (or group) narrows nothing. */
	if (!name || strcmp(name, part) == 0)
		return format_domain(domain, err, "%s/%s", base, part);
	return format_domain(domain, err, "%s/%s/%s", base, part, name);
}

int sp_domain_derive(const struct sp_annotation *anns, size_t n, const struct sp_config *cfg, char **domain,
		     sp_error_t *err)
{
	const char *name, *ns = NULL, *marker;
	int ret;

	*domain = NULL;
	ret = label_annotation(anns, n, SP_ANNOTATION_DOMAIN_KEY, &name, err);
	if (ret < 0)
		return ret;
	if (cfg->namespace_annotation) {
		ret = label_annotation(anns, n, cfg->namespace_annotation, &ns, err);
		if (ret < 0)
			return ret;
	}
	if (ns)
		return kubernetes_domain(cfg, ns, name, domain, err);

	marker = kubernetes_marker(anns, n);
	if (marker && cfg->namespace_annotation)
		return sp_error_setx(err, EPERM,
				     "annotation `%s` marks a Kubernetes container, but the trusted namespace annotation `%s` "
				     "(namespace_annotation in samepage.conf) is missing",
				     marker, cfg->namespace_annotation);
	if (marker)
		return sp_error_setx(err, EPERM,
				     "annotation `%s` marks a Kubernetes container, but samepage.conf names no "
				     "namespace_annotation to take its namespace from",
				     marker);
	return format_domain(domain, err, "local/%s", name ? name : "default");
}

int sp_domain_from_option(const char *value, char **domain, sp_error_t *err)
{
	int ret;

	*domain = NULL;
	if (strchr(value, '/'))
		ret = sp_domain_check(value, err);
	else
		ret = sp_domain_label_check(value, err);
	if (ret < 0)
		return ret;
	if (strchr(value, '/'))
		return format_domain(domain, err, "%s", value);
	return format_domain(domain, err, "local/%s", value);
}
