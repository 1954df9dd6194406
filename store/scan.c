/*
 * scan.c - the secret scanner: compile the rules of scan_rules.h (and the
 * operator's extra patterns) once with PCRE2 and its JIT, then scan
 * buffers from any thread.
 *
 * A scan lower-cases the buffer once for the keyword prefilter, runs each
 * rule whose keyword occurs over the whole buffer (so multi-line private
 * keys are seen), and passes every match through the rule's filters
 * (entropy, placeholders, names that are about a secret rather than one).
 * What survives becomes a hit unless it is allowed (a fingerprint, a
 * gitleaks-style "file:rule:line" entry, or "gitleaks:allow" on its
 * line): rule, line and a fingerprint made from a short literal prefix
 * and a digest, so no secret ever leaves this file.
 * All per-scan state (match data, JIT stack, match context) is created by
 * the scan itself, which is what makes scanner_scan thread-safe: the
 * compiled patterns are only read.
 */
#include "store/scan.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <assert.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "store/scan_rules.h"

/*
 * Backtracking budget of one pcre2_match call. Our rules need a few
 * hundred steps per candidate; ten million is far above any honest input
 * yet bounds a hostile one (or a careless extra pattern) to well under a
 * second. A scan that hits it fails closed (SCAN_FAILED).
 */
#define SCAN_MATCH_LIMIT 10000000u
/* JIT stack per scan: PCRE2 starts from 32 KiB; 1 MiB is enough for the
 * bounded quantifiers of the built-in rules with a wide margin. */
#define SCAN_JIT_STACK_MIN (32u * 1024)
#define SCAN_JIT_STACK_MAX (1024u * 1024)
/* How far back from the secret word an assignment's name may start
 * ("my_service_db_password"); the regexes bound the rest. */
#define SCAN_NAME_BACK 40
/* Longest value the assignment and URL filters look at: their regexes
 * cap values at 200 (assignments), 128 (URLs) and 400 (bearer) bytes.
 * A longer value (an extra pattern's) is reported unfiltered. */
#define SCAN_VALUE_MAX 512
/* How far the env-lookup filter looks around a value on its line. */
#define SCAN_LINE_WINDOW 512
/* Fingerprint: at most 4 characters of a literal type prefix, the
 * ellipsis (3 bytes of UTF-8), ':' and 12 hex digits of SHA-256. */
#define SCAN_FP_PREFIX 4
#define SCAN_FP_HEX 12
/* GitHub's and npm's tokens: 30 random base62 characters, then their
 * CRC32 in 6 base62 digits (github.blog, 2021-04-05 and 2021-09-23). */
#define SCAN_CRC_BODY 30
#define SCAN_CRC_DIGITS 6
/* gitleaks' inline marker; a hit whose lines contain it is dropped. */
#define SCAN_INLINE_ALLOW "gitleaks:allow"

/* One "<file>:<rule-id>:<line>" entry of an ignore file. */
struct scan_loc {
	char *file;
	char *rule;
	unsigned line;
};

struct scan_rule {
	char id[48];
	pcre2_code *re;
	uint32_t g_secret; /* group numbers; 0 when the group is absent */
	uint32_t g_tail;
	uint32_t g_name;
	uint32_t g_user;
	size_t *kw; /* indices into scanner->keywords */
	size_t nkw;
	const char *prefixes;
	double entropy;
	unsigned flags;
	bool custom;
};

struct scanner {
	struct scan_rule *rules;
	size_t nrules;
	char **keywords; /* distinct, lower case, 2 bytes or more */
	size_t *kwlen;
	unsigned *kwpair; /* first two bytes, as (b0 << 8 | b1) */
	size_t nkeywords;
	unsigned char pairs[65536 / 8]; /* bitmap of the kwpair values */
	/* The keywords of each pair: bypair[pairstart[p] .. pairstart[p+1])
	 * (a counting sort built once): with two hundred rules, scanning
	 * every keyword at each candidate position cost 20 times more than
	 * the rest of the scan. */
	uint32_t *pairstart; /* 65537 entries */
	uint32_t *bypair;    /* nkeywords entries */
	char **allowed;
	size_t nallowed;
	struct scan_loc *locs;
	size_t nlocs;
	uint32_t max_pairs; /* ovector size that fits every rule */
};

/* One hit found during a scan, before it is reported. */
struct scan_found {
	size_t off; /* of the secret: orders hits and finds the line */
	size_t rule;
	char id[48];
	char fp[24];
};

/* Everything one scan owns. */
struct scan_run {
	const struct scanner *sc;
	const char *data;
	size_t len;
	char *lower;
	unsigned char *kwstate; /* 1 when the keyword occurs */
	pcre2_match_context *mctx;
	pcre2_jit_stack *jstack;
	pcre2_match_data *md;
	bool first_only;
	size_t best;        /* first_only: offset of the best hit so far */
	const char *failed; /* id of the rule whose match failed, or NULL */
	size_t lc_from;     /* line cache of scan_loc_ignored: offset ... */
	unsigned lc_line;   /* ... and its line */
	struct scan_found *found;
	size_t nfound, capfound;
};

/* Secret-word names that say what a value describes, not that it is a
 * secret: token_count, api_key_id, password_hash, secret_name... Matched
 * against whole name segments. */
static const char *const scan_name_stop[] = { "alg", "algorithm", "arn", "bits",
	"bucket", "budget", "bytes", "cache", "checksum", "class", "commit",
	"completion", "cost", "count", "counter", "counts", "desc",
	"description", "digest", "dir", "dummy", "duration", "encoding",
	"endpoint", "endpoints", "estimate", "example", "expiration", "expires",
	"expiry", "fake", "field", "fields", "file", "filename", "files",
	"fingerprint", "format", "hash", "hashed", "header", "headers", "help",
	"hint", "id", "idx", "ids", "index", "input", "interval", "kind",
	"label", "len", "length", "level", "lifetime", "limit", "limits", "max",
	"md5", "min", "mock", "mode", "module", "name", "names", "num",
	"number", "offset", "output", "path", "paths", "pattern", "placeholder",
	"policy", "pos", "prefix", "price", "prompt", "public", "rate", "ref",
	"reference", "regex", "rev", "revision", "rule", "rules", "sample",
	"scope", "scopes", "sha", "sha1", "sha256", "sha512", "size", "suffix",
	"template", "timeout", "total", "ttl", "type", "types", "uri", "url",
	"urls", "usage", "version" };

/* Substrings of a value that make it a placeholder, not a secret (the
 * generic rules only: "open" must not silence "OPENSSH PRIVATE KEY"). */
static const char *const scan_value_stop[] = { "example", "sample", "dummy",
	"placeholder", "changeme", "change_me", "change-me", "your_", "your-",
	"yourpass", "yoursecret", "yourtoken", "yourkey", "yourapikey", "xxxx",
	"****", "...", "\xe2\x80\xa6", "redacted", "insert", "replace", "todo",
	"fixme", "fake", "mock", "foobar", "notasecret", "not_a_secret",
	"not-a-secret", "_here", "-here", "lorem", "ipsum", "test",
	"secret_key", "api_key", "<", ">" };

/* Values that are a word, not a secret ("password" itself). */
static const char *const scan_value_words[] = { "admin", "apikey", "changeit",
	"default", "empty", "false", "guest", "letmein", "nil", "none", "null",
	"pass", "passwd", "password", "pwd", "qwerty", "root", "secret", "test",
	"token", "true", "undefined", "user", "username", "welcome" };

/* Inside a structured token, these mean a placeholder. A random
 * base62 body contains one of them with odds well below 1 in 10,000. */
static const char *const scan_token_stop[] = { "example", "xxxx", "****",
	"your", "placeholder", "dummy", "redacted", "fake" };

/* Markers of a value read from the environment or a secret store on the
 * same line: `password = os.environ.get("PW", "dev-default")`. */
static const char *const scan_env_markers[] = { "environ", "getenv",
	"process.env", "env[", "env(", "env.fetch", "keyring.", "secrets." };

/* Overwrite memory that held secrets before it is freed, in a way the
 * compiler may not drop. */
static void
scan_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

static char
scan_lower_char(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool
scan_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
scan_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
scan_is_name_char(char c)
{
	return scan_is_alpha(c) || scan_is_digit(c) || c == '_' || c == '.' ||
	       c == '-';
}

/* Case-insensitive search of a lower-case needle in p[0..n). */
static bool
scan_has(const char *p, size_t n, const char *needle)
{
	size_t m = strlen(needle), i, j;

	if (m == 0 || m > n)
		return m == 0;
	for (i = 0; i + m <= n; i++) {
		for (j = 0; j < m; j++)
			if (scan_lower_char(p[i + j]) != needle[j])
				break;
		if (j == m)
			return true;
	}
	return false;
}

static bool
scan_has_any(const char *p, size_t n, const char *const *list, size_t nlist)
{
	size_t i;

	for (i = 0; i < nlist; i++)
		if (scan_has(p, n, list[i]))
			return true;
	return false;
}

/*
 * log2 of x > 0 without libm (no module links it): halve or double into
 * [1, 2), then ln(m) = 2 atanh((m-1)/(m+1)), whose series converges
 * quickly since (m-1)/(m+1) <= 1/3. Twelve terms are exact to ~1e-12,
 * far finer than the entropy thresholds need.
 */
static double
scan_log2(double x)
{
	double e = 0.0, y, y2, term, sum = 0.0;
	int k;

	while (x >= 2.0) {
		x /= 2.0;
		e += 1.0;
	}
	while (x < 1.0) {
		x *= 2.0;
		e -= 1.0;
	}
	y = (x - 1.0) / (x + 1.0);
	y2 = y * y;
	term = y;
	for (k = 1; k < 26; k += 2) {
		sum += term / k;
		term *= y2;
	}
	return e + 2.0 * sum / 0.69314718055994530942;
}

/* Shannon entropy in bits per byte. */
static double
scan_entropy(const char *p, size_t n)
{
	size_t count[256] = { 0 }, i;
	double h = 0.0, f;

	if (n == 0)
		return 0.0;
	for (i = 0; i < n; i++)
		count[(unsigned char)p[i]]++;
	for (i = 0; i < 256; i++) {
		if (count[i] == 0)
			continue;
		f = (double)count[i] / (double)n;
		h -= f * scan_log2(f);
	}
	return h;
}

/* A run of `run` identical characters. */
static bool
scan_has_run(const char *p, size_t n, size_t run)
{
	size_t i, k = 1;

	for (i = 1; i < n; i++) {
		k = p[i] == p[i - 1] ? k + 1 : 1;
		if (k >= run)
			return true;
	}
	return false;
}

/* Mostly ascending or descending steps: "0123456789abcdef", "987654". */
static bool
scan_is_sequential(const char *p, size_t n)
{
	size_t i, up = 0, down = 0;
	char a, b;

	if (n < 6)
		return false;
	for (i = 1; i < n; i++) {
		a = scan_lower_char(p[i - 1]);
		b = scan_lower_char(p[i]);
		if (b == a + 1 || (a == '9' && b == 'a') ||
		    (a == 'z' && b == '0'))
			up++;
		else if (b == a - 1)
			down++;
	}
	return up * 10 >= (n - 1) * 6 || down * 10 >= (n - 1) * 6;
}

/* xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx in hex. */
static bool
scan_is_uuid(const char *p, size_t n)
{
	size_t i;
	char c;

	if (n != 36)
		return false;
	for (i = 0; i < n; i++) {
		c = scan_lower_char(p[i]);
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!scan_is_digit(c) && !(c >= 'a' && c <= 'f')) {
			return false;
		}
	}
	return true;
}

static bool
scan_is_hex(const char *p, size_t n)
{
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		c = scan_lower_char(p[i]);
		if (!scan_is_digit(c) && !(c >= 'a' && c <= 'f'))
			return false;
	}
	return n > 0;
}

/* Prices, dates, times, versions: digits and separators only. */
static bool
scan_is_numeric(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!scan_is_digit(p[i]) && strchr(".,:+-_/TZ", p[i]) == NULL)
			return false;
	return true;
}

/*
 * Words joined by separators ("rolling_mean_20", "getAccessToken",
 * "settings.SECRET_KEY_V2"): every segment is letters only, digits only,
 * or short. Random tokens have long segments mixing both.
 */
static bool
scan_is_identifier(const char *p, size_t n)
{
	size_t i = 0, start, k;
	bool alpha, digit;

	while (i < n) {
		start = i;
		alpha = digit = false;
		while (i < n && strchr("_.-/:", p[i]) == NULL) {
			if (scan_is_alpha(p[i]))
				alpha = true;
			else if (scan_is_digit(p[i]))
				digit = true;
			else
				return false; /* symbols: not an identifier */
			i++;
		}
		k = i - start;
		if (alpha && digit && k > 3)
			return false;
		i++;
	}
	return true;
}

/* The length of the literal prefix of a rule the secret starts with
 * (at most SCAN_FP_PREFIX), or 0. */
static size_t
scan_prefix_len(const struct scan_rule *rule, const char *s, size_t n,
    size_t *full)
{
	const char *p = rule->prefixes, *bar;
	size_t m;

	*full = 0;
	while (p != NULL && *p != '\0') {
		bar = strchr(p, '|');
		m = bar != NULL ? (size_t)(bar - p) : strlen(p);
		if (m <= n && memcmp(s, p, m) == 0) {
			*full = m;
			return m < SCAN_FP_PREFIX ? m : SCAN_FP_PREFIX;
		}
		p = bar != NULL ? bar + 1 : NULL;
	}
	return 0;
}

/* "<prefix>…:<12 hex>" into out (24 bytes). */
static void
scan_fingerprint(char out[24], const struct scan_rule *rule, const char *s,
    size_t n)
{
	char hex[UTIL_SHA256_HEX];
	size_t full, plen = scan_prefix_len(rule, s, n, &full);

	util_sha256_hex(hex, s, n);
	snprintf(out, 24, "%.*s\xe2\x80\xa6:%.*s", (int)plen, s, SCAN_FP_HEX,
	    hex);
}

/* CRC-32 (IEEE, reflected), bit by bit: it runs only on candidates. */
static uint32_t
scan_crc32(const char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= (unsigned char)p[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

/* Do the last 6 characters of body (after the prefix) hold the base62
 * CRC32 of the 30 before them? */
static bool
scan_crc32_ok(const char *body, size_t n)
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                             "abcdefghijklmnopqrstuvwxyz";
	char want[SCAN_CRC_DIGITS];
	uint32_t c;
	int i;

	if (n != SCAN_CRC_BODY + SCAN_CRC_DIGITS)
		return false;
	c = scan_crc32(body, SCAN_CRC_BODY);
	for (i = SCAN_CRC_DIGITS - 1; i >= 0; i--) {
		want[i] = digits[c % 62];
		c /= 62;
	}
	return memcmp(want, body + SCAN_CRC_BODY, SCAN_CRC_DIGITS) == 0;
}

/* Is "gitleaks:allow" on one of the lines [a, b) touches? */
static bool
scan_inline_allowed(const char *data, size_t len, size_t a, size_t b)
{
	while (a > 0 && data[a - 1] != '\n')
		a--;
	while (b < len && data[b] != '\n')
		b++;
	return scan_has(data + a, b - a, SCAN_INLINE_ALLOW);
}

/* Does an ignore-file entry name this file, rule and line? */
static bool
scan_loc_ignored(struct scan_run *r, const char *file, const char *id,
    size_t off)
{
	const struct scanner *sc = r->sc;
	const char *p, *end, *nl;
	size_t i;

	if (sc->nlocs == 0)
		return false;
	/* Candidates of one rule come in order: go on counting from the
	 * previous one (scan_rule_run resets the cache per rule). */
	p = r->data + r->lc_from;
	end = r->data + off;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		r->lc_line++;
		p = nl + 1;
	}
	r->lc_from = (size_t)(p - r->data);
	for (i = 0; i < sc->nlocs; i++)
		if (sc->locs[i].line == r->lc_line &&
		    strcmp(sc->locs[i].rule, id) == 0 &&
		    strcmp(sc->locs[i].file, file) == 0)
			return true;
	return false;
}

static bool
scan_allowed(const struct scanner *sc, const char *fp)
{
	const char *hex = strrchr(fp, ':');
	size_t i;

	hex = hex != NULL ? hex + 1 : fp;
	for (i = 0; i < sc->nallowed; i++)
		if (strcmp(sc->allowed[i], fp) == 0 ||
		    strcmp(sc->allowed[i], hex) == 0)
			return true;
	return false;
}

/* A structured token whose body is a placeholder. */
static bool
scan_token_placeholder(const char *s, size_t n)
{
	return scan_has_any(s, n, scan_token_stop,
	           sizeof(scan_token_stop) / sizeof(scan_token_stop[0])) ||
	       scan_has_run(s, n, 6) || scan_is_sequential(s, n);
}

static bool
scan_word_in(const char *lower, const char *const *list, size_t nlist)
{
	size_t i;

	for (i = 0; i < nlist; i++)
		if (strcmp(lower, list[i]) == 0)
			return true;
	return false;
}

/* Template or indirection syntax: ${VAR}, {{ x }}, %s, f"{pw}", $VAR,
 * <TOKEN>, [password], env:NAME, arn:..., op://... */
static bool
scan_is_template(const char *v, size_t n)
{
	static const char *const inside[] = { "${", "{{", "}}", "%s", "%(",
		"%d", "#{", "$(" };
	static const char *const lead[] = { "env:", "vault:", "arn:", "secret:",
		"ssm:", "file:", "op:", "sm:" };
	size_t i;

	if (n == 0 || strchr("$%<@&*[", v[0]) != NULL)
		return true;
	if (memchr(v, '{', n) != NULL && memchr(v, '}', n) != NULL)
		return true;
	for (i = 0; i < sizeof(inside) / sizeof(inside[0]); i++)
		if (scan_has(v, n, inside[i]))
			return true;
	for (i = 0; i < sizeof(lead) / sizeof(lead[0]); i++)
		if (n >= strlen(lead[i]) &&
		    scan_has(v, strlen(lead[i]), lead[i]))
			return true;
	return false;
}

/* Does the line around [off, off+n) read the value from somewhere? */
static bool
scan_line_has_env(const char *data, size_t len, size_t off, size_t n)
{
	size_t a = off, b = off + n;

	while (a > 0 && data[a - 1] != '\n' && off - a < SCAN_LINE_WINDOW)
		a--;
	while (b < len && data[b] != '\n' && b - off < SCAN_LINE_WINDOW)
		b++;
	return scan_has_any(data + a, b - a, scan_env_markers,
	    sizeof(scan_env_markers) / sizeof(scan_env_markers[0]));
}

/* A CSV-looking line: several commas around the value. */
static bool
scan_line_is_csv(const char *data, size_t len, size_t off)
{
	size_t a = off, b = off, commas = 0;

	while (a > 0 && data[a - 1] != '\n' && off - a < SCAN_LINE_WINDOW)
		if (data[--a] == ',')
			commas++;
	while (b < len && data[b] != '\n' && b - off < SCAN_LINE_WINDOW)
		if (data[b++] == ',')
			commas++;
	return commas >= 3;
}

/*
 * Is any segment of the name one of scan_name_stop? Segments are split
 * at separators and at lower-to-upper case changes (tokenCount).
 */
static bool
scan_name_is_stop(const char *name, size_t n)
{
	char seg[48];
	size_t i = 0, k;

	while (i < n) {
		k = 0;
		while (i < n &&
		       (scan_is_alpha(name[i]) || scan_is_digit(name[i]))) {
			if (k > 0 && name[i] >= 'A' && name[i] <= 'Z' &&
			    name[i - 1] >= 'a' && name[i - 1] <= 'z')
				break;
			if (k < sizeof(seg) - 1)
				seg[k++] = scan_lower_char(name[i]);
			i++;
		}
		seg[k] = '\0';
		if (k > 0 &&
		    scan_word_in(seg, scan_name_stop,
		        sizeof(scan_name_stop) / sizeof(scan_name_stop[0])))
			return true;
		if (k == 0)
			i++;
	}
	return false;
}

/* "pass" as a word of a name (DB_PASS, passPhrase), not in "bypass". */
static bool
scan_has_pass(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i + 4 <= n; i++)
		if (scan_has(name + i, 4, "pass") &&
		    (i == 0 || !scan_is_alpha(name[i - 1])) &&
		    (i + 4 == n || !scan_is_alpha(name[i + 4]) ||
		        scan_has(name + i, n - i, "passphrase")))
			return true;
	return false;
}

/* The id an assignment is reported under, from its name. */
static const char *
scan_assign_id(const char *name, size_t n)
{
	if (scan_has(name, n, "passw") || scan_has(name, n, "pwd") ||
	    scan_has_pass(name, n))
		return "password-assignment";
	if (scan_has(name, n, "apikey") || scan_has(name, n, "api_key") ||
	    scan_has(name, n, "api-key") || scan_has(name, n, "api.key"))
		return "api-key-assignment";
	if (scan_has(name, n, "token"))
		return "token-assignment";
	return "secret-assignment";
}

/*
 * The filters of a generic assignment. name may be empty (bearer).
 * Returns true when the value should be reported.
 */
static bool
scan_assign_keep(const struct scan_run *r, const struct scan_rule *rule,
    const char *name, size_t nname, size_t off, size_t n)
{
	const char *v = r->data + off;
	char lower[SCAN_VALUE_MAX];
	bool pw, alpha = false, digit = false;
	double h;
	size_t i;

	if (n == 0 || n >= sizeof(lower))
		return n != 0;
	if (nname > 0 && scan_name_is_stop(name, nname))
		return false;
	for (i = 0; i < n; i++) {
		lower[i] = scan_lower_char(v[i]);
		alpha = alpha || scan_is_alpha(v[i]);
		digit = digit || scan_is_digit(v[i]);
	}
	lower[n] = '\0';
	if (scan_is_template(v, n) || scan_has(v, n, "://") ||
	    lower[0] == '/' || strncmp(lower, "./", 2) == 0 ||
	    strncmp(lower, "../", 3) == 0 || strncmp(lower, "~/", 2) == 0)
		return false;
	if (scan_word_in(lower, scan_value_words,
	        sizeof(scan_value_words) / sizeof(scan_value_words[0])) ||
	    scan_has_any(lower, n, scan_value_stop,
	        sizeof(scan_value_stop) / sizeof(scan_value_stop[0])))
		return false;
	if (scan_is_numeric(v, n) || scan_is_uuid(v, n) ||
	    scan_is_identifier(v, n) || scan_has_run(lower, n, 5) ||
	    scan_is_sequential(v, n))
		return false;
	if (n >= 16 && scan_is_hex(v, n) &&
	    scan_line_is_csv(r->data, r->len, off))
		return false;
	h = scan_entropy(v, n);
	pw = strcmp(rule->id, "secret-assignment") == 0 &&
	     strcmp(scan_assign_id(name, nname), "password-assignment") == 0;
	if (rule->flags & SCAN_F_BARE) {
		/* Unquoted text is often an expression: demand a mix of
		 * letters and digits, and more variety outside passwords. */
		if (!alpha || !digit || h <= (pw ? 2.5 : 3.0))
			return false;
	} else if (pw) {
		/* A literal password is a secret even when short and
		 * plain ("hunter2"); placeholders were dropped above. */
		if (n < 6 || h <= 2.0)
			return false;
	} else if (n < 10 || h <= 3.0) {
		return false;
	}
	return !scan_line_has_env(r->data, r->len, off, n);
}

/* The filters of user:password@ in a URL. */
static bool
scan_url_keep(const char *user, size_t nuser, const char *v, size_t n)
{
	static const char *const words[] = { "abc", "api_key", "apikey", "bar",
		"baz", "changeme", "foo", "key", "mypassword", "pass", "passwd",
		"password", "placeholder", "pw", "pwd", "qux", "secret", "test",
		"token", "user", "username", "xxx", "xyz", "your_password",
		"yourpassword" };
	static const char *const stop[] = { "example", "xxx", "your",
		"placeholder", "dummy", "redacted", "changeme", "***" };
	char lower[SCAN_VALUE_MAX];
	size_t i;

	if (n >= sizeof(lower))
		return true;
	for (i = 0; i < n; i++)
		lower[i] = scan_lower_char(v[i]);
	lower[n] = '\0';
	if (scan_is_template(v, n) ||
	    scan_word_in(lower, words, sizeof(words) / sizeof(words[0])) ||
	    scan_has_any(lower, n, stop, sizeof(stop) / sizeof(stop[0])) ||
	    scan_has_run(lower, n, 6) || scan_is_sequential(v, n))
		return false;
	/* postgres:postgres@, admin:admin@: stock development defaults. */
	if (nuser == n && memcmp(user, v, n) == 0)
		return false;
	return true;
}

/*
 * Find which keywords occur, in one pass over the lower-cased buffer: a
 * bitmap of their first two bytes rejects almost every position at once.
 * (Searching each keyword separately cost several times more, because
 * first letters such as 'a' and 's' are everywhere.)
 */
static void
scan_keywords_find(struct scan_run *r)
{
	const struct scanner *sc = r->sc;
	size_t i, j, k, left = sc->nkeywords;
	unsigned pair;

	for (i = 0; i + 1 < r->len && left > 0; i++) {
		pair = (unsigned)(unsigned char)r->lower[i] << 8 |
		       (unsigned char)r->lower[i + 1];
		if ((sc->pairs[pair >> 3] & (1u << (pair & 7))) == 0)
			continue;
		for (j = sc->pairstart[pair]; j < sc->pairstart[pair + 1];
		     j++) {
			k = sc->bypair[j];
			if (r->kwstate[k] || sc->kwlen[k] > r->len - i ||
			    memcmp(r->lower + i, sc->keywords[k],
			        sc->kwlen[k]) != 0)
				continue;
			r->kwstate[k] = 1;
			left--;
		}
	}
}

/* Does one of the rule's keywords occur (or has it none)? */
static bool
scan_prefilter(const struct scan_run *r, const struct scan_rule *rule)
{
	size_t i;

	if (rule->nkw == 0)
		return true;
	for (i = 0; i < rule->nkw; i++)
		if (r->kwstate[rule->kw[i]])
			return true;
	return false;
}

static void
scan_found_push(struct scan_run *r, size_t off, size_t rule, const char *id,
    const char *fp)
{
	struct scan_found *f;

	if (r->nfound == r->capfound) {
		r->capfound = r->capfound ? r->capfound * 2 : 8;
		r->found = xrealloc(r->found, r->capfound * sizeof(*r->found));
	}
	f = &r->found[r->nfound++];
	memset(f, 0, sizeof(*f));
	f->off = off;
	f->rule = rule;
	snprintf(f->id, sizeof(f->id), "%s", id);
	snprintf(f->fp, sizeof(f->fp), "%s", fp);
	if (off < r->best)
		r->best = off;
}

/* Decide about one match of a rule. Returns true and fills id when it
 * is a secret to report (before the allow list). */
static bool
scan_judge(const struct scan_run *r, const struct scan_rule *rule,
    const PCRE2_SIZE *ov, size_t s0, size_t s1, const char **id)
{
	const char *s = r->data + s0, *name = "";
	size_t n = s1 - s0, full, nname = 0, a;

	*id = rule->id;
	if (rule->custom)
		return true;
	if (n == 0)
		return false;
	if (rule->entropy > 0 && scan_entropy(s, n) <= rule->entropy)
		return false;
	if (rule->flags & (SCAN_F_TOKEN | SCAN_F_CRC32)) {
		(void)scan_prefix_len(rule, s, n, &full);
		if ((rule->flags & SCAN_F_TOKEN) &&
		    scan_token_placeholder(s + full, n - full))
			return false;
		if ((rule->flags & SCAN_F_CRC32) &&
		    !scan_crc32_ok(s + full, n - full))
			return false;
	}
	if (rule->flags & SCAN_F_URL) {
		bool has_user =
		    rule->g_user != 0 && ov[2 * rule->g_user] != PCRE2_UNSET;
		size_t u0 = has_user ? ov[2 * rule->g_user] : 0;
		size_t u1 = has_user ? ov[2 * rule->g_user + 1] : 0;

		if (!scan_url_keep(r->data + u0, u1 - u0, s, n))
			return false;
	}
	if (rule->flags & SCAN_F_ASSIGN) {
		if (rule->g_name != 0 && ov[2 * rule->g_name] != PCRE2_UNSET) {
			name = r->data + ov[2 * rule->g_name];
			nname = ov[2 * rule->g_name + 1] - ov[2 * rule->g_name];
		} else if (rule->g_tail != 0 &&
		           ov[2 * rule->g_tail] != PCRE2_UNSET) {
			/* The regex starts at the secret word; the name
			 * may begin earlier (db_password). */
			a = ov[0];
			while (a > 0 && ov[0] - a < SCAN_NAME_BACK &&
			       scan_is_name_char(r->data[a - 1]))
				a--;
			name = r->data + a;
			nname = ov[2 * rule->g_tail + 1] - a;
		}
		if (!scan_assign_keep(r, rule, name, nname, s0, n))
			return false;
		if (strcmp(rule->id, "secret-assignment") == 0)
			*id = scan_assign_id(name, nname);
	}
	return true;
}

/* Run one rule over the buffer; record what survives. */
static int
scan_rule_run(struct scan_run *r, size_t ri, const char *file,
    struct error *err)
{
	const struct scan_rule *rule = &r->sc->rules[ri];
	const PCRE2_SIZE *ov;
	PCRE2_SIZE start = 0, s0, s1;
	const char *id;
	char fp[24];
	int rc;

	r->lc_from = 0;
	r->lc_line = 1;
	while (start <= r->len) {
		if (r->first_only && start > r->best)
			break;
		rc = pcre2_match(rule->re, (PCRE2_SPTR)r->data, r->len, start,
		    0, r->md, r->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			PCRE2_UCHAR why[128];

			pcre2_get_error_message(rc, why, sizeof(why));
			r->failed = rule->id;
			return error_set(err, ERR_INVALID, "SCAN_FAILED",
			    "secret scan failed: rule=%s file=%s: %s", rule->id,
			    file, (const char *)why);
		}
		ov = pcre2_get_ovector_pointer(r->md);
		s0 = ov[0];
		s1 = ov[1];
		if (rule->g_secret != 0 &&
		    ov[2 * rule->g_secret] != PCRE2_UNSET) {
			s0 = ov[2 * rule->g_secret];
			s1 = ov[2 * rule->g_secret + 1];
		}
		if (scan_judge(r, rule, ov, s0, s1, &id)) {
			scan_fingerprint(fp, rule, r->data + s0, s1 - s0);
			if (!scan_allowed(r->sc, fp) &&
			    !scan_inline_allowed(r->data, r->len, ov[0],
			        ov[1] > ov[0] ? ov[1] : ov[0]) &&
			    !scan_loc_ignored(r, file, id, s0)) {
				scan_found_push(r, s0, ri, id, fp);
				if (r->first_only)
					break;
			}
		}
		start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	return 0;
}

static int
scan_found_cmp(const void *a, const void *b)
{
	const struct scan_found *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/*
 * The 1-based line of offset off. Hits come in order of position, so the
 * count goes on from the previous hit's (*from, *line) instead of
 * restarting: a file with many hits stays linear.
 */
static unsigned
scan_line_of(const char *data, size_t off, size_t *from, unsigned *line)
{
	const char *p = data + *from, *end = data + off, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		(*line)++;
		p = nl + 1;
	}
	*from = (size_t)(p - data);
	return *line;
}

static void
scan_hit_fill(struct scan_hit *hit, const struct scan_run *r,
    const struct scan_found *f, const char *name, size_t *from, unsigned *line)
{
	memset(hit, 0, sizeof(*hit));
	snprintf(hit->rule, sizeof(hit->rule), "%s", f->id);
	snprintf(hit->file, sizeof(hit->file), "%s", name);
	hit->line = scan_line_of(r->data, f->off, from, line);
	snprintf(hit->fingerprint, sizeof(hit->fingerprint), "%s", f->fp);
}

static void
scan_run_dispose(struct scan_run *r)
{
	if (r->lower != NULL) {
		scan_wipe(r->lower, r->len);
		free(r->lower);
	}
	free(r->kwstate);
	free(r->found);
	pcre2_match_data_free(r->md);
	pcre2_jit_stack_free(r->jstack);
	pcre2_match_context_free(r->mctx);
}

/* Run every rule; r->found gets the hits, sorted, one per secret. */
static int
scan_execute(struct scan_run *r, const struct scanner *sc, const char *file,
    const char *data, size_t len, bool first_only, struct error *err)
{
	size_t i, j;
	int rc;

	memset(r, 0, sizeof(*r));
	r->sc = sc;
	r->data = data;
	r->len = len;
	r->first_only = first_only;
	r->best = SIZE_MAX;
	r->lower = xmalloc(len + 1);
	for (i = 0; i < len; i++)
		r->lower[i] = scan_lower_char(data[i]);
	r->lower[len] = '\0';
	r->kwstate = xcalloc(sc->nkeywords + 1, 1);
	scan_keywords_find(r);
	if ((r->mctx = pcre2_match_context_create(NULL)) == NULL ||
	    (r->md = pcre2_match_data_create(sc->max_pairs, NULL)) == NULL)
		abort(); /* out of memory, as xmalloc would */
	pcre2_set_match_limit(r->mctx, SCAN_MATCH_LIMIT);
	if ((r->jstack = pcre2_jit_stack_create(SCAN_JIT_STACK_MIN,
	         SCAN_JIT_STACK_MAX, NULL)) != NULL)
		pcre2_jit_stack_assign(r->mctx, NULL, r->jstack);
	for (i = 0; i < sc->nrules; i++) {
		if (!scan_prefilter(r, &sc->rules[i]))
			continue;
		if ((rc = scan_rule_run(r, i, file, err)) < 0)
			return rc;
	}
	if (r->nfound > 1)
		qsort(r->found, r->nfound, sizeof(*r->found), scan_found_cmp);
	/* Two rules on the same secret: keep the first (more specific). */
	for (i = j = 0; i < r->nfound; i++)
		if (j == 0 || r->found[j - 1].off != r->found[i].off)
			r->found[j++] = r->found[i];
	r->nfound = j;
	return 0;
}

static int
scan_detected(struct error *err, const struct scan_hit *hit)
{
	return error_set(err, ERR_INVALID, "SECRET_DETECTED",
	    "secret detected: rule=%s file=%s line=%u fingerprint=%s",
	    hit->rule, hit->file, hit->line, hit->fingerprint);
}

int
scanner_scan(struct scanner *sc, const char *name, const char *data, size_t len,
    struct scan_hit *hit, struct error *err)
{
	struct scan_run r;
	unsigned line = 1;
	size_t from = 0;
	int rc;

	if (name == NULL)
		name = "";
	memset(hit, 0, sizeof(*hit));
	if ((rc = scan_execute(&r, sc, name, data, len, true, err)) < 0) {
		snprintf(hit->file, sizeof(hit->file), "%s", name);
		snprintf(hit->rule, sizeof(hit->rule), "%s",
		    r.failed != NULL ? r.failed : "");
		goto out;
	}
	if (r.nfound > 0) {
		scan_hit_fill(hit, &r, &r.found[0], name, &from, &line);
		rc = scan_detected(err, hit);
	}
out:
	scan_run_dispose(&r);
	return rc;
}

int
scanner_scan_all(struct scanner *sc, const char *name, const char *data,
    size_t len, scan_hit_fn fn, void *arg, struct error *err)
{
	struct scan_hit hit, first;
	struct scan_run r;
	unsigned line = 1;
	size_t i, from = 0;
	int rc;

	if (name == NULL)
		name = "";
	if ((rc = scan_execute(&r, sc, name, data, len, false, err)) < 0)
		goto out;
	for (i = 0; i < r.nfound; i++) {
		scan_hit_fill(&hit, &r, &r.found[i], name, &from, &line);
		if (i == 0)
			first = hit;
		if (fn != NULL && (rc = fn(&hit, arg)) < 0)
			goto out;
	}
	if (r.nfound > 0)
		rc = scan_detected(err, &first);
out:
	scan_run_dispose(&r);
	return rc;
}

/* The index of a keyword in the scanner's list, added when new. */
static size_t
scan_keyword_index(struct scanner *sc, const char *kw, size_t n)
{
	unsigned pair;
	size_t i;

	for (i = 0; i < sc->nkeywords; i++)
		if (strlen(sc->keywords[i]) == n &&
		    memcmp(sc->keywords[i], kw, n) == 0)
			return i;
	assert(n >= 2); /* the pair bitmap needs two bytes */
	sc->keywords =
	    xrealloc(sc->keywords, (sc->nkeywords + 1) * sizeof(*sc->keywords));
	sc->kwlen = xrealloc(sc->kwlen, (sc->nkeywords + 1) * sizeof(size_t));
	sc->kwpair =
	    xrealloc(sc->kwpair, (sc->nkeywords + 1) * sizeof(*sc->kwpair));
	sc->keywords[sc->nkeywords] = xstrndup(kw, n);
	sc->kwlen[sc->nkeywords] = n;
	pair = (unsigned)(unsigned char)kw[0] << 8 | (unsigned char)kw[1];
	sc->kwpair[sc->nkeywords] = pair;
	sc->pairs[pair >> 3] |= (unsigned char)(1u << (pair & 7));
	return sc->nkeywords++;
}

static uint32_t
scan_group(const pcre2_code *re, const char *name)
{
	int n = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);

	return n > 0 ? (uint32_t)n : 0;
}

/* Compile one rule into sc->rules[sc->nrules]. */
static int
scan_rule_add(struct scanner *sc, const char *id, const char *pattern,
    const struct scan_rule_def *def, struct error *err)
{
	struct scan_rule *rule = &sc->rules[sc->nrules];
	PCRE2_UCHAR why[128];
	PCRE2_SIZE where = 0;
	const char *p, *bar;
	uint32_t groups = 0;
	int code = 0;

	memset(rule, 0, sizeof(*rule));
	rule->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0,
	    &code, &where, NULL);
	if (rule->re == NULL) {
		pcre2_get_error_message(code, why, sizeof(why));
		return error_set(err, def != NULL ? ERR_FAIL : ERR_INVALID,
		    "INVALID_CONFIG",
		    "secret pattern %s (\"%s\") does not compile at offset "
		    "%zu: %s",
		    id, pattern, (size_t)where, (const char *)why);
	}
	/* Without JIT (an unsupported CPU) pcre2_match interprets the
	 * pattern: slower, same results. */
	(void)pcre2_jit_compile(rule->re, PCRE2_JIT_COMPLETE);
	snprintf(rule->id, sizeof(rule->id), "%s", id);
	rule->g_secret = scan_group(rule->re, "secret");
	rule->g_tail = scan_group(rule->re, "tail");
	rule->g_name = scan_group(rule->re, "name");
	rule->g_user = scan_group(rule->re, "user");
	(void)pcre2_pattern_info(rule->re, PCRE2_INFO_CAPTURECOUNT, &groups);
	if (groups + 1 > sc->max_pairs)
		sc->max_pairs = groups + 1;
	if (def == NULL) {
		/* Operator patterns: the secret is group 1 when there is
		 * one and no group is named "secret". */
		rule->custom = true;
		if (rule->g_secret == 0 && groups >= 1)
			rule->g_secret = 1;
	} else {
		rule->prefixes = def->prefixes;
		rule->entropy = def->entropy;
		rule->flags = def->flags;
		for (p = def->keywords; p != NULL && *p != '\0';) {
			bar = strchr(p, '|');
			rule->kw = xrealloc(rule->kw,
			    (rule->nkw + 1) * sizeof(*rule->kw));
			rule->kw[rule->nkw++] = scan_keyword_index(sc, p,
			    bar != NULL ? (size_t)(bar - p) : strlen(p));
			p = bar != NULL ? bar + 1 : NULL;
		}
	}
	sc->nrules++;
	return 0;
}

/* Copy an allowed fingerprint without surrounding blanks. */
static char *
scan_trim_dup(const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	                    s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	return xstrndup(s, n);
}

/* Our own fingerprint, whole ("<prefix>…:<hex>") or its hex digits. */
static bool
scan_is_our_fingerprint(const char *s)
{
	const char *hex = strrchr(s, ':');

	if (strstr(s, "\xe2\x80\xa6:") != NULL && hex != NULL)
		return strlen(hex + 1) == SCAN_FP_HEX &&
		       scan_is_hex(hex + 1, SCAN_FP_HEX);
	return strlen(s) == SCAN_FP_HEX && scan_is_hex(s, SCAN_FP_HEX);
}

/*
 * One entry of an ignore file, blanks trimmed: our fingerprint goes to
 * the allow list, "[<commit>:]<file>:<rule-id>:<line>" to the locations.
 * Returns false when it is neither.
 */
static bool
scan_ignore_entry(struct scanner *sc, char *e)
{
	char *rule, *num, *file = e, *c;
	unsigned long line;
	struct scan_loc *l;

	if (scan_is_our_fingerprint(e)) {
		sc->allowed = xrealloc(sc->allowed,
		    (sc->nallowed + 1) * sizeof(*sc->allowed));
		sc->allowed[sc->nallowed++] = xstrdup(e);
		return true;
	}
	if ((num = strrchr(e, ':')) == NULL || num == e)
		return false;
	*num++ = '\0';
	if ((rule = strrchr(e, ':')) == NULL || rule == e)
		return false;
	*rule++ = '\0';
	if (*num == '\0' || strspn(num, "0123456789") != strlen(num) ||
	    strlen(num) > 9 || *rule == '\0')
		return false;
	line = strtoul(num, NULL, 10);
	/* gitleaks' git mode puts the commit first: 7 to 64 hex digits. */
	if ((c = strchr(e, ':')) != NULL && c - e >= 7 && c - e <= 64 &&
	    scan_is_hex(e, (size_t)(c - e)))
		file = c + 1;
	if (*file == '\0' || line == 0)
		return false;
	sc->locs = xrealloc(sc->locs, (sc->nlocs + 1) * sizeof(*sc->locs));
	l = &sc->locs[sc->nlocs++];
	l->file = xstrdup(file);
	l->rule = xstrdup(rule);
	l->line = (unsigned)line;
	return true;
}

/* Load an ignore file (scanner_options.ignore_file). */
static int
scan_ignore_load(struct scanner *sc, const char *path, struct error *err)
{
	char *data = NULL, *p, *nl, *e;
	size_t len = 0, lineno = 0, n;
	int rc;

	if ((rc = util_read_file(&data, &len, path, SCAN_IGNORE_MAX_BYTES,
	         err)) < 0) {
		char msg[ERROR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		rc = error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "scan-ignore-file %s: %s", path, msg);
		goto out;
	}
	for (p = data; p != NULL && *p != '\0'; p = nl) {
		lineno++;
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		e = scan_trim_dup(p);
		n = strlen(e);
		if (n == 0 || e[0] == '#') {
			free(e);
			continue;
		}
		if (sc->nallowed + sc->nlocs >= SCAN_IGNORE_MAX_ENTRIES) {
			free(e);
			rc = error_set(err, ERR_INVALID, "INVALID_CONFIG",
			    "scan-ignore-file %s: more than %u entries", path,
			    SCAN_IGNORE_MAX_ENTRIES);
			goto out;
		}
		if (!scan_ignore_entry(sc, e)) {
			free(e);
			rc = error_set(err, ERR_INVALID, "INVALID_CONFIG",
			    "scan-ignore-file %s line %zu: neither a "
			    "fingerprint "
			    "nor <file>:<rule-id>:<line>",
			    path, lineno);
			goto out;
		}
		free(e);
	}
	rc = 0;
out:
	free(data);
	return rc;
}

/* Group the keywords by their first two bytes (scan_keywords_find). */
static void
scan_pairs_index(struct scanner *sc)
{
	uint32_t p, k;

	sc->pairstart = xcalloc(65537, sizeof(*sc->pairstart));
	sc->bypair = xcalloc(sc->nkeywords + 1, sizeof(*sc->bypair));
	for (k = 0; k < sc->nkeywords; k++)
		sc->pairstart[sc->kwpair[k] + 1]++;
	for (p = 0; p < 65536; p++)
		sc->pairstart[p + 1] += sc->pairstart[p];
	/* Fill each pair's slice in keyword order, using a moving
	 * cursor per pair; the cursors end at the next pair's start. */
	for (k = 0; k < sc->nkeywords; k++)
		sc->bypair[sc->pairstart[sc->kwpair[k]]++] = k;
	for (p = 65536; p > 0; p--)
		sc->pairstart[p] = sc->pairstart[p - 1];
	sc->pairstart[0] = 0;
}

int
scanner_new_opts(struct scanner **out, const struct scanner_options *o,
    struct error *err)
{
	const size_t nbuiltin = sizeof(scan_rules) / sizeof(scan_rules[0]);
	struct scanner *sc;
	char id[48];
	size_t i;
	int rc = 0;

	sc = xcalloc(1, sizeof(*sc));
	sc->rules = xcalloc(nbuiltin + o->nextra, sizeof(*sc->rules));
	sc->max_pairs = 1;
	for (i = 0; i < nbuiltin; i++)
		if ((rc = scan_rule_add(sc, scan_rules[i].id,
		         scan_rules[i].pattern, &scan_rules[i], err)) < 0)
			goto out;
	for (i = 0; i < o->nextra; i++) {
		snprintf(id, sizeof(id), "custom-%zu", i + 1);
		if (o->extra_patterns[i] == NULL) {
			rc = error_set(err, ERR_INVALID, "INVALID_CONFIG",
			    "secret pattern %s is empty", id);
			goto out;
		}
		if ((rc = scan_rule_add(sc, id, o->extra_patterns[i], NULL,
		         err)) < 0)
			goto out;
	}
	if (o->nallowed > 0)
		sc->allowed = xcalloc(o->nallowed, sizeof(*sc->allowed));
	for (i = 0; i < o->nallowed; i++)
		if (o->allowed[i] != NULL)
			sc->allowed[sc->nallowed++] =
			    scan_trim_dup(o->allowed[i]);
	if (o->ignore_file != NULL && o->ignore_file[0] != '\0' &&
	    (rc = scan_ignore_load(sc, o->ignore_file, err)) < 0)
		goto out;
	scan_pairs_index(sc);
	*out = sc;
	sc = NULL;
out:
	scanner_free(sc);
	return rc;
}

int
scanner_new(struct scanner **out, const char *const *extra_patterns,
    size_t nextra, const char *const *allowed_fingerprints, size_t nallowed,
    struct error *err)
{
	struct scanner_options o = { extra_patterns, nextra,
		allowed_fingerprints, nallowed, NULL };

	return scanner_new_opts(out, &o, err);
}

const char *
scanner_rule_id(size_t i)
{
	return i < sizeof(scan_rules) / sizeof(scan_rules[0]) ? scan_rules[i].id
	                                                      : NULL;
}

void
scanner_free(struct scanner *sc)
{
	size_t i;

	if (sc == NULL)
		return;
	for (i = 0; i < sc->nrules; i++) {
		pcre2_code_free(sc->rules[i].re);
		free(sc->rules[i].kw);
	}
	free(sc->rules);
	for (i = 0; i < sc->nkeywords; i++)
		free(sc->keywords[i]);
	free(sc->keywords);
	free(sc->kwlen);
	free(sc->kwpair);
	free(sc->pairstart);
	free(sc->bypair);
	for (i = 0; i < sc->nallowed; i++)
		free(sc->allowed[i]);
	free(sc->allowed);
	for (i = 0; i < sc->nlocs; i++) {
		free(sc->locs[i].file);
		free(sc->locs[i].rule);
	}
	free(sc->locs);
	free(sc);
}
