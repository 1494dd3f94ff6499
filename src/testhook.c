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
static enum { ACT_KILL, ACT_PAUSE, ACT_FAIL } action;

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
	if (strcmp(c2 + 1, "kill") == 0)
		action = ACT_KILL;
	else if (strcmp(c2 + 1, "pause") == 0)
		action = ACT_PAUSE;
	else if (strcmp(c2 + 1, "fail") == 0)
		action = ACT_FAIL;
	else
		return;
	if (at)
		state = 2;
}

/* Counts a pass of `name`; 1 when it is the one LMSRECON_TEST_AT names. */
static int is_hit(const char *name)
{
	if (state == 0)
		arm();
	return state == 2 && strcmp(name, point) == 0 && ++passes == at;
}

void testhook(const char *name)
{
	if (!is_hit(name))
		return;
	if (action == ACT_PAUSE)
		sleep(2);
	else if (action == ACT_KILL)
		raise(SIGKILL);
}

int testhook_fails(const char *name)
{
	return is_hit(name) && action == ACT_FAIL;
}
