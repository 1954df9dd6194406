/*
 * history.c - releases from a branch's history: the package's last
 * release tag, the Conventional Commits since it, the next version, the
 * CHANGELOG.md commit and the annotated tag (store_release),
 * setuptools_scm's development version of the tip (store_dev_version),
 * and the notes back from a release tag's message (store_tag_message).
 *
 * The reference for the version is python-semantic-release 7.32 and for
 * dev versions setuptools_scm 7.1.0 (docs/releasing.md says where we
 * differ and why). The commit and the tag are written as objects first and
 * referenced last, so that a failure leaves only unreferenced objects that
 * `git gc` removes; store.h's compare-and-swap rules apply to every ref.
 */
#include "store/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "store/store_int.h"

#define CHANGELOG_PATH "CHANGELOG.md"
#define CHANGELOG_TITLE "# Changelog"
/* semantic-release's placeholder: new sections go right below it. */
#define CHANGELOG_PLACEHOLDER "<!--next-version-placeholder-->"
#define RELEASE_TRAILER "Release-Tag: "

struct hist_commit {
	git_oid id;
	char short_id[GIT_OID_HEXSZ + 1];
	struct conv_commit conv;
	bool parsed;
};

struct hist {
	struct hist_commit *c;
	size_t n;
	size_t cap;
};

struct hist_tag {
	bool found;
	char name[VERSION_MAX + 16];
	git_oid commit;
	struct semver v;
};

static void
hist_dispose(struct hist *h)
{
	for (size_t i = 0; i < h->n; i++)
		conv_commit_dispose(&h->c[i].conv);
	free(h->c);
	memset(h, 0, sizeof(*h));
}

static int
short_id(char *out, size_t n, git_repository *repo, const git_oid *id,
    struct error *err)
{
	git_object *obj = NULL;
	git_buf b = { 0 };
	int grc, rc = 0;

	if ((grc = STORE_GIT(
	         git_object_lookup(&obj, repo, id, GIT_OBJECT_COMMIT))) < 0 ||
	    (grc = STORE_GIT(git_object_short_id(&b, obj))) < 0)
		rc = store_git_error(err, grc, "short commit id");
	else
		snprintf(out, n, "%s", b.ptr);
	git_buf_dispose(&b);
	git_object_free(obj);
	return rc;
}

/* refs/heads/<branch> and its tip. */
static int
branch_tip(git_oid *tip, char **ref_out, git_repository *repo,
    const char *branch, struct error *err)
{
	char *ref = xasprintf("refs/heads/%s", branch);
	int valid = 0, rc;

	if (git_reference_name_is_valid(&valid, ref) < 0 || !valid) {
		git_error_clear();
		rc = error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "'%.*s' is not a valid branch name", VERSION_MAX, branch);
		goto out;
	}
	rc = store_ref_commit(tip, repo, ref, err);
	if (rc == ERR_NOTFOUND)
		error_set(err, rc, "BRANCH_NOT_FOUND",
		    "branch %s does not exist", branch);
	if (rc == 0) {
		*ref_out = ref;
		ref = NULL;
	}
out:
	free(ref);
	return rc;
}

/* Is `c` the tip or one of its ancestors? */
static bool
reachable(git_repository *repo, const git_oid *tip, const git_oid *c)
{
	int r;

	if (git_oid_equal(tip, c))
		return true;
	r = git_graph_descendant_of(repo, tip, c);
	git_error_clear();
	return r == 1;
}

/*
 * The package's last release: the highest X.Y.Z among tags
 * <prefix>X.Y.Z reachable from the tip, skipping tags on `skip` (may be
 * NULL). semantic-release 7.32 takes the newest-dated tag of any package;
 * on a branch whose releases are linear both are the same tag.
 */
static int
last_release(struct hist_tag *out, git_repository *repo, const char *prefix,
    const git_oid *tip, const git_oid *skip, struct error *err)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	git_object *peeled = NULL;
	char *glob = xasprintf("refs/tags/%s*", prefix);
	size_t plen = strlen("refs/tags/") + strlen(prefix), seen = 0;
	int grc, rc = 0;

	memset(out, 0, sizeof(*out));
	if ((grc = STORE_GIT(
	         git_reference_iterator_glob_new(&it, repo, glob))) < 0) {
		rc = store_git_error(err, grc, "list tags");
		goto out;
	}
	while ((grc = git_reference_next(&ref, it)) == 0) {
		const char *name = git_reference_name(ref);
		struct semver v;

		if (++seen > STORE_RELEASE_TAGS_MAX) {
			rc = error_set(err, ERR_INVALID, "RELEASE_TOO_LARGE",
			    "more than %d tags %s*", STORE_RELEASE_TAGS_MAX,
			    prefix);
			goto out;
		}
		if (semver_parse(&v, name + plen, NULL) == 0 &&
		    git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT) == 0 &&
		    (skip == NULL ||
		        !git_oid_equal(git_object_id(peeled), skip)) &&
		    reachable(repo, tip, git_object_id(peeled)) &&
		    (!out->found || semver_cmp(&v, &out->v) > 0)) {
			out->found = true;
			out->v = v;
			git_oid_cpy(&out->commit, git_object_id(peeled));
			snprintf(out->name, sizeof(out->name), "%s",
			    name + strlen("refs/tags/"));
		}
		git_error_clear();
		git_object_free(peeled);
		peeled = NULL;
		git_reference_free(ref);
		ref = NULL;
	}
	git_error_clear();
out:
	git_object_free(peeled);
	git_reference_free(ref);
	git_reference_iterator_free(it);
	free(glob);
	return rc;
}

/* The commits reachable from tip and not from hide (may be NULL), newest
 * first (git rev-list's order, which the reference reads in), parsed. */
static int
collect(struct hist *h, git_repository *repo, const git_oid *tip,
    const git_oid *hide, const struct conv_rules *rules, struct error *err)
{
	git_revwalk *walk = NULL;
	git_commit *commit = NULL;
	git_oid id;
	int grc, rc = 0;

	if ((grc = STORE_GIT(git_revwalk_new(&walk, repo))) < 0 ||
	    (grc = git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL)) < 0 ||
	    (grc = git_revwalk_push(walk, tip)) < 0 ||
	    (hide != NULL && (grc = git_revwalk_hide(walk, hide)) < 0)) {
		rc = store_git_error(err, grc, "walk history");
		goto out;
	}
	while ((grc = git_revwalk_next(&id, walk)) == 0) {
		struct hist_commit *hc;
		const char *msg;

		if (h->n >= STORE_RELEASE_COMMITS_MAX) {
			rc = error_set(err, ERR_INVALID, "RELEASE_TOO_LARGE",
			    "more than %d commits since the last release",
			    STORE_RELEASE_COMMITS_MAX);
			goto out;
		}
		if (h->n == h->cap) {
			h->cap = h->cap ? h->cap * 2 : 32;
			h->c = xrealloc(h->c, h->cap * sizeof(*h->c));
		}
		hc = &h->c[h->n++];
		memset(hc, 0, sizeof(*hc));
		git_oid_cpy(&hc->id, &id);
		if ((grc = STORE_GIT(git_commit_lookup(&commit, repo, &id))) <
		    0) {
			rc = store_git_error(err, grc, "read commit");
			goto out;
		}
		msg = git_commit_message_raw(commit);
		hc->parsed =
		    conv_parse(&hc->conv, msg, strlen(msg), rules) == 0;
		git_commit_free(commit);
		commit = NULL;
		if ((rc = short_id(hc->short_id, sizeof(hc->short_id), repo,
		         &id, err)) < 0)
			goto out;
	}
	if (grc != GIT_ITEROVER)
		rc = store_git_error(err, grc, "walk history");
out:
	git_commit_free(commit);
	git_revwalk_free(walk);
	return rc;
}

/* "Subject" with its first letter upper-cased and "**scope:** " before
 * it, as semantic-release's changelog writes an entry. */
static void
entry_text(struct buf *b, const struct hist_commit *hc, const char *text)
{
	if (hc->conv.scope != NULL)
		buf_printf(b, "**%s:** ", hc->conv.scope);
	if (text[0] >= 'a' && text[0] <= 'z')
		buf_printf(b, "%c%s", text[0] - 'a' + 'A', text + 1);
	else
		buf_puts(b, text);
	buf_printf(b, " (%s)\n", hc->short_id);
}

static const char *
section_title(const char *type)
{
	if (strcmp(type, "feat") == 0)
		return "Features";
	if (strcmp(type, "fix") == 0)
		return "Fixes";
	if (strcmp(type, "perf") == 0)
		return "Performance";
	if (strcmp(type, "docs") == 0) /* a patch type in some configs */
		return "Documentation";
	return type;
}

/* One "### Title" group of every commit of `type` (NULL: breaking). */
static void
notes_group(struct buf *b, const struct hist *h, const char *type, size_t len)
{
	bool any = false;

	for (size_t i = 0; i < h->n; i++) {
		const struct hist_commit *hc = &h->c[i];

		if (!hc->parsed)
			continue;
		if (type == NULL ? hc->conv.bump != VERSION_BUMP_MAJOR
		                 : strlen(hc->conv.type) != len ||
		                       strncmp(hc->conv.type, type, len) != 0)
			continue;
		if (!any) {
			char t[64];

			snprintf(t, sizeof(t), "%.*s", (int)len,
			    type ? type : "");
			buf_printf(b, "%s### %s\n\n", b->len ? "\n" : "",
			    type ? section_title(t) : "Breaking changes");
			any = true;
		}
		buf_puts(b, "* ");
		entry_text(b, hc,
		    type == NULL && hc->conv.breaking != NULL
		        ? hc->conv.breaking
		        : hc->conv.subject);
	}
}

/* The notes: breaking, then the minor types, then the patch types; then,
 * when the rules give the other allowed types a bump of their own
 * (parser_angular_default_level_bump), those types in the allowed list's
 * order, so that every releasing commit is listed. */
static char *
notes_render(const struct hist *h, const struct conv_rules *rules)
{
	const char *lists[] = { rules->minor_types, rules->patch_types,
		rules->allowed_types };
	size_t nlists = rules->default_bump != VERSION_BUMP_NONE ? 3 : 2;
	struct buf b;

	buf_init(&b, STORE_CHANGELOG_MAX);
	notes_group(&b, h, NULL, 0);
	for (size_t l = 0; l < nlists; l++)
		for (const char *p = lists[l]; *p != '\0';) {
			size_t n = strcspn(p, ",");

			if (n > 0 &&
			    (l < 2 ||
			        (!conv_type_in(rules->minor_types, p, n) &&
			            !conv_type_in(rules->patch_types, p, n))))
				notes_group(&b, h, p, n);
			p += n + (p[n] == ',');
		}
	return buf_detach(&b, NULL);
}

/* Entries for the result: "<shortsha> <first line>" of releasing ones. */
static void
result_entries(struct store_release_result *res, const struct hist *h)
{
	res->entries = xcalloc(h->n + 1, sizeof(char *));
	for (size_t i = 0; i < h->n; i++) {
		const struct hist_commit *hc = &h->c[i];

		if (hc->parsed && hc->conv.bump != VERSION_BUMP_NONE)
			res->entries[res->nentries++] =
			    xasprintf("%s %s%s%s%s%s: %s", hc->short_id,
			        hc->conv.type, hc->conv.scope ? "(" : "",
			        hc->conv.scope ? hc->conv.scope : "",
			        hc->conv.scope ? ")" : "",
			        hc->conv.bang ? "!" : "", hc->conv.subject);
	}
}

void
store_release_result_dispose(struct store_release_result *res)
{
	if (res == NULL)
		return;
	free(res->version);
	free(res->previous_version);
	free(res->previous_tag);
	free(res->tag);
	free(res->commit_sha);
	free(res->notes);
	free(res->changelog_sha);
	for (size_t i = 0; i < res->nentries; i++)
		free(res->entries[i]);
	free(res->entries);
	memset(res, 0, sizeof(*res));
}

/* ---- writing the release ------------------------------------------------ */

/* memmem, which _POSIX_C_SOURCE does not declare. */
static const char *
find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return hay + i;
	return NULL;
}

/* CHANGELOG.md of the tip with `section` added as the newest. */
static int
changelog_update(char **out, size_t *outlen, git_repository *repo,
    git_tree *tree, const char *section, struct error *err)
{
	git_tree_entry *ent = NULL;
	git_blob *blob = NULL;
	struct buf b;
	const char *old = "", *at;
	size_t oldlen = 0, head = 0;
	int grc, rc = 0;

	buf_init(&b, STORE_CHANGELOG_MAX);
	grc = git_tree_entry_bypath(&ent, tree, CHANGELOG_PATH);
	git_error_clear();
	if (grc == 0 && git_tree_entry_type(ent) == GIT_OBJECT_BLOB) {
		if ((grc = STORE_GIT(git_blob_lookup(&blob, repo,
		         git_tree_entry_id(ent)))) < 0) {
			rc = store_git_error(err, grc, "read " CHANGELOG_PATH);
			goto out;
		}
		old = git_blob_rawcontent(blob);
		oldlen = (size_t)git_blob_rawsize(blob);
		if (oldlen > STORE_CHANGELOG_MAX / 2) {
			rc = error_set(err, ERR_INVALID, "RELEASE_TOO_LARGE",
			    CHANGELOG_PATH " is %zu bytes, limit %d", oldlen,
			    STORE_CHANGELOG_MAX / 2);
			goto out;
		}
	}
	/* After the placeholder line, else after the title line, else a
	 * title and placeholder are put first. */
	if ((at = find_bytes(old, oldlen, CHANGELOG_PLACEHOLDER,
	         strlen(CHANGELOG_PLACEHOLDER))) != NULL ||
	    (oldlen >= strlen(CHANGELOG_TITLE) &&
	        strncmp(old, CHANGELOG_TITLE, strlen(CHANGELOG_TITLE)) == 0 &&
	        (at = old) != NULL)) {
		const char *nl = memchr(at, '\n', oldlen - (size_t)(at - old));

		head = nl ? (size_t)(nl - old) + 1 : oldlen;
		buf_append(&b, old, head);
		if (head > 0 && old[head - 1] != '\n')
			buf_puts(&b, "\n");
	} else
		buf_puts(&b, CHANGELOG_TITLE "\n\n" CHANGELOG_PLACEHOLDER "\n");
	if (buf_printf(&b, "\n%s", section) < 0) {
		rc = error_set(err, ERR_INVALID, "RELEASE_TOO_LARGE",
		    "release notes over %d bytes", STORE_CHANGELOG_MAX / 2);
		goto out;
	}
	if (head < oldlen) {
		const char *rest = old + head;
		size_t restlen = oldlen - head;

		while (restlen > 0 && *rest == '\n') {
			rest++;
			restlen--;
		}
		buf_puts(&b, "\n");
		buf_append(&b, rest, restlen);
	}
	*out = buf_detach(&b, outlen);
out:
	buf_dispose(&b);
	git_blob_free(blob);
	git_tree_entry_free(ent);
	return rc;
}

/* Blob, tree, commit and tag objects of the release; no ref is touched. */
static int
release_objects(git_oid *cid, git_oid *tid, git_repository *repo,
    const struct store *st, const git_oid *tip, const char *tag,
    const char *notes, struct error *err)
{
	git_commit *parent = NULL;
	const git_commit *parents[1];
	git_tree *tree = NULL, *newtree = NULL;
	git_signature *sig = NULL;
	git_object *cobj = NULL;
	git_tree_update upd;
	git_oid blob_id, tree_id;
	char *text = NULL, *section = NULL, *msg = NULL, date[16];
	size_t len = 0;
	time_t now = time(NULL);
	struct tm tm;
	int grc, rc;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	section = xasprintf("## %s (%s)\n\n%s", tag, date, notes);
	if ((grc = STORE_GIT(git_commit_lookup(&parent, repo, tip))) < 0 ||
	    (grc = git_commit_tree(&tree, parent)) < 0) {
		rc = store_git_error(err, grc, "read branch tip");
		goto out;
	}
	if ((rc = changelog_update(&text, &len, repo, tree, section, err)) < 0)
		goto out;
	parents[0] = parent;
	memset(&upd, 0, sizeof(upd));
	upd.action = GIT_TREE_UPDATE_UPSERT;
	upd.filemode = GIT_FILEMODE_BLOB;
	upd.path = CHANGELOG_PATH;
	msg = xasprintf("chore(release): %s\n\n%s\n" RELEASE_TRAILER "%s\n",
	    tag, notes, tag);
	if ((grc = STORE_GIT(
	         git_blob_create_from_buffer(&blob_id, repo, text, len))) < 0 ||
	    (git_oid_cpy(&upd.id, &blob_id),
	        grc = git_tree_create_updated(&tree_id, repo, tree, 1, &upd)) <
	        0 ||
	    (grc = git_tree_lookup(&newtree, repo, &tree_id)) < 0 ||
	    (grc = git_signature_now(&sig, st->opts.author_name,
	         st->opts.author_email)) < 0) {
		rc = store_git_error(err, grc, "write release objects");
		goto out;
	}
	if ((rc = store_commit_write(cid, repo, st, sig, sig, NULL, msg,
	         newtree, 1, parents, err)) < 0)
		goto out;
	if ((grc = STORE_GIT(
	         git_object_lookup(&cobj, repo, cid, GIT_OBJECT_COMMIT))) < 0) {
		rc = store_git_error(err, grc, "write release objects");
		goto out;
	}
	if ((rc = store_tag_write(tid, repo, st, tag, cobj, sig, notes, err)) <
	    0)
		goto out;
	rc = 0;
out:
	free(text);
	free(section);
	free(msg);
	git_object_free(cobj);
	git_signature_free(sig);
	git_tree_free(newtree);
	git_tree_free(tree);
	git_commit_free(parent);
	return rc;
}

/* Move `ref` from `expected` to `to` (compare-and-swap, waiting out
 * locks). Returns 0, 1 when the ref moved under us, or an error. */
static int
ref_cas(git_repository *repo, const char *ref, const git_oid *to,
    const git_oid *expected, struct error *err)
{
	git_reference *r = NULL;
	int grc = 0;

	for (int attempt = 0; attempt < STORE_CAS_ATTEMPTS; attempt++) {
		grc = STORE_GIT(git_reference_create_matching(&r, repo, ref, to,
		    1, expected, "artifactd: release"));
		git_reference_free(r);
		r = NULL;
		if (grc == 0)
			return 0;
		if (grc == GIT_EMODIFIED || grc == GIT_EEXISTS) {
			git_error_clear();
			return 1;
		}
		if (grc != GIT_ELOCKED)
			break;
		git_error_clear();
		store_lock_check(repo, ref, attempt);
		store_backoff(attempt);
	}
	return store_git_error(err, grc, "update ref");
}

/* Reference the objects: branch first, then the tag; undo the branch if
 * the tag cannot be had. */
static int
release_refs(git_repository *repo, const char *branch_ref, const git_oid *tip,
    const git_oid *cid, const char *tag, const git_oid *tid, struct error *err)
{
	git_oid zero;
	char *tag_ref = xasprintf("refs/tags/%s", tag);
	int rc;

	memset(&zero, 0, sizeof(zero));
	rc = ref_cas(repo, branch_ref, cid, tip, err);
	if (rc == 1)
		rc = error_set(err, ERR_TRANSIENT, "BRANCH_MOVED",
		    "%s moved while the release was made; nothing was "
		    "written, try again",
		    branch_ref);
	if (rc != 0)
		goto out;
	rc = ref_cas(repo, tag_ref, tid, &zero, err);
	if (rc == 0)
		goto out;
	if (rc == 1)
		error_set(err, ERR_CONFLICT, "TAG_EXISTS",
		    "tag %s was created by someone else meanwhile", tag);
	rc = err != NULL ? err->rc : ERR_FAIL;
	/* Give the branch back; if it moved on top of our commit, the next
	 * request completes the release from the Release-Tag trailer. */
	if (ref_cas(repo, branch_ref, tip, cid, NULL) != 0)
		git_error_clear();
out:
	free(tag_ref);
	return rc;
}

/* ---- store_release -------------------------------------------------- */

/* The Release-Tag trailer of the tip's message, "" when none. */
static void
release_trailer(char *out, size_t n, const char *msg)
{
	git_message_trailer_array arr = { 0 };

	out[0] = '\0';
	if (git_message_trailers(&arr, msg) == 0)
		for (size_t i = 0; i < arr.count; i++)
			if (strcmp(arr.trailers[i].key, "Release-Tag") == 0)
				snprintf(out, n, "%s", arr.trailers[i].value);
	git_error_clear();
	git_message_trailer_array_free(&arr);
}

/* The notes kept in a changelog commit's message (between the subject
 * and the trailer), for a tag that must be made after a crash. */
static char *
notes_from_message(const char *msg)
{
	const char *body = strstr(msg, "\n\n"), *end;

	if (body == NULL)
		return xstrdup("");
	body += 2;
	end = strstr(body, "\n" RELEASE_TRAILER);
	return xstrndup(body, end ? (size_t)(end - body) + 1 : strlen(body));
}

static enum version_bump
bump_between(const struct semver *a, const struct semver *b)
{
	if (a->major != b->major)
		return VERSION_BUMP_MAJOR;
	if (a->minor != b->minor)
		return VERSION_BUMP_MINOR;
	return a->patch != b->patch ? VERSION_BUMP_PATCH : VERSION_BUMP_NONE;
}

/* The tip is a changelog commit of ours for `tag`: answer that release,
 * creating its tag when a crash left it out. Returns 0, or 1 when the
 * tip is not such a commit after all. */
static int
release_existing(struct store_release_result *res, git_repository *repo,
    const struct store *st, const char *prefix, const git_oid *tip,
    const char *tag, const char *msg, struct error *err)
{
	char *tag_ref = xasprintf("refs/tags/%s", tag);
	git_reference *ref = NULL;
	git_object *peeled = NULL, *cobj = NULL;
	git_signature *sig = NULL;
	struct hist_tag prev;
	struct semver v, pv = { 0, 0, 0 };
	git_oid tid, zero;
	int grc, rc = 1;

	if (strncmp(tag, prefix, strlen(prefix)) != 0 ||
	    semver_parse(&v, tag + strlen(prefix), NULL) < 0)
		goto out;
	grc = git_reference_lookup(&ref, repo, tag_ref);
	git_error_clear();
	if (grc == 0) {
		if (git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT) < 0 ||
		    !git_oid_equal(git_object_id(peeled), tip)) {
			git_error_clear();
			goto out; /* not ours: the normal path says TAG_EXISTS
			           */
		}
		res->notes = xstrdup(""); /* filled from the tag below */
		{
			git_tag *t = NULL;

			if (git_tag_lookup(&t, repo,
			        git_reference_target(ref)) == 0) {
				free(res->notes);
				res->notes = xstrdup(git_tag_message(t));
				store_tag_message_strip(res->notes);
			}
			git_error_clear();
			git_tag_free(t);
		}
		res->duplicate = true;
	} else {
		memset(&zero, 0, sizeof(zero));
		res->notes = notes_from_message(msg);
		if ((grc = STORE_GIT(git_object_lookup(&cobj, repo, tip,
		         GIT_OBJECT_COMMIT))) < 0 ||
		    (grc = git_signature_now(&sig, "artifactd",
		         "artifactd@localhost")) < 0) {
			rc = store_git_error(err, grc, "write release tag");
			goto out;
		}
		if ((rc = store_tag_write(&tid, repo, st, tag, cobj, sig,
		         res->notes, err)) < 0)
			goto out;
		if ((rc = ref_cas(repo, tag_ref, &tid, &zero, err)) != 0) {
			if (rc == 1)
				rc = error_set(err, ERR_CONFLICT, "TAG_EXISTS",
				    "tag %s was created meanwhile", tag);
			goto out;
		}
		res->created = true;
	}
	if ((rc = last_release(&prev, repo, prefix, tip, tip, err)) < 0)
		goto out;
	if (prev.found) {
		pv = prev.v;
		res->previous_tag = xstrdup(prev.name);
	}
	res->bump = bump_between(&pv, &v);
	res->version = xstrdup(tag + strlen(prefix));
	res->previous_version =
	    xasprintf("%llu.%llu.%llu", (unsigned long long)pv.major,
	        (unsigned long long)pv.minor, (unsigned long long)pv.patch);
	res->tag = xstrdup(tag);
	res->commit_sha = xstrdup(git_oid_tostr_s(tip));
	res->changelog_sha = xstrdup(res->commit_sha);
	res->entries = xcalloc(1, sizeof(char *));
	rc = 0;
out:
	git_signature_free(sig);
	git_object_free(cobj);
	git_object_free(peeled);
	git_reference_free(ref);
	free(tag_ref);
	return rc;
}

/* The computation (and unless dry, the writing) on one handle. */
static int
release_run(struct store_release_result *res, struct store *st,
    git_repository *repo, const struct store_release_req *req,
    const struct conv_rules *rules, struct error *err)
{
	struct hist h = { 0 };
	struct hist_tag last;
	struct semver cur = { 0, 0, 0 }, next;
	enum version_bump largest = VERSION_BUMP_NONE;
	git_commit *tipc = NULL;
	git_reference *existing = NULL;
	git_oid tip, cid, tid;
	char *branch_ref = NULL, trailer[VERSION_MAX + 16], ver[VERSION_MAX];
	const char *branch = req->branch ? req->branch : st->opts.base_branch;
	int grc, rc;

	if ((rc = branch_tip(&tip, &branch_ref, repo, branch, err)) < 0)
		goto out;
	if ((grc = STORE_GIT(git_commit_lookup(&tipc, repo, &tip))) < 0) {
		rc = store_git_error(err, grc, "read branch tip");
		goto out;
	}
	release_trailer(trailer, sizeof(trailer), git_commit_message(tipc));
	if (trailer[0] != '\0' &&
	    (rc = release_existing(res, repo, st, req->tag_prefix, &tip,
	         trailer, git_commit_message(tipc), err)) <= 0)
		goto out;
	if ((rc = last_release(&last, repo, req->tag_prefix, &tip, NULL, err)) <
	        0 ||
	    (rc = collect(&h, repo, &tip, last.found ? &last.commit : NULL,
	         rules, err)) < 0)
		goto out;
	if (last.found)
		cur = last.v;
	for (size_t i = 0; i < h.n; i++)
		if (h.c[i].parsed && h.c[i].conv.bump > largest)
			largest = h.c[i].conv.bump;
	res->bump = conv_release_bump(largest, h.n, &cur, rules);
	res->ncommits = h.n;
	next = cur;
	semver_bump(&next, res->bump);
	semver_format(ver, sizeof(ver), &next);
	res->version = xstrdup(ver);
	semver_format(ver, sizeof(ver), &cur);
	res->previous_version = xstrdup(ver);
	res->previous_tag = last.found ? xstrdup(last.name) : NULL;
	res->commit_sha = xstrdup(git_oid_tostr_s(&tip));
	res->notes = notes_render(&h, rules);
	result_entries(res, &h);
	if (res->bump == VERSION_BUMP_NONE)
		goto out;
	res->tag = xasprintf("%s%s", req->tag_prefix, res->version);
	{
		char *tag_ref = xasprintf("refs/tags/%s", res->tag);

		grc = git_reference_lookup(&existing, repo, tag_ref);
		git_error_clear();
		free(tag_ref);
	}
	if (grc == 0) {
		rc = error_set(err, ERR_CONFLICT, "TAG_EXISTS",
		    "tag %s already exists on another commit", res->tag);
		goto out;
	}
	if (req->dry_run)
		goto out;
	if ((rc = release_objects(&cid, &tid, repo, st, &tip, res->tag,
	         res->notes[0] ? res->notes : "Release.\n", err)) < 0 ||
	    (rc = release_refs(repo, branch_ref, &tip, &cid, res->tag, &tid,
	         err)) < 0)
		goto out;
	free(res->commit_sha);
	res->commit_sha = xstrdup(git_oid_tostr_s(&cid));
	res->changelog_sha = xstrdup(res->commit_sha);
	res->created = true;
out:
	git_reference_free(existing);
	git_commit_free(tipc);
	hist_dispose(&h);
	free(branch_ref);
	return rc;
}

int
store_release(struct store *st, const struct store_release_req *req,
    struct store_release_result *res, struct error *err)
{
	struct store_release_result r;
	struct conv_rules defaults;
	git_repository *repo = NULL;
	char prefix_check[VERSION_MAX];
	char *pat;
	int rc;

	memset(&r, 0, sizeof(r));
	conv_rules_default(&defaults);
	pat = xasprintf("%s*", req->tag_prefix);
	rc = version_tag_prefix(prefix_check, sizeof(prefix_check), pat, err);
	free(pat);
	if (rc < 0)
		return rc;
	if ((rc = store_repo_acquire(st, &repo, err)) < 0)
		return rc;
	rc = release_run(&r, st, repo, req, req->rules ? req->rules : &defaults,
	    err);
	store_repo_release(st, repo);
	if (rc < 0) {
		store_release_result_dispose(&r);
		return rc;
	}
	*res = r;
	return 0;
}

/* ---- store_dev_version ---------------------------------------------- */

/* Commits reachable from tip and not from hide (may be NULL). */
static int
count_commits(size_t *out, git_repository *repo, const git_oid *tip,
    const git_oid *hide, struct error *err)
{
	git_revwalk *walk = NULL;
	git_oid id;
	size_t n = 0;
	int grc, rc = 0;

	if ((grc = STORE_GIT(git_revwalk_new(&walk, repo))) < 0 ||
	    (grc = git_revwalk_push(walk, tip)) < 0 ||
	    (hide != NULL && (grc = git_revwalk_hide(walk, hide)) < 0)) {
		rc = store_git_error(err, grc, "walk history");
		goto out;
	}
	while ((grc = git_revwalk_next(&id, walk)) == 0)
		if (++n > STORE_HISTORY_COUNT_MAX) {
			rc = error_set(err, ERR_INVALID, "RELEASE_TOO_LARGE",
			    "more than %d commits to count",
			    STORE_HISTORY_COUNT_MAX);
			goto out;
		}
	if (grc != GIT_ITEROVER) {
		rc = store_git_error(err, grc, "walk history");
		goto out;
	}
	*out = n;
out:
	git_revwalk_free(walk);
	return rc;
}

/* The nearest tag <prefix><digit...> reachable from tip: fewest commits
 * between it and the tip (git describe's choice; ties: the first met). */
static int
nearest_tag(char *name, size_t namesz, size_t *dist, git_repository *repo,
    const char *prefix, const git_oid *tip, struct error *err)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	git_object *peeled = NULL;
	char *glob = xasprintf("refs/tags/%s*", prefix);
	size_t plen = strlen("refs/tags/") + strlen(prefix), seen = 0, d;
	bool found = false;
	int grc, rc = 0;

	if ((grc = STORE_GIT(
	         git_reference_iterator_glob_new(&it, repo, glob))) < 0) {
		rc = store_git_error(err, grc, "list tags");
		goto out;
	}
	while (git_reference_next(&ref, it) == 0) {
		const char *rest = git_reference_name(ref) + plen;

		if (++seen > STORE_RELEASE_TAGS_MAX) {
			rc = error_set(err, ERR_INVALID, "RELEASE_TOO_LARGE",
			    "more than %d tags %s*", STORE_RELEASE_TAGS_MAX,
			    prefix);
			goto out;
		}
		if (*rest == 'v' || *rest == 'V')
			rest++;
		if (*rest >= '0' && *rest <= '9' &&
		    git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT) == 0 &&
		    reachable(repo, tip, git_object_id(peeled))) {
			if ((rc = count_commits(&d, repo, tip,
			         git_object_id(peeled), err)) < 0)
				goto out;
			if (!found || d < *dist) {
				found = true;
				*dist = d;
				snprintf(name, namesz, "%s",
				    git_reference_name(ref) +
				        strlen("refs/tags/"));
			}
		}
		git_error_clear();
		git_object_free(peeled);
		peeled = NULL;
		git_reference_free(ref);
		ref = NULL;
	}
	git_error_clear();
	rc = found ? 0 : ERR_NOTFOUND;
out:
	git_object_free(peeled);
	git_reference_free(ref);
	git_reference_iterator_free(it);
	free(glob);
	return rc;
}

static int
dev_run(struct store_dev_result *res, git_repository *repo, const char *branch,
    const char *prefix, struct error *err)
{
	char tag[VERSION_MAX + 16], tv[VERSION_MAX], out[2 * VERSION_MAX];
	char sha[GIT_OID_HEXSZ + 1];
	char *branch_ref = NULL;
	git_oid tip;
	size_t dist = 0;
	int rc;

	if ((rc = branch_tip(&tip, &branch_ref, repo, branch, err)) < 0)
		goto out;
	res->commit_sha = xstrdup(git_oid_tostr_s(&tip));
	rc = nearest_tag(tag, sizeof(tag), &dist, repo, prefix, &tip, err);
	if (rc == ERR_NOTFOUND) {
		/* setuptools_scm: "0.0" and every commit, node[:7]. */
		if ((rc = count_commits(&dist, repo, &tip, NULL, err)) < 0)
			goto out;
		snprintf(sha, sizeof(sha), "%.7s", res->commit_sha);
		rc = version_dev(out, sizeof(out), NULL, dist, sha, err);
	} else if (rc == 0) {
		if ((rc = pep440_normalize(tv, sizeof(tv), tag + strlen(prefix),
		         err)) < 0) {
			error_set(err, rc, "INVALID_VERSION",
			    "tag %s is not a PEP 440 version", tag);
			goto out;
		}
		if ((rc = short_id(sha, sizeof(sha), repo, &tip, err)) < 0)
			goto out;
		res->tag = xstrdup(tag);
		rc = version_dev(out, sizeof(out), tv, dist, sha, err);
	}
	if (rc < 0)
		goto out;
	res->version = xstrdup(out);
	res->distance = dist;
out:
	free(branch_ref);
	return rc;
}

int
store_dev_version(struct store *st, const char *branch, const char *tag_prefix,
    struct store_dev_result *res, struct error *err)
{
	struct store_dev_result r;
	git_repository *repo = NULL;
	char check[VERSION_MAX];
	char *pat = xasprintf("%s*", tag_prefix);
	int rc;

	memset(&r, 0, sizeof(r));
	rc = version_tag_prefix(check, sizeof(check), pat, err);
	free(pat);
	if (rc < 0)
		return rc;
	if ((rc = store_repo_acquire(st, &repo, err)) < 0)
		return rc;
	rc = dev_run(&r, repo, branch ? branch : st->opts.base_branch,
	    tag_prefix, err);
	store_repo_release(st, repo);
	if (rc < 0) {
		store_dev_result_dispose(&r);
		return rc;
	}
	*res = r;
	return 0;
}

void
store_dev_result_dispose(struct store_dev_result *res)
{
	if (res == NULL)
		return;
	free(res->version);
	free(res->tag);
	free(res->commit_sha);
	memset(res, 0, sizeof(*res));
}

/* ---- store_tag_message ---------------------------------------------- */

/* Where a signature block appended to a tag message starts (at the start
 * of a line), or the message's end. */
static size_t
tag_message_len(const char *msg)
{
	static const char *const marks[] = { "-----BEGIN PGP SIGNATURE-----",
		"-----BEGIN SSH SIGNATURE-----",
		"-----BEGIN SIGNED MESSAGE-----" };
	size_t len = strlen(msg);

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		const char *p = msg;

		while ((p = strstr(p, marks[i])) != NULL) {
			if (p == msg || p[-1] == '\n') {
				if ((size_t)(p - msg) < len)
					len = (size_t)(p - msg);
				break;
			}
			p++;
		}
	}
	return len;
}

int
store_tag_message(struct store *st, const char *tag, char **out,
    struct error *err)
{
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_object *obj = NULL;
	char *name = xasprintf("refs/tags/%s", tag);
	const char *msg;
	size_t len;
	int valid = 0, grc, rc;

	*out = NULL;
	if ((rc = store_repo_acquire(st, &repo, err)) < 0) {
		free(name);
		return rc;
	}
	grc = git_reference_name_is_valid(&valid, name);
	if (grc == 0 && !valid)
		grc = GIT_ENOTFOUND;
	if (grc == 0)
		grc = STORE_GIT(git_reference_lookup(&ref, repo, name));
	if (grc == GIT_ENOTFOUND) {
		git_error_clear();
		rc = error_set(err, ERR_NOTFOUND, "TAG_NOT_FOUND",
		    "no tag %.*s", VERSION_MAX, tag);
		goto out;
	}
	/* The ref's own target: an annotated tag is a tag object. */
	if (grc == 0 && git_reference_target(ref) == NULL)
		grc = GIT_ERROR; /* symbolic: not a tag store_release made */
	if (grc < 0 || (grc = STORE_GIT(git_object_lookup(&obj, repo,
	                    git_reference_target(ref), GIT_OBJECT_ANY))) < 0) {
		rc = store_git_error(err, grc, "read tag");
		goto out;
	}
	rc = 0;
	if (git_object_type(obj) != GIT_OBJECT_TAG)
		goto out; /* lightweight: no message */
	msg = git_tag_message((const git_tag *)obj);
	len = msg != NULL ? tag_message_len(msg) : 0;
	if (len > STORE_TAG_MESSAGE_MAX)
		rc = error_set(err, ERR_INVALID, "TAG_MESSAGE_TOO_LARGE",
		    "the message of tag %.*s is over %d bytes", VERSION_MAX,
		    tag, STORE_TAG_MESSAGE_MAX);
	else
		*out = xstrndup(msg != NULL ? msg : "", len);
out:
	git_object_free(obj);
	git_reference_free(ref);
	store_repo_release(st, repo);
	free(name);
	return rc;
}
