/*
 * scan_gate.c - the secret gate of releases (scan_gate.h): scan each
 * release file before any upload, archives member by member.
 *
 * A file is an archive when libarchive recognises it as a ZIP (wheels,
 * bundles, jars) or a tar, compressed or not (sdists); anything else is
 * scanned as it is. Every member is read into memory (bounded) and
 * scanned under the name "<file>!<member>", as gitleaks names archive
 * members; a member that is itself an archive is walked from memory, one
 * level deep. The counters (members, bytes, ratio) cover the whole file,
 * nested archives included, so nesting cannot multiply the budget.
 */
#include "worker/scan_gate.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "store/scan.h"

/* Read granularity of libarchive from the descriptor. */
#define SCAN_GATE_BLOCK (64u * 1024)

/* What one release file has used so far. */
struct scan_gate_run {
	struct scanner *sc;
	uint64_t members;
	uint64_t total;      /* uncompressed bytes taken out */
	uint64_t compressed; /* bytes of the outermost file */
};

static int scan_gate_archive(struct scan_gate_run *g, struct archive *a,
    const char *name, int depth, struct error *err);

static int
scan_gate_fail(struct error *err, const char *name, const char *why)
{
	return error_set(err, ERR_INVALID, "SCAN_FAILED",
	    "secret scan of %s refused: %s", name, why);
}

static struct archive *
scan_gate_reader(void)
{
	struct archive *a = archive_read_new();

	if (a == NULL)
		abort(); /* out of memory, as xmalloc would */
	archive_read_support_format_zip(a);
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	return a;
}

/* Read the current member into *out (at most SCAN_GATE_MAX_MEMBER),
 * checking the total and the ratio as the bytes come out. */
static int
scan_gate_read_member(struct scan_gate_run *g, struct archive *a,
    const char *name, char **out, size_t *outlen, struct error *err)
{
	size_t cap = 0, len = 0;
	char *buf = NULL;
	la_ssize_t n;
	char why[160];
	int rc = 0;

	for (;;) {
		if (len == cap) {
			if (cap >= SCAN_GATE_MAX_MEMBER) {
				snprintf(why, sizeof(why),
				    "a member is larger than %u bytes",
				    SCAN_GATE_MAX_MEMBER);
				rc = scan_gate_fail(err, name, why);
				goto out;
			}
			cap = cap == 0 ? SCAN_GATE_BLOCK : cap * 2;
			if (cap > SCAN_GATE_MAX_MEMBER)
				cap = SCAN_GATE_MAX_MEMBER;
			buf = xrealloc(buf, cap + 1);
		}
		n = archive_read_data(a, buf + len, cap - len);
		if (n == 0)
			break;
		if (n < 0) {
			snprintf(why, sizeof(why), "damaged archive: %s",
			    archive_error_string(a) ? archive_error_string(a)
			                            : "read error");
			rc = scan_gate_fail(err, name, why);
			goto out;
		}
		len += (size_t)n;
		g->total += (uint64_t)n;
		if (g->total > SCAN_GATE_MAX_TOTAL) {
			snprintf(why, sizeof(why),
			    "more than %llu uncompressed bytes",
			    (unsigned long long)SCAN_GATE_MAX_TOTAL);
			rc = scan_gate_fail(err, name, why);
			goto out;
		}
		if (g->total > SCAN_GATE_RATIO_FLOOR &&
		    g->total / (g->compressed ? g->compressed : 1) >=
		        SCAN_GATE_MAX_RATIO) {
			snprintf(why, sizeof(why),
			    "compression ratio above %u (a zip bomb?)",
			    SCAN_GATE_MAX_RATIO);
			rc = scan_gate_fail(err, name, why);
			goto out;
		}
	}
	buf = buf != NULL ? buf : xmalloc(1);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	return rc;
}

/* Is this member an archive we walk (by libarchive's own verdict)? If
 * so, *inner is open on it. */
static bool
scan_gate_open_inner(struct archive **inner, const char *data, size_t len)
{
	struct archive *a = scan_gate_reader();
	struct archive_entry *e;

	/* A header must be readable, and the format must be a real
	 * archive (libarchive's raw format is not enabled). */
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		archive_read_free(a);
		return false;
	}
	archive_read_free(a);
	a = scan_gate_reader();
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		archive_read_free(a);
		return false;
	}
	*inner = a;
	return true;
}

/* One member: read it, walk it when it is an archive, else scan it. */
static int
scan_gate_member(struct scan_gate_run *g, struct archive *a, const char *path,
    int depth, struct error *err)
{
	struct archive *inner = NULL;
	struct scan_hit hit;
	char *data = NULL;
	size_t len = 0;
	int rc;

	if ((rc = scan_gate_read_member(g, a, path, &data, &len, err)) < 0)
		goto out;
	if (scan_gate_open_inner(&inner, data, len)) {
		if (depth >= SCAN_GATE_MAX_DEPTH) {
			rc = scan_gate_fail(err, path,
			    "an archive nested more than one level deep");
			goto out;
		}
		rc = scan_gate_archive(g, inner, path, depth + 1, err);
		goto out;
	}
	rc = scanner_scan(g->sc, path, data, len, &hit, err);
out:
	if (inner != NULL)
		archive_read_free(inner);
	if (data != NULL) {
		/* The member may hold the very secret we refused. */
		memset(data, 0, len);
		free(data);
	}
	return rc;
}

/* Walk an open archive named name; its members are "name!member". */
static int
scan_gate_archive(struct scan_gate_run *g, struct archive *a, const char *name,
    int depth, struct error *err)
{
	struct archive_entry *e;
	char *path;
	int r, rc = 0;

	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK ||
	       r == ARCHIVE_WARN) {
		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		if (++g->members > SCAN_GATE_MAX_MEMBERS) {
			char why[96];

			snprintf(why, sizeof(why), "more than %u members",
			    SCAN_GATE_MAX_MEMBERS);
			return scan_gate_fail(err, name, why);
		}
		path = xasprintf("%s!%s", name,
		    archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		rc = scan_gate_member(g, a, path, depth, err);
		free(path);
		if (rc < 0)
			return rc;
	}
	if (r != ARCHIVE_EOF) {
		char why[160];

		snprintf(why, sizeof(why), "damaged archive: %s",
		    archive_error_string(a) ? archive_error_string(a)
		                            : "unreadable header");
		return scan_gate_fail(err, name, why);
	}
	return 0;
}

int
scan_gate_file(struct scanner *sc, int fd, const char *name, struct error *err)
{
	struct scan_gate_run g = { sc, 0, 0, 0 };
	struct archive *a = NULL;
	struct archive_entry *e;
	struct scan_hit hit;
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		rc = scan_gate_fail(err, name, "cannot read the file");
		goto out;
	}
	g.compressed = (uint64_t)st.st_size;
	/* First pass: is it an archive at all (a header reads)? */
	a = scan_gate_reader();
	if (archive_read_open_fd(a, fd, SCAN_GATE_BLOCK) == ARCHIVE_OK &&
	    archive_read_next_header(a, &e) == ARCHIVE_OK) {
		archive_read_free(a);
		a = scan_gate_reader();
		if (lseek(fd, 0, SEEK_SET) < 0 ||
		    archive_read_open_fd(a, fd, SCAN_GATE_BLOCK) !=
		        ARCHIVE_OK) {
			rc = scan_gate_fail(err, name, "cannot reopen");
			goto out;
		}
		rc = scan_gate_archive(&g, a, name, 0, err);
		goto out;
	}
	/* A plain file: scanned as it is, under the member limit. */
	if ((uint64_t)st.st_size > SCAN_GATE_MAX_MEMBER) {
		char why[96];

		snprintf(why, sizeof(why), "larger than %u bytes",
		    SCAN_GATE_MAX_MEMBER);
		rc = scan_gate_fail(err, name, why);
		goto out;
	}
	len = (size_t)st.st_size;
	data = xmalloc(len + 1);
	if (pread(fd, data, len, 0) != (ssize_t)len) {
		rc = scan_gate_fail(err, name, "short read");
		goto out;
	}
	rc = scanner_scan(sc, name, data, len, &hit, err);
out:
	if (a != NULL)
		archive_read_free(a);
	if (data != NULL) {
		memset(data, 0, len);
		free(data);
	}
	if (rc < 0)
		log_warnx("release_scan_refused file=%s code=%s", name,
		    err->code);
	return rc;
}

static int
scan_gate_check(int fd, const char *name, void *arg, struct error *err)
{
	return scan_gate_file(arg, fd, name, err);
}

void
scan_gate_attach(struct release_config *c, struct scanner *sc)
{
	if (sc == NULL)
		return;
	c->file_check = scan_gate_check;
	c->file_check_arg = sc;
}

int
scan_gate_scanner_new(struct scanner **out, const struct config *cfg,
    struct error *err)
{
	struct scanner_options o = { 0 };

	o.extra_patterns = (const char *const *)cfg->secret_patterns;
	o.nextra = cfg->nsecret_patterns;
	o.allowed = (const char *const *)cfg->secret_allow;
	o.nallowed = cfg->nsecret_allow;
	o.ignore_file = cfg->scan_ignore_file;
	return scanner_new_opts(out, &o, err);
}
