/* SPDX-License-Identifier: MIT */
/* diag: status codes, source positions, and the one place messages are
 * printed. Every message has the form `lmsrecon: FILE:LINE:COL: text`. */
#ifndef LMSRECON_DIAG_H
#define LMSRECON_DIAG_H

#include <stdarg.h>
#include <stdio.h>

/* Status codes. The numbers are the process exit codes (sysexits.h). */
enum rc {
	RC_OK = 0,
	RC_DRIFT = 1,     /* audit found drift; run had exceptions with --fail-on-exceptions */
	RC_USAGE = 64,    /* bad command line */
	RC_DATA = 65,     /* bad input data */
	RC_NOINPUT = 66,  /* an input file is missing or unreadable */
	RC_INTERNAL = 70, /* a bug or an unexpected library failure */
	RC_OSERR = 71,    /* out of memory */
	RC_CANTCREAT = 73,/* an output cannot be created */
	RC_IO = 74,       /* read or write error */
	RC_BUSY = 75,     /* another run holds the snapshot */
	RC_CONFIG = 78,   /* bad job file */
};

/* A place in an input. Fields that are 0 or NULL are left out of messages. */
struct srcpos {
	const char *file;   /* path as the user gave it; borrowed */
	unsigned long line; /* 1-based; 0 = whole file */
	unsigned long col;  /* 1-based byte column; 0 = none */
};

/* One recorded problem with a record, kept for the exceptions report. */
struct diag_record {
	char *file;          /* owned */
	unsigned long line;
	unsigned long col;
	char *msg;           /* owned */
};

/* The message sink and the bad-record counter of one command. */
struct diag {
	FILE *out;                  /* where messages go (stderr); borrowed */
	unsigned long max_errors;   /* bad records tolerated before RC_DATA */
	unsigned long nbad;         /* bad records seen so far */
	unsigned long nprinted;     /* record messages printed so far */
	unsigned long max_printed;  /* record messages printed before going quiet */
	struct diag_record *bad;    /* the first max_errors+1 bad records; owned */
	size_t nbad_kept, bad_alloc;
	/* When set, diag_at, diag_err and diag_bad_record print nothing and
	 * hand the message to `defer` instead (is_bad 1 for a bad record),
	 * and diag_bad_record returns what `defer` returns (RC_OK to go on):
	 * a reader in a thread of its own passes its messages to the thread
	 * that prints them. Such a reader calls neither diag_warn nor
	 * diag_note, which always print. */
	enum rc (*defer)(void *ctx, int is_bad, enum rc rc, const struct srcpos *pos,
			 const char *msg);
	void *defer_ctx;
};

/* Sets up `d` writing to `out`; max_errors 0, at most 100 record messages. */
void diag_init(struct diag *d, FILE *out);
/* Frees the kept records. */
void diag_release(struct diag *d);

/* Prints `lmsrecon: POS: message` (POS left out when pos is NULL) and
 * returns `rc`, so that a call site reads `return diag_at(d, RC_DATA, &pos, ...)`. */
enum rc diag_at(struct diag *d, enum rc rc, const struct srcpos *pos,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Same as diag_at with no position. */
enum rc diag_err(struct diag *d, enum rc rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prints `lmsrecon: [POS: ]warning: message`. */
void diag_warn(struct diag *d, const struct srcpos *pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prints a plain `lmsrecon: message` note (progress, summaries of counts). */
void diag_note(struct diag *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A bad record: the input goes on but the record is skipped. Prints the
 * message (the first max_printed of them), keeps it for the exceptions
 * report, and returns RC_OK while no more than max_errors bad records were
 * seen, RC_DATA once there are more. */
enum rc diag_bad_record(struct diag *d, const struct srcpos *pos,
			const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The va_list form of diag_at, for wrappers. */
enum rc diag_vat(struct diag *d, enum rc rc, const struct srcpos *pos,
		 const char *fmt, va_list ap);

/* Name of an exit code for help texts ("bad input data"). */
const char *diag_rc_name(enum rc rc);

#endif
