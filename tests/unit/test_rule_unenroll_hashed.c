/* SPDX-License-Identifier: MIT */
/* The tests of rule_unenroll (test_rule_unenroll.c) again, each run of the
 * rule after the learning rule, which leaves every username's rows hashed:
 * from the second run on, the rule compares the baseline with the export
 * only for the usernames whose rows changed, those whose rows are all
 * gone, and those with an unenrollment waiting for a CRM export. Every
 * test must come out the same; the last one shows that an unchanged
 * username is not read. */
#define UNENROLL_SUITE rule_unenroll_hashed
#define UNENROLL_AFTER_LEARNING 1
#include "test_rule_unenroll.c"

/* A run of alice, completed in C1, and bob, `bob_status` in C1. */
static void alice_and_bob(const char *now, const char *bob_status)
{
	begin(now);
	add_user("alice", "101", CONTACT);
	add_user("bob", "102", NULL);
	add_course("C1", "elearning");
	add_enr("alice", "C1", NULL, "completed", "2");
	add_enr("bob", "C1", NULL, bob_status, "3");
	unenroll(now);
}

/* Takes the baseline's rows of `username` out behind the rule's back,
 * from both of its tables. */
static void drop_baseline_of(const char *username)
{
	exec5("DELETE FROM enrollment_base WHERE username = ?1", username, NULL, NULL, NULL, NULL);
	exec5("DELETE FROM enrollment_delta WHERE username = ?1", username, NULL, NULL, NULL, NULL);
}

/* alice's rows are the same in the second run: her baseline is not read,
 * so a row taken out of it behind the rule's back stays out (read, her
 * enrollment would be found current and written again). bob's changed,
 * and his are read. */
Test(UNENROLL_SUITE, username_whose_rows_did_not_change_is_not_read)
{
	alice_and_bob(T1, "enrolled");
	commit(T1);
	assert_text("SELECT group_concat(kind || ':' || username, ';') FROM"
		    " (SELECT * FROM enrollment_user ORDER BY kind, username)",
		    "course:alice;course:bob");
	drop_baseline_of("alice");

	alice_and_bob(T2, "in_progress");
	assert_baseline("username || '|' || status", "username", "bob|in_progress");
	commit(T2);

	/* The hash of a username read is the new one: bob's rows, the same
	 * in a third run, are not read again. (carl's row keeps the baseline
	 * from being empty, which would make the run a first run.) */
	drop_baseline_of("bob");
	exec5("INSERT INTO enrollment_base (lms_instance, kind, username, item_code,"
	      " session_code, status, first_run, last_run) VALUES ('acme', 'course', 'carl', 'C1',"
	      " '', 'enrolled', 1, 1)", NULL, NULL, NULL, NULL, NULL);
	alice_and_bob(T3, "in_progress");
	assert_baseline("username || '|' || status", "username", "carl|enrolled");
}

/* alice in C1 twice, completed and in progress at the lines given. */
static void alice_c1_twice(const char *now, const char *line_completed,
			   const char *line_in_progress)
{
	begin(now);
	add_user("alice", "101", CONTACT);
	add_course("C1", "elearning");
	add_enr("alice", "C1", NULL, "completed", line_completed);
	add_enr("alice", "C1", NULL, "in_progress", line_in_progress);
	unenroll(now);
}

/* The last row of an item listed twice is the baseline's: the rows
 * swapped, the username is read again, although its rows, added up, are
 * the same. */
Test(UNENROLL_SUITE, item_listed_twice_in_another_order_is_read_again)
{
	alice_c1_twice(T1, "2", "3");
	commit(T1);
	assert_baseline("status", "username", "in_progress");
	alice_c1_twice(T2, "3", "2");
	assert_baseline("status", "username", "completed");
}

/* run --full reads every username, and keeps every hash. */
Test(UNENROLL_SUITE, rebuild_reads_every_username)
{
	alice_and_bob(T1, "enrolled");
	commit(T1);
	drop_baseline_of("alice");
	job.enroll.rebuild = 1;
	alice_and_bob(T2, "enrolled");
	assert_baseline("username || '|' || status", "username", "alice|completed;bob|enrolled");
}

/* A run of alice and bob in which alice's row of C1 is gone. */
static void bob_alone(const char *now)
{
	begin(now);
	add_user("alice", "101", CONTACT);
	add_user("bob", "102", NULL);
	add_course("C1", "elearning");
	add_enr("bob", "C1", NULL, "enrolled", "3");
	unenroll(now);
}

/* A username whose rows are all gone keeps no hash: when the same rows
 * come back, they are read and go into the baseline again (with the old
 * hash kept, they would look unchanged and stay out of it, and their
 * next unenrollment would go unseen). */
Test(UNENROLL_SUITE, username_whose_rows_all_went_keeps_no_hash_and_is_read_when_they_return)
{
	alice_and_bob(T1, "enrolled");
	commit(T1);
	bob_alone(T2);
	assert_baseline("username || '|' || status", "username", "bob|enrolled");
	commit(T2);
	assert_text("SELECT group_concat(kind || ':' || username, ';') FROM"
		    " (SELECT * FROM enrollment_user ORDER BY kind, username)", "course:bob");
	alice_and_bob(T3, "enrolled");
	assert_baseline("username || '|' || status", "username", "alice|completed;bob|enrolled");
}

/* A run of alice with a learning plan, and her course enrollment when
 * `with_course`. */
static void alice_plan(const char *now, int with_course)
{
	begin(now);
	add_user("alice", "101", CONTACT);
	add_course("C1", "elearning");
	if (with_course)
		add_enr("alice", "C1", NULL, "in_progress", "2");
	add_plan_enr("alice", "P1", "enrolled");
	unenroll(now);
}

/* A username whose course rows all went while a plan row stays still has
 * its counts, with no hash of courses: its course rows are read, and the
 * one gone is found. */
Test(UNENROLL_SUITE, username_left_with_plan_rows_only_has_its_course_rows_read)
{
	alice_plan(T1, 1);
	commit(T1);
	alice_plan(T2, 0);
	assert_text("SELECT group_concat(kind || '|' || item_code, ';') FROM stage.ue_gone",
		    "course|C1");
	assert_text("SELECT group_concat(kind || ':' || username, ';') FROM"
		    " (SELECT * FROM enrollment_user ORDER BY kind, username)", "plan:alice");
}
