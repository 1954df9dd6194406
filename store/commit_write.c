/*
 * commit_write.c - the one place where the store writes a commit or an
 * annotated tag object, so that none is written unsigned while a signing
 * key is configured (issue 16).
 *
 * A commit is built with git_commit_create_buffer, signed (SSHSIG,
 * namespace "git", as `git commit -S` with gpg.format=ssh does) and
 * written with git_commit_create_with_signature into the "gpgsig"
 * header. A tag carries its signature the way git's ssh format expects
 * it: appended after the message, the payload being every byte before
 * it, so the tag object is built here and written with git_odb_write.
 * Without a key both write what libgit2's ordinary calls write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "store/sign.h"
#include "store/store_int.h"

/* A tag message is release notes; CHANGELOG.md sections are bounded
 * well under this by the release path, and the ceiling bounds the
 * object buffer. */
#define COMMIT_WRITE_TAG_MAX (8 * 1024 * 1024)

int
store_commit_write(git_oid *out, git_repository *repo, const struct store *st,
    const git_signature *author, const git_signature *committer,
    const char *encoding, const char *message, const git_tree *tree,
    size_t nparents, const git_commit **parents, struct error *err)
{
	git_buf content = { 0 };
	char *sig = NULL;
	size_t n;
	int grc, rc;

	if (st->signer == NULL) {
		grc = STORE_GIT(git_commit_create(out, repo, NULL, author,
		    committer, encoding, message, tree, nparents, parents));
		return grc < 0 ? store_git_error(err, grc, "create commit") : 0;
	}
	if ((grc = STORE_GIT(git_commit_create_buffer(&content, repo, author,
	         committer, encoding, message, tree, nparents, parents))) < 0)
		return store_git_error(err, grc, "build commit");
	if ((rc = sign_sshsig(&sig, st->signer, "git", content.ptr,
	         content.size, err)) < 0)
		goto out;
	/* libgit2 indents every line of the header value and ends it with
	 * its own newline; git writes no empty continuation line. */
	n = strlen(sig);
	if (n > 0 && sig[n - 1] == '\n')
		sig[n - 1] = '\0';
	if ((grc = STORE_GIT(git_commit_create_with_signature(out, repo,
	         content.ptr, sig, "gpgsig"))) < 0) {
		rc = store_git_error(err, grc, "write signed commit");
		goto out;
	}
	rc = 0;
out:
	free(sig);
	git_buf_dispose(&content);
	return rc;
}

/* "Name <email> 1700000000 +0100", as git writes an identity. */
static int
commit_write_ident(struct buf *b, const git_signature *s)
{
	int off = s->when.offset;
	char sign = off < 0 ? '-' : '+';

	if (off < 0)
		off = -off;
	return buf_printf(b, "%s <%s> %lld %c%02d%02d", s->name, s->email,
	    (long long)s->when.time, sign, off / 60, off % 60);
}

int
store_tag_write(git_oid *out, git_repository *repo, const struct store *st,
    const char *name, const git_object *target, const git_signature *tagger,
    const char *message, struct error *err)
{
	git_odb *odb = NULL;
	struct buf b;
	char *sig = NULL;
	size_t mlen = strlen(message);
	int grc, rc = ERR_FAIL;

	if (st->signer == NULL) {
		grc = STORE_GIT(git_tag_annotation_create(out, repo, name,
		    target, tagger, message));
		return grc < 0 ? store_git_error(err, grc, "write tag") : 0;
	}
	buf_init(&b, COMMIT_WRITE_TAG_MAX);
	if (buf_printf(&b, "object %s\ntype %s\ntag %s\ntagger ",
	        git_oid_tostr_s(git_object_id(target)),
	        git_object_type2string(git_object_type(target)), name) < 0 ||
	    commit_write_ident(&b, tagger) < 0 ||
	    buf_printf(&b, "\n\n%s%s", message,
	        mlen > 0 && message[mlen - 1] == '\n' ? "" : "\n") < 0) {
		rc = error_set(err, ERR_FAIL, "GIT",
		    "tag %s: message larger than %d bytes", name,
		    COMMIT_WRITE_TAG_MAX);
		goto out;
	}
	/* git verify-tag (ssh format) checks the signature that follows
	 * the message against every byte before it. */
	if ((rc = sign_sshsig(&sig, st->signer, "git", b.data, b.len, err)) < 0)
		goto out;
	if (buf_puts(&b, sig) < 0) {
		rc = error_set(err, ERR_FAIL, "GIT", "tag %s is too large",
		    name);
		goto out;
	}
	if ((grc = STORE_GIT(git_repository_odb(&odb, repo))) < 0 ||
	    (grc = STORE_GIT(
	         git_odb_write(out, odb, b.data, b.len, GIT_OBJECT_TAG))) < 0) {
		rc = store_git_error(err, grc, "write signed tag");
		goto out;
	}
	rc = 0;
out:
	git_odb_free(odb);
	free(sig);
	buf_dispose(&b);
	return rc;
}

/* The signature appended to a tag message, cut off (NUL written). */
void
store_tag_message_strip(char *msg)
{
	char *s = strstr(msg, "-----BEGIN SSH SIGNATURE-----\n");

	if (s != NULL && (s == msg || s[-1] == '\n'))
		*s = '\0';
}
