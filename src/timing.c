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

/* Statements under the threshold, summed per text until the next mark:
 * a look-up run once per row is cheap each time and dear in total. */
struct sql_sum {
	char *sql;
	unsigned long long ns, count;
};
static struct sql_sum sums[64];
static size_t nsums;

static void print_sql(const char *sql, unsigned long long ns, unsigned long long count)
{
	int n = 0;

	while (sql[n] && n < 110)
		n++;
	if (count > 1)
		fprintf(stderr, "lmsrecon: timing:   %8.3f s  %llux %.*s%s\n", (double)ns / 1e9,
			count, n, sql, sql[n] ? "..." : "");
	else
		fprintf(stderr, "lmsrecon: timing:   %8.3f s  %.*s%s\n", (double)ns / 1e9, n, sql,
			sql[n] ? "..." : "");
}

/* Prints the sums of 50 ms or more and forgets them all. */
static void flush_sums(void)
{
	for (size_t i = 0; i < nsums; i++) {
		if (sums[i].ns >= 50000000ULL)
			print_sql(sums[i].sql, sums[i].ns, sums[i].count);
		free(sums[i].sql);
	}
	nsums = 0;
}

void timing_sql(const char *sql, unsigned long long ns)
{
	size_t i;

	if (timing_level() < 2)
		return;
	if (ns >= 50000000ULL) {
		print_sql(sql, ns, 1);
		return;
	}
	for (i = 0; i < nsums; i++)
		if (strcmp(sums[i].sql, sql) == 0)
			break;
	if (i == nsums) {
		if (nsums == sizeof sums / sizeof sums[0])
			return;
		sums[i].sql = strdup(sql);
		if (!sums[i].sql)
			return;
		sums[i].ns = sums[i].count = 0;
		nsums++;
	}
	sums[i].ns += ns;
	sums[i].count++;
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
	flush_sums();
	if (!name) {
		start = last = t;
		return;
	}
	fprintf(stderr, "lmsrecon: timing: %-24s %8.3f s %9.3f s %6ld MiB\n", name, t - last,
		t - start, peak_rss_kib() / 1024);
	last = t;
}
