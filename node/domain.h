/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Security domains: which workloads may share merged pages.  A domain is
 * derived from what the tenant cannot forge, never taken as written:
 *
 *   k8s/<namespace>            a Kubernetes container; the namespace comes
 *                              from the one annotation samepage.conf names
 *                              (`namespace_annotation`), the key the
 *                              runtime itself sets after copying the pod's
 *                              annotations (CRI-O: io.kubernetes.pod.namespace,
 *                              containerd: io.kubernetes.cri.sandbox-namespace)
 *   k8s/<namespace>/<name>     the same, narrowed by `samepage.io/domain: <name>`
 *                              (a value equal to the namespace narrows nothing)
 *   group/<group>[/<name>]     a namespace the admin put into a group
 *                              (samepage.conf `domains`); the only way to share
 *                              across namespaces
 *   local/<name>               anything else: `samepage.io/domain`, else
 *                              `local/default`; `samepage enable --domain X`
 *
 * Each part is a DNS label (1-63 of a-z, 0-9 and '-', starting and ending
 * with a letter or digit), which every Kubernetes namespace is.  A spec
 * that is plainly Kubernetes (the container-type annotation of CRI-O or
 * containerd is present) without the configured namespace key is refused:
 * the other runtime's key is tenant-controlled.
 */
#ifndef SP_DOMAIN_H
#define SP_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include "base/annotation.h"
#include "base/error.h"
#include "node/config.h"

#define SP_DOMAIN_LABEL_MAX 63
/* "group/" + label + "/" + label */
#define SP_DOMAIN_MAX (6 + SP_DOMAIN_LABEL_MAX + 1 + SP_DOMAIN_LABEL_MAX)
#define SP_DEFAULT_DOMAIN "local/default"

#define SP_ANNOTATION_DOMAIN_KEY "samepage.io/domain"
/* Set by the runtime on every container of a pod: the spec is Kubernetes. */
#define CRIO_ANNOTATION_CONTAINER_TYPE "io.kubernetes.cri-o.ContainerType"
#define CONTAINERD_ANNOTATION_CONTAINER_TYPE "io.kubernetes.cri.container-type"

/* One part of a domain: a DNS label. */
bool sp_domain_label_valid(const char *s);

/* A full domain in one of the forms above. */
bool sp_domain_valid(const char *domain);

/* 0, or -EINVAL with "invalid domain `x` (want ...)"; the caller wraps it
 * with where the name came from. */
int sp_domain_check(const char *domain, sp_error_t *err);
int sp_domain_label_check(const char *label, sp_error_t *err);

/* The domain of a container from its annotations and the node's config.
 * *domain is malloc'd.  Errors name the annotation: a value with a NUL,
 * outside the alphabet or too long, a key given twice, or a Kubernetes
 * container without the trusted namespace key.  Pure: reads nothing but
 * its arguments. */
int sp_domain_derive(const struct sp_annotation *anns, size_t n, const struct sp_config *cfg, char **domain,
		     sp_error_t *err);

/* The domain of `samepage enable --domain X`: X in full form (the admin
 * names any domain), else local/X.  malloc'd into *domain. */
int sp_domain_from_option(const char *value, char **domain, sp_error_t *err);

#endif
