/*
 * scan_fuzzer.c - the secret scanner on arbitrary bytes.
 *
 * Beyond "no crash, no sanitizer report", it checks what callers rely
 * on: the result is clean, SECRET_DETECTED or SCAN_FAILED; a hit has a
 * rule, a line inside the buffer and a well-formed fingerprint; and
 * scanner_scan reports the same first hit as scanner_scan_all. The
 * scanner carries one extra pattern and one allowed fingerprint so those
 * paths run too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzzer.h"
#include "store/scan.h"

static struct scanner *fuzz_sc;

struct fuzz_all {
	unsigned lines;
	size_t n;
	struct scan_hit first;
};

static void
fuzz_check_hit(const struct scan_hit *hit, unsigned lines)
{
	const char *colon = strstr(hit->fingerprint, "\xe2\x80\xa6:");

	if (hit->rule[0] == '\0' || hit->line < 1 || hit->line > lines ||
	    colon == NULL || strlen(colon + 4) != 12 ||
	    colon - hit->fingerprint > 4) {
		fprintf(stderr, "bad hit: rule=%s line=%u/%u fp=%s\n",
		    hit->rule, hit->line, lines, hit->fingerprint);
		abort();
	}
}

static int
fuzz_on_hit(const struct scan_hit *hit, void *arg)
{
	struct fuzz_all *all = arg;

	fuzz_check_hit(hit, all->lines);
	if (all->n++ == 0)
		all->first = *hit;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const extra[] = { "fuzz-(?<secret>[0-9a-f]{8})" };
	static const char *const allow[] = { "0123456789ab" };
	const char *p = (const char *)data;
	struct fuzz_all all;
	struct error err = { 0 }, err2 = { 0 };
	struct scan_hit hit;
	size_t i;
	int rc, rc2;

	memset(&all, 0, sizeof(all));
	all.lines = 1;
	if (fuzz_sc == NULL &&
	    scanner_new(&fuzz_sc, extra, 1, allow, 1, &err) < 0) {
		fprintf(stderr, "scanner_new: %s\n", err.msg);
		abort();
	}
	for (i = 0; i < size; i++)
		if (p[i] == '\n')
			all.lines++;
	rc = scanner_scan(fuzz_sc, "fuzz.txt", p, size, &hit, &err);
	if (rc != 0 &&
	    !(rc == ERR_INVALID && (strcmp(err.code, "SECRET_DETECTED") == 0 ||
	                               strcmp(err.code, "SCAN_FAILED") == 0)))
		abort();
	rc2 = scanner_scan_all(fuzz_sc, "fuzz.txt", p, size, fuzz_on_hit, &all,
	    &err2);
	if (rc == 0 && (rc2 != 0 || all.n != 0))
		abort();
	/* scan_all goes on after the first hit, so only a complete run of
	 * it can be compared. */
	if (rc < 0 && strcmp(err.code, "SECRET_DETECTED") == 0 &&
	    strcmp(err2.code, "SECRET_DETECTED") == 0) {
		fuzz_check_hit(&hit, all.lines);
		if (all.n == 0 || strcmp(all.first.rule, hit.rule) != 0 ||
		    all.first.line != hit.line ||
		    strcmp(all.first.fingerprint, hit.fingerprint) != 0 ||
		    strcmp(err.msg, err2.msg) != 0) {
			fprintf(stderr, "scan and scan_all disagree: %s / %s\n",
			    err.msg, err2.msg);
			abort();
		}
	}
	return 0;
}
