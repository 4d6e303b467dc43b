/* SPDX-License-Identifier: GPL-2.0-or-later */
/* node/domain: the domain a container gets from its annotations and the
 * node's config, as a table; the forms a domain may have; --domain. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "node/config.h"
#include "node/domain.h"

#define CRIO_NS "io.kubernetes.pod.namespace"
#define CTRD_NS "io.kubernetes.cri.sandbox-namespace"
#define CRIO_TYPE "io.kubernetes.cri-o.ContainerType"
#define CTRD_TYPE "io.kubernetes.cri.container-type"
#define DOMAIN "samepage.io/domain"

/* Config of each row. */
enum node_kind {
	NODE_NONE,       /* no namespace_annotation (a plain runc/podman node) */
	NODE_CRIO,
	NODE_CONTAINERD,
	NODE_CRIO_GROUPS, /* CRI-O, with "domains": {"ci": ["ci-a", "ci-b"]} */
};

struct row {
	const char *what;
	enum node_kind node;
	/* key, value pairs; a value of NULL ends the list */
	const char *anns[10];
	const char *want;        /* the domain, or NULL for an error */
	int want_errno;
	const char *want_msg;    /* part of the error */
};

/* OK(what, node, domain, key, value, ...); BAD(what, node, errno, part of the message, key, value, ...) */
#define OK(w, n, d, ...) { .what = w, .node = n, .want = d, .anns = { __VA_ARGS__ } }
#define BAD(w, n, e, m, ...) { .what = w, .node = n, .want_errno = e, .want_msg = m, .anns = { __VA_ARGS__ } }

static const struct row rows[] = {
	/* CRI-O: io.kubernetes.pod.namespace is set by CRI-O after the pod's annotations */
	OK("crio namespace", NODE_CRIO, "k8s/team-a",
	   CRIO_TYPE, "container", CRIO_NS, "team-a"),
	OK("crio sub-domain", NODE_CRIO, "k8s/team-a/web",
	   CRIO_TYPE, "container", CRIO_NS, "team-a", DOMAIN, "web"),
	OK("crio own namespace narrows nothing", NODE_CRIO, "k8s/team-a",
	   CRIO_NS, "team-a", DOMAIN, "team-a"),
	/* containerd: io.kubernetes.cri.sandbox-namespace */
	OK("containerd namespace", NODE_CONTAINERD, "k8s/team-a",
	   CTRD_TYPE, "container", CTRD_NS, "team-a"),
	OK("containerd sub-domain", NODE_CONTAINERD, "k8s/team-a/db",
	   CTRD_TYPE, "container", CTRD_NS, "team-a", DOMAIN, "db"),
	/* both keys present: the one this node does not trust is the tenant's */
	OK("crio node ignores the containerd key", NODE_CRIO, "k8s/team-b",
	   CRIO_TYPE, "container", CRIO_NS, "team-b", CTRD_NS, "team-a"),
	OK("containerd node ignores the crio key", NODE_CONTAINERD, "k8s/team-b",
	   CTRD_TYPE, "container", CTRD_NS, "team-b", CRIO_NS, "team-a"),
	/* spoof attempts stay inside the tenant's namespace */
	OK("domain naming another namespace", NODE_CRIO, "k8s/team-b/team-a",
	   CRIO_TYPE, "container", CRIO_NS, "team-b", DOMAIN, "team-a"),
	BAD("domain with a slash", NODE_CRIO, EINVAL, "annotation `samepage.io/domain`: invalid domain `k8s/team-a`",
	    CRIO_NS, "team-b", DOMAIN, "k8s/team-a"),
	BAD("domain ../", NODE_CRIO, EINVAL, "annotation `samepage.io/domain`: invalid domain `../team-a`",
	    CRIO_NS, "team-b", DOMAIN, "../team-a"),
	OK("domain naming a group", NODE_CRIO_GROUPS, "k8s/team-b/ci",
	   CRIO_NS, "team-b", DOMAIN, "ci"),
	BAD("namespace with a slash", NODE_CRIO, EINVAL,
	    "annotation `io.kubernetes.pod.namespace`: invalid domain `a/b`",
	    CRIO_NS, "a/b"),
	BAD("untrusted key alone under Kubernetes", NODE_CRIO, EPERM,
	    "annotation `io.kubernetes.cri-o.ContainerType` marks a Kubernetes container, but the trusted namespace "
	    "annotation `io.kubernetes.pod.namespace` (namespace_annotation in samepage.conf) is missing",
	    CRIO_TYPE, "container", CTRD_NS, "team-a"),
	/* the admin's mapping */
	OK("group member", NODE_CRIO_GROUPS, "group/ci",
	   CRIO_NS, "ci-a"),
	OK("other group member", NODE_CRIO_GROUPS, "group/ci",
	   CRIO_NS, "ci-b"),
	OK("group member narrowed", NODE_CRIO_GROUPS, "group/ci/build",
	   CRIO_NS, "ci-b", DOMAIN, "build"),
	OK("group member naming the group", NODE_CRIO_GROUPS, "group/ci",
	   CRIO_NS, "ci-a", DOMAIN, "ci"),
	OK("namespace outside the group", NODE_CRIO_GROUPS, "k8s/ci-c",
	   CRIO_NS, "ci-c"),
	/* outside Kubernetes */
	OK("no annotations", NODE_CRIO, "local/default",
	   NULL),
	OK("local name", NODE_NONE, "local/team-a",
	   DOMAIN, "team-a"),
	OK("local name on a Kubernetes node", NODE_CONTAINERD, "local/team-a",
	   DOMAIN, "team-a"),
	OK("namespace key on a node that trusts none", NODE_NONE, "local/default",
	   CRIO_NS, "team-a"),
	/* missing trusted namespace under Kubernetes: fail closed */
	BAD("crio without its namespace", NODE_CRIO, EPERM, "is missing",
	    CRIO_TYPE, "container", DOMAIN, "team-a"),
	BAD("containerd without its namespace", NODE_CONTAINERD, EPERM,
	    "annotation `io.kubernetes.cri.container-type` marks a Kubernetes container, but the trusted namespace "
	    "annotation `io.kubernetes.cri.sandbox-namespace`",
	    CTRD_TYPE, "container"),
	BAD("Kubernetes on a node that trusts no key", NODE_NONE, EPERM, "samepage.conf names no namespace_annotation",
	    CRIO_TYPE, "container", CRIO_NS, "team-a"),
	/* values: alphabet, length, duplicates */
	BAD("upper case", NODE_NONE, EINVAL,
	    "annotation `samepage.io/domain`: invalid domain `Team_A` (want 1-63 of a-z, 0-9 and '-'",
	    DOMAIN, "Team_A"),
	BAD("empty", NODE_NONE, EINVAL, "annotation `samepage.io/domain`: invalid domain ``",
	    DOMAIN, ""),
	BAD("leading dash", NODE_CRIO, EINVAL, "annotation `io.kubernetes.pod.namespace`",
	    CRIO_NS, "-a"),
	BAD("dot", NODE_NONE, EINVAL, "invalid domain `a.b`",
	    DOMAIN, "a.b"),
	BAD("over-long domain", NODE_NONE, EINVAL, "annotation `samepage.io/domain`: invalid domain `aaaa",
	    DOMAIN, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	OK("63 characters", NODE_NONE, "local/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	   DOMAIN, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	BAD("over-long namespace", NODE_CRIO, EINVAL, "annotation `io.kubernetes.pod.namespace`: invalid domain",
	    CRIO_NS, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	BAD("key given twice", NODE_NONE, EINVAL, "annotation `samepage.io/domain`: given twice",
	    DOMAIN, "a", DOMAIN, "b"),
};

static void load_node(enum node_kind node, struct sp_config *cfg)
{
	static const char *const json[] = {
		[NODE_NONE] = "{}",
		[NODE_CRIO] = "{\"namespace_annotation\": \"" CRIO_NS "\"}",
		[NODE_CONTAINERD] = "{\"namespace_annotation\": \"" CTRD_NS "\"}",
		[NODE_CRIO_GROUPS] = "{\"namespace_annotation\": \"" CRIO_NS "\", \"domains\": {\"ci\": [\"ci-a\", \"ci-b\"]}}",
	};
	sp_error_t err = NULL;

	sp_config_defaults(cfg);
	if (sp_config_parse(json[node], "test.conf", cfg, &err) < 0)
		fail_msg("config: %s", sp_error_msg(err));
}

static size_t row_annotations(const struct row *r, struct sp_annotation *anns)
{
	size_t n = 0;

	while (n < 5 && r->anns[2 * n]) {
		anns[n] = (struct sp_annotation){ (char *)r->anns[2 * n], (char *)r->anns[2 * n + 1], strlen(r->anns[2 * n + 1]) };
		n++;
	}
	return n;
}

static void test_derivation_table(void **unused)
{
	size_t i, n;

	(void)unused;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct sp_annotation anns[5];
		struct sp_config cfg;
		sp_error_t err = NULL;
		char *domain = (char *)"unset";
		int ret;

		load_node(r->node, &cfg);
		n = row_annotations(r, anns);
		ret = sp_domain_derive(anns, n, &cfg, &domain, &err);
		if (r->want) {
			if (ret != 0)
				fail_msg("%s: error %d: %s", r->what, ret, sp_error_msg(err));
			if (strcmp(domain, r->want) != 0)
				fail_msg("%s: domain `%s`, want `%s`", r->what, domain, r->want);
			assert_true(sp_domain_valid(domain));
		} else {
			if (ret != -r->want_errno)
				fail_msg("%s: returned %d (domain %s), want -%d", r->what, ret, ret == 0 ? domain : "-",
					 r->want_errno);
			assert_null(domain);
			if (!strstr(sp_error_msg(err), r->want_msg))
				fail_msg("%s: message `%s` does not contain `%s`", r->what, sp_error_msg(err), r->want_msg);
		}
		free(ret == 0 ? domain : NULL);
		sp_error_free(&err);
		sp_config_free(&cfg);
	}
}

/* "team-a\u0000x": the JSON value is 8 bytes, what C sees is "team-a".
 * An admission rule saw all 8; the hook must not use the 6. */
static void test_nul_in_value_is_refused(void **unused)
{
	static const char value[] = "team-a\0x";
	struct sp_annotation ns[] = { { (char *)CRIO_NS, (char *)value, sizeof(value) - 1 } };
	struct sp_annotation dom[] = { { (char *)CRIO_NS, (char *)"team-b", 6 }, { (char *)DOMAIN, (char *)value, sizeof(value) - 1 } };
	struct sp_config cfg;
	sp_error_t err = NULL;
	char *domain = NULL;

	(void)unused;
	load_node(NODE_CRIO, &cfg);
	assert_int_equal(sp_domain_derive(ns, 1, &cfg, &domain, &err), -EINVAL);
	assert_null(domain);
	assert_string_equal(sp_error_msg(err), "annotation `io.kubernetes.pod.namespace`: value contains a NUL byte");
	sp_error_free(&err);
	assert_int_equal(sp_domain_derive(dom, 2, &cfg, &domain, &err), -EINVAL);
	assert_string_equal(sp_error_msg(err), "annotation `samepage.io/domain`: value contains a NUL byte");
	sp_error_free(&err);
	sp_config_free(&cfg);
}

static void test_full_forms(void **unused)
{
	static const char *const good[] = {
		"local/default", "local/a", "k8s/team-a", "k8s/team-a/web", "group/ci", "group/ci/build",
	};
	static const char *const bad[] = {
		"", "default", "team-a", "local/", "local/a/b", "k8s/", "k8s//a", "k8s/a/", "k8s/a/b/c", "k8s/A",
		"k8s/../a", "group/a b", "other/a", "/k8s/a", "k8s/a\n",
	};
	char long_label[80], buf[200];
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!sp_domain_valid(good[i]))
			fail_msg("`%s` should be valid", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sp_domain_valid(bad[i]))
			fail_msg("`%s` should be invalid", bad[i]);
	memset(long_label, 'a', 63);
	long_label[63] = '\0';
	snprintf(buf, sizeof(buf), "k8s/%s/%s", long_label, long_label);
	assert_true(sp_domain_valid(buf));
	assert_true(strlen(buf) <= SP_DOMAIN_MAX);
	long_label[63] = 'a';
	long_label[64] = '\0';
	assert_false(sp_domain_label_valid(long_label));
	snprintf(buf, sizeof(buf), "local/%s", long_label);
	assert_false(sp_domain_valid(buf));
}

static void test_from_option(void **unused)
{
	sp_error_t err = NULL;
	char *d = NULL;

	(void)unused;
	assert_int_equal(sp_domain_from_option("team-a", &d, &err), 0);
	assert_string_equal(d, "local/team-a");
	free(d);
	assert_int_equal(sp_domain_from_option("k8s/team-a/web", &d, &err), 0);
	assert_string_equal(d, "k8s/team-a/web");
	free(d);
	assert_int_equal(sp_domain_from_option("Team_A", &d, &err), -EINVAL);
	assert_null(d);
	assert_non_null(strstr(sp_error_msg(err), "invalid domain `Team_A` (want 1-63 of a-z, 0-9 and '-'"));
	sp_error_free(&err);
	assert_int_equal(sp_domain_from_option("k8s/a/b/c", &d, &err), -EINVAL);
	assert_non_null(strstr(sp_error_msg(err), "invalid domain `k8s/a/b/c` (want k8s/NS"));
	sp_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derivation_table),
		cmocka_unit_test(test_nul_in_value_is_refused),
		cmocka_unit_test(test_full_forms),
		cmocka_unit_test(test_from_option),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
