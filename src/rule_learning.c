/* SPDX-License-Identifier: MIT */
/* rule_learning: R8, R9, R11 and R12, learning data from the LMS to the
 * CRM. Every step is one set-based SQL statement over the staged tables and
 * a few small scratch tables (stage.lrn_*), so millions of enrollments are
 * joined by SQLite on disk, through the staging indexes, never row by row
 * in C. */
#include "rule_learning.h"
#include "rule_util.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Every item type, the reading of an <enrollments> element with no items. */
#define ITEM_ALL (ITEM_COURSE | ITEM_PLAN | ITEM_CLASSROOM | ITEM_WEBINAR)

/* The parameters every statement of the rule may use, bound by number:
 * ?1 the LMS instance, ?2 and ?3 the time window (full UTC date-times or
 * NULL), ?4 the item-type bits of the job, ?5 the run in flight, ?6 1 when
 * the records of learners whose inputs did not change may be left unbuilt
 * (no window, no --full), ?7 the hash of the SQL that builds a learner's
 * records (build_hash). */
struct lrn {
	struct snap *s;
	const char *instance;  /* j->lms_instance, or "" when none; borrowed */
	char since[25];        /* window start as a full date-time; "" when open */
	char until[25];        /* window end as a full date-time; "" when open */
	long long items;       /* enum job_item bits */
	long long run_id;      /* the run in flight */
	long long may_skip;    /* 1: learners whose inputs did not change are not built */
	long long build_hash;  /* hash of how a learner's records are built */
};

/* ---- SQL fragments --------------------------------------------------- */

/* A staged date or date-time `v` as a dateTime field value: a date is its
 * midnight UTC; no value is '#N/A', which clears the field. */
#define DT(v) "CASE WHEN " v " IS NULL THEN '#N/A' WHEN length(" v ") = 10" \
	" THEN " v " || 'T00:00:00.000Z' ELSE " v " END"
/* A staged score as a number field value: integral scores as integers. */
#define NUM(v) "CASE WHEN " v " IS NULL THEN '#N/A' WHEN " v " = CAST(" v " AS INTEGER)" \
	" THEN CAST(" v " AS INTEGER) ELSE " v " END"
/* A staged date or date-time as a full UTC date-time, for comparing. */
#define FULL(v) "(CASE WHEN length(" v ") = 10 THEN " v " || 'T00:00:00.000Z' ELSE " v " END)"
/* `v` falls in the window [?2, ?3] (an open end is NULL). */
#define IN_WIN(v) "(" v " IS NOT NULL AND (?2 IS NULL OR " FULL(v) " >= ?2)" \
	" AND (?3 IS NULL OR " FULL(v) " <= ?3))"
/* R11: the enrollment `e` is re-sent even when unchanged. */
#define FORCED "((?2 IS NOT NULL OR ?3 IS NOT NULL) AND (" IN_WIN("e.enrolled_at") \
	" OR " IN_WIN("e.completed_at") " OR " IN_WIN("e.updated_at") "))"
/* "N enrollment(s)" for the reasons of the exceptions. */
#define PLURAL(n) "(" n ") || CASE WHEN (" n ") = 1 THEN ' enrollment' ELSE ' enrollments' END"
/* The status of a staged enrollment that this rule sends: anything but an
 * unenrollment, which the unenrollment rule (R10) handles. */
#define SENT_STATUS(e) e ".status IS NOT 'unenrolled'"
/* The enrollment `e` of course `c` (no course: a LEFT JOIN's NULLs) or
 * learning-plan enrollment `e` of plan `p` is sent; the number of course
 * enrollments sent with status `st`. */
#define COURSE_SENT "c.is_sent AND " SENT_STATUS("e")
#define PLAN_SENT "(?4 & 2) <> 0 AND p.code IS NOT NULL AND " SENT_STATUS("e")
#define COUNT_OF(st) "count(*) FILTER (WHERE c.is_sent AND e.status = '" st "')"

/* "Only changes" before the fact: the latest earlier run emitted `key` of
 * `object` with exactly `fields` (a JSON text), as told by the digest in
 * emitted's key index. Such a record would be dropped by rule_crmdiff;
 * leaving it out here saves writing and comparing it (most records of a
 * day two). Only for the objects compared with what was emitted
 * (stage.prev_sent_objects, empty for the objects compared with a CRM
 * export, and in `audit`); ?5 is the run in flight. The fields are hashed
 * only for a key emitted before (lmsrecon_digest_is). */
#define NOT_SENT_AS(object, key, fields) "NOT (EXISTS (SELECT 1 FROM stage.prev_sent_objects po" \
	" WHERE po.object = '" object "' AND po.op = 'upsert')" \
	" AND lmsrecon_digest_is(" RULE_PREV_EMITTED("digest", "'" object "'", "'upsert'", key, "?5") \
	", " fields "))"

/* The learner record of the user `u` (R9): its key and its fields, with
 * the counts of `n` (COUNTS) or zero counts (NO_COUNTS). */
#define USER_KEY "?1 || ':' || u.user_id"
#define USER_FIELDS(counts) "lmsrecon_json_object('LMS_User_Id__c', ?1 || ':' || u.user_id," \
	" 'Name', substr(u.username, 1, 80), 'Username__c', u.username, 'LMS_Instance__c', ?1," \
	" 'Contact__c', CASE WHEN substr(u.sfdc_id, 1, 3) = '003' THEN u.sfdc_id ELSE '#N/A' END," \
	" 'User__c', CASE WHEN substr(u.sfdc_id, 1, 3) = '005' THEN u.sfdc_id ELSE '#N/A' END," \
	" 'Last_Access__c', " DT("u.last_access") "," counts ")"
#define COUNTS " 'Enrolled_Count__c', n.n_course, 'Completed_Count__c', n.n_completed," \
	" 'Passed_Count__c', n.n_passed, 'Failed_Count__c', n.n_failed," \
	" 'In_Progress_Count__c', n.n_in_progress, 'Pending_Review_Count__c', n.n_pending"
#define NO_COUNTS " 'Enrolled_Count__c', 0, 'Completed_Count__c', 0, 'Passed_Count__c', 0," \
	" 'Failed_Count__c', 0, 'In_Progress_Count__c', 0, 'Pending_Review_Count__c', 0"

/* The course enrollment `e` of user `u` in course `c` (R9). */
#define ENR_KEY "?1 || ':' || u.user_id || ':' || e.course_code || ':' || coalesce(e.session_code, '')"
#define ENR_FIELDS "lmsrecon_json_object('Enrollment_Key__c', " ENR_KEY "," \
	" 'LMS_User__r.LMS_User_Id__c', ?1 || ':' || u.user_id," \
	" 'Course__r.LMS_Course_Key__c', ?1 || ':' || e.course_code," \
	" 'Session__r.LMS_Session_Key__c', CASE WHEN coalesce(e.session_code, '') <> ''" \
	" THEN ?1 || ':' || e.session_code END," \
	" 'Item_Name__c', substr(c.name, 1, 255), 'Item_Type__c', c.type, 'Status__c', e.status," \
	" 'Enrolled_At__c', " DT("e.enrolled_at") ", 'Completed_At__c', " DT("e.completed_at") "," \
	" 'Score__c', " NUM("e.score") ")"

/* The learning-plan enrollment `e` of user `u` in plan `p` (R9), with the
 * plan's courses the user finished well. */
#define PLAN_ENR_KEY "?1 || ':' || u.user_id || ':plan:' || e.plan_code"
#define PLAN_ENR_FIELDS "lmsrecon_json_object('Enrollment_Key__c', " PLAN_ENR_KEY "," \
	" 'LMS_User__r.LMS_User_Id__c', ?1 || ':' || u.user_id," \
	" 'Learning_Plan__r.LMS_Learning_Plan_Key__c', ?1 || ':' || e.plan_code," \
	" 'Status__c', e.status," \
	" 'Enrolled_At__c', " DT("e.enrolled_at") ", 'Completed_At__c', " DT("e.completed_at") "," \
	" 'Score__c', " NUM("e.score") ", 'Course_Count__c', p.ncourses," \
	" 'Completed_Course_Count__c', coalesce((SELECT d.n FROM stage.lrn_plan_done d" \
	" WHERE d.username = e.username AND d.plan_code = e.plan_code), 0))"

/* The users a statement that builds records reads, and in which order:
 * every user, by user id (ALL_BY_ID) or by username (ALL_BY_NAME; the
 * users are read in their primary key, lrn_user having no rowid: INDEXED
 * BY its key's index, as SQLite 3.40 does not keep `NOT INDEXED` from
 * walking the user id index of such a table); or, when only the users
 * whose inputs changed are built (only_dirty), just those (DIRTY, by
 * username: their enrollments are read in one sweep of the enrollments'
 * index, and the statement sorts what it builds). A day two at 1x builds
 * a few percent of the learners; reading every user to find them, and
 * their enrollments in user id order, read 2.5 GB for four statements. */
#define ALL_BY_ID "stage.lrn_user u INDEXED BY lrn_user_id"
#define ALL_BY_NAME "stage.lrn_user u INDEXED BY sqlite_autoindex_lrn_user_1"
#define DIRTY "stage.lrn_dirty ld CROSS JOIN stage.lrn_user u ON u.username = ld.username"

/* The courses of each plan that a user whose plan records are built
 * finished well (completed or passed, in any enrollment row of the
 * course), counted before the records: in username order, next to the
 * enrollments' index, one sweep. Counted as each record is built, in the
 * order of the records' keys, the look-ups went at random (a million
 * contacts: 7.2 GB read for 180,000 records). `users`: ALL_BY_NAME or
 * DIRTY. */
#define PLAN_DONE_SQL(users) "INSERT INTO stage.lrn_plan_done (username, plan_code, n)" \
	" SELECT u.username, e.plan_code, (SELECT count(*) FROM enr.lrn_plan_course pc" \
	" WHERE pc.plan_code = e.plan_code AND EXISTS (SELECT 1 FROM enr.stg_enrollment x" \
	" WHERE x.username = u.username AND x.course_code = pc.course_code" \
	" AND x.status IN ('completed', 'passed')))" \
	" FROM " users \
	" CROSS JOIN enr.stg_plan_enrollment e" \
	" ON e.username = u.username" \
	" WHERE (?4 & 2) <> 0 AND u.state = 'linked' AND u.user_id IS NOT NULL" \
	" AND " BUILT("LMS_Learning_Plan_Enrollment__c") " AND e.plan_code IS NOT NULL" \
	" GROUP BY u.username, e.plan_code"

/* The row of user `u` (columns `username`, `user_id`) for item `item` of
 * kind `kind` may share its key with another row (stage.lrn_twice). */
#define TWICE_OF(u, kind, item) "(EXISTS (SELECT 1 FROM stage.lrn_twice t" \
	" WHERE t.kind = '" kind "' AND t.name = " u ".username AND t.item = " item ")" \
	" OR EXISTS (SELECT 1 FROM stage.lrn_twice t" \
	" WHERE t.kind = 'user_id' AND t.name = " u ".user_id AND t.item = ''))"
#define TWICE(kind, item) TWICE_OF("u", kind, item)

/* Closes a subquery that builds records, which its outer query filters by
 * their key and fields: with a LIMIT, and the outer query's WHERE, SQLite
 * runs the subquery as a co-routine (it is neither flattened nor are the
 * outer terms pushed into it), so each record is built once, not again for
 * every reference to it, and its rows come out in the subquery's ORDER BY
 * (full run, 1x: a third of the enrollment records' time). Under a LIMIT,
 * SQLite sorts in a B-tree of the temporary database, not with its sorter:
 * the subquery orders its rows only where its scan gives the order, and
 * the outer query, with no LIMIT, sorts otherwise (a 1x day two's
 * learning-plan records: 283 MB of 4 KiB writes to that B-tree, 69,035
 * of them). */
#define ONCE "LIMIT -1"

/* A row of the user `u` may give its key to another row: the user id is
 * another username's too, or an enrollment or plan enrollment is listed
 * twice, when the first row is sent. A digest does not tell which row is
 * first (the rows are added up), nor who shared the id last time: such a
 * learner is always built, and its digest is not kept, so that it is
 * built once more when the sharing ends. */
#define LISTED_TWICE "(EXISTS (SELECT 1 FROM stage.lrn_twice t WHERE t.kind = 'user_id'" \
	" AND t.name = u.user_id AND t.item = '') OR EXISTS (SELECT 1 FROM stage.lrn_twice t" \
	" WHERE t.kind = 'course' AND t.name = u.username) OR EXISTS (SELECT 1" \
	" FROM stage.lrn_twice t WHERE t.kind = 'plan' AND t.name = u.username))"

/* The digest of what the records of the linked user `u` are built from:
 * how they are built (?7), the item types sent, the user's fields and
 * every enrollment row of the user (`n`, NULL without). */
#define USER_DIGEST "lmsrecon_hash(?7, ?4, u.user_id, u.sfdc_id, u.last_access," \
	" n.course_rows, n.plan_rows)"

/* The records of `object` for user `u` are built: the user's inputs
 * changed since the last run (stage.lrn_dirty), or every user is built
 * (?6 = 0: a time window or --full), or the object is compared with a CRM
 * export or `audit` runs (not in stage.prev_sent_objects). A learner whose
 * inputs are what they were is left out before a row of the learner is
 * read: the last run built the same records, and the CRM holds them or
 * was sent them. */
#define BUILT(object) "(?6 = 0 OR NOT EXISTS (SELECT 1 FROM stage.prev_sent_objects po" \
	" WHERE po.object = '" object "' AND po.op = 'upsert')" \
	" OR EXISTS (SELECT 1 FROM stage.lrn_dirty ld WHERE ld.username = u.username))"

/* ---- statements ------------------------------------------------------ */

/* The catalogue and the counts, in the enrollments' stage (`enr`): they
 * read nothing else, so the thread that indexes the enrollments builds
 * them while the people rules run (snap_enr_then), or this rule does. */
static const char count_scratch_sql[] =
	"DROP TABLE IF EXISTS enr.lrn_course;"
	"DROP TABLE IF EXISTS enr.lrn_plan;"
	"DROP TABLE IF EXISTS enr.lrn_plan_course;"
	"DROP TABLE IF EXISTS enr.lrn_count;"
	/* Courses by code; is_sent when the job sends the course's type. */
	"CREATE TABLE enr.lrn_course (code TEXT PRIMARY KEY, name TEXT, type TEXT,"
	" is_sent INTEGER NOT NULL, src_file INTEGER, src_line INTEGER) WITHOUT ROWID;"
	/* Learning plans by code with the number of their courses and the
	 * hash of their course codes (lmsrecon_hash_sum). */
	"CREATE TABLE enr.lrn_plan (code TEXT PRIMARY KEY, name TEXT,"
	" ncourses INTEGER NOT NULL, courses INTEGER NOT NULL, src_file INTEGER,"
	" src_line INTEGER) WITHOUT ROWID;"
	/* The distinct courses of each plan. */
	"CREATE TABLE enr.lrn_plan_course (plan_code TEXT NOT NULL, course_code TEXT NOT NULL,"
	" PRIMARY KEY (plan_code, course_code)) WITHOUT ROWID;"
	/* Per username with enrollments: the enrollments this rule would
	 * send, by status (all zero when none would be), the hashes of every
	 * course and learning-plan enrollment row (all the columns the rules
	 * read, with the course's or plan's fields the records take; NULL
	 * with no row of the kind), the rows of a course or session missing
	 * from the exports, whether a course or plan may be listed twice
	 * (lmsrecon_repeats: 0 no, 1 yes, -1 to be looked at), and the first
	 * row sent. rule_unenroll reads the hashes too, to compare only the
	 * usernames whose rows changed. */
	"CREATE TABLE enr.lrn_count (username TEXT PRIMARY KEY,"
	" n_course INTEGER NOT NULL DEFAULT 0, n_plan INTEGER NOT NULL DEFAULT 0,"
	" n_completed INTEGER NOT NULL DEFAULT 0, n_passed INTEGER NOT NULL DEFAULT 0,"
	" n_failed INTEGER NOT NULL DEFAULT 0, n_in_progress INTEGER NOT NULL DEFAULT 0,"
	" n_pending INTEGER NOT NULL DEFAULT 0, course_rows INTEGER, plan_rows INTEGER,"
	" n_no_course INTEGER NOT NULL DEFAULT 0, n_no_session INTEGER NOT NULL DEFAULT 0,"
	" course_twice INTEGER NOT NULL DEFAULT 0, plan_twice INTEGER NOT NULL DEFAULT 0,"
	" src_file INTEGER, src_line INTEGER) WITHOUT ROWID;";

/* The rest of the rule's scratch tables, in the stage: each user's state
 * and what follows from it. Keyed without a rowid, as those above: a
 * look-up by code or username is one tree, not two. */
static const char scratch_sql[] =
	"DROP TABLE IF EXISTS stage.lrn_user;"
	"DROP TABLE IF EXISTS stage.lrn_twice;"
	"DROP TABLE IF EXISTS stage.lrn_dirty;"
	"DROP TABLE IF EXISTS stage.lrn_linking;"
	"DROP TABLE IF EXISTS stage.lrn_plan_done;"
	/* LMS users by username: 'linked' (sfdc_id of a Contact or User),
	 * 'unsupported' (another kind of id), 'not_linked', or 'waiting' (being
	 * linked or created by this run, R12), or 'unlinking' (sync back
	 * removes its link this run). */
	"CREATE TABLE stage.lrn_user (username TEXT PRIMARY KEY, user_id TEXT, sfdc_id TEXT,"
	" last_access TEXT, state TEXT NOT NULL, src_file INTEGER, src_line INTEGER) WITHOUT ROWID;"
	/* Keys that may be given by more than one row: a user and item listed
	 * twice (kind 'course' or 'plan'), or a user id two usernames share
	 * (kind 'user_id', item ''). Their rows skip "only changes" before the
	 * fact, so that the first row keeps its place. Usually empty. */
	"CREATE TABLE stage.lrn_twice (kind TEXT NOT NULL, name TEXT NOT NULL, item TEXT NOT NULL,"
	" PRIMARY KEY (kind, name, item)) WITHOUT ROWID;"
	/* The linked users whose inputs changed since the last run (or that
	 * no earlier run built, or with a row listed twice), with their
	 * digest (NULL: not to be kept): their records are built, and their
	 * digest goes to learner_state. */
	"CREATE TABLE stage.lrn_dirty (username TEXT PRIMARY KEY, digest INTEGER)"
	" WITHOUT ROWID;"
	/* The usernames this run creates or links (R12). */
	"CREATE TABLE stage.lrn_linking (username TEXT PRIMARY KEY) WITHOUT ROWID;"
	/* Per user and learning plan: the plan's courses the user finished
	 * well (PLAN_DONE_SQL). */
	"CREATE TABLE stage.lrn_plan_done (username TEXT NOT NULL, plan_code TEXT NOT NULL,"
	" n INTEGER NOT NULL, PRIMARY KEY (username, plan_code)) WITHOUT ROWID;";

/* The catalogue (R8) and what each user has to send (R9), from `enr` alone
 * (count_scratch_sql); ?4 the item types sent. */
static const char *const count_steps[] = {
	"INSERT OR IGNORE INTO enr.lrn_course (code, name, type, is_sent, src_file, src_line)"
	" SELECT code, name, type, (CASE type WHEN 'elearning' THEN ?4 & 1"
	" WHEN 'classroom' THEN ?4 & 4 WHEN 'webinar' THEN ?4 & 8 ELSE 0 END) <> 0,"
	" src_file, src_line FROM enr.stg_course WHERE code IS NOT NULL ORDER BY rowid",

	"INSERT OR IGNORE INTO enr.lrn_plan_course (plan_code, course_code)"
	" SELECT plan_code, course_code FROM enr.stg_plan_course"
	" WHERE plan_code IS NOT NULL AND course_code IS NOT NULL",

	"INSERT OR IGNORE INTO enr.lrn_plan (code, name, ncourses, courses, src_file, src_line)"
	" SELECT p.code, p.name, (SELECT count(*) FROM enr.lrn_plan_course pc"
	" WHERE pc.plan_code = p.code), (SELECT lmsrecon_hash_sum(pc.course_code)"
	" FROM enr.lrn_plan_course pc WHERE pc.plan_code = p.code), p.src_file, p.src_line"
	" FROM enr.stg_plan p WHERE p.code IS NOT NULL ORDER BY p.rowid",

	/* Every row of the user is read: the counts take the rows sent, the
	 * hash all of them (a plan record counts courses of any type). The
	 * source row is the first row sent (the one min() picks). */
	"INSERT INTO enr.lrn_count (username, n_course, n_completed, n_passed, n_failed,"
	" n_in_progress, n_pending, course_rows, course_twice, n_no_course, n_no_session,"
	" src_file, src_line)"
	" SELECT e.username, count(*) FILTER (WHERE " COURSE_SENT "),"
	" " COUNT_OF("completed") ", " COUNT_OF("passed") ", " COUNT_OF("failed") ","
	" " COUNT_OF("in_progress") ", " COUNT_OF("pending_review") ","
	" lmsrecon_hash_sum(e.course_code, e.session_code, e.status, e.enrolled_at, e.completed_at,"
	" e.score, e.updated_at, c.name, c.type, c.is_sent),"
	" lmsrecon_repeats(e.course_code),"
	" count(*) FILTER (WHERE c.code IS NULL AND e.course_code IS NOT NULL"
	"  AND " SENT_STATUS("e") "),"
	" count(*) FILTER (WHERE " COURSE_SENT " AND e.session_code <> ''"
	"  AND NOT EXISTS (SELECT 1 FROM enr.stg_session s WHERE s.code = e.session_code)),"
	" e.src_file, min(e.src_line) FILTER (WHERE " COURSE_SENT ")"
	" FROM enr.stg_enrollment e LEFT JOIN enr.lrn_course c ON c.code = e.course_code"
	" WHERE e.username IS NOT NULL GROUP BY e.username",

	"INSERT INTO enr.lrn_count (username, n_plan, plan_rows, plan_twice, src_file, src_line)"
	" SELECT e.username, count(*) FILTER (WHERE " PLAN_SENT "),"
	" lmsrecon_hash_sum(e.plan_code, e.status, e.enrolled_at, e.completed_at, e.score,"
	" e.updated_at, p.ncourses, p.courses), lmsrecon_repeats(e.plan_code),"
	" e.src_file, min(e.src_line) FILTER (WHERE " PLAN_SENT ")"
	" FROM enr.stg_plan_enrollment e LEFT JOIN enr.lrn_plan p ON p.code = e.plan_code"
	" WHERE e.username IS NOT NULL GROUP BY e.username"
	" ON CONFLICT (username) DO UPDATE SET n_plan = excluded.n_plan,"
	" plan_rows = excluded.plan_rows, plan_twice = excluded.plan_twice,"
	" src_file = CASE WHEN n_course = 0 THEN excluded.src_file ELSE src_file END,"
	" src_line = CASE WHEN n_course = 0 THEN excluded.src_line ELSE src_line END",
};

/* The statements of the rule, in order. */
static const char *const steps[] = {
	/* -- the catalogue's records (R8) -- */
	"INSERT OR IGNORE INTO stage.crm_out (object, op, key, fields, rule, src_file, src_line)"
	" SELECT 'LMS_Course__c', 'upsert', ?1 || ':' || code,"
	" lmsrecon_json_object('LMS_Course_Key__c', ?1 || ':' || code, 'Name', substr(name, 1, 80),"
	" 'Code__c', code, 'Type__c', type, 'LMS_Instance__c', ?1),"
	" 'R8', src_file, src_line FROM enr.lrn_course WHERE is_sent",

	"INSERT OR IGNORE INTO stage.crm_out (object, op, key, fields, rule, src_file, src_line)"
	" SELECT 'LMS_Session__c', 'upsert', ?1 || ':' || s.code,"
	" lmsrecon_json_object('LMS_Session_Key__c', ?1 || ':' || s.code,"
	" 'Name', substr(coalesce(s.name, s.code), 1, 80), 'Code__c', s.code,"
	" 'Course__r.LMS_Course_Key__c', ?1 || ':' || s.course_code,"
	" 'Start_Date__c', " DT("s.start_date") ", 'LMS_Instance__c', ?1),"
	" 'R8', s.src_file, s.src_line"
	" FROM enr.stg_session s JOIN enr.lrn_course c ON c.code = s.course_code"
	" WHERE s.code IS NOT NULL AND c.is_sent ORDER BY s.rowid",

	"INSERT INTO stage.exceptions (kind, entity, key, candidates, reason, src_file, src_line)"
	" SELECT 'course_missing', 'sessions', s.code, NULL,"
	" 'course ''' || s.course_code || ''' is not in the courses export',"
	" s.src_file, s.src_line FROM enr.stg_session s"
	" WHERE (?4 & 12) <> 0 AND s.code IS NOT NULL"
	" AND NOT EXISTS (SELECT 1 FROM enr.lrn_course c WHERE c.code = s.course_code)"
	" ORDER BY s.rowid",

	"INSERT OR IGNORE INTO stage.crm_out (object, op, key, fields, rule, src_file, src_line)"
	" SELECT 'LMS_Learning_Plan__c', 'upsert', ?1 || ':' || code,"
	" lmsrecon_json_object('LMS_Learning_Plan_Key__c', ?1 || ':' || code,"
	" 'Name', substr(name, 1, 80), 'Code__c', code, 'Course_Count__c', ncourses,"
	" 'LMS_Instance__c', ?1), 'R8', src_file, src_line"
	" FROM enr.lrn_plan WHERE (?4 & 2) <> 0",

	/* -- the users and their state (R9, R12) -- */
	"INSERT OR IGNORE INTO stage.lrn_user (username, user_id, sfdc_id, last_access, state,"
	" src_file, src_line)"
	" SELECT username, user_id, sfdc_id, last_access,"
	" CASE WHEN coalesce(sfdc_id, '') = '' THEN 'not_linked'"
	" WHEN substr(sfdc_id, 1, 3) IN ('003', '005') THEN 'linked' ELSE 'unsupported' END,"
	" src_file, src_line FROM stage.stg_lms_user NOT INDEXED WHERE username IS NOT NULL"
	/* The first row of a username wins. In key order the rows are
	 * appended to the tree, not inserted at random; sorted, not read
	 * through the username index, which would look every row up at
	 * random (a million users: 4.0 s in input order, 3.0 s through the
	 * index, 1.3 s sorted). */
	" ORDER BY username, rowid",

	/* The people rules and sync back link only users whose sfdc_id the
	 * export shows empty; the export will show the link next time. The
	 * list of those users goes into a table of its own, sorted first: as
	 * the list of an IN, it was a temporary tree SQLite fills at random
	 * with a 2 MB cache of its own (at a million contacts 620,000
	 * usernames: 2.7 GB written and 3.2 GB read for 25 MB of names). */
	"INSERT OR IGNORE INTO stage.lrn_linking (username)"
	/* One pass over user_out, stored in username order (its key). */
	" SELECT username FROM stage.user_out WHERE action = 'create'"
	" UNION ALL SELECT key FROM stage.changes WHERE entity = 'lms.users'"
	" AND action IN ('link', 'relink') ORDER BY 1",

	/* The users not linked are read and each looked up in the list
	 * (`+`: not each of the list looked up in lrn_user; at a million
	 * contacts the users not linked are 112,000). */
	"UPDATE stage.lrn_user SET state = 'waiting' WHERE state = 'not_linked' AND +username IN"
	" (SELECT username FROM stage.lrn_linking)",

	/* Sync back unlinks deactivated learners: the export may still show
	 * the link (this run writes it away), but nothing more is sent. */
	"UPDATE stage.lrn_user SET state = 'unlinking' WHERE state IN ('linked', 'unsupported')"
	" AND username IN (SELECT key FROM stage.changes WHERE entity = 'lms.users'"
	" AND action = 'unlink')",

	/* The users to create: one pass over user_out, in its key's order
	 * (when user_out was stored in match order, and read through an
	 * index of its usernames, 2.4 s against 0.2 s at a million
	 * contacts). */
	"INSERT OR IGNORE INTO stage.lrn_user (username, state, src_file, src_line)"
	" SELECT username, 'waiting', src_file, src_line FROM stage.user_out"
	" WHERE action = 'create' ORDER BY username",

	/* The users in the order of their records' keys (instance:user_id:...),
	 * for the statements below that write one record per enrollment. */
	"CREATE INDEX stage.lrn_user_id ON lrn_user (user_id, username, state)",

	/* -- what each user has to send -- */
	/* The keys listed more than once. The counts read every row in the
	 * order of the enrollments' index, where a user's rows of one item
	 * are next to each other: only the users they did not find free of a
	 * key listed twice are looked at here (at a million contacts a
	 * statement of its own read all five million rows again, 1.4 s). */
	"INSERT INTO stage.lrn_twice (kind, name, item)"
	" SELECT 'course', e.username, e.course_code FROM enr.lrn_count n"
	" CROSS JOIN enr.stg_enrollment e ON e.username = n.username"
	" WHERE n.course_twice <> 0 AND e.course_code IS NOT NULL"
	" GROUP BY e.username, e.course_code HAVING count(*) > 1"
	" UNION SELECT 'plan', e.username, e.plan_code FROM enr.lrn_count n"
	" CROSS JOIN enr.stg_plan_enrollment e ON e.username = n.username"
	" WHERE n.plan_twice <> 0 AND e.plan_code IS NOT NULL"
	" GROUP BY e.username, e.plan_code HAVING count(*) > 1"
	" UNION SELECT 'user_id', user_id, '' FROM stage.lrn_user WHERE user_id IS NOT NULL"
	" GROUP BY user_id HAVING count(*) > 1",

	/* The users whose records are built: linked, and their digest is not
	 * the one an earlier run left (learner_state), or a row of theirs may
	 * give its key to another (LISTED_TWICE). In username order, as the
	 * tables they are looked up in; the digest and LISTED_TWICE made once
	 * per user (ONCE), for the test and for the row. */
	"INSERT INTO stage.lrn_dirty (username, digest)"
	" SELECT d.username, CASE WHEN d.is_twice THEN NULL ELSE d.digest END"
	" FROM (SELECT u.username AS username, " USER_DIGEST " AS digest,"
	"  " LISTED_TWICE " AS is_twice"
	"  FROM stage.lrn_user u LEFT JOIN enr.lrn_count n ON n.username = u.username"
	"  WHERE u.state = 'linked' AND u.user_id IS NOT NULL ORDER BY u.username " ONCE ") d"
	" WHERE d.is_twice OR (SELECT ls.digest FROM main.learner_state ls"
	" WHERE ls.lms_instance = ?1 AND ls.username = d.username AND ls.run_id < ?5)"
	" IS NOT d.digest",

	/* -- exceptions (R9, R12) -- */
	/* The users whose enrollments are not sent, kind after kind (in this
	 * order), each kind in username order: one pass over the counts and
	 * the users (at 1x, five statements, one per kind, each read a million
	 * of both: 1.9 s). */
	"INSERT INTO stage.exceptions (kind, entity, key, candidates, reason, src_file, src_line)"
	" SELECT x.kind, x.entity, x.key, x.candidates, x.reason, x.src_file, x.src_line"
	" FROM (SELECT CASE u.state WHEN 'not_linked' THEN 1 WHEN 'waiting' THEN 2"
	"  WHEN 'unlinking' THEN 3 WHEN 'unsupported' THEN 4 ELSE 5 END AS rank,"
	"  CASE u.state WHEN 'not_linked' THEN 'not_linked' WHEN 'waiting' THEN 'waiting_on_link'"
	"  WHEN 'unlinking' THEN 'unlinked' WHEN 'unsupported' THEN 'link_unsupported'"
	"  ELSE 'user_missing' END AS kind,"
	"  CASE WHEN u.username IS NULL THEN 'enrollments' ELSE 'users' END AS entity,"
	"  n.username AS key, CASE u.state WHEN 'unsupported' THEN u.sfdc_id END AS candidates,"
	"  CASE u.state WHEN 'not_linked' THEN 'user not linked: '"
	"  WHEN 'waiting' THEN 'linked in this run; '"
	"  WHEN 'unlinking' THEN 'unlinked in this run: '"
	"  WHEN 'unsupported' THEN 'sfdc_id ''' || u.sfdc_id || ''' is neither a Contact (003)"
	" nor a User (005): '"
	"  ELSE 'user not in the users export: ' END || " PLURAL("n.n_course + n.n_plan")
	"  || CASE u.state WHEN 'waiting' THEN ' will be sent by the next run'"
	"  ELSE ' not sent' END AS reason,"
	"  CASE WHEN u.username IS NULL THEN n.src_file ELSE u.src_file END AS src_file,"
	"  CASE WHEN u.username IS NULL THEN n.src_line ELSE u.src_line END AS src_line"
	"  FROM enr.lrn_count n LEFT JOIN stage.lrn_user u ON u.username = n.username"
	"  WHERE n.n_course + n.n_plan > 0 AND (u.username IS NULL OR u.state <> 'linked')) x"
	" ORDER BY x.rank, x.key",

};

/* The learner records of the users with enrollments (R9), read from
 * `from` (the counts `n` and the users `u`). Built in username order, next
 * to lrn_count, and written sorted by key, so that the steps reading
 * crm_out by key read its rows in order, not one page at random per
 * learner (2.7 GB read for the learner import file alone at 1x). Of two
 * usernames sharing a user id, the first by username is written first and
 * keeps the key. `order`: the subquery's ORDER BY, where the scan gives it
 * (ONCE says why only there). */
#define USER_RECORDS_SQL(from, order) \
	"INSERT OR IGNORE INTO stage.crm_out (object, op, key, fields, rule, src_file, src_line)" \
	" SELECT 'LMS_User__c', 'upsert', r.key, r.fields, 'R9', r.src_file, r.src_line" \
	" FROM (SELECT " USER_KEY " AS key, " USER_FIELDS(COUNTS) " AS fields," \
	"  u.username AS username, u.user_id AS user_id, u.src_file AS src_file," \
	"  u.src_line AS src_line" \
	"  FROM " from \
	"  WHERE u.state = 'linked' AND u.user_id IS NOT NULL AND n.n_course + n.n_plan > 0" \
	"  AND " BUILT("LMS_User__c") order " " ONCE ") r" \
	" WHERE " NOT_SENT_AS("LMS_User__c", "r.key", "r.fields") \
	" OR " TWICE_OF("r", "user_id", "''") \
	" ORDER BY r.key, r.username"

/* The course enrollment records (R9, R11) of every user, by user id: a
 * day two too (record_steps says why). */
#define ENR_RECORDS_SQL \
	"INSERT OR IGNORE INTO stage.crm_out (object, op, key, fields, rule, is_forced," \
	" src_file, src_line)" \
	" SELECT 'LMS_Enrollment__c', 'upsert', r.key, r.fields, 'R9', r.is_forced," \
	" r.src_file, r.src_line" \
	" FROM (SELECT " ENR_KEY " AS key, " ENR_FIELDS " AS fields, " FORCED " AS is_forced," \
	"  e.src_file AS src_file, e.src_line AS src_line, e.rowid AS id, u.user_id AS user_id," \
	"  u.username AS username, e.course_code AS course_code, e.session_code AS session_code" \
	"  FROM " ALL_BY_ID \
	"  CROSS JOIN enr.stg_enrollment e ON e.username = u.username" \
	"  JOIN enr.lrn_course c ON c.code = e.course_code" \
	"  WHERE u.state = 'linked' AND u.user_id IS NOT NULL" \
	"  AND " BUILT("LMS_Enrollment__c") " AND c.is_sent AND " SENT_STATUS("e") \
	/* User by user in user id order (the join order is fixed: the \
	 * planner has no statistics for lrn_user), then in the enrollment \
	 * index's order: the records come about in the order of their keys \
	 * (what was sent before is read, and crm_out written, in one sweep, \
	 * not at random), and the first row of a key listed twice comes \
	 * first. */ \
	"  ORDER BY u.user_id, u.username, e.course_code, e.session_code, e.src_line, e.rowid" \
	"  " ONCE ") r" \
	/* Cheapest first: on a first run nothing was sent before. */ \
	" WHERE r.is_forced OR " NOT_SENT_AS("LMS_Enrollment__c", "r.key", "r.fields") \
	" OR " TWICE_OF("r", "course", "r.course_code")

/* The learning-plan enrollment records of the users `users`, in the same
 * order (PLAN_ORDER), for the same sweep: sorted by the subquery (`inner`)
 * when its scan gives the order, else by the outer query (`outer`), which
 * sorts only the records that pass its WHERE (ONCE says why). Which row
 * of a key listed twice comes first does not hang on it: the enrollments'
 * index gives a user's rows of a plan in input order either way. */
#define PLAN_ORDER(u, e, rowid) " ORDER BY " u ".user_id, " u ".username, " e ".plan_code, " \
	e ".src_line, " rowid
#define PLAN_RECORDS_SQL(users, inner, outer) \
	"INSERT OR IGNORE INTO stage.crm_out (object, op, key, fields, rule, is_forced," \
	" src_file, src_line)" \
	" SELECT 'LMS_Learning_Plan_Enrollment__c', 'upsert', r.key, r.fields, 'R9', r.is_forced," \
	" r.src_file, r.src_line" \
	" FROM (SELECT " PLAN_ENR_KEY " AS key, " PLAN_ENR_FIELDS " AS fields," \
	"  " FORCED " AS is_forced," \
	"  e.src_file AS src_file, e.src_line AS src_line, e.rowid AS id," \
	"  u.user_id AS user_id, u.username AS username, e.plan_code AS plan_code" \
	"  FROM " users \
	"  CROSS JOIN enr.stg_plan_enrollment e ON e.username = u.username" \
	"  JOIN enr.lrn_plan p ON p.code = e.plan_code" \
	"  WHERE (?4 & 2) <> 0 AND u.state = 'linked' AND u.user_id IS NOT NULL" \
	"  AND " BUILT("LMS_Learning_Plan_Enrollment__c") " AND " SENT_STATUS("e") \
	inner " " ONCE ") r" \
	" WHERE r.is_forced OR " \
	NOT_SENT_AS("LMS_Learning_Plan_Enrollment__c", "r.key", "r.fields") \
	" OR " TWICE_OF("r", "plan", "r.plan_code") outer

/* The rest of the rule, after the enrollments of missing courses. */
/* A statement, and the one to run instead when only the users whose
 * inputs changed get records of `object` built (only_dirty). */
struct step {
	const char *sql;
	const char *dirty_sql; /* NULL: none */
	const char *object;
};

static const struct step record_steps[] = {
	{ "INSERT INTO stage.exceptions (kind, entity, key, candidates, reason, src_file, src_line)"
	" SELECT 'plan_missing', 'plan_enrollments', e.plan_code, NULL,"
	" 'learning plan not in the plans export: ' || " PLURAL("count(*)") " || ' not sent',"
	" e.src_file, min(e.src_line) FROM enr.stg_plan_enrollment e NOT INDEXED"
	" WHERE (?4 & 2) <> 0 AND " SENT_STATUS("e") " AND e.plan_code IS NOT NULL"
	" AND NOT EXISTS (SELECT 1 FROM enr.lrn_plan p WHERE p.code = e.plan_code)"
	" GROUP BY e.plan_code ORDER BY e.plan_code", NULL, NULL },

	/* -- the records (R9, R11) -- */
	{ USER_RECORDS_SQL("enr.lrn_count n JOIN stage.lrn_user u ON u.username = n.username",
			   " ORDER BY n.username"),
	  USER_RECORDS_SQL("stage.lrn_dirty ld CROSS JOIN enr.lrn_count n ON n.username = ld.username"
			   " CROSS JOIN stage.lrn_user u ON u.username = ld.username", ""),
	  "LMS_User__c" },

	/* A learner record the CRM already holds follows the LMS down to no
	 * enrollment at all: its counts go to zero rather than stay stale
	 * (the LMS is master of the statistics; "at least one enrollment" is
	 * the condition to create the record, not to keep it true). */
	{ "INSERT OR IGNORE INTO stage.crm_out (object, op, key, fields, rule, src_file, src_line)"
	" SELECT 'LMS_User__c', 'upsert', " USER_KEY ", " USER_FIELDS(NO_COUNTS) ","
	" 'R9', u.src_file, u.src_line"
	" FROM stage.lrn_user u"
	" WHERE u.state = 'linked' AND u.user_id IS NOT NULL AND " BUILT("LMS_User__c")
	" AND NOT EXISTS (SELECT 1 FROM enr.lrn_count n WHERE n.username = u.username"
	"  AND n.n_course + n.n_plan > 0)"
	" AND (EXISTS (SELECT 1 FROM stage.stg_x_lms_user x"
	"   WHERE x.LMS_User_Id__c = ?1 || ':' || u.user_id)"
	"  OR EXISTS (SELECT 1 FROM main.emitted e WHERE e.target = 'crm'"
	"   AND e.object = 'LMS_User__c' AND e.op = 'upsert' AND e.key = ?1 || ':' || u.user_id))"
	/* Last: it builds the record, for the few users left. */
	" AND (" NOT_SENT_AS("LMS_User__c", USER_KEY, USER_FIELDS(NO_COUNTS))
	" OR " TWICE("user_id", "''") ")"
	" ORDER BY u.username", NULL, NULL },

	/* Every learner, by user id, even on a day two: the changed
	 * learners' rows are many (five enrollments each), and read by
	 * username they were then sorted by key, whole (1x day two: 3.8 s, 1.3
	 * GB written, against 3.3 s). */
	{ ENR_RECORDS_SQL, NULL, NULL },

	/* The same enrollment twice in the export: the first row is sent.
	 * Only the user and course pairs listed more than once are looked
	 * at. */
	{ "INSERT INTO stage.exceptions (kind, entity, key, candidates, reason, src_file, src_line)"
	" SELECT 'duplicate', 'enrollments',"
	" e.username || ':' || e.course_code || ':' || coalesce(e.session_code, ''), NULL,"
	" 'enrollment listed more than once: the first row is sent', e.src_file, e.src_line"
	" FROM stage.lrn_twice g"
	" JOIN enr.stg_enrollment e ON g.kind = 'course' AND e.username = g.name"
	" AND e.course_code = g.item"
	" JOIN stage.lrn_user u ON u.username = e.username"
	" JOIN enr.lrn_course c ON c.code = e.course_code"
	" WHERE u.state = 'linked' AND c.is_sent AND " SENT_STATUS("e")
	" AND EXISTS (SELECT 1 FROM enr.stg_enrollment x WHERE x.username = e.username"
	" AND x.course_code = e.course_code"
	" AND coalesce(x.session_code, '') = coalesce(e.session_code, '')"
	" AND " SENT_STATUS("x") " AND x.rowid < e.rowid) ORDER BY e.rowid", NULL, NULL },

	{ PLAN_DONE_SQL(ALL_BY_NAME), PLAN_DONE_SQL(DIRTY), "LMS_Learning_Plan_Enrollment__c" },

	{ PLAN_RECORDS_SQL(ALL_BY_ID, PLAN_ORDER("u", "e", "e.rowid"), ""),
	  PLAN_RECORDS_SQL(DIRTY, "", PLAN_ORDER("r", "r", "r.id")), "LMS_Learning_Plan_Enrollment__c" },
};

/* What the records of this run were built from, for the next run: the
 * changed digests, and no row for a user whose digest is not kept or who
 * is not linked now. Only after a run that compared all three objects of
 * a learner with what was sent: a record the CRM export showed unchanged
 * was not sent, and a later run without the export must build it. */
static const char *const state_steps[] = {
	"INSERT INTO main.learner_state (lms_instance, username, digest, run_id)"
	" SELECT ?1, username, digest, ?5 FROM stage.lrn_dirty WHERE digest IS NOT NULL"
	" ORDER BY username"
	" ON CONFLICT (lms_instance, username) DO UPDATE SET digest = excluded.digest,"
	" run_id = excluded.run_id",

	"DELETE FROM main.learner_state WHERE lms_instance = ?1 AND username IN"
	" (SELECT username FROM stage.lrn_dirty WHERE digest IS NULL)",

	"DELETE FROM main.learner_state WHERE lms_instance = ?1 AND NOT EXISTS"
	" (SELECT 1 FROM stage.lrn_user u WHERE u.username = learner_state.username"
	" AND u.state = 'linked' AND u.user_id IS NOT NULL)",
};

/* All three objects of a learner are compared with what was sent. */
static const char all_sent_sql[] =
	"SELECT count(*) = 3 FROM stage.prev_sent_objects WHERE op = 'upsert' AND object IN"
	" ('LMS_User__c', 'LMS_Enrollment__c', 'LMS_Learning_Plan_Enrollment__c')";

/* Enrollments of a course the courses export lacks, by course code: one
 * scan of the enrollments, each course looked up in the small catalogue;
 * only the missing ones are grouped (an index on the course code, to read
 * just their rows, took longer to build than this scan takes). Run only
 * when the counts found such a row, or a row of no username (which they
 * do not read). */
static const char course_missing_sql[] =
	"INSERT INTO stage.exceptions (kind, entity, key, candidates, reason, src_file, src_line)"
	" SELECT 'course_missing', 'enrollments', e.course_code, NULL,"
	" 'course not in the courses export: ' || " PLURAL("count(*)") " || ' not sent',"
	" e.src_file, min(e.src_line) FROM enr.stg_enrollment e NOT INDEXED"
	" WHERE (?4 & 13) <> 0 AND " SENT_STATUS("e") " AND e.course_code IS NOT NULL"
	" AND NOT EXISTS (SELECT 1 FROM enr.lrn_course c WHERE c.code = e.course_code)"
	" GROUP BY e.course_code ORDER BY e.course_code";

/* Enrollments of a session the sessions export lacks, by session code:
 * only checked when the job has a sessions input (without it the CRM may
 * still hold the session from an earlier run), and when the counts found
 * such a row or a row of no username. */
static const char session_missing_sql[] =
	"INSERT INTO stage.exceptions (kind, entity, key, candidates, reason, src_file, src_line)"
	" SELECT 'session_missing', 'enrollments', e.session_code, NULL,"
	" 'session not in the sessions export: ' || " PLURAL("count(*)") " || ' not sent',"
	" e.src_file, min(e.src_line)"
	" FROM enr.stg_enrollment e JOIN enr.lrn_course c ON c.code = e.course_code"
	" WHERE c.is_sent AND coalesce(e.session_code, '') <> '' AND " SENT_STATUS("e")
	" AND NOT EXISTS (SELECT 1 FROM enr.stg_session s WHERE s.code = e.session_code)"
	" GROUP BY e.session_code ORDER BY e.session_code";

/* Whether a scan for missing courses or sessions can find anything: the
 * counts saw a row of one (`n` a column of enr.lrn_count), or there is a
 * row of no username, which they do not count. */
#define MISSING(n) "SELECT EXISTS (SELECT 1 FROM enr.lrn_count WHERE " n " > 0)" \
	" OR EXISTS (SELECT 1 FROM enr.stg_enrollment WHERE username IS NULL)"

/* Runs `sql` to the end with the parameters of struct lrn. Sticky. */
static void run(const struct lrn *c, const char *sql)
{
	snap_run(c->s, sql, "tttiiii", c->instance, c->since[0] ? c->since : NULL,
		 c->until[0] ? c->until : NULL, (long long)c->items, c->run_id, c->may_skip,
		 c->build_hash);
}

/* Whether the records of `object` are built only for the users whose
 * inputs changed (stage.lrn_dirty): what BUILT() comes to when the run
 * may skip the others and the object is compared with what was sent. */
static int only_dirty(const struct lrn *c, const char *object)
{
	struct snap_stmt *q;
	int is = 0;

	if (!c->may_skip)
		return 0;
	q = snap_prepare(c->s, "SELECT 1 FROM stage.prev_sent_objects WHERE object = ?1 AND op = 'upsert'");
	if (q) {
		snap_bind_text(q, 1, object, strlen(object));
		is = snap_step(q) == 1;
		snap_finalize(q);
	}
	return is;
}

/* The hash (64-bit FNV-1a) of the SQL that builds a learner's records:
 * part of every learner's digest, so that a version of lmsrecon that
 * builds them otherwise builds every learner once. */
static long long build_hash(void)
{
	static const char *const parts[] = { USER_FIELDS(COUNTS), USER_FIELDS(NO_COUNTS),
		ENR_KEY, ENR_FIELDS, PLAN_ENR_KEY, PLAN_ENR_FIELDS, PLAN_DONE_SQL(ALL_BY_NAME) };
	unsigned long long h = FNV1A_BASIS;

	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		h = fnv1a(h, parts[i], strlen(parts[i]));
	return (long long)h;
}

/* A window bound as a full UTC date-time: a date-only `since` starts at
 * the day's first millisecond, a date-only `until` ends at its last. */
static void window_bound(char out[25], const char *v, int is_end)
{
	out[0] = '\0';
	if (!v)
		return;
	if (strlen(v) == 10)
		snprintf(out, 25, "%sT%s", v, is_end ? "23:59:59.999Z" : "00:00:00.000Z");
	else
		snprintf(out, 25, "%s", v);
}

void rule_learning_early(const struct job *j, struct snap *s)
{
	static const char *then[1 + sizeof count_steps / sizeof count_steps[0]];

	then[0] = count_scratch_sql;
	for (size_t i = 0; i < sizeof count_steps / sizeof count_steps[0]; i++)
		then[i + 1] = count_steps[i];
	snap_enr_then(s, then, sizeof then / sizeof then[0],
		      (long long)(j->enroll.items ? j->enroll.items : ITEM_ALL));
}

enum rc rule_learning(struct diag *d, const struct job *j, struct snap *s,
		      long long run_id)
{
	struct lrn c;

	(void)d;
	memset(&c, 0, sizeof c);
	c.s = s;
	c.run_id = run_id;
	c.instance = j->lms_instance ? j->lms_instance : "";
	c.items = j->enroll.items ? j->enroll.items : ITEM_ALL;
	window_bound(c.since, j->enroll.since, 0);
	window_bound(c.until, j->enroll.until, 1);
	c.may_skip = !j->enroll.rebuild && !c.since[0] && !c.until[0];
	c.build_hash = build_hash();
	/* The enrollments' stage is read from here on (rules_run waited
	 * already; a caller of this rule alone may not have). */
	if (snap_enr_wait(s) != RC_OK)
		return snap_rc(s);

	/* The catalogue and the counts, unless the enrollments' thread built
	 * them (rule_learning_early). */
	if (!snap_enr_then_done(s)) {
		snap_exec(s, count_scratch_sql);
		for (size_t i = 0; i < sizeof count_steps / sizeof count_steps[0]; i++)
			run(&c, count_steps[i]);
	}
	snap_exec(s, scratch_sql);
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
		run(&c, steps[i]);
	if (snap_rc(s) == RC_OK && snap_query_int(s, MISSING("n_no_course")) > 0)
		run(&c, course_missing_sql);
	for (size_t i = 0; i < sizeof record_steps / sizeof record_steps[0]; i++) {
		const struct step *st = &record_steps[i];
		run(&c, st->dirty_sql && only_dirty(&c, st->object) ? st->dirty_sql : st->sql);
	}
	if (job_input_of(j, ENT_SESSION) && snap_rc(s) == RC_OK &&
	    snap_query_int(s, MISSING("n_no_session")) > 0)
		run(&c, session_missing_sql);
	if (snap_rc(s) == RC_OK && snap_query_int(s, all_sent_sql))
		for (size_t i = 0; i < sizeof state_steps / sizeof state_steps[0]; i++)
			run(&c, state_steps[i]);
	else
		run(&c, "DELETE FROM main.learner_state WHERE lms_instance = ?1");
	return snap_rc(s);
}
