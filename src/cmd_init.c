/* SPDX-License-Identifier: MIT */
/* cmd_init: `lmsrecon init` — writes the commented starter job. */
#include "cmd.h"
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = "job.xml", *text = job_starter();
	size_t len = strlen(text);
	int c, fd;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c == 'h')
			return cmd_help_of("init");
		return cmd_usage_error("init", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc - 1)
		return cmd_usage_error("init", "more than one FILE given");
	if (optind == argc - 1)
		path = argv[optind];
	if (strcmp(path, "-") == 0)
		return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? RC_OK : RC_IO;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		fprintf(stderr, "lmsrecon: %s: cannot create: %s\n", path,
			errno == EEXIST ? "file exists (not overwritten)" : strerror(errno));
		return RC_CANTCREAT;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		int err = errno;
		close(fd);
		unlink(path);
		fprintf(stderr, "lmsrecon: %s: cannot write: %s\n", path, strerror(err));
		return RC_IO;
	}
	close(fd);
	fprintf(stderr, "lmsrecon: wrote %s; edit the paths and options, then 'lmsrecon check %s'\n", path, path);
	return RC_OK;
}
