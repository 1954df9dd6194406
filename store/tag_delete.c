/*
 * tag_delete.c - take a release tag back: refs/tags/<tag> deleted on the
 * remote and in the local repository (seed 001's rollback: "delete the
 * git tag"), for `artifactd unpublish --delete-tag` and the
 * RELEASE_ROLLBACK_REQUESTED handler.
 *
 * The remote goes first, through push_child.c's "expire" operation: the
 * delete carries the local tag's id as its old value, so the remote
 * refuses it when its tag points elsewhere (someone re-tagged: "moved",
 * nothing deleted). The local tag is deleted only once the remote's is
 * gone, so a failed remote delete is retried by the next rollback from
 * the same local tag; with no local tag left there is nothing to compare
 * the remote's against, and both are reported "absent".
 */
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store/store.h"
#include "store/store_int.h"

/* The remote's answer for ref: "deleted", "gone", "moved", "rejected",
 * or "unknown" when the child said nothing of it. */
static void
remote_word(char *word, size_t n, const struct buf *text, const char *ref)
{
	const char *l = text->data;
	size_t rl = strlen(ref);

	snprintf(word, n, "unknown");
	while (l != NULL && *l != '\0') {
		const char *nl = strchr(l, '\n');

		if (strncmp(l, "ref ", 4) == 0 &&
		    strncmp(l + 4, ref, rl) == 0 && l[4 + rl] == ' ') {
			size_t k = strcspn(l + 5 + rl, " \n");

			snprintf(word, n, "%.*s", (int)k, l + 5 + rl);
			return;
		}
		l = nl ? nl + 1 : NULL;
	}
}

/* The remote's delete of ref (old value hex). The status word into
 * remote; returns 0 or the push's error. */
static int
tag_delete_remote(struct store *st, const char *ref, const char *hex,
    char *remote, size_t n, struct error *err)
{
	char *line = xasprintf("%s %s", ref, hex);
	struct buf text;
	int rc;

	memset(&text, 0, sizeof(text));
	rc = store_push_op(st, "expire", &line, 1, &text, err);
	if (rc == 0)
		remote_word(remote, n, &text, ref);
	buf_dispose(&text);
	free(line);
	if (rc == 0 && strcmp(remote, "deleted") != 0 &&
	    strcmp(remote, "gone") != 0)
		rc = error_set(err, ERR_FAIL, "TAG_REMOTE",
		    "the remote did not delete %s: %s", ref, remote);
	return rc;
}

int
store_tag_delete(struct store *st, const char *tag, bool remote, bool dry_run,
    cJSON **out, struct error *err)
{
	git_repository *repo = NULL;
	git_reference *r = NULL;
	char *ref = xasprintf("refs/tags/%s", tag ? tag : "");
	char hex[GIT_OID_HEXSZ + 1] = "", rword[32] = "disabled";
	const char *local = "absent";
	int rc, grc;

	if (tag == NULL || tag[0] == '\0' || !store_ref_name_ok(ref)) {
		rc = error_set(err, ERR_INVALID, "INVALID_TAG",
		    "%s is not a tag name git accepts", tag ? tag : "\"\"");
		goto out;
	}
	if ((rc = store_repo_acquire(st, &repo, err)) < 0)
		goto out;
	grc = STORE_GIT(git_reference_lookup(&r, repo, ref));
	if (grc == GIT_ENOTFOUND) {
		snprintf(rword, sizeof(rword), "%s",
		    remote && st->push_url != NULL ? "absent" : "disabled");
		rc = 0;
		goto report;
	}
	if (grc < 0) {
		rc = store_git_error(err, grc, "read the tag");
		goto out;
	}
	git_oid_tostr(hex, sizeof(hex), git_reference_target(r));
	if (dry_run) {
		local = "would_remove";
		snprintf(rword, sizeof(rword), "%s",
		    remote && st->push_url != NULL ? "would_remove"
		                                   : "disabled");
		rc = 0;
		goto report;
	}
	if (remote && st->push_url != NULL &&
	    (rc = tag_delete_remote(st, ref, hex, rword, sizeof(rword), err)) <
	        0)
		goto out;
	if ((grc = STORE_GIT(git_reference_delete(r))) < 0) {
		rc = store_git_error(err, grc, "delete the tag");
		goto out;
	}
	local = "removed";
	if (strcmp(rword, "deleted") == 0)
		snprintf(rword, sizeof(rword), "removed");
	else if (strcmp(rword, "gone") == 0)
		snprintf(rword, sizeof(rword), "absent");
	rc = 0;
report:
	*out = cJSON_CreateObject();
	cJSON_AddStringToObject(*out, "tag", tag);
	cJSON_AddStringToObject(*out, "local", local);
	cJSON_AddStringToObject(*out, "remote", rword);
	if (hex[0] != '\0')
		cJSON_AddStringToObject(*out, "id", hex);
	log_info("store_tag_delete tag=%s local=%s remote=%s dry_run=%s", tag,
	    local, rword, log_bool(dry_run));
out:
	git_reference_free(r);
	if (repo != NULL)
		store_repo_release(st, repo);
	free(ref);
	return rc;
}
