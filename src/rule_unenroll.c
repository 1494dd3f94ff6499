/* SPDX-License-Identifier: MIT */
/* rule_unenroll: R10, unenrollments found by comparing the enrollment
 * baseline with the new LMS exports. Every step is one set-based SQL
 * statement: anti-joins of enrollment_baseline with the staged exports
 * through their indexes, into one scratch table (stage.ue_gone) that the
 * later steps decide on and write out from. */
#include "rule_unenroll.h"
#include "rule_util.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Every item type, the reading of an <enrollments> element with no items. */
#define ITEM_ALL (ITEM_COURSE | ITEM_PLAN | ITEM_CLASSROOM | ITEM_WEBINAR)

/* The parameters every statement may use, bound by number when the
 * statement names them: ?1 the LMS instance, ?2 the run id, ?3 the run's
 * time, ?4 the item-type bits sent, ?5 and ?6 whether the job reads the CRM
 * export of LMS_Enrollment__c and of LMS_Learning_Plan_Enrollment__c. */
struct ue {
	struct snap *s;       /* the snapshot in its run; borrowed */
	const char *instance; /* j->lms_instance, or "" when none; borrowed */
	long long run_id;     /* the run in flight */
	const char *now;      /* the run's ISO time; borrowed */
	long long items;      /* enum job_item bits */
	int has_x_course;     /* the job reads the CRM export of LMS_Enrollment__c */
	int has_x_plan;       /* ... and of LMS_Learning_Plan_Enrollment__c */
	int has_rows_hash;    /* enr.lrn_count holds each username's rows hashed */
	int is_rebuild;       /* run --full: every username is read */
	int is_mark;          /* the policy is 'mark': no unenrollment waits */
};

/* The statuses of a finished enrollment, which delete-unfinished keeps. */
#define FINISHED "('completed', 'passed', 'failed')"

/* The scratch tables. ue_gone: one row per unenrollment found, with what
 * is learnt about it step by step; `outcome` stays NULL until decided:
 * 'unselected' (an item type the job does not send), 'user_missing',
 * 'renamed' (the same user id has it under a new username),
 * 'not_in_crm', 'marked', 'deleted', 'kept' or 'waiting'. ue_user: the LMS
 * user ids of users the LMS export no longer has, as earlier runs wrote
 * them to LMS_User__c (run_id the latest such run) or as the CRM export of
 * LMS_User__c shows them for a linked CRM record (run_id 0). ue_link: the
 * CRM records linked to those users. */
static const char scratch_sql[] =
	"DROP TABLE IF EXISTS stage.ue_gone;"
	"DROP TABLE IF EXISTS stage.ue_user;"
	"DROP TABLE IF EXISTS stage.ue_link;"
	"DROP TABLE IF EXISTS stage.ue_dirty;"
	"CREATE TABLE stage.ue_gone ("
	" kind TEXT NOT NULL, username TEXT NOT NULL, item_code TEXT NOT NULL,"
	" session_code TEXT NOT NULL, status TEXT, object TEXT NOT NULL,"
	" user_id TEXT, is_linked INTEGER, key TEXT, crm_id TEXT,"
	" is_known INTEGER NOT NULL DEFAULT 0, outcome TEXT,"
	" src_file INTEGER, src_line INTEGER,"
	" PRIMARY KEY (kind, username, item_code, session_code)) WITHOUT ROWID;"
	"CREATE TABLE stage.ue_user (username TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
	" run_id INTEGER NOT NULL);"
	"CREATE TABLE stage.ue_link (crm_id TEXT PRIMARY KEY, username TEXT NOT NULL);"
	"CREATE TABLE stage.ue_dirty (username TEXT PRIMARY KEY) WITHOUT ROWID;";

/* Deciding, in order; each step only touches rows still undecided. */
static const char *const decide_steps[] = {
	/* Item types the job does not send never reached the CRM. A course
	 * the courses export no longer has (a deleted course is a common
	 * reason for its enrollments to vanish) counts as e-learning, or as
	 * classroom or webinar when the enrollment has a session. */
	"UPDATE stage.ue_gone SET outcome = 'unselected' WHERE outcome IS NULL"
	" AND ((CASE WHEN kind = 'plan' THEN 2 ELSE coalesce("
	" (SELECT CASE c.type WHEN 'elearning' THEN 1 WHEN 'classroom' THEN 4"
	" WHEN 'webinar' THEN 8 END FROM enr.stg_course c WHERE c.code = ue_gone.item_code"
	" ORDER BY c.rowid LIMIT 1),"
	" CASE WHEN session_code <> '' THEN 12 ELSE 1 END) END) & ?4) = 0",

	/* The LMS user id, from the LMS users export; a user linked to a
	 * Contact or a User (sfdc_id 003... or 005...) is one whose
	 * enrollments R9 sends. */
	"UPDATE stage.ue_gone SET"
	" user_id = (SELECT u.user_id FROM stage.stg_lms_user u"
	" WHERE u.username = ue_gone.username ORDER BY u.rowid LIMIT 1),"
	" is_linked = (SELECT substr(u.sfdc_id, 1, 3) IN ('003', '005') FROM stage.stg_lms_user u"
	" WHERE u.username = ue_gone.username ORDER BY u.rowid LIMIT 1)"
	" WHERE outcome IS NULL",
};

/* For users gone from the LMS export: the LMS_User__c rows earlier runs of
 * this instance emitted name them (Username__c) under their user id, the
 * latest run winning. Read only when some user is missing. */
static const char *const missing_user_steps[] = {
	"INSERT INTO stage.ue_user (username, user_id, run_id)"
	" SELECT json_extract(fields, '$.Username__c'), substr(key, length(?1) + 2), max(run_id)"
	" FROM main.emitted WHERE target = 'crm' AND object = 'LMS_User__c' AND op = 'upsert'"
	" AND substr(key, 1, length(?1) + 1) = ?1 || ':'"
	" AND json_extract(fields, '$.Username__c') IN (SELECT username FROM stage.ue_gone"
	" WHERE outcome IS NULL AND user_id IS NULL)"
	" GROUP BY json_extract(fields, '$.Username__c')",

	/* Else the link the people rules keep for the username, through the
	 * CRM export of LMS_User__c, whose learner record points at the
	 * linked Contact or User: one pass over that export. */
	"INSERT OR IGNORE INTO stage.ue_link (crm_id, username)"
	" SELECT l.crm_id, l.lms_username FROM main.links l WHERE l.lms_instance = ?1"
	" AND l.lms_username IN (SELECT username FROM stage.ue_gone"
	" WHERE outcome IS NULL AND user_id IS NULL)",

	"INSERT OR IGNORE INTO stage.ue_user (username, user_id, run_id)"
	" SELECT k.username, substr(x.LMS_User_Id__c, length(?1) + 2), 0"
	" FROM stage.stg_x_lms_user x JOIN stage.ue_link k"
	" ON k.crm_id = coalesce(x.Contact__c, x.User__c)"
	" WHERE substr(x.LMS_User_Id__c, 1, length(?1) + 1) = ?1 || ':' ORDER BY x.rowid",

	"UPDATE stage.ue_gone SET is_linked = 1, user_id = (SELECT k.user_id FROM stage.ue_user k"
	" WHERE k.username = ue_gone.username)"
	" WHERE outcome IS NULL AND user_id IS NULL"
	" AND username IN (SELECT username FROM stage.ue_user)",
};

/* The rest of the decision, once every user id that can be found is. */
static const char *const key_steps[] = {
	"UPDATE stage.ue_gone SET outcome = 'user_missing' WHERE outcome IS NULL AND user_id IS NULL",

	/* The Enrollment_Key__c R9 gives the enrollment. */
	"UPDATE stage.ue_gone SET key = CASE kind"
	" WHEN 'plan' THEN ?1 || ':' || user_id || ':plan:' || item_code"
	" ELSE ?1 || ':' || user_id || ':' || item_code || ':' || session_code END"
	" WHERE outcome IS NULL",

	/* A user renamed in the LMS keeps its user id, and so the key: the
	 * enrollment is still there under the new username, not gone. */
	"UPDATE stage.ue_gone SET outcome = 'renamed' WHERE outcome IS NULL AND kind = 'course'"
	" AND EXISTS (SELECT 1 FROM stage.stg_lms_user u JOIN enr.stg_enrollment e"
	"  ON e.username = u.username WHERE u.user_id = ue_gone.user_id"
	"  AND u.username <> ue_gone.username AND e.course_code = ue_gone.item_code"
	"  AND coalesce(e.session_code, '') = ue_gone.session_code"
	"  AND e.status IS NOT 'unenrolled')",
	"UPDATE stage.ue_gone SET outcome = 'renamed' WHERE outcome IS NULL AND kind = 'plan'"
	" AND EXISTS (SELECT 1 FROM stage.stg_lms_user u JOIN enr.stg_plan_enrollment e"
	"  ON e.username = u.username WHERE u.user_id = ue_gone.user_id"
	"  AND u.username <> ue_gone.username AND e.plan_code = ue_gone.item_code"
	"  AND e.status IS NOT 'unenrolled')",

	/* The Salesforce Id, from the CRM exports (empty tables when the job
	 * reads none). */
	"UPDATE stage.ue_gone SET crm_id = (SELECT x.Id FROM stage.stg_x_enrollment x"
	" WHERE x.Enrollment_Key__c = ue_gone.key ORDER BY x.rowid LIMIT 1)"
	" WHERE outcome IS NULL AND kind = 'course'",
	"UPDATE stage.ue_gone SET crm_id = (SELECT x.Id FROM stage.stg_x_plan_enrollment x"
	" WHERE x.Enrollment_Key__c = ue_gone.key ORDER BY x.rowid LIMIT 1)"
	" WHERE outcome IS NULL AND kind = 'plan'",

	/* Known in the CRM: its export has it, the user is linked (R9 sent
	 * it), or an earlier run emitted it. */
	"UPDATE stage.ue_gone SET is_known = crm_id IS NOT NULL OR coalesce(is_linked, 0) <> 0"
	" WHERE outcome IS NULL",
	/* One look-up in emitted's key index per enrollment gone (a list
	 * of every key emitted would be built first, millions of them). */
	"UPDATE stage.ue_gone SET is_known = 1 WHERE outcome IS NULL AND is_known = 0"
	" AND EXISTS (SELECT 1 FROM main.emitted m WHERE m.target = 'crm'"
	" AND m.object = ue_gone.object AND m.op = 'upsert' AND m.key = ue_gone.key)",
	"UPDATE stage.ue_gone SET outcome = 'not_in_crm' WHERE outcome IS NULL AND is_known = 0",
};

/* The policies. */
static const char mark_sql[] =
	"UPDATE stage.ue_gone SET outcome = 'marked' WHERE outcome IS NULL";
static const char delete_sql[] =
	"UPDATE stage.ue_gone SET outcome = CASE WHEN status IN " FINISHED " THEN 'kept'"
	" WHEN crm_id IS NOT NULL THEN 'deleted' ELSE 'waiting' END WHERE outcome IS NULL";

/* The item an unenrollment was in, for a person: "course 'C'", "course
 * 'C' session 'S'", "learning plan 'P'". */
#define ITEM_TEXT "CASE WHEN kind = 'plan' THEN 'learning plan ''' || item_code || ''''" \
	" WHEN session_code <> '' THEN 'course ''' || item_code || ''' session '''" \
	" || session_code || '''' ELSE 'course ''' || item_code || '''' END"

/* What the run writes and reports. */
static const char *const out_steps[] = {
	"INSERT OR IGNORE INTO stage.crm_out (object, op, key, fields, rule, is_forced,"
	" src_file, src_line)"
	" SELECT object, 'upsert', key,"
	" json_object('Enrollment_Key__c', key, 'Unenrolled_At__c', ?3), 'R10', 0,"
	" src_file, src_line FROM stage.ue_gone WHERE outcome = 'marked'"
	" UNION ALL"
	" SELECT object, 'delete', crm_id, json_object('Id', crm_id), 'R10', 0,"
	" src_file, src_line FROM stage.ue_gone WHERE outcome = 'deleted'"
	" ORDER BY 1, 2, 3",

	"INSERT INTO stage.changes (entity, key, action, field, before, after, src_file,"
	" src_line, rule)"
	" SELECT 'crm.' || object, key, 'unenroll', NULL, status,"
	" CASE outcome WHEN 'not_in_crm' THEN 'not in crm' ELSE outcome END,"
	" src_file, src_line, 'R10' FROM stage.ue_gone"
	" WHERE outcome IN ('marked', 'deleted', 'kept', 'not_in_crm') ORDER BY object, key",

	"INSERT INTO stage.exceptions (kind, entity, key, candidates, reason, src_file, src_line)"
	" SELECT 'user_missing', CASE kind WHEN 'plan' THEN 'plan_enrollments'"
	" ELSE 'enrollments' END, username, NULL,"
	" 'unenrolled from ' || " ITEM_TEXT " || '; the user is in neither the LMS users"
	" export nor an earlier run''s LMS_User__c rows, so its Enrollment_Key__c is unknown"
	" and nothing is sent', src_file, src_line"
	" FROM stage.ue_gone WHERE outcome = 'user_missing'"
	" ORDER BY kind, username, item_code, session_code",

	"INSERT INTO stage.exceptions (kind, entity, key, candidates, reason, src_file, src_line)"
	" SELECT 'waiting_for_crm_export', object, key, NULL,"
	" CASE WHEN (kind = 'plan' AND ?6) OR (kind = 'course' AND ?5)"
	" THEN 'unenrolled; the CRM export of ' || object || ' has no record with this"
	" Enrollment_Key__c, so the delete waits for an export that has it'"
	" ELSE 'unenrolled; the delete needs the Id from a CRM export of ' || object END,"
	" src_file, src_line FROM stage.ue_gone WHERE outcome = 'waiting' ORDER BY object, key",
};

/* The baseline bookkeeping, with the policy 'delete-unfinished' (with
 * 'mark' the pass does it, forget_sql): handled unenrollments leave it,
 * waiting ones stay with the status 'unenrolled' so the next run tries
 * again. Both are written into the delta (see "the base and the delta"):
 * a row gone, or the row as it is with the status 'unenrolled'. */
#define BASELINE_KEY "(lms_instance, kind, username, item_code, session_code)"
#define DELTA_INTO "INSERT INTO main.enrollment_delta (lms_instance, kind, username," \
	" item_code, session_code, status, digest, first_run, last_run, is_gone)"
/* A row gone: its key's delta row, new or not, says so. */
#define DELTA_GONE " ON CONFLICT " BASELINE_KEY " DO UPDATE SET status = NULL, digest = NULL," \
	" last_run = excluded.last_run, is_gone = 1"
static const char *const forget_steps[] = {
	DELTA_INTO " SELECT ?1, kind, username, item_code, session_code, NULL, NULL, ?2, ?2, 1"
	" FROM stage.ue_gone WHERE outcome <> 'waiting' ORDER BY kind, username, item_code,"
	" session_code" DELTA_GONE,

	/* The row as it is: the delta's over the base's, as the view
	 * enrollment_baseline has it. Joined through the view, the planner
	 * reads every base row of the instance to find these few. */
	DELTA_INTO " SELECT ?1, g.kind, g.username, g.item_code, g.session_code, 'unenrolled',"
	" coalesce(d.digest, b.digest), coalesce(d.first_run, b.first_run),"
	" coalesce(d.last_run, b.last_run), 0"
	" FROM stage.ue_gone g"
	" LEFT JOIN main.enrollment_delta d ON d.lms_instance = ?1 AND d.kind = g.kind"
	"  AND d.username = g.username AND d.item_code = g.item_code"
	"  AND d.session_code = g.session_code AND d.is_gone = 0"
	" LEFT JOIN main.enrollment_base b ON b.lms_instance = ?1 AND b.kind = g.kind"
	"  AND b.username = g.username AND b.item_code = g.item_code"
	"  AND b.session_code = g.session_code"
	" WHERE g.outcome = 'waiting' AND coalesce(d.first_run, b.first_run) IS NOT NULL"
	" AND coalesce(d.status, b.status) IS NOT 'unenrolled'"
	" ORDER BY g.kind, g.username, g.item_code, g.session_code"
	" ON CONFLICT " BASELINE_KEY " DO UPDATE SET status = 'unenrolled'",
};

/* ---- the base and the delta -------------------------------------------
 *
 * The baseline is kept in two tables of the same key (migration 7):
 * main.enrollment_base, the rows as the last compaction left them, and
 * main.enrollment_delta, the rows the runs since then wrote, new, changed
 * or gone (is_gone). A row of the delta stands for the base's row of its
 * key. A day two changes a few rows of a sixth of the usernames, spread
 * over nearly every page of the base; the delta takes them in a few pages.
 * The delta is folded into the base (compact) by a full run, and when it
 * holds more rows of a kind than an eighth of the export's. */

/* Compacts when the delta holds more than 1 / COMPACT_RATIO as many rows
 * of the kind as the export has: the delta's pages a run rewrites grow
 * with it, and rewriting the base costs about one day two's changes
 * written into it. */
#define COMPACT_RATIO 8

/* ---- the baseline next to the export ---------------------------------
 *
 * The baseline and the staged export are read side by side, both in key
 * order (username, item, session), one item of one user at a time: the
 * baseline by the primary keys of its two tables, merged, the export by
 * its covering user index (stg_enrollment_user, stg_plan_enrollment_user).
 * One sequential pass finds what vanished (into stage.ue_gone) and writes
 * what is new, changed or gone into the delta, where a statement per
 * direction would look every row of one up in the other. The delta rows
 * written are those of the item just read, behind the delta's read
 * position: SQLite keeps a reading statement's position across writes to
 * rows before it. */

/* The columns both streams give, in this order: the export's source
 * (M_SRC_FILE, M_SRC_LINE, M_ROWID), or the baseline's first run and
 * whether the row is gone (M_FIRST_RUN, M_IS_GONE). */
enum { M_USER, M_ITEM, M_SESSION, M_STATUS, M_DIGEST, M_SRC_FILE, M_SRC_LINE, M_ROWID };
enum { M_FIRST_RUN = M_SRC_FILE, M_IS_GONE };
#define M_NTEXT 4 /* M_USER .. M_STATUS: text or NULL */

/* The digest of an enrollment's values besides its key and status, as the
 * baseline keeps them (its `digest` column): a row is written again when
 * its status or this changes. Migration 6 (snap_schema.sql) computed it
 * the same way from the values the baseline kept before. */
#define VALUES_DIGEST "lmsrecon_hash(enrolled_at, completed_at, updated_at, score)"

/* The current course enrollments, item by item of each user in the order
 * of the baseline's key; the rows of one item are put in input order in C
 * (an ORDER BY down to the rowid would sort the index's rows again, one
 * small sort per item). `users` picks the usernames: ALL_USERS, or
 * DIRTY_USERS, those of stage.ue_dirty only. */
#define STG_COURSE_SQL(users) \
	"SELECT username, course_code, coalesce(session_code, ''), status, " VALUES_DIGEST "," \
	" src_file, src_line, rowid" \
	" FROM enr.stg_enrollment" \
	" WHERE username " users " AND course_code IS NOT NULL ORDER BY username, course_code"
#define STG_PLAN_SQL(users) \
	"SELECT username, plan_code, '', status, " VALUES_DIGEST ", src_file, src_line, rowid" \
	" FROM enr.stg_plan_enrollment" \
	" WHERE username " users " AND plan_code IS NOT NULL ORDER BY username, plan_code"
#define BASELINE_SQL(table, is_gone, users) \
	"SELECT username, item_code, session_code, status, digest, first_run, " is_gone \
	" FROM main." table " WHERE lms_instance = ?1 AND kind = ?2 AND username " users \
	" ORDER BY username, item_code, session_code"
#define BASE_SQL(users) BASELINE_SQL("enrollment_base", "0", users)
#define DELTA_SQL(users) BASELINE_SQL("enrollment_delta", "is_gone", users)
#define ALL_USERS "IS NOT NULL"
/* Each stream stays one statement, which walks the usernames in order (the
 * IN list is read through their table's key) and looks each one's rows
 * up. A statement per username, reset and bound for each, paid a
 * statement's start for each of 300,000 look-ups at 1x. As a join, the
 * planner could read every row of the export first, to build a Bloom
 * filter. */
#define DIRTY_USERS "IN (SELECT username FROM stage.ue_dirty)"

/* ---- only the usernames whose rows changed ----------------------------
 *
 * main.enrollment_user keeps, per username and kind, the hash of the
 * export rows the last pass saw (enr.lrn_count has this run's, made by
 * rule_learning as it counts the rows). A username whose hash is the same
 * has the same rows: the pass over them would find nothing gone and write
 * nothing (every current row is in the baseline as it is). So the pass
 * reads only the usernames whose hash changed, those with rows then and
 * none now, those with an item listed twice, and those with an unenrollment
 * waiting for a CRM export, which is tried again at every run. ?1 the
 * instance, ?2 the kind. */
#define ROWS_HASH(n) "CASE ?2 WHEN 'course' THEN " n ".course_rows ELSE " n ".plan_rows END"

/* The usernames besides those whose hash changed (sweep_hashes). */
static const char *const dirty_steps[] = {
	/* A base row the delta changed since may be among them: its username
	 * is read once more, to no effect. */
	"INSERT OR IGNORE INTO stage.ue_dirty (username) SELECT username"
	" FROM main.enrollment_base INDEXED BY enrollment_baseline_waiting"
	" WHERE lms_instance = ?1 AND kind = ?2 AND status = 'unenrolled'",
	"INSERT OR IGNORE INTO stage.ue_dirty (username) SELECT username"
	" FROM main.enrollment_delta INDEXED BY enrollment_delta_waiting"
	" WHERE lms_instance = ?1 AND kind = ?2 AND status = 'unenrolled' AND is_gone = 0",
	/* An item listed twice: the last row goes into the baseline, and the
	 * hash does not tell the order of the rows (the learning rule lists
	 * them, kind 'course' or 'plan', by username). */
	"INSERT OR IGNORE INTO stage.ue_dirty (username)"
	" SELECT name FROM stage.lrn_twice"
	" WHERE kind = ?2",
};

/* The hashes for the next run after a pass over every username (after a
 * pass over the changed ones, sweep_hashes wrote them). */
#define HASH_INTO "INSERT INTO main.enrollment_user (lms_instance, kind, username, digest)" \
	" SELECT ?1, ?2, n.username, " ROWS_HASH("n") " FROM enr.lrn_count n" \
	" WHERE " ROWS_HASH("n") " IS NOT NULL"
#define FORGET_HASHES "DELETE FROM main.enrollment_user WHERE lms_instance = ?1 AND kind = ?2"
static const char *const hash_all_steps[] = {
	FORGET_HASHES,
	HASH_INTO " ORDER BY n.username",
};

/* An enrollment of the baseline the export no longer shows as current:
 * ?1 kind, ?2 username, ?3 item, ?4 session, ?5 its baseline status, ?6
 * object, ?7/?8 the first export row of its key (any status), or NULL. */
static const char gone_sql[] =
	"INSERT INTO stage.ue_gone (kind, username, item_code, session_code, status, object,"
	" src_file, src_line) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/* The pass writes a row of the delta by an UPDATE of its key, or an
 * INSERT when the delta has no row of it (snap_set_or_add says why not
 * an upsert). ?1 instance, ?2 kind, ?3 .. ?5 the key in each. */
#define DELTA_SET "UPDATE main.enrollment_delta SET "
#define DELTA_OF_KEY " WHERE lms_instance = ?1 AND kind = ?2 AND username = ?3" \
	" AND item_code = ?4 AND session_code = ?5"

/* An enrollment found gone leaves the baseline as the pass finds it, when
 * the policy is 'mark': none then waits for a CRM export, whatever the
 * steps after the pass decide (forget_steps). A statement after the pass
 * looked every such row up again (at 1x, 55,000 rows gone: 1.4 s). ?6 the
 * run. */
static const char forget_set_sql[] =
	DELTA_SET "status = NULL, digest = NULL, last_run = ?6, is_gone = 1" DELTA_OF_KEY;
static const char forget_add_sql[] =
	DELTA_INTO " VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL, ?6, ?6, 1)";

/* A current enrollment new or changed: ?6 the status, ?7 the digest of
 * the other values, ?8 the run, ?9 its first run (the baseline's row's,
 * or this run). last_run is the last run that changed it; the pass writes
 * no row unchanged (on a day two most are). A row gone before and back
 * now starts again. */
static const char keep_set_sql[] =
	DELTA_SET "status = ?6, digest = ?7, last_run = ?8,"
	" first_run = CASE WHEN is_gone THEN ?9 ELSE first_run END, is_gone = 0" DELTA_OF_KEY;
static const char keep_add_sql[] =
	DELTA_INTO " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?8, 0)";

/* Into the base, by a first run and a compaction. */
#define BASELINE_INTO "INSERT INTO main.enrollment_base (lms_instance, kind, username," \
	" item_code, session_code, status, digest, first_run, last_run)"
#define BASELINE_UPSERT \
	" ON CONFLICT " BASELINE_KEY " DO UPDATE SET" \
	" status = excluded.status, digest = excluded.digest, last_run = excluded.last_run" \
	" WHERE status IS NOT excluded.status OR digest IS NOT excluded.digest"

/* The delta of ?1 instance and ?2 kind folded into the base, in key
 * order, and emptied. */
static const char *const compact_steps[] = {
	"DELETE FROM main.enrollment_base WHERE lms_instance = ?1 AND kind = ?2"
	" AND (username, item_code, session_code) IN (SELECT username, item_code, session_code"
	" FROM main.enrollment_delta WHERE lms_instance = ?1 AND kind = ?2 AND is_gone = 1)",
	"INSERT INTO main.enrollment_base (lms_instance, kind, username, item_code, session_code,"
	" status, digest, first_run, last_run) SELECT lms_instance, kind, username, item_code,"
	" session_code, status, digest, first_run, last_run FROM main.enrollment_delta"
	" WHERE lms_instance = ?1 AND kind = ?2 AND is_gone = 0"
	" ORDER BY username, item_code, session_code"
	" ON CONFLICT " BASELINE_KEY " DO UPDATE SET status = excluded.status,"
	" digest = excluded.digest, first_run = excluded.first_run, last_run = excluded.last_run",
	"DELETE FROM main.enrollment_delta WHERE lms_instance = ?1 AND kind = ?2",
};

/* The same for a first run, when the instance has no baseline of the kind:
 * nothing can have vanished, and every current row goes in, in key order,
 * by one statement (?1 instance, ?2 run; a key listed twice ends with its
 * last row). The pass would write them one statement per row. */
#define FIRST_SQL(kind, table, item, session, order) \
	BASELINE_INTO " SELECT ?1, '" kind "', username, " item ", " session ", status," \
	" " VALUES_DIGEST ", ?2, ?2 FROM enr." table \
	" WHERE username IS NOT NULL AND " item " IS NOT NULL AND status IS NOT 'unenrolled'" \
	" ORDER BY " order BASELINE_UPSERT
static const char first_course_sql[] =
	FIRST_SQL("course", "stg_enrollment", "course_code", "coalesce(session_code, '')",
		  "username, course_code, session_code, src_line, rowid");
static const char first_plan_sql[] =
	FIRST_SQL("plan", "stg_plan_enrollment", "plan_code", "''",
		  "username, plan_code, src_line, rowid");

/* A text column of a row: where in the side's buffer, NULL or not. */
struct m_text {
	size_t off, len;
	int is_null;
};

/* One row of either stream. */
struct m_row {
	struct m_text t[M_NTEXT];
	long long digest;
	int has_digest;    /* a baseline row may have none: it equals no export row */
	long long src_file, src_line, rowid; /* export rows only */
	long long first_run; /* baseline rows only */
	int is_gone;         /* a delta row that stands for a base row gone */
};

/* One of the baseline's two tables and its row at hand, copied: the pass
 * writes into the delta between two steps of its statement. */
struct m_head {
	struct snap_stmt *st;
	int has;           /* r holds a row: the statement is not done */
	struct m_row r;
	struct buf text;   /* the texts of r */
};

/* One stream and the rows of its item at hand: rows[0 .. n) are one item
 * of one user; rows[n], when has_next, is the first row of the next. The
 * export is read from one statement (st), the baseline from two merged
 * (base and delta, the delta's row standing for the base's of its key). */
struct m_side {
	struct snap_stmt *st;
	struct m_head base, delta;
	int is_export;     /* the export (its rows have a source), not the baseline */
	int is_started;    /* the baseline's heads hold their first rows */
	int is_loaded;     /* rows[0 .. n) hold the item at the head */
	int is_eof;
	int has_next;
	struct m_row *rows;
	size_t n, cap;
	struct buf text;   /* every text of rows, NUL-separated */
};

static const char *m_str(const struct m_side *sd, const struct m_row *r, int c)
{
	return r->t[c].is_null ? NULL : sd->text.buf + r->t[c].off;
}

/* Copies the row of `st` at hand into `r`, its texts appended to `text`. */
static void m_copy(struct snap_stmt *st, int is_export, struct m_row *r, struct buf *text)
{
	for (int c = 0; c < M_NTEXT; c++) {
		const char *v = snap_col_text(st, c);
		r->t[c].is_null = v == NULL;
		r->t[c].off = text->len;
		r->t[c].len = v ? snap_col_len(st, c) : 0;
		if (v)
			buf_add(text, v, r->t[c].len);
		buf_addch(text, '\0');
	}
	r->has_digest = !snap_col_is_null(st, M_DIGEST);
	r->digest = r->has_digest ? snap_col_int(st, M_DIGEST) : 0;
	if (is_export) {
		r->src_file = snap_col_int(st, M_SRC_FILE);
		r->src_line = snap_col_int(st, M_SRC_LINE);
		r->rowid = snap_col_int(st, M_ROWID);
	} else {
		r->first_run = snap_col_int(st, M_FIRST_RUN);
		r->is_gone = snap_col_int(st, M_IS_GONE) != 0;
	}
}

/* Steps a baseline table's statement and copies its row. */
static void m_head_next(struct m_head *h)
{
	buf_reset(&h->text);
	h->has = snap_step(h->st) == 1;
	if (h->has)
		m_copy(h->st, 0, &h->r, &h->text);
}

/* Byte order of two texts, as SQLite's BINARY collation sorts them; `ta`
 * and `tb` hold the texts of ra and rb. */
static int m_cmp_at(const char *ta, const struct m_row *ra, const char *tb,
		    const struct m_row *rb, int c)
{
	size_t la = ra->t[c].len, lb = rb->t[c].len;
	int r = memcmp(ta + ra->t[c].off, tb + rb->t[c].off, la < lb ? la : lb);
	return r ? r : (la > lb) - (la < lb);
}

/* The next row of the baseline into rows[i]: the lesser key of the two
 * heads, the delta's when both have it; a row gone is passed over. */
static int m_read_baseline(struct m_side *sd, size_t i)
{
	struct m_head *b = &sd->base, *d = &sd->delta, *h;
	struct m_row *r = &sd->rows[i];

	if (!sd->is_started) {
		sd->is_started = 1;
		m_head_next(b);
		m_head_next(d);
	}
	for (;;) {
		int cmp = 0;
		if (!b->has && !d->has)
			return 0;
		for (int c = M_USER; c <= M_SESSION && !cmp && b->has && d->has; c++)
			cmp = m_cmp_at(b->text.buf, &b->r, d->text.buf, &d->r, c);
		h = !d->has || (b->has && cmp < 0) ? b : d;
		if (h == d && b->has && cmp == 0)
			m_head_next(b);
		if (!h->r.is_gone)
			break;
		m_head_next(h);
	}
	*r = h->r;
	for (int c = 0; c < M_NTEXT; c++) {
		r->t[c].off = sd->text.len;
		buf_add(&sd->text, h->text.buf + h->r.t[c].off, h->r.t[c].len);
		buf_addch(&sd->text, '\0');
	}
	m_head_next(h);
	return 1;
}

/* Steps the stream and copies its row into rows[i]; 0 at the end. */
static int m_read(struct m_side *sd, size_t i)
{
	if (sd->is_eof)
		return 0;
	if (i >= sd->cap) {
		sd->cap = sd->cap ? 2 * sd->cap : 16;
		sd->rows = xreallocarray(sd->rows, sd->cap, sizeof *sd->rows);
	}
	if (sd->is_export ? snap_step(sd->st) == 1 : m_read_baseline(sd, i)) {
		if (sd->is_export)
			m_copy(sd->st, 1, &sd->rows[i], &sd->text);
		return 1;
	}
	sd->is_eof = 1;
	return 0;
}

/* Byte order of two texts of rows of two streams. */
static int m_cmp_text(const struct m_side *a, const struct m_row *ra,
		      const struct m_side *b, const struct m_row *rb, int c)
{
	return m_cmp_at(a->text.buf, ra, b->text.buf, rb, c);
}

/* Order of the items (user, then item code) of two rows. */
static int m_cmp_item(const struct m_side *a, const struct m_row *ra,
		      const struct m_side *b, const struct m_row *rb)
{
	int r = m_cmp_text(a, ra, b, rb, M_USER);
	return r ? r : m_cmp_text(a, ra, b, rb, M_ITEM);
}

/* qsort order of the rows of one item: input order (line, then rowid).
 * A first run's statement puts a NULL session before '' where the two
 * are the same key; here they are never both there, as the loader
 * stages every empty field as NULL. */
static int m_cmp_input(const void *a, const void *b)
{
	const struct m_row *x = a, *y = b;
	if (x->src_line != y->src_line)
		return x->src_line < y->src_line ? -1 : 1;
	return (x->rowid > y->rowid) - (x->rowid < y->rowid);
}

/* Loads the item at the head of the stream into rows[0 .. n), the
 * export's in input order; 0 when the stream is done. */
static int m_load(struct m_side *sd)
{
	if (sd->is_loaded)
		return sd->n > 0;
	sd->is_loaded = 1;
	if (sd->has_next) {
		/* The next item's first row moves to the front, its texts to
		 * the start of the buffer. */
		struct m_row r = sd->rows[sd->n];
		size_t base = r.t[0].off;
		memmove(sd->text.buf, sd->text.buf + base, sd->text.len - base);
		sd->text.len -= base;
		for (int c = 0; c < M_NTEXT; c++)
			r.t[c].off -= base;
		sd->rows[0] = r;
		sd->has_next = 0;
	} else {
		sd->n = 0;
		buf_reset(&sd->text);
		if (!m_read(sd, 0))
			return 0;
	}
	sd->n = 1;
	while (m_read(sd, sd->n)) {
		if (m_cmp_item(sd, &sd->rows[0], sd, &sd->rows[sd->n]) != 0) {
			sd->has_next = 1;
			break;
		}
		sd->n++;
	}
	if (sd->is_export && sd->n > 1)
		qsort(sd->rows, sd->n, sizeof *sd->rows, m_cmp_input);
	return 1;
}

/* The same text, or both NULL. */
static int m_same_text(const struct m_side *a, const struct m_row *ra,
		       const struct m_side *b, const struct m_row *rb, int c)
{
	if (ra->t[c].is_null || rb->t[c].is_null)
		return ra->t[c].is_null && rb->t[c].is_null;
	return m_cmp_text(a, ra, b, rb, c) == 0;
}

/* The export row `e` is the baseline row `b`: the same status (SQL's IS)
 * and the same digest of the other values. */
static int m_same_values(const struct m_side *ex, const struct m_row *e,
			 const struct m_side *bs, const struct m_row *b)
{
	return m_same_text(ex, e, bs, b, M_STATUS) && e->has_digest && b->has_digest &&
	       e->digest == b->digest;
}

/* The export row is current: its status is not 'unenrolled'. */
static int m_is_current(const struct m_side *ex, const struct m_row *e)
{
	const char *st = m_str(ex, e, M_STATUS);
	return !st || strcmp(st, "unenrolled") != 0;
}

/* A statement of the delta's two for each write: the UPDATE, the INSERT. */
enum { M_SET, M_ADD };

/* The pass's writing statements, their constant parameters bound:
 * `forget` only when every unenrollment found leaves the baseline. */
struct m_ctx {
	struct snap_stmt *gone, *keep[2], *forget[2];
	long long run_id;  /* the run in flight: the first run of a row new */
};

/* Writes the export row `e` into the delta, with the first run of its
 * key's baseline row `b` (NULL: none). The instance, kind and run are
 * bound once, by merge. */
static void m_keep(const struct m_ctx *m, const struct m_side *ex, const struct m_row *e,
		   const struct m_row *b)
{
	for (int i = M_SET; i <= M_ADD; i++) {
		struct snap_stmt *st = m->keep[i];
		for (int c = M_USER; c < M_NTEXT; c++)
			snap_bind_text(st, 3 + c, m_str(ex, e, c), e->t[c].len);
		snap_bind_int(st, 7, e->digest);
		snap_bind_int(st, 9, b ? b->first_run : m->run_id);
	}
	snap_set_or_add(m->keep[M_SET], m->keep[M_ADD]);
}

/* One item of one user: the baseline rows `bs` (none when bs->n is 0 or
 * the item is not theirs) against the export rows `ex` (likewise). */
static void m_item(const struct m_ctx *m, const struct m_side *bs, size_t nb,
		   const struct m_side *ex, size_t ne)
{
	/* Vanished: no current export row of the same session. The report
	 * rows come from the export's first row of the key, if any. */
	for (size_t i = 0; i < nb; i++) {
		const struct m_row *b = &bs->rows[i], *first = NULL;
		int is_current = 0;
		for (size_t k = 0; k < ne && !is_current; k++) {
			const struct m_row *e = &ex->rows[k];
			if (!m_same_text(ex, e, bs, b, M_SESSION))
				continue;
			is_current = m_is_current(ex, e);
			if (!first || e->rowid < first->rowid)
				first = e;
		}
		if (is_current)
			continue;
		for (int c = M_USER; c <= M_STATUS; c++)
			snap_bind_text(m->gone, 2 + c, m_str(bs, b, c), b->t[c].len);
		if (first) {
			snap_bind_int(m->gone, 7, first->src_file);
			snap_bind_int(m->gone, 8, first->src_line);
		} else {
			snap_bind_null(m->gone, 7);
			snap_bind_null(m->gone, 8);
		}
		while (snap_step(m->gone) == 1)
			;
		if (m->forget[M_SET]) {
			for (int w = M_SET; w <= M_ADD; w++)
				for (int c = M_USER; c <= M_SESSION; c++)
					snap_bind_text(m->forget[w], 3 + c, m_str(bs, b, c),
						       b->t[c].len);
			snap_set_or_add(m->forget[M_SET], m->forget[M_ADD]);
		}
	}
	/* Current: written when new or changed. An item listed more than
	 * once has its current rows taken in order, so the last row of a key
	 * wins; a row the same as its key's row before it (the last current
	 * row of the same session before it, else the baseline's) changes
	 * nothing and is not written. */
	for (size_t k = 0; k < ne; k++) {
		const struct m_row *e = &ex->rows[k], *b = NULL, *prev = NULL;
		if (!m_is_current(ex, e))
			continue;
		for (size_t i = 0; i < nb && !b; i++)
			if (m_same_text(ex, e, bs, &bs->rows[i], M_SESSION))
				b = &bs->rows[i];
		for (size_t p = k; p-- > 0 && !prev;)
			if (m_is_current(ex, &ex->rows[p])
			    && m_same_text(ex, e, ex, &ex->rows[p], M_SESSION))
				prev = &ex->rows[p];
		if (prev ? !m_same_values(ex, e, ex, prev) : !b || !m_same_values(ex, e, bs, b))
			m_keep(m, ex, e, b);
	}
}

static void run(const struct ue *c, const char *sql);

/* The integer `sql` gives with ?1 the instance and ?2 `kind`. */
static int query_kind(const struct ue *c, const char *sql, const char *kind)
{
	struct snap_stmt *st = snap_prepare(c->s, sql);
	int v = 0;

	snap_bind_text(st, 1, c->instance, strlen(c->instance));
	snap_bind_text(st, 2, kind, strlen(kind));
	if (snap_step(st) == 1)
		v = (int)snap_col_int(st, 0);
	snap_finalize(st);
	return v;
}

/* Finalizes a stream and frees its rows. */
static void m_release(struct m_side *sd)
{
	snap_finalize(sd->st);
	snap_finalize(sd->base.st);
	snap_finalize(sd->delta.st);
	buf_release(&sd->base.text);
	buf_release(&sd->delta.text);
	free(sd->rows);
	buf_release(&sd->text);
}

/* The baseline's rows and the export's side by side, to the end of both. */
static void m_pass(const struct ue *c, const struct m_ctx *m, struct m_side *bs,
		   struct m_side *ex)
{
	for (;;) {
		int has_b = m_load(bs), has_e = m_load(ex), r;
		if (snap_rc(c->s) != RC_OK || (!has_b && !has_e))
			break;
		r = !has_b ? 1 : !has_e ? -1 : m_cmp_item(bs, &bs->rows[0], ex, &ex->rows[0]);
		m_item(m, bs, r <= 0 ? bs->n : 0, ex, r >= 0 ? ex->n : 0);
		if (r <= 0)
			bs->is_loaded = 0;
		if (r >= 0)
			ex->is_loaded = 0;
	}
}

/* The statements of sweep_hashes, for its visit. */
struct hash_ctx {
	struct snap_stmt *dirty, *add, *set, *del;
};

/* One username of sweep_hashes: `was` its kept hash, `now` its count row
 * with this run's hash of the kind (NULL: no row of the kind); either may
 * be NULL. */
static void hash_visit(void *arg, const struct rule_sweep_row *was,
		       const struct rule_sweep_row *now)
{
	struct hash_ctx *x = arg;
	const struct rule_sweep_row *changed = now;

	if (now && !now->is_null[0] && (!was || was->v[0] != now->v[0])) {
		struct snap_stmt *st = was ? x->set : x->add;

		snap_bind_int(st, 4, now->v[0]);
		rule_sweep_write(st, 3, &now->key);
	} else if (was && (!now || now->is_null[0])) {
		/* Rows then, none now. */
		changed = was;
		rule_sweep_write(x->del, 3, &was->key);
	} else {
		return; /* the same hash, or none then and none now */
	}
	rule_sweep_write(x->dirty, 1, &changed->key);
}

/* The usernames whose rows of `kind` changed since the last pass into
 * stage.ue_dirty (hash changed, rows then and none now, rows now and none
 * then), and their hashes into main.enrollment_user for the next run: one
 * sweep of both in username order, which writes only what changed. Two
 * statements that looked each of a million usernames up in the other
 * table, and two more that wrote the hashes of the usernames found,
 * took 3.3 s at 1x for both kinds. */
static void sweep_hashes(const struct ue *c, const char *kind)
{
	struct hash_ctx x;
	struct snap_stmt *was, *now;

	snap_exec(c->s, "DELETE FROM stage.ue_dirty");
	was = snap_prepare(c->s, "SELECT username, digest FROM main.enrollment_user"
			   " WHERE lms_instance = ?1 AND kind = ?2 ORDER BY username");
	now = snap_prepare(c->s, "SELECT n.username, " ROWS_HASH("n") " FROM enr.lrn_count n"
			   " ORDER BY n.username");
	x.dirty = snap_prepare(c->s, "INSERT INTO stage.ue_dirty (username) VALUES (?1)");
	x.add = snap_prepare(c->s, "INSERT INTO main.enrollment_user (lms_instance, kind,"
			     " username, digest) VALUES (?1, ?2, ?3, ?4)");
	x.set = snap_prepare(c->s, "UPDATE main.enrollment_user SET digest = ?4"
			     " WHERE lms_instance = ?1 AND kind = ?2 AND username = ?3");
	x.del = snap_prepare(c->s, "DELETE FROM main.enrollment_user WHERE lms_instance = ?1"
			     " AND kind = ?2 AND username = ?3");
	if (was && now && x.dirty && x.add && x.set && x.del) {
		struct snap_stmt *const keyed[] = { x.add, x.set, x.del };

		snap_bind_text(was, 1, c->instance, strlen(c->instance));
		snap_bind_text(was, 2, kind, strlen(kind));
		snap_bind_text(now, 2, kind, strlen(kind));
		for (size_t i = 0; i < sizeof keyed / sizeof *keyed; i++) {
			snap_bind_text(keyed[i], 1, c->instance, strlen(c->instance));
			snap_bind_text(keyed[i], 2, kind, strlen(kind));
		}
		rule_sweep(c->s, was, now, hash_visit, &x);
	}
	snap_finalize(was);
	snap_finalize(now);
	snap_finalize(x.dirty);
	snap_finalize(x.add);
	snap_finalize(x.set);
	snap_finalize(x.del);
}

/* Runs the `n` statements of `steps` with ?1 the instance and ?2 `kind`. */
static void run_kind(const struct ue *c, const char *const *steps, size_t n, const char *kind)
{
	for (size_t i = 0; i < n; i++)
		snap_run(c->s, steps[i], "tt", c->instance, kind);
}

#define RUN_KIND(c, steps, kind) run_kind(c, steps, sizeof steps / sizeof steps[0], kind)

/* The pass over one kind of enrollment ('course' or 'plan'): over every
 * username, or over the usernames whose rows changed when the last pass
 * left their hashes; then the hashes for the next run. */
static void merge(const struct ue *c, const char *kind, const char *object,
		  const char *stg_all_sql, const char *stg_dirty_sql, const char *first_sql,
		  const char *export_rows_sql)
{
	struct m_side bs, ex;
	struct m_ctx m;
	/* No baseline of the kind, not even a row gone: the instance's first
	 * run. */
	int is_first = !query_kind(c, "SELECT EXISTS (SELECT 1 FROM main.enrollment_base"
				   " WHERE lms_instance = ?1 AND kind = ?2) OR EXISTS (SELECT 1"
				   " FROM main.enrollment_delta WHERE lms_instance = ?1 AND kind = ?2)",
				   kind);
	/* The last pass over the kind left the usernames' hashes. */
	int by_user = !is_first && c->has_rows_hash && !c->is_rebuild &&
		      query_kind(c, "SELECT EXISTS (SELECT 1 FROM main.enrollment_user"
				 " WHERE lms_instance = ?1 AND kind = ?2)", kind);

	if (is_first) {
		run(c, first_sql);
	} else {
		memset(&bs, 0, sizeof bs);
		memset(&ex, 0, sizeof ex);
		ex.is_export = 1;
		m.gone = snap_prepare(c->s, gone_sql);
		m.keep[M_SET] = snap_prepare(c->s, keep_set_sql);
		m.keep[M_ADD] = snap_prepare(c->s, keep_add_sql);
		m.forget[M_SET] = c->is_mark ? snap_prepare(c->s, forget_set_sql) : NULL;
		m.forget[M_ADD] = c->is_mark ? snap_prepare(c->s, forget_add_sql) : NULL;
		m.run_id = c->run_id;
		bs.base.st = snap_prepare(c->s, by_user ? BASE_SQL(DIRTY_USERS)
					  : BASE_SQL(ALL_USERS));
		bs.delta.st = snap_prepare(c->s, by_user ? DELTA_SQL(DIRTY_USERS)
					   : DELTA_SQL(ALL_USERS));
		ex.st = snap_prepare(c->s, by_user ? stg_dirty_sql : stg_all_sql);
		if (bs.base.st && bs.delta.st && ex.st && m.gone && m.keep[M_SET] && m.keep[M_ADD]
		    && ((m.forget[M_SET] && m.forget[M_ADD]) || !c->is_mark)) {
			snap_bind_text(bs.base.st, 1, c->instance, strlen(c->instance));
			snap_bind_text(bs.base.st, 2, kind, strlen(kind));
			snap_bind_text(bs.delta.st, 1, c->instance, strlen(c->instance));
			snap_bind_text(bs.delta.st, 2, kind, strlen(kind));
			snap_bind_text(m.gone, 1, kind, strlen(kind));
			snap_bind_text(m.gone, 6, object, strlen(object));
			for (int i = M_SET; i <= M_ADD; i++) {
				snap_bind_text(m.keep[i], 1, c->instance, strlen(c->instance));
				snap_bind_text(m.keep[i], 2, kind, strlen(kind));
				snap_bind_int(m.keep[i], 8, c->run_id);
				if (!m.forget[i])
					continue;
				snap_bind_text(m.forget[i], 1, c->instance, strlen(c->instance));
				snap_bind_text(m.forget[i], 2, kind, strlen(kind));
				snap_bind_int(m.forget[i], 6, c->run_id);
			}
			if (by_user) {
				sweep_hashes(c, kind);
				RUN_KIND(c, dirty_steps, kind);
			}
			m_pass(c, &m, &bs, &ex);
		}
		m_release(&bs);
		m_release(&ex);
		snap_finalize(m.gone);
		for (int i = M_SET; i <= M_ADD; i++) {
			snap_finalize(m.forget[i]);
			snap_finalize(m.keep[i]);
		}
	}
	/* Without this run's hashes (the rule run alone), the kept ones go:
	 * the baseline moved on without them. */
	if (!c->has_rows_hash)
		snap_run(c->s, FORGET_HASHES, "tt", c->instance, kind);
	else if (!by_user)
		RUN_KIND(c, hash_all_steps, kind);
	/* A full run reads every username anyway; else the delta is folded
	 * in once it has grown. */
	if (!is_first && (c->is_rebuild || (long long)query_kind(c, "SELECT count(*)"
			" FROM main.enrollment_delta WHERE lms_instance = ?1 AND kind = ?2", kind)
			* COMPACT_RATIO > snap_query_int(c->s, export_rows_sql)))
		RUN_KIND(c, compact_steps, kind);
}

/* Runs `sql` to the end with ?1 the instance, ?2 the run, ?3 the time,
 * ?4 the item types and ?5/?6 whether the CRM exports of the two
 * enrollment objects are there. Sticky. */
static void run(const struct ue *c, const char *sql)
{
	snap_run(c->s, sql, "titiii", c->instance, (long long)c->run_id, c->now,
		 (long long)c->items, (long long)c->has_x_course, (long long)c->has_x_plan);
}

/* Runs the `n` statements of `steps` in order. */
static void run_all(const struct ue *c, const char *const *steps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run(c, steps[i]);
}

#define RUN_ALL(c, steps) run_all(c, steps, sizeof steps / sizeof steps[0])

enum rc rule_unenroll(struct diag *d, const struct job *j, struct snap *s,
		      long long run_id, const char *now)
{
	int has_course = job_input_of(j, ENT_ENROLLMENT) != NULL;
	int has_plan = job_input_of(j, ENT_PLAN_ENROLLMENT) != NULL;
	struct ue c;

	(void)d;
	if (!has_course && !has_plan)
		return snap_rc(s);
	memset(&c, 0, sizeof c);
	c.s = s;
	c.instance = j->lms_instance ? j->lms_instance : "";
	c.run_id = run_id;
	c.now = now;
	c.items = j->enroll.items ? j->enroll.items : ITEM_ALL;
	c.has_x_course = job_input_of(j, ENT_X_ENROLLMENT) != NULL;
	c.has_x_plan = job_input_of(j, ENT_X_PLAN_ENROLLMENT) != NULL;
	/* The learning rule, run before, left the hashes (not when this rule
	 * runs alone, as in its tests: then every username is read). */
	c.is_rebuild = j->enroll.rebuild;
	c.is_mark = j->enroll.unenroll == UNENROLL_MARK;
	if (snap_enr_wait(s) != RC_OK)
		return snap_rc(s);
	c.has_rows_hash = snap_query_int(s, "SELECT EXISTS (SELECT 1 FROM enr.sqlite_master"
					 " WHERE type = 'table' AND name = 'lrn_count')") != 0;

	snap_exec(s, scratch_sql);
	/* An empty baseline (the first run that reads an export) finds
	 * nothing gone: what vanished before it is not tracked. */
	if (has_course)
		merge(&c, "course", "LMS_Enrollment__c", STG_COURSE_SQL(ALL_USERS),
		      STG_COURSE_SQL(DIRTY_USERS), first_course_sql,
		      "SELECT coalesce(max(rowid), 0) FROM enr.stg_enrollment");
	if (has_plan)
		merge(&c, "plan", "LMS_Learning_Plan_Enrollment__c", STG_PLAN_SQL(ALL_USERS),
		      STG_PLAN_SQL(DIRTY_USERS), first_plan_sql,
		      "SELECT coalesce(max(rowid), 0) FROM enr.stg_plan_enrollment");
	RUN_ALL(&c, decide_steps);
	if (snap_query_int(s, "SELECT EXISTS (SELECT 1 FROM stage.ue_gone"
			   " WHERE outcome IS NULL AND user_id IS NULL)"))
		RUN_ALL(&c, missing_user_steps);
	/* The renamed-user check looks users up by id: indexed only when
	 * something is gone (most runs have a few, a first run none). */
	if (snap_query_int(s, "SELECT EXISTS (SELECT 1 FROM stage.ue_gone WHERE outcome IS NULL)"))
		snap_exec(s, "CREATE INDEX IF NOT EXISTS stage.stg_lms_user_user_id"
			  " ON stg_lms_user (user_id)");
	RUN_ALL(&c, key_steps);
	run(&c, c.is_mark ? mark_sql : delete_sql);
	RUN_ALL(&c, out_steps);
	/* With 'mark' the pass took every unenrollment out already. */
	if (!c.is_mark)
		RUN_ALL(&c, forget_steps);
	return snap_rc(s);
}
