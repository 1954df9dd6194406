/*
 * repo.c - the ground floor of the store: the pool of libgit2 repository
 * handles, libgit2's errors turned into a struct error, and the naming
 * and small git helpers every other store file uses (commit trailers,
 * branch, tag and task-directory names, the jittered backoff of a lost
 * compare-and-swap, stale ref locks, a ref peeled to a commit, the
 * metadata file read back).
 *
 * Every other file of store/ may call these; this file calls none of
 * theirs, so it is the one place to start reading and the bottom of the
 * module's call graph (docs/internals/store.md, "Files").
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/store_int.h"

/* libgit2's errors --------------------------------------------------------- */

void
store_git_message(char *msg, size_t size, int grc)
{
	const git_error *e = git_error_last();

	/* libgit2 1.5 returns NULL after git_error_clear(); later versions
	 * return an entry of class GIT_ERROR_NONE. Either way the call set
	 * nothing: say so rather than show older text. */
	if (e != NULL && e->klass != GIT_ERROR_NONE && e->message != NULL &&
	    *e->message != '\0')
		snprintf(msg, size, "%s", e->message);
	else
		snprintf(msg, size, "libgit2 error %d without a message%s%s",
		    grc, errno ? ", last system error: " : "",
		    errno ? strerror(errno) : "");
	git_error_clear();
	redact_buf(msg, size);
}

/*
 * A lock held by another writer, and a failure of the operating system
 * or the file system (a full disk, EIO, no descriptors left: libgit2's
 * classes GIT_ERROR_OS and GIT_ERROR_FILESYSTEM),
 * may succeed later: they are transient, retried with backoff and
 * dead-lettered when the attempts run out, so the event is kept. Anything
 * else libgit2 refuses (a corrupt object, a bad name) will fail the same
 * way again.
 */
int
store_git_error(struct error *err, int grc, const char *what)
{
	const git_error *e = git_error_last();
	int os = e != NULL &&
	         (e->klass == GIT_ERROR_OS || e->klass == GIT_ERROR_FILESYSTEM);
	char m[ERROR_MSG_MAX];

	store_git_message(m, sizeof(m), grc);
	if (grc == GIT_ELOCKED)
		return error_set(err, ERR_TRANSIENT, "GIT", "%s: %s", what, m);
	if (os)
		return error_set(err, ERR_TRANSIENT, "IO", "%s: %s", what, m);
	return error_set(err, ERR_FAIL, "GIT", "%s: %s", what, m);
}

/* The handle pool -----------------------------------------------------------
 */

int
store_repo_acquire(struct store *st, git_repository **out, struct error *err)
{
	git_repository *repo = NULL;
	int grc;

	pthread_mutex_lock(&st->pool_lock);
	if (st->npool > 0)
		repo = st->pool[--st->npool];
	pthread_mutex_unlock(&st->pool_lock);
	if (repo == NULL) {
		grc = STORE_GIT(git_repository_open_ext(&repo,
		    st->opts.repo_path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL));
		if (grc < 0)
			return store_git_error(err, grc, "open repository");
	}
	*out = repo;
	return 0;
}

void
store_repo_release(struct store *st, git_repository *repo)
{
	if (repo == NULL)
		return;
	pthread_mutex_lock(&st->pool_lock);
	if (st->npool == st->cappool) {
		st->cappool = st->cappool ? st->cappool * 2 : 8;
		st->pool = xrealloc(st->pool, st->cappool * sizeof(*st->pool));
	}
	st->pool[st->npool++] = repo;
	pthread_mutex_unlock(&st->pool_lock);
}

/* Names, trailers and small git helpers ------------------------------------ */

void
store_trailers_parse(struct store_trailers *t, const char *msg)
{
	git_message_trailer_array arr = { 0 };
	size_t i;

	memset(t, 0, sizeof(*t));
	if (msg == NULL || git_message_trailers(&arr, msg) < 0) {
		git_error_clear();
		return;
	}
	for (i = 0; i < arr.count; i++) {
		const char *k = arr.trailers[i].key, *v = arr.trailers[i].value;
		char *dst = NULL;

		if (strcmp(k, "Event-Id") == 0)
			dst = t->event_id;
		else if (strcmp(k, "Correlation-Id") == 0)
			dst = t->correlation_id;
		else if (strcmp(k, "Workflow-Id") == 0)
			dst = t->workflow_id;
		else if (strcmp(k, "Task-Id") == 0)
			dst = t->task_id;
		else if (strcmp(k, "Prompt-Hash") == 0)
			dst = t->prompt_hash;
		else if (strcmp(k, "Reverted-To") == 0)
			dst = t->reverted_to;
		if (dst != NULL)
			snprintf(dst, sizeof(t->event_id), "%s", v);
	}
	git_message_trailer_array_free(&arr);
}

char *
store_branch_ref(const struct store *st, const char *wf, const char *task)
{
	return xasprintf("refs/heads/%s/%s/%s", st->opts.branch_prefix, wf,
	    task);
}

char *
store_corr_tag(const char *correlation_id)
{
	if (strncmp(correlation_id, "corr_", 5) == 0)
		return xstrdup(correlation_id);
	return xasprintf("corr_%s", correlation_id);
}

char *
store_prompt_tag(const char *prompt_hash)
{
	if (strncmp(prompt_hash, "prompt_", 7) == 0)
		return xstrdup(prompt_hash);
	return xasprintf("prompt_%s", prompt_hash);
}

/* Replace {task_id} and {workflow_id} in the template. */
char *
store_task_dir(const struct store *st, const char *wf, const char *task)
{
	struct buf b;
	const char *p = st->opts.path_template;

	buf_init(&b, (size_t)STORE_NAME_MAX * 4);
	while (*p != '\0') {
		if (strncmp(p, "{task_id}", 9) == 0) {
			(void)buf_puts(&b, task);
			p += 9;
		} else if (strncmp(p, "{workflow_id}", 13) == 0) {
			(void)buf_puts(&b, wf);
			p += 13;
		} else {
			(void)buf_append(&b, p, 1);
			p++;
		}
	}
	/* No trailing slash: paths are joined with one. */
	while (b.len > 0 && b.data[b.len - 1] == '/')
		b.data[--b.len] = '\0';
	return buf_detach(&b, NULL);
}

void
store_backoff(int attempt)
{
	double hi = 1.0;
	struct timespec ts;
	double ms;
	int i;

	for (i = 0; i < attempt && hi < STORE_BACKOFF_MAX_MS; i++)
		hi *= 2.0;
	if (hi > STORE_BACKOFF_MAX_MS)
		hi = STORE_BACKOFF_MAX_MS;
	ms = util_jitter(0.2, hi);
	ts.tv_sec = (time_t)(ms / 1000.0);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000.0) * 1e6);
	nanosleep(&ts, NULL);
}

void
store_lock_check(git_repository *repo, const char *ref, int attempt)
{
	struct stat sb;
	char *path;

	/* Only after many lost attempts: a live writer holds a ref lock for
	 * well under a millisecond. */
	if (attempt < STORE_STALE_LOCK_AFTER)
		return;
	path = xasprintf("%s%s.lock", git_repository_path(repo), ref);
	if (stat(path, &sb) == 0 &&
	    time(NULL) - sb.st_mtime > STORE_STALE_LOCK_S && unlink(path) == 0)
		log_warnx("store_stale_lock_removed lock=\"%s\" age_s=%lld",
		    path, (long long)(time(NULL) - sb.st_mtime));
	free(path);
}

int
store_ref_commit(git_oid *out, git_repository *repo, const char *ref,
    struct error *err)
{
	git_reference *r = NULL;
	git_object *obj = NULL;
	int grc, rc = ERR_FAIL;

	grc = STORE_GIT(git_reference_lookup(&r, repo, ref));
	if (grc == GIT_ENOTFOUND || grc == GIT_EINVALIDSPEC) {
		git_error_clear();
		rc =
		    error_set(err, ERR_NOTFOUND, "NOT_FOUND", "no ref %s", ref);
		goto out;
	}
	if (grc < 0) {
		rc = store_git_error(err, grc, "look up ref");
		goto out;
	}
	if ((grc = STORE_GIT(git_reference_peel(&obj, r, GIT_OBJECT_COMMIT))) <
	    0) {
		rc = store_git_error(err, grc, "peel ref");
		goto out;
	}
	git_oid_cpy(out, git_object_id(obj));
	rc = 0;
out:
	git_object_free(obj);
	git_reference_free(r);
	return rc;
}

int
store_read_metadata(cJSON **out, git_repository *repo, const git_oid *cid,
    const char *path, struct error *err)
{
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	cJSON *json = NULL;
	int grc, rc = ERR_FAIL;

	if ((grc = STORE_GIT(git_commit_lookup(&c, repo, cid))) < 0 ||
	    (grc = STORE_GIT(git_commit_tree(&tree, c))) < 0) {
		rc = store_git_error(err, grc, "read commit");
		goto out;
	}
	if (git_tree_entry_bypath(&e, tree, path) < 0 ||
	    git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
		git_error_clear();
		rc = error_set(err, ERR_NOTFOUND, "NOT_FOUND",
		    "no %s in the commit", path);
		goto out;
	}
	if ((grc = STORE_GIT(
	         git_blob_lookup(&blob, repo, git_tree_entry_id(e)))) < 0) {
		rc = store_git_error(err, grc, "read metadata blob");
		goto out;
	}
	if (git_blob_rawsize(blob) > STORE_METADATA_MAX) {
		rc = error_set(err, ERR_FAIL, "GIT", "%s is too large", path);
		goto out;
	}
	json = cJSON_ParseWithLength(git_blob_rawcontent(blob),
	    (size_t)git_blob_rawsize(blob));
	if (json == NULL || !cJSON_IsObject(json)) {
		rc = error_set(err, ERR_FAIL, "GIT", "%s is not a JSON object",
		    path);
		goto out;
	}
	*out = json;
	json = NULL;
	rc = 0;
out:
	cJSON_Delete(json);
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}
