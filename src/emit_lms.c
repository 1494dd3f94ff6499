/* SPDX-License-Identifier: MIT */
/* emit_lms: lms/users.csv and lms/branches.csv from the rules' tables. */
#include "emit_lms.h"
#include "emit_csv.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Header of LMS user column `key` in the job's LMS profile. */
static const char *user_header(const struct job *j, const char *key)
{
	const struct entity *e = entity_get(ENT_LMS_USER);
	int i = entity_col_index(e, key);
	const char *h = NULL;
	if (i >= 0 && j->lms_profile->ents[ENT_LMS_USER].headers)
		h = j->lms_profile->ents[ENT_LMS_USER].headers[i];
	return h ? h : key;
}

/* The extra LMS fields the job maps, each once, in job order. Caller frees
 * the array; the names are borrowed from the job. */
static size_t extra_fields(const struct job *j, const char ***out)
{
	size_t n = 0;
	*out = NULL;
	for (size_t p = 0; p < j->npeople; p++)
		for (size_t m = 0; m < j->people[p].nmaps; m++) {
			const char *f = j->people[p].maps[m].lms;
			int seen = entity_col_index(entity_get(ENT_LMS_USER), f) >= 0;
			for (size_t i = 0; i < n && !seen; i++)
				seen = strcmp((*out)[i], f) == 0;
			/* A name SQL may not carry is left out (the job rejects these). */
			if (!seen && name_is_plain(f)) {
				*out = xreallocarray(*out, n + 1, sizeof **out);
				(*out)[n++] = f;
			}
		}
	return n;
}

static enum rc write_users(const struct job *j, struct snap *s, struct emit_out *o)
{
	static const char *const keys[] = { "username", "firstname", "lastname", "email",
					    "branch_code", "active", "sfdc_id" };
	const char **extra, **vals;
	size_t nextra = extra_fields(j, &extra), ncols = 8 + nextra;
	struct buf sql = BUF_INIT;
	struct snap_stmt *st;
	FILE *f = emit_out_open(o, "lms/users.csv");

	vals = xcalloc(ncols, sizeof *vals);
	if (!f)
		goto out;
	for (size_t i = 0; i < 7; i++)
		vals[i] = user_header(j, keys[i]);
	vals[7] = "force_password_change";
	for (size_t x = 0; x < nextra; x++)
		vals[8 + x] = extra[x];
	emit_csv_row(f, CSV_IMPORT, vals, NULL, ncols);

	buf_adds(&sql, "SELECT username, firstname, lastname, email, branch_code, active, sfdc_id,"
		 " force_password_change");
	for (size_t x = 0; x < nextra; x++)
		buf_addf(&sql, ", json_extract(fields, '$.\"%s\"')", extra[x]);
	/* In the order of user_out's key: read as stored, not sorted. */
	buf_adds(&sql, " FROM stage.user_out ORDER BY username");
	st = snap_prepare(s, sql.buf);
	while (st && snap_step(st) == 1) {
		for (size_t i = 0; i < ncols; i++)
			vals[i] = snap_col_text(st, (int)i);
		emit_csv_row(f, CSV_IMPORT, vals, NULL, ncols);
	}
	snap_finalize(st);
out:
	free(vals);
	free(extra);
	buf_release(&sql);
	return snap_rc(s) != RC_OK ? snap_rc(s) : emit_out_rc(o);
}

static enum rc write_branches(const struct job *j, struct snap *s, struct emit_out *o)
{
	const struct entity *e = entity_get(ENT_BRANCH);
	const char *hdr[3];
	struct snap_stmt *st;
	FILE *f = emit_out_open(o, "lms/branches.csv");

	if (!f)
		return emit_out_rc(o);
	for (int i = 0; i < 3; i++) {
		const char *h = j->lms_profile->ents[ENT_BRANCH].headers ?
			j->lms_profile->ents[ENT_BRANCH].headers[i] : NULL;
		hdr[i] = h ? h : e->cols[i].key;
	}
	emit_csv_row(f, CSV_IMPORT, hdr, NULL, 3);
	st = snap_prepare(s, "SELECT code, name, parent_code FROM stage.branch_out WHERE is_new = 1"
			  " ORDER BY depth, code");
	while (st && snap_step(st) == 1) {
		const char *vals[3] = { snap_col_text(st, 0), snap_col_text(st, 1), snap_col_text(st, 2) };
		emit_csv_row(f, CSV_IMPORT, vals, NULL, 3);
	}
	snap_finalize(st);
	return snap_rc(s) != RC_OK ? snap_rc(s) : emit_out_rc(o);
}

enum rc emit_lms(const struct job *j, struct snap *s, struct emit_out *o)
{
	enum rc rc;
	/* The people rules and sync back (links, unlinks) write LMS users. */
	if (!j->npeople && !j->syncback.is_enabled)
		return RC_OK;
	rc = write_users(j, s, o);
	if (rc == RC_OK)
		rc = write_branches(j, s, o);
	return rc;
}
