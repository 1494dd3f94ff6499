/* SPDX-License-Identifier: MIT */
/* job: the job file (SPEC §3). Loads job.xml, validates it against the
 * schema formats/job.rng, checks what the schema cannot (mandatory
 * mappings, entity names, profiles, input files present), and resolves every
 * path relative to the job file's directory. */
#ifndef LMSRECON_JOB_H
#define LMSRECON_JOB_H

#include "diag.h"
#include "entity.h"
#include "ingest.h"
#include "profile.h"

enum job_norm { NORM_CASEFOLD = 1, NORM_TRIM = 2 };
enum job_orgchart { ORG_SINGLE, ORG_ACCOUNTS, ORG_PICKLIST };
enum job_account_rule { ACCOUNT_DEFAULT, ACCOUNT_DEPARTMENT, ACCOUNT_FIELD };
enum job_unenroll { UNENROLL_MARK, UNENROLL_DELETE_UNFINISHED };
enum job_item { ITEM_COURSE = 1, ITEM_PLAN = 2, ITEM_CLASSROOM = 4, ITEM_WEBINAR = 8 };

/* A column of an input renamed by the job (<column key=".." header=".."/>). */
struct job_column {
	char *key;    /* entity column key or, for an extra field, the CRM/LMS field name; owned */
	char *header; /* header (CSV) or element (XML) in this file; owned */
};

/* One input file. */
struct job_input {
	const struct entity *entity;
	const struct profile *profile; /* the side's profile; borrowed from struct job */
	char *name;        /* path as written in the job (used in messages); owned */
	char *path;        /* resolved path; owned */
	char *object;      /* custom object API name for ENT_CUSTOM; owned; else NULL */
	enum ingest_kind kind; /* format="csv|xml", else from the name (.xml, .xml.gz) */
	struct job_column *columns; /* overrides and extra fields; owned */
	size_t ncolumns;
	unsigned long line; /* line in the job file */
};

/* One mapping: LMS field ← CRM field. */
struct job_map {
	char *lms;     /* owned */
	char *crm;     /* owned */
	unsigned long line;
};

/* One people source (Users, Contacts or the custom object), CRM → LMS. */
struct job_people {
	enum entity_id source;    /* ENT_CONTACT, ENT_CRM_USER or ENT_CUSTOM */
	char *match_field;        /* CRM field compared with the LMS username; owned */
	unsigned match_norm;      /* enum job_norm bits */
	unsigned char provision, update_existing, incremental,
		force_password_change, deactivate_missing;
	struct job_map *maps;     /* owned; username, firstname, lastname always present */
	size_t nmaps;
	enum job_orgchart orgchart;
	char *destination_branch; /* owned */
	char *picklist_field;     /* ORG_PICKLIST: the controlling field; owned */
	char **picklist_meta;     /* ORG_PICKLIST: resolved *.field-meta.xml paths; owned */
	size_t npicklist_meta;
	char *listview;           /* resolved *.listView-meta.xml path or NULL; owned */
	unsigned long line, destination_line;
};

struct job_syncback {
	unsigned char is_enabled;
	char *department;             /* LMS branch code; owned */
	unsigned char with_subdepartments;
	enum job_account_rule account_rule;
	char *account_id;             /* ACCOUNT_DEFAULT: 18-character Account id; owned */
	char *account_field;          /* ACCOUNT_FIELD: LMS user field; owned */
	char *match_field;            /* Contact field matched with the LMS username; owned */
	unsigned long line;
};

struct job_enroll {
	unsigned items;               /* enum job_item bits; all by default */
	enum job_unenroll unenroll;
	char *since, *until;          /* normalised date-times or NULL; owned */
	int rebuild;                  /* build every learning record (run --full) */
	unsigned long line;
};

struct job {
	char *path;                   /* the job file as given; owned */
	char *dir;                    /* its directory; owned */
	char *snapshot;               /* resolved; owned */
	char *output;                 /* resolved output directory; owned */
	char *lms_instance;           /* name of the LMS portal (keys include it); owned */
	struct profile *crm_profile;  /* owned */
	struct profile *lms_profile;  /* owned */
	struct job_input *inputs;     /* in job order; owned */
	size_t ninputs;
	struct job_people *people;    /* owned */
	size_t npeople;
	struct job_syncback syncback;
	struct job_enroll enroll;
	unsigned long max_errors;     /* <options max-errors=".."/>, default 0 */
};

/* Loads and validates `path`. Every problem is printed as
 * `lmsrecon: job.xml:LINE: ...` (all of them, not just the first) and the
 * result is RC_CONFIG (RC_NOINPUT when the job file itself cannot be read).
 * A missing input file is reported at the line that names it (RC_NOINPUT if
 * that is the only kind of problem). On success *out is the job (caller
 * frees with job_free). */
enum rc job_load(struct diag *d, const char *path, struct job **out);
void job_free(struct job *j);

/* The input of entity `id`, or NULL when the job has none. */
const struct job_input *job_input_of(const struct job *j, enum entity_id id);

/* The commented starter job that `lmsrecon init` writes. */
const char *job_starter(void);

#endif
