/* SPDX-License-Identifier: MIT */
/* rule_crmdiff: "only changes" on the CRM side, the last rule of a run.
 * Compares every record of stage.crm_out with the CRM export of its object
 * or, without one, with what the latest earlier run emitted; drops the
 * unchanged ones, writes the change rows and the `emitted` rows. The
 * comparisons are set-based SQL (json_each over the fields), built per
 * object from the export's columns in src/entity.c. */
#include "rule_crmdiff.h"
#include "rule_util.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A CRM object lmsrecon writes, its export entity and its external id. */
struct cd_object {
	const char *object;   /* API name as in stage.crm_out.object */
	enum entity_id entity;/* the entity of its export */
	const char *ext_id;   /* external id field of an upsert; NULL when none */
};

static const struct cd_object cd_objects[] = {
	{ "Contact", ENT_CONTACT, NULL },
	{ "LMS_User__c", ENT_X_LMS_USER, "LMS_User_Id__c" },
	{ "LMS_Course__c", ENT_X_COURSE, "LMS_Course_Key__c" },
	{ "LMS_Session__c", ENT_X_SESSION, "LMS_Session_Key__c" },
	{ "LMS_Learning_Plan__c", ENT_X_PLAN, "LMS_Learning_Plan_Key__c" },
	{ "LMS_Enrollment__c", ENT_X_ENROLLMENT, "Enrollment_Key__c" },
	{ "LMS_Learning_Plan_Enrollment__c", ENT_X_PLAN_ENROLLMENT, "Enrollment_Key__c" },
};

/* The scratch tables: for each compared crm_out row the export row or the
 * fields emitted before, and the fields that differ. The fields emitted
 * before are looked up in main.emitted, for the rows compared only. */
static const char scratch_sql[] =
	"DROP TABLE IF EXISTS stage.cd_base;"
	"DROP TABLE IF EXISTS stage.cd_diff;"
	/* out_id: crm_out rowid; x_id: rowid of the export row (export mode);
	 * prev: fields emitted before (emitted mode). The CRM is taken to hold
	 * the record when either is there. */
	"CREATE TABLE stage.cd_base (out_id INTEGER PRIMARY KEY, x_id INTEGER, prev TEXT);"
	/* One row per field of a crm_out row that differs (or, for a record
	 * not known, has a value). */
	"CREATE TABLE stage.cd_diff (out_id INTEGER NOT NULL, field TEXT NOT NULL,"
	" before TEXT, after TEXT);"
	"CREATE INDEX stage.cd_diff_out ON cd_diff (out_id);";

/* A value with no content: SQL NULL, '' or '#N/A' (a clear). */
#define IS_EMPTY(v) "(" v " IS NULL OR " v " = '' OR " v " = '#N/A')"

/* ---- emitted mode --------------------------------------------------- */

/* Each crm_out row of object ?1 and operation ?2 with the fields the
 * latest earlier run (before run ?3) emitted for it. */
static const char base_prev_sql[] =
	"INSERT INTO stage.cd_base (out_id, x_id, prev)"
	" SELECT o.rowid, NULL, " RULE_PREV_EMITTED("fields", "o.object", "o.op", "o.key", "?3")
	" FROM stage.crm_out o WHERE o.object = ?1 AND o.op = ?2";

/* An insert is never compared: the record is new to the CRM. */
static const char base_new_sql[] =
	"INSERT INTO stage.cd_base (out_id, x_id, prev)"
	" SELECT o.rowid, NULL, NULL FROM stage.crm_out o WHERE o.object = ?1 AND o.op = ?2";

/* Fields with a value now that differ from the emitted ones (none when
 * nothing was emitted: the record is new). A field left out or null is not
 * written, so it is not compared. */
#define PREV_VAL "json_extract(b.prev, '$.\"' || f.key || '\"')"
static const char diff_prev_sql[] =
	"INSERT INTO stage.cd_diff (out_id, field, before, after)"
	" SELECT b.out_id, f.key, CAST(" PREV_VAL " AS TEXT), CAST(f.value AS TEXT)"
	" FROM stage.crm_out o JOIN stage.cd_base b ON b.out_id = o.rowid, json_each(o.fields) f"
	" WHERE o.object = ?1 AND o.op = ?2 AND f.type <> 'null' AND b.prev IS NOT NULL"
	/* The same text is the same record: skip its fields (most of a day two). */
	" AND b.prev IS NOT o.fields"
	" AND NOT ((CASE WHEN " IS_EMPTY("f.value") " THEN '' ELSE f.value END) IS"
	" (CASE WHEN " IS_EMPTY(PREV_VAL) " THEN '' ELSE " PREV_VAL " END))";

/* ---- export mode ----------------------------------------------------- */

/* Appends the comparable form of `v` for a column of type `t`: '' for no
 * content; dates as full UTC date-times; numbers and booleans as REAL. */
static void add_norm(struct buf *sql, enum col_type t, const char *v)
{
	buf_addf(sql, "(CASE WHEN %s IS NULL OR %s = '' OR %s = '#N/A' THEN ''", v, v, v);
	switch (t) {
	case COL_DATETIME:
		buf_addf(sql, " WHEN length(%s) = 10 THEN %s || 'T00:00:00.000Z' ELSE %s END)",
			 v, v, v);
		break;
	case COL_NUMBER:
	case COL_BOOL:
		buf_addf(sql, " ELSE CAST(%s AS REAL) END)", v);
		break;
	default:
		buf_addf(sql, " ELSE CAST(%s AS TEXT) END)", v);
		break;
	}
}

/* Builds the statements of export mode for entity `e` keyed by column
 * `key`: the cd_base rows (first export row of the same key) and the
 * cd_diff rows (every field of the crm_out row that is an export column
 * and differs; none when the export lacks the record). */
static void build_export_sql(struct buf *base, struct buf *diff,
			     const struct entity *e, const char *key)
{
	char col[96];

	buf_addf(base, "INSERT INTO stage.cd_base (out_id, x_id, prev)"
		 " SELECT o.rowid, (SELECT min(x.rowid) FROM stage.%s x WHERE x.\"%s\" = o.key),"
		 " NULL FROM stage.crm_out o WHERE o.object = ?1 AND o.op = ?2", e->table, key);

	buf_adds(diff, "INSERT INTO stage.cd_diff (out_id, field, before, after)"
		 " SELECT b.out_id, f.key, CASE f.key");
	for (size_t i = 0; i < e->ncols; i++) {
		/* A whole number kept as REAL reads better without '.0'. */
		buf_addf(diff, " WHEN '%s' THEN CASE WHEN typeof(x.\"%s\") = 'real'"
			 " AND x.\"%s\" = CAST(x.\"%s\" AS INTEGER)"
			 " THEN CAST(CAST(x.\"%s\" AS INTEGER) AS TEXT) ELSE CAST(x.\"%s\" AS TEXT) END",
			 e->cols[i].key, e->cols[i].key, e->cols[i].key, e->cols[i].key,
			 e->cols[i].key, e->cols[i].key);
	}
	buf_addf(diff, " END, CAST(f.value AS TEXT)"
		 " FROM stage.crm_out o JOIN stage.cd_base b ON b.out_id = o.rowid,"
		 " json_each(o.fields) f LEFT JOIN stage.%s x ON x.rowid = b.x_id"
		 " WHERE o.object = ?1 AND o.op = ?2 AND f.type <> 'null' AND"
		 " b.x_id IS NOT NULL AND CASE f.key", e->table);
	for (size_t i = 0; i < e->ncols; i++) {
		buf_addf(diff, " WHEN '%s' THEN NOT (", e->cols[i].key);
		add_norm(diff, e->cols[i].type, "f.value");
		buf_adds(diff, " IS ");
		snprintf(col, sizeof col, "x.\"%s\"", e->cols[i].key);
		add_norm(diff, e->cols[i].type, col);
		buf_addch(diff, ')');
	}
	/* Relationship fields (Rel__r.X) and fields the export lacks cannot
	 * be compared: they count as equal. */
	buf_adds(diff, " ELSE 0 END");
}

/* ---- the rule --------------------------------------------------------- */

/* The remaining rows' change rows and `emitted` rows. */
static const char *const finish_sql[] = {
	/* Unchanged and not forced: the CRM already holds it. */
	"DELETE FROM stage.crm_out WHERE is_forced = 0 AND rowid IN (SELECT b.out_id"
	" FROM stage.cd_base b WHERE (b.x_id IS NOT NULL OR b.prev IS NOT NULL)"
	" AND NOT EXISTS (SELECT 1 FROM stage.cd_diff d WHERE d.out_id = b.out_id))",

	"INSERT INTO stage.changes (entity, key, action, field, before, after, src_file,"
	" src_line, rule)"
	" SELECT 'crm.' || o.object, o.key, o.op, d.field, d.before, d.after, o.src_file,"
	" o.src_line, o.rule FROM stage.cd_diff d JOIN stage.crm_out o ON o.rowid = d.out_id"
	" ORDER BY o.object, o.op, o.key, d.field",

	/* Deletes, and records sent unchanged because of the time window. */
	"INSERT INTO stage.changes (entity, key, action, field, before, after, src_file,"
	" src_line, rule)"
	" SELECT 'crm.' || o.object, o.key, o.op, NULL, NULL, NULL, o.src_file, o.src_line,"
	" CASE WHEN o.op <> 'delete' AND o.is_forced THEN 'R11' ELSE o.rule END"
	" FROM stage.crm_out o"
	" WHERE NOT EXISTS (SELECT 1 FROM stage.cd_diff d WHERE d.out_id = o.rowid)"
	" ORDER BY o.object, o.op, o.key",
};

/* What this run sends, for the next run's "only changes" and `audit`. The
 * fields of crm_out are made by json_object() or lmsrecon_json_object()
 * (the same text), or by the JSON writer and passed through json() on the
 * way in (sync back): emitted's json_valid
 * check is not evaluated, as it would parse each record again (at 0.1x
 * the insert takes 1.00 s with it, 0.56 s without). */
static const char emitted_sql[] =
	"INSERT INTO main.emitted (run_id, target, object, key, op, fields, digest)"
	" SELECT ?1, 'crm', object, key, op, CASE WHEN op = 'delete' THEN NULL ELSE fields END,"
	" CASE WHEN op = 'delete' THEN NULL ELSE lmsrecon_digest(fields) END"
	" FROM stage.crm_out ORDER BY object, op, key";

/* Runs `sql` to the end with ?1 the object, ?2 the operation and ?3 the
 * run id. Sticky. */
static void run(struct snap *s, const char *sql, const char *object, const char *op,
		long long run_id)
{
	snap_run(s, sql, "tti", object, op, run_id);
}

/* The export column that identifies a record of `o` for operation `op`:
 * Id for an update, the external id for an upsert (NULL when none). */
static const char *export_key(const struct cd_object *o, const char *op)
{
	return strcmp(op, "update") == 0 ? "Id" : o->ext_id;
}

/* 1 when `op` records of `o` are compared with the CRM export of `o` (the
 * job reads it); 0 when with what earlier runs emitted. */
static int has_export(const struct job *j, const struct cd_object *o, const char *op)
{
	return export_key(o, op) && job_input_of(j, o->entity) != NULL;
}

enum rc rule_crmdiff_prev(const struct job *j, struct snap *s, long long run_id)
{
	for (size_t i = 0; i < sizeof cd_objects / sizeof cd_objects[0]; i++)
		if (cd_objects[i].ext_id && !has_export(j, &cd_objects[i], "upsert"))
			run(s, "INSERT OR IGNORE INTO stage.prev_sent_objects (object, op)"
			    " VALUES (?1, ?2)", cd_objects[i].object, "upsert", run_id);
	return snap_rc(s);
}

/* The object `name` of stage.crm_out, or NULL when lmsrecon has no export
 * entity for it (then only the emitted rows can tell what changed). */
static const struct cd_object *object_of(const char *name)
{
	for (size_t i = 0; i < sizeof cd_objects / sizeof cd_objects[0]; i++)
		if (strcmp(cd_objects[i].object, name) == 0)
			return &cd_objects[i];
	return NULL;
}

/* Fills cd_base and cd_diff for the rows of one object and operation. */
static void compare_group(const struct job *j, struct snap *s, const char *object,
			  const char *op, long long run_id)
{
	const struct cd_object *o = object_of(object);
	struct buf base = BUF_INIT, diff = BUF_INIT;

	if (strcmp(op, "insert") == 0) {
		run(s, base_new_sql, object, op, run_id);
		run(s, diff_prev_sql, object, op, run_id);
		return;
	}
	if (o && has_export(j, o, op)) {
		build_export_sql(&base, &diff, entity_get(o->entity), export_key(o, op));
		run(s, base.buf, object, op, run_id);
		run(s, diff.buf, object, op, run_id);
	} else {
		run(s, base_prev_sql, object, op, run_id);
		run(s, diff_prev_sql, object, op, run_id);
	}
	buf_release(&base);
	buf_release(&diff);
}

enum rc rule_crmdiff(struct diag *d, const struct job *j, struct snap *s,
		     long long run_id)
{
	struct snap_stmt *groups;
	char **names = NULL;
	size_t n = 0;

	(void)d;
	snap_exec(s, scratch_sql);
	groups = snap_prepare(s, "SELECT DISTINCT object, op FROM stage.crm_out"
			      " WHERE op IN ('insert', 'update', 'upsert') ORDER BY object, op");
	if (!groups)
		goto out;
	/* Collected first: the comparisons write while the list is read. */
	while (snap_step(groups) == 1) {
		names = xreallocarray(names, n + 2, sizeof *names);
		names[n++] = xstrdup(snap_col_text(groups, 0));
		names[n++] = xstrdup(snap_col_text(groups, 1));
	}
	snap_finalize(groups);
	for (size_t i = 0; i + 1 < n; i += 2)
		compare_group(j, s, names[i], names[i + 1], run_id);
	for (size_t i = 0; i < sizeof finish_sql / sizeof finish_sql[0]; i++)
		run(s, finish_sql[i], "", "", run_id);
	snap_run_unchecked(s, emitted_sql, "i", run_id);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return snap_rc(s);
}
