/* SPDX-License-Identifier: GPL-2.0-or-later */
/* samepage: the command-line tool.  Dispatches to one file per verb. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "node/config.h"
#include "cmd/verbs.h"

static const struct sp_verb verbs[] = {
	{ "exec", verb_exec, "run a command with KSM on for it and its children" },
	{ "oci-config", verb_oci_config, "add samepage-hook to an OCI bundle's config.json (plain runc/crun)" },
	{ "governor", verb_governor, "run ksmd fast while new containers merge, slow after, within a CPU budget" },
	{ "doctor", verb_doctor, "check whether this node can run KSM per container, and why not" },
	{ "status", verb_status, "show what KSM merges per container and security domain" },
	{ "estimate", verb_estimate, "what KSM could save on the running containers, per container and domain" },
	{ "metrics", verb_metrics, "print the status figures as Prometheus metrics" },
	{ "enable", verb_enable, "switch KSM on for a running cgroup or process" },
	{ "disable", verb_enable, "switch KSM off (and unmerge) for a running cgroup or process" },
};

void sp_cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("samepage: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	size_t i;

	fputs("Usage: samepage [--config FILE] [--state-dir DIR] VERB [ARG]...\n"
	      "KSM memory deduplication per container and per security domain.\n\nVerbs:\n",
	      f);
	for (i = 0; i < ARRAY_SIZE(verbs); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fputs("\nOptions:\n"
	      "  -c, --config FILE     config file (env SAMEPAGE_CONFIG, default " SP_DEFAULT_CONFIG ")\n"
	      "  -s, --state-dir DIR   node state (env SAMEPAGE_STATE_DIR, default " SP_DEFAULT_STATE_DIR ")\n"
	      "  -h, --help            show this help (`samepage VERB --help` for a verb)\n"
	      "  -V, --version         show the version\n"
	      "\nExample:\n  samepage exec -- python3 app.py\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sp_global_opts g = { 0 };
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "+c:s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			g.config = optarg;
			break;
		case 's':
			g.state_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("samepage %s\n", SAMEPAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < ARRAY_SIZE(verbs); i++) {
		if (strcmp(argv[optind], verbs[i].name) == 0) {
			int first = optind;

			/* Each verb parses its own options with getopt from
			 * its own argv; optind = 0 makes glibc start over. */
			optind = 0;
			return verbs[i].fn(argc - first, argv + first, &g);
		}
	}
	sp_cli_error("unknown verb `%s` (see `samepage --help`)", argv[optind]);
	return 2;
}
