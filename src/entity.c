/* SPDX-License-Identifier: MIT */
/* entity: the table of record kinds and columns of SPEC §2. */
#include "entity.h"

#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct entity_col account_cols[] = {
	{ "Id", COL_SFID, 1 },
	{ "Name", COL_TEXT, 1 },
	{ "ParentId", COL_SFID, 0 },
	{ "IsPersonAccount", COL_BOOL, 0 },
	{ "LastModifiedDate", COL_DATETIME, 0 },
};

static const struct entity_col contact_cols[] = {
	{ "Id", COL_SFID, 1 },
	{ "FirstName", COL_TEXT, 0 },
	{ "LastName", COL_TEXT, 0 },
	{ "Email", COL_TEXT, 0 },
	{ "AccountId", COL_SFID, 0 },
	{ "Department", COL_TEXT, 0 },
	{ "Title", COL_TEXT, 0 },
	{ "IsPersonAccount", COL_BOOL, 0 },
	{ "LastModifiedDate", COL_DATETIME, 0 },
};

static const struct entity_col crm_user_cols[] = {
	{ "Id", COL_SFID, 1 },
	{ "Username", COL_TEXT, 0 },
	{ "FirstName", COL_TEXT, 0 },
	{ "LastName", COL_TEXT, 0 },
	{ "Email", COL_TEXT, 0 },
	{ "IsActive", COL_BOOL, 0 },
	{ "Department", COL_TEXT, 0 },
	{ "LastModifiedDate", COL_DATETIME, 0 },
};

static const struct entity_col custom_cols[] = {
	{ "Id", COL_SFID, 1 },
	{ "LastModifiedDate", COL_DATETIME, 0 },
};

static const struct entity_col lms_user_cols[] = {
	{ "user_id", COL_TEXT, 1 },
	{ "username", COL_TEXT, 1 },
	{ "firstname", COL_TEXT, 0 },
	{ "lastname", COL_TEXT, 0 },
	{ "email", COL_TEXT, 0 },
	{ "branch_code", COL_TEXT, 0 },
	{ "active", COL_BOOL, 0 },
	{ "sfdc_id", COL_SFID, 0 },
	{ "last_access", COL_DATETIME, 0 },
};

static const struct entity_col branch_cols[] = {
	{ "code", COL_TEXT, 0 }, /* the root branch has no code */
	{ "name", COL_TEXT, 1 },
	{ "parent_code", COL_TEXT, 0 },
};

static const struct entity_col course_cols[] = {
	{ "course_id", COL_TEXT, 0 },
	{ "code", COL_TEXT, 1 },
	{ "name", COL_TEXT, 1 },
	{ "type", COL_COURSE_TYPE, 1 },
};

static const struct entity_col session_cols[] = {
	{ "session_id", COL_TEXT, 0 },
	{ "code", COL_TEXT, 1 },
	{ "course_code", COL_TEXT, 1 },
	{ "name", COL_TEXT, 0 },
	{ "start_date", COL_DATETIME, 0 },
};

static const struct entity_col plan_cols[] = {
	{ "code", COL_TEXT, 1 },
	{ "name", COL_TEXT, 1 },
};

static const struct entity_col plan_course_cols[] = {
	{ "plan_code", COL_TEXT, 1 },
	{ "course_code", COL_TEXT, 1 },
};

static const struct entity_col enrollment_cols[] = {
	{ "username", COL_TEXT, 1 },
	{ "course_code", COL_TEXT, 1 },
	{ "session_code", COL_TEXT, 0 },
	{ "status", COL_STATUS, 1 },
	{ "enrolled_at", COL_DATETIME, 0 },
	{ "completed_at", COL_DATETIME, 0 },
	{ "score", COL_NUMBER, 0 },
	{ "updated_at", COL_DATETIME, 0 },
};

static const struct entity_col plan_enrollment_cols[] = {
	{ "username", COL_TEXT, 1 },
	{ "plan_code", COL_TEXT, 1 },
	{ "status", COL_STATUS, 1 },
	{ "enrolled_at", COL_DATETIME, 0 },
	{ "completed_at", COL_DATETIME, 0 },
	{ "score", COL_NUMBER, 0 },
	{ "updated_at", COL_DATETIME, 0 },
};

static const struct entity_col x_lms_user_cols[] = {
	{ "Id", COL_SFID, 1 },
	{ "LMS_User_Id__c", COL_TEXT, 1 },
	{ "Contact__c", COL_SFID, 0 },
	{ "User__c", COL_SFID, 0 },
	{ "Last_Access__c", COL_DATETIME, 0 },
	{ "Enrolled_Count__c", COL_NUMBER, 0 },
	{ "Completed_Count__c", COL_NUMBER, 0 },
	{ "Passed_Count__c", COL_NUMBER, 0 },
	{ "Failed_Count__c", COL_NUMBER, 0 },
	{ "In_Progress_Count__c", COL_NUMBER, 0 },
	{ "Pending_Review_Count__c", COL_NUMBER, 0 },
};

static const struct entity_col x_course_cols[] = {
	{ "Id", COL_SFID, 1 },
	{ "LMS_Course_Key__c", COL_TEXT, 1 },
	{ "Name", COL_TEXT, 0 },
	{ "Code__c", COL_TEXT, 0 },
	{ "Type__c", COL_TEXT, 0 },
};

static const struct entity_col x_session_cols[] = {
	{ "Id", COL_SFID, 1 },
	{ "LMS_Session_Key__c", COL_TEXT, 1 },
	{ "Name", COL_TEXT, 0 },
	{ "Code__c", COL_TEXT, 0 },
	{ "Start_Date__c", COL_DATETIME, 0 },
};

static const struct entity_col x_plan_cols[] = {
	{ "Id", COL_SFID, 1 },
	{ "LMS_Learning_Plan_Key__c", COL_TEXT, 1 },
	{ "Name", COL_TEXT, 0 },
	{ "Code__c", COL_TEXT, 0 },
	{ "Course_Count__c", COL_NUMBER, 0 },
};

static const struct entity_col x_enrollment_cols[] = {
	{ "Id", COL_SFID, 1 },
	{ "Enrollment_Key__c", COL_TEXT, 1 },
	{ "Item_Name__c", COL_TEXT, 0 },
	{ "Item_Type__c", COL_TEXT, 0 },
	{ "Status__c", COL_TEXT, 0 },
	{ "Enrolled_At__c", COL_DATETIME, 0 },
	{ "Completed_At__c", COL_DATETIME, 0 },
	{ "Score__c", COL_NUMBER, 0 },
	{ "Unenrolled_At__c", COL_DATETIME, 0 },
};

static const struct entity_col x_plan_enrollment_cols[] = {
	{ "Id", COL_SFID, 1 },
	{ "Enrollment_Key__c", COL_TEXT, 1 },
	{ "Status__c", COL_TEXT, 0 },
	{ "Enrolled_At__c", COL_DATETIME, 0 },
	{ "Completed_At__c", COL_DATETIME, 0 },
	{ "Score__c", COL_NUMBER, 0 },
	{ "Course_Count__c", COL_NUMBER, 0 },
	{ "Completed_Course_Count__c", COL_NUMBER, 0 },
	{ "Unenrolled_At__c", COL_DATETIME, 0 },
};

static const struct entity entities[ENT_COUNT] = {
	{ ENT_ACCOUNT, "Account", SIDE_CRM, "stg_account", account_cols, N(account_cols), 0 },
	{ ENT_CONTACT, "Contact", SIDE_CRM, "stg_contact", contact_cols, N(contact_cols), 1 },
	{ ENT_CRM_USER, "User", SIDE_CRM, "stg_crm_user", crm_user_cols, N(crm_user_cols), 1 },
	{ ENT_CUSTOM, "custom", SIDE_CRM, "stg_custom", custom_cols, N(custom_cols), 1 },
	{ ENT_LMS_USER, "users", SIDE_LMS, "stg_lms_user", lms_user_cols, N(lms_user_cols), 1 },
	{ ENT_BRANCH, "branches", SIDE_LMS, "stg_branch", branch_cols, N(branch_cols), 0 },
	{ ENT_COURSE, "courses", SIDE_LMS, "stg_course", course_cols, N(course_cols), 0 },
	{ ENT_SESSION, "sessions", SIDE_LMS, "stg_session", session_cols, N(session_cols), 0 },
	{ ENT_PLAN, "plans", SIDE_LMS, "stg_plan", plan_cols, N(plan_cols), 0 },
	{ ENT_PLAN_COURSE, "plan_courses", SIDE_LMS, "stg_plan_course", plan_course_cols, N(plan_course_cols), 0 },
	{ ENT_ENROLLMENT, "enrollments", SIDE_LMS, "stg_enrollment", enrollment_cols, N(enrollment_cols), 0 },
	{ ENT_PLAN_ENROLLMENT, "plan_enrollments", SIDE_LMS, "stg_plan_enrollment", plan_enrollment_cols, N(plan_enrollment_cols), 0 },
	{ ENT_X_LMS_USER, "LMS_User__c", SIDE_CRM, "stg_x_lms_user", x_lms_user_cols, N(x_lms_user_cols), 0 },
	{ ENT_X_COURSE, "LMS_Course__c", SIDE_CRM, "stg_x_course", x_course_cols, N(x_course_cols), 0 },
	{ ENT_X_SESSION, "LMS_Session__c", SIDE_CRM, "stg_x_session", x_session_cols, N(x_session_cols), 0 },
	{ ENT_X_PLAN, "LMS_Learning_Plan__c", SIDE_CRM, "stg_x_plan", x_plan_cols, N(x_plan_cols), 0 },
	{ ENT_X_ENROLLMENT, "LMS_Enrollment__c", SIDE_CRM, "stg_x_enrollment", x_enrollment_cols, N(x_enrollment_cols), 0 },
	{ ENT_X_PLAN_ENROLLMENT, "LMS_Learning_Plan_Enrollment__c", SIDE_CRM, "stg_x_plan_enrollment", x_plan_enrollment_cols, N(x_plan_enrollment_cols), 0 },
};

const struct entity *entity_get(enum entity_id id)
{
	return &entities[id];
}

const struct entity *entity_find(enum entity_side side, const char *name)
{
	for (size_t i = 0; i < ENT_COUNT; i++)
		if (entities[i].side == side && strcmp(entities[i].name, name) == 0)
			return &entities[i];
	return NULL;
}

int entity_col_index(const struct entity *e, const char *key)
{
	for (size_t i = 0; i < e->ncols; i++)
		if (strcmp(e->cols[i].key, key) == 0)
			return (int)i;
	return -1;
}
