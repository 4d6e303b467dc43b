/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage metrics [--output FILE]: the figures of `samepage status` in the
 * Prometheus text exposition format (version 0.0.4), for node_exporter's
 * textfile collector.  --output replaces FILE atomically, so the collector
 * never reads half a file.  Metric names are listed in
 * docs/status-metrics.md.
 */
#include <getopt.h>
#include <stdio.h>

#include "base/cleanup.h"
#include "node/config.h"
#include "base/fileio.h"
#include "node/state.h"
#include "node/report.h"
#include "cmd/verbs.h"

static void metrics_usage(FILE *f)
{
	fputs("Usage: samepage metrics [--output FILE]\n"
	      "Print the node, domain and container figures of `samepage status` as\n"
	      "Prometheus metrics (prefix samepage_, labels domain and container).\n"
	      "\nOptions:\n"
	      "  -o, --output FILE   write FILE atomically instead of standard output\n"
	      "  -h, --help          show this help\n"
	      "\nExample (node_exporter --collector.textfile.directory=/var/lib/node_exporter):\n"
	      "  samepage metrics --output /var/lib/node_exporter/samepage.prom\n",
	      f);
}

int verb_metrics(int argc, char **argv, const struct sp_global_opts *g)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_(ksm_report_free) struct ksm_report r = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_free_ char *buf = NULL;
	const char *output = NULL;
	size_t len = 0;
	int c;

	while ((c = getopt_long(argc, argv, "+o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'h':
			metrics_usage(stdout);
			return 0;
		default:
			metrics_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		sp_cli_error("metrics: unexpected argument `%s`", argv[optind]);
		return 2;
	}
	if (sp_state_load(sp_state_dir(g->state_dir), &st, &err) < 0 ||
	    ksm_report_collect(&st, NULL, NULL, 0, &r, &err) < 0) {
		sp_cli_error("metrics: %s", sp_error_msg(err));
		return 1;
	}
	ksm_report_add_estimate(&r, sp_state_dir(g->state_dir));
	if (ksm_report_prometheus(&r, &buf, &len, &err) < 0) {
		sp_cli_error("metrics: %s", sp_error_msg(err));
		return 1;
	}
	if (!output) {
		fwrite(buf, 1, len, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (write_file_atomic(output, buf, len, 0644, &err) < 0) {
		sp_cli_error("metrics: %s", sp_error_msg(err));
		return 1;
	}
	return 0;
}
