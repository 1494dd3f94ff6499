/* SPDX-License-Identifier: MIT */
/* cmd_run: the three commands that run the whole pipeline — `run` (load the
 * inputs, apply the rules, write the outputs, commit the snapshot), `plan`
 * (the report only) and `audit` (the report of where the systems' exports
 * disagree; exit 1 on drift). They differ only in what they keep. */
#include "cmd.h"
#include "emit_out.h"
#include "emit_crm.h"
#include "emit_lms.h"
#include "emit_report.h"
#include "job.h"
#include "load.h"
#include "rule_audit.h"
#include "rule_jobcheck.h"
#include "rule_learning.h"
#include "rule_util.h"
#include "rules.h"
#include "snap.h"
#include "testhook.h"
#include "timing.h"
#include "util.h"
#include "value.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The options of run and plan. */
struct run_opts {
	const char *job;        /* job file; borrowed from argv */
	const char *now;        /* --now as given, or NULL */
	const char *stage;      /* --stage FILE, or NULL */
	long max_errors;        /* --max-errors, or -1 for the job's setting */
	double stale_days;      /* --stale-after (audit), days */
	char since[25], until[25]; /* --since/--until normalised, or "" (R11) */
	int is_full, is_quiet, is_fail_on_exceptions;
};

/* Parses argv into o. Returns -1 to go on, else the exit status. */
static int parse_opts(const char *cmd, int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "full", no_argument, NULL, 'F' },
		{ "now", required_argument, NULL, 'N' },
		{ "max-errors", required_argument, NULL, 'M' },
		{ "stage", required_argument, NULL, 'S' },
		{ "fail-on-exceptions", no_argument, NULL, 'E' },
		{ "stale-after", required_argument, NULL, 'A' },
		{ "since", required_argument, NULL, 'B' },
		{ "until", required_argument, NULL, 'U' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof *o);
	o->max_errors = -1;
	o->stale_days = 7;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+qh", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'F': o->is_full = 1; break;
		case 'N': o->now = optarg; break;
		case 'S': o->stage = optarg; break;
		case 'E': o->is_fail_on_exceptions = 1; break;
		case 'B':
		case 'U': {
			const char *why = NULL;
			if (value_datetime(optarg, strlen(optarg), NULL, c == 'B' ? o->since : o->until, &why) != 0)
				return cmd_usage_error(cmd, "--%s takes an ISO 8601 date or date-time, not '%s' (%s)",
						       c == 'B' ? "since" : "until", optarg, why ? why : "not a date");
			break;
		}
		case 'A':
			errno = 0;
			o->stale_days = strtod(optarg, &end);
			if (strcmp(cmd, "audit") != 0)
				return cmd_usage_error(cmd, "--stale-after is an option of audit");
			if (errno || *end || end == optarg || o->stale_days < 0)
				return cmd_usage_error(cmd, "--stale-after takes a number of days, not '%s'", optarg);
			break;
		case 'q': o->is_quiet = 1; break;
		case 'h': return cmd_help_of(cmd);
		case 'M':
			errno = 0;
			o->max_errors = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o->max_errors < 0)
				return cmd_usage_error(cmd, "--max-errors takes a whole number, not '%s'", optarg);
			break;
		default:
			return cmd_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cmd_usage_error(cmd, optind >= argc ? "missing JOB" : "more than one JOB given");
	if (o->stage && strcmp(cmd, "run") != 0)
		return cmd_usage_error(cmd, "--stage keeps the staged data of a run that commits;"
				       " %s rolls everything back", cmd);
	o->job = argv[optind];
	return -1;
}

/* The run's time as ISO 8601 UTC: --now, else SOURCE_DATE_EPOCH, else the
 * clock. *is_given says whether it came from the user (and so may appear in
 * outputs, which must otherwise not depend on the clock). */
static int run_time(const char *opt, char out[25], int *is_given)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	const char *why;
	time_t t;
	struct tm tm;

	*is_given = 1;
	if (opt)
		return value_datetime(opt, strlen(opt), NULL, out, &why);
	if (sde && *sde) {
		char *end;
		long long v = strtoll(sde, &end, 10);
		if (*end || v < 0)
			return -1;
		t = (time_t)v;
	} else {
		*is_given = 0;
		t = time(NULL);
	}
	gmtime_r(&t, &tm);
	strftime(out, 25, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	return 0;
}

/* "incremental" when a people source asks for it, --full is not given, and
 * an earlier complete run left that source a high-water mark (R5: the
 * first run is always full). */
static const char *run_mode(const struct job *j, const struct run_opts *o, struct snap *s)
{
	const char *mode = "full";
	struct snap_stmt *st;

	if (o->is_full)
		return mode;
	st = snap_prepare(s, "SELECT 1 FROM watermarks WHERE source = ?1"
			  " AND coalesce(last_modified, '') <> ''");
	for (size_t i = 0; st && i < j->npeople; i++) {
		const char *source = entity_get(j->people[i].source)->name;
		if (!j->people[i].incremental)
			continue;
		snap_bind_text(st, 1, source, strlen(source));
		if (snap_step(st) == 1) {
			mode = "incremental";
			break;
		}
	}
	snap_finalize(st);
	return mode;
}

static int file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* Creates the directories leading to `path` (mkdir -p of its dirname), so a
 * first run can create its snapshot under a new state/ folder. */
static enum rc make_parent_dirs(struct diag *d, const char *path)
{
	char *dir = path_dirname(path);
	enum rc rc = RC_OK;

	for (char *p = dir + 1; ; p++) {
		char c = *p;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
			struct srcpos pos = { dir, 0, 0 };
			rc = diag_at(d, RC_CANTCREAT, &pos, "cannot create directory: %s", strerror(errno));
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	free(dir);
	return rc;
}

/* The bad records the readers skipped become exceptions of the report. */
static enum rc record_bad_records(struct diag *d, const struct job *j, struct snap *s)
{
	for (size_t i = 0; i < d->nbad_kept && snap_rc(s) == RC_OK; i++) {
		const struct diag_record *r = &d->bad[i];
		int file = -1;
		const char *entity = "input";
		for (size_t k = 0; k < j->ninputs; k++)
			if (strcmp(j->inputs[k].name, r->file) == 0) {
				file = (int)k;
				entity = j->inputs[k].entity->name;
			}
		rule_exception(s, "bad_record", entity, NULL, NULL, r->msg, file, r->line);
	}
	return snap_rc(s);
}

/* What a pipeline command keeps. */
enum run_kind {
	KIND_RUN,   /* import files, report, snapshot committed */
	KIND_PLAN,  /* report only */
	KIND_AUDIT, /* report of the drift only; exit 1 on drift */
};

static int run_job(const char *cmd, const struct run_opts *o, enum run_kind kind)
{
	int is_plan = kind != KIND_RUN;
	long long ndrift = 0, pending_changes = 0;
	unsigned rflags = 0;
	struct diag d;
	struct job *j = NULL;
	struct snap *s = NULL;
	struct emit_out *out = NULL;
	struct load_result res = { NULL, 0 };
	struct snap_pending pend;
	struct report_run rr;
	char now[25];
	int is_now_given, is_new_snapshot = 0, is_begun = 0, is_state_dir_there = 1;
	long long run_id = 0;
	unsigned flags = 0;
	enum rc rc;
	FILE *summary;
	char *summary_text = NULL;
	size_t summary_len = 0;
	long long nexceptions = 0;
	struct rules_prep *prep = NULL;
	const char *mode = "full";

	diag_init(&d, stderr);
	timing_mark(NULL);
	if (run_time(o->now, now, &is_now_given) != 0) {
		rc = cmd_usage_error(cmd, "--now or SOURCE_DATE_EPOCH is not a valid time");
		goto out;
	}
	rc = job_load(&d, o->job, &j);
	if (rc != RC_OK)
		goto out;
	d.max_errors = o->max_errors >= 0 ? (unsigned long)o->max_errors : j->max_errors;
	/* R11: the command line's time window wins over the job's. */
	if (o->since[0]) {
		free(j->enroll.since);
		j->enroll.since = xstrdup(o->since);
	}
	if (o->until[0]) {
		free(j->enroll.until);
		j->enroll.until = xstrdup(o->until);
	}
	/* --full trusts no hash an earlier run left: every learner's records
	 * are built (and still compared with what was sent), and the
	 * unenrollment pass reads every username. */
	j->enroll.rebuild = o->is_full;
	if (j->enroll.since && j->enroll.until && strcmp(j->enroll.since, j->enroll.until) > 0) {
		rc = cmd_usage_error(cmd, "the time window ends (%s) before it starts (%s)",
				     j->enroll.until, j->enroll.since);
		goto out;
	}

	if (!file_exists(j->snapshot)) {
		char *dir = path_dirname(j->snapshot);
		is_state_dir_there = file_exists(dir);
		free(dir);
		is_new_snapshot = !is_plan;
		if (!is_plan && (rc = make_parent_dirs(&d, j->snapshot)) != RC_OK)
			goto out;
		/* A plan on a job that never ran starts from an empty state and
		 * must not create the snapshot file. */
		rc = snap_open(&d, j->snapshot, is_plan ? SNAP_MEMORY : SNAP_CREATE | SNAP_LOCK, &s);
	} else {
		rc = snap_open(&d, j->snapshot, SNAP_LOCK, &s);
	}
	if (rc != RC_OK)
		goto out;
	if (snap_pending(s, &pend))
		diag_warn(&d, NULL, "run %lld (%s, started %s) %s; the snapshot is as the last complete run left it",
			  pend.id, pend.mode, pend.started,
			  strcmp(pend.status, "failed") == 0 ? "failed" : "was interrupted");
	if (o->stage)
		snap_set_stage_path(s, o->stage);
	mode = run_mode(j, o, s);
	if (kind == KIND_AUDIT)
		mode = "audit";
	else if (kind == KIND_PLAN)
		mode = "plan";
	rc = snap_run_begin(s, mode, now, &run_id);
	if (rc != RC_OK)
		goto out;
	is_begun = 1;
	timing_mark("open");

	if (!o->is_quiet && isatty(2))
		flags |= LOAD_PROGRESS;
	rc = rules_prepare(&d, j, &prep);
	if (rc == RC_OK) {
		rule_learning_early(j, s);
		rc = load_inputs(&d, j, s, &prep->need, flags, &res);
	}
	if (rc == RC_OK)
		rc = rule_jobcheck(&d, j, s);
	if (rc != RC_OK)
		goto out;
	timing_mark("load");

	rc = record_bad_records(&d, j, s);
	if (strcmp(mode, "incremental") == 0)
		rflags |= RULES_INCREMENTAL;
	if (kind == KIND_AUDIT)
		rflags |= RULES_AUDIT;
	if (rc == RC_OK)
		rc = rules_run(&d, j, prep, s, run_id, now, rflags);
	if (rc == RC_OK && kind == KIND_AUDIT)
		rc = rule_audit(&d, j, s, now, o->stale_days, &ndrift);
	if (rc == RC_OK)
		rc = rules_finish(s);
	if (rc != RC_OK)
		goto out;
	timing_mark("rules_finish");
	testhook("rules");

	memset(&rr, 0, sizeof rr);
	rr.id = is_plan ? 0 : run_id;
	rr.row = run_id;
	rr.mode = mode;
	rr.now = is_now_given ? now : NULL;
	rr.job = o->job;
	rr.nbad = d.nbad;
	out = emit_out_new(&d, j->output);
	/* plan writes the report only, never the import files. */
	rc = is_plan ? RC_OK : emit_lms(j, s, out);
	timing_mark("emit_lms");
	if (rc == RC_OK && !is_plan)
		rc = emit_crm(j, s, out);
	timing_mark("emit_crm");
	if (rc == RC_OK)
		rc = emit_report(&rr, j, s, out);
	timing_mark("emit_report");
	if (rc == RC_OK) {
		summary = open_memstream(&summary_text, &summary_len);
		emit_report_summary(summary, &rr, s);
		fclose(summary);
		nexceptions = snap_query_int(s, "SELECT coalesce(sum(count), 0)"
					     " FROM stage.exception_counts");
		pending_changes = snap_query_int(s, "SELECT coalesce(sum(count), 0)"
						 " FROM stage.exception_counts"
						 " WHERE kind = 'pending_change'");
		rc = snap_rc(s);
	}
	testhook("emit");
	if (rc == RC_OK)
		rc = emit_out_commit(out);
	if (rc != RC_OK)
		goto out;
	timing_mark("emit_rename");
	testhook("renamed");

	if (is_plan) {
		rc = snap_run_abort(s, 0);
	} else {
		char *counts = xasprintf("{\"inputs\":%zu,\"bad_records\":%lu,\"exceptions\":%lld}",
					 res.ninputs, d.nbad, nexceptions);
		rc = snap_run_commit(s, now, counts);
		free(counts);
	}
	is_begun = 0;
	timing_mark("commit");
	if (rc == RC_OK)
		fwrite(summary_text, 1, summary_len, stdout);
	if (rc == RC_OK && kind == KIND_AUDIT) {
		if (ndrift)
			printf("\naudit: drift found: %lld difference%s between the systems\n",
			       ndrift, ndrift == 1 ? "" : "s");
		else if (pending_changes)
			printf("\naudit: the systems agree, but for %lld change%s sent less than"
			       " %g days ago and not applied yet\n", pending_changes,
			       pending_changes == 1 ? "" : "s", o->stale_days);
		else
			printf("\naudit: the systems agree\n");
		if (ndrift)
			rc = RC_DRIFT;
	}
	if (rc == RC_OK && o->is_fail_on_exceptions && nexceptions)
		rc = RC_DRIFT;
out:
	if (is_begun)
		snap_run_abort(s, !is_plan);
	snap_close(s);
	if (rc != RC_OK && rc != RC_DRIFT && is_new_snapshot && s) {
		/* The snapshot did not exist before this failed run: leave none. */
		char *lock = xasprintf("%s.lock", j->snapshot);
		char *dir = path_dirname(j->snapshot);
		unlink(j->snapshot);
		unlink(lock);
		if (!is_state_dir_there)
			rmdir(dir); /* only when this run made it and it is empty */
		free(lock);
		free(dir);
	}
	free(summary_text);
	rules_prep_free(prep);
	emit_out_free(out);
	load_result_release(&res);
	job_free(j);
	diag_release(&d);
	return (int)rc;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	int rc = parse_opts("run", argc, argv, &o);
	return rc >= 0 ? rc : run_job("run", &o, KIND_RUN);
}

int cmd_plan(int argc, char **argv)
{
	struct run_opts o;
	int rc = parse_opts("plan", argc, argv, &o);
	return rc >= 0 ? rc : run_job("plan", &o, KIND_PLAN);
}

int cmd_audit(int argc, char **argv)
{
	struct run_opts o;
	int rc = parse_opts("audit", argc, argv, &o);
	return rc >= 0 ? rc : run_job("audit", &o, KIND_AUDIT);
}
