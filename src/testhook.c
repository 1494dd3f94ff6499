/* SPDX-License-Identifier: MIT */
/* testhook: kill or pause points for the robustness tests. */
#include "testhook.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The parsed LMSRECON_TEST_AT; state 0 = not read yet, 1 = inert, 2 = armed. */
static int state;
static char point[32];
static unsigned long at, passes;
static int is_pause;

static void arm(void)
{
	const char *spec = getenv("LMSRECON_TEST_AT");
	const char *c1, *c2;
	size_t len;

	state = 1;
	if (!spec || !(c1 = strchr(spec, ':')) || !(c2 = strchr(c1 + 1, ':')))
		return;
	len = (size_t)(c1 - spec);
	if (len == 0 || len >= sizeof point)
		return;
	memcpy(point, spec, len);
	point[len] = '\0';
	at = strtoul(c1 + 1, NULL, 10);
	is_pause = strcmp(c2 + 1, "pause") == 0;
	if (at && (is_pause || strcmp(c2 + 1, "kill") == 0))
		state = 2;
}

void testhook(const char *name)
{
	if (state == 0)
		arm();
	if (state != 2 || strcmp(name, point) != 0 || ++passes != at)
		return;
	if (is_pause)
		sleep(2);
	else
		raise(SIGKILL);
}
