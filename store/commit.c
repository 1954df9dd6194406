/*
 * commit.c - the commit path (seed 003): store_commit() validates an
 * event's files, plans the tree, metadata and provenance, scans them,
 * writes the blobs and one commit, moves the branch by compare-and-swap,
 * claims the tags and pushes (push.c).
 *
 * A commit is built without a working tree: blobs from memory, one
 * git_tree_create_updated() on the branch tip's tree, git_commit_create()
 * without update_ref, then a compare-and-swap of the branch ref with
 * git_reference_create_matching(), retried with jittered backoff on
 * GIT_EMODIFIED / GIT_ELOCKED (store.md 1.3, 1.4). Tags are created the
 * same way against the zero id, so they are never moved: the first commit
 * to claim a tag name keeps it. Idempotency needs nothing but git: the
 * Event-Id trailer of recent commits on the branch and the commit behind
 * the corr_ tag say whether an event was already committed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/provenance.h"
#include "store/scan.h"
#include "store/store_int.h"

/* Event ids go into a trailer line; a ULID or a Redis stream id is 26
 * characters, a UUID 36. */
#define STORE_EVENT_ID_MAX 128

/* The commit path ---------------------------------------------------------- */

/* Everything one store_commit() computes before touching the repository. */
struct store_plan {
	char *branch_ref; /* refs/heads/... */
	char *task_dir;
	char **paths; /* repository paths of the files, then metadata */
	git_oid *ids; /* blob ids (hashed only until written) */
	char **data;  /* borrowed bytes, parallel to paths */
	size_t *len;
	size_t n; /* files + metadata */
	size_t nfiles;
	char *metadata;   /* owned JSON text, or NULL */
	char *provenance; /* owned DSSE envelope, or NULL (no signing key) */
	char *message;
	char *tags[2];
	size_t ntags;
	char timestamp[32];
	int64_t time_ms;
};

static void
store_plan_dispose(struct store_plan *p)
{
	size_t i;

	free(p->branch_ref);
	free(p->task_dir);
	for (i = 0; i < p->n; i++)
		free(p->paths[i]);
	free(p->paths);
	free(p->ids);
	free(p->data);
	free(p->len);
	free(p->metadata);
	free(p->provenance);
	free(p->message);
	for (i = 0; i < p->ntags; i++)
		free(p->tags[i]);
}

/* An artifact name below the task directory: relative, '/'-separated
 * components that are each safe identifiers (no "..", no ".git"). */
static bool
store_name_valid(const char *name)
{
	char part[STORE_NAME_MAX];
	const char *p = name, *slash;
	size_t n;

	if (name == NULL || *name == '\0' || strlen(name) >= STORE_NAME_MAX)
		return false;
	while (*p != '\0') {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n >= sizeof(part))
			return false;
		memcpy(part, p, n);
		part[n] = '\0';
		if (!util_id_valid(part) || strcasecmp(part, ".git") == 0)
			return false;
		p += n;
		if (*p == '/')
			p++;
		else
			break;
	}
	return name[strlen(name) - 1] != '/';
}

static bool
store_event_id_valid(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > STORE_EVENT_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

static int
store_cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A name given twice, found by sorting (n log n): comparing each name
 * with every earlier one took most of 39 s for 80,000 files. */
static int
store_names_unique(const struct store_commit_req *req, struct error *err)
{
	const char **names = xcalloc(req->nfiles, sizeof(*names));
	size_t i;
	int rc = 0;

	for (i = 0; i < req->nfiles; i++)
		names[i] = req->files[i].name;
	qsort(names, req->nfiles, sizeof(*names), store_cmp_name);
	for (i = 1; i < req->nfiles && rc == 0; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			rc = error_set(err, ERR_INVALID, "PATH_REJECTED",
			    "artifact name \"%.200s\" given twice", names[i]);
	free(names);
	return rc;
}

static int
store_validate(const struct store *st, const struct store_commit_req *req,
    struct error *err)
{
	size_t i;

	if (!store_event_id_valid(req->event_id))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "event_id is missing or not printable ASCII of at most "
		    "%d characters",
		    STORE_EVENT_ID_MAX);
	if (!util_id_valid(req->workflow_id) || !util_id_valid(req->task_id))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "workflow_id and task_id must be 1-128 characters of "
		    "[A-Za-z0-9._-]");
	if (req->correlation_id == NULL && st->opts.require_correlation_id)
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "correlation_id is required");
	if (req->correlation_id != NULL && !util_id_valid(req->correlation_id))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "correlation_id must be 1-128 characters of "
		    "[A-Za-z0-9._-]");
	if (req->prompt_hash != NULL && !util_id_valid(req->prompt_hash))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "prompt_hash must be 1-128 characters of [A-Za-z0-9._-]");
	if (req->nfiles == 0)
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "no files to commit");
	for (i = 0; i < req->nfiles; i++) {
		const char *name = req->files[i].name;

		if (!store_name_valid(name))
			return error_set(err, ERR_INVALID, "PATH_REJECTED",
			    "artifact name \"%.200s\" is not a safe relative "
			    "path",
			    name ? name : "");
		if (st->opts.include_metadata &&
		    strcmp(name, st->opts.metadata_filename) == 0)
			return error_set(err, ERR_INVALID, "PATH_REJECTED",
			    "artifact name \"%.200s\" is reserved for the "
			    "metadata",
			    name);
		if (st->signer != NULL &&
		    strcmp(name, PROVENANCE_FILENAME) == 0)
			return error_set(err, ERR_INVALID, "PATH_REJECTED",
			    "artifact name \"%.200s\" is reserved for the "
			    "provenance",
			    name);
	}
	return store_names_unique(req, err);
}

static cJSON *
store_json_str(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* metadata.json in the seed's schema, then the event's extra keys. */
static char *
store_metadata_json(const struct store_plan *p,
    const struct store_commit_req *req)
{
	static const char *const core[] = { "workflow_id", "task_id",
		"correlation_id", "prompt_hash", "commit_timestamp",
		"agent_version", "llm_version", "test_metrics", "files" };
	cJSON *m = cJSON_CreateObject(), *files, *it;
	char *text;
	size_t i;

	cJSON_AddItemToObject(m, "workflow_id",
	    cJSON_CreateString(req->workflow_id));
	cJSON_AddItemToObject(m, "task_id", cJSON_CreateString(req->task_id));
	cJSON_AddItemToObject(m, "correlation_id",
	    store_json_str(req->correlation_id));
	cJSON_AddItemToObject(m, "prompt_hash",
	    store_json_str(req->prompt_hash));
	cJSON_AddItemToObject(m, "commit_timestamp",
	    cJSON_CreateString(p->timestamp));
	cJSON_AddItemToObject(m, "agent_version",
	    store_json_str(req->agent_version));
	cJSON_AddItemToObject(m, "llm_version",
	    store_json_str(req->llm_version));
	cJSON_AddItemToObject(m, "test_metrics",
	    req->test_metrics ? cJSON_Duplicate(req->test_metrics, 1)
	                      : cJSON_CreateObject());
	files = cJSON_AddArrayToObject(m, "files");
	for (i = 0; i < p->n; i++)
		cJSON_AddItemToArray(files, cJSON_CreateString(p->paths[i]));
	if (req->extra != NULL && cJSON_IsObject(req->extra)) {
		cJSON_ArrayForEach(it, req->extra) {
			bool reserved = false;

			for (i = 0; i < sizeof(core) / sizeof(core[0]); i++)
				if (strcmp(it->string, core[i]) == 0)
					reserved = true;
			if (!reserved)
				cJSON_AddItemToObject(m, it->string,
				    cJSON_Duplicate(it, 1));
		}
	}
	text = cJSON_Print(m);
	cJSON_Delete(m);
	if (text == NULL)
		abort(); /* cJSON only fails on allocation */
	return text;
}

/* The signed provenance of the files and metadata (all but the last
 * path, which is the envelope's own), into the last slot. */
static int
store_plan_provenance(struct store_plan *p, const struct store *st,
    const struct store_commit_req *req, struct error *err)
{
	struct provenance_in in = { 0 };
	int rc;

	in.event_id = req->event_id;
	in.correlation_id = req->correlation_id;
	in.workflow_id = req->workflow_id;
	in.task_id = req->task_id;
	in.prompt_hash = req->prompt_hash;
	in.agent_version = req->agent_version;
	in.llm_version = req->llm_version;
	in.test_metrics = req->test_metrics;
	in.consumer = st->consumer;
	in.timestamp = p->timestamp;
	in.branch = p->branch_ref + strlen("refs/heads/");
	in.names = p->paths;
	in.data = p->data;
	in.len = p->len;
	in.n = p->n - 1;
	if ((rc = provenance_build(&p->provenance, st->signer, &in, err)) < 0)
		return rc;
	p->data[p->n - 1] = p->provenance;
	p->len[p->n - 1] = strlen(p->provenance);
	return 0;
}

static int
store_plan_build(struct store_plan *p, const struct store *st,
    const struct store_commit_req *req, struct error *err)
{
	struct buf b;
	size_t i, n;
	char *text;
	int rc;

	memset(p, 0, sizeof(*p));
	p->time_ms = util_now_ms();
	util_now_iso8601(p->timestamp, sizeof(p->timestamp));
	p->branch_ref = store_branch_ref(st, req->workflow_id, req->task_id);
	p->task_dir = store_task_dir(st, req->workflow_id, req->task_id);
	p->nfiles = req->nfiles;
	n = req->nfiles + (st->opts.include_metadata ? 1 : 0) +
	    (st->signer != NULL ? 1 : 0);
	p->paths = xcalloc(n, sizeof(*p->paths));
	p->ids = xcalloc(n, sizeof(*p->ids));
	p->data = xcalloc(n, sizeof(*p->data));
	p->len = xcalloc(n, sizeof(*p->len));
	for (i = 0; i < req->nfiles; i++) {
		p->paths[i] = p->task_dir[0] ? xasprintf("%s/%s", p->task_dir,
		                                   req->files[i].name)
		                             : xstrdup(req->files[i].name);
		p->data[i] = (char *)(uintptr_t)req->files[i].data;
		p->len[i] = req->files[i].len;
	}
	p->n = req->nfiles;
	if (st->opts.include_metadata)
		p->paths[p->n++] = p->task_dir[0]
		                       ? xasprintf("%s/%s", p->task_dir,
		                             st->opts.metadata_filename)
		                       : xstrdup(st->opts.metadata_filename);
	/* The envelope's path is known now, so metadata.json lists it. */
	if (st->signer != NULL)
		p->paths[p->n++] =
		    p->task_dir[0]
		        ? xasprintf("%s/%s", p->task_dir, PROVENANCE_FILENAME)
		        : xstrdup(PROVENANCE_FILENAME);
	if (st->opts.include_metadata) {
		text = store_metadata_json(p, req);
		p->metadata = text;
		p->data[p->nfiles] = text;
		p->len[p->nfiles] = strlen(text);
	}
	if (st->signer != NULL &&
	    (rc = store_plan_provenance(p, st, req, err)) < 0)
		return rc;
	/* The ids of metadata and provenance only: they are written after
	 * the duplicate check, since their timestamp makes them new on
	 * every attempt. */
	for (i = p->nfiles; i < p->n; i++)
		git_odb_hash(&p->ids[i], p->data[i], p->len[i],
		    GIT_OBJECT_BLOB);

	buf_init(&b, 4096);
	(void)buf_printf(&b,
	    "artifacts: %s/%s\n\nTested artifacts committed by artifactd.\n\n",
	    req->workflow_id, req->task_id);
	(void)buf_printf(&b, "Event-Id: %s\n", req->event_id);
	if (req->correlation_id)
		(void)buf_printf(&b, "Correlation-Id: %s\n",
		    req->correlation_id);
	(void)buf_printf(&b, "Workflow-Id: %s\nTask-Id: %s\n", req->workflow_id,
	    req->task_id);
	if (req->prompt_hash)
		(void)buf_printf(&b, "Prompt-Hash: %s\n", req->prompt_hash);
	/* The W3C trace id (checked hex, from worker/handler.c): a
	 * pipeline follows one task from its span to this commit. */
	if (req->trace_id)
		(void)buf_printf(&b, "Trace-Id: %s\n", req->trace_id);
	p->message = buf_detach(&b, NULL);

	if (req->correlation_id)
		p->tags[p->ntags++] = store_corr_tag(req->correlation_id);
	if (req->prompt_hash)
		p->tags[p->ntags++] = store_prompt_tag(req->prompt_hash);
	return 0;
}

/* True when commit c holds our event: the same Event-Id, or the same
 * correlation/workflow/task with the same file bytes (metadata.json is
 * left out: its timestamp differs on every attempt). */
static bool
store_commit_matches(git_repository *repo, const git_commit *c,
    const struct store_plan *p, const struct store_commit_req *req)
{
	struct store_trailers t;
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	bool same = true;
	size_t i;

	store_trailers_parse(&t, git_commit_message(c));
	if (strcmp(t.event_id, req->event_id) == 0)
		return true;
	if (req->correlation_id == NULL ||
	    strcmp(t.correlation_id, req->correlation_id) != 0 ||
	    strcmp(t.workflow_id, req->workflow_id) != 0 ||
	    strcmp(t.task_id, req->task_id) != 0)
		return false;
	(void)repo;
	if (git_commit_tree(&tree, c) < 0) {
		git_error_clear();
		return false;
	}
	for (i = 0; i < p->nfiles && same; i++) {
		if (git_tree_entry_bypath(&e, tree, p->paths[i]) < 0) {
			git_error_clear();
			same = false;
			break;
		}
		same = git_oid_equal(git_tree_entry_id(e), &p->ids[i]);
		git_tree_entry_free(e);
		e = NULL;
	}
	git_tree_free(tree);
	return same;
}

/*
 * Look for our event among the first STORE_DEDUPE_WALK first-parent
 * commits from `from`, stopping at `stop` (may be NULL). Returns 1 with
 * *found set, 0 when absent, or a negative code.
 */
static int
store_find_event(git_oid *found, git_repository *repo, const git_oid *from,
    const git_oid *stop, const struct store_plan *p,
    const struct store_commit_req *req, struct error *err)
{
	git_commit *c = NULL, *parent = NULL;
	int grc, i, rc = 0;

	if ((grc = STORE_GIT(git_commit_lookup(&c, repo, from))) < 0)
		return store_git_error(err, grc, "read branch tip");
	for (i = 0; i < STORE_DEDUPE_WALK; i++) {
		if (stop != NULL && git_oid_equal(git_commit_id(c), stop))
			break;
		if (store_commit_matches(repo, c, p, req)) {
			git_oid_cpy(found, git_commit_id(c));
			rc = 1;
			break;
		}
		if (git_commit_parentcount(c) == 0)
			break;
		if ((grc = STORE_GIT(git_commit_parent(&parent, c, 0))) < 0) {
			rc = store_git_error(err, grc, "read parent commit");
			break;
		}
		git_commit_free(c);
		c = parent;
		parent = NULL;
	}
	git_commit_free(c);
	return rc;
}

/* A duplicate answers with the original commit's tags (named by its
 * trailers), whatever the redelivered event carried. */
static void
store_plan_tags_from(struct store_plan *p, git_repository *repo,
    const git_oid *cid)
{
	struct store_trailers t;
	git_commit *c = NULL;
	size_t i;

	if (git_commit_lookup(&c, repo, cid) < 0) {
		git_error_clear();
		return;
	}
	store_trailers_parse(&t, git_commit_message(c));
	git_commit_free(c);
	for (i = 0; i < p->ntags; i++)
		free(p->tags[i]);
	p->ntags = 0;
	if (util_id_valid(t.correlation_id))
		p->tags[p->ntags++] = store_corr_tag(t.correlation_id);
	if (util_id_valid(t.prompt_hash))
		p->tags[p->ntags++] = store_prompt_tag(t.prompt_hash);
}

/* Tag `name` on cid with a zero-id compare-and-swap: created, already
 * ours, or another commit's (first wins). Returns 1 when the tag points
 * at cid, 0 when it points elsewhere, or a negative code. */
static int
store_tag(git_repository *repo, const char *name, const git_oid *cid,
    struct error *err)
{
	git_oid zero, cur;
	git_reference *r = NULL;
	char *ref = xasprintf("refs/tags/%s", name);
	int attempt, grc, rc = ERR_TRANSIENT;

	memset(&zero, 0, sizeof(zero));
	for (attempt = 0; attempt < STORE_CAS_ATTEMPTS; attempt++) {
		grc = STORE_GIT(git_reference_create_matching(&r, repo, ref,
		    cid, 1, &zero, "artifactd: tag"));
		git_reference_free(r);
		r = NULL;
		if (grc == 0) {
			rc = 1;
			goto out;
		}
		if (grc == GIT_EMODIFIED || grc == GIT_EEXISTS) {
			git_error_clear();
			rc = store_ref_commit(&cur, repo, ref, err);
			if (rc == ERR_NOTFOUND)
				continue; /* deleted in between: try again */
			if (rc < 0)
				goto out;
			rc = git_oid_equal(&cur, cid) ? 1 : 0;
			goto out;
		}
		if (grc != GIT_ELOCKED) {
			rc = store_git_error(err, grc, "create tag");
			goto out;
		}
		git_error_clear();
		store_lock_check(repo, ref, attempt);
		store_backoff(attempt);
	}
	rc = error_set(err, ERR_TRANSIENT, "GIT",
	    "tag %s stayed locked after %d attempts", name, STORE_CAS_ATTEMPTS);
out:
	free(ref);
	return rc;
}

static void
store_strv_push(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

/* Fill the tags of res for commit cid. Missing tags are created (after a
 * crash between the branch write and the tag write they are ours to
 * finish); tags held by another commit are reported, never moved. */
static int
store_fill_tags(git_repository *repo, const struct store_plan *p,
    const git_oid *cid, struct store_commit_result *res, struct error *err)
{
	size_t i;
	int rc;

	for (i = 0; i < p->ntags; i++) {
		if ((rc = store_tag(repo, p->tags[i], cid, err)) < 0)
			return rc;
		if (rc == 1)
			store_strv_push(&res->tags, &res->ntags, p->tags[i]);
		else {
			store_strv_push(&res->tags_existing,
			    &res->ntags_existing, p->tags[i]);
			log_info("store_tag_exists tag=%s", p->tags[i]);
		}
	}
	store_group_hook("refs-done"); /* test builds: kill here */
	return 0;
}

/*
 * Write the event's files as blobs, which also gives their ids (hashing
 * them separately would read every byte twice). Called after the scan;
 * on a duplicate they already exist and are only freshened. The metadata
 * blob is written by store_write_metadata once we know we commit.
 */
static int
store_write_files(git_repository *repo, struct store_plan *p, struct error *err)
{
	size_t i;
	int grc;

	for (i = 0; i < p->nfiles; i++) {
		grc = STORE_GIT(git_blob_create_from_buffer(&p->ids[i], repo,
		    p->data[i] ? p->data[i] : "", p->len[i]));
		if (grc < 0)
			return store_git_error(err, grc, "write blob");
	}
	return 0;
}

static int
store_write_metadata(git_repository *repo, struct store_plan *p,
    struct error *err)
{
	git_oid id;
	size_t i;
	int grc;

	for (i = p->nfiles; i < p->n; i++) {
		grc = STORE_GIT(git_blob_create_from_buffer(&id, repo,
		    p->data[i], p->len[i]));
		if (grc < 0)
			return store_git_error(err, grc, "write metadata blob");
		if (!git_oid_equal(&id, &p->ids[i]))
			return error_set(err, ERR_FAIL, "GIT",
			    "blob id mismatch for %s", p->paths[i]);
	}
	return 0;
}

/* task_dir_replace: the files under the task directory of the parent's
 * tree that this event does not write, to be removed. */
struct store_stale {
	const char *dir;
	char **keep; /* the plan's paths, sorted */
	size_t nkeep;
	char **paths; /* owned */
	size_t n;
};

static int
store_stale_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct store_stale *s = payload;
	char *path;

	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0;
	path = xasprintf("%s/%s%s", s->dir, root, git_tree_entry_name(e));
	if (bsearch(&path, s->keep, s->nkeep, sizeof(char *), store_cmp_name) !=
	    NULL) {
		free(path);
		return 0;
	}
	s->paths = xrealloc(s->paths, (s->n + 1) * sizeof(char *));
	s->paths[s->n++] = path;
	return 0;
}

/*
 * The tree updates of one commit into *out (caller frees, and frees
 * s->paths): an upsert per planned file, then, with task_dir_replace, a
 * removal per file of the parent's task directory that the event does
 * not list, so the directory holds exactly this event's files. A task
 * directory that is the repository's root is never emptied (it holds
 * the base branch's files). Returns the number of updates.
 */
static size_t
store_tree_updates(git_tree_update **out, struct store_stale *s,
    git_repository *repo, const struct store *st, const struct store_plan *p,
    const git_tree *base)
{
	git_tree_entry *e = NULL;
	git_tree *sub = NULL;
	git_tree_update *upd;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (st->opts.task_dir_replace && base != NULL && p->task_dir[0] &&
	    git_tree_entry_bypath(&e, base, p->task_dir) == 0 &&
	    git_tree_entry_type(e) == GIT_OBJECT_TREE &&
	    git_tree_lookup(&sub, repo, git_tree_entry_id(e)) == 0) {
		s->dir = p->task_dir;
		s->nkeep = p->n;
		s->keep = xcalloc(p->n, sizeof(char *));
		memcpy(s->keep, p->paths, p->n * sizeof(char *));
		qsort(s->keep, s->nkeep, sizeof(char *), store_cmp_name);
		(void)git_tree_walk(sub, GIT_TREEWALK_PRE, store_stale_cb, s);
		free(s->keep);
		s->keep = NULL;
	}
	git_error_clear();
	git_tree_free(sub);
	git_tree_entry_free(e);
	upd = xcalloc(p->n + s->n, sizeof(*upd));
	for (i = 0; i < p->n; i++) {
		upd[i].action = GIT_TREE_UPDATE_UPSERT;
		upd[i].filemode = GIT_FILEMODE_BLOB;
		upd[i].path = p->paths[i];
		git_oid_cpy(&upd[i].id, &p->ids[i]);
	}
	for (i = 0; i < s->n; i++) {
		upd[p->n + i].action = GIT_TREE_UPDATE_REMOVE;
		upd[p->n + i].path = s->paths[i];
	}
	*out = upd;
	return p->n + s->n;
}

/* One attempt: build the commit on the current tip and compare-and-swap
 * the branch. Returns 0 (written, *cid set), 1 (lost the race: retry), 2
 * (the ref was locked: retry) or a negative code. */
static int
store_commit_once(git_repository *repo, struct store *st,
    const struct store_plan *p, const git_oid *tip, bool have_tip, git_oid *cid,
    struct error *err)
{
	git_tree_update *upd = NULL;
	struct store_stale stale = { 0 };
	git_commit *parent = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_signature *sig = NULL;
	git_reference *r = NULL;
	git_oid tree_id, base_id, zero;
	const git_commit *parents[1];
	char *base_ref = NULL;
	bool have_parent = have_tip;
	int grc, rc = ERR_FAIL;
	size_t i, nupd;

	memset(&zero, 0, sizeof(zero));
	if (have_tip) {
		git_oid_cpy(&base_id, tip);
	} else {
		/* A new branch starts from the base branch, or as a root
		 * commit when there is none yet. */
		base_ref = xasprintf("refs/heads/%s", st->opts.base_branch);
		rc = store_ref_commit(&base_id, repo, base_ref, err);
		if (rc == 0)
			have_parent = true;
		else if (rc != ERR_NOTFOUND)
			goto out;
		error_clear(err);
	}
	if (have_parent) {
		if ((grc = STORE_GIT(
		         git_commit_lookup(&parent, repo, &base_id))) < 0 ||
		    (grc = STORE_GIT(git_commit_tree(&base, parent))) < 0) {
			rc = store_git_error(err, grc, "read parent");
			goto out;
		}
	}
	nupd = store_tree_updates(&upd, &stale, repo, st, p, base);
	if ((grc = STORE_GIT(git_tree_create_updated(&tree_id, repo, base, nupd,
	         upd))) < 0 ||
	    (grc = STORE_GIT(git_tree_lookup(&tree, repo, &tree_id))) < 0) {
		rc = store_git_error(err, grc, "build tree");
		goto out;
	}
	if ((grc = STORE_GIT(git_signature_new(&sig, st->opts.author_name,
	         st->opts.author_email, (git_time_t)(p->time_ms / 1000), 0))) <
	    0) {
		rc = store_git_error(err, grc, "author signature");
		goto out;
	}
	parents[0] = parent;
	if ((rc = store_commit_write(cid, repo, st, sig, sig, NULL, p->message,
	         tree, have_parent ? 1 : 0, parents, err)) < 0)
		goto out;
	/* No ref may name an object that is not on disk yet (group.c). */
	if ((rc = store_group_flush(st, repo, err)) < 0)
		goto out;
	grc = STORE_GIT(git_reference_create_matching(&r, repo, p->branch_ref,
	    cid, 1, have_tip ? tip : &zero, "artifactd: commit"));
	if (grc == GIT_EMODIFIED || grc == GIT_ELOCKED) {
		git_error_clear();
		rc = grc == GIT_ELOCKED ? 2 : 1;
		goto out;
	}
	if (grc < 0) {
		rc = store_git_error(err, grc, "update branch");
		goto out;
	}
	rc = 0;
out:
	git_reference_free(r);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
	free(upd);
	for (i = 0; i < stale.n; i++)
		free(stale.paths[i]);
	free(stale.paths);
	free(base_ref);
	return rc;
}

static int
store_scan(struct store *st, const struct store_plan *p, struct error *err)
{
	struct scan_hit hit;
	size_t i;
	int rc;

	if (!st->opts.scan_for_secrets || st->opts.scanner == NULL)
		return 0;
	/* The provenance envelope is ours: base64 of the metadata already
	 * scanned here and of a signature, which entropy rules would flag. */
	for (i = 0; i < p->n - (p->provenance != NULL ? 1 : 0); i++) {
		rc = scanner_scan(st->opts.scanner, p->paths[i],
		    p->data[i] ? p->data[i] : "", p->len[i], &hit, err);
		if (rc < 0) {
			log_warnx("store_secret_detected rule=%s file=\"%s\" "
			          "line=%u fingerprint=%s",
			    hit.rule, p->paths[i], hit.line, hit.fingerprint);
			return rc;
		}
	}
	/* The trailers carry the event's ids (Event-Id, Correlation-Id,
	 * ...), which no file holds: a secret used as an id would land in
	 * git unscanned. */
	rc = scanner_scan(st->opts.scanner, "commit message", p->message,
	    strlen(p->message), &hit, err);
	if (rc < 0)
		log_warnx("store_secret_detected rule=%s file=\"commit "
		          "message\" line=%u fingerprint=%s",
		    hit.rule, hit.line, hit.fingerprint);
	return rc;
}

static void
store_result_fill(struct store_commit_result *res, const struct store *st,
    const struct store_plan *p, const git_oid *cid)
{
	char hex[GIT_OID_HEXSZ + 1];
	size_t i;

	res->branch = xstrdup(p->branch_ref + strlen("refs/heads/"));
	git_oid_tostr(hex, sizeof(hex), cid);
	res->commit_sha = xstrdup(hex);
	for (i = 0; i < p->n; i++)
		store_strv_push(&res->files, &res->nfiles, p->paths[i]);
	(void)st;
}

int
store_commit(struct store *st, const struct store_commit_req *req,
    struct store_commit_result *res, struct error *err)
{
	struct store_plan p;
	git_repository *repo = NULL;
	git_oid tip, seen, cid, tagged, newtip, found;
	bool have_tip, have_seen = false, dup = false;
	int attempt, locked = 0, rc;

	memset(res, 0, sizeof(*res));
	memset(&p, 0, sizeof(p));
	if ((rc = store_validate(st, req, err)) < 0)
		return rc;
	if ((rc = store_plan_build(&p, st, req, err)) < 0)
		goto out;
	/* Nothing is written before every byte was scanned. */
	if ((rc = store_scan(st, &p, err)) < 0)
		goto out;
	if ((rc = store_repo_acquire(st, &repo, err)) < 0)
		goto out;
	if ((rc = store_capture_begin(st, repo, err)) < 0 ||
	    (rc = store_write_files(repo, &p, err)) < 0)
		goto out;

	/* Idempotency, from git alone: first the commit behind our corr_
	 * tag (one exact lookup), then the recent history of the branch. */
	if (p.ntags > 0 && req->correlation_id != NULL) {
		char *ref = xasprintf("refs/tags/%s", p.tags[0]);
		git_commit *c = NULL;

		if (store_ref_commit(&tagged, repo, ref, NULL) == 0 &&
		    git_commit_lookup(&c, repo, &tagged) == 0 &&
		    store_commit_matches(repo, c, &p, req)) {
			git_oid_cpy(&cid, &tagged);
			dup = true;
		}
		git_error_clear();
		git_commit_free(c);
		free(ref);
	}

	for (attempt = 0; !dup && attempt < STORE_CAS_ATTEMPTS; attempt++) {
		rc = store_ref_commit(&tip, repo, p.branch_ref, err);
		if (rc < 0 && rc != ERR_NOTFOUND)
			goto out;
		have_tip = rc == 0;
		error_clear(err);
		if (have_tip && (!have_seen || !git_oid_equal(&tip, &seen))) {
			rc = store_find_event(&cid, repo, &tip,
			    have_seen ? &seen : NULL, &p, req, err);
			if (rc < 0)
				goto out;
			if (rc == 1) {
				dup = true;
				break;
			}
			git_oid_cpy(&seen, &tip);
			have_seen = true;
		}
		if (attempt == 0 &&
		    (rc = store_write_metadata(repo, &p, err)) < 0)
			goto out;
		rc = store_commit_once(repo, st, &p, &tip, have_tip, &cid, err);
		if (rc < 0)
			goto out;
		if (rc == 0)
			break;
		if (rc == 2)
			store_lock_check(repo, p.branch_ref, ++locked);
		store_backoff(attempt);
	}
	store_capture_end(st, repo);
	if (!dup && attempt == STORE_CAS_ATTEMPTS) {
		rc = error_set(err, ERR_TRANSIENT, "GIT",
		    "branch %s kept moving: gave up after %d attempts",
		    p.branch_ref, STORE_CAS_ATTEMPTS);
		goto out;
	}
	if (dup)
		store_plan_tags_from(&p, repo, &cid);
	if ((rc = store_fill_tags(repo, &p, &cid, res, err)) < 0)
		goto out;
	store_result_fill(res, st, &p, &cid);
	res->duplicate = dup;
	if (st->opts.auto_push && st->push_url != NULL) {
		struct error perr;

		error_clear(&perr);
		res->push = STORE_PUSH_FAILED;
		if (store_push_batched(st, repo, p.branch_ref, res->tags,
		        res->ntags, &newtip, &perr) == 0) {
			res->pushed = true;
			res->push = STORE_PUSH_OK;
			/* When the remote had moved, our commit was rebuilt
			 * (or found there already): report the commit that
			 * now carries our event. The tip itself may be a
			 * later commit of another thread. */
			if (!git_oid_equal(&newtip, &cid) &&
			    store_find_event(&found, repo, &newtip, NULL, &p,
			        req, &perr) == 1) {
				char hex[GIT_OID_HEXSZ + 1];

				git_oid_tostr(hex, sizeof(hex), &found);
				free(res->commit_sha);
				res->commit_sha = xstrdup(hex);
			}
		} else {
			log_warnx("store_push_deferred branch=%s error=\"%s\"",
			    res->branch, perr.msg);
		}
	}
	log_info("store_commit branch=%s sha=%s duplicate=%s pushed=%s "
	         "event_id=%s",
	    res->branch, res->commit_sha, log_bool(dup), log_bool(res->pushed),
	    req->event_id);
	rc = 0;
out:
	if (rc < 0)
		store_commit_result_dispose(res);
	store_capture_end(st, repo);
	store_repo_release(st, repo);
	store_plan_dispose(&p);
	return rc;
}

static void
store_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
store_commit_result_dispose(struct store_commit_result *res)
{
	if (res == NULL)
		return;
	free(res->branch);
	free(res->commit_sha);
	store_strv_free(res->tags, res->ntags);
	store_strv_free(res->tags_existing, res->ntags_existing);
	store_strv_free(res->files, res->nfiles);
	memset(res, 0, sizeof(*res));
}
