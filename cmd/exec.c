/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage exec [--] CMD [ARG]...: turn whole-process KSM on for ourselves
 * and exec CMD, which keeps it across exec (Linux >= 6.7) and hands it to
 * every child it forks.  The counterpart of systemd's MemoryKSM= for
 * anything: entrypoints, `runc exec` sessions, services.  Since this process
 * becomes CMD, CMD's exit status is the exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host/ksm.h"
#include "cmd/verbs.h"

static void exec_usage(FILE *f)
{
	fputs("Usage: samepage exec [--] CMD [ARG]...\n"
	      "Turn KSM on for CMD and everything it starts (prctl PR_SET_MEMORY_MERGE), then run it.\n"
	      "The exit status is CMD's; 127 when CMD cannot be found, 126 when it cannot run,\n"
	      "125 when KSM cannot be turned on.\n"
	      "\nExamples:\n"
	      "  samepage exec -- java -jar app.jar\n"
	      "  runc exec mycontainer samepage exec -- sh\n",
	      f);
}

int verb_exec(int argc, char **argv, const struct sp_global_opts *g)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	sp_error_t err = NULL;
	int c, ret;

	(void)g;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			exec_usage(stdout);
			return 0;
		default:
			exec_usage(stderr);
			return 125;
		}
	}
	if (optind >= argc) {
		sp_cli_error("exec: missing CMD");
		exec_usage(stderr);
		return 125;
	}

	ret = ksm_prctl_self(true, &err);
	if (ret < 0) {
		sp_cli_error("exec: %s", sp_error_msg(err));
		sp_error_free(&err);
		return 125;
	}
	execvp(argv[optind], argv + optind);
	ret = errno;
	sp_cli_error("exec: run `%s`: %s", argv[optind], strerror(ret));
	return ret == ENOENT ? 127 : 126;
}
