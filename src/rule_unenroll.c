/* SPDX-License-Identifier: MIT */
/* rule_unenroll: R10, unenrollments found by comparing the enrollment
 * baseline with the new LMS exports. Every step is one set-based SQL
 * statement: anti-joins of enrollment_baseline with the staged exports
 * through their indexes, into one scratch table (stage.ue_gone) that the
 * later steps decide on and write out from. */
#include "rule_unenroll.h"
#include "rule_util.h"

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
	"CREATE TABLE stage.ue_gone ("
	" kind TEXT NOT NULL, username TEXT NOT NULL, item_code TEXT NOT NULL,"
	" session_code TEXT NOT NULL, status TEXT, object TEXT NOT NULL,"
	" user_id TEXT, is_linked INTEGER, key TEXT, crm_id TEXT,"
	" is_known INTEGER NOT NULL DEFAULT 0, outcome TEXT,"
	" src_file INTEGER, src_line INTEGER,"
	" PRIMARY KEY (kind, username, item_code, session_code)) WITHOUT ROWID;"
	"CREATE TABLE stage.ue_user (username TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
	" run_id INTEGER NOT NULL);"
	"CREATE TABLE stage.ue_link (crm_id TEXT PRIMARY KEY, username TEXT NOT NULL);";

/* A staged course enrollment `e` matching the baseline row `b`. */
#define SAME_COURSE(e) e ".username = b.username AND " e ".course_code = b.item_code" \
	" AND coalesce(" e ".session_code, '') = b.session_code"
/* A staged plan enrollment `e` matching the baseline row `b`. */
#define SAME_PLAN(e) e ".username = b.username AND " e ".plan_code = b.item_code"

/* Course enrollments of the baseline that the export no longer shows as
 * current: absent, or only with the status 'unenrolled' (whose row is
 * then the source of the report rows). */
static const char gone_course_sql[] =
	"INSERT INTO stage.ue_gone (kind, username, item_code, session_code, status, object,"
	" src_file, src_line)"
	" SELECT 'course', b.username, b.item_code, b.session_code, b.status, 'LMS_Enrollment__c',"
	" (SELECT e.src_file FROM stage.stg_enrollment e WHERE " SAME_COURSE("e")
	" ORDER BY e.rowid LIMIT 1),"
	" (SELECT e.src_line FROM stage.stg_enrollment e WHERE " SAME_COURSE("e")
	" ORDER BY e.rowid LIMIT 1)"
	" FROM main.enrollment_baseline b WHERE b.lms_instance = ?1 AND b.kind = 'course'"
	" AND NOT EXISTS (SELECT 1 FROM stage.stg_enrollment e WHERE " SAME_COURSE("e")
	" AND e.status IS NOT 'unenrolled')";

/* The same for learning-plan enrollments. */
static const char gone_plan_sql[] =
	"INSERT INTO stage.ue_gone (kind, username, item_code, session_code, status, object,"
	" src_file, src_line)"
	" SELECT 'plan', b.username, b.item_code, '', b.status, 'LMS_Learning_Plan_Enrollment__c',"
	" (SELECT e.src_file FROM stage.stg_plan_enrollment e WHERE " SAME_PLAN("e")
	" ORDER BY e.rowid LIMIT 1),"
	" (SELECT e.src_line FROM stage.stg_plan_enrollment e WHERE " SAME_PLAN("e")
	" ORDER BY e.rowid LIMIT 1)"
	" FROM main.enrollment_baseline b WHERE b.lms_instance = ?1 AND b.kind = 'plan'"
	" AND NOT EXISTS (SELECT 1 FROM stage.stg_plan_enrollment e WHERE " SAME_PLAN("e")
	" AND e.status IS NOT 'unenrolled')";

/* Deciding, in order; each step only touches rows still undecided. */
static const char *const decide_steps[] = {
	/* Item types the job does not send never reached the CRM. A course
	 * the courses export no longer has (a deleted course is a common
	 * reason for its enrollments to vanish) counts as e-learning, or as
	 * classroom or webinar when the enrollment has a session. */
	"UPDATE stage.ue_gone SET outcome = 'unselected' WHERE outcome IS NULL"
	" AND ((CASE WHEN kind = 'plan' THEN 2 ELSE coalesce("
	" (SELECT CASE c.type WHEN 'elearning' THEN 1 WHEN 'classroom' THEN 4"
	" WHEN 'webinar' THEN 8 END FROM stage.stg_course c WHERE c.code = ue_gone.item_code"
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
	" AND EXISTS (SELECT 1 FROM stage.stg_lms_user u JOIN stage.stg_enrollment e"
	"  ON e.username = u.username WHERE u.user_id = ue_gone.user_id"
	"  AND u.username <> ue_gone.username AND e.course_code = ue_gone.item_code"
	"  AND coalesce(e.session_code, '') = ue_gone.session_code"
	"  AND e.status IS NOT 'unenrolled')",
	"UPDATE stage.ue_gone SET outcome = 'renamed' WHERE outcome IS NULL AND kind = 'plan'"
	" AND EXISTS (SELECT 1 FROM stage.stg_lms_user u JOIN stage.stg_plan_enrollment e"
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
	"UPDATE stage.ue_gone SET is_known = 1 WHERE outcome IS NULL AND is_known = 0"
	" AND (object, key) IN (SELECT object, key FROM main.emitted WHERE target = 'crm'"
	" AND op = 'upsert'"
	" AND object IN ('LMS_Enrollment__c', 'LMS_Learning_Plan_Enrollment__c'))",
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

/* The baseline bookkeeping: handled unenrollments leave it, waiting ones
 * stay with the status 'unenrolled' so the next run tries again. */
static const char *const forget_steps[] = {
	"DELETE FROM main.enrollment_baseline WHERE lms_instance = ?1"
	" AND (kind, username, item_code, session_code) IN"
	" (SELECT kind, username, item_code, session_code FROM stage.ue_gone"
	" WHERE outcome <> 'waiting')",

	"UPDATE main.enrollment_baseline SET status = 'unenrolled' WHERE lms_instance = ?1"
	" AND (kind, username, item_code, session_code) IN"
	" (SELECT kind, username, item_code, session_code FROM stage.ue_gone"
	" WHERE outcome = 'waiting')",
};

/* A baseline row the export shows unchanged is not written again: on a
 * day two most are, and rewriting them all would journal the whole table.
 * last_run is so the last run that changed the row. */
#define UNCHANGED_SKIP \
	" WHERE status IS NOT excluded.status OR enrolled_at IS NOT excluded.enrolled_at" \
	" OR completed_at IS NOT excluded.completed_at OR score IS NOT excluded.score" \
	" OR updated_at IS NOT excluded.updated_at"

/* The staged row `e` equals its baseline row of kind `kind`, item `item`
 * and session `session`. */
#define SAME_AS_BASELINE(kind, item, session) "EXISTS (SELECT 1 FROM main.enrollment_baseline b" \
	" WHERE b.lms_instance = ?1 AND b.kind = '" kind "' AND b.username = e.username" \
	" AND b.item_code = " item " AND b.session_code = " session \
	" AND b.status IS e.status AND b.enrolled_at IS e.enrolled_at" \
	" AND b.completed_at IS e.completed_at AND b.score IS e.score" \
	" AND b.updated_at IS e.updated_at)"

/* The current enrollments of the exports go into the baseline; a row seen
 * again keeps its first_run. A key listed twice ends with its last row.
 * Only rows that differ from the baseline are written (a key listed twice
 * always is, so that its last row wins), in the baseline's key order, so
 * the tree is written in one sweep, not page by random page. The rows
 * come in that order from the covering user indexes (the loader stores an
 * empty session as NULL, which sorts first, as '' does in the baseline). */
static const char keep_course_sql[] =
	"INSERT INTO main.enrollment_baseline (lms_instance, kind, username, item_code,"
	" session_code, status, enrolled_at, completed_at, score, updated_at, first_run, last_run)"
	" SELECT ?1, 'course', username, course_code, coalesce(session_code, ''), status,"
	" enrolled_at, completed_at, score, updated_at, ?2, ?2 FROM stage.stg_enrollment e"
	" WHERE username IS NOT NULL AND course_code IS NOT NULL"
	" AND status IS NOT 'unenrolled'"
	" AND (NOT " SAME_AS_BASELINE("course", "e.course_code", "coalesce(e.session_code, '')")
	"  OR (username, course_code) IN (SELECT username, course_code FROM stage.stg_enrollment"
	"  WHERE username IS NOT NULL AND course_code IS NOT NULL"
	"  GROUP BY username, course_code HAVING count(*) > 1))"
	" ORDER BY username, course_code, session_code, src_line, rowid"
	" ON CONFLICT (lms_instance, kind, username, item_code, session_code) DO UPDATE SET"
	" status = excluded.status, enrolled_at = excluded.enrolled_at,"
	" completed_at = excluded.completed_at, score = excluded.score,"
	" updated_at = excluded.updated_at, last_run = excluded.last_run"
	UNCHANGED_SKIP;
static const char keep_plan_sql[] =
	"INSERT INTO main.enrollment_baseline (lms_instance, kind, username, item_code,"
	" session_code, status, enrolled_at, completed_at, score, updated_at, first_run, last_run)"
	" SELECT ?1, 'plan', username, plan_code, '', status,"
	" enrolled_at, completed_at, score, updated_at, ?2, ?2 FROM stage.stg_plan_enrollment e"
	" WHERE username IS NOT NULL AND plan_code IS NOT NULL"
	" AND status IS NOT 'unenrolled'"
	" AND (NOT " SAME_AS_BASELINE("plan", "e.plan_code", "''")
	"  OR (username, plan_code) IN (SELECT username, plan_code FROM stage.stg_plan_enrollment"
	"  WHERE username IS NOT NULL AND plan_code IS NOT NULL"
	"  GROUP BY username, plan_code HAVING count(*) > 1))"
	" ORDER BY username, plan_code, src_line, rowid"
	" ON CONFLICT (lms_instance, kind, username, item_code, session_code) DO UPDATE SET"
	" status = excluded.status, enrolled_at = excluded.enrolled_at,"
	" completed_at = excluded.completed_at, score = excluded.score,"
	" updated_at = excluded.updated_at, last_run = excluded.last_run"
	UNCHANGED_SKIP;

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

	snap_exec(s, scratch_sql);
	/* An empty baseline (the first run that reads an export) finds
	 * nothing: what vanished before it is not tracked. */
	if (has_course)
		run(&c, gone_course_sql);
	if (has_plan)
		run(&c, gone_plan_sql);
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
	run(&c, j->enroll.unenroll == UNENROLL_DELETE_UNFINISHED ? delete_sql : mark_sql);
	RUN_ALL(&c, out_steps);
	RUN_ALL(&c, forget_steps);
	if (has_course)
		run(&c, keep_course_sql);
	if (has_plan)
		run(&c, keep_plan_sql);
	return snap_rc(s);
}
