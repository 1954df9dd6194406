/*
 * push_child.c - the processes that talk to the remote: the push helper
 * forked at store_open() and the short-lived child it forks for each
 * push or fetch, with the protocol the child speaks (push.c is the
 * caller's side).
 *
 * libgit2 1.5 has no network timeout, and a server that accepts and goes
 * silent hangs a push forever; SIGALRM does not help with SSH (store.md
 * 2.4). So every network operation runs in a short-lived child process
 * that the caller kills at the deadline. Forking a process whose other
 * threads may hold libgit2's internal locks is unsafe, so the children
 * are not forked by the caller: store_open() forks one single-threaded
 * helper, and each operation hands the helper one end of a fresh socket
 * pair (SCM_RIGHTS); the helper forks the child, which reports its pid,
 * then per-ref results, then a final status line. The caller polls with
 * the deadline and SIGKILLs the child when it passes. Process death also
 * releases any lock file the child held.
 *
 * Protocol (text lines, child to caller):
 *	pid <n>
 *	ref <refname> <status> [message]   status: nonff conflict rejected
 *	                                   missing waiting (only problems)
 *	fetched <refname> <hex>            remote tip of a nonff branch
 *	done <rc> <message>
 * A ref without a line went through. The branch is pushed before the tags
 * (libgit2 has no atomic push, store.md 2.1), tags the remote already has
 * are never pushed (libgit2 would fast-forward them), and a branch the
 * remote moved is fetched so that the caller can rebuild our commits on
 * the new tip (store.md 2.5).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/store_int.h"
/* Where the tip of a remote branch is fetched to, out of the way of the
 * refs we publish. */
#define PUSH_FETCHED_NS "refs/artifactd/fetched/"

/* The child side -------------------------------------------------------- */

struct child_ctx {
	int fd;
	const struct store_creds *creds; /* the store's copy (forked) */
	int cred_calls;
	struct buf *rejected; /* "refname\tstatus\n" from the server */
};

static void child_say(struct child_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
child_say(struct child_ctx *c, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	size_t off = 0;
	ssize_t n;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len > sizeof(line) - 2)
		len = (int)sizeof(line) - 2;
	/* Server messages and libgit2's text may quote the remote URL with
	 * its password: nothing leaves the child unredacted. */
	redact_buf(line, (size_t)len + 1);
	len = (int)strlen(line);
	/* One line per record: messages from servers may hold newlines. */
	for (int i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	while (off < (size_t)len) {
		n = write(c->fd, line + off, (size_t)len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3);
		off += (size_t)n;
	}
}

/*
 * Credentials from the store's options (the settings git-token with
 * git-username, default "x-access-token", or git-username + git-password
 * for HTTPS; git-ssh-key (+ git-ssh-pubkey, git-ssh-passphrase) or the
 * ssh-agent for SSH). SSH_AUTH_SOCK is read only to know whether an agent
 * is there: it is the agent's own interface (libssh2 reads it), not a
 * setting of ours.
 * libgit2 asks again forever when a credential is refused, so the calls
 * are capped.
 */
static int
child_cred(git_credential **out, const char *url, const char *user_from_url,
    unsigned int allowed, void *payload)
{
	struct child_ctx *c = payload;
	const struct store_creds *cr = c->creds;
	const char *user = cr->username, *u;
	int rc = GIT_PASSTHROUGH;

	(void)url;
	if (++c->cred_calls > STORE_CRED_ATTEMPTS) {
		git_error_set_str(GIT_ERROR_NET,
		    "credentials refused by the remote");
		return GIT_EAUTH;
	}
	if (allowed & GIT_CREDENTIAL_SSH_KEY) {
		u = user_from_url ? user_from_url : user ? user : "git";
		if (cr->ssh_key != NULL)
			rc = git_credential_ssh_key_new(out, u, cr->ssh_pubkey,
			    cr->ssh_key, cr->ssh_passphrase);
		else if (getenv("SSH_AUTH_SOCK") != NULL)
			rc = git_credential_ssh_key_from_agent(out, u);
	} else if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		if (cr->token != NULL)
			rc = git_credential_userpass_plaintext_new(out,
			    user            ? user
			    : user_from_url ? user_from_url
			                    : "x-access-token",
			    cr->token);
		else if (cr->password != NULL)
			rc = git_credential_userpass_plaintext_new(out,
			    user            ? user
			    : user_from_url ? user_from_url
			                    : "",
			    cr->password);
	} else if (allowed & GIT_CREDENTIAL_USERNAME) {
		rc = git_credential_username_new(out, user_from_url
		                                          ? user_from_url
		                                      : user ? user
		                                             : "git");
	}
	return rc;
}

/*
 * Certificates: what libgit2 verified is accepted (the CA bundle for
 * HTTPS, ~/.ssh/known_hosts for SSH). An SSH host key it does not know
 * is accepted only when it matches the git-ssh-host-key setting, the
 * "SHA256:..." fingerprint that `ssh-keygen -lf key.pub` prints.
 */
static int
child_cert(git_cert *cert, int valid, const char *host, void *payload)
{
	const struct child_ctx *c = payload;
	const char *pin = c->creds->ssh_host_key;
	char *b64;
	size_t n;
	int match;

	(void)host;
	if (valid)
		return 0;
	if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2 && pin != NULL) {
		git_cert_hostkey *hk = (git_cert_hostkey *)cert;

		if (hk->type & GIT_CERT_SSH_SHA256) {
			/* ssh-keygen -l prints the base64 without padding. */
			b64 = util_base64_encode(hk->hash_sha256, 32);
			n = strcspn(b64, "=");
			if (strncmp(pin, "SHA256:", 7) == 0)
				pin += 7;
			match = strlen(pin) == n && strncmp(pin, b64, n) == 0;
			free(b64);
			if (match)
				return 0;
		}
	}
	git_error_set_str(GIT_ERROR_SSL, "the remote's certificate or host "
	                                 "key is not trusted");
	return GIT_ECERTIFICATE;
}

static int
child_update_ref(const char *refname, const char *status, void *payload)
{
	struct child_ctx *c = payload;

	if (status != NULL)
		(void)buf_printf(c->rejected, "%s\t%s\n", refname, status);
	return 0;
}

static void
child_callbacks(git_remote_callbacks *cb, struct child_ctx *c)
{
	git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->credentials = child_cred;
	cb->certificate_check = child_cert;
	cb->push_update_reference = child_update_ref;
	cb->payload = c;
}

struct child_ref {
	char *name;
	git_oid local;
	bool have_local;
	git_oid remote;
	bool have_remote;
	bool is_tag;
	int state; /* 0 pending, 1 done, 2 failed */
};

static int
child_cmp_head(const void *a, const void *b)
{
	const git_remote_head *x = *(const git_remote_head *const *)a;
	const git_remote_head *y = *(const git_remote_head *const *)b;

	return strcmp(x->name, y->name);
}

static const git_remote_head *
child_find_head(const git_remote_head **heads, size_t n, const char *name)
{
	git_remote_head key, *kp = &key;
	const git_remote_head **hit;

	key.name = (char *)(uintptr_t)name;
	hit = bsearch(&kp, heads, n, sizeof(*heads), child_cmp_head);
	return hit ? *hit : NULL;
}

/* Is tag t's commit on a branch of refs that went through? The branch
 * named by the commit's trailers is tried first, so this stays cheap
 * with many branches. */
static bool
child_tag_ready(git_repository *repo, struct child_ref *t,
    struct child_ref *refs, size_t n, const char *prefix)
{
	struct store_trailers tr;
	git_commit *c = NULL;
	git_object *obj = NULL;
	git_oid cid;
	char want[1024];
	bool ok = false;
	size_t i;

	if (git_revparse_single(&obj, repo, t->name) < 0 ||
	    git_object_peel((git_object **)&c, obj, GIT_OBJECT_COMMIT) < 0) {
		git_error_clear();
		git_object_free(obj);
		return false;
	}
	git_oid_cpy(&cid, git_commit_id(c));
	store_trailers_parse(&tr, git_commit_message(c));
	snprintf(want, sizeof(want), "refs/heads/%s/%s/%s", prefix,
	    tr.workflow_id, tr.task_id);
	for (i = 0; i < n && !ok; i++) {
		if (refs[i].is_tag || refs[i].state != 1 || !refs[i].have_local)
			continue;
		if (n > 64 && strcmp(refs[i].name, want) != 0)
			continue;
		ok = git_oid_equal(&refs[i].local, &cid) ||
		     git_graph_descendant_of(repo, &refs[i].local, &cid) == 1;
	}
	git_error_clear();
	git_commit_free(c);
	git_object_free(obj);
	return ok;
}

/* Push refs[] whose state is 0 and whose kind is `tags`; mark results. */
static int
child_push_set(git_remote *remote, struct child_ctx *c,
    const git_remote_callbacks *cb, struct child_ref *refs, size_t n, bool tags,
    bool *any_nonff)
{
	git_push_options po;
	git_strarray specs = { 0 };
	struct buf rej;
	size_t i, k = 0;
	int grc;
	char *line, *tab, *nl;

	specs.strings = xcalloc(n, sizeof(char *));
	for (i = 0; i < n; i++)
		if (refs[i].state == 0 && refs[i].is_tag == tags)
			specs.strings[k++] =
			    xasprintf("%s:%s", refs[i].name, refs[i].name);
	specs.count = k;
	if (k == 0) {
		free(specs.strings);
		return 0;
	}
	buf_init(&rej, PUSH_REPLY_MAX);
	c->rejected = &rej;
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks = *cb;
	c->cred_calls = 0;
	/* The branch push reuses the connection that listed the remote's
	 * refs; a receive-pack session takes one push, so the tags get a
	 * connection of their own. */
	grc = git_remote_connected(remote)
	          ? STORE_GIT(git_remote_upload(remote, &specs, &po))
	          : STORE_GIT(git_remote_push(remote, &specs, &po));
	git_remote_disconnect(remote);
	if (grc == GIT_ENONFASTFORWARD && !tags) {
		/* The whole push was refused on our side: every branch in
		 * it needs the remote's tip. */
		for (i = 0; i < n; i++)
			if (refs[i].state == 0 && !refs[i].is_tag) {
				refs[i].state = 2;
				child_say(c, "ref %s nonff", refs[i].name);
				*any_nonff = true;
			}
		grc = 0;
	} else if (grc == 0) {
		for (line = rej.data; line && *line; line = nl + 1) {
			if ((nl = strchr(line, '\n')) == NULL)
				break;
			*nl = '\0';
			if ((tab = strchr(line, '\t')) == NULL)
				continue;
			*tab = '\0';
			for (i = 0; i < n; i++) {
				if (refs[i].state != 0 ||
				    strcmp(refs[i].name, line) != 0)
					continue;
				refs[i].state = 2;
				if (tags) {
					child_say(c, "ref %s rejected %s", line,
					    tab + 1);
				} else {
					child_say(c, "ref %s nonff %s", line,
					    tab + 1);
					*any_nonff = true;
				}
			}
		}
		for (i = 0; i < n; i++)
			if (refs[i].state == 0 && refs[i].is_tag == tags)
				refs[i].state = 1;
	}
	c->rejected = NULL;
	buf_dispose(&rej);
	for (i = 0; i < k; i++)
		free(specs.strings[i]);
	free(specs.strings);
	return grc;
}

/* Fetch the remote tips of the branches that were refused. */
static int
child_fetch_nonff(git_remote *remote, struct child_ctx *c,
    const git_remote_callbacks *cb, git_repository *repo,
    struct child_ref *refs, size_t n)
{
	git_fetch_options fo;
	git_strarray specs = { 0 };
	git_oid id;
	char *local;
	size_t i, k = 0;
	int grc;

	specs.strings = xcalloc(n, sizeof(char *));
	for (i = 0; i < n; i++)
		if (!refs[i].is_tag && refs[i].state == 2)
			specs.strings[k++] =
			    xasprintf("+%s:" PUSH_FETCHED_NS "%s", refs[i].name,
			        refs[i].name + strlen("refs/heads/"));
	specs.count = k;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks = *cb;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	c->cred_calls = 0;
	grc = k ? git_remote_fetch(remote, &specs, &fo, "artifactd: fetch") : 0;
	for (i = 0; grc == 0 && i < n; i++) {
		if (refs[i].is_tag || refs[i].state != 2)
			continue;
		local = xasprintf(PUSH_FETCHED_NS "%s",
		    refs[i].name + strlen("refs/heads/"));
		if (git_reference_name_to_id(&id, repo, local) == 0)
			child_say(c, "fetched %s %s", refs[i].name,
			    git_oid_tostr_s(&id));
		git_error_clear();
		free(local);
	}
	for (i = 0; i < k; i++)
		free(specs.strings[i]);
	free(specs.strings);
	return grc;
}

/* Collect the refs to sync for op "pending": our branches and tags. */
static void
child_pending_refs(git_repository *repo, const char *prefix, char ***names,
    size_t *n)
{
	static const char *const tagglobs[] = { "refs/tags/corr_*",
		"refs/tags/prompt_*" };
	git_reference_iterator *it = NULL;
	const char *name;
	char *glob = xasprintf("refs/heads/%s/*", prefix);
	size_t g;

	for (g = 0; g < 3; g++) {
		const char *pat = g == 0 ? glob : tagglobs[g - 1];

		if (git_reference_iterator_glob_new(&it, repo, pat) < 0)
			continue;
		while (git_reference_next_name(&name, it) == 0) {
			*names = xrealloc(*names, (*n + 1) * sizeof(char *));
			(*names)[(*n)++] = xstrdup(name);
		}
		git_reference_iterator_free(it);
		it = NULL;
	}
	git_error_clear();
	free(glob);
}

/* The request of one operation: op, repository, url, prefix, then ref
 * names, one per line. */
struct child_req {
	char *op, *path, *url, *prefix;
	char **names;
	size_t nnames;
};

/* Read the whole request from fd (the caller shuts its side down after
 * writing) and split it into rq. Exits the child on a bad request. */
static void
child_read_request(int fd, struct child_ctx *c, struct child_req *rq)
{
	struct buf req;
	char chunk[4096], *p, *nl;
	ssize_t r;
	size_t i;

	buf_init(&req, PUSH_REQUEST_MAX);
	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || buf_append(&req, chunk, (size_t)r) < 0)
			_exit(3);
	}
	/* op, repository, url, prefix, then ref names, one per line. */
	p = req.data ? req.data : xstrdup("");
	rq->op = p;
	rq->path = rq->url = rq->prefix = NULL;
	for (i = 0; (nl = strchr(p, '\n')) != NULL; i++) {
		*nl = '\0';
		if (i == 0)
			rq->op = p;
		else if (i == 1)
			rq->path = p;
		else if (i == 2)
			rq->url = p;
		else if (i == 3)
			rq->prefix = p;
		else if (*p != '\0') {
			rq->names = xrealloc(rq->names,
			    (rq->nnames + 1) * sizeof(char *));
			rq->names[rq->nnames++] = xstrdup(p);
		}
		p = nl + 1;
	}
	if (rq->path == NULL || rq->url == NULL || rq->prefix == NULL) {
		child_say(c, "done -1 bad request");
		_exit(2);
	}
}

/* Compare each ref with the remote's advertisement (heads, nheads): mark
 * the refs already there done, and the missing, conflicting and
 * non-fast-forward ones failed, saying so. Returns whether a branch
 * needs a fetch and a rebuild. */
static bool
child_compare_refs(struct child_ctx *c, git_repository *repo,
    const git_remote_head **heads, size_t nheads, struct child_ref *refs,
    size_t nrefs)
{
	const git_remote_head **sorted, *h;
	bool any_nonff = false;
	size_t i;

	sorted = xcalloc(nheads ? nheads : 1, sizeof(*sorted));
	if (nheads > 0) /* an empty remote lists nothing (NULL) */
		memcpy(sorted, heads, nheads * sizeof(*sorted));
	qsort(sorted, nheads, sizeof(*sorted), child_cmp_head);
	for (i = 0; i < nrefs; i++) {
		struct child_ref *rf = &refs[i];

		if ((h = child_find_head(sorted, nheads, rf->name)) != NULL) {
			git_oid_cpy(&rf->remote, &h->oid);
			rf->have_remote = true;
		}
		if (!rf->have_local) {
			rf->state = 2;
			child_say(c, "ref %s missing", rf->name);
		} else if (rf->have_remote &&
		           git_oid_equal(&rf->remote, &rf->local)) {
			rf->state = 1;
		} else if (rf->is_tag && rf->have_remote) {
			/* Tags are never moved: the remote's wins. */
			rf->state = 2;
			child_say(c, "ref %s conflict", rf->name);
		} else if (!rf->is_tag && rf->have_remote &&
		           git_graph_descendant_of(repo, &rf->local,
		               &rf->remote) != 1) {
			/* Unknown or diverged remote tip: fetch, rebuild. */
			rf->state = 2;
			any_nonff = true;
			child_say(c, "ref %s nonff", rf->name);
		}
	}
	git_error_clear();
	free(sorted);
	return any_nonff;
}

/*
 * Op "release" (push_release.c): the branch and the tag in one push, or
 * nothing. A ref the comparison failed (a remote tip that is not an
 * ancestor of ours, the tag there on another object) stops it before
 * anything is sent, and nothing is fetched: a release is never rebuilt.
 * Both go in one receive-pack request, so a pre-receive hook that
 * refuses one refuses both; a refusal is reported as "ref <name> nonff
 * <the server's message>".
 */
static int
child_push_release(git_remote *remote, struct child_ctx *c,
    const git_remote_callbacks *cb, struct child_ref *refs, size_t n)
{
	bool nonff = false;
	size_t i;

	for (i = 0; i < n; i++)
		if (refs[i].state == 2)
			return 0; /* the comparison said why */
	/* child_push_set sends every pending non-tag in one request. */
	for (i = 0; i < n; i++)
		refs[i].is_tag = false;
	return child_push_set(remote, c, cb, refs, n, false, &nonff);
}

/*
 * One upload of specs (NULL-terminated count k) on remote, reconnecting
 * when the last one closed the session; the server's refusals are
 * appended to rej as "refname\tstatus\n".
 */
static int
child_upload(git_remote *remote, struct child_ctx *c,
    const git_remote_callbacks *cb, char **specs, size_t k, struct buf *rej)
{
	git_strarray sa = { specs, k };
	git_push_options po;
	int grc;

	if (k == 0)
		return 0;
	c->rejected = rej;
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks = *cb;
	c->cred_calls = 0;
	grc = git_remote_connected(remote)
	          ? STORE_GIT(git_remote_upload(remote, &sa, &po))
	          : STORE_GIT(git_remote_push(remote, &sa, &po));
	git_remote_disconnect(remote);
	c->rejected = NULL;
	return grc;
}

/* Did the server refuse ref `name` (a line "name\t..." of rej)? */
static bool
child_refused(const struct buf *rej, const char *name)
{
	const char *p = rej->data;
	size_t n = strlen(name);

	for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, name, n) == 0 && p[n] == '\t')
			return true;
	return false;
}

/*
 * Op "expire" (expire.c): each request line is "<branch> <oid>
 * [<archive>]". The archive refs are pushed first; then each branch whose
 * archive went through (or that has none) is deleted on the remote when
 * the remote's tip is still <oid>: the delete command carries that value
 * as its old id, so receive-pack refuses it if the branch moved even
 * after the advertisement (a compare-and-swap on the server). Says "ref
 * <branch> deleted|gone|moved|rejected <why>".
 */
static int
child_expire(git_remote *remote, struct child_ctx *c,
    const git_remote_callbacks *cb, const struct child_req *rq)
{
	const git_remote_head **heads = NULL, **sorted = NULL, *h;
	char **specs = NULL, **br = NULL, **ar = NULL, *sp;
	git_oid *want = NULL;
	struct buf rej;
	size_t nheads = 0, i, k = 0;
	bool *skip = NULL;
	int grc;

	buf_init(&rej, PUSH_REPLY_MAX);
	br = xcalloc(rq->nnames + 1, sizeof(*br));
	ar = xcalloc(rq->nnames + 1, sizeof(*ar));
	want = xcalloc(rq->nnames + 1, sizeof(*want));
	skip = xcalloc(rq->nnames + 1, sizeof(*skip));
	specs = xcalloc(rq->nnames + 1, sizeof(*specs));
	for (i = 0; i < rq->nnames; i++) {
		br[i] = rq->names[i];
		if ((sp = strchr(br[i], ' ')) == NULL ||
		    git_oid_fromstrn(&want[i], sp + 1, GIT_OID_HEXSZ) < 0) {
			skip[i] = true;
			continue;
		}
		*sp = '\0';
		if ((sp = strchr(sp + 1, ' ')) != NULL)
			ar[i] = sp + 1;
	}
	if ((grc = STORE_GIT(git_remote_connect(remote, GIT_DIRECTION_PUSH, cb,
	         NULL, NULL))) < 0 ||
	    (grc = STORE_GIT(git_remote_ls(&heads, &nheads, remote))) < 0)
		goto out;
	sorted = xcalloc(nheads + 1, sizeof(*sorted));
	if (nheads > 0)
		memcpy(sorted, heads, nheads * sizeof(*sorted));
	qsort(sorted, nheads, sizeof(*sorted), child_cmp_head);
	for (i = 0; i < rq->nnames; i++) {
		if (skip[i])
			continue;
		if ((h = child_find_head(sorted, nheads, br[i])) == NULL) {
			child_say(c, "ref %s gone", br[i]);
			skip[i] = true;
		} else if (!git_oid_equal(&h->oid, &want[i])) {
			child_say(c, "ref %s moved", br[i]);
			skip[i] = true;
		} else if (ar[i] != NULL) {
			specs[k++] = xasprintf("%s:%s", ar[i], ar[i]);
		}
	}
	if ((grc = child_upload(remote, c, cb, specs, k, &rej)) < 0)
		goto out;
	for (i = 0; i < rq->nnames; i++)
		if (!skip[i] && ar[i] != NULL && child_refused(&rej, ar[i])) {
			child_say(c, "ref %s rejected archive", br[i]);
			skip[i] = true;
		}
	for (i = 0; i < k; i++)
		free(specs[i]);
	k = 0;
	buf_dispose(&rej);
	buf_init(&rej, PUSH_REPLY_MAX);
	for (i = 0; i < rq->nnames; i++)
		if (!skip[i])
			specs[k++] = xasprintf(":%s", br[i]);
	if ((grc = child_upload(remote, c, cb, specs, k, &rej)) < 0)
		goto out;
	for (i = 0; i < rq->nnames; i++) {
		if (skip[i])
			continue;
		if (child_refused(&rej, br[i]))
			child_say(c, "ref %s rejected", br[i]);
		else
			child_say(c, "ref %s deleted", br[i]);
	}
out:
	for (i = 0; i < k; i++)
		free(specs[i]);
	buf_dispose(&rej);
	free(specs);
	free(sorted);
	free(skip);
	free(want);
	free(ar);
	free(br);
	return grc;
}

/* One operation, in the child. Never returns. */
static void
child_run(int fd, const struct store_creds *creds)
{
	struct child_ctx c = { .fd = fd, .creds = creds };
	struct child_req rq = { 0 };
	git_remote_callbacks cb;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	const git_remote_head **heads = NULL;
	struct child_ref *refs = NULL;
	size_t nheads = 0, i;
	bool any_nonff = false;
	int grc = 0;
	char msg[ERROR_MSG_MAX];

	child_say(&c, "pid %ld", (long)getpid());
	child_read_request(fd, &c, &rq);
	child_callbacks(&cb, &c);
	if ((grc = STORE_GIT(git_repository_open_ext(&repo, rq.path,
	         GIT_REPOSITORY_OPEN_NO_SEARCH, NULL))) < 0 ||
	    (grc = STORE_GIT(
	         git_remote_create_anonymous(&remote, repo, rq.url))) < 0)
		goto done;

	if (strcmp(rq.op, "fetch") == 0) {
		git_fetch_options fo;
		static char heads_spec[] = "+refs/heads/*:refs/heads/*";
		static char tags_spec[] = "+refs/tags/*:refs/tags/*";
		char *all[] = { heads_spec, tags_spec };
		git_strarray specs = { all, 2 };

		git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
		fo.callbacks = cb;
		grc = STORE_GIT(
		    git_remote_fetch(remote, &specs, &fo, "artifactd: clone"));
		goto done;
	}
	if (strcmp(rq.op, "expire") == 0) {
		grc = child_expire(remote, &c, &cb, &rq);
		goto done;
	}
	if (strcmp(rq.op, "pending") == 0)
		child_pending_refs(repo, rq.prefix, &rq.names, &rq.nnames);

	refs = xcalloc(rq.nnames ? rq.nnames : 1, sizeof(*refs));
	for (i = 0; i < rq.nnames; i++) {
		refs[i].name = rq.names[i];
		refs[i].is_tag = strncmp(rq.names[i], "refs/tags/", 10) == 0;
		refs[i].have_local = git_reference_name_to_id(&refs[i].local,
		                         repo, rq.names[i]) == 0;
	}
	git_error_clear();

	/* What does the remote have? One connection, one advertisement. */
	if ((grc = STORE_GIT(git_remote_connect(remote, GIT_DIRECTION_PUSH, &cb,
	         NULL, NULL))) < 0 ||
	    (grc = STORE_GIT(git_remote_ls(&heads, &nheads, remote))) < 0)
		goto done;
	any_nonff =
	    child_compare_refs(&c, repo, heads, nheads, refs, rq.nnames);
	if (strcmp(rq.op, "release") == 0) {
		grc = child_push_release(remote, &c, &cb, refs, rq.nnames);
		goto done;
	}

	/* Branches first, then the tags whose commits are now there. */
	if ((grc = child_push_set(remote, &c, &cb, refs, rq.nnames, false,
	         &any_nonff)) < 0)
		goto done;
	git_remote_disconnect(remote);
	for (i = 0; i < rq.nnames; i++) {
		if (!refs[i].is_tag || refs[i].state != 0)
			continue;
		if (!child_tag_ready(repo, &refs[i], refs, rq.nnames,
		        rq.prefix)) {
			refs[i].state = 2;
			child_say(&c, "ref %s waiting", refs[i].name);
		}
	}
	if ((grc = child_push_set(remote, &c, &cb, refs, rq.nnames, true,
	         &any_nonff)) < 0)
		goto done;
	if (any_nonff)
		grc = child_fetch_nonff(remote, &c, &cb, repo, refs, rq.nnames);
done:
	if (grc < 0) {
		store_git_message(msg, sizeof(msg), grc);
		child_say(&c, "done %d %s", grc, msg);
	} else {
		child_say(&c, "done 0 ok");
	}
	_exit(grc < 0 ? 1 : 0);
}

/* The helper process ------------------------------------------------------ */

static void
helper_main(int ctl, const struct store_creds *creds)
{
	struct msghdr mh;
	struct cmsghdr *cm;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte;
	sigset_t mask;
	int fd, i;
	pid_t pid;
	long maxfd = sysconf(_SC_OPEN_MAX);

	/* Keep nothing of the parent's but the control socket and stdio:
	 * a copy of another store's socket here would keep its helper
	 * alive. 4096 bounds the loop when the limit is huge. */
	if (maxfd < 0 || maxfd > 4096)
		maxfd = 4096;
	for (i = 3; i < maxfd; i++)
		if (i != ctl)
			close(i);
	/* The daemon's handlers (SIGTERM: drain) mean nothing here; the
	 * helper ends when its socket closes, its children with it. */
	sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = &byte;
		iov.iov_len = 1;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		ssize_t r = recvmsg(ctl, &mh, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(0);
		cm = CMSG_FIRSTHDR(&mh);
		if (cm == NULL || cm->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		pid = fork();
		if (pid == 0) {
			close(ctl);
			signal(SIGCHLD, SIG_DFL);
			/* No push outlives the helper, hence the daemon. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			child_run(fd, creds);
		}
		close(fd);
	}
}

int
store_helper_start(struct store *st, struct error *err)
{
	int sv[2];
	pid_t pid;

	if (st->opts.push_helper != NULL) {
		/* Borrowed (push.c sends through it): nothing to stop. */
		st->helper_fd = -1;
		st->helper_pid = -1;
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return error_set(err, ERR_FAIL, "GIT",
		    "socketpair for the push helper: %s", strerror(errno));
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return error_set(err, ERR_FAIL, "GIT",
		    "fork the push helper: %s", strerror(errno));
	}
	if (pid == 0) {
		close(sv[0]);
		helper_main(sv[1], &st->opts.creds);
		_exit(0);
	}
	close(sv[1]);
	st->helper_fd = sv[0];
	st->helper_pid = pid;
	return 0;
}

void
store_helper_stop(struct store *st)
{
	if (st->helper_fd >= 0) {
		close(st->helper_fd); /* EOF: the helper exits */
		st->helper_fd = -1;
	}
	if (st->helper_pid > 0) {
		while (waitpid(st->helper_pid, NULL, 0) < 0 && errno == EINTR)
			;
		st->helper_pid = -1;
	}
}

int
store_helper_open(struct store **out, const struct store_creds *creds,
    struct error *err)
{
	struct store *h;
	int rc;

	*out = NULL;
	/* The children open the repositories of later stores: the options
	 * store_open sets before its own fork (open.c) are set here. */
	git_libgit2_init();
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	h = xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->helper_lock, NULL);
	h->helper_fd = -1;
	h->helper_pid = -1;
	if (creds != NULL)
		h->opts.creds = *creds; /* borrowed: the fork copies them */
	rc = store_helper_start(h, err);
	memset(&h->opts.creds, 0, sizeof(h->opts.creds));
	if (rc < 0) {
		store_helper_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

void
store_helper_close(struct store *h)
{
	if (h == NULL)
		return;
	store_helper_stop(h);
	pthread_mutex_destroy(&h->helper_lock);
	free(h);
	git_libgit2_shutdown();
}
