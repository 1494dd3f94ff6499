/* SPDX-License-Identifier: MIT */
/* job_int: what the two parts of the job module share (job.c, which loads
 * the job file, and job_schema.c, which explains schema failures): the
 * job's namespace and a few readers of its DOM. Nothing outside job*.c
 * includes it. */
#ifndef LMSRECON_JOB_INT_H
#define LMSRECON_JOB_INT_H

#include <stddef.h>
#include <libxml/tree.h>

/* The namespace of every element of a job file. */
#define JOB_NS "urn:lmsrecon:job:1"

/* The line where job node `n` starts: for an element, the line of its start
 * tag's '<' as job.c noted it while parsing (libxml2 alone gives the line
 * where the tag ends); 0 when unknown. */
unsigned long job_node_line(const xmlNode *n);

/* The value of attribute `name` of `n` (no namespace), or NULL when absent;
 * "" for an empty value. Borrowed from n's document (valid until it is
 * freed). */
const char *job_node_attr(const xmlNode *n, const char *name);

/* Is `n` an element of the job namespace JOB_NS? */
int job_node_is_job(const xmlNode *n);

/* Explains why the job schema rejected `doc`. `rng` (rng_len bytes, the
 * text of formats/job.rng) is read again as a DOM, and the job is walked
 * beside it; every problem found (a missing or unknown attribute, a value
 * outside its choices, an unknown, repeated, missing or misplaced element,
 * text where none belongs) is handed to say(ctx, line, text), in the order
 * found, `text` being borrowed for the call. The walk understands the
 * subset of RELAX NG that job.rng uses; a construct outside it yields
 * nothing. Prints nothing. Returns how many problems were handed out: 0
 * means the caller must explain the failure some other way. */
size_t job_schema_explain(xmlDoc *doc, const char *rng, size_t rng_len,
			  void (*say)(void *ctx, unsigned long line, const char *text),
			  void *ctx);

#endif
