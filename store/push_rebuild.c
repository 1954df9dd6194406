/*
 * push_rebuild.c - rebuilding our commits on a remote tip that moved.
 *
 * When a push finds the remote branch moved (another worker pushed
 * first), the child fetches the remote tip and push.c calls
 * store_push_rebuild(): the local branch becomes a descendant of the
 * remote's, our commits replayed on top of it (each task writes only
 * below its own directory, so the tree changes cannot conflict) and
 * signed again, events the remote already has skipped, and our unpushed
 * tags moved with the commits they name (store.md 1.7, 2.5).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "store/store_int.h"

/* Commits rebuilt on a new remote tip at most: more means the branch is
 * not ours alone and a person should look. */
#define PUSH_REBUILD_MAX 200

/* Point the local tags of `old` (named by its trailers) at `new`, if they
 * still point at old: they were never pushed, since the branch is pushed
 * before its tags. */
static void
push_repoint_tags(git_repository *repo, const git_commit *old,
    const git_oid *new)
{
	struct store_trailers t;
	git_reference *r = NULL;
	git_oid cur;
	char *names[2] = { NULL, NULL }, *ref;
	int i;

	store_trailers_parse(&t, git_commit_message(old));
	if (t.correlation_id[0])
		names[0] = store_corr_tag(t.correlation_id);
	if (t.prompt_hash[0])
		names[1] = store_prompt_tag(t.prompt_hash);
	for (i = 0; i < 2; i++) {
		if (names[i] == NULL)
			continue;
		ref = xasprintf("refs/tags/%s", names[i]);
		if (git_reference_name_to_id(&cur, repo, ref) == 0 &&
		    git_oid_equal(&cur, git_commit_id(old))) {
			if (git_reference_create_matching(&r, repo, ref, new, 1,
			        &cur, "artifactd: rebuilt") == 0)
				log_info("store_tag_rebuilt tag=%s", names[i]);
			git_reference_free(r);
			r = NULL;
		}
		git_error_clear();
		free(ref);
		free(names[i]);
	}
}

/* Replay commit c (its changes against its first parent) onto *base. */
static int
push_replay(git_repository *repo, const struct store *st, const git_commit *c,
    git_oid *base, struct error *err)
{
	git_commit *parent = NULL, *newbase = NULL;
	git_tree *pt = NULL, *ct = NULL, *bt = NULL, *nt = NULL;
	git_diff *diff = NULL;
	git_tree_update *upd = NULL;
	const git_commit *parents[1];
	git_oid tid, nid;
	size_t i, n;
	int grc, rc = ERR_FAIL;

	if ((grc = STORE_GIT(git_commit_tree(&ct, c))) < 0 ||
	    (git_commit_parentcount(c) > 0 &&
	        ((grc = STORE_GIT(git_commit_parent(&parent, c, 0))) < 0 ||
	            (grc = STORE_GIT(git_commit_tree(&pt, parent))) < 0)) ||
	    (grc = STORE_GIT(git_commit_lookup(&newbase, repo, base))) < 0 ||
	    (grc = STORE_GIT(git_commit_tree(&bt, newbase))) < 0 ||
	    (grc = STORE_GIT(
	         git_diff_tree_to_tree(&diff, repo, pt, ct, NULL))) < 0) {
		rc = store_git_error(err, grc, "read commit to rebuild");
		goto out;
	}
	n = git_diff_num_deltas(diff);
	upd = xcalloc(n ? n : 1, sizeof(*upd));
	for (i = 0; i < n; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);

		if (d->status == GIT_DELTA_DELETED) {
			upd[i].action = GIT_TREE_UPDATE_REMOVE;
			upd[i].path = d->old_file.path;
		} else {
			upd[i].action = GIT_TREE_UPDATE_UPSERT;
			upd[i].path = d->new_file.path;
			upd[i].filemode = (git_filemode_t)d->new_file.mode;
			git_oid_cpy(&upd[i].id, &d->new_file.id);
		}
	}
	parents[0] = newbase;
	if ((grc = STORE_GIT(git_tree_create_updated(&tid, repo, bt, n, upd))) <
	        0 ||
	    (grc = STORE_GIT(git_tree_lookup(&nt, repo, &tid))) < 0) {
		rc = store_git_error(err, grc, "rebuild commit");
		goto out;
	}
	/* Signed again: the rebuilt commit has another parent and tree. */
	if ((rc = store_commit_write(&nid, repo, st, git_commit_author(c),
	         git_commit_committer(c), git_commit_message_encoding(c),
	         git_commit_message(c), nt, 1, parents, err)) < 0)
		goto out;
	push_repoint_tags(repo, c, &nid);
	git_oid_cpy(base, &nid);
	rc = 0;
out:
	free(upd);
	git_diff_free(diff);
	git_tree_free(nt);
	git_tree_free(bt);
	git_tree_free(ct);
	git_tree_free(pt);
	git_commit_free(newbase);
	git_commit_free(parent);
	return rc;
}

/* The Event-Id trailers of the remote's recent commits on the branch. */
struct push_events {
	char **ids;
	git_oid *oids;
	size_t n;
};

static void
push_remote_events(struct push_events *ev, git_repository *repo,
    const git_oid *tip)
{
	struct store_trailers t;
	git_commit *c = NULL, *p = NULL;
	int i;

	if (git_commit_lookup(&c, repo, tip) < 0) {
		git_error_clear();
		return;
	}
	for (i = 0; i < STORE_DEDUPE_WALK && c != NULL; i++) {
		store_trailers_parse(&t, git_commit_message(c));
		if (t.event_id[0] != '\0') {
			ev->ids =
			    xrealloc(ev->ids, (ev->n + 1) * sizeof(*ev->ids));
			ev->oids =
			    xrealloc(ev->oids, (ev->n + 1) * sizeof(*ev->oids));
			ev->ids[ev->n] = xstrdup(t.event_id);
			git_oid_cpy(&ev->oids[ev->n], git_commit_id(c));
			ev->n++;
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
}

static bool
push_events_find(const struct push_events *ev, const git_commit *c,
    git_oid *found)
{
	struct store_trailers t;
	size_t i;

	store_trailers_parse(&t, git_commit_message(c));
	if (t.event_id[0] == '\0')
		return false;
	for (i = 0; i < ev->n; i++)
		if (strcmp(ev->ids[i], t.event_id) == 0) {
			git_oid_cpy(found, &ev->oids[i]);
			return true;
		}
	return false;
}

static void
push_events_dispose(struct push_events *ev)
{
	size_t i;

	for (i = 0; i < ev->n; i++)
		free(ev->ids[i]);
	free(ev->ids);
	free(ev->oids);
}

/*
 * The remote's tip of branch_ref is `remote`. Make the local branch a
 * descendant of it: fast-forward when we have nothing new, otherwise
 * replay our commits (those not in the remote's history) on top of it.
 * Each task writes only below its own directory, so replaying the tree
 * changes cannot conflict with another task's (store.md 1.7, 2.5).
 */
int
store_push_rebuild(git_repository *repo, const struct store *st,
    const char *branch_ref, const git_oid *remote, struct error *err)
{
	struct push_events ev = { 0 };
	git_oid local, base, mb, seen;
	git_commit *c = NULL;
	git_commit **todo = NULL;
	git_reference *r = NULL;
	size_t n = 0, i, skipped = 0;
	bool have_mb;
	int grc, rc;

	if ((rc = store_ref_commit(&local, repo, branch_ref, err)) < 0)
		return rc;
	if (git_oid_equal(&local, remote) ||
	    git_graph_descendant_of(repo, &local, remote) == 1)
		return 0; /* nothing to do: the push just lost a race */
	have_mb = git_merge_base(&mb, repo, &local, remote) == 0;
	git_error_clear();
	git_oid_cpy(&base, remote);
	if (!(have_mb && git_oid_equal(&mb, &local))) {
		/* Our commits, newest first, down to the merge base or to
		 * the first commit artifactd did not make (base-branch
		 * history, which is never ours to replay). */
		if ((grc = STORE_GIT(git_commit_lookup(&c, repo, &local))) < 0)
			return store_git_error(err, grc, "read branch");
		while (c != NULL && n < PUSH_REBUILD_MAX) {
			struct store_trailers t;

			if (have_mb && git_oid_equal(git_commit_id(c), &mb))
				break;
			store_trailers_parse(&t, git_commit_message(c));
			if (t.event_id[0] == '\0' && t.reverted_to[0] == '\0')
				break;
			todo = xrealloc(todo, (n + 1) * sizeof(*todo));
			todo[n++] = c;
			c = NULL;
			if (git_commit_parentcount(todo[n - 1]) == 0 ||
			    git_commit_parent(&c, todo[n - 1], 0) < 0)
				break;
		}
		git_commit_free(c);
		git_error_clear();
		push_remote_events(&ev, repo, remote);
		rc = 0;
		for (i = n; i > 0 && rc == 0; i--) {
			/* Another worker already pushed this event: keep
			 * theirs, and point our tags where theirs are. */
			if (push_events_find(&ev, todo[i - 1], &seen)) {
				push_repoint_tags(repo, todo[i - 1], &seen);
				skipped++;
				continue;
			}
			rc = push_replay(repo, st, todo[i - 1], &base, err);
		}
		push_events_dispose(&ev);
		for (i = 0; i < n; i++)
			git_commit_free(todo[i]);
		free(todo);
		if (rc < 0)
			return rc;
	}
	grc = STORE_GIT(git_reference_create_matching(&r, repo, branch_ref,
	    &base, 1, &local, "artifactd: rebuilt on the remote tip"));
	git_reference_free(r);
	if (grc == GIT_EMODIFIED || grc == GIT_ELOCKED) {
		git_error_clear();
		return 0; /* moved under us: the next attempt starts over */
	}
	if (grc < 0)
		return store_git_error(err, grc, "update rebuilt branch");
	log_info("store_rebuilt branch=%s commits=%zu already_there=%zu",
	    branch_ref, n - skipped, skipped);
	return 0;
}
