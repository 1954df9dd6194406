/*
 * artifacts.c - read the files a TEST_PASSED event names.
 *
 * The security boundary is the artifacts root: a producer can name any
 * path, so every path is opened once, beneath a descriptor of the root,
 * by common/path.c (which refuses escapes, symlinks out of the root and
 * anything but a regular file, without blocking on a FIFO), and read
 * through that descriptor. Nothing is looked up by name twice.
 */
#include "worker/artifacts.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/path.h"
#include "common/util.h"
#include "common/xalloc.h"

bool
artifacts_name_ok(const char *name)
{
	const char *seg = name, *p;

	if (name == NULL || name[0] == '\0' || name[0] == '/' ||
	    strlen(name) > 255)
		return false;
	for (p = name;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t len = (size_t)(p - seg);

			if (len == 0 || (len == 1 && seg[0] == '.') ||
			    (len == 2 && seg[0] == '.' && seg[1] == '.') ||
			    (len == 4 && strncmp(seg, ".git", 4) == 0))
				return false;
			if (*p == '\0')
				break;
			seg = p + 1;
		} else if ((unsigned char)*p < 0x20 || *p == '\\' ||
		           *p == 0x7f) {
			return false;
		}
	}
	return true;
}

static void
artifacts_add(struct artifact_set *set, char *name, char *data, size_t len)
{
	/* Doubling: 80,000 files in one event must not mean 80,000
	 * reallocations with a copy each. */
	if (set->nfiles == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 16;
		set->files =
		    xrealloc(set->files, set->cap * sizeof(*set->files));
		set->owned =
		    xrealloc(set->owned, 2 * set->cap * sizeof(char *));
	}
	set->files[set->nfiles].name = name;
	set->files[set->nfiles].data = data;
	set->files[set->nfiles].len = len;
	set->nfiles++;
	set->owned[set->nowned++] = name;
	set->owned[set->nowned++] = data;
}

static int
artifacts_cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Two files with one name: sorted once and compared with the neighbour,
 * n log n (a scan of the earlier names per file was quadratic: 39 s for
 * 80,000 files). */
static int
artifacts_check_unique(const struct artifact_set *set, struct error *err)
{
	const char **names;
	size_t i;
	int rc = 0;

	if (set->nfiles < 2)
		return 0;
	names = xcalloc(set->nfiles, sizeof(*names));
	for (i = 0; i < set->nfiles; i++)
		names[i] = set->files[i].name;
	qsort(names, set->nfiles, sizeof(*names), artifacts_cmp_name);
	for (i = 1; i < set->nfiles; i++)
		if (strcmp(names[i - 1], names[i]) == 0) {
			rc = error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "two files would be committed as %s", names[i]);
			break;
		}
	free(names);
	return rc;
}

/*
 * Read one path given in the event: opened once beneath the root
 * (path_open_beneath refuses escapes, symlinks out, FIFOs and other
 * non-regular files, and sizes over max_file), then read through that
 * descriptor. The committed name is the last component of the path as
 * the event wrote it.
 */
static int
artifacts_read_path(struct artifact_set *set, const char *path,
    const struct path_root *root, size_t max_file, size_t *total,
    size_t max_total, struct error *err)
{
	const char *base;
	char *data = NULL;
	size_t len = 0;
	int fd = -1, rc;

	if ((rc = path_open_beneath(&fd, NULL, root, path, max_file, err)) < 0)
		goto out;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!artifacts_name_ok(base)) {
		rc = error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "artifact %s has an unusable name", path);
		goto out;
	}
	if ((rc = path_read_fd(&data, &len, fd, max_file, path, err)) < 0)
		goto out;
	if (len > max_total - *total) {
		rc = error_set(err, ERR_INVALID, "TOO_LARGE",
		    "the event's files exceed %zu bytes", max_total);
		goto out;
	}
	*total += len;
	artifacts_add(set, xstrdup(base), data, len);
	data = NULL;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(data);
	return rc;
}

static int
artifacts_read_inline(struct artifact_set *set, const cJSON *f, size_t max_file,
    size_t *total, size_t max_total, struct error *err)
{
	const char *name, *content, *enc;
	const cJSON *e;
	char *data = NULL;
	size_t len;

	name = cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring;
	content = cJSON_GetObjectItemCaseSensitive(f, "content")->valuestring;
	e = cJSON_GetObjectItemCaseSensitive(f, "encoding");
	enc = cJSON_IsString(e) ? e->valuestring : "utf-8";
	if (!artifacts_name_ok(name))
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "inline file name %s is not a safe relative path", name);
	if (strcmp(enc, "base64") == 0) {
		if (util_base64_decode(&data, &len, content, strlen(content)) <
		    0)
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "inline file %s is not valid base64", name);
	} else {
		len = strlen(content);
		data = xstrndup(content, len);
	}
	if (len > max_file || len > max_total - *total) {
		free(data);
		return error_set(err, ERR_INVALID, "TOO_LARGE",
		    "inline file %s is too large", name);
	}
	*total += len;
	artifacts_add(set, xstrdup(name), data, len);
	return 0;
}

int
artifacts_collect(struct artifact_set *set, const cJSON *data, const char *root,
    size_t max_file, size_t max_total, struct error *err)
{
	const cJSON *artifacts, *files, *a;
	struct path_root pr;
	size_t total = 0;
	int rc = 0;

	memset(set, 0, sizeof(*set));
	if ((rc = path_root_open(&pr, root, err)) < 0)
		return rc;
	artifacts = cJSON_GetObjectItemCaseSensitive(data, "artifacts");
	files = cJSON_GetObjectItemCaseSensitive(data, "files");
	cJSON_ArrayForEach(a, artifacts) {
		if ((rc = artifacts_read_path(set, a->valuestring, &pr,
		         max_file, &total, max_total, err)) < 0)
			goto out;
	}
	cJSON_ArrayForEach(a, files) {
		if (cJSON_IsString(a))
			rc = artifacts_read_path(set, a->valuestring, &pr,
			    max_file, &total, max_total, err);
		else
			rc = artifacts_read_inline(set, a, max_file, &total,
			    max_total, err);
		if (rc < 0)
			goto out;
	}
	rc = artifacts_check_unique(set, err);
out:
	path_root_close(&pr);
	if (rc < 0)
		artifacts_dispose(set);
	return rc;
}

/* tmpl with {task_id} and {workflow_id} replaced; NULL when the result
 * would be longer than any path an event may name (PATH_EVENT_MAX). */
static char *
artifacts_expand(const char *tmpl, const char *wf, const char *task)
{
	struct buf b;
	const char *p;

	buf_init(&b, PATH_EVENT_MAX);
	for (p = tmpl; *p != '\0';) {
		int rc;

		if (strncmp(p, "{task_id}", 9) == 0) {
			rc = buf_append(&b, task, strlen(task));
			p += 9;
		} else if (strncmp(p, "{workflow_id}", 13) == 0) {
			rc = buf_append(&b, wf, strlen(wf));
			p += 13;
		} else {
			rc = buf_append(&b, p++, 1);
		}
		if (rc < 0) {
			buf_dispose(&b);
			return NULL;
		}
	}
	return buf_detach(&b, NULL);
}

int
artifacts_add_strategy(struct artifact_set *set, const char *tmpl,
    const char *workflow_id, const char *task_id, const char *root,
    size_t max_file, size_t max_total, struct error *err)
{
	struct path_root pr;
	const char *base;
	char *path;
	size_t i, total = 0;
	int rc;

	if (tmpl == NULL || *tmpl == '\0' || workflow_id == NULL ||
	    task_id == NULL)
		return 0;
	if ((path = artifacts_expand(tmpl, workflow_id, task_id)) == NULL)
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "strategy-path expands to more than %d bytes",
		    PATH_EVENT_MAX);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (i = 0; i < set->nfiles; i++) {
		total += set->files[i].len;
		if (strcmp(set->files[i].name, base) == 0) {
			free(path);
			return 0;
		}
	}
	if ((rc = path_root_open(&pr, root, err)) < 0) {
		free(path);
		return rc;
	}
	rc = artifacts_read_path(set, path, &pr, max_file, &total, max_total,
	    err);
	/* The seed adds it only "if strategy_file.exists()". */
	if (rc < 0 && strcmp(err->code, "FILE_NOT_FOUND") == 0) {
		error_clear(err);
		rc = 0;
	}
	path_root_close(&pr);
	free(path);
	return rc;
}

void
artifacts_dispose(struct artifact_set *set)
{
	size_t i;

	for (i = 0; i < set->nowned; i++)
		free(set->owned[i]);
	free(set->owned);
	free(set->files);
	memset(set, 0, sizeof(*set));
}
