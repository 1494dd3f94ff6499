/* SPDX-License-Identifier: MIT */
/* timing: phase marks for LMSRECON_TIMINGS. */
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* The process's system (kernel) CPU time so far, in seconds. */
static double sys_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The bytes this process has passed to read and write calls so far
 * (rchar, wchar of /proc/self/io: page reads and writes of SQLite, its
 * sorts' temporary files, the inputs and outputs), in MB; 0 when unknown. */
static void io_mb(double *r, double *w)
{
	char line[128];
	unsigned long long v;
	FILE *f = fopen("/proc/self/io", "r");

	*r = *w = 0;
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "rchar: %llu", &v) == 1)
			*r = (double)v / 1e6;
		else if (sscanf(line, "wchar: %llu", &v) == 1)
			*w = (double)v / 1e6;
	}
	fclose(f);
}

/* The bytes read and written since the last call with `last`. */
struct io_last {
	double r, w;
};
static void io_delta(struct io_last *last, double *r, double *w)
{
	double cr, cw;

	io_mb(&cr, &cw);
	*r = cr - last->r;
	*w = cw - last->w;
	last->r = cr;
	last->w = cw;
}

/* Since the last statement printed alone or mark; since the last mark. */
static struct io_last sql_io, phase_io;

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

/* One statement or sum; `io`, when not NULL, what was read and written
 * since the last statement printed alone or the phase's start (the small
 * ones since included). */
static void print_sql(const char *sql, unsigned long long ns, unsigned long long count,
		      const double *io)
{
	int n = 0;
	char cnt[32] = "", rw[64] = "";

	while (sql[n] && n < 110)
		n++;
	if (count > 1)
		snprintf(cnt, sizeof cnt, "%llux ", count);
	if (io)
		snprintf(rw, sizeof rw, "%9.1f MB r %8.1f MB w  ", io[0], io[1]);
	fprintf(stderr, "lmsrecon: timing:   %8.3f s  %s%s%.*s%s\n", (double)ns / 1e9, rw, cnt, n,
		sql, sql[n] ? "..." : "");
}

/* Prints the sums of 50 ms or more and forgets them all. */
static void flush_sums(void)
{
	for (size_t i = 0; i < nsums; i++) {
		if (sums[i].ns >= 50000000ULL)
			print_sql(sums[i].sql, sums[i].ns, sums[i].count, NULL);
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
		double io[2];
		io_delta(&sql_io, &io[0], &io[1]);
		print_sql(sql, ns, 1, io);
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

void timing_thread(const char *what, double seconds)
{
	if (timing_level())
		fprintf(stderr, "lmsrecon: timing:   %8.3f s  in a thread: %s\n", seconds, what);
}

void timing_mark(const char *name)
{
	static int is_started;
	static double start, last, last_sys;
	double t, r, w, sys;

	if (!timing_level())
		return;
	if (!is_started) {
		is_started = 1;
		start = last = now_s();
	}
	t = now_s();
	flush_sums();
	sys = sys_s();
	io_delta(&phase_io, &r, &w);
	/* A phase's first slow statement counts from the phase's start. */
	sql_io = phase_io;
	if (!name) {
		start = last = t;
		last_sys = sys;
		return;
	}
	fprintf(stderr, "lmsrecon: timing: %-24s %8.3f s %9.3f s %6ld MiB %9.1f MB r %8.1f MB w"
		" %7.2f s sys\n", name, t - last, t - start, peak_rss_kib() / 1024, r, w, sys - last_sys);
	last = t;
	last_sys = sys;
}
