/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel domains on a fake cgroup tree of plain files: the domain -> id
 * mapping in the node state, ksm.domain written before ksm.enable only to
 * a workload's own cgroup, `inherit` back when it goes, deny_unmanaged, and
 * the refusals.  The real controller is exercised in the guest
 * (test/kernel/test-domain-guest.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "base/json.h"
#include "cgroupfs/native.h"
#include "cgroupfs/native-domain.h"
#include "node/config.h"
#include "node/domain-kernel.h"
#include "host/proc.h"
#include "node/admit.h"
#include "node/policy.h"
#include "node/report.h"
#include "node/state.h"

static char root[64];
static pid_t admit_kids[3]; /* test_admit_kernel_policy's, killed by teardown */

static char *at(const char *rel)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", root, rel) > 0);
	return p;
}

static void put(const char *rel, const char *content)
{
	_cleanup_free_ char *path = at(rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static char *get(const char *rel)
{
	_cleanup_free_ char *path = at(rel);
	char *out = NULL;

	assert_int_equal(read_file_line(path, &out, NULL), 0);
	return out;
}

/* A cgroup of the fake tree with the ksm files and these processes. */
static void cgroup(const char *rel, const char *procs)
{
	_cleanup_free_ char *path = at(rel), *f = NULL;

	assert_int_equal(mkdir(path, 0755), 0);
	assert_true(asprintf(&f, "%s/cgroup.subtree_control", rel) > 0);
	put(f, "ksm\n");
	free(f);
	assert_true(asprintf(&f, "%s/cgroup.procs", rel) > 0);
	put(f, procs);
	free(f);
	assert_true(asprintf(&f, "%s/ksm.enable", rel) > 0);
	put(f, "0\n");
	free(f);
	assert_true(asprintf(&f, "%s/" KSM_DOMAIN_FILE, rel) > 0);
	put(f, "inherit\n");
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/sp-test-native-domain.XXXXXX");
	assert_non_null(mkdtemp(root));
	put("cgroup.controllers", "cpu ksm\n");
	put("cgroup.subtree_control", "ksm\n");
	put("cgroup.procs", "");
	ksm_native_set_root_for_testing(root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(admit_kids); i++)
		if (admit_kids[i] > 0) {
			kill(admit_kids[i], SIGKILL);
			waitpid(admit_kids[i], NULL, 0);
			admit_kids[i] = 0;
		}
	ksm_native_set_root_for_testing(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_parse_effective(void **state)
{
	static const struct {
		const char *text;
		int ret;
		bool deny;
		uint64_t id;
	} cases[] = {
		{ "deny\n", 0, true, 0 },   { "0\n", 0, false, 0 },       { "7", 0, false, 7 },
		{ "4294967296\n", 0, false, 4294967296ULL },                { "", -EINVAL, false, 0 },
		{ "-1", -EINVAL, false, 0 }, { "new", -EINVAL, false, 0 }, { "7x", -EINVAL, false, 0 },
		{ "denyx", -EINVAL, false, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ksm_domain_state d;
		sp_error_t err = NULL;

		assert_int_equal(ksm_domain_parse_effective(cases[i].text, "f", &d, &err), cases[i].ret);
		if (cases[i].ret == 0) {
			assert_int_equal(d.deny, cases[i].deny);
			assert_int_equal(d.id, cases[i].id);
		} else {
			assert_non_null(strstr(sp_error_msg(err), "`f`: unexpected value"));
		}
		sp_error_free(&err);
	}
}

/* The mapping: one id per domain, the same for its every container, kept
 * across a save and load (a samepage restart), never handed out twice. */
static void test_mapping(void **state)
{
	struct sp_state st = { 0 }, back;
	_cleanup_free_ char *json = NULL;
	sp_error_t err = NULL;
	uint64_t a, b, a2, c;

	(void)state;
	assert_int_equal(sp_kdomain_id(&st, "k8s/team-a", &a, &err), 0);
	assert_int_equal(sp_kdomain_id(&st, "k8s/team-b", &b, &err), 0);
	assert_int_equal(sp_kdomain_id(&st, "k8s/team-a", &a2, &err), 0);
	assert_int_equal(a, SP_KDOMAIN_FIRST);
	assert_int_equal(a2, a);
	assert_true(b != a);
	json = sp_state_to_json(&st);
	assert_int_equal(sp_state_parse(json, "t", &back, &err), 0);
	assert_int_equal(sp_kdomain_lookup(&back, "k8s/team-a"), a);
	assert_int_equal(sp_kdomain_lookup(&back, "k8s/team-b"), b);
	assert_int_equal(sp_kdomain_lookup(&back, "local/x"), 0);
	/* a new domain after the restart gets a new id, not a used one */
	assert_int_equal(sp_kdomain_id(&back, "local/x", &c, &err), 0);
	assert_true(c != a && c != b);
	/* ids stay below 2^31 (cgroup ids of `new` domains are >= 2^32) */
	back.kdomain_next = SP_KDOMAIN_LIMIT;
	assert_int_equal(sp_kdomain_id(&back, "local/y", &c, &err), -ENOSPC);
	assert_non_null(strstr(sp_error_msg(err), "no kernel domain id left for domain `local/y`"));
	sp_error_free(&err);
	sp_state_free(&back);
	sp_state_free(&st);
}

static void test_policy(void **state)
{
	struct sp_config cfg;
	enum sp_domain_policy p;
	sp_error_t err = NULL;
	struct sp_state st = { 0 };
	struct sp_container owner = { .id = "a", .domain = "k8s/a", .pid = 2, .enabled = true };
	struct sp_verdict v;

	(void)state;
	sp_config_defaults(&cfg);
	/* not named: kernel where the kernel has domains, else exclusive */
	assert_int_equal(sp_policy_effective(&cfg, true, "/cg", &p, &err), 0);
	assert_int_equal(p, SP_POLICY_KERNEL);
	assert_int_equal(sp_policy_effective(&cfg, false, "/cg", &p, &err), 0);
	assert_int_equal(p, SP_POLICY_EXCLUSIVE);
	/* named: as named; kernel without domains is refused, saying why */
	assert_int_equal(sp_config_parse("{\"domain_policy\": \"exclusive\"}", "c", &cfg, &err), 0);
	assert_int_equal(sp_policy_effective(&cfg, true, "/cg", &p, &err), 0);
	assert_int_equal(p, SP_POLICY_EXCLUSIVE);
	/* "auto" (the shipped configs) is the default */
	assert_int_equal(sp_config_parse("{\"domain_policy\": \"auto\"}", "c", &cfg, &err), 0);
	assert_false(cfg.domain_policy_set);
	assert_int_equal(sp_policy_effective(&cfg, true, "/cg", &p, &err), 0);
	assert_int_equal(p, SP_POLICY_KERNEL);
	assert_int_equal(sp_config_parse("{\"domain_policy\": \"kernel\"}", "c", &cfg, &err), 0);
	assert_string_equal(sp_domain_policy_name(cfg.domain_policy), "kernel");
	assert_int_equal(sp_policy_effective(&cfg, false, "/cg", &p, &err), -EPERM);
	assert_non_null(strstr(sp_error_msg(err), "domain_policy kernel: the kernel has no ksm.domain for `/cg`"));
	sp_error_free(&err);
	/* kernel admits every domain at once */
	assert_int_equal(sp_state_add(&st, &owner, &err), 0);
	v = sp_policy_decide(&st, SP_POLICY_KERNEL, "k8s/b", "");
	assert_true(v.allow);
	v = sp_policy_decide(&st, SP_POLICY_EXCLUSIVE, "k8s/b", "");
	assert_false(v.allow);
	sp_state_free(&st);
	/* deny_unmanaged: an absolute path */
	assert_true(sp_config_parse("{\"deny_unmanaged\": \"x\"}", "c", &cfg, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "`deny_unmanaged`: want an absolute cgroup path"));
	sp_error_free(&err);
	sp_config_free(&cfg);
}

/* A pid in a pid namespace of its own (root only), as a container's init
 * is: it waits until the pipe closes. */
static pid_t other_pidns_child(int *wfd)
{
	int fds[2];
	pid_t pid;
	char b;

	if (geteuid() != 0)
		return -1;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t inner;

		close(fds[1]);
		if (unshare(CLONE_NEWPID) < 0)
			_exit(1);
		inner = fork();
		if (inner == 0) {
			if (read(fds[0], &b, 1) < 0)
				_exit(1);
			_exit(0);
		}
		waitpid(inner, NULL, 0);
		_exit(0);
	}
	close(fds[0]);
	*wfd = fds[1];
	return pid;
}

static void test_assign_private_only(void **state)
{
	_cleanup_free_ char *c1 = at("pods/c1"), *shared = at("pods/shared"), *v = NULL, *pods = at("pods");
	_cleanup_free_ char *procs = NULL;
	sp_error_t err = NULL;
	pid_t outer;
	int wfd = -1;

	(void)state;
	cgroup("pods", "");
	assert_true(asprintf(&procs, "%d\n", (int)getpid()) > 0);
	cgroup("pods/c1", procs);
	cgroup("pods/shared", procs);

	/* the container's own cgroup: all of it in the init's pid namespace */
	assert_int_equal(ksm_domain_assign(c1, 7, getpid(), &err), 0);
	v = get("pods/c1/" KSM_DOMAIN_FILE);
	assert_string_equal(v, "7");

	/* the root and a cgroup outside the hierarchy are refused */
	assert_int_equal(ksm_domain_assign(root, 7, 0, &err), -EPERM);
	assert_non_null(strstr(sp_error_msg(err), "is the cgroup2 root or outside it"));
	sp_error_free(&err);
	assert_int_equal(ksm_domain_assign("/tmp", 7, 0, &err), -EPERM);
	sp_error_free(&err);

	/* a cgroup with a process of another pid namespace than the init's */
	outer = other_pidns_child(&wfd);
	if (outer > 0) {
		_cleanup_free_ char *inner_list = NULL, *kids = NULL, *line = NULL;
		pid_t inner = 0;
		int i;

		assert_true(asprintf(&kids, "/proc/%d/task/%d/children", (int)outer, (int)outer) > 0);
		for (i = 0; i < 100 && inner <= 0; i++) {
			free(line);
			line = NULL;
			if (read_file_line(kids, &line, NULL) == 0)
				inner = (pid_t)atoi(line);
			if (inner <= 0)
				usleep(10000);
		}
		assert_true(inner > 0);
		assert_true(asprintf(&inner_list, "%d\n%d\n", (int)inner, (int)getpid()) > 0);
		put("pods/shared/cgroup.procs", inner_list);
		assert_int_equal(ksm_domain_assign(shared, 9, inner, &err), -EPERM);
		assert_non_null(strstr(sp_error_msg(err), "is shared: pid"));
		assert_non_null(strstr(sp_error_msg(err), "not in the container's pid namespace"));
		sp_error_free(&err);
		free(v);
		v = get("pods/shared/" KSM_DOMAIN_FILE);
		assert_string_equal(v, "inherit"); /* untouched */
		close(wfd);
		waitpid(outer, NULL, 0);
	} else {
		print_message("not root: the pid-namespace refusal is checked in the guest only\n");
	}
	(void)pods;
}

static void test_release_and_deny(void **state)
{
	_cleanup_free_ char *c1 = at("rel/c1"), *c2 = at("rel/c2"), *v = NULL, *deny = at("unmanaged");
	struct sp_container a = { .id = "a", .domain = "k8s/a", .pid = 2, .enabled = true, .kdomain = 3 };
	struct sp_container b = a;
	struct sp_state st = { 0 };
	struct sp_config cfg;
	sp_error_t err = NULL;

	(void)state;
	cgroup("rel", "");
	cgroup("rel/c1", "");
	cgroup("rel/c2", "");
	cgroup("unmanaged", "");
	put("rel/c1/" KSM_DOMAIN_FILE, "3\n");
	put("rel/c2/" KSM_DOMAIN_FILE, "5\n");

	/* two entries share c1: the first to go leaves it */
	a.cgroup = c1;
	b.id = "b";
	b.cgroup = c1;
	assert_int_equal(sp_state_add(&st, &a, &err), 0);
	assert_int_equal(sp_state_add(&st, &b, &err), 0);
	assert_int_equal(sp_kdomain_release(&st, &st.containers[0], &err), 0);
	v = get("rel/c1/" KSM_DOMAIN_FILE);
	assert_string_equal(v, "3");
	sp_state_remove(&st, "a");
	assert_int_equal(sp_kdomain_release(&st, &st.containers[0], &err), 0);
	free(v);
	v = get("rel/c1/" KSM_DOMAIN_FILE);
	assert_string_equal(v, "inherit");
	sp_state_free(&st);

	/* someone else's later setting stays */
	a.cgroup = c2;
	assert_int_equal(sp_kdomain_release(&st, &a, &err), 0);
	free(v);
	v = get("rel/c2/" KSM_DOMAIN_FILE);
	assert_string_equal(v, "5");
	/* a cgroup the runtime already removed is done */
	a.cgroup = "/nonexistent/cg";
	assert_int_equal(ksm_domain_reset(a.cgroup, 3, &err), 0);

	/* deny_unmanaged: written once; refused on an ancestor of the workload */
	sp_config_defaults(&cfg);
	cfg.deny_unmanaged = deny;
	assert_int_equal(sp_kdomain_deny_unmanaged(&cfg, c1, &err), 0);
	free(v);
	v = get("unmanaged/" KSM_DOMAIN_FILE);
	assert_string_equal(v, "deny");
	assert_int_equal(ksm_domain_deny(deny, &err), 0); /* there already */
	cfg.deny_unmanaged = root;
	{
		_cleanup_free_ char *rel = at("rel");

		cfg.deny_unmanaged = rel;
		assert_int_equal(sp_kdomain_deny_unmanaged(&cfg, c1, &err), -EPERM);
		assert_non_null(strstr(sp_error_msg(err), "holds the workload's cgroup"));
		assert_non_null(strstr(sp_error_msg(err), "an ancestor's deny wins"));
		sp_error_free(&err);
		free(v);
		v = get("rel/" KSM_DOMAIN_FILE);
		assert_string_equal(v, "inherit");
	}
}

static void test_available_at(void **state)
{
	_cleanup_free_ char *with = at("av/with"), *without = at("av/without"), *f = at("av/without/" KSM_DOMAIN_FILE);

	(void)state;
	cgroup("av", "");
	cgroup("av/with", "");
	cgroup("av/without", "");
	assert_int_equal(unlink(f), 0);
	assert_true(ksm_domain_available_at(with));
	assert_false(ksm_domain_available_at(without)); /* a v1/v2 controller without domains */
}

/* status and metrics: the effective domain of each container, and the one
 * that is not in the domain its record says. */
static void test_report_mismatch(void **state)
{
	_cleanup_free_ char *good = at("rep/good"), *moved = at("rep/moved"), *prom = NULL;
	struct sp_container a = { .id = "good", .domain = "k8s/a", .enabled = true, .backend = "native", .kdomain = 3 };
	struct sp_container b = a;
	struct ksm_report r;
	struct sp_state st = { 0 };
	struct proc_info self;
	sp_error_t err = NULL;
	json_object *rows, *kd, *v;
	size_t len = 0;

	(void)state;
	assert_int_equal(proc_info_read(getpid(), &self, NULL), 0);
	cgroup("rep", "");
	cgroup("rep/good", "");
	cgroup("rep/moved", "");
	put("rep/good/" KSM_DOMAIN_EFFECTIVE_FILE, "3\n");
	put("rep/moved/" KSM_DOMAIN_EFFECTIVE_FILE, "0\n");
	a.pid = b.pid = self.pid;
	a.start_time = b.start_time = self.start_time;
	a.cgroup = good;
	b.id = "moved";
	b.cgroup = moved;
	assert_int_equal(sp_state_add(&st, &a, &err), 0);
	assert_int_equal(sp_state_add(&st, &b, &err), 0);
	assert_int_equal(ksm_report_collect(&st, NULL, NULL, 0, &r, &err), 0);
	assert_int_equal(r.n_rows, 2);
	{
		_cleanup_(json_object_putp) json_object *o = ksm_report_json(&r);
		size_t i;

		assert_true(json_object_object_get_ex(o, "containers", &rows));
		for (i = 0; i < json_object_array_length(rows); i++) {
			json_object *row = json_object_array_get_idx(rows, i), *id;
			bool is_moved;

			assert_true(json_object_object_get_ex(row, "id", &id));
			is_moved = strcmp(json_object_get_string(id), "moved") == 0;
			assert_true(json_object_object_get_ex(row, "kernel_domain", &kd));
			assert_true(json_object_object_get_ex(kd, "recorded", &v));
			assert_int_equal(json_object_get_uint64(v), 3);
			assert_true(json_object_object_get_ex(kd, "effective", &v));
			assert_string_equal(json_object_get_string(v), is_moved ? "0" : "3");
			assert_true(json_object_object_get_ex(kd, "mismatch", &v));
			assert_int_equal(json_object_get_boolean(v), is_moved);
		}
	}
	assert_int_equal(ksm_report_prometheus(&r, &prom, &len, &err), 0);
	assert_non_null(strstr(prom, "samepage_container_kernel_domain_mismatch{domain=\"k8s/a\",container=\"moved\"} 1"));
	assert_non_null(strstr(prom, "samepage_container_kernel_domain_mismatch{domain=\"k8s/a\",container=\"good\"} 0"));
	ksm_report_free(&r);
	/* doctor's reading of the same */
	{
		_cleanup_free_ char *desc = NULL;
		size_t checked = 0;

		assert_int_equal(sp_kdomain_mismatches(&st, &checked, &desc), 1);
		assert_int_equal(checked, 2);
		assert_string_equal(desc, "moved (recorded 3, effective 0)");
	}
	sp_state_free(&st);
}

static void test_deny_status(void **state)
{
	_cleanup_free_ char *un = at("un");
	struct sp_config cfg;
	sp_error_t err = NULL;

	(void)state;
	sp_config_defaults(&cfg);
	assert_int_equal(sp_kdomain_deny_status(&cfg, &err), 0);
	cgroup("un", "");
	cfg.deny_unmanaged = un;
	assert_int_equal(sp_kdomain_deny_status(&cfg, &err), -EPERM);
	assert_non_null(strstr(sp_error_msg(err), "holds `inherit`, not deny"));
	sp_error_free(&err);
	assert_int_equal(ksm_domain_deny(un, &err), 1);
	assert_int_equal(sp_kdomain_deny_status(&cfg, &err), 1);
}

/* sp_admit and sp_forget of `samepage enable --cgroup` on the fake tree:
 * the default policy is kernel there, each domain gets its id (the same
 * for its every cgroup), written before ksm.enable; forgetting writes
 * inherit back; deny_unmanaged above the workload refuses it. */
static int admit_cg(const char *conf, const char *state_dir, const char *cg, const char *domain, bool forget,
		    char **msg)
{
	struct sp_node_paths paths = { .config = conf, .state_dir = state_dir };
	struct sp_workload w = { .scope = KSM_SCOPE_CGROUP, .cgroup = cg, .domain = domain };
	struct sp_admission a;
	sp_error_t err = NULL;
	int ret = forget ? sp_forget(&paths, &w, &a, &err) : sp_admit(&paths, &w, &a, &err);

	if (msg)
		*msg = ret < 0 ? strdup(sp_error_msg(err)) : NULL;
	sp_admission_free(&a);
	sp_error_free(&err);
	return ret;
}

static void test_admit_kernel_policy(void **state)
{
	_cleanup_free_ char *c1 = at("k/c1"), *c2 = at("k/c2"), *c3 = at("k/c3"), *conf = at("samepage.conf");
	_cleanup_free_ char *sdir = at("state"), *procs = NULL, *v1 = NULL, *v2 = NULL, *v3 = NULL, *en = NULL;
	_cleanup_free_ char *msg = NULL, *k = at("k");
	struct sp_state st;
	sp_error_t err = NULL;

	char list[3][16];
	int i;

	(void)state;
	(void)procs;
	/* one process of its own per cgroup: forget goes by the processes */
	for (i = 0; i < 3; i++) {
		admit_kids[i] = fork();
		assert_true(admit_kids[i] >= 0);
		if (admit_kids[i] == 0) {
			pause();
			_exit(0);
		}
		snprintf(list[i], sizeof(list[i]), "%d\n", (int)admit_kids[i]);
	}
	cgroup("k", "");
	cgroup("k/c1", list[0]);
	cgroup("k/c2", list[1]);
	cgroup("k/c3", list[2]);
	put("samepage.conf", "{\"manage_ksmd\": false}");

	assert_int_equal(admit_cg(conf, sdir, c1, "k8s/team-a", false, NULL), 0);
	assert_int_equal(admit_cg(conf, sdir, c2, "k8s/team-b", false, &msg), 0); /* no exclusive refusal */
	assert_int_equal(admit_cg(conf, sdir, c3, "k8s/team-a", false, NULL), 0);
	v1 = get("k/c1/" KSM_DOMAIN_FILE);
	v2 = get("k/c2/" KSM_DOMAIN_FILE);
	v3 = get("k/c3/" KSM_DOMAIN_FILE);
	en = get("k/c1/ksm.enable");
	assert_string_equal(en, "1");
	assert_string_equal(v1, v3);
	assert_string_not_equal(v1, v2);
	assert_int_equal(sp_state_load(sdir, &st, &err), 0);
	assert_int_equal(sp_kdomain_lookup(&st, "k8s/team-a"), strtoull(v1, NULL, 10));
	assert_int_equal(sp_kdomain_lookup(&st, "k8s/team-b"), strtoull(v2, NULL, 10));
	assert_int_equal(st.n_containers, 3);
	sp_state_free(&st);

	/* disable: ksm.enable 0, then inherit back */
	assert_int_equal(admit_cg(conf, sdir, c1, NULL, true, NULL), 0);
	free(v1);
	v1 = get("k/c1/" KSM_DOMAIN_FILE);
	assert_string_equal(v1, "inherit");
	free(en);
	en = get("k/c1/ksm.enable");
	assert_string_equal(en, "0");
	/* team-a keeps its id for its next cgroup */
	assert_int_equal(admit_cg(conf, sdir, c1, "k8s/team-a", false, NULL), 0);
	free(v1);
	v1 = get("k/c1/" KSM_DOMAIN_FILE);
	assert_string_equal(v1, v3);

	/* deny_unmanaged over the workload: refused, both named, nothing written */
	assert_int_equal(admit_cg(conf, sdir, c1, NULL, true, NULL), 0);
	free(msg);
	{
		_cleanup_free_ char *text = NULL;

		assert_true(asprintf(&text, "{\"manage_ksmd\": false, \"deny_unmanaged\": \"%s\"}", k) > 0);
		put("samepage.conf", text);
	}
	assert_int_equal(admit_cg(conf, sdir, c1, "k8s/team-c", false, &msg), -EPERM);
	assert_non_null(strstr(msg, "holds the workload's cgroup"));
	free(v1);
	v1 = get("k/c1/" KSM_DOMAIN_FILE);
	assert_string_equal(v1, "inherit");

	/* domain_policy exclusive named: no kernel domain, the old refusal */
	put("samepage.conf", "{\"manage_ksmd\": false, \"domain_policy\": \"exclusive\"}");
	free(msg);
	assert_int_equal(admit_cg(conf, sdir, c1, "k8s/team-c", false, &msg), -EPERM);
	if (!strstr(msg, "owns KSM on this node"))
		fail_msg("%s", msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_effective),
		cmocka_unit_test(test_mapping),
		cmocka_unit_test(test_policy),
		cmocka_unit_test_setup_teardown(test_assign_private_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_and_deny, setup, teardown),
		cmocka_unit_test_setup_teardown(test_available_at, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deny_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admit_kernel_policy, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
