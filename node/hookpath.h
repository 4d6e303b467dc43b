/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where the samepage-hook that belongs with this samepage is installed:
 * the one place that answers it, for `samepage doctor` (which reports it)
 * and `samepage oci-config` (which writes it into a bundle).
 */
#ifndef SP_HOOKPATH_H
#define SP_HOOKPATH_H

#define SP_HOOK_NAME "samepage-hook"
/* Where the Debian package installs it. */
#define SP_HOOK_DEFAULT_PATH "/usr/libexec/samepage/" SP_HOOK_NAME

/*
 * The first executable of, in this order:
 *   1. <dir of this samepage>/../libexec/samepage/samepage-hook (the same
 *      installation prefix as this binary; canonicalised)
 *   2. <dir of this samepage>/samepage-hook (a build tree: build/)
 *   3. /usr/libexec/samepage/samepage-hook (the Debian package)
 *   4. /usr/local/libexec/samepage/samepage-hook (`make install`)
 * The hook of this binary's own installation comes first, so that doctor
 * reports the hook oci-config would wire.  Returns a malloc'd path, or NULL
 * when none is executable (or out of memory).
 */
char *sp_hook_find(void);

#endif
