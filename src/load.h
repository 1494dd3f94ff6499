/* SPDX-License-Identifier: MIT */
/* load: ingest → snapshot. Reads every input of a job with its reader,
 * checks and normalises each value by its column type (ids, dates, booleans,
 * statuses, numbers), and stages the rows in the run's scratch tables. */
#ifndef LMSRECON_LOAD_H
#define LMSRECON_LOAD_H

#include "diag.h"
#include "ingest.h"
#include "job.h"
#include "snap.h"

/* What was read from one input. */
struct load_input {
	const struct job_input *in; /* borrowed from the job */
	struct ingest_stats st;
	unsigned long nstaged;      /* records staged (nrecords less the bad ones) */
	char sha256_hex[65];
	double seconds;             /* wall time spent reading it */
};

struct load_result {
	struct load_input *inputs;  /* one per job input, in job order; owned */
	size_t ninputs;
};

enum load_flags {
	LOAD_PROGRESS = 1,   /* print rows and MB/s per input on stderr */
	LOAD_KEEP_GOING = 2, /* after a bad input, read the others too (`check`) */
};

/* Loads every input of `j` into the staging tables of the run open on `s`
 * (when `s` is NULL, only reads and checks them), keeping the fields the
 * job maps and those in `need` (may be NULL). Bad records go through
 * diag_bad_record; a file-level problem ends that input, and the load
 * unless LOAD_KEEP_GOING. `res` is filled even on failure (what was read
 * so far); free it with load_result_release. Returns the first failure. */
enum rc load_inputs(struct diag *d, const struct job *j, struct snap *s,
		    const struct entity_fields *need, unsigned flags,
		    struct load_result *res);
void load_result_release(struct load_result *res);

/* The CRM or LMS field names the job (and `need`, which may be NULL) refer
 * to beyond an entity's standard columns, for the entity `e`. Caller frees
 * the array; the names are borrowed. Exposed for tests. */
size_t load_extra_fields(const struct job *j, const struct entity_fields *need,
			 const struct entity *e, const char ***names);

#endif
