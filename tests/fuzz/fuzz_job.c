/* SPDX-License-Identifier: MIT */
/* fuzz_job: libFuzzer harness for the job loader (job_load). The input is
 * the job file, written as job.xml in the scratch directory; next to it the
 * crm/, lms/ and meta/ folders of fixtures/jobs/full are linked when the
 * harness runs from the repository root, so that a job close to the fixture
 * reaches the checks that read list views and picklist files. Other inputs
 * it names are missing, which the loader reports. */
#include "fuzz.h"
#include "fuzz_xmltrap.h"
#include "job.h"

#include <limits.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Links the fixture folders into the scratch directory. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const sub[] = { "crm", "lms", "meta" };
	char from[PATH_MAX], to[PATH_MAX], full[PATH_MAX];

	(void)argc;
	(void)argv;
	if (!realpath("fixtures/jobs/full", full))
		return 0;
	for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
		snprintf(from, sizeof from, "%s/%s", full, sub[i]);
		snprintf(to, sizeof to, "%s/%s", fuzz_dir(), sub[i]);
		if (symlink(from, to) < 0)
			perror(to);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job *j = NULL;
	struct diag d;
	char *path;
	enum rc rc;

	diag_init(&d, fuzz_devnull());
	path = fuzz_write("job.xml", data, size);
	fuzz_xml_trap_set();
	rc = job_load(&d, path, &j);
	fuzz_xml_trap_check();
	fuzz_check(rc == RC_OK || rc == RC_CONFIG || rc == RC_NOINPUT);
	fuzz_check((rc == RC_OK) == (j != NULL));
	if (j) {
		fuzz_check(j->snapshot && j->output && j->crm_profile && j->lms_profile);
		for (size_t i = 0; i < j->ninputs; i++)
			fuzz_check(j->inputs[i].entity && j->inputs[i].path && j->inputs[i].name);
	}
	job_free(j);
	diag_release(&d);
	free(path);
	return 0;
}
