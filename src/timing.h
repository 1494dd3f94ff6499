/* SPDX-License-Identifier: MIT */
/* timing: where a run spends its time. With LMSRECON_TIMINGS set in the
 * environment, each mark prints the time since the previous mark, the
 * peak resident set so far, and the bytes the process read and wrote in
 * between (read and write calls: SQLite's pages, its sorts' temporary
 * files, inputs, outputs) and the system CPU time spent, to stderr;
 * without it a mark costs one branch. LMSRECON_TIMINGS=sql adds the slow
 * SQL statements. See docs/performance.md. */
#ifndef LMSRECON_TIMING_H
#define LMSRECON_TIMING_H

/* 0 when LMSRECON_TIMINGS is unset or "0"; 2 when it is "sql" (each
 * statement of 50 ms or more is shown too); else 1. */
int timing_level(void);

/* Notes one statement that took `ns` nanoseconds (level 2 only): printed
 * at once when it took 50 ms or more, else summed with the other runs of
 * the same SQL text and printed at the next mark when the sum is 50 ms or
 * more. */
void timing_sql(const char *sql, unsigned long long ns);

/* Notes work that took `seconds` in a thread of its own, alongside the
 * phases (printed at once, at level 1 and up). */
void timing_thread(const char *what, double seconds);

/* Ends the phase called `name` (a static string); NULL starts the clock. */
void timing_mark(const char *name);

#endif
