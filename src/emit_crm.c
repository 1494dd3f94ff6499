/* SPDX-License-Identifier: MIT */
/* emit_crm: crm/<Object>.<op>.csv and .sdl from stage.crm_out, the last
 * stage of the pipeline on the CRM side. */
#include "emit_crm.h"
#include "emit_csv.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The columns of each file: the shared contract of the rules that fill
 * stage.crm_out (docs/crm-files.md). */
static const struct emit_crm_col contact_insert_cols[] = {
	{ "FirstName", NULL }, { "LastName", NULL }, { "Email", NULL }, { "AccountId", NULL },
};
static const struct emit_crm_col contact_update_cols[] = {
	{ "Id", NULL }, { "AccountId", NULL },
};
static const struct emit_crm_col user_cols[] = {
	{ "LMS_User_Id__c", NULL }, { "Name", NULL }, { "Username__c", NULL },
	{ "LMS_Instance__c", NULL }, { "Contact__c", NULL }, { "User__c", NULL },
	{ "Last_Access__c", NULL }, { "Enrolled_Count__c", NULL },
	{ "Completed_Count__c", NULL }, { "Passed_Count__c", NULL },
	{ "Failed_Count__c", NULL }, { "In_Progress_Count__c", NULL },
	{ "Pending_Review_Count__c", NULL },
};
static const struct emit_crm_col course_cols[] = {
	{ "LMS_Course_Key__c", NULL }, { "Name", NULL }, { "Code__c", NULL },
	{ "Type__c", NULL }, { "LMS_Instance__c", NULL },
};
static const struct emit_crm_col session_cols[] = {
	{ "LMS_Session_Key__c", NULL }, { "Name", NULL }, { "Code__c", NULL },
	{ "Course__r.LMS_Course_Key__c", "LMS_Course__c" }, { "Start_Date__c", NULL },
	{ "LMS_Instance__c", NULL },
};
static const struct emit_crm_col plan_cols[] = {
	{ "LMS_Learning_Plan_Key__c", NULL }, { "Name", NULL }, { "Code__c", NULL },
	{ "Course_Count__c", NULL }, { "LMS_Instance__c", NULL },
};
static const struct emit_crm_col enrollment_cols[] = {
	{ "Enrollment_Key__c", NULL },
	{ "LMS_User__r.LMS_User_Id__c", "LMS_User__c" },
	{ "Course__r.LMS_Course_Key__c", "LMS_Course__c" },
	{ "Session__r.LMS_Session_Key__c", "LMS_Session__c" },
	{ "Item_Name__c", NULL }, { "Item_Type__c", NULL }, { "Status__c", NULL },
	{ "Enrolled_At__c", NULL }, { "Completed_At__c", NULL }, { "Score__c", NULL },
	{ "Unenrolled_At__c", NULL },
};
static const struct emit_crm_col delete_cols[] = {
	{ "Id", NULL },
};
static const struct emit_crm_col plan_enrollment_cols[] = {
	{ "Enrollment_Key__c", NULL },
	{ "LMS_User__r.LMS_User_Id__c", "LMS_User__c" },
	{ "Learning_Plan__r.LMS_Learning_Plan_Key__c", "LMS_Learning_Plan__c" },
	{ "Status__c", NULL }, { "Enrolled_At__c", NULL }, { "Completed_At__c", NULL },
	{ "Score__c", NULL }, { "Course_Count__c", NULL },
	{ "Completed_Course_Count__c", NULL }, { "Unenrolled_At__c", NULL },
};

/* Every file, in load order: Contacts before the learners that point at
 * them, courses before sessions, learners, courses, sessions and plans
 * before the enrollments, and the deletes last. */
static const struct emit_crm_file files[] = {
	{ "Contact", "insert", NULL, 1, contact_insert_cols, N(contact_insert_cols) },
	{ "Contact", "update", NULL, 1, contact_update_cols, N(contact_update_cols) },
	{ "LMS_User__c", "upsert", "LMS_User_Id__c", 0, user_cols, N(user_cols) },
	{ "LMS_Course__c", "upsert", "LMS_Course_Key__c", 0, course_cols, N(course_cols) },
	{ "LMS_Session__c", "upsert", "LMS_Session_Key__c", 0, session_cols, N(session_cols) },
	{ "LMS_Learning_Plan__c", "upsert", "LMS_Learning_Plan_Key__c", 0, plan_cols, N(plan_cols) },
	{ "LMS_Enrollment__c", "upsert", "Enrollment_Key__c", 0, enrollment_cols, N(enrollment_cols) },
	{ "LMS_Learning_Plan_Enrollment__c", "upsert", "Enrollment_Key__c", 0,
	  plan_enrollment_cols, N(plan_enrollment_cols) },
	{ "LMS_Enrollment__c", "delete", NULL, 0, delete_cols, N(delete_cols) },
};

/* The LMS inputs that make a job a learning-data job. */
static const enum entity_id learning_inputs[] = {
	ENT_COURSE, ENT_SESSION, ENT_PLAN, ENT_PLAN_COURSE, ENT_ENROLLMENT, ENT_PLAN_ENROLLMENT,
};

size_t emit_crm_files(const struct emit_crm_file **out)
{
	*out = files;
	return N(files);
}

/* Whether the job reads any LMS learning data. */
static int has_learning(const struct job *j)
{
	for (size_t i = 0; i < N(learning_inputs); i++)
		if (job_input_of(j, learning_inputs[i]))
			return 1;
	return 0;
}

/* Writes the Data Loader mapping of `f`: one `column=field` line per
 * column, in Java properties syntax. A parent by external id maps to Data
 * Loader's lookup form `Rel__r:ParentObject-ExtId__c` (the ':' escaped as
 * the properties format wants it). No date line, so that a re-run writes
 * the same bytes. */
static void write_sdl(FILE *sdl, const struct emit_crm_file *f)
{
	fputs("#Mapping values\n", sdl);
	for (size_t c = 0; c < f->ncols; c++) {
		const char *name = f->cols[c].name, *dot = strchr(name, '.');
		if (f->cols[c].parent && dot)
			fprintf(sdl, "%s=%.*s\\:%s-%s\n", name, (int)(dot - name), name,
				f->cols[c].parent, dot + 1);
		else
			fprintf(sdl, "%s=%s\n", name, name);
	}
}

/* The query of the rows of `f`: one json_extract per column, the JSON paths
 * and the object and operation bound as parameters. Caller finalizes. */
static struct snap_stmt *prepare_rows(struct snap *s, const struct emit_crm_file *f)
{
	struct buf sql = BUF_INIT, path = BUF_INIT;
	struct snap_stmt *st;

	buf_adds(&sql, "SELECT ");
	for (size_t c = 0; c < f->ncols; c++)
		buf_adds(&sql, c ? ", json_extract(fields, ?)" : "json_extract(fields, ?)");
	buf_adds(&sql, " FROM stage.crm_out WHERE object = ? AND op = ? ORDER BY key");
	st = snap_prepare(s, sql.buf);
	for (size_t c = 0; st && c < f->ncols; c++) {
		buf_reset(&path);
		buf_adds(&path, "$.\"");
		buf_adds(&path, f->cols[c].name);
		buf_addch(&path, '"');
		snap_bind_text(st, (int)c + 1, path.buf, path.len);
	}
	if (st) {
		snap_bind_text(st, (int)f->ncols + 1, f->object, strlen(f->object));
		snap_bind_text(st, (int)f->ncols + 2, f->op, strlen(f->op));
	}
	buf_release(&path);
	buf_release(&sql);
	return st;
}

/* Writes crm/<object>.<op>.csv and .sdl of one file. */
static enum rc write_file(struct snap *s, struct emit_out *o, const struct emit_crm_file *f)
{
	const char **vals = xcalloc(f->ncols, sizeof *vals);
	size_t *lens = xcalloc(f->ncols, sizeof *lens);
	char *csv_name = xasprintf("crm/%s.%s.csv", f->object, f->op);
	char *sdl_name = xasprintf("crm/%s.%s.sdl", f->object, f->op);
	struct snap_stmt *st = NULL;
	FILE *csv, *sdl;

	csv = emit_out_open(o, csv_name);
	sdl = csv ? emit_out_open(o, sdl_name) : NULL;
	if (!csv || !sdl)
		goto out;
	write_sdl(sdl, f);
	for (size_t c = 0; c < f->ncols; c++)
		vals[c] = f->cols[c].name;
	emit_csv_row(csv, CSV_IMPORT, vals, NULL, f->ncols);

	st = prepare_rows(s, f);
	while (st && snap_step(st) == 1) {
		for (size_t c = 0; c < f->ncols; c++) {
			vals[c] = snap_col_text(st, (int)c);
			lens[c] = vals[c] ? snap_col_len(st, (int)c) : 0;
		}
		emit_csv_row(csv, CSV_IMPORT, vals, lens, f->ncols);
	}
out:
	snap_finalize(st);
	free(vals);
	free(lens);
	free(csv_name);
	free(sdl_name);
	return snap_rc(s) != RC_OK ? snap_rc(s) : emit_out_rc(o);
}

enum rc emit_crm(const struct job *j, struct snap *s, struct emit_out *o)
{
	int is_learning = has_learning(j);
	enum rc rc = RC_OK;

	for (size_t i = 0; i < N(files) && rc == RC_OK; i++) {
		const struct emit_crm_file *f = &files[i];
		if (f->is_syncback ? !j->syncback.is_enabled : !is_learning)
			continue;
		rc = write_file(s, o, f);
	}
	return rc;
}
