/* SPDX-License-Identifier: MIT */
/* profile: a format profile (formats/<name>.xml) names, for each entity, the
 * CSV header or XML element of every column, the record element for XML,
 * the CSV dialect, the date layout, the null token, and how the system's
 * status words map onto lmsrecon's statuses. */
#ifndef LMSRECON_PROFILE_H
#define LMSRECON_PROFILE_H

#include "diag.h"
#include "entity.h"

/* lmsrecon's enrollment statuses (SPEC §2). */
enum status {
	ST_ENROLLED, ST_IN_PROGRESS, ST_COMPLETED, ST_PASSED, ST_FAILED,
	ST_PENDING_REVIEW, ST_WAITING, ST_SUSPENDED,
	ST_UNENROLLED, /* the export marks the enrollment as removed (R10) */
	ST_COUNT
};

struct profile_entity {
	char **headers;       /* one per entity column (entity->ncols); owned; NULL = column absent from this system */
	char *record_elem;    /* XML record element, e.g. "records"; owned */
	unsigned char is_supported; /* the profile describes this entity */
};

struct profile {
	char *name;                   /* "docebo"; owned */
	enum entity_side side;        /* the system it describes */
	unsigned char delim, quote;   /* CSV dialect */
	char *null_token;             /* text that means "no value" besides the empty field (e.g. "#N/A"); owned; may be NULL */
	char *date_pattern;           /* alternative date layout (value_datetime); owned; may be NULL */
	struct profile_entity ents[ENT_COUNT];
	size_t nstatus;
	char **status_words;          /* owned; lower-cased */
	enum status *status_values;
};

/* Loads the profile `name`: a built-in one (formats/<name>.xml, compiled
 * in) or, when `name` contains a '/' or ends in ".xml", that file. Errors
 * (unknown profile, malformed profile) are printed with `pos` (the place in
 * the job that named it) and return RC_CONFIG. Caller frees with profile_free. */
enum rc profile_load(struct diag *d, const char *name, const struct srcpos *pos,
		     struct profile **out);
void profile_free(struct profile *p);

/* Maps a status word case-insensitively. Returns 0 and sets *st, or -1. */
int profile_status(const struct profile *p, const char *word, size_t len,
		   enum status *st);
/* The lower-case name of a status ("in_progress"). */
const char *profile_status_name(enum status st);
/* 1 for completed, passed and failed. */
int profile_status_is_finished(enum status st);

#endif
