/* SPDX-License-Identifier: MIT */
/* snap_pages: the snapshot's pages in the kernel's page cache during the
 * first run.
 *
 * The first run into a new snapshot writes all of it (the records it
 * sent, the enrollment baseline: about 3 GB at a million contacts) and
 * reads little of what it appends. Kept in the page cache, those pages take memory
 * that the run's scratch database and sorts then have to take anew; on a
 * virtual machine that hands freed memory back to its host, each page
 * taken anew costs a trip to the host (docs/performance.md, eleventh
 * round). So, as the first run makes the file grow, each 32 MiB it adds is
 * handed to the disk and, once there, dropped from the cache: the run's
 * next pages reuse that memory at once. The first run at a million
 * contacts took about a quarter less time.
 *
 * Later runs leave the cache as it is: they append little, and the run
 * after them reads what they hold. The second run reads from the disk
 * what it needs of the snapshot: about 10 s more at a million contacts,
 * once.
 *
 * All of it is advice: a failure changes the speed, never the data.
 * SQLite writes and syncs the file as always (the pages handed over early
 * are the ones it has already written), and the commit's fsync is what
 * makes a run durable. A write error the early hand-over meets is left
 * to that fsync, which reports it too (Linux 4.13 and later: errors are
 * kept per open file, and SQLite's descriptor is not this one). */
#include "snap.h"
#include "snap_int.h"
#include "util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

/* How many SQLite virtual machine steps between two looks at the file's
 * size (an fstat each time). */
#define PROGRESS_STEPS 100000

/* SQLite's progress handler: looks at the file's size, never interrupts. */
static int on_progress(void *arg)
{
	struct snap *s = arg;
	struct stat st;

	/* A write error is left to the commit's fsync (see above). */
	if (fstat(s->pages.fd, &st) == 0 && st.st_size >= s->pages.started + DROPBEHIND_CHUNK)
		(void)dropbehind_advance(&s->pages, st.st_size);
	return 0;
}

/* Whether the snapshot's `runs` table holds a row other than the run's
 * own: SQLite directly, so that a failure leaves the sticky status alone
 * (it only means the drop is not done). */
static int has_earlier_run(struct snap *s)
{
	sqlite3_stmt *st = NULL;
	int r = 1;

	if (sqlite3_prepare_v2(s->db, "SELECT count(*) > 1 FROM main.runs", -1, &st, NULL)
	    == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		r = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return r;
}

void snap_pages_begin(struct snap *s)
{
	struct stat st;

	if ((s->flags & SNAP_MEMORY) || !s->path || has_earlier_run(s))
		return;
	/* SQLite locks the file with POSIX record locks, which the process
	 * loses when it closes any descriptor of the file: this one stays
	 * open until the connection is closed (snap_pages_close). */
	if (s->pages.fd < 0)
		s->pages.fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->pages.fd < 0 || fstat(s->pages.fd, &st) != 0)
		return;
	/* What the file held before the run stays as it is; what the run
	 * adds is handed over and dropped. */
	s->pages.started = s->pages.dropped = st.st_size;
	sqlite3_progress_handler(s->db, PROGRESS_STEPS, on_progress, s);
}

void snap_pages_end(struct snap *s)
{
	/* The connection's one progress handler is this module's. */
	if (s->db)
		sqlite3_progress_handler(s->db, 0, NULL, NULL);
}

void snap_pages_close(struct snap *s)
{
	if (s->pages.fd >= 0)
		close(s->pages.fd);
	s->pages.fd = -1;
}
