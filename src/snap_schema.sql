-- SPDX-License-Identifier: MIT
-- The snapshot schema (SPEC section 5), compiled into lmsrecon by scripts/embed and
-- split by src/snap_open.c at the `-- @` marker lines:
--
--   -- @migration N   forward migration N: brings a snapshot from schema
--                     version N-1 to N (PRAGMA user_version, set by the code,
--                     never by the script). Numbered 1, 2, ... in order; the
--                     highest N is the version this lmsrecon writes. A
--                     released migration is never edited: add a new one.
--   -- @stage         the staging tables, created in the scratch database
--                     `stage` at the start of every run. Their columns must
--                     match src/entity.c (tests/unit/test_snap.c checks it):
--                     src_file, src_line, one column per entity column, then
--                     `extra` for the entities that take extra fields.
--   -- @stage-index   indexes on the staging tables for the rules, built
--                     after the inputs are loaded.
--
-- Only the marker lines may start with `-- @`. docs/snapshot.md describes the
-- tables for people who open a snapshot with the sqlite3 shell.

-- @migration 1

-- One row per finished run: complete runs are written by their own commit;
-- failed and interrupted runs, which never commit, are written by the next
-- complete run from the record kept in the lock file `<snapshot>.lock`.
-- The row of the run in flight is inserted with status 'running' inside the
-- run's transaction, so other tables can refer to it, and only becomes
-- visible when the run commits as 'complete'.
CREATE TABLE runs (
	id INTEGER PRIMARY KEY,    -- run id: 1, 2, ... in start order
	started_at TEXT NOT NULL,  -- ISO 8601 time the run started
	ended_at TEXT,             -- ISO 8601 time it committed; NULL for failed and interrupted runs
	status TEXT NOT NULL
		CHECK (status IN ('running', 'complete', 'failed', 'interrupted')),
	mode TEXT NOT NULL,        -- 'full' or 'incremental' (plan and check runs never commit)
	counts TEXT                -- JSON object of counts per entity and action; NULL when none
		CHECK (counts IS NULL OR json_valid(counts))
);

-- The input files of each complete run, with their digests, so `status`
-- and the report can show exactly what a run read.
CREATE TABLE run_inputs (
	run_id INTEGER NOT NULL REFERENCES runs (id),
	entity TEXT NOT NULL,      -- entity name as in the job file: 'Contact', 'users', ...
	name TEXT NOT NULL,        -- the file name as the job file gives it
	sha256 TEXT NOT NULL       -- SHA-256 of the file's bytes as read (compressed if .gz), 64 hex digits
		CHECK (length(sha256) = 64),
	nrecords INTEGER NOT NULL, -- records staged: read, less the bad ones skipped
	bytes INTEGER NOT NULL     -- bytes read
);
CREATE INDEX run_inputs_run ON run_inputs (run_id);

-- Links between a CRM record and an LMS user (R1, R7): a CRM id is linked to
-- at most one user per LMS instance.
CREATE TABLE links (
	crm_id TEXT NOT NULL        -- 18-character Salesforce id of the Contact, User or custom record
		CHECK (length(crm_id) = 18),
	lms_instance TEXT NOT NULL, -- which LMS: the job's name for it ('' when the job names none)
	lms_username TEXT NOT NULL, -- the LMS username the record is linked to
	source TEXT NOT NULL,       -- entity the CRM record comes from: 'Contact', 'User' or 'custom'
	first_run INTEGER NOT NULL REFERENCES runs (id), -- run that made the link
	last_run INTEGER NOT NULL REFERENCES runs (id),  -- last run that saw it
	PRIMARY KEY (crm_id, lms_instance)
) WITHOUT ROWID;
CREATE INDEX links_user ON links (lms_instance, lms_username);

-- High-water marks of incremental runs (R5): the greatest LastModifiedDate
-- seen per people source by the last complete run.
CREATE TABLE watermarks (
	source TEXT PRIMARY KEY,   -- people source: 'Contact', 'User' or 'custom'
	last_modified TEXT,        -- ISO 8601 time; NULL when the source had no dates
	run_id INTEGER REFERENCES runs (id) -- run that set it
) WITHOUT ROWID;

-- The enrollments as the LMS last showed them (R10): the baseline against
-- which an enrollment that vanished is found to be an unenrollment.
CREATE TABLE enrollment_baseline (
	lms_instance TEXT NOT NULL, -- as in links
	kind TEXT NOT NULL          -- 'course' enrollment or learning-'plan' enrollment
		CHECK (kind IN ('course', 'plan')),
	username TEXT NOT NULL,     -- LMS username
	item_code TEXT NOT NULL,    -- course code or learning plan code
	session_code TEXT NOT NULL DEFAULT '', -- ILT/VILT session code; '' for none and for plans
	status TEXT,                -- mapped status word (SPEC section 2)
	enrolled_at TEXT,           -- ISO 8601 times, NULL when the export had none
	completed_at TEXT,
	score REAL,
	updated_at TEXT,
	first_run INTEGER NOT NULL REFERENCES runs (id), -- run that first saw it
	last_run INTEGER NOT NULL REFERENCES runs (id),  -- last run that changed it
	PRIMARY KEY (lms_instance, kind, username, item_code, session_code)
) WITHOUT ROWID;

-- LMS branches lmsrecon created (R6), so later runs keep their codes stable
-- and can list orphaned ones.
CREATE TABLE branches_created (
	code TEXT PRIMARY KEY,      -- branch code written to the LMS
	name TEXT NOT NULL,         -- branch name written
	parent_code TEXT,           -- parent branch code; NULL under the root
	origin TEXT NOT NULL        -- what the branch stands for
		CHECK (origin IN ('account', 'picklist')),
	origin_key TEXT NOT NULL,   -- the Account id, or the picklist value path
	run_id INTEGER NOT NULL REFERENCES runs (id) -- run that created it
) WITHOUT ROWID;

-- Every change each run emitted to an import file, so a later run or
-- `audit` can tell which ones never showed up in the target's export.
CREATE TABLE emitted (
	run_id INTEGER NOT NULL REFERENCES runs (id),
	target TEXT NOT NULL        -- system the import file is for
		CHECK (target IN ('lms', 'crm')),
	object TEXT NOT NULL,       -- 'users', 'branches', 'Contact', 'LMS_Enrollment__c', ...
	key TEXT NOT NULL,          -- the record's key in that object (username, external id, Id)
	op TEXT NOT NULL,           -- 'create', 'update', 'upsert', 'insert', 'delete', 'deactivate', ...
	fields TEXT                 -- JSON object of the fields written; NULL for a delete
		CHECK (fields IS NULL OR json_valid(fields)),
	PRIMARY KEY (run_id, target, object, key, op)
) WITHOUT ROWID;

-- CRM people seen by the runs, with whether they passed the list view (R4),
-- so records that leave the view can be reported and deactivated.
CREATE TABLE people_seen (
	source TEXT NOT NULL,       -- people source: 'Contact', 'User' or 'custom'
	crm_id TEXT NOT NULL        -- 18-character Salesforce id
		CHECK (length(crm_id) = 18),
	in_view INTEGER NOT NULL    -- 1 when the record passed the list view in last_run, else 0
		CHECK (in_view IN (0, 1)),
	last_run INTEGER NOT NULL REFERENCES runs (id), -- last run that saw the record
	PRIMARY KEY (source, crm_id)
) WITHOUT ROWID;

-- @migration 2
-- Earlier runs' rows of one target record, looked up by key ("only
-- changes" without a CRM export, status, audit): the primary key of
-- emitted starts with run_id, which does not serve that look-up.
CREATE INDEX emitted_key ON emitted (target, object, op, key, run_id);

-- @migration 3
-- The digest of each emitted record's fields, in the key index: a run
-- tells a record sent unchanged by one integer of the index, without
-- reading or copying the fields. lmsrecon_digest() is the 64-bit FNV-1a
-- hash of the fields text, as a signed integer (NULL for a delete); the
-- function exists only inside lmsrecon, which fills the column on every
-- insert.
ALTER TABLE emitted ADD COLUMN digest INTEGER;
UPDATE emitted SET digest = lmsrecon_digest(fields) WHERE fields IS NOT NULL;
DROP INDEX emitted_key;
CREATE INDEX emitted_key ON emitted (target, object, op, key, run_id, digest);

-- @migration 4
-- What the learning rule built each linked learner's records from, as of
-- the last run that built them: a day two builds the enrollment and
-- learning-plan enrollment records of the learners whose digest changed,
-- and of no other (docs/learning.md). Rows of the users linked in the
-- latest run only; an old snapshot starts empty, so its first run builds
-- every learner once.
CREATE TABLE learner_state (
	lms_instance TEXT NOT NULL,  -- the job's LMS instance
	username TEXT NOT NULL,      -- LMS username, as exported
	digest INTEGER NOT NULL,     -- lmsrecon_hash of the learner's inputs
	run_id INTEGER NOT NULL REFERENCES runs (id), -- the run that wrote the digest
	PRIMARY KEY (lms_instance, username)
) WITHOUT ROWID;

-- @migration 5
-- Per username and kind of enrollment ('course' or 'plan'), the hash of
-- the export rows the last run that compared them with the baseline saw
-- (lmsrecon_hash_sum; a username with no row of the kind has none): a
-- run compares the baseline with the export only for the usernames whose
-- rows changed (docs/unenrollment.md). An old snapshot starts empty, so
-- its first run compares every username once.
CREATE TABLE enrollment_user (
	lms_instance TEXT NOT NULL,  -- the job's LMS instance
	kind TEXT NOT NULL           -- 'course' or 'plan'
		CHECK (kind IN ('course', 'plan')),
	username TEXT NOT NULL,      -- LMS username, as exported
	digest INTEGER NOT NULL,     -- lmsrecon_hash_sum of the username's rows of the kind
	PRIMARY KEY (lms_instance, kind, username)
) WITHOUT ROWID;
-- The unenrollments waiting for a CRM export (status 'unenrolled'): their
-- usernames are compared again at every run, changed or not.
CREATE INDEX enrollment_baseline_waiting ON enrollment_baseline (lms_instance, kind, username)
	WHERE status = 'unenrolled';

-- @migration 6
-- The baseline keeps, besides each enrollment's key and status, one digest
-- of its other values instead of the values: a run reads them only to tell
-- whether a row changed. Without the three times and the score a row takes
-- about 100 bytes instead of 160, and a day two that touches a seventh of
-- the usernames writes (and journals) that much less of the table, whose
-- pages it changes nearly all of.
CREATE TABLE enrollment_baseline_6 (
	lms_instance TEXT NOT NULL, -- as in links
	kind TEXT NOT NULL          -- 'course' enrollment or learning-'plan' enrollment
		CHECK (kind IN ('course', 'plan')),
	username TEXT NOT NULL,     -- LMS username
	item_code TEXT NOT NULL,    -- course code or learning plan code
	session_code TEXT NOT NULL DEFAULT '', -- ILT/VILT session code; '' for none and for plans
	status TEXT,                -- mapped status word (SPEC section 2)
	digest INTEGER,             -- lmsrecon_hash(enrolled_at, completed_at, updated_at, score)
	first_run INTEGER NOT NULL REFERENCES runs (id), -- run that first saw it
	last_run INTEGER NOT NULL REFERENCES runs (id),  -- last run that changed it
	PRIMARY KEY (lms_instance, kind, username, item_code, session_code)
) WITHOUT ROWID;
INSERT INTO enrollment_baseline_6 (lms_instance, kind, username, item_code, session_code,
	status, digest, first_run, last_run)
	SELECT lms_instance, kind, username, item_code, session_code, status,
	lmsrecon_hash(enrolled_at, completed_at, updated_at, score), first_run, last_run
	FROM enrollment_baseline ORDER BY lms_instance, kind, username, item_code, session_code;
DROP TABLE enrollment_baseline;
ALTER TABLE enrollment_baseline_6 RENAME TO enrollment_baseline;
CREATE INDEX enrollment_baseline_waiting ON enrollment_baseline (lms_instance, kind, username)
	WHERE status = 'unenrolled';

-- @migration 7
-- The baseline in two tables: enrollment_base, the rows as a compaction
-- left them, and enrollment_delta, what the runs since then changed (a
-- row new or changed, or gone: is_gone = 1), both in the same key order.
-- A day two changes a few rows of most usernames' pages; written into the
-- base, they rewrote (and journalled) nearly every page of it. Written
-- into the delta they take a few pages, and the base is rewritten only
-- when the delta has grown (docs/unenrollment.md). The view
-- enrollment_baseline shows the rows as before: the delta's over the
-- base's.
ALTER TABLE enrollment_baseline RENAME TO enrollment_base;
CREATE TABLE enrollment_delta (
	lms_instance TEXT NOT NULL, -- as in enrollment_base
	kind TEXT NOT NULL
		CHECK (kind IN ('course', 'plan')),
	username TEXT NOT NULL,
	item_code TEXT NOT NULL,
	session_code TEXT NOT NULL DEFAULT '',
	status TEXT,                -- NULL when gone
	digest INTEGER,             -- NULL when gone
	first_run INTEGER NOT NULL REFERENCES runs (id),
	last_run INTEGER NOT NULL REFERENCES runs (id), -- when gone: the run that found it gone
	is_gone INTEGER NOT NULL DEFAULT 0 -- 1: the base's row of the key no longer counts
		CHECK (is_gone IN (0, 1)),
	PRIMARY KEY (lms_instance, kind, username, item_code, session_code)
) WITHOUT ROWID;
CREATE INDEX enrollment_delta_waiting ON enrollment_delta (lms_instance, kind, username)
	WHERE status = 'unenrolled' AND is_gone = 0;
CREATE VIEW enrollment_baseline AS
	SELECT lms_instance, kind, username, item_code, session_code, status, digest,
		first_run, last_run
	FROM enrollment_base b WHERE NOT EXISTS (SELECT 1 FROM enrollment_delta d
		WHERE d.lms_instance = b.lms_instance AND d.kind = b.kind
		AND d.username = b.username AND d.item_code = b.item_code
		AND d.session_code = b.session_code)
	UNION ALL
	SELECT lms_instance, kind, username, item_code, session_code, status, digest,
		first_run, last_run
	FROM enrollment_delta WHERE is_gone = 0;

-- @stage

-- One table per entity of src/entity.c, named by its `table`. Every row
-- keeps the index of its input in the job (src_file) and the line its record
-- started on (src_line). Values are as the loader checked and normalised
-- them: text as given, ids in 18-character form, dates in ISO 8601, booleans
-- as 0/1 integers, scores as REAL, NULL for an empty field. `extra` holds
-- the job's extra mapped fields as a JSON object.

CREATE TABLE stage.stg_account (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	Id TEXT, Name TEXT, ParentId TEXT, IsPersonAccount INTEGER,
	LastModifiedDate TEXT
);

CREATE TABLE stage.stg_contact (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	Id TEXT, FirstName TEXT, LastName TEXT, Email TEXT, AccountId TEXT,
	Department TEXT, Title TEXT, IsPersonAccount INTEGER,
	LastModifiedDate TEXT,
	extra TEXT
);

CREATE TABLE stage.stg_crm_user (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	Id TEXT, Username TEXT, FirstName TEXT, LastName TEXT, Email TEXT,
	IsActive INTEGER, Department TEXT, LastModifiedDate TEXT,
	extra TEXT
);

CREATE TABLE stage.stg_custom (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	Id TEXT, LastModifiedDate TEXT,
	extra TEXT
);

CREATE TABLE stage.stg_lms_user (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	user_id TEXT, username TEXT, firstname TEXT, lastname TEXT, email TEXT,
	branch_code TEXT, active INTEGER, sfdc_id TEXT, last_access TEXT,
	extra TEXT
);

CREATE TABLE stage.stg_branch (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	code TEXT, name TEXT, parent_code TEXT
);

-- The CRM exports of the objects lmsrecon writes (read back for R9's
-- "only changes" and R10's deletes by Id).
CREATE TABLE stage.stg_x_lms_user (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	Id TEXT, LMS_User_Id__c TEXT, Contact__c TEXT, User__c TEXT,
	Last_Access__c TEXT, Enrolled_Count__c REAL, Completed_Count__c REAL,
	Passed_Count__c REAL, Failed_Count__c REAL, In_Progress_Count__c REAL,
	Pending_Review_Count__c REAL
);
CREATE TABLE stage.stg_x_course (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	Id TEXT, LMS_Course_Key__c TEXT, Name TEXT, Code__c TEXT, Type__c TEXT
);
CREATE TABLE stage.stg_x_session (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	Id TEXT, LMS_Session_Key__c TEXT, Name TEXT, Code__c TEXT, Start_Date__c TEXT
);
CREATE TABLE stage.stg_x_plan (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	Id TEXT, LMS_Learning_Plan_Key__c TEXT, Name TEXT, Code__c TEXT,
	Course_Count__c REAL
);
CREATE TABLE stage.stg_x_enrollment (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	Id TEXT, Enrollment_Key__c TEXT, Item_Name__c TEXT, Item_Type__c TEXT,
	Status__c TEXT, Enrolled_At__c TEXT, Completed_At__c TEXT, Score__c REAL,
	Unenrolled_At__c TEXT
);
CREATE TABLE stage.stg_x_plan_enrollment (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	Id TEXT, Enrollment_Key__c TEXT, Status__c TEXT, Enrolled_At__c TEXT,
	Completed_At__c TEXT, Score__c REAL, Course_Count__c REAL,
	Completed_Course_Count__c REAL, Unenrolled_At__c TEXT
);

-- The rules' working tables: what one run decides, read by the emitters.
-- src_file is the job input index (NULL when the row comes from no input).

-- Exceptions for the report (SPEC section 6 exceptions.csv).
CREATE TABLE stage.exceptions (
	kind TEXT NOT NULL,        -- 'ambiguous', 'conflict', 'no_match', 'mandatory', ...
	entity TEXT NOT NULL,      -- entity of the record: 'Contact', 'users', ...
	key TEXT,                  -- the record's key: CRM id, username, branch code
	candidates TEXT,           -- every candidate id, sorted, ';'-separated; NULL when none
	reason TEXT NOT NULL,      -- one sentence for a person
	src_file INTEGER,
	src_line INTEGER
);

-- Changes for the report (changes.csv): one row per field changed, or one
-- row with field NULL for an action on a whole record.
CREATE TABLE stage.changes (
	entity TEXT NOT NULL,      -- target object: 'lms.users', 'lms.branches', 'crm.Contact', ...
	key TEXT NOT NULL,         -- the target record's key
	action TEXT NOT NULL,      -- 'create', 'update', 'deactivate', 'link', ...
	field TEXT,
	before TEXT,
	after TEXT,
	src_file INTEGER,
	src_line INTEGER,
	rule TEXT NOT NULL         -- 'R1' .. 'R12'
);

-- People of the CRM sources (R1-R6): one row per staged record of a
-- people source, with the LMS values its mapping gives.
CREATE TABLE stage.people (
	source TEXT NOT NULL,      -- 'Contact', 'User' or 'custom'
	crm_id TEXT NOT NULL,      -- 18-character id
	match_key TEXT,            -- the match field after normalisation
	username TEXT,             -- mapped LMS username
	firstname TEXT,
	lastname TEXT,
	email TEXT,
	fields TEXT,               -- JSON object of the other mapped LMS fields
	account_id TEXT,           -- Contact's AccountId (org chart 'accounts')
	is_person INTEGER NOT NULL DEFAULT 0, -- Contact's IsPersonAccount
	modified TEXT,             -- LastModifiedDate (incremental, R5)
	in_view INTEGER NOT NULL DEFAULT 1, -- passed the list view (R4)
	is_rejected INTEGER NOT NULL DEFAULT 0, -- an exception keeps it out of matching
	is_unchanged INTEGER NOT NULL DEFAULT 0, -- not modified since the high-water mark (R5)
	branch_code TEXT,          -- LMS branch the user belongs in (R6)
	src_file INTEGER NOT NULL,
	src_line INTEGER NOT NULL,
	PRIMARY KEY (source, crm_id)
);

-- Branches the LMS needs (R6), written to lms/branches.csv when is_new.
CREATE TABLE stage.branch_out (
	code TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	parent_code TEXT NOT NULL, -- the destination branch or another branch_out
	depth INTEGER NOT NULL,    -- 1 directly under the destination; parents sort first
	origin TEXT NOT NULL,      -- 'account' or 'picklist'
	origin_key TEXT NOT NULL,  -- the Account id, or the picklist value path
	is_new INTEGER NOT NULL    -- 1 when the LMS export does not have it yet
);

-- LMS user rows to write (lms/users.csv), one per username, in username
-- order: the steps after the people rules read it in that order.
CREATE TABLE stage.user_out (
	username TEXT PRIMARY KEY,
	action TEXT NOT NULL,      -- 'create', 'update', 'deactivate'
	firstname TEXT,
	lastname TEXT,
	email TEXT,
	branch_code TEXT,
	active INTEGER,
	sfdc_id TEXT,
	force_password_change INTEGER,
	fields TEXT,               -- JSON object of extra mapped fields
	src_file INTEGER,
	src_line INTEGER
) WITHOUT ROWID;

-- The user_out rows (its columns) of one people rule pass, in the order
-- it decides them (by CRM id, not by username), appended: they go into
-- user_out sorted when the pass ends, the first row of a username kept.
-- Inserted
-- one by one into user_out's key, they went in at random, and the table
-- was then stored again in username order (a million contacts: 4.4 and
-- 2.4 s, against 0.6 and 1.9 s).
CREATE TABLE stage.user_new AS SELECT * FROM stage.user_out WHERE 0;

-- The usernames that several records of one people rule pass would
-- create (R1, ambiguous), with their CRM ids ('a;b'). Usually empty.
CREATE TABLE stage.user_shared (
	username TEXT PRIMARY KEY,
	candidates TEXT NOT NULL
) WITHOUT ROWID;

-- CRM records to write (SPEC section 6), one per object, operation and
-- key; emit_crm writes one file per object and operation from it.
CREATE TABLE stage.crm_out (
	object TEXT NOT NULL,      -- API name: 'Contact', 'LMS_User__c', ...
	op TEXT NOT NULL           -- Bulk API 2.0 operation
		CHECK (op IN ('insert', 'update', 'upsert', 'delete')),
	key TEXT NOT NULL,         -- external id (upsert), Id (update, delete), or a stable key (insert)
	-- JSON object: API field (or Rel__r.ExtId__c) to value; '#N/A' clears.
	-- Not checked here (parsing every record again cost more than building
	-- it); `emitted`, where it is kept, checks it.
	fields TEXT NOT NULL,
	rule TEXT NOT NULL,        -- the rule that decided it: 'R7' .. 'R11'
	is_forced INTEGER NOT NULL DEFAULT 0, -- sent even when unchanged (R11 time window)
	src_file INTEGER,
	src_line INTEGER,
	PRIMARY KEY (object, op, key)
);

-- The objects and operations whose records "only changes" compares with
-- what earlier runs emitted (the objects whose CRM export the job does not
-- read), listed before the learning rule when the run keeps only changes:
-- a record of one of them whose digest is the one the latest earlier run
-- emitted for its key (main.emitted_key) never reaches crm_out.
CREATE TABLE stage.prev_sent_objects (
	object TEXT NOT NULL,
	op TEXT NOT NULL,
	PRIMARY KEY (object, op)
) WITHOUT ROWID;

-- @stage-index

-- The lookups the rules make: records by id, LMS users by username, link
-- and branch; learning data by user and item. Only indexes a rule's
-- statement uses: each costs a sort of its table at every run. (Matching
-- by key and the account tree use indexes and data of their own.)
CREATE INDEX stage.stg_account_id ON stg_account (Id);
CREATE INDEX stage.stg_contact_id ON stg_contact (Id);
CREATE INDEX stage.stg_crm_user_id ON stg_crm_user (Id);
CREATE INDEX stage.stg_custom_id ON stg_custom (Id);
CREATE INDEX stage.stg_lms_user_username ON stg_lms_user (username);
-- By link, in username order: the people rules list the users of one link
-- by username without sorting them.
CREATE INDEX stage.stg_lms_user_sfdc_id ON stg_lms_user (sfdc_id, username);
CREATE INDEX stage.stg_lms_user_branch ON stg_lms_user (branch_code);
CREATE INDEX stage.stg_branch_code ON stg_branch (code);
CREATE INDEX stage.stg_branch_parent ON stg_branch (parent_code);
-- A branch without a code, by name: an Account's codeless namesake (R6).
CREATE INDEX stage.stg_branch_codeless ON stg_branch (name) WHERE code IS NULL OR code = '';
CREATE INDEX stage.stg_x_enrollment_key ON stg_x_enrollment (Enrollment_Key__c);
CREATE INDEX stage.stg_x_plan_enrollment_key ON stg_x_plan_enrollment (Enrollment_Key__c);
CREATE INDEX stage.stg_x_lms_user_key ON stg_x_lms_user (LMS_User_Id__c);
CREATE INDEX stage.stg_x_lms_user_id ON stg_x_lms_user (Id);
CREATE INDEX stage.stg_x_course_key ON stg_x_course (LMS_Course_Key__c);
CREATE INDEX stage.stg_x_session_key ON stg_x_session (LMS_Session_Key__c);
CREATE INDEX stage.stg_x_plan_key ON stg_x_plan (LMS_Learning_Plan_Key__c);
CREATE INDEX stage.stg_x_enrollment_id ON stg_x_enrollment (Id);
CREATE INDEX stage.stg_x_plan_enrollment_id ON stg_x_plan_enrollment (Id);

-- Statistics for the query planner, from a sample so it stays cheap.
PRAGMA stage.analysis_limit = 1000;
ANALYZE stage;

-- @enr

-- The enrollments' stage (src/snap_enr.c): the staging tables of the two
-- largest inputs and of the catalogue they refer to, in a scratch database
-- of their own (`enr`), so that their index and the learning rule's counts
-- are built by a second connection while the run's goes on with the people
-- rules. Rows as in `stage`.

CREATE TABLE enr.stg_course (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	course_id TEXT, code TEXT, name TEXT, type TEXT
);

CREATE TABLE enr.stg_session (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	session_id TEXT, code TEXT, course_code TEXT, name TEXT, start_date TEXT
);

CREATE TABLE enr.stg_plan (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	code TEXT, name TEXT
);

CREATE TABLE enr.stg_plan_course (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	plan_code TEXT, course_code TEXT
);

CREATE TABLE enr.stg_enrollment (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	username TEXT, course_code TEXT, session_code TEXT, status TEXT,
	enrolled_at TEXT, completed_at TEXT, score REAL, updated_at TEXT,
	id INTEGER PRIMARY KEY     -- the rowid, named so that an index can hold it
);

CREATE TABLE enr.stg_plan_enrollment (
	src_file INTEGER NOT NULL, src_line INTEGER NOT NULL,
	username TEXT, plan_code TEXT, status TEXT,
	enrolled_at TEXT, completed_at TEXT, score REAL, updated_at TEXT,
	id INTEGER PRIMARY KEY     -- as above
);

-- @enr-index

CREATE INDEX enr.stg_course_code ON stg_course (code);
CREATE INDEX enr.stg_session_code ON stg_session (code);
CREATE INDEX enr.stg_session_course ON stg_session (course_code);
CREATE INDEX enr.stg_plan_code ON stg_plan (code);
CREATE INDEX enr.stg_plan_course_plan ON stg_plan_course (plan_code);

-- The enrollments by user and item, with every column the rules read: the
-- rules walk it in order next to the tables keyed by username (the users,
-- their counts, the baseline), so a million users cost sequential reads,
-- not a random read of the enrollment table per row. Within one user,
-- course and session the rows keep their input order (src_line, then the
-- rowid for rows of one line): an ORDER BY down to the rowid is the
-- index's own order, not a small sort of every item's rows (a first run
-- at 1x puts the enrollments into the baseline in that order: 7.7 s with
-- the small sorts, 4.3 s without).
CREATE INDEX enr.stg_enrollment_user ON stg_enrollment (username, course_code,
	session_code, src_line, id, status, enrolled_at, completed_at, score, updated_at,
	src_file);
-- The same for learning-plan enrollments.
CREATE INDEX enr.stg_plan_enrollment_user ON stg_plan_enrollment (username, plan_code,
	src_line, id, status, enrolled_at, completed_at, score, updated_at, src_file);

-- Statistics for the query planner, sampled as the stage's are.
PRAGMA enr.analysis_limit = 400;
ANALYZE enr;
