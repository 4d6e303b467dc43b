/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "base/json.h"
#include "host/ksm.h"
#include "cgroupfs/native.h"
#include "node/config.h"
#include "node/state.h"
#include "base/kernel-abi.h"
#include "node/kbugs.h"
#include "node/hookpath.h"
#include "node/doctor.h"
#include "node/doctor-wiring.h"
#include "node/domain-kernel.h"
#include "cgroupfs/native-domain.h"
#include "node/unattributed.h"
#include "node/estimate-record.h"
#include "host/seccomp.h"


/* What the checks share while they run. */
struct doctor {
	const struct doctor_opts *o;
	struct doctor_report *r;
	bool oom;
	struct kernel_version kv;
	bool have_kv;
	struct sp_config cfg;
	bool cfg_ok;
	bool native;
};

const char *doctor_status_name(enum doctor_status s)
{
	static const char *const names[] = { "ok", "warn", "fail" };

	return (unsigned int)s < ARRAY_SIZE(names) ? names[s] : "fail";
}

static void add(struct doctor *d, const char *name, enum doctor_status st, const char *action, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void add(struct doctor *d, const char *name, enum doctor_status st, const char *action, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (doctor_report_addv(d->r, name, st, action, fmt, ap) < 0)
		d->oom = true;
	va_end(ap);
}

/* --- kernel and KSM ----------------------------------------------------- */

static void check_kernel(struct doctor *d)
{
	struct utsname u;

	if (uname(&u) < 0) {
		add(d, "kernel", DOCTOR_WARN, NULL, "uname: %s", strerror(errno));
		return;
	}
	snprintf(d->r->release, sizeof(d->r->release), "%s", u.release);
	d->have_kv = kernel_version_parse(u.release, &d->kv) == 0;
	if (!d->have_kv)
		add(d, "kernel", DOCTOR_WARN, "version-based checks below are skipped",
		    "cannot read a version from kernel release `%s`", u.release);
	else
		add(d, "kernel", DOCTOR_OK, NULL, "Linux %s (%s)", u.release, u.machine);
}

static void check_ksm(struct doctor *d)
{
	_cleanup_free_ char *path = NULL;

	if (!ksm_knob_exists("run")) {
		add(d, "ksm", DOCTOR_FAIL, "use a kernel built with CONFIG_KSM=y",
		    "%s/run missing: KSM is not built into this kernel", ksm_sysfs_dir());
		return;
	}
	add(d, "ksm", DOCTOR_OK, NULL, "KSM built in (%s)", ksm_sysfs_dir());

	if (asprintf(&path, "%s/run", ksm_sysfs_dir()) < 0) {
		d->oom = true;
		return;
	}
	if (access(path, W_OK) < 0)
		add(d, "ksm_writable", DOCTOR_FAIL,
		    "run samepage as root on the host, with /sys mounted read-write",
		    "%s not writable: %s, so ksmd can be neither started nor tuned", path, strerror(errno));
	else
		add(d, "ksm_writable", DOCTOR_OK, NULL, "%s is writable", ksm_sysfs_dir());
}

static void check_prctl(struct doctor *d)
{
	int r = ksm_prctl_get_self();

	if (r >= 0)
		add(d, "prctl_ksm", DOCTOR_OK, NULL, "prctl(PR_GET_MEMORY_MERGE) works: whole-process KSM available (Linux >= 6.4)");
	else if (d->native)
		add(d, "prctl_ksm", DOCTOR_WARN, "nothing: the native ksm controller is used instead",
		    "prctl(PR_GET_MEMORY_MERGE): %s: no whole-process KSM (needs Linux >= 6.4)", strerror(-r));
	else
		add(d, "prctl_ksm", DOCTOR_FAIL, "use Linux >= 6.7 (whole-process KSM that survives exec)",
		    "prctl(PR_GET_MEMORY_MERGE): %s: no whole-process KSM (needs Linux >= 6.4), so the stock backend cannot work",
		    strerror(-r));
}

/* Map two adjacent anonymous regions and see whether the kernel made one
 * VMA of them.  1 merged, 0 not, <0 could not tell. */
static int vma_merge_probe(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *base, *a, *b;
	_cleanup_fclose_ FILE *f = NULL;
	char line[512];
	int merged = -EIO;

	base = mmap(NULL, 8 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	munmap(base, 8 * page);
	a = mmap(base + 2 * page, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		 -1, 0);
	if (a == MAP_FAILED)
		return -errno;
	b = mmap(base + 4 * page, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		 -1, 0);
	if (b == MAP_FAILED) {
		munmap(a, 2 * page);
		return -errno;
	}
	f = fopen("/proc/self/maps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx", &start, &end) != 2)
			continue;
		if (start == (unsigned long)a) {
			merged = end == (unsigned long)(a + 4 * page);
			break;
		}
	}
	munmap(a, 2 * page);
	munmap(b, 2 * page);
	return merged;
}

#define PROBE_FORMAT "merge_any=%d ksm_stat_merge_any=%d vma_merged=%d"

int doctor_exec_probe_line(char **line)
{
	struct ksm_proc_stat ks;
	int merge = ksm_prctl_get_self();
	int stat_any = ksm_proc_stat_read(getpid(), &ks, NULL) == 0 ? ks.merge_any : -1;

	return asprintf(line, PROBE_FORMAT, merge, stat_any, vma_merge_probe()) < 0 ? -ENOMEM : 0;
}

struct probe_result {
	bool ran;
	int merge_any;
	int stat_merge_any;
	int vma_merged;
	char error[160];
};

static void run_exec_probe(char *const *argv, struct probe_result *r)
{
	int fds[2];
	pid_t pid;
	char buf[256];
	ssize_t n, len = 0;
	int status;

	memset(r, 0, sizeof(*r));
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(r->error, sizeof(r->error), "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		snprintf(r->error, sizeof(r->error), "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		if (dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(126);
		if (prctl(PR_SET_MEMORY_MERGE, 1UL, 0UL, 0UL, 0UL) < 0) {
			printf("prctl_errno=%d\n", errno);
			fflush(stdout);
			_exit(0);
		}
		execv("/proc/self/exe", argv);
		printf("exec_errno=%d\n", errno);
		fflush(stdout);
		_exit(127);
	}
	close(fds[1]);
	while (len < (ssize_t)sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);

	if (sscanf(buf, PROBE_FORMAT, &r->merge_any, &r->stat_merge_any, &r->vma_merged) == 3) {
		r->ran = true;
		return;
	}
	if (sscanf(buf, "prctl_errno=%d", &status) == 1)
		snprintf(r->error, sizeof(r->error), "prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) in the probe: %s",
			 strerror(status));
	else if (sscanf(buf, "exec_errno=%d", &status) == 1)
		snprintf(r->error, sizeof(r->error), "exec /proc/self/exe: %s", strerror(status));
	else
		snprintf(r->error, sizeof(r->error), "probe printed nothing usable");
}

static const char *kbug_words(enum kbug_verdict v)
{
	switch (v) {
	case KBUG_NOT_APPLICABLE:
		return "not applicable";
	case KBUG_FIXED:
		return "fixed";
	case KBUG_MAYBE:
		return "may be affected";
	case KBUG_AFFECTED:
	default:
		return "affected";
	}
}

static void check_exec_and_vma(struct doctor *d)
{
	const struct kbug *drop = kbug_find("bug_exec_drops_ksm"), *vma = kbug_find("bug_vma_merge");
	struct probe_result r;
	int control;

	if (ksm_prctl_get_self() < 0)
		return; /* prctl_ksm already said why */
	run_exec_probe(d->o->probe_argv, &r);
	if (!r.ran) {
		add(d, "prctl_exec", d->native ? DOCTOR_WARN : DOCTOR_FAIL, "run `samepage doctor` as root on the host",
		    "could not probe whole-process KSM across exec: %s", r.error);
		return;
	}
	if (r.merge_any == 1)
		add(d, "prctl_exec", DOCTOR_OK, NULL,
		    "probe: whole-process KSM set before exec is still on in the exec'd program%s",
		    r.stat_merge_any == 1 ? " (ksm_stat: ksm_merge_any yes)" : "");
	else
		add(d, "prctl_exec", d->native ? DOCTOR_WARN : DOCTOR_FAIL, drop->action,
		    "probe: whole-process KSM set before exec was lost in the exec'd program (%s; %s)", drop->summary,
		    drop->reference);

	/* VMA merging: a control in this process, the real test in the probe. */
	control = vma_merge_probe();
	if (control != 1 || r.vma_merged < 0) {
		add(d, "bug_vma_merge", DOCTOR_WARN, NULL,
		    "cannot tell: adjacent anonymous mappings do not merge even without KSM here (%s %s)",
		    d->have_kv ? "version check:" : "", d->have_kv ? kbug_words(kbug_check(vma, &d->kv)) : "");
	} else if (r.vma_merged == 1) {
		add(d, "bug_vma_merge", DOCTOR_OK, NULL,
		    "probe: adjacent mappings of a whole-process-KSM process merge (fix present: %s)", vma->reference);
	} else {
		add(d, "bug_vma_merge", DOCTOR_WARN, vma->action, "probe: %s (%s)", vma->summary, vma->reference);
	}
}

static void check_exec_race(struct doctor *d)
{
	const struct kbug *b = kbug_find("bug_exec_race");
	enum kbug_verdict v;

	if (!d->have_kv)
		return;
	v = kbug_check(b, &d->kv);
	switch (v) {
	case KBUG_NOT_APPLICABLE:
		add(d, b->name, DOCTOR_OK, NULL, "not applicable to Linux %d.%d (no whole-process KSM)", d->kv.major,
		    d->kv.minor);
		break;
	case KBUG_FIXED:
		add(d, b->name, DOCTOR_OK, NULL, "fixed in Linux %d.%d: %s", b->fixed_major, b->fixed_minor, b->reference);
		break;
	default:
		add(d, b->name, DOCTOR_WARN, b->action,
		    "Linux %d.%d %s: %s; fixed by %s (which stable releases carry it is unknown; it cannot be probed reliably)",
		    d->kv.major, d->kv.minor, kbug_words(v), b->summary, b->reference);
		break;
	}
}

/* systemd v254 and v255 called prctl(PR_SET_MEMORY_MERGE, 1) without
 * zeroing arguments 3-5, which the kernel rejects with EINVAL, so
 * MemoryKSM=yes failed every unit that used it (fixed in v256). */
static void check_systemd(struct doctor *d)
{
	static const char *const patterns[] = {
		"/usr/lib/systemd/libsystemd-shared-*.so", "/lib/systemd/libsystemd-shared-*.so",
		"/usr/lib/*/systemd/libsystemd-shared-*.so", "/usr/lib64/systemd/libsystemd-shared-*.so",
	};
	int version = -1;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(patterns) && version < 0; i++) {
		glob_t g;

		if (glob(patterns[i], 0, NULL, &g) == 0 && g.gl_pathc > 0) {
			const char *base = strrchr(g.gl_pathv[0], '/');

			if (base && sscanf(base, "/libsystemd-shared-%d", &version) != 1)
				version = -1;
		}
		globfree(&g);
	}
	if (version < 0)
		add(d, "prctl_args", DOCTOR_OK, NULL,
		    "no systemd found; samepage passes prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) (arguments 3-5 must be 0)");
	else if (version == 254 || version == 255)
		add(d, "prctl_args", DOCTOR_WARN, "use `samepage exec` (or ExecStart=samepage exec -- ...) instead of MemoryKSM=",
		    "systemd %d: MemoryKSM= passes non-zero prctl arguments 3-5, the kernel answers EINVAL and the unit fails (fixed in systemd 256)",
		    version);
	else
		add(d, "prctl_args", DOCTOR_OK, NULL,
		    "systemd %d: MemoryKSM= %s; samepage passes arguments 3-5 as 0", version,
		    version > 255 ? "works" : "does not exist yet");
}

static void check_features(struct doctor *d)
{
	if (ksm_knob_exists("ksm_zero_pages"))
		add(d, "zero_pages", DOCTOR_OK, NULL, "ksm_zero_pages tracked (merged empty pages count in profit)");
	else
		add(d, "zero_pages", DOCTOR_WARN, "use Linux >= 6.10 for accurate figures",
		    "no ksm_zero_pages: pages merged with the zero page (use_zero_pages) are not counted");
	if (ksm_knob_exists("smart_scan"))
		add(d, "smart_scan", DOCTOR_OK, NULL, "smart_scan present (ksmd skips pages that never merge)");
	else
		add(d, "smart_scan", DOCTOR_WARN, "use Linux >= 6.7, or keep pages_to_scan low after convergence (the governor does)",
		    "no smart_scan: ksmd rescans every unchanged page on every pass");
	if (ksm_knob_exists("advisor_mode"))
		add(d, "advisor", DOCTOR_OK, NULL, "scan-time advisor present (advisor_mode)");
	else
		add(d, "advisor", DOCTOR_WARN, "run `samepage governor` to size ksmd's scan rate",
		    "no advisor_mode (Linux < 6.8): ksmd runs at a fixed pages_to_scan");
}

static void check_ksmd(struct doctor *d)
{
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_free_ char *run = NULL;

	if (ksm_knob_read("run", &run, NULL) < 0)
		return;
	if (sp_state_load(d->o->state_dir, &st, NULL) < 0)
		memset(&st, 0, sizeof(st));
	if (strcmp(run, "1") == 0)
		add(d, "ksmd", DOCTOR_OK, NULL, "ksmd running, %s", st.ksmd_managed ? "started by samepage (the governor may tune it)"
										 : "started by someone else (samepage leaves it alone)");
	else if (!d->cfg_ok || d->cfg.manage_ksmd)
		add(d, "ksmd", DOCTOR_OK, NULL, "ksmd stopped (run=%s); samepage starts it for the first KSM container", run);
	else
		add(d, "ksmd", DOCTOR_WARN, "set `manage_ksmd: true` in samepage.conf or start ksmd (echo 1 > /sys/kernel/mm/ksm/run)",
		    "ksmd stopped (run=%s) and manage_ksmd is false: enabled containers will not merge", run);
}

/* --- ptrace and LSMs ---------------------------------------------------- */

static void check_ptrace(struct doctor *d)
{
	_cleanup_free_ char *scope = NULL;
	enum doctor_status blocked = d->native ? DOCTOR_WARN : DOCTOR_FAIL;

	if (read_file_line("/proc/sys/kernel/yama/ptrace_scope", &scope, NULL) < 0) {
		add(d, "ptrace", DOCTOR_OK, NULL, "no Yama ptrace restrictions: the hook (root, CAP_SYS_PTRACE) can inject prctl");
		return;
	}
	if (strcmp(scope, "0") == 0)
		add(d, "ptrace", DOCTOR_OK, NULL, "Yama ptrace_scope 0 (classic): the hook can inject prctl");
	else if (strcmp(scope, "1") == 0)
		add(d, "ptrace", DOCTOR_OK, NULL,
		    "Yama ptrace_scope 1 (restricted to descendants) binds only tracers without CAP_SYS_PTRACE; the hook runs as root with it");
	else if (strcmp(scope, "2") == 0)
		add(d, "ptrace", DOCTOR_OK, "rootless runtimes cannot use the stock backend; run the hook as root",
		    "Yama ptrace_scope 2 (admin only): needs CAP_SYS_PTRACE, which the hook has as root");
	else
		add(d, "ptrace", blocked,
		    "set kernel.yama.ptrace_scope to 1 or 2 (3 is final until reboot), or use the native ksm controller",
		    "Yama ptrace_scope %s (no attach): the stock backend cannot inject prctl", scope);
}

static void check_lsm(struct doctor *d)
{
	_cleanup_free_ char *lsm = NULL, *aa = NULL, *enforce = NULL;
	bool apparmor, selinux;

	if (read_file_line("/sys/kernel/security/lsm", &lsm, NULL) == 0) {
		apparmor = strstr(lsm, "apparmor") != NULL;
		selinux = strstr(lsm, "selinux") != NULL;
	} else {
		/* securityfs not mounted: look at the modules themselves. */
		apparmor = read_file_line("/sys/module/apparmor/parameters/enabled", &aa, NULL) == 0 && aa[0] == 'Y';
		selinux = access("/sys/fs/selinux/enforce", F_OK) == 0;
	}
	if (selinux && read_file_line("/sys/fs/selinux/enforce", &enforce, NULL) == 0 && strcmp(enforce, "1") != 0)
		selinux = false;
	if (!apparmor && !selinux) {
		add(d, "lsm", DOCTOR_OK, NULL, "no AppArmor or enforcing SELinux (LSMs: %s)", lsm ? lsm : "unknown, securityfs not mounted");
		return;
	}
	add(d, "lsm", DOCTOR_WARN,
	    "for `samepage enable`, allow ptrace from the host's unconfined root into the container domain (or use the native controller)",
	    "%s%s%s active: the hook injects before the container's profile or label applies (at exec) and is not affected, but `samepage enable` on running containers may be denied ptrace",
	    apparmor ? "AppArmor" : "", apparmor && selinux ? " and " : "", selinux ? "SELinux (enforcing)" : "");
}

/* --- cgroups, controller ------------------------------------------------ */

/* Which version of kernel/patches/ the controller comes from (feature probe). */
static void check_native_series(struct doctor *d)
{
	_cleanup_error_ sp_error_t err = NULL;
	enum ksm_native_series series;

	if (ksm_native_probe_series(&series, &err) < 0)
		add(d, "native_series", DOCTOR_WARN, "run `samepage doctor` as root", "ksm controller: series unknown: %s",
		    sp_error_msg(err));
	else if (series == KSM_NATIVE_SERIES_V2)
		add(d, "native_series", DOCTOR_OK, NULL, "ksm controller: v2 series");
	else if (series == KSM_NATIVE_SERIES_V1)
		add(d, "native_series", DOCTOR_WARN, "boot a kernel with the v2 series of kernel/patches/",
		    "ksm controller: v1 series (known defects: misses vfork+CLONE_INTO_CGROUP+exec children and processes whose "
		    "leader exited, overrides prctl/MADV_UNMERGEABLE opt-outs, world-readable ksm.stat)");
	else
		add(d, "native_series", DOCTOR_OK, NULL,
		    "ksm controller: series unknown until a cgroup has +ksm in its parent's cgroup.subtree_control");
}

static void check_native(struct doctor *d)
{
	if (d->native) {
		add(d, "native_controller", DOCTOR_OK, NULL,
		    "the ksm cgroup controller is available (%s): KSM per cgroup without ptrace",
		    ksm_native_cgroup2_root() ? ksm_native_cgroup2_root() : "cgroup2");
		check_native_series(d);
	} else
		add(d, "native_controller", DOCTOR_WARN,
		    "nothing needed: the stock backend (ptrace-injected prctl) is used; kernel/ has the patches for the controller",
		    "no ksm cgroup controller in this kernel");
}

/* Kernel domains (node/domain-kernel.h): every enabled container in the
 * domain its record says, and where unmanaged workloads are denied. */
static void check_kernel_domains(struct doctor *d)
{
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_free_ char *bad = NULL, *where = NULL;
	size_t checked = 0, n;
	int deny;

	if (!d->native || !ksm_domain_available())
		return;
	if (sp_state_load(d->o->state_dir, &st, &err) == 0) {
		n = sp_kdomain_mismatches(&st, &checked, &bad);
		if (n)
			add(d, "kernel_domains", DOCTOR_FAIL, "restart these containers, or write their id back to ksm.domain",
			    "%zu of %zu containers are not in the kernel domain their record says: %s", n, checked,
			    bad ? bad : "out of memory");
		else
			add(d, "kernel_domains", DOCTOR_OK, NULL, "%zu container%s, each in the kernel domain recorded",
			    checked, checked == 1 ? "" : "s");
	}
	sp_error_free(&err);
	deny = d->cfg_ok ? sp_kdomain_deny_status(&d->cfg, &err) : 0;
	if (deny > 0)
		add(d, "deny_unmanaged", DOCTOR_OK, NULL, "%s holds ksm.domain=deny", d->cfg.deny_unmanaged);
	else if (deny < 0)
		add(d, "deny_unmanaged", DOCTOR_FAIL, "the next admission writes it; check who changed it", "%s",
		    sp_error_msg(err));
	else if (asprintf(&where, "set `deny_unmanaged` in samepage.conf, or write it yourself: echo deny > %s/"
			  "system.slice/ksm.domain (the parent of workloads samepage does not manage; never an "
			  "ancestor of its containers: an ancestor's deny wins)",
			  ksm_native_cgroup2_root() ? ksm_native_cgroup2_root() : "/sys/fs/cgroup") >= 0)
		add(d, "deny_unmanaged", DOCTOR_WARN, where,
		    "unmanaged workloads may opt in themselves (in the global domain 0, apart from the tenants' domains)");
}

static void check_cgroup_mode(struct doctor *d)
{
	struct statfs sf;

	if (statfs("/sys/fs/cgroup", &sf) < 0) {
		add(d, "cgroup_mode", DOCTOR_WARN, "mount cgroups", "statfs /sys/fs/cgroup: %s", strerror(errno));
		return;
	}
	if ((unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC) {
		add(d, "cgroup_mode", DOCTOR_OK, NULL, "cgroup v2 (unified) at /sys/fs/cgroup");
		return;
	}
	if ((unsigned long)sf.f_type == TMPFS_MAGIC && statfs("/sys/fs/cgroup/unified", &sf) == 0 &&
	    (unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC) {
		add(d, "cgroup_mode", DOCTOR_WARN,
		    "boot with systemd.unified_cgroup_hierarchy=1 for the native controller; the stock backend works as is",
		    "hybrid: v1 controllers with cgroup2 at /sys/fs/cgroup/unified (the native ksm controller needs a v2 hierarchy; crun refuses some hybrid setups)");
		return;
	}
	add(d, "cgroup_mode", DOCTOR_WARN,
	    "boot with systemd.unified_cgroup_hierarchy=1 for the native controller; the stock backend works as is",
	    "cgroup v1 (legacy) only");
}

/* --- runtimes and the hook ---------------------------------------------- */

static char *which(const char *prog)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = strdup(path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	char *save = NULL, *dir;

	if (!copy)
		return NULL;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *full;

		if (asprintf(&full, "%s/%s", *dir ? dir : ".", prog) < 0)
			return NULL;
		if (access(full, X_OK) == 0)
			return full;
		free(full);
	}
	return NULL;
}

/* Where podman and CRI-O look for hooks.d JSON; $SAMEPAGE_HOOKS_D (one
 * directory) replaces both, for tests. */
static size_t hooks_dirs(const char *dirs[2])
{
	const char *e = getenv("SAMEPAGE_HOOKS_D");

	if (e && *e) {
		dirs[0] = e;
		return 1;
	}
	dirs[0] = "/usr/share/containers/oci/hooks.d";
	dirs[1] = "/etc/containers/oci/hooks.d";
	return 2;
}

/* First hooks.d JSON whose hook.path names samepage-hook; *hook_path gets
 * that path. */
static char *find_hooks_json(const char *const *dirs, size_t n_dirs, char **hook_path)
{
	size_t i;

	for (i = 0; i < n_dirs; i++) {
		_cleanup_free_ char *pattern = NULL;
		glob_t g;
		size_t j;

		if (asprintf(&pattern, "%s/*.json", dirs[i]) < 0)
			return NULL;
		if (glob(pattern, 0, NULL, &g) != 0)
			continue;
		for (j = 0; j < g.gl_pathc; j++) {
			_cleanup_free_ char *buf = NULL;
			_cleanup_(json_object_putp) json_object *root = NULL;
			json_object *hook, *path;

			if (read_file_bounded(AT_FDCWD, g.gl_pathv[j], 64 * 1024, &buf, NULL, NULL) < 0)
				continue;
			root = json_tokener_parse(buf);
			if (!root || !json_object_object_get_ex(root, "hook", &hook) ||
			    !json_object_object_get_ex(hook, "path", &path) || !json_object_is_type(path, json_type_string))
				continue;
			if (strstr(json_object_get_string(path), "samepage-hook")) {
				char *found = strdup(g.gl_pathv[j]);

				*hook_path = strdup(json_object_get_string(path));
				globfree(&g);
				return found;
			}
		}
		globfree(&g);
	}
	return NULL;
}

static void check_runtimes(struct doctor *d)
{
	static const char *const plain[] = { "runc", "crun" };
	_cleanup_free_ char *hook = sp_hook_find();
	_cleanup_free_ char *podman = which("podman");
	_cleanup_free_ char *json = NULL, *json_hook = NULL;
	const char *dirs[2] = { NULL, NULL };
	size_t n_dirs = hooks_dirs(dirs);
	bool any = false;
	size_t i;

	if (hook)
		add(d, "hook", DOCTOR_OK, NULL, "samepage-hook at %s", hook);
	else
		add(d, "hook", DOCTOR_WARN, "`make install` (or the Debian package) puts it in /usr/libexec/samepage/",
		    "samepage-hook not found beside samepage (../libexec/samepage or the same directory), in /usr/libexec/samepage or in /usr/local/libexec/samepage");

	for (i = 0; i < ARRAY_SIZE(plain); i++) {
		_cleanup_free_ char *p = which(plain[i]);

		if (!p)
			continue;
		any = true;
		add(d, plain[i], DOCTOR_OK,
		    "add the hook to each bundle: `samepage oci-config BUNDLE` (or let podman/CRI-O use hooks.d)",
		    "%s at %s: it has no hooks directory of its own, so each bundle's config.json must list samepage-hook",
		    plain[i], p);
	}

	json = find_hooks_json(dirs, n_dirs, &json_hook);
	if (podman) {
		any = true;
		if (!json)
			add(d, "podman", DOCTOR_WARN,
			    "install packaging/hooks.d/samepage.json into /usr/share/containers/oci/hooks.d (`make install`)",
			    "podman at %s, but no hooks.d JSON in %s%s%s runs samepage-hook", podman, dirs[0],
			    n_dirs > 1 ? " or " : "", n_dirs > 1 ? dirs[1] : "");
		else if (access(json_hook, X_OK) < 0)
			add(d, "podman", DOCTOR_FAIL, "install samepage-hook where the JSON says, or fix its hook.path",
			    "podman at %s; %s runs %s, which is not executable: %s", podman, json, json_hook, strerror(errno));
		else
			add(d, "podman", DOCTOR_OK, NULL, "podman at %s; %s runs %s for samepage.io/merge annotations", podman,
			    json, json_hook);
	}
	if (!any)
		add(d, "runtimes", DOCTOR_WARN, "install runc, crun or podman", "no runc, crun or podman on PATH");
}

static void check_state(struct doctor *d)
{
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	char when[32] = "?";
	struct tm tm;
	time_t at;

	if (sp_state_load(d->o->state_dir, &st, &err) < 0) {
		add(d, "state", DOCTOR_FAIL, "the next container start moves it aside and rebuilds the state",
		    "%s", sp_error_msg(err));
		return;
	}
	if (!st.recovered) {
		add(d, "state", DOCTOR_OK, NULL, "%s: %zu entr%s, %zu enabled", d->o->state_dir, st.n_containers,
		    st.n_containers == 1 ? "y" : "ies", sp_state_enabled_count(&st));
		return;
	}
	at = (time_t)st.recovered_at;
	if (localtime_r(&at, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	add(d, "state", DOCTOR_WARN, "look at the file moved aside; containers started before may be missing from `samepage status`",
	    "state recovered at %s: %s", when, st.recovered);
}

/* The policy as configured; `auto` says what it is on this node. */
static const char *policy_shown(const struct doctor *d)
{
	if (d->cfg.domain_policy_set)
		return sp_domain_policy_name(d->cfg.domain_policy);
	return ksm_domain_available() ? "auto: kernel" : "auto: exclusive";
}

static void check_config(struct doctor *d)
{
	_cleanup_error_ sp_error_t err = NULL;

	d->cfg_ok = sp_config_load(d->o->config_path, &d->cfg, &err) == 0;
	if (!d->cfg_ok)
		add(d, "config", DOCTOR_FAIL, "fix the file: the hook warns and uses nothing from it", "%s", sp_error_msg(err));
	else if (access(d->o->config_path, F_OK) < 0)
		add(d, "config", DOCTOR_OK, NULL, "%s absent: defaults (domain_policy %s)", d->o->config_path,
		    policy_shown(d));
	else
		add(d, "config", DOCTOR_OK, NULL, "%s valid (domain_policy %s, manage_ksmd %s)", d->o->config_path,
		    policy_shown(d), d->cfg.manage_ksmd ? "true" : "false");
}

/* Self-opt-in, seen: fails under exclusive, where one tenant's processes
 * merging on their own defeat the one-domain-at-a-time promise. */
static void check_unattributed(struct doctor *d)
{
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_(sp_unattributed_free) struct sp_unattributed u = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_free_ char *who = NULL;
	bool exclusive = !d->cfg_ok || d->cfg.domain_policy == SP_POLICY_EXCLUSIVE;

	if (sp_state_load(d->o->state_dir, &st, &err) < 0 || sp_unattributed_collect(&st, true, &u, &err) < 0) {
		add(d, "unattributed", DOCTOR_WARN, "run doctor as root with /proc mounted", "cannot tell: %s",
		    sp_error_msg(err));
		return;
	}
	if (u.n == 0 && u.pages <= 0) {
		add(d, "unattributed", DOCTOR_OK, NULL, "no KSM memory outside the workloads samepage enabled");
		return;
	}
	who = sp_unattributed_describe(&u, 8);
	add(d, "unattributed", exclusive ? DOCTOR_FAIL : DOCTOR_WARN,
	    "deny the self-opt-in with the seccomp fragment (docs/seccomp.md), or stop these processes",
	    "%" PRId64 " merged pages and %zu process%s outside samepage's record (self-opt-in%s)%s%s",
	    u.pages < 0 ? 0 : u.pages, u.n, u.n == 1 ? "" : "es",
	    exclusive ? "; domain_policy exclusive cannot keep domains apart" : "; domain_policy shared trusts them",
	    u.n ? ": " : "", who && u.n ? who : "");
}

/* --- the last estimate: where KSM pays --------------------------------- */

/* One line per domain of the last estimate: KSM pays there (at least
 * estimate.pays_percent of its anonymous memory is achievable) or not,
 * against whether samepage has it on. */
static void check_estimate_domain(struct doctor *d, const struct est_record_domain *dom, bool on, double pays)
{
	double pct = dom->f.anon_bytes > 0 ? 100.0 * (double)dom->f.achievable_bytes / (double)dom->f.anon_bytes : 0;
	char what[32];

	snprintf(what, sizeof(what), "%.1f%%", pct);
	if (pct >= pays && on)
		add(d, "estimate", DOCTOR_OK, NULL, "domain %s: KSM pays (%s of its anonymous memory achievable) and is on",
		    dom->domain, what);
	else if (pct >= pays)
		add(d, "estimate", DOCTOR_WARN,
		    "annotate its containers samepage.io/merge=true (or `samepage enable --domain` it)",
		    "domain %s: KSM would pay (%s of its anonymous memory, %" PRId64 " bytes, achievable; "
		    "estimate.pays_percent %g) but is off", dom->domain, what, dom->f.achievable_bytes, pays);
	else if (on)
		add(d, "estimate", DOCTOR_WARN, "drop samepage.io/merge from its containers: ksmd scans them for little",
		    "domain %s: KSM does not pay (%s of its anonymous memory achievable, below estimate.pays_percent %g) "
		    "but is on", dom->domain, what, pays);
	else
		add(d, "estimate", DOCTOR_OK, NULL,
		    "domain %s: KSM would not pay (%s achievable, below estimate.pays_percent %g): off is right",
		    dom->domain, what, pays);
}

static void check_estimate(struct doctor *d)
{
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_(est_record_free) struct est_record r = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	struct sp_estimate_config c = { .pays_percent = 5, .max_age_secs = 86400 };
	int64_t age;
	size_t i;
	int ret;

	if (d->cfg_ok)
		c = d->cfg.estimate;
	ret = est_record_load(d->o->state_dir, &r, &err);
	if (ret == -ENOENT) {
		add(d, "estimate", DOCTOR_OK, NULL, "no estimate yet: `samepage estimate` tells which domains KSM pays for");
		return;
	}
	if (ret < 0 || sp_state_load(d->o->state_dir, &st, &err) < 0) {
		add(d, "estimate", DOCTOR_WARN, "run `samepage estimate` again", "cannot read the last estimate: %s",
		    sp_error_msg(err));
		return;
	}
	age = (int64_t)time(NULL) - r.time;
	if (age > (int64_t)c.max_age_secs)
		add(d, "estimate", DOCTOR_WARN, "run `samepage estimate` again",
		    "the last estimate is %" PRId64 " s old (estimate.max_age_secs %u): workloads may have changed", age,
		    c.max_age_secs);
	for (i = 0; i < r.n_domains; i++)
		check_estimate_domain(d, &r.domains[i], sp_state_domain_enabled(&st, r.domains[i].domain), c.pays_percent);
}

/* The calls a container would make to opt in by itself. */
struct self_opt_call {
	const char *what;
	long nr;
	uint64_t args[6];
};

static const struct self_opt_call self_opt_calls[] = {
	{ "prctl(PR_SET_MEMORY_MERGE, 1)", SYS_prctl, { PR_SET_MEMORY_MERGE, 1 } },
	{ "madvise(MADV_MERGEABLE)", SYS_madvise, { 0, 4096, 12 /* MADV_MERGEABLE */ } },
	{ "io_uring_setup", SYS_io_uring_setup, { 1, 0 } },
};

/* The verdict of pid's filters on each call, into f; *open when any runs. */
static int self_opt_eval(const struct seccomp_filters *filters, uint32_t arch, FILE *f, bool *open, sp_error_t *err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(self_opt_calls); i++) {
		struct seccomp_call call = { .arch = arch, .nr = (int)self_opt_calls[i].nr };
		uint32_t action;
		bool reads_ip;
		char desc[64];
		int ret;

		memcpy(call.args, self_opt_calls[i].args, sizeof(call.args));
		ret = seccomp_filters_eval(filters, &call, &action, &reads_ip, err);
		if (ret < 0)
			return ret;
		if (seccomp_action_allows(action) || reads_ip)
			*open = true;
		fprintf(f, "%s%s: %s", i ? ", " : "", self_opt_calls[i].what,
			reads_ip ? "depends on the instruction pointer" : seccomp_action_describe(action, desc, sizeof(desc)));
	}
	return 0;
}

static void check_self_opt_in(struct doctor *d, pid_t pid)
{
	_cleanup_(seccomp_filters_free) struct seccomp_filters filters = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_free_ char *text = NULL;
	uint32_t arch;
	size_t len = 0;
	bool open = false;
	int mode, nr, ret;
	FILE *f;

	mode = seccomp_proc_mode(pid, &err);
	if (mode == 0) {
		add(d, "self_opt_in", DOCTOR_FAIL, "run it under the seccomp fragment (docs/seccomp.md)",
		    "pid %d has no seccomp filter: it can turn KSM on for itself", (int)pid);
		return;
	}
	if (mode == 1) {
		add(d, "self_opt_in", DOCTOR_OK, NULL, "pid %d runs in seccomp strict mode", (int)pid);
		return;
	}
	if (mode < 0 || seccomp_native_prctl(&arch, &nr) < 0 || seccomp_filters_read(pid, &filters, &err) < 0) {
		add(d, "self_opt_in", DOCTOR_WARN, "run doctor as root (CAP_SYS_ADMIN, ptrace) on a running pid",
		    "pid %d: cannot read its seccomp filter: %s", (int)pid,
		    err ? sp_error_msg(err) : "not implemented for this architecture");
		return;
	}
	f = open_memstream(&text, &len);
	if (!f) {
		d->oom = true;
		return;
	}
	ret = self_opt_eval(&filters, arch, f, &open, &err);
	if (fclose(f) != 0 || ret < 0) {
		add(d, "self_opt_in", DOCTOR_WARN, "check the filter by hand (docs/seccomp.md)", "pid %d: %s", (int)pid,
		    err ? sp_error_msg(err) : "out of memory");
		return;
	}
	add(d, "self_opt_in", open ? DOCTOR_FAIL : DOCTOR_OK,
	    open ? "run it under the seccomp fragment (docs/seccomp.md)" : NULL, "pid %d %s itself: %s", (int)pid,
	    open ? "can turn KSM on for" : "cannot turn KSM on for", text);
}

int doctor_run(const struct doctor_opts *o, struct doctor_report *r, sp_error_t *err)
{
	struct doctor d = { .o = o, .r = r };

	memset(r, 0, sizeof(*r));
	d.native = ksm_native_available();
	check_kernel(&d);
	check_config(&d);
	check_state(&d);
	check_ksm(&d);
	if (ksm_knob_exists("run")) {
		check_ksmd(&d);
		check_prctl(&d);
		check_exec_and_vma(&d);
		check_exec_race(&d);
		check_features(&d);
	}
	check_systemd(&d);
	check_ptrace(&d);
	check_lsm(&d);
	check_native(&d);
	check_kernel_domains(&d);
	check_cgroup_mode(&d);
	check_runtimes(&d);
	if (doctor_check_wiring(r, d.cfg_ok ? &d.cfg : NULL) < 0)
		d.oom = true;
	check_unattributed(&d);
	check_estimate(&d);
	if (o->container_pid > 0)
		check_self_opt_in(&d, o->container_pid);
	if (d.oom)
		return sp_error_set(err, ENOMEM, "doctor");
	return 0;
}

void doctor_report_count(const struct doctor_report *r, size_t counts[3])
{
	size_t i;

	counts[0] = counts[1] = counts[2] = 0;
	for (i = 0; i < r->n; i++)
		counts[r->checks[i].status <= DOCTOR_FAIL ? r->checks[i].status : DOCTOR_FAIL]++;
}

void doctor_report_free(struct doctor_report *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->checks[i].reason);
		free(r->checks[i].action);
	}
	free(r->checks);
	memset(r, 0, sizeof(*r));
}
