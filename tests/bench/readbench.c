/* SPDX-License-Identifier: MIT */
/* readbench: a reader alone, for scripts/bench. Streams one file through
 * ingest_read with a callback that only counts, and prints the bytes, the
 * records and the throughput. No value checks, no SQLite: what the reader
 * costs by itself (`lmsrecon check` times reading, checking and staging).
 *
 *   readbench csv FILE COLUMN...
 *   readbench xml FILE RECORD-ELEMENT COLUMN...
 *
 * A gzip file is read as what it holds, as lmsrecon reads it. */
#include "diag.h"
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum rc count(void *ctx, const struct ingest_rec *rec)
{
	unsigned long long *bytes = ctx;
	for (size_t i = 0; i < rec->n; i++)
		*bytes += rec->lens[i];
	return RC_OK;
}

int main(int argc, char **argv)
{
	struct ingest_fmt fmt = { INGEST_CSV, ',', '"', NULL, 0 };
	struct ingest_cols cols;
	struct ingest_stats st;
	struct timespec t0, t1;
	unsigned long long vbytes = 0;
	struct diag d;
	enum rc rc;
	double s;
	int first;

	if (argc < 4 || (strcmp(argv[1], "csv") != 0 && strcmp(argv[1], "xml") != 0) ||
	    (strcmp(argv[1], "xml") == 0 && argc < 5)) {
		fprintf(stderr, "usage: readbench csv FILE COLUMN...\n"
				"       readbench xml FILE RECORD-ELEMENT COLUMN...\n");
		return 64;
	}
	first = 3;
	if (strcmp(argv[1], "xml") == 0) {
		fmt.kind = INGEST_XML;
		fmt.record_elem = argv[3];
		first = 4;
	}
	cols.n = (size_t)(argc - first);
	cols.names = (const char *const *)&argv[first];
	cols.is_required = NULL;
	diag_init(&d, stderr);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = ingest_read(&d, argv[2], argv[2], &fmt, &cols, count, &vbytes, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	diag_release(&d);
	if (rc != RC_OK)
		return (int)rc;
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("readbench: %s: %llu bytes (%llu inflated), %lu records, %.3f s, %.1f MB/s"
	       " (%.1f MB/s inflated)\n", argv[2], st.bytes, st.raw_bytes, st.nrecords, s,
	       (double)st.bytes / 1e6 / s, (double)st.raw_bytes / 1e6 / s);
	return 0;
}
