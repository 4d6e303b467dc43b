/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "host/ksm.h"
#include "host/ksm-scan.h"
#include "host/proc.h"

static const char *proc_root(void)
{
	const char *r = getenv("SAMEPAGE_PROC_ROOT");

	return r && *r ? r : "/proc";
}

bool ksm_scan_proc_mergeable(const struct ksm_scan_proc *p)
{
	return p->merge_any == 1 || p->mergeable == 1 || p->merging_pages > 0 || p->rmap_items > 0 || p->vma_mg;
}

const char *ksm_scan_proc_evidence(const struct ksm_scan_proc *p)
{
	if (p->merge_any == 1)
		return "merge_any";
	if (p->mergeable == 1)
		return "mergeable";
	if (p->merging_pages > 0)
		return "merging";
	if (p->rmap_items > 0)
		return "scanned";
	return p->vma_mg ? "smaps mg" : "none";
}

/* VmFlags words are two letters separated by spaces. */
static bool vmflags_has_mg(const char *flags)
{
	const char *f = flags;

	while ((f = strstr(f, "mg")) != NULL) {
		bool start = f == flags || f[-1] == ' ' || f[-1] == '\t';
		bool end = f[2] == '\0' || f[2] == ' ' || f[2] == '\n';

		if (start && end)
			return true;
		f += 2;
	}
	return false;
}

bool ksm_smaps_text_has_mg(const char *text)
{
	const char *line = text;

	while (line && *line) {
		if (strncmp(line, "VmFlags:", 8) == 0) {
			const char *nl = strchr(line, '\n');
			_cleanup_free_ char *copy = strndup(line + 8, nl ? (size_t)(nl - line - 8) : strlen(line + 8));

			if (copy && vmflags_has_mg(copy))
				return true;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

/* smaps can be megabytes: read it a line at a time, stop at the first mg. */
static bool smaps_has_mg(const char *root, pid_t pid)
{
	_cleanup_free_ char *path = NULL, *line = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	size_t cap = 0;

	if (asprintf(&path, "%s/%d/smaps", root, (int)pid) < 0)
		return false;
	f = fopen(path, "re");
	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0)
		if (strncmp(line, "VmFlags:", 8) == 0 && vmflags_has_mg(line + 8))
			return true;
	return false;
}

/* A small /proc file (ksm_stat, stat: well under 1 KiB) into buf. */
static int read_small(const char *root, pid_t pid, const char *name, char *buf, size_t size)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	size_t n;

	if (asprintf(&path, "%s/%d/%s", root, (int)pid, name) < 0)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	return 0;
}

static int read_ksm_stat(const char *root, pid_t pid, struct ksm_proc_stat *ks)
{
	char buf[1024];
	int ret = read_small(root, pid, "ksm_stat", buf, sizeof(buf));

	if (ret < 0)
		return ret;
	/* No mm (a kernel thread, a zombie): the kernel prints nothing. */
	if (buf[strspn(buf, " \t\n")] == '\0')
		return -ESRCH;
	return ksm_proc_stat_parse(buf, ks);
}

static int scan_add(struct ksm_scan *s, const struct ksm_scan_proc *p)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct ksm_scan_proc *np = realloc(s->procs, ncap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		s->procs = np;
		s->cap = ncap;
	}
	s->procs[s->n++] = *p;
	return 0;
}

/* One process; 0 when read (kept or not), -ENOMEM only. */
static int scan_one(const char *root, pid_t pid, unsigned int flags, struct ksm_scan *s)
{
	struct ksm_scan_proc p = { .pid = pid };
	struct ksm_proc_stat ks;
	struct proc_info pi;
	char stat[1024];

	if (read_ksm_stat(root, pid, &ks) < 0)
		return 0;
	p.merge_any = ks.merge_any;
	p.mergeable = ks.mergeable;
	p.rmap_items = ks.rmap_items;
	p.merging_pages = ks.merging_pages;
	if ((flags & KSM_SCAN_SMAPS) && ks.mergeable < 0 && !ksm_scan_proc_mergeable(&p))
		p.vma_mg = smaps_has_mg(root, pid);
	if (!ksm_scan_proc_mergeable(&p))
		return 0;
	/* comm and start time name the process (and tell a reused pid). */
	if (read_small(root, pid, "stat", stat, sizeof(stat)) == 0 && proc_info_parse(stat, &pi) == 0) {
		p.start_time = pi.start_time;
		snprintf(p.comm, sizeof(p.comm), "%s", pi.comm);
	}
	return scan_add(s, &p);
}

int ksm_scan_node(unsigned int flags, struct ksm_scan *s, sp_error_t *err)
{
	const char *root = proc_root();
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;

	memset(s, 0, sizeof(*s));
	d = opendir(root);
	if (!d)
		return sp_error_set(err, errno, "open `%s`", root);
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (scan_one(root, (pid_t)pid, flags, s) < 0) {
			ksm_scan_free(s);
			return sp_error_set(err, ENOMEM, "scan `%s`", root);
		}
	}
	return 0;
}

void ksm_scan_free(struct ksm_scan *s)
{
	free(s->procs);
	memset(s, 0, sizeof(*s));
}
