/* SPDX-License-Identifier: MIT */
/* meta_picklist: reads the Salesforce metadata of the dependent picklists
 * an org chart follows (SFDX source format: `*.field-meta.xml`, and the
 * `*.globalValueSet-meta.xml` a field names) into the tree of their values.
 * It reads files and knows nothing of the snapshot; rule_branch (R6) turns
 * the tree into LMS branches. docs/branches.md describes what is read. */
#ifndef LMSRECON_META_PICKLIST_H
#define LMSRECON_META_PICKLIST_H

#include <stddef.h>
#include "diag.h"

/* One active value of a picklist. */
struct meta_picklist_value {
	char *name;        /* API name (fullName), as records hold it; owned */
	char *label;       /* label, or NULL; owned */
	char **ctrl;       /* values of the controlling field it sits under
			      (valueSettings), each once; owned */
	size_t nctrl;      /* entries in ctrl */
};

/* One picklist field. */
struct meta_picklist_field {
	char *path;        /* the metadata file as given to meta_picklist_open; owned */
	char *name;        /* <fullName> without an object prefix, else the file stem; owned */
	char *stem;        /* file name without .field-meta.xml; owned */
	char *controlling; /* <controllingField>, or NULL; owned */
	unsigned long controlling_line; /* line of <controllingField>, 0 when none */
	unsigned long root_line;        /* line of <CustomField> */
	struct meta_picklist_value *vals; /* active values in file order, each
					     name once (inline values, then those
					     of the global value set); owned */
	size_t nvals;      /* entries in vals */
};

/* A chain of dependent picklists: fields[0] is the top field, and each
 * later field is controlled by the one before it, so that the values with
 * their controlling values form a tree. */
struct meta_picklist {
	struct meta_picklist_field *fields; /* in chain order; owned */
	size_t nfields;                     /* entries in fields */
};

/* Reads the `npaths` field metadata files `paths` (top field first; the
 * strings are copied) and checks that they form a chain: when `field` is
 * not NULL the first file must describe it (compared ignoring case), and
 * every later file must name the field before it as its controlling field.
 * A field whose <valueSet> names a global value set reads the values of
 * '<name>.globalValueSet-meta.xml', found beside the field file or in the
 * globalValueSets folder of its SFDX project (three folders up). Inactive
 * values (<isActive>false</isActive>) are left out.
 *
 * Files are read with the network off and no DTD: a DOCTYPE is refused
 * before anything is expanded. The files are read and checked in order and
 * the first problem stops the reading; it is printed as
 * `lmsrecon: FILE:LINE: message` (`FILE:LINE:COL:` for malformed XML).
 * Returns RC_OK and *out (caller frees with meta_picklist_free); RC_NOINPUT
 * when a file cannot be opened or read; RC_CONFIG for a file that is not a
 * usable picklist (not a CustomField, not a single-select Picklist, a name
 * that does not match its file, no <valueSet>, a global value set that
 * cannot be found) or a broken chain; RC_OSERR when libxml2 runs out of
 * memory. *out is NULL on failure. */
enum rc meta_picklist_open(struct diag *d, char *const *paths, size_t npaths,
			   const char *field, struct meta_picklist **out);

/* Frees pl and everything it owns. NULL is fine. */
void meta_picklist_free(struct meta_picklist *pl);

#endif
