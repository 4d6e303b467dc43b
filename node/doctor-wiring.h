/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Doctor's checks of the Kubernetes runtime wiring it finds on the node:
 *
 *   containerd  the runtime handler runc-samepage in config.toml (version 2's
 *               `io.containerd.grpc.v1.cri` or version 3's
 *               `io.containerd.cri.v1.runtime` plugin), its base_runtime_spec
 *               (present, JSON, a createRuntime hook that is executable, no
 *               rlimits), pod_annotations passing samepage.io/..., the default
 *               runtime not wired, and samepage.conf's namespace_annotation
 *               being containerd's key;
 *   CRI-O       a hooks.d file running samepage-hook whose annotation keys
 *               match samepage.io/merge=true, no `allowed_annotations` naming
 *               samepage.io (CRI-O >= 1.21 refuses its configuration), and
 *               namespace_annotation being CRI-O's key.
 *
 * Each result names the file it read and, unless ok, the fix.  The files
 * are read as text with a line reader that knows only what these checks
 * need of TOML (table headers, `key = value`, arrays over several lines);
 * containerd's `imports` are not followed.
 */
#ifndef SP_DOCTOR_WIRING_H
#define SP_DOCTOR_WIRING_H

#include <stdbool.h>
#include <stddef.h>

#include "node/config.h"
#include "node/doctor.h"

#define CONTAINERD_NAMESPACE_KEY "io.kubernetes.cri.sandbox-namespace"
#define CRIO_NAMESPACE_KEY "io.kubernetes.pod.namespace"
#define SP_RUNTIME_HANDLER "runc-samepage"

/* containerd's config.toml at `config` (containerd found on the node when
 * `installed`).  cfg: the loaded samepage.conf, or NULL when it did not
 * load.  Adds nothing when neither the file nor containerd is there.
 * Returns 0 or -ENOMEM. */
int doctor_check_containerd(struct doctor_report *r, const char *config, bool installed, const struct sp_config *cfg);

/* CRI-O: its hooks.d directories and its crio.conf.d drop-in directory. */
int doctor_check_crio(struct doctor_report *r, const char *const *hooks_dirs, size_t n_dirs, const char *conf_d,
		      bool installed, const struct sp_config *cfg);

/* Both, with the node's paths: /etc/containerd/config.toml
 * ($SAMEPAGE_CONTAINERD_CONFIG), CRI-O's hooks.d ($SAMEPAGE_HOOKS_D) and
 * /etc/crio/crio.conf.d ($SAMEPAGE_CRIO_CONF_D). */
int doctor_check_wiring(struct doctor_report *r, const struct sp_config *cfg);

#endif
