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
 * Registered secrets live in a fixed array of slots, each an atomic
 * pointer to an immutable entry: readers take no lock, so redacting is
 * safe in a child forked while another thread was registering. A secret
 * registered through an owner string (secret_register, secret_get) is
 * released when that string is freed (secret_free -> redact_secret_release):
 * its slot is emptied at once, and the entry is wiped and freed only when
 * no reader is inside redact_text (a reader count, checked after the
 * slot is emptied; every access is sequentially consistent, so a reader
 * that could still hold the entry is always counted). Values registered
 * without an owner (redact_secret_add, URLs) stay for the process's
 * life, as before.
 */
#include "common/redact.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"

/* One registered value; len and value never change once published. */
struct redact_entry {
	size_t len;
	size_t refs; /* owner records pointing here (under the lock) */
	bool pinned; /* registered without an owner: never released */
	struct redact_entry *next_retired;
	char value[];
};

static pthread_mutex_t redact_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct redact_entry *) redact_slots[REDACT_SECRETS_MAX];
/* Slots below this may be in use (a high-water mark). */
static _Atomic size_t redact_nsecrets;
/* Readers inside redact_text. */
static _Atomic size_t redact_readers;
/* Entries released while a reader may hold them (under the lock). */
static struct redact_entry *redact_retired;
/* Which string registered which entry (under the lock): secret_free of
 * that string releases it. Four per slot: a value is often registered by
 * a few copies; when full, a new registration is pinned instead (kept
 * for good, the old behaviour). */
#define REDACT_OWNERS_MAX (4 * REDACT_SECRETS_MAX)
static const void *redact_owner_ptr[REDACT_OWNERS_MAX];
static struct redact_entry *redact_owner_entry[REDACT_OWNERS_MAX];
static size_t redact_nowners;

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
	size_t i, best = 0, cnt = atomic_load(&redact_nsecrets);
	const struct redact_entry *e;

	for (i = 0; i < cnt; i++) {
		e = atomic_load(&redact_slots[i]);
		if (e != NULL && e->len > best && e->len <= n &&
		    memcmp(p, e->value, e->len) == 0)
			best = e->len;
	}
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
	atomic_fetch_add(&redact_readers, 1);
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
	atomic_fetch_sub(&redact_readers, 1);
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

/* Wipe and free the retired entries when no reader can hold one. Under
 * the lock. */
static void
redact_reclaim(void)
{
	struct redact_entry *e;

	if (atomic_load(&redact_readers) != 0)
		return; /* a later release or registration frees them */
	while ((e = redact_retired) != NULL) {
		redact_retired = e->next_retired;
		OPENSSL_cleanse(e->value, e->len);
		free(e);
	}
}

/* The entry holding value, or a new one in a free slot, or NULL when
 * every slot is taken. Under the lock. */
static struct redact_entry *
redact_entry_get(const char *value, size_t n)
{
	size_t i, cnt = atomic_load(&redact_nsecrets), free_slot = cnt;
	struct redact_entry *e;

	for (i = 0; i < cnt; i++) {
		e = atomic_load(&redact_slots[i]);
		if (e == NULL) {
			if (free_slot == cnt)
				free_slot = i;
		} else if (e->len == n && memcmp(e->value, value, n) == 0) {
			return e;
		}
	}
	if (free_slot == REDACT_SECRETS_MAX)
		return NULL;
	e = xcalloc(1, sizeof(*e) + n + 1);
	e->len = n;
	memcpy(e->value, value, n);
	atomic_store(&redact_slots[free_slot], e);
	if (free_slot == cnt)
		atomic_store(&redact_nsecrets, cnt + 1);
	return e;
}

static void
redact_add(const char *value, const void *owner)
{
	struct redact_entry *e;
	size_t n;

	if (value == NULL || (n = strlen(value)) < REDACT_SECRET_MIN)
		return;
	pthread_mutex_lock(&redact_lock);
	redact_reclaim();
	if ((e = redact_entry_get(value, n)) != NULL) {
		if (owner != NULL && redact_nowners < REDACT_OWNERS_MAX) {
			redact_owner_ptr[redact_nowners] = owner;
			redact_owner_entry[redact_nowners++] = e;
			e->refs++;
		} else {
			e->pinned = true;
		}
	}
	pthread_mutex_unlock(&redact_lock);
}

void
redact_secret_add(const char *value)
{
	redact_add(value, NULL);
}

void
redact_secret_add_owned(const char *value)
{
	redact_add(value, value);
}

void
redact_secret_release(const char *value)
{
	struct redact_entry *e;
	size_t i, n, k;

	if (value == NULL || (n = strlen(value)) < REDACT_SECRET_MIN)
		return;
	pthread_mutex_lock(&redact_lock);
	for (i = 0; i < redact_nowners; i++) {
		e = redact_owner_entry[i];
		if (redact_owner_ptr[i] == value && e->len == n &&
		    memcmp(e->value, value, n) == 0)
			break;
	}
	if (i == redact_nowners)
		goto out;
	redact_nowners--;
	redact_owner_ptr[i] = redact_owner_ptr[redact_nowners];
	redact_owner_entry[i] = redact_owner_entry[redact_nowners];
	if (--e->refs > 0 || e->pinned)
		goto out;
	for (k = 0; k < atomic_load(&redact_nsecrets); k++)
		if (atomic_load(&redact_slots[k]) == e) {
			atomic_store(&redact_slots[k], NULL);
			break;
		}
	e->next_retired = redact_retired;
	redact_retired = e;
	redact_reclaim();
out:
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
	struct redact_entry *e;

	pthread_mutex_lock(&redact_lock);
	for (i = 0; i < cnt; i++)
		if ((e = atomic_exchange(&redact_slots[i], NULL)) != NULL)
			free(e);
	atomic_store(&redact_nsecrets, 0);
	redact_nowners = 0;
	while ((e = redact_retired) != NULL) {
		redact_retired = e->next_retired;
		free(e);
	}
	pthread_mutex_unlock(&redact_lock);
}
