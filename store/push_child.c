/*
 * store_push.c - pushing to the remote with a hard deadline, and bringing
 * a missing repository back from it.
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

/* The request is a few ref names; the reply lists only problem refs, at
 * most every ref of a 100k-ref repository (about 8 MB). */
#define PUSH_REQUEST_MAX (1024 * 1024)
#define PUSH_REPLY_MAX (16 * 1024 * 1024)

/* Where the tip of a remote branch is fetched to, out of the way of the
 * refs we publish. */
#define PUSH_FETCHED_NS "refs/artifactd/fetched/"

/* Commits rebuilt on a new remote tip at most: more means the branch is
 * not ours alone and a person should look. */
#define PUSH_REBUILD_MAX 200

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

/* One operation, in the child. Never returns. */
static void
child_run(int fd, const struct store_creds *creds)
{
	struct child_ctx c = { .fd = fd, .creds = creds };
	git_remote_callbacks cb;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	const git_remote_head **heads = NULL, **sorted = NULL;
	const git_remote_head *h;
	struct child_ref *refs = NULL;
	struct buf req;
	char chunk[4096], *p, *nl, *op, *path, *url, *prefix;
	char **names = NULL;
	size_t nheads = 0, nnames = 0, i;
	bool any_nonff = false;
	ssize_t r;
	int grc = 0;
	char msg[ERROR_MSG_MAX];

	child_say(&c, "pid %ld", (long)getpid());
	buf_init(&req, PUSH_REQUEST_MAX);
	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || buf_append(&req, chunk, (size_t)r) < 0)
			_exit(3);
	}
	/* op, repository, url, prefix, then ref names, one per line. */
	p = req.data ? req.data : xstrdup("");
	op = p;
	path = url = prefix = NULL;
	for (i = 0; (nl = strchr(p, '\n')) != NULL; i++) {
		*nl = '\0';
		if (i == 0)
			op = p;
		else if (i == 1)
			path = p;
		else if (i == 2)
			url = p;
		else if (i == 3)
			prefix = p;
		else if (*p != '\0') {
			names = xrealloc(names, (nnames + 1) * sizeof(char *));
			names[nnames++] = xstrdup(p);
		}
		p = nl + 1;
	}
	if (path == NULL || url == NULL || prefix == NULL) {
		child_say(&c, "done -1 bad request");
		_exit(2);
	}
	child_callbacks(&cb, &c);
	if ((grc = STORE_GIT(git_repository_open_ext(&repo, path,
	         GIT_REPOSITORY_OPEN_NO_SEARCH, NULL))) < 0 ||
	    (grc = STORE_GIT(git_remote_create_anonymous(&remote, repo, url))) <
	        0)
		goto done;

	if (strcmp(op, "fetch") == 0) {
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
	if (strcmp(op, "pending") == 0)
		child_pending_refs(repo, prefix, &names, &nnames);

	refs = xcalloc(nnames ? nnames : 1, sizeof(*refs));
	for (i = 0; i < nnames; i++) {
		refs[i].name = names[i];
		refs[i].is_tag = strncmp(names[i], "refs/tags/", 10) == 0;
		refs[i].have_local = git_reference_name_to_id(&refs[i].local,
		                         repo, names[i]) == 0;
	}
	git_error_clear();

	/* What does the remote have? One connection, one advertisement. */
	if ((grc = STORE_GIT(git_remote_connect(remote, GIT_DIRECTION_PUSH, &cb,
	         NULL, NULL))) < 0 ||
	    (grc = STORE_GIT(git_remote_ls(&heads, &nheads, remote))) < 0)
		goto done;
	sorted = xcalloc(nheads ? nheads : 1, sizeof(*sorted));
	if (nheads > 0) /* an empty remote lists nothing (NULL) */
		memcpy(sorted, heads, nheads * sizeof(*sorted));
	qsort(sorted, nheads, sizeof(*sorted), child_cmp_head);
	for (i = 0; i < nnames; i++) {
		struct child_ref *rf = &refs[i];

		if ((h = child_find_head(sorted, nheads, rf->name)) != NULL) {
			git_oid_cpy(&rf->remote, &h->oid);
			rf->have_remote = true;
		}
		if (!rf->have_local) {
			rf->state = 2;
			child_say(&c, "ref %s missing", rf->name);
		} else if (rf->have_remote &&
		           git_oid_equal(&rf->remote, &rf->local)) {
			rf->state = 1;
		} else if (rf->is_tag && rf->have_remote) {
			/* Tags are never moved: the remote's wins. */
			rf->state = 2;
			child_say(&c, "ref %s conflict", rf->name);
		} else if (!rf->is_tag && rf->have_remote &&
		           git_graph_descendant_of(repo, &rf->local,
		               &rf->remote) != 1) {
			/* Unknown or diverged remote tip: fetch, rebuild. */
			rf->state = 2;
			any_nonff = true;
			child_say(&c, "ref %s nonff", rf->name);
		}
	}
	git_error_clear();
	free(sorted);
	sorted = NULL;

	/* Branches first, then the tags whose commits are now there. */
	if ((grc = child_push_set(remote, &c, &cb, refs, nnames, false,
	         &any_nonff)) < 0)
		goto done;
	git_remote_disconnect(remote);
	for (i = 0; i < nnames; i++) {
		if (!refs[i].is_tag || refs[i].state != 0)
			continue;
		if (!child_tag_ready(repo, &refs[i], refs, nnames, prefix)) {
			refs[i].state = 2;
			child_say(&c, "ref %s waiting", refs[i].name);
		}
	}
	if ((grc = child_push_set(remote, &c, &cb, refs, nnames, true,
	         &any_nonff)) < 0)
		goto done;
	if (any_nonff)
		grc = child_fetch_nonff(remote, &c, &cb, repo, refs, nnames);
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

/* The caller side --------------------------------------------------------- */

struct push_reply {
	struct buf text;
	long pid;
	int rc;
	char msg[ERROR_MSG_MAX];
};

/*
 * Run one operation in a child with a deadline. Returns 0 when the child
 * reported "done 0", ERR_TRANSIENT on a network error, a timeout or a
 * dead child (err says which). reply->text holds the lines.
 */
static int
push_run(struct store *st, const char *op, char *const *refs, size_t nrefs,
    struct push_reply *reply, struct error *err)
{
	struct msghdr mh;
	struct cmsghdr *cm;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct buf req;
	struct pollfd pfd;
	char chunk[8192], byte = 'x', *url, *done, *line;
	int sv[2] = { -1, -1 }, rc = ERR_TRANSIENT, left;
	int64_t deadline;
	size_t i, off;
	ssize_t r;

	memset(reply, 0, sizeof(*reply));
	buf_init(&reply->text, PUSH_REPLY_MAX);
	buf_init(&req, PUSH_REQUEST_MAX);
	(void)buf_printf(&req, "%s\n%s\n%s\n%s\n", op, st->opts.repo_path,
	    st->push_url, st->opts.branch_prefix);
	for (i = 0; i < nrefs; i++)
		if (buf_printf(&req, "%s\n", refs[i]) < 0) {
			rc = error_set(err, ERR_FAIL, "PUSH",
			    "too many refs in one push");
			goto out;
		}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = error_set(err, ERR_TRANSIENT, "PUSH", "socketpair: %s",
		    strerror(errno));
		goto out;
	}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &sv[1], sizeof(int));
	pthread_mutex_lock(&st->helper_lock);
	r = st->helper_fd >= 0 ? sendmsg(st->helper_fd, &mh, MSG_NOSIGNAL) : -1;
	pthread_mutex_unlock(&st->helper_lock);
	close(sv[1]);
	sv[1] = -1;
	if (r != 1) {
		rc = error_set(err, ERR_TRANSIENT, "PUSH",
		    "the push helper is gone");
		goto out;
	}
	deadline = util_mono_ms() + (int64_t)st->opts.push_timeout_s * 1000;
	for (off = 0; off < req.len;) {
		r = send(sv[0], req.data + off, req.len - off, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	shutdown(sv[0], SHUT_WR);
	for (;;) {
		left = (int)(deadline - util_mono_ms());
		if (left <= 0) {
			if (reply->pid > 0)
				kill((pid_t)reply->pid, SIGKILL);
			url = util_redact_url(st->push_url);
			rc = error_set(err, ERR_TRANSIENT, "PUSH",
			    "%s to %s timed out after %d s", op, url,
			    st->opts.push_timeout_s);
			free(url);
			goto out;
		}
		pfd.fd = sv[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			break;
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(sv[0], chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf_append(&reply->text, chunk, (size_t)r) < 0)
			break;
		if (reply->pid == 0 && reply->text.data &&
		    strncmp(reply->text.data, "pid ", 4) == 0 &&
		    strchr(reply->text.data, '\n'))
			reply->pid = strtol(reply->text.data + 4, NULL, 10);
	}
	/* The last line says how it ended. */
	done = NULL;
	for (line = reply->text.data; line && *line;) {
		if (strncmp(line, "done ", 5) == 0)
			done = line;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (done == NULL) {
		rc = error_set(err, ERR_TRANSIENT, "PUSH",
		    "the push process died");
		goto out;
	}
	reply->rc = (int)strtol(done + 5, &line, 10);
	snprintf(reply->msg, sizeof(reply->msg), "%.*s",
	    (int)strcspn(line + 1, "\n"), line + 1);
	if (reply->rc != 0) {
		url = util_redact_url(st->push_url);
		rc = error_set(err,
		    reply->rc == GIT_EAUTH ? ERR_FAIL : ERR_TRANSIENT,
		    reply->rc == GIT_EAUTH ? "AUTH" : "PUSH", "%s %s: %s", op,
		    url, reply->msg);
		free(url);
		goto out;
	}
	rc = 0;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	buf_dispose(&req);
	return rc;
}

int
store_clone_fetch(struct store *st, struct error *err)
{
	struct push_reply reply;
	int rc;

	rc = push_run(st, "fetch", NULL, 0, &reply, err);
	buf_dispose(&reply.text);
	return rc;
}

/* Rebuilding our commits on a new remote tip ------------------------------ */

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
static int
push_rebuild(git_repository *repo, const struct store *st,
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

/* Parse a reply; rebuild every fetched branch. *open_issues counts refs
 * still not on the remote (conflicting tags do not count: first wins). */
/* Split "<word> <a> <b>" into a and b (bounded copies). True when the line
 * starts with word and has both fields. */
static bool
push_reply_fields(const char *line, const char *word, char *a, size_t asz,
    char *b, size_t bsz)
{
	size_t wlen = strlen(word), alen, blen;
	const char *p, *q;

	if (strncmp(line, word, wlen) != 0 || line[wlen] != ' ')
		return false;
	p = line + wlen + 1;
	alen = strcspn(p, " ");
	if (alen == 0 || alen >= asz || p[alen] != ' ')
		return false;
	q = p + alen + 1;
	blen = strcspn(q, " ");
	if (blen == 0 || blen >= bsz)
		return false;
	memcpy(a, p, alen);
	a[alen] = '\0';
	memcpy(b, q, blen);
	b[blen] = '\0';
	return true;
}

static int
push_handle_reply(git_repository *repo, const struct store *st,
    struct push_reply *reply, size_t *open_issues, size_t *rebuilt,
    struct error *err)
{
	char *line, *nl, name[1024], hex[64], status[32];
	git_oid remote;
	int rc = 0;

	*open_issues = 0;
	*rebuilt = 0;
	for (line = reply->text.data; line && *line; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			break;
		*nl = '\0';
		if (push_reply_fields(line, "ref", name, sizeof(name), status,
		        sizeof(status))) {
			if (strcmp(status, "conflict") == 0)
				log_warnx("store_push_tag_conflict ref=%s",
				    name);
			else
				(*open_issues)++;
			if (strcmp(status, "rejected") == 0 ||
			    strcmp(status, "missing") == 0)
				log_warnx("store_push_ref ref=%s status=%s",
				    name, status);
		} else if (push_reply_fields(line, "fetched", name,
		               sizeof(name), hex, sizeof(hex))) {
			if (git_oid_fromstr(&remote, hex) < 0)
				continue;
			if ((rc = push_rebuild(repo, st, name, &remote, err)) <
			    0)
				break;
			(*rebuilt)++;
		}
		*nl = '\n';
	}
	return rc;
}

int
store_push_branch(struct store *st, git_repository *repo,
    const char *branch_ref, char **tags, size_t ntags, git_oid *new_tip,
    struct error *err)
{
	struct push_reply reply;
	char **refs;
	size_t open, rebuilt, i;
	int attempt, rc = ERR_TRANSIENT;

	refs = xcalloc(ntags + 1, sizeof(*refs));
	refs[0] = xstrdup(branch_ref);
	for (i = 0; i < ntags; i++)
		refs[i + 1] = xasprintf("refs/tags/%s", tags[i]);
	for (attempt = 0; attempt < STORE_PUSH_ATTEMPTS; attempt++) {
		if (attempt > 0)
			store_backoff(attempt + 4);
		rc = push_run(st, "push", refs, ntags + 1, &reply, err);
		if (rc == 0)
			rc = push_handle_reply(repo, st, &reply, &open,
			    &rebuilt, err);
		buf_dispose(&reply.text);
		if (rc < 0)
			break;
		if (open == 0)
			break;
		rc = error_set(err, ERR_TRANSIENT, "PUSH",
		    "%zu refs not pushed yet", open);
		if (rebuilt == 0 && attempt > 0)
			break; /* nothing changed: try again later */
	}
	if (rc == 0 && new_tip != NULL &&
	    (rc = store_ref_commit(new_tip, repo, branch_ref, err)) < 0)
		rc = ERR_TRANSIENT;
	for (i = 0; i < ntags + 1; i++)
		free(refs[i]);
	free(refs);
	return rc;
}

int
store_push_pending(struct store *st, struct error *err)
{
	struct push_reply reply;
	git_repository *repo = NULL;
	size_t open = 0, rebuilt;
	int attempt, rc;

	if (st->push_url == NULL)
		return 0;
	if ((rc = store_repo_acquire(st, &repo, err)) < 0)
		return rc;
	for (attempt = 0; attempt < STORE_PUSH_ATTEMPTS; attempt++) {
		rc = push_run(st, "pending", NULL, 0, &reply, err);
		if (rc == 0)
			rc = push_handle_reply(repo, st, &reply, &open,
			    &rebuilt, err);
		buf_dispose(&reply.text);
		if (rc < 0 || open == 0 || rebuilt == 0)
			break;
	}
	if (rc == 0 && open > 0)
		rc = error_set(err, ERR_TRANSIENT, "PUSH",
		    "%zu refs still wait for the remote", open);
	if (rc == 0)
		log_info("store_push_pending status=ok");
	else
		log_warnx("store_push_pending status=waiting error=\"%s\"",
		    err ? err->msg : "");
	store_repo_release(st, repo);
	return rc;
}
