/* SPDX-License-Identifier: MIT */
/* Tests for timing: what LMSRECON_TIMINGS=sql prints about statements — a
 * slow one at once, the cheap ones run many times as one sum per text at
 * the end of the phase. Criterion runs each test in its own process, so
 * each sets the variable before timing reads it. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "timing.h"

static void sql_level(void)
{
	setenv("LMSRECON_TIMINGS", "sql", 1);
	cr_redirect_stderr();
}

static void phase_level(void)
{
	setenv("LMSRECON_TIMINGS", "1", 1);
	cr_redirect_stderr();
}

/* All that was written to stderr. Caller frees. */
static char *stderr_text(void)
{
	FILE *f = cr_get_redirected_stderr();
	size_t cap = 4096, len = 0, n;
	char *s = malloc(cap);

	fflush(stderr);
	while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2)
			s = realloc(s, cap *= 2);
	}
	s[len] = '\0';
	return s;
}

/* Writes 3 MiB to a temporary file and removes it. */
static void write_3mib(void)
{
	static char block[1 << 20];
	char path[] = "/tmp/lmsrecon-timing-XXXXXX";
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(write(fd, block, sizeof block), (ssize_t)sizeof block);
	close(fd);
	unlink(path);
}

/* The line of the slow statement of 75 ms in `err`, and the megabytes
 * read and written it gives. */
static const char *slow_line(const char *err, double *r, double *w)
{
	static const char head[] = "lmsrecon: timing:      0.075 s  ";
	const char *line = strstr(err, head);

	cr_assert(line != NULL, "%s", err);
	cr_assert_eq(sscanf(line + strlen(head), "%lf MB r %lf MB w", r, w), 2, "%s", err);
	return line;
}

Test(timing, slow_statement_is_printed_at_once_without_a_count, .init = sql_level)
{
	const char *line;
	double r = -1, w = -1;
	char *err;

	timing_mark(NULL);
	timing_sql("SELECT slow", 75000000ULL);
	err = stderr_text();
	line = slow_line(err, &r, &w);
	cr_assert(r >= 0 && w >= 0, "%s", err);
	cr_assert(strstr(line, " MB w  SELECT slow\n") != NULL, "%s", err);
	free(err);
}

/* A phase's first slow statement counts the bytes from the phase's
 * start, not what the phases before it wrote. */
Test(timing, slow_statement_counts_from_its_phase, .init = sql_level)
{
	double r = -1, w = -1;
	char *err;

	timing_mark(NULL);
	write_3mib();
	timing_mark("writing");
	timing_sql("SELECT slow", 75000000ULL);
	err = stderr_text();
	slow_line(err, &r, &w);
	cr_assert(w < 1.0, "the 3 MB of the phase before are not the statement's: %s", err);
	free(err);
}

/* A mark gives the megabytes written since the one before (here a file
 * of 3 MB) and the system time spent. */
Test(timing, mark_gives_the_bytes_written_in_the_phase, .init = phase_level)
{
	char *err, *line;
	double rss, r = -1, w = -1, sys = -1;

	timing_mark(NULL);
	write_3mib();
	/* And at least 30 ms in the kernel: calls into it until getrusage
	 * says so. */
	{
		struct rusage ru;
		double t0, t;
		getrusage(RUSAGE_SELF, &ru);
		t0 = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
		do {
			for (int i = 0; i < 1000; i++)
				(void)getppid();
			getrusage(RUSAGE_SELF, &ru);
			t = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
		} while (t - t0 < 0.03);
	}
	timing_mark("phase");
	err = stderr_text();
	line = strstr(err, "lmsrecon: timing: phase ");
	cr_assert(line != NULL, "%s", err);
	cr_assert_eq(sscanf(line + strlen("lmsrecon: timing: phase "),
			    "%*f s %*f s %lf MiB %lf MB r %lf MB w %lf s sys", &rss, &r, &w, &sys), 4,
		     "%s", err);
	cr_assert(sys >= 0.03 && sys < 5.0, "%s", err);
	/* 3 x 1 MiB is 3.1 MB to one decimal. */
	cr_assert(w > 3.05 && w < 3.15, "%s", err);
	free(err);
}

Test(timing, cheap_statements_are_summed_per_text_at_the_mark, .init = sql_level)
{
	char *err, *sum, *mark;

	timing_mark(NULL);
	for (int i = 0; i < 3; i++)
		timing_sql("INSERT INTO t VALUES (?1)", 20000000ULL);
	timing_sql("SELECT cheap", 1000000ULL);
	timing_sql("SELECT cheap", 1000000ULL);
	timing_mark("phase");
	err = stderr_text();
	sum = strstr(err, "lmsrecon: timing:      0.060 s  3x INSERT INTO t VALUES (?1)\n");
	mark = strstr(err, "lmsrecon: timing: phase ");
	cr_assert(sum != NULL, "%s", err);
	cr_assert(mark != NULL && sum < mark, "the sum comes before its phase's line: %s", err);
	cr_assert(strstr(err, "SELECT cheap") == NULL, "2 ms in all is not shown: %s", err);
	free(err);
}

Test(timing, sums_start_again_after_each_mark, .init = sql_level)
{
	char *err;

	timing_mark(NULL);
	timing_sql("SELECT again", 30000000ULL);
	timing_mark("first");
	timing_sql("SELECT again", 30000000ULL);
	timing_mark("second");
	err = stderr_text();
	cr_assert(strstr(err, "SELECT again") == NULL, "30 ms in each phase is not shown: %s", err);
	free(err);
}

Test(timing, statements_are_not_shown_at_the_phase_level, .init = phase_level)
{
	char *err;

	timing_mark(NULL);
	timing_sql("SELECT slow", 75000000ULL);
	timing_mark("phase");
	err = stderr_text();
	cr_assert(strstr(err, "lmsrecon: timing: phase ") != NULL, "%s", err);
	cr_assert(strstr(err, "SELECT") == NULL, "%s", err);
	free(err);
}
