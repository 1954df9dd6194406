/*
 * push.c - what the rest of the store calls to reach the remote:
 * store_push_branch() after a commit or a revert, store_push_pending()
 * for refs an earlier push left behind, store_clone_fetch() for a
 * repository brought back from the remote. Each runs one operation in a
 * child of the push helper (push_child.c) with a hard deadline, reads the
 * child's reply and, when the remote moved, rebuilds our commits on its
 * new tip (push_rebuild.c) and tries again, a bounded number of times.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/store_int.h"

/* The caller side --------------------------------------------------------- */

struct push_reply {
	struct buf text;
	long pid;
	int rc;
	char msg[ERROR_MSG_MAX];
};

/*
 * Hand the helper one end of a fresh socket pair (SCM_RIGHTS), then
 * write the request on the other: op, repository, url, prefix, then ref
 * names, one per line. On success *fd is our end, its writing side shut,
 * and *deadline (monotonic ms) push_timeout_s after the helper took the
 * socket: writing the request counts against it.
 */
static int
push_send_request(struct store *st, const char *op, char *const *refs,
    size_t nrefs, int *fd, int64_t *deadline, struct error *err)
{
	struct msghdr mh;
	struct cmsghdr *cm;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct store *h;
	struct buf req;
	char byte = 'x';
	int sv[2] = { -1, -1 }, rc = ERR_TRANSIENT;
	size_t i, off;
	ssize_t r;

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
	/* A store opened with opts.push_helper borrows that store's helper
	 * (worker/repos.c: stores opened once threads run may not fork). */
	h = st->opts.push_helper != NULL ? st->opts.push_helper : st;
	pthread_mutex_lock(&h->helper_lock);
	r = h->helper_fd >= 0 ? sendmsg(h->helper_fd, &mh, MSG_NOSIGNAL) : -1;
	pthread_mutex_unlock(&h->helper_lock);
	close(sv[1]);
	sv[1] = -1;
	if (r != 1) {
		rc = error_set(err, ERR_TRANSIENT, "PUSH",
		    "the push helper is gone");
		goto out;
	}
	*deadline = util_mono_ms() + (int64_t)st->opts.push_timeout_s * 1000;
	for (off = 0; off < req.len;) {
		r = send(sv[0], req.data + off, req.len - off, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	shutdown(sv[0], SHUT_WR);
	*fd = sv[0];
	sv[0] = -1;
	rc = 0;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	buf_dispose(&req);
	return rc;
}

/*
 * Read the child's lines from fd into reply->text until it closes, or
 * until deadline (monotonic ms): then the child is killed and
 * ERR_TRANSIENT returned. The "pid" line is noted as soon as it is in.
 */
static int
push_read_reply(struct store *st, const char *op, int fd, int64_t deadline,
    struct push_reply *reply, struct error *err)
{
	struct pollfd pfd;
	char chunk[8192], *url;
	int left, rc;
	ssize_t r;

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
			return rc;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			break;
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(fd, chunk, sizeof(chunk));
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
	return 0;
}

/* The last "done <rc> <message>" line says how the child ended: into
 * reply->rc and reply->msg. Returns 0 for "done 0", else as push_run. */
static int
push_reply_end(struct store *st, const char *op, struct push_reply *reply,
    struct error *err)
{
	char *done = NULL, *line, *url;
	int rc;

	for (line = reply->text.data; line && *line;) {
		if (strncmp(line, "done ", 5) == 0)
			done = line;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (done == NULL)
		return error_set(err, ERR_TRANSIENT, "PUSH",
		    "the push process died");
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
		return rc;
	}
	return 0;
}

/*
 * Run one operation in a child with a deadline. Returns 0 when the child
 * reported "done 0", ERR_TRANSIENT on a network error, a timeout or a
 * dead child (err says which). reply->text holds the lines.
 */
static int
push_run(struct store *st, const char *op, char *const *refs, size_t nrefs,
    struct push_reply *reply, struct error *err)
{
	int64_t deadline = 0;
	int fd = -1, rc;

	memset(reply, 0, sizeof(*reply));
	buf_init(&reply->text, PUSH_REPLY_MAX);
	if ((rc = push_send_request(st, op, refs, nrefs, &fd, &deadline, err)) <
	    0)
		return rc;
	if ((rc = push_read_reply(st, op, fd, deadline, reply, err)) == 0)
		rc = push_reply_end(st, op, reply, err);
	close(fd);
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

int
store_push_op(struct store *st, const char *op, char *const *refs, size_t nrefs,
    struct buf *text, struct error *err)
{
	struct push_reply reply;
	int rc;

	rc = push_run(st, op, refs, nrefs, &reply, err);
	*text = reply.text;
	return rc;
}

/* The reply, and the bounded retries --------------------------------------- */

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

/* Note name in the list of refs still open (a batch retries only those
 * and fails only the events that own them). */
static void
push_open_add(char ***open, size_t *nopen, const char *name)
{
	size_t i;

	if (open == NULL)
		return;
	for (i = 0; i < *nopen; i++)
		if (strcmp((*open)[i], name) == 0)
			return;
	*open = xrealloc(*open, (*nopen + 1) * sizeof(**open));
	(*open)[(*nopen)++] = xstrdup(name);
}

void
store_push_refs_free(char **refs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(refs[i]);
	free(refs);
}

/* Parse a reply; rebuild every fetched branch. *open_issues counts refs
 * still not on the remote (conflicting tags do not count: first wins);
 * their names go to *open (may be NULL). */
static int
push_handle_reply(git_repository *repo, const struct store *st,
    struct push_reply *reply, size_t *open_issues, size_t *rebuilt,
    char ***open, size_t *nopen, struct error *err)
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
			else {
				(*open_issues)++;
				push_open_add(open, nopen, name);
			}
			if (strcmp(status, "rejected") == 0 ||
			    strcmp(status, "missing") == 0)
				log_warnx("store_push_ref ref=%s status=%s",
				    name, status);
		} else if (push_reply_fields(line, "fetched", name,
		               sizeof(name), hex, sizeof(hex))) {
			if (git_oid_fromstr(&remote, hex) < 0)
				continue;
			if ((rc = store_push_rebuild(repo, st, name, &remote,
			         err)) < 0)
				break;
			(*rebuilt)++;
		}
		*nl = '\n';
	}
	return rc;
}

int
store_push_refs(struct store *st, git_repository *repo, char *const *refs,
    size_t nrefs, char ***open, size_t *nopen, struct error *err)
{
	struct push_reply reply;
	char **want = NULL, **left = NULL;
	size_t nwant = 0, nleft = 0, n, rebuilt, i;
	int attempt, rc = ERR_TRANSIENT;

	*open = NULL;
	*nopen = 0;
	for (i = 0; i < nrefs; i++)
		push_open_add(&want, &nwant, refs[i]);
	for (attempt = 0; attempt < STORE_PUSH_ATTEMPTS; attempt++) {
		if (attempt > 0)
			store_backoff(attempt + 4);
		rc = push_run(st, "push", want, nwant, &reply, err);
		if (rc == 0)
			rc = push_handle_reply(repo, st, &reply, &n, &rebuilt,
			    &left, &nleft, err);
		buf_dispose(&reply.text);
		if (rc < 0) /* every ref of this attempt stays open */
			break;
		/* Only the refs that are still open are tried again. */
		store_push_refs_free(want, nwant);
		want = left;
		nwant = nleft;
		left = NULL;
		nleft = 0;
		if (nwant == 0)
			break;
		rc = error_set(err, ERR_TRANSIENT, "PUSH",
		    "%zu refs not pushed yet", nwant);
		if (rebuilt == 0 && attempt > 0)
			break; /* nothing changed: try again later */
	}
	store_push_refs_free(left, nleft);
	*open = want;
	*nopen = nwant;
	return rc;
}

int
store_push_branch(struct store *st, git_repository *repo,
    const char *branch_ref, char **tags, size_t ntags, git_oid *new_tip,
    struct error *err)
{
	char **refs, **open = NULL;
	size_t nopen = 0, i;
	int rc;

	refs = xcalloc(ntags + 1, sizeof(*refs));
	refs[0] = xstrdup(branch_ref);
	for (i = 0; i < ntags; i++)
		refs[i + 1] = xasprintf("refs/tags/%s", tags[i]);
	rc = store_push_refs(st, repo, refs, ntags + 1, &open, &nopen, err);
	store_push_refs_free(open, nopen);
	if (rc == 0 && new_tip != NULL &&
	    (rc = store_ref_commit(new_tip, repo, branch_ref, err)) < 0)
		rc = ERR_TRANSIENT;
	store_push_refs_free(refs, ntags + 1);
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
			    &rebuilt, NULL, NULL, err);
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
