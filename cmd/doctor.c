/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage doctor: can this node do KSM per container, safely?  One line per
 * check, `ok`, `warn` or `fail`, with the reason and what to do; exit 1 when
 * anything fails.  The checks are node/doctor.h's; this file has the
 * options and prints (text or --json, docs/doctor.md).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "base/json.h"
#include "node/config.h"
#include "node/state.h"
#include "node/doctor.h"
#include "cmd/verbs.h"

static void print_text(const struct doctor_report *r)
{
	size_t i, width = 0;

	for (i = 0; i < r->n; i++)
		if (strlen(r->checks[i].name) > width)
			width = strlen(r->checks[i].name);
	for (i = 0; i < r->n; i++) {
		const struct doctor_check *c = &r->checks[i];

		printf("%-4s  %-*s  %s", doctor_status_name(c->status), (int)width, c->name, c->reason);
		if (c->action)
			printf(" \u2014 %s", c->action);
		putchar('\n');
	}
}

static void print_json(const struct doctor_report *r)
{
	_cleanup_(json_object_putp) json_object *root = json_object_new_object();
	json_object *checks = json_object_new_array(), *sum = json_object_new_object();
	size_t counts[3], i;

	json_object_object_add(root, "version", json_object_new_int(1));
	json_object_object_add(root, "kernel", json_object_new_string(r->release));
	for (i = 0; i < r->n; i++) {
		const struct doctor_check *c = &r->checks[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(c->name));
		json_object_object_add(o, "status", json_object_new_string(doctor_status_name(c->status)));
		json_object_object_add(o, "reason", json_object_new_string(c->reason));
		json_object_object_add(o, "action", c->action ? json_object_new_string(c->action) : NULL);
		json_object_array_add(checks, o);
	}
	json_object_object_add(root, "checks", checks);
	doctor_report_count(r, counts);
	for (i = 0; i < 3; i++)
		json_object_object_add(sum, doctor_status_name(i), json_object_new_int((int)counts[i]));
	json_object_object_add(root, "summary", sum);
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The hidden `samepage doctor --exec-probe`: run by doctor's probe in a
 * child that turned whole-process KSM on before exec'ing us. */
static int exec_probe(void)
{
	_cleanup_free_ char *line = NULL;

	if (doctor_exec_probe_line(&line) < 0)
		return 1;
	puts(line);
	return 0;
}

static void doctor_usage(FILE *f)
{
	fputs("Usage: samepage doctor [--json] [--container-pid PID]\n"
	      "Check whether this node can run KSM per container: kernel features and known bugs\n"
	      "(probed for real where possible), ptrace and LSMs, cgroups, runtimes and the hook.\n"
	      "One line per check: ok, warn or fail, the reason, and what to do.\n"
	      "Exit status 0 when no check fails, 1 otherwise.\n"
	      "\nOptions:\n"
	      "  -j, --json   machine-readable output (see docs/doctor.md)\n"
	      "      --container-pid PID\n"
	      "               also evaluate the seccomp filter of PID (a container's process):\n"
	      "               can it turn KSM on for itself? (check self_opt_in)\n"
	      "\nExample:\n  samepage doctor\n  samepage doctor --json | jq '.checks[] | select(.status != \"ok\")'\n",
	      f);
}

int verb_doctor(int argc, char **argv, const struct sp_global_opts *g)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "exec-probe", no_argument, NULL, 'P' },
		{ "container-pid", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	static char *const probe_argv[] = { "samepage", "doctor", "--exec-probe", NULL };
	_cleanup_(doctor_report_free) struct doctor_report r = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	struct doctor_opts o = { .probe_argv = probe_argv };
	size_t counts[3];
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		long pid;

		switch (c) {
		case 'c':
			if (parse_long(optarg, 1, 1 << 22, &pid) < 0) {
				sp_cli_error("doctor: --container-pid: want a pid, got `%s`", optarg);
				return 2;
			}
			o.container_pid = (pid_t)pid;
			break;
		case 'j':
			json = true;
			break;
		case 'P':
			return exec_probe();
		case 'h':
			doctor_usage(stdout);
			return 0;
		default:
			doctor_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		sp_cli_error("doctor: unexpected argument `%s`", argv[optind]);
		return 2;
	}

	o.config_path = sp_config_path(g->config);
	o.state_dir = sp_state_dir(g->state_dir);
	/* The probe forks: nothing buffered may be written twice. */
	fflush(stdout);
	if (doctor_run(&o, &r, &err) < 0) {
		sp_cli_error("doctor: %s", sp_error_msg(err));
		return 1;
	}
	if (json)
		print_json(&r);
	else
		print_text(&r);
	doctor_report_count(&r, counts);
	return counts[DOCTOR_FAIL] ? 1 : 0;
}
