/*
 * verify.c - verification after upload (see verify.h).
 *
 * The per-target lookups are the publishers' own (publisher_ops.served),
 * next to the existence checks they already make before an upload, and
 * sharing their begin state (URLs, credentials, SigV4 keys). This file
 * owns what is common: the deadline and its backoff, the comparison, the
 * VERIFY_FAILED answer; verify_release.c runs it over a whole release.
 */
#include "publishers/verify.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"

struct verify_hash {
	EVP_MD_CTX *ctx;
};

struct verify_hash *
verify_hash_new(void)
{
	struct verify_hash *h = xcalloc(1, sizeof(*h));

	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL)
		abort(); /* allocation failure: as xmalloc */
	EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
	return h;
}

int
verify_hash_write(void *arg, const void *p, size_t n)
{
	struct verify_hash *h = arg;

	return EVP_DigestUpdate(h->ctx, p, n) == 1 ? 0 : -1;
}

void
verify_hash_reset(void *arg)
{
	struct verify_hash *h = arg;

	EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

void
verify_hash_done(struct verify_hash *h, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (h == NULL)
		return;
	if (hex != NULL) {
		EVP_DigestFinal_ex(h->ctx, md, &len);
		util_hex(hex, md, 32);
	}
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int
verify_deadline(long long *out, const struct publish_target *t,
    struct error *err)
{
	char *v = publish_target_get(t, "verify");
	bool on = true;
	int rc = 0;

	*out = t->env != NULL ? t->env->verify_deadline_s
	                      : VERIFY_DEFAULT_DEADLINE_S;
	if (v != NULL && util_parse_bool(&on, v) < 0) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "target %s: verify must be true or false", t->name);
		goto out;
	}
	free(v);
	if ((v = publish_target_get(t, "verify_deadline")) != NULL &&
	    util_parse_uint(out, v, VERIFY_MAX_DEADLINE_S) < 0) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "target %s: verify_deadline must be 0..%d seconds", t->name,
		    VERIFY_MAX_DEADLINE_S);
		goto out;
	}
	if (*out > VERIFY_MAX_DEADLINE_S)
		*out = VERIFY_MAX_DEADLINE_S;
	if (!on)
		*out = 0;
out:
	free(v);
	return rc;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
		(long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One lookup after another until the file is served or the deadline. */
static int
verify_poll(const struct publisher_ops *ops, void *state,
    const struct publish_target *t, const struct publish_release *rel,
    const struct publish_file *f, long long deadline_s, char served[65],
    struct error *last)
{
	int64_t end = util_mono_ms() + deadline_s * 1000, now;
	int64_t wait = VERIFY_FIRST_WAIT_MS;
	int rc, tries = 0;

	for (;;) {
		error_clear(last);
		served[0] = '\0';
		rc = ops->served(state, t, rel, f, served, last);
		tries++;
		if (rc == 0 || rc == ERR_INVALID)
			break;
		now = util_mono_ms();
		if (now >= end)
			break;
		log_info("verify_wait target=%s file=%s try=%d result=%s",
		    t->name, f->filename, tries,
		    rc == ERR_NOTFOUND ? "not_listed" : last->code);
		sleep_ms(wait < end - now ? wait : end - now);
		wait = wait * 2 > VERIFY_MAX_WAIT_MS ? VERIFY_MAX_WAIT_MS
		                                     : wait * 2;
	}
	return rc;
}

int
verify_file(const struct publisher_ops *ops, void *state,
    const struct publish_target *t, const struct publish_release *rel,
    const struct publish_file *f, struct publish_outcome *out,
    struct error *err)
{
	char served[65];
	struct error last;
	long long deadline;
	int rc;

	out->verified = false;
	if (rel->dry_run || out->status == PUBLISH_DRY_RUN ||
	    out->status == PUBLISH_SKIPPED || ops->served == NULL)
		return 0;
	if ((rc = verify_deadline(&deadline, t, err)) < 0 || deadline == 0)
		return rc;
	rc = verify_poll(ops, state, t, rel, f, deadline, served, &last);
	if (rc == 0 && strcmp(served, f->sha256) == 0) {
		out->verified = true;
		log_info("verified target=%s file=%s sha256=%s", t->name,
		    f->filename, served);
		return 0;
	}
	if (rc == 0)
		rc = error_set(err, ERR_FAIL, "VERIFY_FAILED",
		    "%s: %s is served with sha256 %s, published %s", t->name,
		    f->filename, served, f->sha256);
	else if (rc == ERR_NOTFOUND)
		rc = error_set(err, ERR_TRANSIENT, "VERIFY_FAILED",
		    "%s: %s (sha256 %s) is not served after %lld s", t->name,
		    f->filename, f->sha256, deadline);
	else
		rc = error_set(err, rc == ERR_INVALID ? ERR_FAIL : rc,
		    "VERIFY_FAILED",
		    "%s: what is served for %s could not be read "
		    "within %lld s: %s %s",
		    t->name, f->filename, deadline, last.code, last.msg);
	log_warnx("verify_failed target=%s file=%s error=\"%s\"", t->name,
	    f->filename, err->msg);
	return rc;
}
