/*
 * push_release.c - pushing a release (store_release_push, history.h): the
 * branch with its changelog commit and the annotated tag in one push (the
 * helper's op "release", push_child.c) and, when that fails, the local
 * refs put back as they were before the release.
 *
 * Unlike store_push_branch (push.c) nothing is rebuilt when the remote
 * moved: push_rebuild.c replays our commits on the remote's tip and
 * re-points their tags, which would move a release tag to a commit whose
 * changelog nobody computed. A release push fails instead; the request
 * is made again from a tip that has the remote's commits.
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store/history.h"
#include "store/store_int.h"

/* What a server says when it refuses a ref ("pre-receive hook
 * declined"), quoted in the error: a line, not a page. */
#define RELEASE_PUSH_MSG_MAX 200

/* The first problem line of the child's reply ("ref <name> <status>
 * [message]") as an error, or 0 when every ref went through. */
static int
release_reply(const char *text, const char *tag, struct error *err)
{
	const char *line, *nl, *name, *status, *msg;
	size_t nlen, slen, mlen;

	for (line = text; line != NULL && *line != '\0';
	     line = *nl != '\0' ? nl + 1 : nl) {
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line);
		if (strncmp(line, "ref ", 4) != 0)
			continue;
		name = line + 4;
		nlen = strcspn(name, " \n");
		status = name + nlen + (name[nlen] == ' ');
		slen = strcspn(status, " \n");
		for (msg = status + slen; *msg == ' '; msg++)
			;
		mlen = (size_t)(nl - msg);
		if (mlen > RELEASE_PUSH_MSG_MAX)
			mlen = RELEASE_PUSH_MSG_MAX;
		if (slen == 8 && strncmp(status, "conflict", 8) == 0)
			return error_set(err, ERR_CONFLICT, "TAG_EXISTS",
			    "the remote has tag %s on another object", tag);
		if (slen == 5 && strncmp(status, "nonff", 5) == 0 && mlen == 0)
			return error_set(err, ERR_CONFLICT, "REMOTE_MOVED",
			    "the remote's %.*s has commits the release did not "
			    "see; nothing was pushed",
			    (int)nlen, name);
		return error_set(err, ERR_FAIL, "PUSH_REJECTED",
		    "the remote refused %.*s: %.*s", (int)nlen, name,
		    (int)(mlen ? mlen : slen), mlen ? msg : status);
	}
	return 0;
}

/* Delete tag_ref if it still names the tag object of this release (a tag
 * whose target is the changelog commit). */
static void
release_undo_tag(git_repository *repo, const char *tag_ref, const git_oid *cid)
{
	git_reference *ref = NULL;
	git_tag *t = NULL;

	if (git_reference_lookup(&ref, repo, tag_ref) == 0 &&
	    git_reference_target(ref) != NULL &&
	    git_tag_lookup(&t, repo, git_reference_target(ref)) == 0 &&
	    git_oid_equal(git_tag_target_id(t), cid) &&
	    git_reference_delete(ref) < 0)
		log_warnx("release_undo ref=%s error=\"%s\"", tag_ref,
		    git_error_last() ? git_error_last()->message : "");
	git_error_clear();
	git_tag_free(t);
	git_reference_free(ref);
}

/* Move branch_ref back from the changelog commit to its parent
 * (compare-and-swap: a branch that moved on is left alone). */
static void
release_undo_branch(git_repository *repo, const char *branch_ref,
    const git_oid *cid)
{
	git_reference *ref = NULL;
	git_commit *c = NULL;
	int grc = -1;

	for (int attempt = 0; attempt < STORE_CAS_ATTEMPTS; attempt++) {
		if (c == NULL && git_commit_lookup(&c, repo, cid) < 0)
			break;
		if (git_commit_parentcount(c) == 0)
			break;
		grc = git_reference_create_matching(&ref, repo, branch_ref,
		    git_commit_parent_id(c, 0), 1, cid,
		    "artifactd: release not pushed");
		git_reference_free(ref);
		ref = NULL;
		if (grc != GIT_ELOCKED)
			break;
		git_error_clear();
		store_lock_check(repo, branch_ref, attempt);
		store_backoff(attempt);
	}
	if (grc < 0)
		log_warnx("release_undo ref=%s error=\"%s\"", branch_ref,
		    git_error_last() ? git_error_last()->message
		                     : "no parent to go back to");
	git_error_clear();
	git_commit_free(c);
}

int
store_release_push(struct store *st, const char *branch,
    const struct store_release_result *r, struct error *err)
{
	git_repository *repo = NULL;
	git_oid cid;
	struct buf text;
	char *refs[2];
	int rc;

	if (st->push_url == NULL)
		return 1;
	if (r->tag == NULL || r->changelog_sha == NULL ||
	    git_oid_fromstr(&cid, r->changelog_sha) < 0)
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "nothing was released: nothing to push");
	refs[0] = xasprintf("refs/heads/%s",
	    branch != NULL ? branch : st->opts.base_branch);
	refs[1] = xasprintf("refs/tags/%s", r->tag);
	rc = store_push_op(st, "release", refs, 2, &text, err);
	if (rc == 0)
		rc = release_reply(text.data, r->tag, err);
	buf_dispose(&text);
	/* Only what this call made is undone: a release found made (a
	 * redelivery) may be on the remote already. */
	if (rc < 0 && r->created && store_repo_acquire(st, &repo, NULL) == 0) {
		release_undo_tag(repo, refs[1], &cid);
		release_undo_branch(repo, refs[0], &cid);
		store_repo_release(st, repo);
		log_warnx("release_undone tag=%s branch=%s code=%s", r->tag,
		    refs[0], err != NULL ? err->code : "");
	}
	free(refs[0]);
	free(refs[1]);
	return rc;
}
