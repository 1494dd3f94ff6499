/* SPDX-License-Identifier: MIT */
/* formats: look-up in the compiled-in table of formats/ files. */
#include "formats.h"

#include <string.h>

const struct formats_file *formats_find(const char *name)
{
	for (const struct formats_file *f = formats_builtin; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}
