/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oci/bundle: editing a config.json is idempotent, keeps foreign hooks and
 * everything outside `hooks`, replaces old samepage entries, removes back
 * to the original, and refuses what is not an OCI runtime config with the
 * field named.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "oci/bundle.h"
#include "oci/seccomp-profile.h"

static const char base_config[] =
	"{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"sh\"]},"
	" \"hooks\": {\"prestart\": [{\"path\": \"/bin/true\"}],"
	" \"poststop\": [{\"path\": \"/bin/true\", \"args\": [\"true\"]},"
	" {\"path\": \"/old/samepage-hook\", \"args\": [\"samepage-hook\", \"poststop\"]}]}}";

static char *edit(const char *in, const struct oci_bundle_hook *h)
{
	sp_error_t err = NULL;
	char *out = NULL;

	assert_int_equal(oci_bundle_edit(in, strlen(in), "t.json", h, &out, &err), 0);
	assert_null(err);
	assert_int_equal(out[strlen(out) - 1], '\n');
	return out;
}

static json_object *parse(const char *text)
{
	json_object *o = NULL;

	assert_int_equal(sp_json_parse(text, strlen(text), "out", &o, NULL), 0);
	return o;
}

static json_object *stage(json_object *root, const char *name)
{
	json_object *hooks, *s;

	if (!json_object_object_get_ex(root, "hooks", &hooks) || !json_object_object_get_ex(hooks, name, &s))
		return NULL;
	return s;
}

static void test_add_replace_remove(void **state)
{
	const struct oci_bundle_hook h = { .path = "/usr/libexec/samepage/samepage-hook", .state_dir = "/run/sp",
					   .timeout = 5 };
	const struct oci_bundle_hook h2 = { .path = "/opt/samepage-hook" };
	_cleanup_free_ char *once = NULL, *twice = NULL, *other = NULL, *removed = NULL, *orig = NULL;
	_cleanup_(json_object_putp) json_object *o = NULL, *r = NULL, *b = NULL;
	json_object *cr, *ps, *e, *v;

	(void)state;
	once = edit(base_config, &h);
	twice = edit(once, &h);
	assert_string_equal(once, twice);

	o = parse(once);
	cr = stage(o, "createRuntime");
	ps = stage(o, "poststop");
	assert_int_equal(json_object_array_length(cr), 1);
	/* the old samepage entry is gone, the foreign one stays first */
	assert_int_equal(json_object_array_length(ps), 2);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(ps, 0), "path", &v));
	assert_string_equal(json_object_get_string(v), "/bin/true");
	e = json_object_array_get_idx(cr, 0);
	assert_true(json_object_object_get_ex(e, "path", &v));
	assert_string_equal(json_object_get_string(v), h.path);
	assert_true(json_object_object_get_ex(e, "args", &v));
	assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			    "[\"samepage-hook\",\"--state-dir\",\"/run/sp\",\"createRuntime\"]");
	assert_true(json_object_object_get_ex(e, "timeout", &v));
	assert_int_equal(json_object_get_int(v), 5);
	assert_int_equal(json_object_array_length(stage(o, "prestart")), 1);

	/* another hook path replaces, never adds */
	other = edit(once, &h2);
	r = parse(other);
	assert_int_equal(json_object_array_length(stage(r, "createRuntime")), 1);
	assert_int_equal(json_object_array_length(stage(r, "poststop")), 2);

	/* removing gives back the original without samepage's entries */
	removed = edit(once, NULL);
	orig = edit(base_config, NULL);
	assert_string_equal(removed, orig);
	b = parse(removed);
	assert_null(stage(b, "createRuntime"));
	assert_int_equal(json_object_array_length(stage(b, "poststop")), 1);
}

static void test_no_hooks_left(void **state)
{
	_cleanup_free_ char *out = NULL;
	const struct oci_bundle_hook h = { .path = "/x/samepage-hook" };
	_cleanup_free_ char *added = NULL;

	(void)state;
	added = edit("{\"ociVersion\": \"1.0.2\"}", &h);
	out = edit(added, NULL);
	/* an emptied `hooks` goes too */
	assert_null(strstr(out, "hooks"));
	assert_non_null(strstr(out, "\"ociVersion\""));
}

static void refused(const char *in, size_t len, const char *want)
{
	const struct oci_bundle_hook h = { .path = "/x/samepage-hook" };
	sp_error_t err = NULL;
	char *out = NULL;

	if (len == SIZE_MAX) /* not given: the C string */
		len = strlen(in);
	assert_true(oci_bundle_edit(in, len, "bad.json", &h, &out, &err) < 0);
	assert_null(out);
	assert_non_null(strstr(sp_error_msg(err), "bad.json"));
	if (!strstr(sp_error_msg(err), want))
		fail_msg("`%s` does not say `%s`", sp_error_msg(err), want);
	sp_error_free(&err);
}

static void test_refused(void **state)
{
	(void)state;
	refused("{\"ociVersion\": \"1.0.2\", ", SIZE_MAX, "not valid JSON");
	refused("[1, 2]", SIZE_MAX, "not a JSON object");
	refused("{\"process\": {}}", SIZE_MAX, "no `ociVersion`");
	refused("{\"ociVersion\": \"1\", \"hooks\": []}", SIZE_MAX, "`hooks` must be an object");
	refused("{\"ociVersion\": \"1\", \"hooks\": {\"poststop\": {\"path\": \"/bin/true\"}}}", SIZE_MAX,
		"`hooks.poststop` must be an array");
	refused("{\"ociVersion\": \"1\", \"hooks\": {\"prestart\": [{\"args\": []}]}}", SIZE_MAX,
		"`hooks.prestart[0]` must be an object with a string `path`");
	refused("{\"ociVersion\": \"1\"}\0{}", 22, "NUL byte");
}

static void test_files(void **state)
{
	char dir[] = "/tmp/sp-test-bundle.XXXXXX";
	_cleanup_free_ char *path = NULL, *same = NULL, *text = NULL, *cfg = NULL;
	sp_error_t err = NULL;
	struct stat st;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* a bundle directory stands for its config.json, a file for itself */
	assert_int_equal(oci_bundle_config_path(dir, &path, &err), 0);
	assert_int_equal(asprintf(&cfg, "%s/config.json", dir) > 0, 1);
	assert_string_equal(path, cfg);
	assert_int_equal(oci_bundle_config_path("-", &same, &err), 0);
	assert_string_equal(same, "-");

	assert_int_equal(oci_bundle_write(path, "{\"ociVersion\": \"1.0.2\"}\n", &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(oci_bundle_write(path, "{\"ociVersion\": \"1.0.3\"}\n", &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600); /* the mode is kept */
	assert_int_equal(oci_bundle_read(path, &text, &len, &err), 0);
	assert_string_equal(text, "{\"ociVersion\": \"1.0.3\"}\n");
	assert_int_equal(unlink(path), 0);
	assert_true(oci_bundle_read(path, &text, &len, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "config.json"));
	sp_error_free(&err);
	assert_int_equal(rmdir(dir), 0);
}

/* --- seccomp: deny self-opt-in ------------------------------------------ */

static json_object *seccomp_of(const char *text, bool profile)
{
	sp_error_t err = NULL;
	_cleanup_free_ char *out = NULL;
	json_object *root, *linux_, *sc;

	if (profile)
		assert_int_equal(oci_seccomp_profile_edit(text, strlen(text), "p.json", &out, &err), 0);
	else
		assert_int_equal(oci_bundle_edit_seccomp(text, strlen(text), "t.json", &out, &err), 0);
	assert_null(err);
	root = json_tokener_parse(out);
	assert_non_null(root);
	if (profile)
		return root;
	assert_true(json_object_object_get_ex(root, "linux", &linux_));
	assert_true(json_object_object_get_ex(linux_, "seccomp", &sc));
	json_object_get(sc);
	json_object_put(root);
	return sc;
}

/* "name/action" of each entry, compact, to compare the order at a glance. */
static char *summary(json_object *profile)
{
	json_object *sc;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	assert_true(json_object_object_get_ex(profile, "syscalls", &sc));
	for (i = 0; i < json_object_array_length(sc); i++) {
		json_object *e = json_object_array_get_idx(sc, i), *names, *args;

		json_object_object_get_ex(e, "names", &names);
		fprintf(f, "%s%s:%s", i ? " " : "", json_object_to_json_string_ext(names, JSON_C_TO_STRING_PLAIN),
			json_object_get_string(json_object_object_get(e, "action")));
		if (json_object_object_get_ex(e, "args", &args))
			fprintf(f, "/%zu", json_object_array_length(args));
	}
	fclose(f);
	return buf;
}

static void test_seccomp_fragment_file(void **state)
{
	_cleanup_(json_object_putp) json_object *frag = oci_seccomp_fragment();
	_cleanup_(json_object_putp) json_object *shipped = json_object_from_file("packaging/seccomp/samepage-deny-ksm.json");
	_cleanup_(json_object_putp) json_object *fresh = seccomp_of("{\"ociVersion\": \"1.0.2\"}", false);
	_cleanup_free_ char *s = summary(frag);

	(void)state;
	assert_non_null(shipped);
	assert_true(json_object_equal(frag, shipped));
	assert_true(json_object_equal(frag, fresh));
	assert_string_equal(s, "[\"prctl\"]:SCMP_ACT_ERRNO/2 [\"madvise\"]:SCMP_ACT_ERRNO/1 [\"io_uring_setup\"]:SCMP_ACT_ERRNO");
}

/* A Docker-style profile that allows the three by name, default ERRNO:
 * they leave the allow list, the denies and the give-backs come first, and
 * editing twice is editing once. */
static void test_seccomp_merge_allow_list(void **state)
{
	static const char in[] =
		"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38, \"syscalls\": ["
		"{\"names\": [\"read\", \"prctl\", \"madvise\", \"io_uring_setup\"], \"action\": \"SCMP_ACT_ALLOW\","
		" \"args\": [], \"includes\": {}, \"excludes\": {}},"
		"{\"names\": [\"madvise\"], \"action\": \"SCMP_ACT_ERRNO\"}]}";
	_cleanup_(json_object_putp) json_object *p = seccomp_of(in, true);
	_cleanup_free_ char *s = summary(p), *again_text = NULL;
	const char *text = json_object_to_json_string(p);
	_cleanup_(json_object_putp) json_object *again = seccomp_of(text, true);

	(void)state;
	assert_string_equal(s, "[\"prctl\"]:SCMP_ACT_ERRNO/2 [\"prctl\"]:SCMP_ACT_ALLOW/1 [\"prctl\"]:SCMP_ACT_ALLOW/2 "
			       "[\"madvise\"]:SCMP_ACT_ERRNO/1 [\"madvise\"]:SCMP_ACT_ALLOW/1 "
			       "[\"io_uring_setup\"]:SCMP_ACT_ERRNO "
			       "[\"read\"]:SCMP_ACT_ALLOW/0");
	assert_true(json_object_equal(p, again));
}

/* A syscall the profile refuses already keeps its own entry; one it leaves
 * to an ALLOW default needs the deny only. */
static void test_seccomp_refused_already(void **state)
{
	static const char in[] =
		"{\"ociVersion\": \"1.0.2\", \"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\","
		" \"syscalls\": [{\"names\": [\"io_uring_setup\", \"getpid\"], \"action\": \"SCMP_ACT_KILL\"}]}}}";
	_cleanup_(json_object_putp) json_object *sc = seccomp_of(in, false);
	_cleanup_free_ char *s = summary(sc);

	(void)state;
	assert_string_equal(s, "[\"prctl\"]:SCMP_ACT_ERRNO/2 [\"madvise\"]:SCMP_ACT_ERRNO/1 "
			       "[\"io_uring_setup\"]:SCMP_ACT_KILL [\"getpid\"]:SCMP_ACT_KILL");
}

static void test_seccomp_refused(void **state)
{
	static const char *const bad[][2] = {
		{ "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"prctl\"], \"action\": \"SCMP_ACT_LOG\","
		  " \"args\": [{\"index\": 0, \"value\": 4, \"op\": \"SCMP_CMP_EQ\"}]}]}",
		  "p.json: `syscalls[0]` names prctl with conditions" },
		{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"madvise\"], \"action\": \"SCMP_ACT_ALLOW\","
		  " \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}}]}",
		  "p.json: `syscalls[0]` names madvise with conditions" },
		{ "{\"syscalls\": []}", "p.json: the seccomp profile has no `defaultAction` string" },
		{ "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}", "p.json: `syscalls` must be an array" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		sp_error_t err = NULL;
		char *out = NULL;

		assert_true(oci_seccomp_profile_edit(bad[i][0], strlen(bad[i][0]), "p.json", &out, &err) < 0);
		assert_null(out);
		assert_non_null(strstr(sp_error_msg(err), bad[i][1]));
		sp_error_free(&err);
	}
}

/* A state as a runtime would pass it, parsed the hook's way. */
static void parse_state(const char *json, struct oci_state *st)
{
	sp_error_t err = NULL;

	assert_int_equal(oci_state_parse(json, strlen(json), false, st, &err), 0);
}

static void test_annotations_match(void **state)
{
	static const char *const st_json =
		"{\"id\":\"c\",\"annotations\":{\"samepage.io/merge\":\"true\",\"samepage.io/domain\":\"team-a\","
		"\"other\":\"x\"}}";
	static const struct {
		const char *config;
		const char *msg; /* NULL: matches */
	} cases[] = {
		{ "{\"annotations\":{\"samepage.io/merge\":\"true\",\"samepage.io/domain\":\"team-a\"}}", NULL },
		/* keys outside samepage.io/ are not compared */
		{ "{\"annotations\":{\"samepage.io/merge\":\"true\",\"samepage.io/domain\":\"team-a\",\"other\":\"y\"}}",
		  NULL },
		/* crun's cut: the spec had more than the state shows */
		{ "{\"annotations\":{\"samepage.io/merge\":\"true\",\"samepage.io/domain\":\"team-a\\u0000x\"}}",
		  "annotation `samepage.io/domain`: value contains a NUL byte (in `b/config.json`)" },
		{ "{\"annotations\":{\"samepage.io/merge\":\"true\",\"samepage.io/domain\":\"team-b\"}}",
		  "annotation `samepage.io/domain`: the runtime's state differs from `b/config.json`" },
		{ "{\"annotations\":{\"samepage.io/merge\":\"true\"}}",
		  "annotation `samepage.io/domain` is in the runtime's state but not in `b/config.json`" },
		{ "{\"annotations\":{\"samepage.io/merge\":\"true\",\"samepage.io/domain\":\"team-a\","
		  "\"samepage.io/required\":\"true\"}}",
		  "annotation `samepage.io/required` is in `b/config.json` but not in the runtime's state" },
		{ "{\"annotations\":{\"samepage.io/merge\":true,\"samepage.io/domain\":\"team-a\"}}",
		  "annotation `samepage.io/merge` in `b/config.json` is not a string" },
		{ "{\"annotations\":[]}", "`annotations` is not an object" },
		{ "[]", "is not a JSON object" },
		{ "{", "not valid JSON" },
	};
	struct oci_state st;
	size_t i;

	(void)state;
	parse_state(st_json, &st);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		sp_error_t err = NULL;
		int ret = oci_bundle_annotations_match(cases[i].config, strlen(cases[i].config), "b/config.json", &st,
						       &err);

		if (!cases[i].msg) {
			assert_int_equal(ret, 0);
			continue;
		}
		assert_int_equal(ret, -EINVAL);
		if (!strstr(sp_error_msg(err), cases[i].msg))
			fail_msg("case %zu: `%s` lacks `%s`", i, sp_error_msg(err), cases[i].msg);
		sp_error_free(&err);
	}
	oci_state_free(&st);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_check_annotations_files(void **state)
{
	char dir[] = "/tmp/sp-test-bundle-ann.XXXXXX";
	_cleanup_free_ char *json = NULL, *cfg = NULL, *real = NULL, *link = NULL;
	sp_error_t err = NULL;
	struct oci_state st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&cfg, "%s/config.json", dir) > 0);
	assert_true(asprintf(&real, "%s/real.json", dir) > 0);
	assert_true(asprintf(&link, "%s.link", dir) > 0);
	assert_true(asprintf(&json, "{\"id\":\"c\",\"bundle\":\"%s\",\"annotations\":{\"samepage.io/merge\":\"true\"}}",
			     dir) > 0);
	parse_state(json, &st);

	/* no config.json at all */
	assert_int_equal(oci_bundle_check_annotations(&st, &err), -ENOENT);
	sp_error_free(&err);
	write_text(cfg, "{\"annotations\":{\"samepage.io/merge\":\"true\"}}");
	assert_int_equal(oci_bundle_check_annotations(&st, &err), 0);

	/* a symlinked config.json is not followed */
	write_text(real, "{\"annotations\":{\"samepage.io/merge\":\"true\"}}");
	assert_int_equal(unlink(cfg), 0);
	assert_int_equal(symlink(real, cfg), 0);
	assert_int_equal(oci_bundle_check_annotations(&st, &err), -ELOOP);
	assert_non_null(strstr(sp_error_msg(err), cfg));
	sp_error_free(&err);
	assert_int_equal(unlink(cfg), 0);
	write_text(cfg, "{\"annotations\":{\"samepage.io/merge\":\"true\"}}");

	/* a bundle others may write to is not trusted */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(oci_bundle_check_annotations(&st, &err), -EPERM);
	assert_non_null(strstr(sp_error_msg(err), "is writable by group or others (mode 0777)"));
	sp_error_free(&err);
	assert_int_equal(chmod(dir, 0700), 0);
	oci_state_free(&st);

	/* a bundle path that is a symlink is not followed */
	assert_int_equal(symlink(dir, link), 0);
	free(json);
	assert_true(asprintf(&json, "{\"id\":\"c\",\"bundle\":\"%s\",\"annotations\":{\"samepage.io/merge\":\"true\"}}",
			     link) > 0);
	parse_state(json, &st);
	assert_true(oci_bundle_check_annotations(&st, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), link));
	sp_error_free(&err);
	oci_state_free(&st);

	/* a state without `bundle` is not checked */
	parse_state("{\"id\":\"c\",\"annotations\":{\"samepage.io/merge\":\"true\"}}", &st);
	assert_int_equal(oci_bundle_check_annotations(&st, &err), 0);
	oci_state_free(&st);

	unlink(link);
	unlink(cfg);
	unlink(real);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_replace_remove),
		cmocka_unit_test(test_no_hooks_left),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_seccomp_fragment_file),
		cmocka_unit_test(test_seccomp_merge_allow_list),
		cmocka_unit_test(test_seccomp_refused_already),
		cmocka_unit_test(test_seccomp_refused),
		cmocka_unit_test(test_annotations_match),
		cmocka_unit_test(test_check_annotations_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
