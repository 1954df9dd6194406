/*
 * redact.c - masking credentials in any text: URL userinfo, credential
 * query parameters and registered secret values.
 *
 * The URL rule is deliberately cruder than a URL parser. A parser reads
 * "http://u:p/w@host/x" as host "u" with path "/w@host/x", and a
 * redaction built on it leaks "p/w". Here everything from "://" to the
 * LAST '@' before the next blank, quote or angle bracket is userinfo:
 * that over-masks a path holding an '@' ("https://host/pkg@1.0" prints as
 * "https://" + mask + "@1.0"), which is harmless, and never under-masks a
 * password holding '/', ':', '@' or '%'. The text up to the first ':' of the
 * userinfo (the user name) is kept so that operators can tell accounts
 * apart. A password holding a blank or a quote cannot be delimited; it is
 * caught by the registered secret values instead (config and store
 * register every configured password, decoded and as written).
 *
 * Registered secrets live in an append-only array whose count is
 * published with release semantics: readers take no lock, so redacting
 * is safe in a child forked while another thread was registering.
 */
#include "common/redact.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"

static pthread_mutex_t redact_lock = PTHREAD_MUTEX_INITIALIZER;
static char *redact_secrets[REDACT_SECRETS_MAX];
static size_t redact_lens[REDACT_SECRETS_MAX];
static _Atomic size_t redact_nsecrets;

/* Query parameters whose value is a credential (compared without case):
 * tokens, passwords, and the parts of an AWS presigned URL that let
 * anyone replay it. */
static const char *const redact_params[] = { "token", "access_token", "api_key",
	"apikey", "password", "passwd", "secret", "sig", "signature",
	"x-amz-signature", "x-amz-security-token", "x-amz-credential" };

/* Where a URL-looking substring ends: blanks and controls, quotes and
 * angle brackets (how URLs are quoted in messages and in our logs). */
static bool
redact_stop(unsigned char c)
{
	return c <= ' ' || c == 0x7f || c == '"' || c == '\'' || c == '<' ||
	       c == '>' || c == '`';
}

/* Length of the longest registered secret that starts at p, or 0. */
static size_t
redact_secret_match(const char *p, size_t n)
{
	size_t i,
	    best = 0,
	    cnt = atomic_load_explicit(&redact_nsecrets, memory_order_acquire);

	for (i = 0; i < cnt; i++)
		if (redact_lens[i] > best && redact_lens[i] <= n &&
		    memcmp(p, redact_secrets[i], redact_lens[i]) == 0)
			best = redact_lens[i];
	return best;
}

/* Append p[0..n) with registered secrets masked. */
static void
redact_span(struct buf *o, const char *p, size_t n)
{
	size_t i = 0, run = 0, m;

	while (i < n) {
		if ((m = redact_secret_match(p + i, n - i)) > 0) {
			(void)buf_append(o, p + run, i - run);
			(void)buf_puts(o, REDACT_MASK);
			i += m;
			run = i;
		} else {
			i++;
		}
	}
	(void)buf_append(o, p + run, i - run);
}

/* Length of "name=" when p starts with a credential parameter, or 0. */
static size_t
redact_param(const char *p, size_t n)
{
	size_t i, l;

	for (i = 0; i < sizeof(redact_params) / sizeof(redact_params[0]); i++) {
		l = strlen(redact_params[i]);
		if (n > l && strncasecmp(p, redact_params[i], l) == 0 &&
		    p[l] == '=')
			return l + 1;
	}
	return 0;
}

/* At t[i] == "://": append the masked authority; returns where to go on
 * (the '@' that ends the userinfo, or just after "://"). */
static size_t
redact_authority(struct buf *o, const char *t, size_t n, size_t i)
{
	size_t j = i + 3, end, at;
	const char *colon;

	for (end = j; end < n && !redact_stop((unsigned char)t[end]); end++)
		;
	for (at = end; at > j && t[at - 1] != '@'; at--)
		;
	(void)buf_append(o, "://", 3);
	if (at <= j + 1) /* no '@', or nothing before it */
		return j;
	at--; /* at the '@' */
	if ((colon = memchr(t + j, ':', at - j)) != NULL) {
		redact_span(o, t + j, (size_t)(colon - (t + j)));
		(void)buf_puts(o, ":" REDACT_MASK);
	} else {
		(void)buf_puts(o, REDACT_MASK);
	}
	return at;
}

char *
redact_text(const char *text)
{
	struct buf o;
	size_t n, i = 0, run = 0, m, k;

	if (text == NULL)
		return NULL;
	n = strlen(text);
	/* Masks grow the text by at most half: "://a@" gains two bytes. */
	buf_init(&o, 2 * n + 64);
	while (i < n) {
		if (text[i] == ':' && i + 2 < n && text[i + 1] == '/' &&
		    text[i + 2] == '/') {
			redact_span(&o, text + run, i - run);
			run = i = redact_authority(&o, text, n, i);
		} else if ((text[i] == '?' || text[i] == '&' ||
		               text[i] == ';') &&
		           (m = redact_param(text + i + 1, n - i - 1)) > 0) {
			redact_span(&o, text + run, i - run);
			(void)buf_append(&o, text + i, m + 1);
			for (k = i + m + 1;
			     k < n && !redact_stop((unsigned char)text[k]) &&
			     text[k] != '&' && text[k] != '#' && text[k] != ';';
			     k++)
				;
			if (k > i + m + 1)
				(void)buf_puts(&o, REDACT_MASK);
			run = i = k;
		} else {
			i++;
		}
	}
	redact_span(&o, text + run, n - run);
	return buf_detach(&o, NULL);
}

void
redact_buf(char *buf, size_t size)
{
	char *r;
	size_t n;

	if (buf == NULL || size == 0)
		return;
	r = redact_text(buf);
	n = strlen(r);
	if (n >= size)
		n = size - 1;
	memcpy(buf, r, n);
	buf[n] = '\0';
	free(r);
}

void
redact_secret_add(const char *value)
{
	size_t i, n, cnt;

	if (value == NULL || (n = strlen(value)) < REDACT_SECRET_MIN)
		return;
	pthread_mutex_lock(&redact_lock);
	cnt = atomic_load_explicit(&redact_nsecrets, memory_order_relaxed);
	for (i = 0; i < cnt; i++)
		if (strcmp(redact_secrets[i], value) == 0)
			break;
	if (i == cnt && cnt < REDACT_SECRETS_MAX) {
		redact_secrets[cnt] = xstrdup(value);
		redact_lens[cnt] = n;
		atomic_store_explicit(&redact_nsecrets, cnt + 1,
		    memory_order_release);
	}
	pthread_mutex_unlock(&redact_lock);
}

static int
redact_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Register p[0..n) as written and percent-decoded. */
static void
redact_secret_both(const char *p, size_t n)
{
	char *raw = xstrndup(p, n), *dec = xmalloc(n + 1);
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '%' && i + 2 < n && redact_hex(p[i + 1]) >= 0 &&
		    redact_hex(p[i + 2]) >= 0) {
			dec[k++] = (char)(redact_hex(p[i + 1]) * 16 +
			                  redact_hex(p[i + 2]));
			i += 2;
		} else {
			dec[k++] = p[i];
		}
	}
	dec[k] = '\0';
	redact_secret_add(raw);
	redact_secret_add(dec);
	free(raw);
	free(dec);
}

void
redact_secret_url(const char *url)
{
	const char *s, *end, *at, *colon;

	if (url == NULL || (s = strstr(url, "://")) == NULL)
		return;
	s += 3;
	for (end = s; *end != '\0' && !redact_stop((unsigned char)*end); end++)
		;
	for (at = end; at > s && at[-1] != '@'; at--)
		;
	if (at <= s + 1)
		return;
	at--;
	if ((colon = memchr(s, ':', (size_t)(at - s))) != NULL)
		redact_secret_both(colon + 1, (size_t)(at - colon - 1));
	else
		redact_secret_both(s, (size_t)(at - s));
}

void
redact_secret_reset(void)
{
	size_t i, cnt = atomic_load(&redact_nsecrets);

	atomic_store(&redact_nsecrets, 0);
	for (i = 0; i < cnt; i++) {
		free(redact_secrets[i]);
		redact_secrets[i] = NULL;
	}
}
