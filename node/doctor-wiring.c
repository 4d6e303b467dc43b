/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "base/json.h"
#include "node/doctor-wiring.h"

#define WIRING_FILE_MAX (1024 * 1024)

static const char *const annotations[] = { "samepage.io/merge", "samepage.io/domain", "samepage.io/required" };

static int report_add(struct doctor_report *r, const char *name, enum doctor_status st, const char *action,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int report_add(struct doctor_report *r, const char *name, enum doctor_status st, const char *action,
		      const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = doctor_report_addv(r, name, st, action, fmt, ap);
	va_end(ap);
	return ret;
}

/* --- what these checks need of TOML -------------------------------------- */

/* A table header or a wanted one, without spaces and quotes. */
static void header_norm(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; *s && *s != '\n' && n + 1 < size; s++)
		if (*s != ' ' && *s != '\t' && *s != '"' && *s != '\'')
			out[n++] = *s;
	out[n] = '\0';
}

static bool header_wanted(const char *line, const char *const *tables)
{
	char got[512], want[512];
	size_t i;

	if (!tables)
		return true;
	header_norm(line, got, sizeof(got));
	for (i = 0; tables[i]; i++) {
		header_norm(tables[i], want, sizeof(want));
		if (strcmp(got, want) == 0)
			return true;
	}
	return false;
}

/* The raw value of `key = ...` from where it starts: to the end of the
 * line, or to the closing bracket of an array that spans lines. */
static char *toml_value(const char *v)
{
	const char *end;

	while (*v == ' ' || *v == '\t')
		v++;
	end = *v == '[' ? strchr(v, ']') : strchr(v, '\n');
	if (!end)
		end = v + strlen(v);
	else if (*v == '[')
		end++;
	return strndup(v, end - v);
}

/* key's raw value in one of tables (NULL: any table).  Returns 1 with
 * *value, 0 when a table is there without the key, -ENOENT when none is,
 * -ENOMEM. */
static int toml_get(const char *text, const char *const *tables, const char *key, char **value)
{
	size_t klen = strlen(key);
	bool in = false, seen = false;
	const char *p;

	*value = NULL;
	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '[') {
			in = header_wanted(p, tables);
			seen = seen || in;
			continue;
		}
		if (!in || strncmp(p, key, klen) != 0)
			continue;
		p += klen;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			continue;
		*value = toml_value(p + 1);
		return *value ? 1 : -ENOMEM;
	}
	/* Keys before any table belong to the root: `tables` NULL sees them. */
	return seen || !tables ? 0 : -ENOENT;
}

/* The n-th quoted string of a raw value into out; false when there is none. */
static bool toml_string_at(const char *raw, size_t n, char *out, size_t size)
{
	const char *p = raw, *end;

	for (;;) {
		p = strpbrk(p, "\"'");
		if (!p)
			return false;
		end = strchr(p + 1, *p);
		if (!end)
			return false;
		if (n-- == 0) {
			snprintf(out, size, "%.*s", (int)(end - p - 1), p + 1);
			return true;
		}
		p = end + 1;
	}
}

/* --- containerd ----------------------------------------------------------- */

#define CTD_V2 "[plugins.\"io.containerd.grpc.v1.cri\".containerd"
#define CTD_V3 "[plugins.\"io.containerd.cri.v1.runtime\".containerd"

/* The createRuntime hooks of a base spec: each executable. */
static int spec_hooks(struct doctor_report *r, const char *config, const char *spec, json_object *root)
{
	static const char fix[] = "samepage-containerd-spec refresh, then restart containerd";
	json_object *hooks = NULL, *create = NULL, *process = NULL, *rl;
	size_t i, n;

	if (json_object_object_get_ex(root, "hooks", &hooks))
		json_object_object_get_ex(hooks, "createRuntime", &create);
	n = create && json_object_is_type(create, json_type_array) ? json_object_array_length(create) : 0;
	if (n == 0)
		return report_add(r, "containerd_spec", DOCTOR_FAIL, fix,
				  "%s (base_runtime_spec of %s in %s) has no createRuntime hook: samepage-hook never runs",
				  spec, SP_RUNTIME_HANDLER, config);
	for (i = 0; i < n; i++) {
		json_object *h = json_object_array_get_idx(create, i), *path;
		const char *s;

		if (!json_object_object_get_ex(h, "path", &path) || !json_object_is_type(path, json_type_string))
			continue;
		s = json_object_get_string(path);
		if (access(s, X_OK) < 0)
			return report_add(r, "containerd_spec", DOCTOR_FAIL,
					  "install samepage-hook there, or samepage-containerd-spec refresh and restart containerd",
					  "%s: createRuntime hook %s is not executable (%s): every pod of %s fails to start",
					  spec, s, strerror(errno), SP_RUNTIME_HANDLER);
	}
	if (json_object_object_get_ex(root, "process", &process) && json_object_object_get_ex(process, "rlimits", &rl))
		return report_add(r, "containerd_spec", DOCTOR_WARN, fix,
				  "%s sets rlimits: pods of %s get them instead of containerd's own limits", spec,
				  SP_RUNTIME_HANDLER);
	if (!hooks || !json_object_object_get_ex(hooks, "poststop", &create))
		return report_add(r, "containerd_spec", DOCTOR_WARN, fix,
				  "%s has no poststop hook: samepage's state keeps containers that are gone", spec);
	return report_add(r, "containerd_spec", DOCTOR_OK, NULL, "%s: createRuntime and poststop hooks, executable",
			  spec);
}

static int check_spec(struct doctor_report *r, const char *config, const char *raw)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	_cleanup_free_ char *buf = NULL;
	char spec[4096];
	int ret;

	if (!raw || !toml_string_at(raw, 0, spec, sizeof(spec)))
		return report_add(r, "containerd_spec", DOCTOR_FAIL, "samepage-containerd-spec install, then restart containerd",
				  "runtime handler %s in %s has no base_runtime_spec: samepage-hook never runs",
				  SP_RUNTIME_HANDLER, config);
	ret = read_file_bounded(AT_FDCWD, spec, WIRING_FILE_MAX, &buf, NULL, NULL);
	if (ret < 0)
		return report_add(r, "containerd_spec", DOCTOR_FAIL,
				  "samepage-containerd-spec refresh, then restart containerd",
				  "%s (base_runtime_spec of %s in %s): %s; containerd does not load its CRI plugin without it, and no pod starts",
				  spec, SP_RUNTIME_HANDLER, config, strerror(-ret));
	root = json_tokener_parse(buf);
	if (!root || !json_object_is_type(root, json_type_object))
		return report_add(r, "containerd_spec", DOCTOR_FAIL,
				  "samepage-containerd-spec refresh, then restart containerd",
				  "%s (base_runtime_spec of %s in %s) is not a JSON object", spec, SP_RUNTIME_HANDLER,
				  config);
	return spec_hooks(r, config, spec, root);
}

/* pod_annotations must let samepage.io/merge, domain and required through
 * (containerd matches each entry as a glob). */
static int check_pod_annotations(struct doctor_report *r, const char *config, const char *raw)
{
	char pat[256];
	size_t i, j;

	for (i = 0; i < sizeof(annotations) / sizeof(annotations[0]); i++) {
		bool passed = false;

		for (j = 0; raw && toml_string_at(raw, j, pat, sizeof(pat)) && !passed; j++)
			passed = fnmatch(pat, annotations[i], FNM_PATHNAME) == 0;
		if (!passed)
			return report_add(r, "containerd_annotations", DOCTOR_FAIL,
					  "add pod_annotations = [\"samepage.io/*\"] to the handler's table (samepage-containerd-spec config prints it), then restart containerd",
					  "runtime handler %s in %s does not pass the pod annotation %s (pod_annotations %s): the hook never sees it",
					  SP_RUNTIME_HANDLER, config, annotations[i], raw ? raw : "absent");
	}
	return report_add(r, "containerd_annotations", DOCTOR_OK, NULL, "%s passes samepage.io/* (pod_annotations %s)",
			  config, raw);
}

/* The default runtime must not run the hook: every pod would depend on it. */
static int check_default_runtime(struct doctor_report *r, const char *config, const char *text)
{
	_cleanup_free_ char *raw = NULL, *spec_raw = NULL, *buf = NULL;
	const char *const cri[] = { CTD_V2 "]", CTD_V3 "]", NULL };
	char name[128] = "runc", t2[256], t3[256], spec[4096];
	const char *const tables[] = { t2, t3, NULL };

	if (toml_get(text, cri, "default_runtime_name", &raw) == -ENOMEM)
		return -ENOMEM;
	if (raw)
		toml_string_at(raw, 0, name, sizeof(name));
	snprintf(t2, sizeof(t2), CTD_V2 ".runtimes.%s]", name);
	snprintf(t3, sizeof(t3), CTD_V3 ".runtimes.%s]", name);

	if (strcmp(name, SP_RUNTIME_HANDLER) != 0 &&
	    (toml_get(text, tables, "base_runtime_spec", &spec_raw) <= 0 ||
	     !toml_string_at(spec_raw, 0, spec, sizeof(spec)) ||
	     read_file_bounded(AT_FDCWD, spec, WIRING_FILE_MAX, &buf, NULL, NULL) < 0 || !strstr(buf, "samepage")))
		return 0;
	return report_add(r, "containerd_default", DOCTOR_FAIL,
			  "wire only the handler runc-samepage (samepage-containerd-spec install) and give pods the RuntimeClass samepage",
			  "the default runtime %s in %s runs samepage's hook: every pod on the node depends on it", name,
			  config);
}

/* samepage.conf's namespace_annotation must be the key this runtime sets;
 * the other runtime's key is not set, or set by the tenant. */
static int check_namespace(struct doctor_report *r, const char *check, const char *runtime, const char *want,
			   const char *fix, const struct sp_config *cfg)
{
	const char *have = cfg ? cfg->namespace_annotation : NULL;

	if (!cfg)
		return 0;
	if (have && strcmp(have, want) == 0)
		return report_add(r, check, DOCTOR_OK, NULL, "namespace_annotation %s is the key %s sets", have, runtime);
	return report_add(r, check, have ? DOCTOR_FAIL : DOCTOR_WARN, fix,
			  "samepage.conf's namespace_annotation is %s, but %s sets the pod's namespace in %s: %s", have ? have : "null",
			  runtime, want,
			  have ? "annotated pods are refused, or a tenant sets the key" : "pods get no k8s/<namespace> domain");
}

int doctor_check_containerd(struct doctor_report *r, const char *config, bool installed, const struct sp_config *cfg)
{
	const char *const handler[] = { CTD_V2 ".runtimes." SP_RUNTIME_HANDLER "]", CTD_V3 ".runtimes." SP_RUNTIME_HANDLER "]",
					NULL };
	_cleanup_free_ char *text = NULL, *spec = NULL, *anns = NULL;
	int ret, found;

	ret = read_file_bounded(AT_FDCWD, config, WIRING_FILE_MAX, &text, NULL, NULL);
	if (ret < 0 && !installed)
		return 0;
	if (ret < 0)
		return report_add(r, "containerd_handler", DOCTOR_OK,
				  "for pods that ask for KSM: samepage-containerd-spec install, then restart containerd",
				  "containerd installed; %s: %s, so no runtime handler %s", config, strerror(-ret),
				  SP_RUNTIME_HANDLER);
	ret = check_default_runtime(r, config, text);
	found = toml_get(text, handler, "base_runtime_spec", &spec);
	if (ret < 0 || found == -ENOMEM)
		return -ENOMEM;
	if (found == -ENOENT)
		return report_add(r, "containerd_handler", DOCTOR_OK,
				  "for pods that ask for KSM: samepage-containerd-spec install, then restart containerd",
				  "%s has no runtime handler %s: no pod runs samepage-hook", config, SP_RUNTIME_HANDLER);
	ret = report_add(r, "containerd_handler", DOCTOR_OK, NULL,
			 "runtime handler %s in %s (pods of the RuntimeClass samepage)", SP_RUNTIME_HANDLER, config);
	if (ret == 0)
		ret = check_spec(r, config, spec);
	if (ret == 0 && toml_get(text, handler, "pod_annotations", &anns) == -ENOMEM)
		ret = -ENOMEM;
	if (ret == 0)
		ret = check_pod_annotations(r, config, anns);
	if (ret == 0)
		ret = check_namespace(r, "containerd_namespace", "containerd", CONTAINERD_NAMESPACE_KEY,
				      "use packaging/containerd/samepage.conf, or set \"namespace_annotation\": \"" CONTAINERD_NAMESPACE_KEY "\"",
				      cfg);
	return ret;
}

/* --- CRI-O --------------------------------------------------------------- */

/* Does a hooks.d `when.annotations` run the hook for samepage.io/merge=true?
 * CRI-O matches keys and values as regular expressions. */
static bool when_matches(json_object *when)
{
	json_object *anns;

	if (!when || !json_object_object_get_ex(when, "annotations", &anns) ||
	    !json_object_is_type(anns, json_type_object))
		return false;
	json_object_object_foreach(anns, k, v) {
		regex_t kr, vr;
		bool ok = false;

		if (!json_object_is_type(v, json_type_string) || regcomp(&kr, k, REG_EXTENDED | REG_NOSUB) != 0)
			continue;
		if (regcomp(&vr, json_object_get_string(v), REG_EXTENDED | REG_NOSUB) == 0) {
			ok = regexec(&kr, "samepage.io/merge", 0, NULL, 0) == 0 && regexec(&vr, "true", 0, NULL, 0) == 0;
			regfree(&vr);
		}
		regfree(&kr);
		if (ok)
			return true;
	}
	return false;
}

/* One hooks.d file: -1 not samepage's, else a DOCTOR_* status with why. */
static int hooks_file(const char *file, const char *stage, char *why, size_t size)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	_cleanup_free_ char *buf = NULL;
	json_object *hook, *path, *stages, *when = NULL;
	const char *p;

	if (read_file_bounded(AT_FDCWD, file, 64 * 1024, &buf, NULL, NULL) < 0)
		return -1;
	root = json_tokener_parse(buf);
	if (!root || !json_object_object_get_ex(root, "hook", &hook) || !json_object_object_get_ex(hook, "path", &path) ||
	    !json_object_is_type(path, json_type_string) || !strstr(json_object_get_string(path), "samepage-hook") ||
	    !json_object_object_get_ex(root, "stages", &stages) || !strstr(json_object_get_string(stages), stage))
		return -1;
	p = json_object_get_string(path);
	json_object_object_get_ex(root, "when", &when);
	if (access(p, X_OK) < 0) {
		snprintf(why, size, "%s runs %s, which is not executable (%s)", file, p, strerror(errno));
		return DOCTOR_FAIL;
	}
	if (!when_matches(when)) {
		snprintf(why, size, "%s: no when.annotations key matches samepage.io/merge with a value matching true", file);
		return DOCTOR_FAIL;
	}
	snprintf(why, size, "%s runs %s at %s for samepage.io/merge=true", file, p, stage);
	return DOCTOR_OK;
}

static int check_hooks_d(struct doctor_report *r, const char *const *dirs, size_t n_dirs, const char *stage)
{
	char why[1024] = "", best[1024] = "";
	int status = -1;
	size_t i, j;

	for (i = 0; i < n_dirs && status != DOCTOR_OK; i++) {
		_cleanup_free_ char *pattern = NULL;
		glob_t g;

		if (asprintf(&pattern, "%s/*.json", dirs[i]) < 0)
			return -ENOMEM;
		if (glob(pattern, 0, NULL, &g) != 0)
			continue;
		for (j = 0; j < g.gl_pathc && status != DOCTOR_OK; j++) {
			int s = hooks_file(g.gl_pathv[j], stage, why, sizeof(why));

			if (s >= 0 && (status < 0 || s == DOCTOR_OK)) {
				status = s;
				snprintf(best, sizeof(best), "%s", why);
			}
		}
		globfree(&g);
	}
	if (status < 0)
		return report_add(r, "crio_hook", DOCTOR_WARN,
				  "install packaging/hooks.d/*.json into /usr/share/containers/oci/hooks.d (the Debian package and the DaemonSet do)",
				  "no hooks.d file in %s%s%s runs samepage-hook at %s", dirs[0], n_dirs > 1 ? " or " : "",
				  n_dirs > 1 ? dirs[1] : "", stage);
	return report_add(r, "crio_hook", status,
			  status == DOCTOR_OK ? NULL : "install samepage-hook where the file says and keep packaging/hooks.d's when.annotations",
			  "%s", best);
}

/* A drop-in whose allowed_annotations names samepage.io: CRI-O >= 1.21
 * refuses its whole configuration (crio.conf(5)). */
static int check_crio_conf(struct doctor_report *r, const char *conf_d)
{
	_cleanup_free_ char *pattern = NULL;
	int ret = 0, bad = 0;
	glob_t g;
	size_t i;

	if (asprintf(&pattern, "%s/*.conf", conf_d) < 0)
		return -ENOMEM;
	if (glob(pattern, 0, NULL, &g) != 0)
		g.gl_pathc = 0;
	for (i = 0; i < g.gl_pathc && ret == 0; i++) {
		_cleanup_free_ char *text = NULL, *raw = NULL;

		if (read_file_bounded(AT_FDCWD, g.gl_pathv[i], WIRING_FILE_MAX, &text, NULL, NULL) < 0 ||
		    toml_get(text, NULL, "allowed_annotations", &raw) <= 0 || !strstr(raw, "samepage.io"))
			continue;
		bad++;
		ret = report_add(r, "crio_config", DOCTOR_FAIL,
				 "remove samepage.io entries from allowed_annotations (the shipped 50-samepage.conf has none), then restart CRI-O",
				 "%s: allowed_annotations %s names samepage.io: CRI-O >= 1.21 refuses the configuration; pod annotations reach the hook without it",
				 g.gl_pathv[i], raw);
	}
	globfree(&g);
	if (ret == 0 && bad == 0)
		ret = report_add(r, "crio_config", DOCTOR_OK, NULL, "no drop-in in %s lists samepage.io in allowed_annotations",
				 conf_d);
	return ret;
}

int doctor_check_crio(struct doctor_report *r, const char *const *hooks_dirs, size_t n_dirs, const char *conf_d,
		      bool installed, const struct sp_config *cfg)
{
	int ret;

	if (!installed && access(conf_d, F_OK) < 0)
		return 0;
	ret = check_hooks_d(r, hooks_dirs, n_dirs, "createRuntime");
	if (ret == 0)
		ret = check_crio_conf(r, conf_d);
	if (ret == 0)
		ret = check_namespace(r, "crio_namespace", "CRI-O", CRIO_NAMESPACE_KEY,
				      "use packaging/cri-o/samepage.conf, or set \"namespace_annotation\": \"" CRIO_NAMESPACE_KEY "\"",
				      cfg);
	return ret;
}

static bool on_path(const char *prog)
{
	_cleanup_free_ char *copy = strdup(getenv("PATH") ? getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin");
	char *save = NULL, *dir;

	for (dir = copy ? strtok_r(copy, ":", &save) : NULL; dir; dir = strtok_r(NULL, ":", &save)) {
		char full[4096];

		snprintf(full, sizeof(full), "%s/%s", dir, prog);
		if (access(full, X_OK) == 0)
			return true;
	}
	return false;
}

int doctor_check_wiring(struct doctor_report *r, const struct sp_config *cfg)
{
	const char *ctd = getenv("SAMEPAGE_CONTAINERD_CONFIG");
	const char *hooks = getenv("SAMEPAGE_HOOKS_D");
	const char *conf_d = getenv("SAMEPAGE_CRIO_CONF_D");
	const char *dirs[2] = { "/usr/share/containers/oci/hooks.d", "/etc/containers/oci/hooks.d" };
	size_t n_dirs = 2;
	int ret;

	if (hooks && *hooks) {
		dirs[0] = hooks;
		n_dirs = 1;
	}
	ret = doctor_check_containerd(r, ctd && *ctd ? ctd : "/etc/containerd/config.toml", on_path("containerd"), cfg);
	if (ret == 0)
		ret = doctor_check_crio(r, dirs, n_dirs, conf_d && *conf_d ? conf_d : "/etc/crio/crio.conf.d",
					on_path("crio"), cfg);
	return ret;
}
