/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The verbs of the `samepage` CLI.  Each verb is one file cmd/<verb>.c with
 * one entry point, registered in the table in cmd/samepage.c.  A verb gets
 * argv starting at its own name, the global options, and returns the exit
 * status.
 */
#ifndef SP_VERBS_H
#define SP_VERBS_H

struct sp_global_opts {
	const char *config;     /* --config, or NULL for env/default */
	const char *state_dir;  /* --state-dir, or NULL for env/default */
};

typedef int (*sp_verb_fn)(int argc, char **argv, const struct sp_global_opts *g);

struct sp_verb {
	const char *name;
	sp_verb_fn fn;
	const char *summary;
};

int verb_exec(int argc, char **argv, const struct sp_global_opts *g);
int verb_oci_config(int argc, char **argv, const struct sp_global_opts *g);
int verb_governor(int argc, char **argv, const struct sp_global_opts *g);
int verb_doctor(int argc, char **argv, const struct sp_global_opts *g);
int verb_status(int argc, char **argv, const struct sp_global_opts *g);
int verb_metrics(int argc, char **argv, const struct sp_global_opts *g);
int verb_enable(int argc, char **argv, const struct sp_global_opts *g); /* enable and disable */
int verb_estimate(int argc, char **argv, const struct sp_global_opts *g);

/* Print "samepage: error: MSG" on stderr. */
void sp_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
