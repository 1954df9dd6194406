/*
 * store_bench.c - scenario 1 and 5 of bench/run: commits straight through
 * the store library, no bus, no daemon.
 *
 * Each commit writes the seed's artifact set (strategy.py, test_report.json,
 * trades.csv, equity_curve.csv, events.log; the store adds metadata.json),
 * about 180 KiB of text that is unique per commit so that no blob is shared
 * with an earlier one, to its own task branch, with a correlation tag and a
 * prompt tag, exactly as the daemon's TEST_PASSED handler would. It prints
 * one JSON object on stdout: commits/s over the timed commits and the
 * latency percentiles of single store_commit() calls. The content is
 * generated before the clock starts, so only the store is measured.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/scan.h"
#include "store/store.h"

/* Sizes of the five files, in bytes: 40+40+40+30+30 KiB = 180 KiB, the
 * seed's artifact set as measured in research/store.md 5.1. */
static const struct {
	const char *name;
	size_t size;
} store_bench_files[] = {
	{ "strategy.py", 40 * 1024 },
	{ "test_report.json", 40 * 1024 },
	{ "trades.csv", 40 * 1024 },
	{ "equity_curve.csv", 30 * 1024 },
	{ "events.log", 30 * 1024 },
};
#define STORE_BENCH_NFILES \
	(sizeof(store_bench_files) / sizeof(store_bench_files[0]))

/* No run needs more; it bounds the memory of pre-generated content
 * (180 KiB each, so at most 1.8 GB). */
#define STORE_BENCH_MAX_COMMITS 10000

struct store_bench_commit {
	char *data[STORE_BENCH_NFILES];
	size_t len[STORE_BENCH_NFILES];
	char event_id[64];
	char task_id[64];
	char corr_id[64];
	char prompt_hash[32];
};

static void
store_bench_usage(void)
{
	fprintf(stderr,
	    "usage: store_bench --repo DIR [--commits N] [--warmup N]\n"
	    "                   [--run-id ID] [--no-scan] [--signing-key "
	    "FILE]\n");
	exit(2);
}

static double
store_bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One line of plausible text for file kind k, commit c, line l: numbers
 * and words only, so the secret scanner has nothing to report but still
 * reads every byte. */
static int
store_bench_line(struct buf *b, size_t k, long c, long l)
{
	double px = 100.0 + (double)((c * 7919 + l * 104729) % 10000) / 100.0;

	switch (k) {
	case 0:
		return buf_printf(b,
		    "def signal_%ld_%ld(prices, window=%ld):\n"
		    "    return sum(prices[-window:]) / window  # %.2f\n",
		    c, l, 5 + l % 50, px);
	case 1:
		return buf_printf(b,
		    "{\"case\": \"test_%ld_%ld\", \"passed\": true, "
		    "\"duration\": %.3f},\n",
		    c, l, px / 1000.0);
	case 2:
		return buf_printf(b,
		    "%ld,2025-11-07T14:%02ld:%02ldZ,%s,%.2f,%ld\n", l,
		    (l / 60) % 60, l % 60, l % 2 ? "BUY" : "SELL", px,
		    c % 1000);
	case 3:
		return buf_printf(b, "2025-11-07T14:%02ld:%02ldZ,%.4f,%ld\n",
		    (l / 60) % 60, l % 60, px * 100.0, c);
	default:
		return buf_printf(b,
		    "2025-11-07T14:30:00Z INFO run=%ld step=%ld equity=%.2f\n",
		    c, l, px * 10.0);
	}
}

static void
store_bench_generate(struct store_bench_commit *bc, const char *run_id, long c)
{
	char hex[UTIL_SHA256_HEX];
	struct buf b;
	size_t k;
	long l;

	for (k = 0; k < STORE_BENCH_NFILES; k++) {
		/* Lines are short; 1 KiB of slack bounds the last one. */
		buf_init(&b, store_bench_files[k].size + 1024);
		for (l = 0; b.len < store_bench_files[k].size; l++)
			if (store_bench_line(&b, k, c, l) < 0)
				break;
		bc->data[k] = buf_detach(&b, &bc->len[k]);
	}
	snprintf(bc->event_id, sizeof(bc->event_id), "bench-%s-%ld", run_id, c);
	snprintf(bc->task_id, sizeof(bc->task_id), "task_%s_%06ld", run_id, c);
	snprintf(bc->corr_id, sizeof(bc->corr_id), "c%s_%ld", run_id, c);
	/* Unique per run and commit: a prompt tag is never moved, so a
	 * repeated hash would make the second tag an "existing" one. */
	util_sha256_hex(hex, bc->event_id, strlen(bc->event_id));
	snprintf(bc->prompt_hash, sizeof(bc->prompt_hash), "%.16s", hex);
}

static int
store_bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
store_bench_pct(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0.0;
	i = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > n)
		i = n;
	return v[i - 1];
}

static int
store_bench_commit_one(struct store *st, const struct store_bench_commit *bc,
    struct error *err)
{
	struct store_file files[STORE_BENCH_NFILES];
	struct store_commit_req req;
	struct store_commit_result res;
	size_t k;
	int rc;

	for (k = 0; k < STORE_BENCH_NFILES; k++) {
		files[k].name = store_bench_files[k].name;
		files[k].data = bc->data[k];
		files[k].len = bc->len[k];
	}
	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	req.event_id = bc->event_id;
	req.workflow_id = "wf_bench";
	req.task_id = bc->task_id;
	req.correlation_id = bc->corr_id;
	req.prompt_hash = bc->prompt_hash;
	req.agent_version = "bench-v1";
	req.llm_version = "none";
	req.files = files;
	req.nfiles = STORE_BENCH_NFILES;
	rc = store_commit(st, &req, &res, err);
	if (rc == 0 && res.duplicate)
		rc = error_set(err, ERR_FAIL, "BENCH",
		    "commit %s was a duplicate: the repository is not fresh",
		    bc->event_id);
	store_commit_result_dispose(&res);
	return rc;
}

int
main(int argc, char **argv)
{
	struct store_opts opts;
	struct error err;
	struct store *st = NULL;
	struct scanner *sc = NULL;
	struct store_bench_commit *bcs = NULL;
	double *lat = NULL, t0, t1, total;
	const char *repo = NULL, *run_id = "r0", *key = NULL;
	long long ncommits = 200, nwarm = 10, n, i, j;
	int scan = 1, status = 1;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--repo") == 0 && i + 1 < argc)
			repo = argv[++i];
		else if (strcmp(argv[i], "--commits") == 0 && i + 1 < argc)
			ncommits = atoll(argv[++i]);
		else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
			nwarm = atoll(argv[++i]);
		else if (strcmp(argv[i], "--run-id") == 0 && i + 1 < argc)
			run_id = argv[++i];
		else if (strcmp(argv[i], "--no-scan") == 0)
			scan = 0;
		else if (strcmp(argv[i], "--signing-key") == 0 && i + 1 < argc)
			key = argv[++i]; /* signed commits + provenance */
		else
			store_bench_usage();
	}
	if (repo == NULL || ncommits < 1 || nwarm < 0 ||
	    ncommits + nwarm > STORE_BENCH_MAX_COMMITS)
		store_bench_usage();
	log_init(LOG_LEVEL_WARN, false);
	error_clear(&err);

	n = ncommits + nwarm;
	bcs = xcalloc((size_t)n, sizeof(*bcs));
	lat = xcalloc((size_t)ncommits, sizeof(*lat));
	for (i = 0; i < n; i++)
		store_bench_generate(&bcs[i], run_id, (long)i);

	if (scan && scanner_new(&sc, NULL, 0, NULL, 0, &err) < 0) {
		fprintf(stderr, "store_bench: scanner: %s\n", err.msg);
		goto out;
	}
	memset(&opts, 0, sizeof(opts));
	opts.repo_path = repo;
	opts.remote_name = "origin";
	opts.base_branch = "main";
	opts.branch_prefix = "ai/generated";
	opts.path_template = "Backtest/codes/{task_id}";
	opts.author_name = "algo-agent-bot";
	opts.author_email = "algo-agent@example.com";
	opts.include_metadata = true;
	opts.metadata_filename = "metadata.json";
	opts.push_timeout_s = 30;
	opts.scan_for_secrets = scan != 0;
	opts.scanner = sc;
	opts.require_correlation_id = true;
	opts.signing_key = key;
	if (store_open(&st, &opts, &err) < 0) {
		fprintf(stderr, "store_bench: open %s: %s\n", repo, err.msg);
		goto out;
	}

	for (i = 0; i < nwarm; i++)
		if (store_bench_commit_one(st, &bcs[i], &err) < 0) {
			fprintf(stderr, "store_bench: warm-up commit: %s %s\n",
			    err.code, err.msg);
			goto out;
		}
	total = 0.0;
	for (j = 0; j < ncommits; j++) {
		t0 = store_bench_now();
		if (store_bench_commit_one(st, &bcs[nwarm + j], &err) < 0) {
			fprintf(stderr, "store_bench: commit %lld: %s %s\n", j,
			    err.code, err.msg);
			goto out;
		}
		t1 = store_bench_now();
		lat[j] = (t1 - t0) * 1000.0;
		total += t1 - t0;
	}
	qsort(lat, (size_t)ncommits, sizeof(*lat), store_bench_cmp_double);
	printf(
	    "{\"commits\": %lld, \"seconds\": %.6f, \"commits_per_s\": %.2f, "
	    "\"scan\": %s, \"signed\": %s, \"lat_ms\": {\"p50\": %.3f, "
	    "\"p95\": %.3f, "
	    "\"p99\": %.3f, \"max\": %.3f}}\n",
	    ncommits, total, (double)ncommits / total, scan ? "true" : "false",
	    key ? "true" : "false", store_bench_pct(lat, (size_t)ncommits, 50),
	    store_bench_pct(lat, (size_t)ncommits, 95),
	    store_bench_pct(lat, (size_t)ncommits, 99), lat[ncommits - 1]);
	status = 0;
out:
	store_free(st);
	scanner_free(sc);
	if (bcs != NULL)
		for (i = 0; i < n; i++)
			for (k = 0; k < STORE_BENCH_NFILES; k++)
				free(bcs[i].data[k]);
	free(bcs);
	free(lat);
	return status;
}
