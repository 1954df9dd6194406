/*
 * expire.c - expiry of old task branches (seed 003's "branch cleanup" and
 * its roadmap's "auto-archive old branches"): store_expire() removes the
 * task branches whose tip commit is older than an age, locally and on
 * the remote, optionally keeping each under refs/archive/<branch> and
 * optionally deleting the corr_/prompt_ tags on its commits.
 *
 * Nothing is deleted that moved after it was judged old: every local
 * delete is git_reference_delete() on the reference read when judging
 * (libgit2 checks the old value under the ref's lock), and the remote
 * delete carries the judged tip as its old id (push_child.c's "expire"
 * op), so receive-pack refuses it if the branch moved there. The archive
 * ref is written before the branch is deleted, so a crash in between
 * loses nothing.
 *
 * One run at a time per repository: a run takes flock() on
 * <repo>/artifactd-expire.lock (released by the kernel when the process
 * dies, so no stale lock); another worker's periodic job finding it held
 * skips its turn. Workers with clones of their own each expire their
 * clone; their remote deletes are compare-and-swaps, so the second finds
 * the branch "gone".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/store_int.h"

/* Branches one run removes at most: the candidates are held in memory and
 * sent to the remote in one request per EXPIRE_PUSH_BATCH (a request line
 * is at most ~2 KiB of ref names, PUSH_REQUEST_MAX is 1 MiB). The next
 * run takes the rest. */
#define EXPIRE_MAX 100000
#define EXPIRE_PUSH_BATCH 400
/* Commits of one branch searched for the tags to delete (--tags): a task
 * branch holds one commit per event of the task. */
#define EXPIRE_TAG_WALK 10000
/* 100 years: an age beyond is a typo, and fits time_t arithmetic. */
#define EXPIRE_AGE_MAX (100LL * 366 * 24 * 3600)

struct expire_item {
	char *ref; /* refs/heads/<prefix>/<wf>/<task> */
	git_oid tip;
	git_time_t time;
	const char *status; /* "expired", "removed", "moved", ... */
	char *archive;      /* refs/archive/..., or NULL */
	cJSON *tags;        /* names deleted (or to delete: dry run) */
	char **tag_lines;   /* "refs/tags/<name> <oid>" deleted locally */
	size_t ntag_lines;
	bool remote_done;
};

int
store_age_parse(long long *secs, const char *s)
{
	long long n, unit;
	size_t len;

	if (s == NULL || (len = strlen(s)) < 2 || len > 20)
		return -1;
	switch (s[len - 1]) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 7 * 86400;
		break;
	default:
		return -1;
	}
	{
		char digits[24];

		memcpy(digits, s, len - 1);
		digits[len - 1] = '\0';
		if (util_parse_uint(&n, digits, EXPIRE_AGE_MAX) < 0 ||
		    n > EXPIRE_AGE_MAX / unit)
			return -1;
	}
	*secs = n * unit;
	return 0;
}

/* The old task branches: refs/heads/<prefix>/<wf>/<task> (nothing
 * deeper) whose tip commit is older than cutoff. */
static int
expire_judge(struct store *st, git_repository *repo, git_time_t cutoff,
    struct expire_item **out, size_t *nout, struct error *err)
{
	git_reference_iterator *it = NULL;
	git_commit *c = NULL;
	struct expire_item *items = NULL;
	const char *name, *slash;
	size_t n = 0, plen;
	char *glob;
	int grc;

	glob = xasprintf("refs/heads/%s/*", st->opts.branch_prefix);
	plen = strlen("refs/heads/") + strlen(st->opts.branch_prefix) + 1;
	if ((grc = STORE_GIT(
	         git_reference_iterator_glob_new(&it, repo, glob))) < 0) {
		free(glob);
		return store_git_error(err, grc, "list branches");
	}
	while (n < EXPIRE_MAX && git_reference_next_name(&name, it) == 0) {
		struct expire_item e;

		if (strlen(name) <= plen ||
		    (slash = strchr(name + plen, '/')) == NULL ||
		    strchr(slash + 1, '/') != NULL)
			continue;
		memset(&e, 0, sizeof(e));
		if (git_reference_name_to_id(&e.tip, repo, name) < 0 ||
		    git_commit_lookup(&c, repo, &e.tip) < 0) {
			git_error_clear();
			continue;
		}
		e.time = git_commit_time(c);
		git_commit_free(c);
		c = NULL;
		if (e.time >= cutoff)
			continue;
		e.ref = xstrdup(name);
		e.status = "expired";
		e.tags = cJSON_CreateArray();
		items = xrealloc(items, (n + 1) * sizeof(*items));
		items[n++] = e;
	}
	git_error_clear();
	git_reference_iterator_free(it);
	free(glob);
	*out = items;
	*nout = n;
	return 0;
}

/* Delete ref `name` if it still points at `want` (lightweight refs:
 * branches, tags). Returns 0 deleted, 1 moved or gone, <0 error. */
static int
expire_ref_delete(git_repository *repo, const char *name, const git_oid *want,
    struct error *err)
{
	git_reference *r = NULL;
	int grc;

	grc = STORE_GIT(git_reference_lookup(&r, repo, name));
	if (grc == GIT_ENOTFOUND) {
		git_error_clear();
		return 1;
	}
	if (grc < 0)
		return store_git_error(err, grc, "look up ref");
	if (git_reference_type(r) != GIT_REFERENCE_DIRECT ||
	    !git_oid_equal(git_reference_target(r), want)) {
		git_reference_free(r);
		return 1;
	}
	/* libgit2 deletes only if the ref still has r's value, checked
	 * under the ref's lock (GIT_EMODIFIED otherwise). */
	grc = STORE_GIT(git_reference_delete(r));
	git_reference_free(r);
	if (grc == GIT_EMODIFIED || grc == GIT_ENOTFOUND) {
		git_error_clear();
		return 1;
	}
	return grc < 0 ? store_git_error(err, grc, "delete ref") : 0;
}

/* The tags on the branch's own commits: corr_/prompt_ names from the
 * trailers of the commits of this task, kept when the tag peels to that
 * commit (a prompt_ tag may belong to another task's commit). */
static void
expire_find_tags(git_repository *repo, const struct expire_item *e,
    char ***names, git_oid **ids, size_t *n)
{
	struct store_trailers t, first;
	git_commit *c = NULL, *p = NULL;
	char *tag[2], *ref;
	git_oid tid;
	int i, k;

	if (git_commit_lookup(&c, repo, &e->tip) < 0)
		goto out;
	store_trailers_parse(&first, git_commit_message(c));
	for (i = 0; i < EXPIRE_TAG_WALK && c != NULL; i++) {
		store_trailers_parse(&t, git_commit_message(c));
		/* Below the task's commits: the base branch's history. */
		if (strcmp(t.task_id, first.task_id) != 0 ||
		    strcmp(t.workflow_id, first.workflow_id) != 0)
			break;
		tag[0] = t.correlation_id[0] ? store_corr_tag(t.correlation_id)
		                             : NULL;
		tag[1] =
		    t.prompt_hash[0] ? store_prompt_tag(t.prompt_hash) : NULL;
		for (k = 0; k < 2; k++) {
			if (tag[k] == NULL)
				continue;
			ref = xasprintf("refs/tags/%s", tag[k]);
			if (store_ref_commit(&tid, repo, ref, NULL) == 0 &&
			    git_oid_equal(&tid, git_commit_id(c))) {
				*names = xrealloc(*names,
				    (*n + 1) * sizeof(**names));
				*ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
				(*names)[*n] = ref;
				git_oid_cpy(&(*ids)[*n], &tid);
				(*n)++;
			} else {
				free(ref);
			}
			free(tag[k]);
		}
		if (git_commit_parentcount(c) == 0 ||
		    git_commit_parent(&p, c, 0) < 0)
			break;
		git_commit_free(c);
		c = p;
		p = NULL;
	}
out:
	git_error_clear();
	git_commit_free(c);
}

/*
 * refs/archive/<branch> = the tip, unless an archive of that name holds
 * commits the tip does not (the task's branch was expired, made anew and
 * is expired again on a different history): then nothing is archived
 * and the branch is kept ("archive-conflict"). Returns 0, 1 (conflict)
 * or an error.
 */
static int
expire_archive(git_repository *repo, struct expire_item *e, struct error *err)
{
	git_reference *r = NULL;
	git_oid old, zero;
	bool have_old;
	int grc;

	memset(&zero, 0, sizeof(zero));
	e->archive =
	    xasprintf("refs/archive/%s", e->ref + strlen("refs/heads/"));
	have_old = store_ref_commit(&old, repo, e->archive, NULL) == 0;
	if (have_old && !git_oid_equal(&old, &e->tip) &&
	    git_graph_descendant_of(repo, &e->tip, &old) != 1) {
		git_error_clear();
		return 1;
	}
	grc = STORE_GIT(git_reference_create_matching(&r, repo, e->archive,
	    &e->tip, 1, have_old ? &old : &zero, "artifactd: expire"));
	git_reference_free(r);
	if (grc == GIT_EMODIFIED || grc == GIT_ELOCKED) {
		git_error_clear();
		return 1;
	}
	return grc < 0 ? store_git_error(err, grc, "write archive ref") : 0;
}

/* Expire one judged branch locally: archive, delete (CAS), tags. */
static int
expire_one(git_repository *repo, const struct store_expire_opts *o,
    struct expire_item *e, struct error *err)
{
	char **names = NULL;
	git_oid *ids = NULL;
	size_t n = 0, i;
	int rc;

	if (o->tags)
		expire_find_tags(repo, e, &names, &ids, &n);
	if (o->dry_run) {
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(e->tags,
			    cJSON_CreateString(
			        names[i] + strlen("refs/tags/")));
		rc = 0;
		goto out;
	}
	if (o->archive && (rc = expire_archive(repo, e, err)) != 0) {
		if (rc > 0) {
			e->status = "archive-conflict";
			rc = 0;
		}
		goto out;
	}
	if ((rc = expire_ref_delete(repo, e->ref, &e->tip, err)) != 0) {
		if (rc > 0) {
			e->status = "moved";
			rc = 0;
		}
		goto out;
	}
	e->status = "removed";
	for (i = 0; i < n; i++) {
		if (expire_ref_delete(repo, names[i], &ids[i], NULL) != 0)
			continue;
		cJSON_AddItemToArray(e->tags,
		    cJSON_CreateString(names[i] + strlen("refs/tags/")));
		e->tag_lines = xrealloc(e->tag_lines,
		    (e->ntag_lines + 1) * sizeof(char *));
		e->tag_lines[e->ntag_lines++] =
		    xasprintf("%s %s", names[i], git_oid_tostr_s(&ids[i]));
	}
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(ids);
	return rc;
}

/* Mark items[idx[0..k)] from the child's lines "ref <branch>
 * deleted|gone|moved|rejected ...". */
static void
expire_remote_marks(struct expire_item *items, const size_t *idx, size_t k,
    char *text)
{
	char *l, *nl;
	size_t j, rl;

	for (l = text; l != NULL && *l != '\0'; l = nl + 1) {
		if ((nl = strchr(l, '\n')) == NULL)
			break;
		*nl = '\0';
		if (strncmp(l, "ref ", 4) != 0)
			continue;
		for (j = 0; j < k; j++) {
			rl = strlen(items[idx[j]].ref);
			if (strncmp(l + 4, items[idx[j]].ref, rl) != 0 ||
			    l[4 + rl] != ' ')
				continue;
			items[idx[j]].remote_done =
			    strcmp(l + 5 + rl, "deleted") == 0 ||
			    strcmp(l + 5 + rl, "gone") == 0;
		}
	}
}

/* The removed branches (with their archives and deleted tags) on the
 * remote, EXPIRE_PUSH_BATCH branches per request. A failure is returned
 * after the other batches were tried. */
static int
expire_remote(struct store *st, struct expire_item *items, size_t n,
    struct error *err)
{
	char **lines = NULL, hex[GIT_OID_HEXSZ + 1];
	size_t i, j, k, nl, start, idx[EXPIRE_PUSH_BATCH];
	struct buf text;
	int rc = 0, r;

	for (start = 0; start < n; start = i) {
		nl = 0;
		for (i = start, k = 0; i < n && k < EXPIRE_PUSH_BATCH; i++) {
			if (strcmp(items[i].status, "removed") != 0)
				continue;
			git_oid_tostr(hex, sizeof(hex), &items[i].tip);
			idx[k++] = i;
			lines = xrealloc(lines,
			    (nl + 1 + items[i].ntag_lines) * sizeof(char *));
			lines[nl++] = xasprintf("%s %s%s%s", items[i].ref, hex,
			    items[i].archive ? " " : "",
			    items[i].archive ? items[i].archive : "");
			for (j = 0; j < items[i].ntag_lines; j++)
				lines[nl++] = xstrdup(items[i].tag_lines[j]);
		}
		if (k == 0)
			continue;
		memset(&text, 0, sizeof(text));
		r = store_push_op(st, "expire", lines, nl, &text, err);
		expire_remote_marks(items, idx, k, text.data);
		buf_dispose(&text);
		for (j = 0; j < nl; j++)
			free(lines[j]);
		if (r < 0 && rc == 0)
			rc = r;
	}
	free(lines);
	return rc;
}

/* The report of one run. */
static cJSON *
expire_report(const struct store_expire_opts *o, struct expire_item *items,
    size_t n, const char *remote)
{
	cJSON *rep = cJSON_CreateObject(), *arr, *b;
	size_t i, removed = 0;

	cJSON_AddNumberToObject(rep, "older_than_s", (double)o->older_than_s);
	cJSON_AddBoolToObject(rep, "dry_run", o->dry_run);
	arr = cJSON_AddArrayToObject(rep, "branches");
	for (i = 0; i < n; i++) {
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "branch",
		    items[i].ref + strlen("refs/heads/"));
		cJSON_AddStringToObject(b, "tip",
		    git_oid_tostr_s(&items[i].tip));
		cJSON_AddNumberToObject(b, "time", (double)items[i].time);
		cJSON_AddStringToObject(b, "status", items[i].status);
		if (items[i].archive != NULL &&
		    strcmp(items[i].status, "removed") == 0)
			cJSON_AddStringToObject(b, "archive", items[i].archive);
		cJSON_AddItemToObject(b, "tags", items[i].tags);
		items[i].tags = NULL;
		if (remote != NULL && strcmp(items[i].status, "removed") == 0)
			cJSON_AddBoolToObject(b, "remote_removed",
			    items[i].remote_done);
		cJSON_AddItemToArray(arr, b);
		if (strcmp(items[i].status, "removed") == 0)
			removed++;
	}
	cJSON_AddNumberToObject(rep, "removed", (double)removed);
	cJSON_AddNumberToObject(rep, "kept",
	    (double)(o->dry_run ? n : n - removed));
	cJSON_AddStringToObject(rep, "remote", remote ? remote : "disabled");
	return rep;
}

#ifdef ARTIFACTD_TEST_HOOKS
/* Test builds only: with ARTIFACTD_TEST_EXPIRE_GATE=<dir>, say
 * "<dir>/judged" after judging and wait (at most 60 s) for "<dir>/go", so
 * a test can move a branch between the judgement and the delete. */
static void
expire_test_gate(void)
{
	const char *dir = getenv("ARTIFACTD_TEST_EXPIRE_GATE");
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char *judged, *go;
	int i, fd;

	if (dir == NULL)
		return;
	judged = xasprintf("%s/judged", dir);
	go = xasprintf("%s/go", dir);
	if ((fd = open(judged, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	for (i = 0; i < 6000 && access(go, F_OK) != 0; i++)
		nanosleep(&ts, NULL);
	free(judged);
	free(go);
}
#endif

/* The repository's expiry lock: *fd held until closed. Returns 0 or
 * ERR_TRANSIENT (code BUSY: another run holds it; IO). */
static int
expire_lock(const struct store *st, int *fd, struct error *err)
{
	char *path = xasprintf("%s/artifactd-expire.lock", st->opts.repo_path);
	int rc = 0;

	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0)
		rc = error_set(err, ERR_FAIL, "IO", "open %s: %s", path,
		    strerror(errno));
	else if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK
		         ? error_set(err, ERR_TRANSIENT, "BUSY",
		               "another expiry runs on this repository")
		         : error_set(err, ERR_FAIL, "IO", "flock %s: %s", path,
		               strerror(errno));
		close(*fd);
		*fd = -1;
	}
	free(path);
	return rc;
}

int
store_expire(struct store *st, const struct store_expire_opts *o, cJSON **out,
    struct error *err)
{
	git_repository *repo = NULL;
	struct expire_item *items = NULL;
	struct error rerr = { 0 };
	const char *remote = NULL;
	size_t n = 0, i, j;
	int rc, lockfd = -1;

	if (o->older_than_s <= 0 || o->older_than_s > EXPIRE_AGE_MAX)
		return error_set(err, ERR_INVALID, "INVALID_ARGUMENT",
		    "the age must be 1 s to 100 years");
	if (!o->dry_run && (rc = expire_lock(st, &lockfd, err)) < 0)
		return rc;
	if ((rc = store_repo_acquire(st, &repo, err)) < 0) {
		close(lockfd);
		return rc;
	}
	if ((rc = expire_judge(st, repo,
	         (git_time_t)time(NULL) - (git_time_t)o->older_than_s, &items,
	         &n, err)) < 0)
		goto out;
#ifdef ARTIFACTD_TEST_HOOKS
	if (!o->dry_run)
		expire_test_gate();
#endif
	for (i = 0; i < n; i++)
		if ((rc = expire_one(repo, o, &items[i], err)) < 0)
			goto out;
	if (!o->dry_run && st->push_url != NULL && st->opts.auto_push) {
		remote = "ok";
		if (expire_remote(st, items, n, &rerr) < 0) {
			remote = "failed";
			log_warnx("store_expire_remote_failed error=\"%s\"",
			    rerr.msg);
		}
	}
	*out = expire_report(o, items, n, remote);
	log_info("store_expire older_than_s=%lld judged=%zu dry_run=%s "
	         "remote=%s",
	    o->older_than_s, n, log_bool(o->dry_run),
	    remote ? remote : "disabled");
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		free(items[i].ref);
		free(items[i].archive);
		cJSON_Delete(items[i].tags);
		for (j = 0; j < items[i].ntag_lines; j++)
			free(items[i].tag_lines[j]);
		free(items[i].tag_lines);
	}
	free(items);
	store_repo_release(st, repo);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}
