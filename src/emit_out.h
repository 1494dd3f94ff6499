/* SPDX-License-Identifier: MIT */
/* emit_out: the set of files one command writes into the output directory.
 * Each file is written to a temporary name beside its final one; only when
 * every file of the set was written and flushed to disk are they renamed into
 * place, so a failed run leaves no partial file (SPEC §6). */
#ifndef LMSRECON_EMIT_OUT_H
#define LMSRECON_EMIT_OUT_H

#include <stdio.h>
#include "diag.h"

struct emit_out;

/* A set of outputs under `dir` (created on demand). Removes the temporary
 * files a killed run may have left there. Caller frees. */
struct emit_out *emit_out_new(struct diag *d, const char *dir);

/* Opens `rel` (e.g. "report/summary.txt") for writing under a temporary
 * name, creating its directories. Returns the stream (owned by the set) or
 * NULL after printing the error (RC_CANTCREAT, see emit_out_rc). */
FILE *emit_out_open(struct emit_out *o, const char *rel);

/* Flushes, syncs and closes every file, then renames them all into place.
 * On any failure, prints it, removes every temporary file and returns
 * RC_IO (write failure, e.g. a full disk) or RC_CANTCREAT. */
enum rc emit_out_commit(struct emit_out *o);

/* The first failure of the set so far (RC_OK if none). */
enum rc emit_out_rc(const struct emit_out *o);

/* Removes temporary files not yet committed and frees the set. NULL is fine. */
void emit_out_free(struct emit_out *o);

#endif
