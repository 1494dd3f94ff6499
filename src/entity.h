/* SPDX-License-Identifier: MIT */
/* entity: the record kinds lmsrecon reads (SPEC §2), their columns and the
 * value type of each. One table shared by profiles (header names), the
 * loader (value checks) and the snapshot (staging tables stg_<name>). */
#ifndef LMSRECON_ENTITY_H
#define LMSRECON_ENTITY_H

#include <stddef.h>

enum entity_side { SIDE_CRM, SIDE_LMS };

enum entity_id {
	ENT_ACCOUNT,        /* CRM Account */
	ENT_CONTACT,        /* CRM Contact */
	ENT_CRM_USER,       /* CRM User */
	ENT_CUSTOM,         /* one CRM custom object of people */
	ENT_LMS_USER,       /* LMS users */
	ENT_BRANCH,         /* LMS branches */
	ENT_COURSE,         /* LMS courses */
	ENT_SESSION,        /* LMS ILT/VILT sessions */
	ENT_PLAN,           /* LMS learning plans */
	ENT_PLAN_COURSE,    /* courses of a learning plan */
	ENT_ENROLLMENT,     /* course enrollments */
	ENT_PLAN_ENROLLMENT,/* learning-plan enrollments */
	/* The CRM objects lmsrecon writes (SPEC §6), read back from a CRM
	 * export to compare with (R9 "only changes") and to delete by Id (R10). */
	ENT_X_LMS_USER,     /* LMS_User__c */
	ENT_X_COURSE,       /* LMS_Course__c */
	ENT_X_SESSION,      /* LMS_Session__c */
	ENT_X_PLAN,         /* LMS_Learning_Plan__c */
	ENT_X_ENROLLMENT,   /* LMS_Enrollment__c */
	ENT_X_PLAN_ENROLLMENT, /* LMS_Learning_Plan_Enrollment__c */
	ENT_COUNT
};

/* How a column's text is checked and stored (see value.h). */
enum col_type {
	COL_TEXT,     /* stored as given */
	COL_SFID,     /* Salesforce id, 15 or 18 characters; stored as 18 */
	COL_DATETIME, /* ISO 8601 date or date-time; stored normalised */
	COL_BOOL,     /* 1/0/true/false (any case); stored as 0/1 */
	COL_STATUS,   /* enrollment status word, mapped by the profile */
	COL_NUMBER,   /* decimal number (score) */
	COL_COURSE_TYPE, /* elearning | classroom | webinar */
};

struct entity_col {
	const char *key;        /* column key: the default header of the entity's
				   built-in profile and the staging column name */
	enum col_type type;
	unsigned char is_required; /* must be in the header and non-empty */
};

struct entity {
	enum entity_id id;
	const char *name;       /* job file name: "Contact", "users", ... */
	enum entity_side side;
	const char *table;      /* staging table in the snapshot */
	const struct entity_col *cols;
	size_t ncols;
	unsigned char has_extra;/* accepts extra mapped fields (stored as JSON in `extra`) */
};

/* Field names the rules need from each entity's export beyond the job's
 * mapping (list view filters, dependent picklists); the loader requires them
 * in the header and keeps them. Names are borrowed. */
struct entity_fields {
	const char **names[ENT_COUNT];
	size_t n[ENT_COUNT];
};

/* The entity with that id. */
const struct entity *entity_get(enum entity_id id);
/* The entity with that job-file name on that side, or NULL. */
const struct entity *entity_find(enum entity_side side, const char *name);
/* Index of column `key` in `e`, or -1. */
int entity_col_index(const struct entity *e, const char *key);

#endif
