/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Editing an OCI bundle's config.json to run samepage-hook, for runtimes
 * used without a manager (plain runc or crun), where no hooks.d directory
 * is read.
 *
 * The edit is idempotent: every hook entry whose program is samepage-hook is
 * dropped from the stages samepage uses (prestart, createRuntime, poststop),
 * then one createRuntime and one poststop entry are appended.  Editing twice
 * gives the same file, and a changed hook path or state dir replaces the old
 * entries instead of adding a second hook.  A stage left empty is removed,
 * and so is an empty `hooks`, so removing gives back the file as it was.
 * Everything else in the file is kept.
 */
#ifndef SP_BUNDLE_H
#define SP_BUNDLE_H

#include <stddef.h>
#include "base/error.h"
#include "oci/oci.h"

/* The program samepage's entries run: an entry whose path ends in it is
 * samepage's (whatever directory it is in). */
#define OCI_HOOK_PROGRAM "samepage-hook"

/* A bundle's config.json is a few KiB; anything this large is not one. */
#define OCI_CONFIG_MAX (16 * 1024 * 1024)

/* The hook entries to write. */
struct oci_bundle_hook {
	const char *path;       /* the hook binary, absolute (runtime-spec) */
	const char *state_dir;  /* passed as --state-dir, or NULL */
	const char *config;     /* passed as --config, or NULL */
	int timeout;            /* the runtime's timeout in seconds, 0 for none */
};

/* The config.json an argument stands for: a bundle directory means its
 * config.json, anything else (also "-", stdin) itself.  *path is malloc'd. */
int oci_bundle_config_path(const char *arg, char **path, sp_error_t *err);

/* Read a config.json ("-" reads stdin), at most OCI_CONFIG_MAX bytes. */
int oci_bundle_read(const char *path, char **text, size_t *len, sp_error_t *err);

/*
 * Edit the text of a config.json: drop samepage-hook's entries, then add
 * those of hook (NULL only removes).  The result, pretty-printed with a
 * final newline, goes to *out (malloc'd).  Text that is not an OCI runtime
 * config, or whose `hooks` do not have the spec's shape, is refused with a
 * message that starts with what and names the field.
 */
int oci_bundle_edit(const char *text, size_t len, const char *what, const struct oci_bundle_hook *hook, char **out,
		    sp_error_t *err);

/*
 * Deny self-opt-in in a config.json (oci/seccomp-profile.h): a bundle
 * without `linux.seccomp` gets the fragment (defaultAction SCMP_ACT_ALLOW,
 * the denies only, native architecture); one with a filter gets the denies
 * merged into it.  Everything else is kept; *out as for oci_bundle_edit().
 */
int oci_bundle_edit_seccomp(const char *text, size_t len, const char *what, char **out, sp_error_t *err);

/* The same on a seccomp profile file's text (Docker-style, as podman,
 * CRI-O, containerd and Kubernetes Localhost profiles are, or an OCI
 * `linux.seccomp` object). */
int oci_seccomp_profile_edit(const char *text, size_t len, const char *what, char **out, sp_error_t *err);

/* Replace path by text atomically, keeping the file's mode (0644 if new). */
int oci_bundle_write(const char *path, const char *text, sp_error_t *err);

/*
 * What the runtime read is what the hook judges.  crun keeps annotations
 * as C strings, so a value with an embedded NUL ("team-a\u0000x") reaches
 * the hook's state cut ("team-a") while an admission rule saw it whole.
 * The hook reads the bundle's config.json itself: the bundle directory (the
 * state's `bundle`) opened with O_NOFOLLOW and owned by root or by the
 * hook's user, not writable by group or others; config.json a regular file
 * opened with O_NOFOLLOW, at most OCI_CONFIG_MAX bytes.  Every samepage.io/
 * annotation of either side must be a string without a NUL that is present,
 * byte for byte equal, on the other side.  A state without `bundle` (not a
 * runtime's: runc and crun always give it) is not checked.  Errors name the
 * annotation or the file.
 */
int oci_bundle_check_annotations(const struct oci_state *st, sp_error_t *err);

/* The comparison alone, on a config.json's text (what names it). */
int oci_bundle_annotations_match(const char *text, size_t len, const char *what, const struct oci_state *st,
				 sp_error_t *err);

#endif
