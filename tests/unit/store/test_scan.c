/*
 * test_scan.c - the secret scanner against its corpus and its contract.
 *
 * The corpus (tests/fixtures/secrets, made by make_corpus.py) holds fake
 * secrets of every supported format, each listed in planted.tsv with the
 * rule and line expected, and look-alikes that must stay clean. Every
 * miss and every false positive is reported by file name before the test
 * fails, so a rule change shows exactly what it broke. The provider
 * tokens (and GitHub's, whose CRC32 is valid) are written at test time by
 * `make_corpus.py --runtime` into a temporary directory, so the repository
 * carries no string a push-protection scanner would take for a live key.
 * Every built-in rule must have a positive and a look-alike
 * (lookalike.tsv); the recall and false positives are printed. Other
 * tests pin the contract: fingerprints, allowed fingerprints, the ignore
 * file, gitleaks:allow (and the markers that are not honoured), extra
 * patterns, line numbers, threads.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "store/scan.h"

#define CORPUS_FILE_MAX (4u * 1024 * 1024)

/* The test-time half of the corpus (group setup). */
static char runtime_dir[] = "/tmp/artifactd-scan-corpus-XXXXXX";

/* Counts for the summary line of test_rule_coverage. */
static size_t n_planted, n_caught, n_lookalikes, n_false;

/* The corpus directory, from TEST_SOURCE_DIR (ctest) or this file. */
static char *
corpus_path(const char *rel)
{
	const char *top = getenv("TEST_SOURCE_DIR");
	const char *me = __FILE__, *cut;

	if (top != NULL)
		return xasprintf("%s/tests/fixtures/secrets/%s", top, rel);
	cut = strstr(me, "tests/unit/store/");
	if (cut == NULL)
		return xasprintf("tests/fixtures/secrets/%s", rel);
	return xasprintf("%.*stests/fixtures/secrets/%s", (int)(cut - me), me,
	    rel);
}

static char *
read_all(const char *path, size_t *len)
{
	struct error err = { 0 };
	char *data = NULL;

	if (util_read_file(&data, len, path, CORPUS_FILE_MAX, &err) < 0)
		fail_msg("cannot read %s: %s", path, err.msg);
	return data;
}

static struct scanner *
new_scanner(void)
{
	struct scanner *sc = NULL;
	struct error err = { 0 };

	assert_int_equal(scanner_new(&sc, NULL, 0, NULL, 0, &err), 0);
	assert_non_null(sc);
	return sc;
}

/* The text may name the secret's type prefix, never the secret. For
 * long secrets, no 8-byte window of it may appear either. */
static bool
leaks(const char *text, const char *secret)
{
	size_t n = strlen(secret), i;
	char win[9];

	if (strstr(text, secret) != NULL)
		return true;
	for (i = 4; n >= 12 && i + 8 <= n; i++) {
		memcpy(win, secret + i, 8);
		win[8] = '\0';
		if (strstr(text, win) != NULL)
			return true;
	}
	return false;
}

static int
count_hit(const struct scan_hit *hit, void *arg)
{
	(void)hit;
	(*(int *)arg)++;
	return 0;
}

/* Scan every file of one planted.tsv (paths under top/planted). */
static void
scan_planted(struct scanner *sc, const char *top, size_t *pn, size_t *pbad)
{
	char *tsv_path = xasprintf("%s/planted.tsv", top), *tsv, *line;
	char *save = NULL;
	size_t tsv_len, n = 0, bad = 0;

	tsv = read_all(tsv_path, &tsv_len);
	for (line = strtok_r(tsv, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4], *p = line, *rel, *path, *data;
		struct scan_hit hit;
		struct error err = { 0 };
		size_t len, k;
		int rc, hits = 0;

		if (line[0] == '#')
			continue;
		for (k = 0; k < 4; k++) {
			f[k] = p;
			if (k < 3) {
				p = strchr(p, '\t');
				assert_non_null(p);
				*p++ = '\0';
			}
		}
		rel = xasprintf("planted/%s", f[0]);
		path = xasprintf("%s/%s", top, rel);
		data = read_all(path, &len);
		rc = scanner_scan(sc, f[0], data, len, &hit, &err);
		n++;
		if (rc == ERR_INVALID && strcmp(hit.rule, f[1]) == 0)
			n_caught++;
		if (rc != ERR_INVALID || strcmp(err.code, "SECRET_DETECTED")) {
			print_message("MISS %s: rule %s not caught (rc %d)\n",
			    f[0], f[1], rc);
			bad++;
		} else if (strcmp(hit.rule, f[1]) != 0 ||
		           hit.line != (unsigned)strtoul(f[2], NULL, 10)) {
			print_message("WRONG %s: got %s line %u, want %s line "
			              "%s\n",
			    f[0], hit.rule, hit.line, f[1], f[2]);
			bad++;
		} else if (leaks(err.msg, f[3]) ||
		           leaks(hit.fingerprint, f[3]) ||
		           leaks(hit.rule, f[3])) {
			print_message("LEAK %s: the report contains the "
			              "secret\n",
			    f[0]);
			bad++;
		} else if (strstr(err.msg, hit.fingerprint) == NULL ||
		           strstr(err.msg, f[0]) == NULL) {
			print_message("MSG %s: \"%s\"\n", f[0], err.msg);
			bad++;
		}
		/* scanner_scan_all agrees and reports at least this hit. */
		if (scanner_scan_all(sc, f[0], data, len, count_hit, &hits,
		        &err) != ERR_INVALID ||
		    hits < 1) {
			print_message("ALL %s: scanner_scan_all missed it\n",
			    f[0]);
			bad++;
		}
		free(data);
		free(path);
		free(rel);
	}
	free(tsv);
	free(tsv_path);
	*pn += n;
	*pbad += bad;
}

static void
test_corpus_planted(void **state)
{
	struct scanner *sc = new_scanner();
	char *top = corpus_path("");
	size_t n = 0, bad = 0;

	(void)state;
	n_caught = 0;
	scan_planted(sc, top, &n, &bad);
	scan_planted(sc, runtime_dir, &n, &bad);
	n_planted = n;
	print_message("planted: %zu files, %zu problems\n", n, bad);
	assert_true(n >= 250);
	assert_int_equal(bad, 0);
	free(top);
	scanner_free(sc);
}

static int
report_false_positive(const struct scan_hit *hit, void *arg)
{
	print_message("FALSE POSITIVE %s line %u: rule %s\n", hit->file,
	    hit->line, hit->rule);
	(*(size_t *)arg)++;
	return 0;
}

static void
test_corpus_lookalikes(void **state)
{
	struct scanner *sc = new_scanner();
	char *dir_path = corpus_path("lookalike");
	struct dirent *de;
	size_t n = 0, bad = 0;
	DIR *dir;

	(void)state;
	dir = opendir(dir_path);
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		struct error err = { 0 };
		char *path, *data;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir_path, de->d_name);
		data = read_all(path, &len);
		if (scanner_scan_all(sc, de->d_name, data, len,
		        report_false_positive, &bad, &err) != 0 &&
		    strcmp(err.code, "SECRET_DETECTED") != 0) {
			print_message("ERROR %s: %s\n", de->d_name, err.msg);
			bad++;
		}
		n++;
		free(data);
		free(path);
	}
	closedir(dir);
	n_lookalikes = n;
	n_false = bad;
	print_message("look-alikes: %zu files, %zu false positives\n", n, bad);
	assert_true(n >= 250);
	assert_int_equal(bad, 0);
	free(dir_path);
	scanner_free(sc);
}

/* CRC-32 (IEEE) of GitHub's token format, written independently of
 * store/scan.c's so the two check each other. */
static uint32_t
crc32_ieee(const char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= (unsigned char)p[i];
		for (k = 0; k < 8; k++)
			c = (c & 1u) ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

/* A fake GitHub token with a valid checksum, built at run time so this
 * source file itself does not carry one. */
static char *
fake_ghp(void)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz";
	const char *body = "Q7w2Er9tY4uI1oP6aS3dF8gH5jK0lZ";
	uint32_t c = crc32_ieee(body, strlen(body));
	char sum[7];
	int i;

	for (i = 5; i >= 0; i--) {
		sum[i] = b62[c % 62];
		c /= 62;
	}
	sum[6] = '\0';
	return xasprintf("ghp_%s%s", body, sum);
}

static void
test_inline_markers_not_honoured(void **state)
{
	static const char *const markers[] = { "# gitleaks:allo",
		"# pragma: allowlist secret", "# nosec", "# trufflehog:ignore",
		"// NOSONAR", "# noqa" };
	struct scanner *sc = new_scanner();
	char *tok = fake_ghp();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
		struct scan_hit hit;
		struct error err = { 0 };
		char *text = xasprintf("# %s\nGH = \"%s\"  %s\n",
		    "pragma: allowlist nextline secret", tok, markers[i]);

		assert_int_equal(scanner_scan(sc, "m.py", text, strlen(text),
		                     &hit, &err),
		    ERR_INVALID);
		assert_string_equal(err.code, "SECRET_DETECTED");
		assert_string_equal(hit.rule, "github-pat");
		assert_int_equal(hit.line, 2);
		free(text);
	}
	free(tok);
	scanner_free(sc);
}

static void
test_fingerprint_format(void **state)
{
	struct scanner *sc = new_scanner();
	char hex[UTIL_SHA256_HEX], want[160];
	const char *akia = "AKIAQ7W2ER4TY6UIOPLK";
	const char *pw = "Zq9!mK2#pLw8";
	struct scan_hit hit;
	struct error err = { 0 };
	char *text;

	(void)state;
	text = xasprintf("key_id = %s\n", akia);
	assert_int_equal(scanner_scan(sc, "a.py", text, strlen(text), &hit,
	                     &err),
	    ERR_INVALID);
	util_sha256_hex(hex, akia, strlen(akia));
	snprintf(want, sizeof(want), "AKIA\xe2\x80\xa6:%.12s", hex);
	assert_string_equal(hit.fingerprint, want);
	assert_string_equal(hit.rule, "aws-access-key-id");
	assert_string_equal(hit.file, "a.py");
	snprintf(want, sizeof(want),
	    "secret detected: rule=aws-access-key-id file=a.py line=1 "
	    "fingerprint=AKIA\xe2\x80\xa6:%.12s",
	    hex);
	assert_string_equal(err.msg, want);
	free(text);

	/* No literal prefix: nothing of the secret before the digest. */
	text = xasprintf("db_password = \"%s\"\n", pw);
	assert_int_equal(scanner_scan(sc, "b.py", text, strlen(text), &hit,
	                     &err),
	    ERR_INVALID);
	util_sha256_hex(hex, pw, strlen(pw));
	snprintf(want, sizeof(want), "\xe2\x80\xa6:%.12s", hex);
	assert_string_equal(hit.fingerprint, want);
	assert_string_equal(hit.rule, "password-assignment");
	free(text);
	scanner_free(sc);
}

static void
test_allowed_fingerprints(void **state)
{
	struct scanner *sc = new_scanner(), *allow = NULL;
	char *tok = fake_ghp(), *text, fp[24], *hexpart, *padded;
	const char *list[2];
	struct scan_hit hit;
	struct error err = { 0 };

	(void)state;
	text = xasprintf("a = 1\nGH = \"%s\"\nb = \"%s\"\n", tok,
	    "AKIAQ7W2ER4TY6UIOPLK");
	assert_int_equal(scanner_scan(sc, "x.py", text, strlen(text), &hit,
	                     &err),
	    ERR_INVALID);
	assert_int_equal(hit.line, 2);
	snprintf(fp, sizeof(fp), "%s", hit.fingerprint);

	/* The whole fingerprint (with blanks around, as in YAML lists):
	 * the next secret is reported. */
	list[0] = "  not-this-one";
	padded = xasprintf(" %s ", fp);
	list[1] = padded;
	assert_int_equal(scanner_new(&allow, NULL, 0, list, 2, &err), 0);
	assert_int_equal(scanner_scan(allow, "x.py", text, strlen(text), &hit,
	                     &err),
	    ERR_INVALID);
	assert_string_equal(hit.rule, "aws-access-key-id");
	assert_int_equal(hit.line, 3);
	scanner_free(allow);
	free(padded);

	/* The 12 hex digits alone are enough. */
	hexpart = strrchr(fp, ':') + 1;
	list[0] = hexpart;
	assert_int_equal(scanner_new(&allow, NULL, 0, list, 1, &err), 0);
	assert_int_equal(scanner_scan(allow, "x.py", text, strlen(text), &hit,
	                     &err),
	    ERR_INVALID);
	assert_int_equal(hit.line, 3);
	scanner_free(allow);

	free(text);
	text = xasprintf("GH = \"%s\"\n", tok);
	list[0] = fp;
	assert_int_equal(scanner_new(&allow, NULL, 0, list, 1, &err), 0);
	assert_int_equal(scanner_scan(allow, "y.py", text, strlen(text), &hit,
	                     &err),
	    0);
	scanner_free(allow);
	free(text);
	free(tok);
	scanner_free(sc);
}

static void
test_extra_patterns(void **state)
{
	const char *pats[] = { "internal_[0-9a-f]{16}",
		"corp-(?<secret>[A-Z]{4}[0-9]{4})", "(" };
	struct scanner *sc = NULL;
	struct scan_hit hit;
	struct error err = { 0 };
	const char *text = "x = 1\nkey = internal_0123456789abcdef\n"
	                   "y = corp-ABCD1234\n";
	char hex[UTIL_SHA256_HEX], want[32];
	const char *rest;

	(void)state;
	assert_int_equal(scanner_new(&sc, pats, 2, NULL, 0, &err), 0);
	assert_int_equal(scanner_scan(sc, "c.txt", text, strlen(text), &hit,
	                     &err),
	    ERR_INVALID);
	assert_string_equal(hit.rule, "custom-1");
	assert_int_equal(hit.line, 2);
	/* The named group is what is fingerprinted. */
	rest = strstr(text, "y = corp");
	assert_int_equal(scanner_scan(sc, "c.txt", rest, strlen(rest), &hit,
	                     &err),
	    ERR_INVALID);
	assert_string_equal(hit.rule, "custom-2");
	util_sha256_hex(hex, "ABCD1234", 8);
	snprintf(want, sizeof(want), "\xe2\x80\xa6:%.12s", hex);
	assert_string_equal(hit.fingerprint, want);
	scanner_free(sc);

	/* A pattern that does not compile is refused, by name. */
	sc = NULL;
	assert_int_equal(scanner_new(&sc, pats, 3, NULL, 0, &err), ERR_INVALID);
	assert_null(sc);
	assert_non_null(strstr(err.msg, "custom-3"));
	assert_non_null(strstr(err.msg, "\"(\""));
}

static void
test_line_numbers_and_order(void **state)
{
	struct scanner *sc = new_scanner();
	struct scan_hit hit;
	struct error err = { 0 };
	const char *rest;
	int hits = 0;
	/* CRLF lines, the JWT first in the text of a later rule, and no
	 * newline at the end. */
	const char *text =
	    "a = 1\r\nb = 2\r\nkid = AKIAQ7W2ER4TY6UIOPLK\r\n\r\n"
	    "s = eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjb3JwdXMifQ."
	    "k3Jd8sP2qLm9Zx7Vb4Nc1Tr6Yw";

	(void)state;
	assert_int_equal(scanner_scan(sc, "o.txt", text, strlen(text), &hit,
	                     &err),
	    ERR_INVALID);
	assert_string_equal(hit.rule, "aws-access-key-id");
	assert_int_equal(hit.line, 3);
	/* From the blank line on: the JWT alone, on line 2. */
	rest = strstr(text, "\r\n\r\n") + 2;
	assert_int_equal(scanner_scan(sc, "o.txt", rest, strlen(rest), &hit,
	                     &err),
	    ERR_INVALID);
	assert_string_equal(hit.rule, "jwt");
	assert_int_equal(hit.line, 2);
	assert_int_equal(scanner_scan_all(sc, "o.txt", text, strlen(text),
	                     count_hit, &hits, &err),
	    ERR_INVALID);
	assert_int_equal(hits, 2);
	/* err names the first hit. */
	assert_non_null(strstr(err.msg, "rule=aws-access-key-id"));
	scanner_free(sc);
}

static void
test_specific_rule_wins(void **state)
{
	struct scanner *sc = new_scanner();
	struct scan_hit hit;
	struct error err = { 0 };
	int hits = 0;
	char *text = xasprintf("STRIPE_API_KEY = \"sk_live_%s\"\n",
	    "4eC39HqLyjWDarjtT1zdp7dc");

	(void)state;
	assert_int_equal(scanner_scan(sc, "s.py", text, strlen(text), &hit,
	                     &err),
	    ERR_INVALID);
	assert_string_equal(hit.rule, "stripe-live-key");
	assert_int_equal(scanner_scan_all(sc, "s.py", text, strlen(text),
	                     count_hit, &hits, &err),
	    ERR_INVALID);
	assert_int_equal(hits, 1);
	free(text);
	scanner_free(sc);
}

static int
stop_at_first(const struct scan_hit *hit, void *arg)
{
	(void)hit;
	(void)arg;
	return ERR_FAIL;
}

static void
test_empty_binary_and_callback_stop(void **state)
{
	struct scanner *sc = new_scanner();
	struct scan_hit hit;
	struct error err = { 0 };
	unsigned char bin[4096];
	char *tok = fake_ghp(), *text;
	size_t i;

	(void)state;
	assert_int_equal(scanner_scan(sc, "e", "", 0, &hit, &err), 0);
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)((i * 2654435761u) >> 13);
	assert_int_equal(scanner_scan(sc, "b.bin", (const char *)bin,
	                     sizeof(bin), &hit, &err),
	    0);
	/* A secret after a NUL byte is still found. */
	text = xmalloc(strlen(tok) + 8);
	memcpy(text, "x\0y\n", 4);
	memcpy(text + 4, tok, strlen(tok) + 1);
	assert_int_equal(scanner_scan(sc, "n.bin", text, 4 + strlen(tok), &hit,
	                     &err),
	    ERR_INVALID);
	assert_int_equal(hit.line, 2);
	assert_int_equal(scanner_scan_all(sc, "n.bin", text, 4 + strlen(tok),
	                     stop_at_first, NULL, &err),
	    ERR_FAIL);
	free(text);
	free(tok);
	scanner_free(sc);
}

static void
test_match_limit_fails_closed(void **state)
{
	/* Catastrophic backtracking in an operator's pattern: the scan
	 * must fail, not pass the file as clean. */
	const char *pats[] = { "(a|aa)+\\b" };
	struct scanner *sc = NULL;
	struct scan_hit hit;
	struct error err = { 0 };
	char text[64];

	(void)state;
	memset(text, 'a', sizeof(text) - 2);
	text[sizeof(text) - 2] = 'c';
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(scanner_new(&sc, pats, 1, NULL, 0, &err), 0);
	assert_int_equal(scanner_scan(sc, "slow.txt", text, strlen(text), &hit,
	                     &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "SCAN_FAILED");
	assert_string_equal(hit.rule, "custom-1");
	assert_string_equal(hit.file, "slow.txt");
	assert_int_equal(hit.line, 0);
	assert_non_null(strstr(err.msg, "custom-1"));
	assert_non_null(strstr(err.msg, "slow.txt"));
	scanner_free(sc);
}

struct thread_arg {
	struct scanner *sc;
	const char *text;
	size_t len;
	int bad;
};

static void *
scan_thread(void *p)
{
	struct thread_arg *a = p;
	struct scan_hit hit;
	struct error err;
	int i;

	for (i = 0; i < 200; i++) {
		memset(&err, 0, sizeof(err));
		if (scanner_scan(a->sc, "t.py", a->text, a->len, &hit, &err) !=
		        ERR_INVALID ||
		    strcmp(hit.rule, "github-pat") != 0 || hit.line != 3)
			a->bad++;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct scanner *sc = new_scanner();
	struct thread_arg args[4];
	pthread_t th[4];
	char *tok = fake_ghp();
	char *text = xasprintf("import os\n\ntoken = \"%s\"\n", tok);
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ sc, text, strlen(text), 0 };
		assert_int_equal(pthread_create(&th[i], NULL, scan_thread,
		                     &args[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].bad, 0);
	}
	free(text);
	free(tok);
	scanner_free(sc);
}

/* gitleaks' marker silences the hits of its own line, and only those. */
static void
test_gitleaks_allow(void **state)
{
	struct scanner *sc = new_scanner();
	char *tok = fake_ghp(), *text;
	struct scan_hit hit;
	struct error err = { 0 };
	int hits = 0;

	(void)state;
	text = xasprintf("GH = \"%s\"  # gitleaks:allow\n", tok);
	assert_int_equal(scanner_scan(sc, "a.py", text, strlen(text), &hit,
	                     &err),
	    0);
	free(text);
	/* On the line before: not the hit's line. */
	text = xasprintf("# gitleaks:allow\nGH = \"%s\"\n", tok);
	assert_int_equal(scanner_scan(sc, "a.py", text, strlen(text), &hit,
	                     &err),
	    ERR_INVALID);
	assert_int_equal(hit.line, 2);
	free(text);
	/* Two secrets, one allowed: the other is still reported. */
	text = xasprintf("A = \"%s\"  // gitleaks:allow\n"
	                 "B = \"AKIAQ7W2ER4TY6UIOPLK\"\n",
	    tok);
	assert_int_equal(scanner_scan_all(sc, "b.js", text, strlen(text),
	                     count_hit, &hits, &err),
	    ERR_INVALID);
	assert_int_equal(hits, 1);
	assert_non_null(strstr(err.msg, "aws-access-key-id"));
	free(text);
	free(tok);
	scanner_free(sc);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A .gitleaksignore-style file: gitleaks' fingerprints (with and without
 * the commit) and ours; anything else refuses the scanner. */
static void
test_ignore_file(void **state)
{
	struct scanner_options o = { 0 };
	struct scanner *sc = NULL, *plain = new_scanner();
	char *path = xasprintf("%s/.gitleaksignore", runtime_dir);
	char *tok = fake_ghp(), *text, *ign, hexfp[24];
	struct scan_hit hit;
	struct error err = { 0 };
	int hits = 0;

	(void)state;
	text = xasprintf("A = \"%s\"\nB = \"AKIAQ7W2ER4TY6UIOPLK\"\n"
	                 "C = \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\n",
	    tok);
	/* Our fingerprint of C, from a scan without the file. */
	assert_int_equal(scanner_scan(plain, "src/app.py", strstr(text, "C = "),
	                     strlen(strstr(text, "C = ")), &hit, &err),
	    ERR_INVALID);
	snprintf(hexfp, sizeof(hexfp), "%s", hit.fingerprint);
	ign = xasprintf("# gitleaks' own form, no-git and git mode\n"
	                "src/app.py:github-pat:1\n\n"
	                "0123456789abcdef0123456789abcdef01234567:src/app.py:"
	                "aws-access-key-id:2\n"
	                "  %s  \n",
	    hexfp);
	write_file(path, ign);
	o.ignore_file = path;
	assert_int_equal(scanner_new_opts(&sc, &o, &err), 0);
	assert_int_equal(scanner_scan_all(sc, "src/app.py", text, strlen(text),
	                     count_hit, &hits, &err),
	    0);
	assert_int_equal(hits, 0);
	/* Another file or line: reported. */
	assert_int_equal(scanner_scan(sc, "src/other.py", text, strlen(text),
	                     &hit, &err),
	    ERR_INVALID);
	assert_string_equal(hit.rule, "github-pat");
	scanner_free(sc);
	sc = NULL;
	/* A line that is neither form refuses the file, naming the line. */
	write_file(path, "src/app.py:github-pat:1\nnot an entry\n");
	assert_int_equal(scanner_new_opts(&sc, &o, &err), ERR_INVALID);
	assert_string_equal(err.code, "INVALID_CONFIG");
	assert_non_null(strstr(err.msg, "line 2"));
	assert_null(sc);
	o.ignore_file = "/nonexistent/.gitleaksignore";
	assert_int_equal(scanner_new_opts(&sc, &o, &err), ERR_INVALID);
	unlink(path);
	free(ign);
	free(text);
	free(tok);
	free(path);
	scanner_free(plain);
}

/* Does the tab-separated file have a row whose second column is rule? */
static bool
tsv_has_rule(const char *tsv, const char *rule)
{
	const char *p = tsv;
	size_t n = strlen(rule);

	while ((p = strchr(p, '\t')) != NULL) {
		p++;
		if (strncmp(p, rule, n) == 0 && (p[n] == '\t' || p[n] == '\n'))
			return true;
	}
	return false;
}

/* Every built-in rule has a positive and a look-alike; the summary line
 * of the corpus runs (which ran before) is printed here. */
static void
test_rule_coverage(void **state)
{
	char *p1 = corpus_path("planted.tsv"), *p2, *p3;
	char *t1, *t2, *t3;
	size_t len, i, nrules = 0, bad = 0;
	const char *id;

	(void)state;
	p2 = xasprintf("%s/planted.tsv", runtime_dir);
	p3 = corpus_path("lookalike.tsv");
	t1 = read_all(p1, &len);
	t2 = read_all(p2, &len);
	t3 = read_all(p3, &len);
	for (i = 0; (id = scanner_rule_id(i)) != NULL; i++) {
		if (i > 0 && strcmp(id, scanner_rule_id(i - 1)) == 0)
			continue; /* the unquoted twin of a rule */
		nrules++;
		if (!tsv_has_rule(t1, id) && !tsv_has_rule(t2, id)) {
			print_message("NO POSITIVE for rule %s\n", id);
			bad++;
		}
		if (!tsv_has_rule(t3, id)) {
			print_message("NO LOOK-ALIKE for rule %s\n", id);
			bad++;
		}
	}
	print_message("scanner: %zu rules, recall %zu/%zu, false positives "
	              "%zu/%zu\n",
	    nrules, n_caught, n_planted, n_false, n_lookalikes);
	assert_true(nrules >= 180);
	assert_int_equal(bad, 0);
	free(t1);
	free(t2);
	free(t3);
	free(p1);
	free(p2);
	free(p3);
}

/* Write the test-time corpus with the generator the committed half came
 * from (same seed: the same secrets every run). */
static int
setup_runtime_corpus(void **state)
{
	char *script = corpus_path("make_corpus.py"), *cmd;
	int rc;

	(void)state;
	if (mkdtemp(runtime_dir) == NULL)
		return -1;
	cmd = xasprintf("/usr/bin/python3 '%s' --runtime '%s'", script,
	    runtime_dir);
	rc = system(cmd);
	free(cmd);
	free(script);
	return rc == 0 ? 0 : -1;
}

static int
teardown_runtime_corpus(void **state)
{
	char *dir = xasprintf("%s/planted", runtime_dir), *path;
	struct dirent *de;
	DIR *d;

	(void)state;
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			path = xasprintf("%s/%s", dir, de->d_name);
			unlink(path);
			free(path);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
	path = xasprintf("%s/planted.tsv", runtime_dir);
	unlink(path);
	free(path);
	return rmdir(runtime_dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_planted),
		cmocka_unit_test(test_corpus_lookalikes),
		cmocka_unit_test(test_rule_coverage),
		cmocka_unit_test(test_inline_markers_not_honoured),
		cmocka_unit_test(test_gitleaks_allow),
		cmocka_unit_test(test_ignore_file),
		cmocka_unit_test(test_fingerprint_format),
		cmocka_unit_test(test_allowed_fingerprints),
		cmocka_unit_test(test_extra_patterns),
		cmocka_unit_test(test_line_numbers_and_order),
		cmocka_unit_test(test_specific_rule_wins),
		cmocka_unit_test(test_empty_binary_and_callback_stop),
		cmocka_unit_test(test_match_limit_fails_closed),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup_runtime_corpus,
	    teardown_runtime_corpus);
}
