/* SPDX-License-Identifier: MIT */
/* fuzz_xml: libFuzzer harness for the XML reader (ingest_read with
 * INGEST_XML, record element `records`, as in a Bulk API export), input
 * layout in fuzz_ingest.h. */
#include "fuzz_ingest.h"

/* The wanted columns: a plain child, a nested one and two more. */
static const char *const xml_names[] = { "Id", "Email", "Account.Name", "LastName" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_fmt fmt = { INGEST_XML, ',', '"', "records", 0 };

	fuzz_ingest_run(data, size, "input.xml", fmt, xml_names,
			sizeof xml_names / sizeof *xml_names);
	return 0;
}
