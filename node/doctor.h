/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Doctor's checks: can this node do KSM per container, safely?  Each check
 * gives `ok`, `warn` or `fail` with the reason and, unless ok, what to do.
 * The checks that matter most are probes, not version guesses: whole-process
 * KSM across exec and VMA merging under it are tried for real in a child
 * that re-executes the calling program (see doctor_opts.probe_argv);
 * node/kbugs.h's table says why and where a bug was fixed.  The checks and
 * their names are listed in docs/doctor.md.
 */
#ifndef SP_DOCTOR_H
#define SP_DOCTOR_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>
#include "base/error.h"

enum doctor_status {
	DOCTOR_OK,
	DOCTOR_WARN,
	DOCTOR_FAIL,
};

/* "ok", "warn", "fail". */
const char *doctor_status_name(enum doctor_status s);

struct doctor_check {
	const char *name;        /* static: "kernel", "prctl_exec", ... */
	enum doctor_status status;
	char *reason;
	char *action;            /* what to do, or NULL */
};

struct doctor_opts {
	const char *config_path; /* the config file the hook reads */
	const char *state_dir;   /* the node state */
	/* argv that makes /proc/self/exe run doctor_exec_probe() and print its
	 * line on stdout (samepage: "samepage", "doctor", "--exec-probe"). */
	char *const *probe_argv;
	/* A running container's process (0: none) whose seccomp filter the
	 * `self_opt_in` check evaluates: can it turn KSM on by itself? */
	pid_t container_pid;
};

struct doctor_report {
	char release[65];        /* uname -r, "" when unknown */
	struct doctor_check *checks;
	size_t n, cap;
};

/* Run every check, in the order docs/doctor.md lists them.  Fails only
 * when out of memory. */
int doctor_run(const struct doctor_opts *o, struct doctor_report *r, sp_error_t *err);
void doctor_report_free(struct doctor_report *r);

/* Append a check to r (name static; action NULL or "" for none).
 * Returns 0 or -ENOMEM. */
int doctor_report_addv(struct doctor_report *r, const char *name, enum doctor_status st, const char *action,
		       const char *fmt, va_list ap);

/* Counts of checks per status (counts[DOCTOR_FAIL] > 0: the node fails). */
void doctor_report_count(const struct doctor_report *r, size_t counts[3]);

/* The probe's side, run in the re-executed child: what survived exec, as
 * the one line doctor_run() reads back.  *line is malloc'd. */
int doctor_exec_probe_line(char **line);

#endif
