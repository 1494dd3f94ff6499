/* SPDX-License-Identifier: MIT */
/* timing: phase marks for LMSRECON_TIMINGS. */
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The peak resident set so far (VmHWM), in KiB; 0 when unknown. */
static long peak_rss_kib(void)
{
	char line[128];
	long kib = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int timing_level(void)
{
	static int level = -1;

	if (level < 0) {
		const char *v = getenv("LMSRECON_TIMINGS");
		level = !v || !*v || strcmp(v, "0") == 0 ? 0 : strcmp(v, "sql") == 0 ? 2 : 1;
	}
	return level;
}

void timing_mark(const char *name)
{
	static int is_started;
	static double start, last;
	double t;

	if (!timing_level())
		return;
	if (!is_started) {
		is_started = 1;
		start = last = now_s();
	}
	t = now_s();
	if (!name) {
		start = last = t;
		return;
	}
	fprintf(stderr, "lmsrecon: timing: %-24s %8.3f s %9.3f s %6ld MiB\n", name, t - last,
		t - start, peak_rss_kib() / 1024);
	last = t;
}

void timing_sql(const char *sql, unsigned long long ns)
{
	int n = 0;

	if (ns < 50000000ULL)
		return;
	while (sql[n] && n < 110)
		n++;
	fprintf(stderr, "lmsrecon: timing:   %8.3f s  %.*s%s\n", (double)ns / 1e9, n, sql,
		sql[n] ? "..." : "");
}
