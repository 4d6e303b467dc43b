/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * node/doctor-wiring: doctor's checks of the containerd and CRI-O wiring,
 * on recorded files (test/unit/data/wiring/, README.md there): each result
 * names the file and, unless ok, the fix.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "node/config.h"
#include "node/doctor.h"
#include "node/doctor-wiring.h"

#define DATA "test/unit/data/wiring/"

static char dir[] = "/tmp/sp-test-wiring.XXXXXX";
static char path_buf[4][512];

/* dir/name, in one of four rotating buffers. */
static const char *at(const char *name)
{
	static unsigned int i;
	char *p = path_buf[i++ % 4];

	snprintf(p, sizeof(path_buf[0]), "%s/%s", dir, name);
	return p;
}

/* A recorded file into dir, with @DIR@ replaced by dir and, when drop is
 * not NULL, the lines containing it left out. */
static void install(const char *recorded, const char *name, const char *drop)
{
	_cleanup_free_ char *in = NULL;
	char *line, *save = NULL;
	FILE *out;

	assert_int_equal(read_file_bounded(AT_FDCWD, recorded, 1 << 20, &in, NULL, NULL), 0);
	out = fopen(at(name), "w");
	assert_non_null(out);
	for (line = strtok_r(in, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tag;

		if (drop && strstr(line, drop))
			continue;
		while ((tag = strstr(line, "@DIR@"))) {
			fprintf(out, "%.*s%s", (int)(tag - line), line, dir);
			line = tag + 5;
		}
		fprintf(out, "%s\n", line);
	}
	assert_int_equal(fclose(out), 0);
}

static void write_text(const char *name, const char *text, mode_t mode)
{
	assert_int_equal(write_file_atomic(at(name), text, strlen(text), mode, NULL), 0);
}

static int setup(void **unused)
{
	(void)unused;
	strcpy(dir, "/tmp/sp-test-wiring.XXXXXX");
	assert_non_null(mkdtemp(dir));
	write_text("samepage-hook", "#!/bin/sh\n", 0755);
	install(DATA "containerd-base-spec.json", "samepage-base-spec.json", NULL);
	return 0;
}

static int teardown(void **unused)
{
	char cmd[600];

	(void)unused;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static const struct doctor_check *check(const struct doctor_report *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->checks[i].name, name) == 0)
			return &r->checks[i];
	return NULL;
}

static void assert_check(const struct doctor_report *r, const char *name, enum doctor_status st, const char *reason,
			 const char *action)
{
	const struct doctor_check *c = check(r, name);

	if (!c)
		fail_msg("no check %s", name);
	if (c->status != st || !strstr(c->reason, reason) || (action && (!c->action || !strstr(c->action, action))))
		fail_msg("%s: %s: %s (fix: %s)", name, doctor_status_name(c->status), c->reason,
			 c->action ? c->action : "none");
}

static void cfg_with_key(struct sp_config *cfg, const char *key)
{
	sp_config_defaults(cfg);
	cfg->namespace_annotation = key ? strdup(key) : NULL;
}

static void test_containerd_wired(void **unused)
{
	struct doctor_report r = { 0 };
	struct sp_config cfg;

	(void)unused;
	cfg_with_key(&cfg, CONTAINERD_NAMESPACE_KEY);
	install(DATA "containerd-wired.toml", "config.toml", NULL);
	assert_int_equal(doctor_check_containerd(&r, at("config.toml"), true, &cfg), 0);
	assert_int_equal(r.n, 4);
	assert_check(&r, "containerd_handler", DOCTOR_OK, at("config.toml"), NULL);
	assert_check(&r, "containerd_spec", DOCTOR_OK, at("samepage-base-spec.json"), NULL);
	assert_check(&r, "containerd_annotations", DOCTOR_OK, "samepage.io/*", NULL);
	assert_check(&r, "containerd_namespace", DOCTOR_OK, CONTAINERD_NAMESPACE_KEY, NULL);
	doctor_report_free(&r);

	/* CRI-O's key on a containerd node: every annotated pod is refused. */
	free(cfg.namespace_annotation);
	cfg.namespace_annotation = strdup(CRIO_NAMESPACE_KEY);
	assert_int_equal(doctor_check_containerd(&r, at("config.toml"), true, &cfg), 0);
	assert_check(&r, "containerd_namespace", DOCTOR_FAIL, CRIO_NAMESPACE_KEY, "packaging/containerd/samepage.conf");
	doctor_report_free(&r);
	sp_config_free(&cfg);
}

static void test_containerd_broken(void **unused)
{
	struct doctor_report r = { 0 };

	(void)unused;
	install(DATA "containerd-wired.toml", "config.toml", NULL);
	/* The base spec gone: containerd would not load its CRI plugin. */
	assert_int_equal(unlink(at("samepage-base-spec.json")), 0);
	assert_int_equal(doctor_check_containerd(&r, at("config.toml"), true, NULL), 0);
	assert_check(&r, "containerd_spec", DOCTOR_FAIL, "no pod starts", "samepage-containerd-spec refresh");
	assert_check(&r, "containerd_spec", DOCTOR_FAIL, at("samepage-base-spec.json"), NULL);
	assert_null(check(&r, "containerd_namespace")); /* no config loaded */
	doctor_report_free(&r);

	/* The hook not executable: pods of the handler fail. */
	install(DATA "containerd-base-spec.json", "samepage-base-spec.json", NULL);
	assert_int_equal(chmod(at("samepage-hook"), 0644), 0);
	assert_int_equal(doctor_check_containerd(&r, at("config.toml"), true, NULL), 0);
	assert_check(&r, "containerd_spec", DOCTOR_FAIL, at("samepage-hook"), "install samepage-hook");
	doctor_report_free(&r);

	/* A spec with ctr's rlimits (made by hand from `ctr oci spec`). */
	assert_int_equal(chmod(at("samepage-hook"), 0755), 0);
	write_text("samepage-base-spec.json",
		   "{\"process\": {\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}]},"
		   " \"hooks\": {\"createRuntime\": [{\"path\": \"/bin/true\"}], \"poststop\": [{\"path\": \"/bin/true\"}]}}",
		   0644);
	assert_int_equal(doctor_check_containerd(&r, at("config.toml"), true, NULL), 0);
	assert_check(&r, "containerd_spec", DOCTOR_WARN, "rlimits", "refresh");
	doctor_report_free(&r);

	/* No pod_annotations: samepage.io/merge never reaches the hook. */
	install(DATA "containerd-base-spec.json", "samepage-base-spec.json", NULL);
	install(DATA "containerd-wired.toml", "config.toml", "pod_annotations");
	assert_int_equal(doctor_check_containerd(&r, at("config.toml"), true, NULL), 0);
	assert_check(&r, "containerd_annotations", DOCTOR_FAIL, "samepage.io/merge", "pod_annotations = [\"samepage.io/*\"]");
	assert_check(&r, "containerd_annotations", DOCTOR_FAIL, at("config.toml"), NULL);
	assert_check(&r, "containerd_spec", DOCTOR_OK, "", NULL);
	doctor_report_free(&r);

	/* Only merge passed: domain and required are lost. */
	{
		FILE *f = fopen(at("config.toml"), "w");

		assert_non_null(f);
		fprintf(f, "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc-samepage]\n"
			   "  base_runtime_spec = \"%s\"\n  pod_annotations = [\"samepage.io/merge\"]\n",
			at("samepage-base-spec.json"));
		fclose(f);
	}
	assert_int_equal(doctor_check_containerd(&r, at("config.toml"), true, NULL), 0);
	assert_check(&r, "containerd_annotations", DOCTOR_FAIL, "samepage.io/domain", NULL);
	doctor_report_free(&r);
}

static void test_containerd_unwired(void **unused)
{
	struct doctor_report r = { 0 };
	struct sp_config cfg;

	(void)unused;
	cfg_with_key(&cfg, CONTAINERD_NAMESPACE_KEY);
	/* Debian 12's own config: no handler, nothing else to say. */
	assert_int_equal(doctor_check_containerd(&r, DATA "containerd-debian12-default.toml", true, &cfg), 0);
	assert_int_equal(r.n, 1);
	assert_check(&r, "containerd_handler", DOCTOR_OK, "no runtime handler runc-samepage",
		     "samepage-containerd-spec install");
	doctor_report_free(&r);

	/* No config and no containerd: no containerd checks at all. */
	assert_int_equal(doctor_check_containerd(&r, at("missing.toml"), false, &cfg), 0);
	assert_int_equal(r.n, 0);
	/* containerd without a config file. */
	assert_int_equal(doctor_check_containerd(&r, at("missing.toml"), true, &cfg), 0);
	assert_check(&r, "containerd_handler", DOCTOR_OK, at("missing.toml"), "samepage-containerd-spec install");
	doctor_report_free(&r);

	/* The default runtime wired (what the first docs did): fails. */
	write_text("config.toml",
		   "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"runc\"\n"
		   "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
		   "  runtime_type = \"io.containerd.runc.v2\"\n",
		   0644);
	{
		FILE *f = fopen(at("config.toml"), "a");

		assert_non_null(f);
		fprintf(f, "  base_runtime_spec = \"%s\"\n  pod_annotations = [\n    \"samepage.io/*\",\n  ]\n",
			at("samepage-base-spec.json"));
		fclose(f);
	}
	assert_int_equal(doctor_check_containerd(&r, at("config.toml"), true, &cfg), 0);
	assert_check(&r, "containerd_default", DOCTOR_FAIL, "every pod on the node depends on it", "RuntimeClass");
	assert_check(&r, "containerd_handler", DOCTOR_OK, "no runtime handler", NULL);
	doctor_report_free(&r);
	sp_config_free(&cfg);
}

/* containerd 2.x (config version 3) names the CRI runtime plugin otherwise. */
static void test_containerd_v3(void **unused)
{
	struct doctor_report r = { 0 };
	FILE *f;

	(void)unused;
	f = fopen(at("config.toml"), "w");
	assert_non_null(f);
	fprintf(f, "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc-samepage]\n"
		   "  runtime_type = 'io.containerd.runc.v2'\n  base_runtime_spec = '%s'\n"
		   "  pod_annotations = ['samepage.io/*']\n", at("samepage-base-spec.json"));
	fclose(f);
	assert_int_equal(doctor_check_containerd(&r, at("config.toml"), true, NULL), 0);
	assert_check(&r, "containerd_handler", DOCTOR_OK, "runtime handler runc-samepage", NULL);
	assert_check(&r, "containerd_spec", DOCTOR_OK, "", NULL);
	assert_check(&r, "containerd_annotations", DOCTOR_OK, "", NULL);
	doctor_report_free(&r);
}

static void test_crio(void **unused)
{
	const char *hooks[1];
	struct doctor_report r = { 0 };
	struct sp_config cfg;
	char hooks_d[512], conf_d[512];

	(void)unused;
	cfg_with_key(&cfg, CRIO_NAMESPACE_KEY);
	snprintf(hooks_d, sizeof(hooks_d), "%s", at("hooks.d"));
	snprintf(conf_d, sizeof(conf_d), "%s", at("crio.conf.d"));
	hooks[0] = hooks_d;
	assert_int_equal(mkdir(hooks_d, 0755), 0);
	assert_int_equal(mkdir(conf_d, 0755), 0);

	/* Not installed, no drop-in directory: nothing. */
	assert_int_equal(doctor_check_crio(&r, hooks, 1, at("none"), false, &cfg), 0);
	assert_int_equal(r.n, 0);

	/* CRI-O without the hooks.d files. */
	assert_int_equal(doctor_check_crio(&r, hooks, 1, conf_d, true, &cfg), 0);
	assert_check(&r, "crio_hook", DOCTOR_WARN, hooks_d, "packaging/hooks.d");
	assert_check(&r, "crio_config", DOCTOR_OK, conf_d, NULL);
	assert_check(&r, "crio_namespace", DOCTOR_OK, CRIO_NAMESPACE_KEY, NULL);
	doctor_report_free(&r);

	/* The shipped files, the hook where they say (here: dir). */
	install("packaging/hooks.d/samepage.json", "hooks.d/samepage.json", NULL);
	install("packaging/hooks.d/samepage-poststop.json", "hooks.d/samepage-poststop.json", NULL);
	{
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "sed -i 's|/usr/libexec/samepage/samepage-hook|%s|' %s/*.json", at("samepage-hook"),
			 hooks_d);
		assert_int_equal(system(cmd), 0);
	}
	install("packaging/cri-o/50-samepage.conf", "crio.conf.d/50-samepage.conf", NULL);
	assert_int_equal(doctor_check_crio(&r, hooks, 1, conf_d, true, &cfg), 0);
	assert_check(&r, "crio_hook", DOCTOR_OK, "samepage.json", NULL);
	assert_check(&r, "crio_config", DOCTOR_OK, "", NULL);
	doctor_report_free(&r);

	/* The first shipped drop-in, with allowed_annotations: CRI-O >= 1.21
	 * refuses it.  And containerd's key on a CRI-O node (tenant-set). */
	install(DATA "crio-50-samepage-v0.conf", "crio.conf.d/50-samepage.conf", NULL);
	free(cfg.namespace_annotation);
	cfg.namespace_annotation = strdup(CONTAINERD_NAMESPACE_KEY);
	assert_int_equal(doctor_check_crio(&r, hooks, 1, conf_d, true, &cfg), 0);
	assert_check(&r, "crio_config", DOCTOR_FAIL, "50-samepage.conf", "allowed_annotations");
	assert_check(&r, "crio_namespace", DOCTOR_FAIL, "a tenant sets the key", "packaging/cri-o/samepage.conf");
	doctor_report_free(&r);

	/* A hooks.d file whose annotation key does not match samepage.io/merge. */
	{
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "sed -i 's|merge\\$|enable$|' %s/samepage.json", hooks_d);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(doctor_check_crio(&r, hooks, 1, conf_d, true, NULL), 0);
	assert_check(&r, "crio_hook", DOCTOR_FAIL, "no when.annotations key matches samepage.io/merge", NULL);
	assert_null(check(&r, "crio_namespace"));
	doctor_report_free(&r);
	sp_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_containerd_wired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_containerd_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_containerd_unwired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_containerd_v3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crio, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
