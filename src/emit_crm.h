/* SPDX-License-Identifier: MIT */
/* emit_crm: the CRM import files (SPEC §6): one CSV per object and
 * operation under crm/, in Bulk API 2.0 / Data Loader form, each with the
 * Data Loader mapping file (.sdl) beside it. Reads stage.crm_out, the CRM
 * records the rules decided to write. docs/crm-files.md describes the files
 * and how to load them. */
#ifndef LMSRECON_EMIT_CRM_H
#define LMSRECON_EMIT_CRM_H

#include <stddef.h>

#include "emit_out.h"
#include "job.h"
#include "snap.h"

/* One column of a CRM file. */
struct emit_crm_col {
	const char *name;   /* header: an API field name, or `Rel__r.ExtId__c` for a parent by external id */
	const char *parent; /* for a `Rel__r.ExtId__c` column, the parent object's API name; else NULL */
};

/* One CRM file: crm/<object>.<op>.csv and crm/<object>.<op>.sdl. */
struct emit_crm_file {
	const char *object;              /* API name: "Contact", "LMS_User__c", ... */
	const char *op;                  /* Bulk API 2.0 operation: insert, update, upsert, delete */
	const char *ext_id;              /* external id field of an upsert; NULL for other operations */
	int is_syncback;                 /* 1: written only when the job syncs learners back (R7) */
	const struct emit_crm_col *cols; /* the header, in file order; static */
	size_t ncols;
};

/* The files emit_crm knows, in the order they are to be loaded (parents
 * before children). Sets *files to the static table and returns its length. */
size_t emit_crm_files(const struct emit_crm_file **files);

/* Writes into `o`, for every file of the table that the job calls for, the
 * CSV (header of API names, then the rows of stage.crm_out for that object
 * and operation ORDER BY key, each cell the field of that name in the row's
 * fields JSON, empty when absent or null) and its .sdl mapping. The Contact
 * files are written when the job syncs back; the others when the job has
 * any LMS learning input (courses, sessions, plans, plan courses,
 * enrollments, plan enrollments). A file with no rows keeps its header.
 * Returns the snapshot's or the output set's status (errors were printed
 * where they happened). */
enum rc emit_crm(const struct job *j, struct snap *s, struct emit_out *o);

#endif
