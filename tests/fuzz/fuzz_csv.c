/* SPDX-License-Identifier: MIT */
/* fuzz_csv: libFuzzer harness for the CSV reader (ingest_read with
 * INGEST_CSV), input layout in fuzz_ingest.h. Plain and gzip files both
 * reach it: the byte source detects gzip by its magic bytes. */
#include "fuzz_ingest.h"

/* The wanted columns: names found in the seed files. */
static const char *const csv_names[] = { "Id", "Email", "a", "first" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_fmt fmt = { INGEST_CSV, ',', '"', NULL, 0 };

	fuzz_ingest_run(data, size, "input.csv", fmt, csv_names,
			sizeof csv_names / sizeof *csv_names);
	return 0;
}
