/*
 * util.c - digests, time, files, identifiers and secret masking.
 */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/redact.h"
#include "common/xalloc.h"

void
util_hex(char *out, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
util_sha256_hex(char out[UTIL_SHA256_HEX], const void *p, size_t n)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
	util_hex(out, md, 32);
}

int
util_sha256_file(char out[UTIL_SHA256_HEX], const char *path, struct error *err)
{
	unsigned char md[32], chunk[65536];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	int fd, rc = ERR_FAIL;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = errno == ENOENT ? ERR_NOTFOUND : ERR_FAIL;
		error_set(err, rc, rc == ERR_NOTFOUND ? "FILE_NOT_FOUND" : "IO",
		    "cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		EVP_DigestUpdate(ctx, chunk, (size_t)n);
	if (n < 0) {
		error_set(err, ERR_FAIL, "IO", "cannot read %s: %s", path,
		    strerror(errno));
		goto out;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	util_hex(out, md, 32);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return rc;
}

void
util_now_iso8601(char *out, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (no timegm in
 * POSIX 2008). */
static int64_t
util_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int
util_digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int
util_parse_iso8601(int64_t *out_ms, const char *s)
{
	int y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0, sign = 0;
	const char *p = s;
	int64_t t;

	if (util_digits(&p, 4, &y) < 0 || *p++ != '-' ||
	    util_digits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    util_digits(&p, 2, &d) < 0 || (*p != 'T' && *p != ' '))
		return ERR_INVALID;
	p++;
	if (util_digits(&p, 2, &h) < 0 || *p++ != ':' ||
	    util_digits(&p, 2, &mi) < 0 || *p++ != ':' ||
	    util_digits(&p, 2, &sec) < 0)
		return ERR_INVALID;
	if (*p == '.') {
		int scale = 100;

		p++;
		if (*p < '0' || *p > '9')
			return ERR_INVALID;
		while (*p >= '0' && *p <= '9') {
			ms += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (util_digits(&p, 2, &oh) < 0)
			return ERR_INVALID;
		if (*p == ':')
			p++;
		if (util_digits(&p, 2, &om) < 0)
			return ERR_INVALID;
	} else {
		return ERR_INVALID;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return ERR_INVALID;
	t = util_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	*out_ms = t * 1000 + ms;
	return 0;
}

int
util_read_file(char **out, size_t *len, const char *path, size_t max,
    struct error *err)
{
	struct stat st;
	char *data = NULL;
	size_t got = 0;
	int fd, rc = ERR_FAIL;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		rc = errno == ENOENT ? ERR_NOTFOUND : ERR_FAIL;
		return error_set(err, rc,
		    rc == ERR_NOTFOUND ? "FILE_NOT_FOUND" : "IO",
		    "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		error_set(err, rc, "IO", "cannot stat %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "%s is not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		rc = error_set(err, ERR_INVALID, "TOO_LARGE",
		    "%s is %lld bytes, limit %zu", path, (long long)st.st_size,
		    max);
		goto out;
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size &&
	       (n = read(fd, data + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	if (got != (size_t)st.st_size) {
		error_set(err, rc, "IO", "short read on %s", path);
		goto out;
	}
	data[got] = '\0';
	*out = data;
	data = NULL;
	if (len != NULL)
		*len = got;
	rc = 0;
out:
	free(data);
	close(fd);
	return rc;
}

int
util_write_file(const char *path, const void *p, size_t n, struct error *err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd, rc = ERR_FAIL;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) <
	    0) {
		error_set(err, rc, "IO", "cannot create %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (write(fd, p, n) != (ssize_t)n || fsync(fd) < 0) {
		error_set(err, rc, "IO", "cannot write %s: %s", tmp,
		    strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		error_set(err, rc, "IO", "cannot rename to %s: %s", path,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

bool
util_id_valid(const char *s)
{
	size_t n, i;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
		return false;
	if (strstr(s, "..") != NULL)
		return false;
	if (n >= 5 && strcmp(s + n - 5, ".lock") == 0)
		return false;
	/* git refuses a ref component ending in '.' (check-ref-format
	 * rule 1); it would fail only when the ref is written. */
	if (s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == '-'))
			return false;
	}
	return true;
}

/* One redaction for everything (common/redact.c): masking only the
 * text between "://" and the first '/' leaked passwords holding a '/'. */
char *
util_redact_url(const char *url)
{
	return redact_text(url);
}

uint64_t
util_random_u64(void)
{
	uint64_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint64_t)util_mono_ms() * 6364136223846793005ULL + 1;
	return v;
}

double
util_jitter(double lo, double hi)
{
	double u = (double)(util_random_u64() >> 11) / (double)(1ULL << 53);

	return lo + (hi - lo) * u;
}

int
util_parse_uint(long long *out, const char *s, long long max)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return ERR_INVALID;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > max)
		return ERR_INVALID;
	*out = v;
	return 0;
}

int
util_parse_bool(bool *out, const char *s)
{
	static const char *yes[] = { "1", "true", "yes", "on" };
	static const char *no[] = { "0", "false", "no", "off" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return ERR_INVALID;
}

static int
util_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int
util_base64_decode(char **out, size_t *outlen, const char *in, size_t inlen)
{
	char *o = xmalloc(inlen / 4 * 3 + 4);
	unsigned acc = 0;
	size_t i, n = 0;
	int bits = 0, pad = 0;

	for (i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = util_b64_value(c)) < 0) {
			free(o);
			return ERR_INVALID;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || bits >= 6) {
		free(o);
		return ERR_INVALID;
	}
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return 0;
}

char *
util_base64_encode(const void *p, size_t n)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = p;
	char *o = xmalloc((n + 2) / 3 * 4 + 1), *q = o;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*q++ = tbl[s[i] >> 2];
		*q++ = tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		*q++ = tbl[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		*q++ = tbl[s[i + 2] & 63];
	}
	if (i < n) {
		*q++ = tbl[s[i] >> 2];
		if (i + 1 < n) {
			*q++ = tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
			*q++ = tbl[(s[i + 1] & 15) << 2];
		} else {
			*q++ = tbl[(s[i] & 3) << 4];
			*q++ = '=';
		}
		*q++ = '=';
	}
	*q = '\0';
	return o;
}
