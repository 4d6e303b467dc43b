/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One annotation of a container, as the runtime's state carried it: the
 * type oci/ fills and node/domain.h reads, so no layer copies it. */
#ifndef SP_ANNOTATION_H
#define SP_ANNOTATION_H

#include <stddef.h>

struct sp_annotation {
	char *key;
	char *value;
	size_t value_len;     /* as in the JSON: larger than strlen(value) when it has a NUL */
};

#endif
