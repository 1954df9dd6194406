/*
 * store_query.c - reading the store back (list, show) and rolling a branch
 * back to a tagged tree (revert).
 *
 * Lookups are exact wherever the question allows it: show is one tag
 * lookup (refs/tags/corr_<id>), never a walk over all refs, so it stays
 * fast with 100 000 refs (store.md 4). list iterates only the branches
 * under the prefix (a glob on refs/heads/<prefix>/[<wf>/]*). revert writes
 * a new commit whose tree is the tagged tree on top of the branch tip,
 * with the same compare-and-swap loop as commits: history is never
 * rewritten and the push stays a fast-forward (store.md 3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/store_int.h"

/* Default and ceiling of list's limit: the seed's default is 50, and
 * 10 000 metadata files are about 10 MB of JSON. */
#define STORE_LIST_DEFAULT 50
#define STORE_LIST_MAX 10000
/* Commits list's walk reads at most: every task branch also reaches the
 * base branch's history, which holds no artifact commit; a million
 * commit reads is a few seconds, a bound on a query that asks for more
 * artifacts than there are. */
#define STORE_LIST_WALK_MAX 1000000

/* Add commit facts that are not in metadata.json. */
static void
query_decorate(cJSON *meta, const char *branch, const git_oid *cid)
{
	cJSON_DeleteItemFromObject(meta, "commit_sha");
	cJSON_DeleteItemFromObject(meta, "branch");
	cJSON_AddStringToObject(meta, "commit_sha", git_oid_tostr_s(cid));
	cJSON_AddStringToObject(meta, "branch", branch);
}

/* One commit of list's walk: the metadata of an artifact commit of the
 * workflow (any, when wf is NULL) appended to arr; other commits (the
 * base branch's, reverts) are passed over. */
static void
list_add(struct store *st, git_repository *repo, const git_commit *c,
    const char *wf, cJSON *arr)
{
	struct store_trailers t;
	cJSON *meta = NULL;
	char *dir, *path, *branch;

	store_trailers_parse(&t, git_commit_message(c));
	if (t.event_id[0] == '\0' || !util_id_valid(t.workflow_id) ||
	    !util_id_valid(t.task_id) ||
	    (wf != NULL && strcmp(t.workflow_id, wf) != 0))
		return;
	dir = store_task_dir(st, t.workflow_id, t.task_id);
	path = *dir ? xasprintf("%s/%s", dir, st->opts.metadata_filename)
	            : xstrdup(st->opts.metadata_filename);
	if (store_read_metadata(&meta, repo, git_commit_id(c), path, NULL) ==
	    0) {
		branch = xasprintf("%s/%s/%s", st->opts.branch_prefix,
		    t.workflow_id, t.task_id);
		query_decorate(meta, branch, git_commit_id(c));
		cJSON_AddItemToArray(arr, meta);
		free(branch);
	}
	free(path);
	free(dir);
}

/* list's queue: commits by time, newest on top (a binary max-heap). */
struct list_heap {
	struct list_node {
		git_time_t time;
		git_oid id;
	} * v;
	size_t n;
};

static void
list_heap_push(struct list_heap *h, git_time_t time, const git_oid *id)
{
	struct list_node t;
	size_t i = h->n++, p;

	h->v = xrealloc(h->v, h->n * sizeof(*h->v));
	h->v[i].time = time;
	git_oid_cpy(&h->v[i].id, id);
	for (; i > 0 && h->v[p = (i - 1) / 2].time < h->v[i].time; i = p) {
		t = h->v[p];
		h->v[p] = h->v[i];
		h->v[i] = t;
	}
}

static bool
list_heap_pop(struct list_heap *h, git_oid *id)
{
	struct list_node t;
	size_t i = 0, c;

	if (h->n == 0)
		return false;
	git_oid_cpy(id, &h->v[0].id);
	h->v[0] = h->v[--h->n];
	while ((c = 2 * i + 1) < h->n) {
		if (c + 1 < h->n && h->v[c + 1].time > h->v[c].time)
			c++;
		if (h->v[c].time <= h->v[i].time)
			break;
		t = h->v[c];
		h->v[c] = h->v[i];
		h->v[i] = t;
		i = c;
	}
	return true;
}

/* The tips of the task branches (refs/heads/<prefix>/[<wf>/]*, read once)
 * into the heap. */
static int
list_tips(struct store *st, git_repository *repo, const char *workflow_id,
    struct list_heap *h, struct error *err)
{
	git_reference_iterator *it = NULL;
	git_commit *c = NULL;
	const char *name;
	char *glob;
	git_oid id;
	int grc;

	glob = workflow_id
	           ? xasprintf("refs/heads/%s/%s/*", st->opts.branch_prefix,
	                 workflow_id)
	           : xasprintf("refs/heads/%s/*", st->opts.branch_prefix);
	grc = STORE_GIT(git_reference_iterator_glob_new(&it, repo, glob));
	free(glob);
	if (grc < 0)
		return store_git_error(err, grc, "list branches");
	while (git_reference_next_name(&name, it) == 0) {
		if (git_reference_name_to_id(&id, repo, name) < 0 ||
		    git_commit_lookup(&c, repo, &id) < 0) {
			git_error_clear();
			continue;
		}
		list_heap_push(h, git_commit_time(c), &id);
		git_commit_free(c);
		c = NULL;
	}
	git_error_clear();
	git_reference_iterator_free(it);
	return 0;
}

/*
 * Every artifact commit, newest first: the task branches' tips (the refs
 * are read once) go into a heap by commit time; the newest is taken,
 * reported when it is an artifact commit, and replaced by its first
 * parent while that is still the task's history (an artifact or revert
 * commit); the base branch's history below is never walked. So a list
 * reads each tip once plus `limit` commits, however long the histories
 * are. (libgit2's GIT_SORT_TIME revwalk sorts its whole input first:
 * 7-10 s for 50 000 tips.)
 */
int
store_list(struct store *st, cJSON **out, const char *workflow_id, size_t limit,
    struct error *err)
{
	struct store_trailers t;
	struct list_heap h = { NULL, 0 };
	git_repository *repo = NULL;
	git_commit *c = NULL, *p = NULL;
	git_oid id;
	size_t visited = 0;
	cJSON *arr = NULL;
	int rc;

	if (workflow_id != NULL && !util_id_valid(workflow_id))
		return error_set(err, ERR_INVALID, "INVALID_ARGUMENT",
		    "workflow id must be 1-128 characters of [A-Za-z0-9._-]");
	if (limit == 0)
		limit = STORE_LIST_DEFAULT;
	if (limit > STORE_LIST_MAX)
		limit = STORE_LIST_MAX;
	if ((rc = store_repo_acquire(st, &repo, err)) < 0)
		return rc;
	if ((rc = list_tips(st, repo, workflow_id, &h, err)) < 0)
		goto out;
	arr = cJSON_CreateArray();
	while ((size_t)cJSON_GetArraySize(arr) < limit &&
	       visited++ < STORE_LIST_WALK_MAX && list_heap_pop(&h, &id)) {
		if (git_commit_lookup(&c, repo, &id) < 0) {
			git_error_clear();
			continue;
		}
		list_add(st, repo, c, workflow_id, arr);
		store_trailers_parse(&t, git_commit_message(c));
		if ((util_id_valid(t.task_id) || t.reverted_to[0] != '\0') &&
		    git_commit_parentcount(c) > 0 &&
		    git_commit_parent(&p, c, 0) == 0)
			list_heap_push(&h, git_commit_time(p),
			    git_commit_id(p));
		git_error_clear();
		git_commit_free(p);
		git_commit_free(c);
		p = c = NULL;
	}
	*out = arr;
	arr = NULL;
	rc = 0;
out:
	cJSON_Delete(arr);
	free(h.v);
	store_repo_release(st, repo);
	return rc;
}

int
store_show(struct store *st, cJSON **out, const char *correlation_id,
    struct error *err)
{
	struct store_trailers t;
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_oid cid;
	cJSON *meta = NULL;
	char *tag = NULL, *ref = NULL, *dir = NULL, *path = NULL,
	     *branch = NULL;
	int grc, rc;

	if (correlation_id == NULL || !util_id_valid(correlation_id))
		return error_set(err, ERR_INVALID, "INVALID_ARGUMENT",
		    "correlation id must be 1-128 characters of "
		    "[A-Za-z0-9._-]");
	if ((rc = store_repo_acquire(st, &repo, err)) < 0)
		return rc;
	tag = store_corr_tag(correlation_id);
	ref = xasprintf("refs/tags/%s", tag);
	if ((rc = store_ref_commit(&cid, repo, ref, err)) < 0) {
		if (rc == ERR_NOTFOUND)
			error_set(err, ERR_NOTFOUND, "NOT_FOUND",
			    "no artifact with correlation id %s",
			    correlation_id);
		goto out;
	}
	if ((grc = STORE_GIT(git_commit_lookup(&c, repo, &cid))) < 0) {
		rc = store_git_error(err, grc, "read commit");
		goto out;
	}
	store_trailers_parse(&t, git_commit_message(c));
	if (!util_id_valid(t.workflow_id) || !util_id_valid(t.task_id)) {
		rc = error_set(err, ERR_NOTFOUND, "NOT_FOUND",
		    "tag %s is not on an artifact commit", tag);
		goto out;
	}
	dir = store_task_dir(st, t.workflow_id, t.task_id);
	path = *dir ? xasprintf("%s/%s", dir, st->opts.metadata_filename)
	            : xstrdup(st->opts.metadata_filename);
	if ((rc = store_read_metadata(&meta, repo, &cid, path, err)) < 0)
		goto out;
	branch = xasprintf("%s/%s/%s", st->opts.branch_prefix, t.workflow_id,
	    t.task_id);
	query_decorate(meta, branch, &cid);
	if (cJSON_GetObjectItemCaseSensitive(meta, "files") == NULL)
		cJSON_AddArrayToObject(meta, "files");
	*out = meta;
	meta = NULL;
	rc = 0;
out:
	cJSON_Delete(meta);
	git_commit_free(c);
	free(tag);
	free(ref);
	free(dir);
	free(path);
	free(branch);
	store_repo_release(st, repo);
	return rc;
}

/* Search the last commits of a branch for an Event-Id trailer. */
static bool
revert_find_event(git_oid *found, git_repository *repo, const git_oid *tip,
    const char *event_id)
{
	struct store_trailers t;
	git_commit *c = NULL, *p = NULL;
	bool hit = false;
	int i;

	if (git_commit_lookup(&c, repo, tip) < 0) {
		git_error_clear();
		return false;
	}
	for (i = 0; i < STORE_DEDUPE_WALK && c != NULL; i++) {
		store_trailers_parse(&t, git_commit_message(c));
		if (strcmp(t.event_id, event_id) == 0) {
			git_oid_cpy(found, git_commit_id(c));
			hit = true;
			break;
		}
		if (git_commit_parentcount(c) == 0 ||
		    git_commit_parent(&p, c, 0) < 0)
			break;
		git_commit_free(c);
		c = p;
		p = NULL;
	}
	git_error_clear();
	git_commit_free(c);
	return hit;
}

/* Check store_revert's arguments; *bref gets the branch's ref name
 * (caller frees) and *branch the base branch when none is given. */
static int
revert_args(const struct store *st, const char *tag, const char **branch,
    const char *event_id, char **bref, struct error *err)
{
	int valid = 0;

	if (tag == NULL || !util_id_valid(tag))
		return error_set(err, ERR_INVALID, "INVALID_ARGUMENT",
		    "tag must be 1-128 characters of [A-Za-z0-9._-]");
	if (*branch == NULL || **branch == '\0')
		*branch = st->opts.base_branch;
	*bref = xasprintf("refs/heads/%s", *branch);
	if (git_reference_name_is_valid(&valid, *bref) < 0 || !valid) {
		free(*bref);
		*bref = NULL;
		return error_set(err, ERR_INVALID, "INVALID_ARGUMENT",
		    "\"%.200s\" is not a valid branch name", *branch);
	}
	if (event_id != NULL && (*event_id == '\0' || strlen(event_id) > 128 ||
	                            strpbrk(event_id, " \t\r\n") != NULL)) {
		free(*bref);
		*bref = NULL;
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "event_id must be 1-128 printable characters");
	}
	return 0;
}

/*
 * One attempt of the revert commit (tree, msg) on bref: on the tip, or,
 * when the branch does not exist and may be created (the base branch: a
 * repository artifactd created has none, and it is the seed's default
 * target), as the branch's first commit, written only if still absent.
 * Any other missing branch is ERR_NOTFOUND: a typo must not make one.
 * Returns 0 (written or *dup), 1 (the branch moved or is locked: retry)
 * or an error.
 */
static int
revert_once(struct store *st, git_repository *repo, const char *bref,
    const char *event_id, const git_tree *tree, const git_signature *sig,
    const char *msg, bool may_create, git_oid *cid, bool *dup, int attempt,
    struct error *err)
{
	git_commit *tipc = NULL;
	git_reference *r = NULL;
	const git_commit *parents[1];
	git_oid tip;
	bool have_tip = true;
	int grc, rc;

	if ((rc = store_ref_commit(&tip, repo, bref, err)) == ERR_NOTFOUND &&
	    may_create) {
		error_clear(err);
		have_tip = false;
		memset(&tip, 0, sizeof(tip));
	} else if (rc == ERR_NOTFOUND) {
		return error_set(err, ERR_NOTFOUND, "NOT_FOUND", "no branch %s",
		    bref + strlen("refs/heads/"));
	} else if (rc < 0) {
		return rc;
	}
	if (have_tip && event_id != NULL &&
	    revert_find_event(cid, repo, &tip, event_id)) {
		*dup = true;
		return 0;
	}
	if (have_tip &&
	    (grc = STORE_GIT(git_commit_lookup(&tipc, repo, &tip))) < 0)
		return store_git_error(err, grc, "read branch tip");
	/* Already showing that tree: nothing to write. */
	if (have_tip &&
	    git_oid_equal(git_commit_tree_id(tipc), git_tree_id(tree))) {
		git_oid_cpy(cid, &tip);
		*dup = true;
		rc = 0;
		goto out;
	}
	parents[0] = tipc;
	if ((rc = store_commit_write(cid, repo, st, sig, sig, NULL, msg, tree,
	         have_tip ? 1 : 0, parents, err)) < 0)
		goto out;
	/* The zero id as expected value: create only if absent. */
	grc = STORE_GIT(git_reference_create_matching(&r, repo, bref, cid, 1,
	    &tip, "artifactd: revert"));
	git_reference_free(r);
	rc = 0;
	if (grc == GIT_EMODIFIED || grc == GIT_ELOCKED) {
		git_error_clear();
		if (grc == GIT_ELOCKED)
			store_lock_check(repo, bref, attempt);
		rc = 1;
	} else if (grc < 0) {
		rc = store_git_error(err, grc, "update branch");
	}
out:
	git_commit_free(tipc);
	return rc;
}

/* revert_once until it is not told to retry, at most STORE_CAS_ATTEMPTS
 * times. *dup when the event is on the branch already or the tip shows
 * that tree: *cid is then that commit. */
static int
revert_cas(struct store *st, git_repository *repo, const char *bref,
    const char *branch, const char *event_id, const git_tree *tree,
    const git_signature *sig, const char *msg, git_oid *cid, bool *dup,
    struct error *err)
{
	int attempt, rc;

	for (attempt = 0; attempt < STORE_CAS_ATTEMPTS; attempt++) {
		rc = revert_once(st, repo, bref, event_id, tree, sig, msg,
		    strcmp(branch, st->opts.base_branch) == 0, cid, dup,
		    attempt, err);
		if (rc <= 0)
			return rc;
		store_backoff(attempt);
	}
	return error_set(err, ERR_TRANSIENT, "GIT", "branch %s kept moving",
	    branch);
}

/*
 * max_rollback_depth (seed 003): the tagged commit must be at most that
 * many first-parent commits behind the tip of its own task branch
 * (named by its trailers; refs/archive/<branch> once expired). A tag on
 * a commit that is no artifact commit (no Workflow-Id/Task-Id) has no
 * task branch and is not limited. Returns 0 or ERR_INVALID (code
 * ROLLBACK_TOO_DEEP).
 */
static int
revert_depth_check(const struct store *st, git_repository *repo,
    const git_commit *tagc, const char *tag, struct error *err)
{
	struct store_trailers t;
	git_commit *c = NULL, *p = NULL;
	char *bref = NULL, *aref = NULL;
	git_oid tip;
	int depth = -1, i, max = st->opts.max_rollback_depth;

	store_trailers_parse(&t, git_commit_message(tagc));
	if (max <= 0 || !util_id_valid(t.workflow_id) ||
	    !util_id_valid(t.task_id))
		return 0;
	bref = store_branch_ref(st, t.workflow_id, t.task_id);
	aref = xasprintf("refs/archive/%s", bref + strlen("refs/heads/"));
	if ((store_ref_commit(&tip, repo, bref, NULL) == 0 ||
	        store_ref_commit(&tip, repo, aref, NULL) == 0) &&
	    git_commit_lookup(&c, repo, &tip) == 0) {
		for (i = 0; i <= max && c != NULL; i++) {
			if (git_oid_equal(git_commit_id(c),
			        git_commit_id(tagc))) {
				depth = i;
				break;
			}
			if (git_commit_parentcount(c) == 0 ||
			    git_commit_parent(&p, c, 0) < 0)
				break;
			git_commit_free(c);
			c = p;
			p = NULL;
		}
	}
	git_error_clear();
	git_commit_free(c);
	free(aref);
	if (depth < 0) {
		error_set(err, ERR_INVALID, "ROLLBACK_TOO_DEEP",
		    "%s is more than max_rollback_depth=%d commits behind the "
		    "tip of %s",
		    tag, max, bref + strlen("refs/heads/"));
		free(bref);
		return ERR_INVALID;
	}
	free(bref);
	return 0;
}

int
store_revert(struct store *st, cJSON **out, const char *tag, const char *branch,
    const char *event_id, struct error *err)
{
	git_repository *repo = NULL;
	git_commit *tagc = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_oid tagid, cid, newtip;
	char *tagref = NULL, *bref = NULL, *msg = NULL;
	char tagsha[GIT_OID_HEXSZ + 1];
	bool dup = false, pushed = false;
	enum store_push push = STORE_PUSH_DISABLED;
	int grc, rc;
	cJSON *o;

	if ((rc = revert_args(st, tag, &branch, event_id, &bref, err)) < 0)
		return rc;
	if ((rc = store_repo_acquire(st, &repo, err)) < 0) {
		free(bref);
		return rc;
	}
	tagref = xasprintf("refs/tags/%s", tag);
	if ((rc = store_ref_commit(&tagid, repo, tagref, err)) < 0) {
		if (rc == ERR_NOTFOUND)
			error_set(err, ERR_NOTFOUND, "NOT_FOUND", "no tag %s",
			    tag);
		goto out;
	}
	git_oid_tostr(tagsha, sizeof(tagsha), &tagid);
	if ((grc = STORE_GIT(git_commit_lookup(&tagc, repo, &tagid))) < 0 ||
	    (grc = STORE_GIT(git_commit_tree(&tree, tagc))) < 0) {
		rc = store_git_error(err, grc, "read tagged commit");
		goto out;
	}
	if ((rc = revert_depth_check(st, repo, tagc, tag, err)) < 0)
		goto out;
	msg = xasprintf("Revert %s to %s\n\nRestores the tree of %s (%s).\n\n"
	                "%s%s%sReverted-To: %s\n",
	    branch, tag, tag, tagsha, event_id ? "Event-Id: " : "",
	    event_id ? event_id : "", event_id ? "\n" : "", tag);
	if ((grc = STORE_GIT(git_signature_now(&sig, st->opts.author_name,
	         st->opts.author_email))) < 0) {
		rc = store_git_error(err, grc, "author signature");
		goto out;
	}
	if ((rc = revert_cas(st, repo, bref, branch, event_id, tree, sig, msg,
	         &cid, &dup, err)) < 0)
		goto out;
	if (st->opts.auto_push && st->push_url != NULL) {
		struct error perr;

		error_clear(&perr);
		push = STORE_PUSH_FAILED;
		if (store_push_batched(st, repo, bref, NULL, 0, &newtip,
		        &perr) == 0) {
			pushed = true;
			push = STORE_PUSH_OK;
			/* Rebuilt on the remote's tip: find it again. */
			if (event_id != NULL && !git_oid_equal(&cid, &newtip))
				(void)revert_find_event(&cid, repo, &newtip,
				    event_id);
		} else {
			log_warnx("store_push_deferred branch=%s error=\"%s\"",
			    branch, perr.msg);
		}
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "branch", branch);
	cJSON_AddStringToObject(o, "commit_sha", git_oid_tostr_s(&cid));
	cJSON_AddStringToObject(o, "reverted_to", tag);
	cJSON_AddStringToObject(o, "reverted_to_sha", tagsha);
	cJSON_AddBoolToObject(o, "pushed", pushed);
	cJSON_AddStringToObject(o, "push", store_push_name(push));
	cJSON_AddBoolToObject(o, "duplicate", dup);
	log_info("store_revert branch=%s tag=%s sha=%s duplicate=%s", branch,
	    tag, git_oid_tostr_s(&cid), log_bool(dup));
	*out = o;
	rc = 0;
out:
	git_signature_free(sig);
	git_tree_free(tree);
	git_commit_free(tagc);
	free(tagref);
	free(bref);
	free(msg);
	store_repo_release(st, repo);
	return rc;
}
