/*
 * test_sigv4_aws.c - the AWS side of the publishers: settings, region and
 * endpoint resolution, the credential chain's local steps, the XML reader,
 * and the s3 / codeartifact set-up checks (all without I/O).
 *
 * Run as `test_sigv4_aws --publish TYPE [--dry-run] [--package P
 * --version V] [-s key=value]... FILE...` it is a small driver that runs
 * one publisher (begin, upload per file, finish) the way the release core
 * does and prints one JSON line per file; the integration tests
 * (tests/integration/test_s3_*, test_codeartifact_*) use it against
 * s3rver and the CodeArtifact fake on loopback.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/aws_creds.h"
#include "publishers/digest.h"
#include "publishers/dist.h"
#include "publishers/http.h"
#include "publishers/publisher.h"

/* The environment settings the settings table would hand over. */
static struct publish_env E;
/* A target without AWS keys of its own: only the environment's. */
static struct aws_settings S = { .env = &E };

extern const struct publisher_ops s3_publisher;
extern const struct publisher_ops codeartifact_publisher;

static const char *const aws_vars[] = { "AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_ACCESS_KEY_ID_FILE", "AWS_SECRET_ACCESS_KEY_FILE",
	"AWS_SESSION_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_REGION",
	"AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
	"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_CODEARTIFACT",
	"S3_WHEELS_BUCKET", "CODEARTIFACT_DOMAIN", "CODEARTIFACT_ACCOUNT_ID",
	"CODEARTIFACT_REPOSITORY", NULL };

static int
clean_env(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; aws_vars[i] != NULL; i++)
		unsetenv(aws_vars[i]);
	memset(&E, 0, sizeof(E));
	return 0;
}

static void
test_xml_text(void **state)
{
	char *v;

	(void)state;
	v = aws_xml_text("<a><Code>NoSuchUpload</Code><Message>x &amp; "
	                 "&lt;y&gt; &quot;z&apos;</Message></a>",
	    "Message");
	assert_string_equal(v, "x & <y> \"z'");
	free(v);
	v = aws_xml_text("<UploadId>abc</UploadId>", "UploadId");
	assert_string_equal(v, "abc");
	free(v);
	assert_null(aws_xml_text("<UploadId>abc", "UploadId"));
	assert_null(aws_xml_text("", "Code"));
}

static void
test_region(void **state)
{
	struct error err;
	char *r = NULL;

	(void)state;
	assert_int_equal(aws_region_resolve(&r, NULL, &E, &err), ERR_INVALID);
	E.aws_default_region = "eu-west-1";
	assert_int_equal(aws_region_resolve(&r, NULL, &E, &err), 0);
	assert_string_equal(r, "eu-west-1");
	free(r);
	E.aws_region = "us-west-2";
	assert_int_equal(aws_region_resolve(&r, NULL, &E, &err), 0);
	assert_string_equal(r, "us-west-2"); /* AWS_REGION wins */
	free(r);
	assert_int_equal(aws_region_resolve(&r, "ap-south-1", &E, &err), 0);
	assert_string_equal(r, "ap-south-1"); /* the target wins */
	free(r);
	assert_int_equal(aws_region_resolve(&r, "US East", &E, &err),
	    ERR_INVALID);
}

static void
test_endpoint(void **state)
{
	struct error err;
	char *e = NULL;

	(void)state;
	assert_int_equal(aws_endpoint_resolve(&e, NULL, &E, "S3", "s3",
	                     "eu-west-1", &err),
	    0);
	assert_string_equal(e, "https://s3.eu-west-1.amazonaws.com");
	free(e);
	E.aws_endpoint_url = "http://127.0.0.1:4000/";
	assert_int_equal(aws_endpoint_resolve(&e, NULL, &E, "S3", "s3",
	                     "eu-west-1", &err),
	    0);
	assert_string_equal(e, "http://127.0.0.1:4000");
	free(e);
	E.aws_endpoint_url_s3 = "http://localhost:5000";
	assert_int_equal(aws_endpoint_resolve(&e, NULL, &E, "S3", "s3",
	                     "eu-west-1", &err),
	    0);
	assert_string_equal(e, "http://localhost:5000");
	free(e);
	/* Plain http only to loopback, no path. */
	assert_int_equal(aws_endpoint_resolve(&e, "http://s3.example.com", &E,
	                     "S3", "s3", "eu-west-1", &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "CONFIG");
	assert_int_equal(aws_endpoint_resolve(&e, "https://h/x", &E, "S3", "s3",
	                     "eu-west-1", &err),
	    ERR_INVALID);
}

static void
test_env_and_file(void **state)
{
	struct aws_credentials c;
	struct error err;

	(void)state;
	/* Nothing configured: AUTH, and the message names the variables. */
	assert_int_equal(aws_credentials_resolve(&c, &S, &err), ERR_FAIL);
	assert_string_equal(err.code, "AUTH");
	/* Half a pair is an error, not a fall-through. */
	E.aws_access_key_id = "AKIDONLY";
	assert_int_equal(aws_credentials_resolve(&c, &S, &err), ERR_FAIL);
	assert_null(strstr(err.msg, "AKIDONLY"));
	/* Completed by the other half (the settings table read it, from
	 * AWS_SECRET_ACCESS_KEY or its _FILE: test_config). */
	E.aws_secret_access_key = "s3cr3t/Key+";
	E.aws_session_token = "tok";
	assert_int_equal(aws_credentials_resolve(&c, &S, &err), 0);
	assert_string_equal(c.access_key_id, "AKIDONLY");
	assert_string_equal(c.secret_access_key, "s3cr3t/Key+");
	assert_string_equal(c.session_token, "tok");
	assert_string_equal(c.source, "env");
	assert_false(aws_credentials_stale(&c, util_now_ms()));
	aws_credentials_dispose(&c);
}

static void
test_target_keys_win(void **state)
{
	const char *keys[] = { "access_key_id", "secret_access_key" };
	const char *vals[] = { "AKIDTARGET", "targetsecret" };
	struct publish_target t = { "t", "s3", keys, vals, 2, &E };
	struct aws_settings s;
	struct aws_credentials c;
	struct error err;

	(void)state;
	E.aws_access_key_id = "AKIDENV";
	E.aws_secret_access_key = "envsecret";
	aws_settings_load(&s, &t);
	assert_int_equal(aws_credentials_resolve(&c, &s, &err), 0);
	assert_string_equal(c.access_key_id, "AKIDTARGET");
	assert_string_equal(c.source, "target");
	aws_credentials_dispose(&c);
	aws_settings_dispose(&s);
}

static void
test_stale(void **state)
{
	struct aws_credentials c = { 0 };

	(void)state;
	c.expires_ms = 1000000;
	assert_true(aws_credentials_stale(&c, 1000000 - 60 * 1000));
	assert_false(aws_credentials_stale(&c, 1000000 - 3600 * 1000));
	c.expires_ms = 0;
	assert_false(aws_credentials_stale(&c, 1));
}

static void
test_web_identity_bad_settings(void **state)
{
	struct aws_credentials c;
	struct error err;

	(void)state;
	/* A token file that does not exist fails as AUTH before any call,
	 * and an STS endpoint on plain http off loopback is refused. */
	E.aws_role_arn = "arn:aws:iam::111122223333:role/r";
	E.aws_web_identity_token_file = "/nonexistent/token";
	assert_int_equal(aws_credentials_resolve(&c, &S, &err), ERR_FAIL);
	assert_string_equal(err.code, "AUTH");
	assert_non_null(strstr(err.msg, "/nonexistent/token"));
}

static void
test_s3_begin_checks(void **state)
{
	const char *keys[] = { "bucket", "access_key_id", "secret_access_key",
		"endpoint", "part_size" };
	const char *vals[] = { "Bad Bucket!", "AKID", "secret",
		"http://127.0.0.1:1", "1M" };
	struct publish_target t = { "s3t", "s3", keys, vals, 4, &E };
	struct publish_release rel = { "v1.0.0", "pkg", "1.0.0", false };
	struct error err;
	void *st = NULL;

	(void)state;
	assert_int_equal(s3_publisher.begin(&st, &t, &rel, &err), ERR_INVALID);
	assert_string_equal(err.code, "CONFIG");
	vals[0] = "my-bucket";
	t.n = 5; /* part_size below S3's 5 MiB minimum */
	assert_int_equal(s3_publisher.begin(&st, &t, &rel, &err), ERR_INVALID);
	t.n = 4;
	vals[3] = "http://s3.example.com"; /* plain http off loopback */
	assert_int_equal(s3_publisher.begin(&st, &t, &rel, &err), ERR_INVALID);
	vals[3] = "http://127.0.0.1:1";
	assert_int_equal(s3_publisher.begin(&st, &t, &rel, &err), 0);
	assert_non_null(st);
	s3_publisher.state_free(st);
	/* The bucket from S3_WHEELS_BUCKET (seed 001) when not set. */
	keys[0] = "prefix";
	vals[0] = "wheels";
	E.s3_wheels_bucket = "seed-bucket";
	st = NULL;
	assert_int_equal(s3_publisher.begin(&st, &t, &rel, &err), 0);
	s3_publisher.state_free(st);
	keys[0] = "bucket";
}

static void
test_s3_dry_run_urls(void **state)
{
	const char *keys[] = { "bucket", "access_key_id", "secret_access_key",
		"region", "path_style" };
	const char *vals[] = { "my-bucket", "AKID", "secret", "eu-west-1",
		"false" };
	struct publish_target t = { "s3t", "s3", keys, vals, 4, &E };
	struct publish_release rel = { "v1.0.0", "pkg", "1.0.0", true };
	struct publish_file f = { .fd = -1,
		.filename = "a b+c-1.0.0.tar.gz",
		.size = 10 };
	struct publish_outcome out;
	struct error err;
	void *st = NULL;

	(void)state;
	memset(f.sha256, 'a', 64);
	/* AWS: virtual-hosted style, key under wheels/<package>/<version>/,
	 * encoded once. */
	assert_int_equal(s3_publisher.begin(&st, &t, &rel, &err), 0);
	assert_int_equal(s3_publisher.upload(st, &t, &rel, &f, &out, &err), 0);
	assert_int_equal(out.status, PUBLISH_DRY_RUN);
	assert_string_equal(out.url,
	    "https://my-bucket.s3.eu-west-1."
	    "amazonaws.com/wheels/pkg/1.0.0/a%20b%2Bc-1.0.0.tar.gz");
	s3_publisher.state_free(st);
	/* A dotted bucket cannot be a TLS host name: path style. */
	vals[0] = "my.dotted.bucket";
	assert_int_equal(s3_publisher.begin(&st, &t, &rel, &err), 0);
	assert_int_equal(s3_publisher.upload(st, &t, &rel, &f, &out, &err), 0);
	assert_string_equal(out.url, "https://s3.eu-west-1.amazonaws.com/"
	                             "my.dotted.bucket/wheels/pkg/1.0.0/"
	                             "a%20b%2Bc-1.0.0.tar.gz");
	s3_publisher.state_free(st);
	/* Explicit path style, and an empty prefix via AWS_ENDPOINT_URL_S3. */
	vals[0] = "my-bucket";
	t.n = 5;
	vals[4] = "true";
	E.aws_endpoint_url_s3 = "https://minio.example.com:9000";
	assert_int_equal(s3_publisher.begin(&st, &t, &rel, &err), 0);
	assert_int_equal(s3_publisher.upload(st, &t, &rel, &f, &out, &err), 0);
	assert_string_equal(out.url, "https://minio.example.com:9000/my-bucket/"
	                             "wheels/pkg/1.0.0/a%20b%2Bc-1.0.0.tar.gz");
	s3_publisher.state_free(st);
	/* A prefix template; an unknown package leaves no empty segment. */
	keys[3] = "prefix";
	vals[3] = "/rel/{package}/{tag}-x/";
	rel.package = NULL;
	assert_int_equal(s3_publisher.begin(&st, &t, &rel, &err), 0);
	assert_int_equal(s3_publisher.upload(st, &t, &rel, &f, &out, &err), 0);
	assert_string_equal(out.url, "https://minio.example.com:9000/my-bucket/"
	                             "rel/v1.0.0-x/a%20b%2Bc-1.0.0.tar.gz");
	s3_publisher.state_free(st);
}

static void
test_codeartifact_begin_checks(void **state)
{
	const char *keys[] = { "domain", "domain_owner", "repository", "region",
		"access_key_id", "secret_access_key", "endpoint" };
	const char *vals[] = { "my-domain", "1234", "repo", "us-east-1", "AKID",
		"secret", "http://127.0.0.1:1" };
	struct publish_target t = { "ca", "codeartifact", keys, vals, 7, &E };
	struct publish_release rel = { "v1.0.0", "pkg", "1.0.0", true };
	struct error err;
	void *st = NULL;

	(void)state;
	/* A domain owner that is not a 12-digit account id. */
	assert_int_equal(codeartifact_publisher.begin(&st, &t, &rel, &err),
	    ERR_INVALID);
	vals[1] = "111122223333";
	vals[3] = "nowhere land";
	assert_int_equal(codeartifact_publisher.begin(&st, &t, &rel, &err),
	    ERR_INVALID);
	vals[3] = "us-east-1";
	/* Dry run: both calls are signed, none is sent (port 1 would
	 * refuse). */
	assert_int_equal(codeartifact_publisher.begin(&st, &t, &rel, &err), 0);
	codeartifact_publisher.state_free(st);
}

/* ---- the --publish driver ---- */

/* The strings env_from_environ read, freed at exit. */
static char *env_strings[32];

static void
env_free(void)
{
	size_t i;

	for (i = 0; i < sizeof(env_strings) / sizeof(env_strings[0]); i++)
		free(env_strings[i]);
}

/* What the settings table (worker/config.c) hands the publishers, read
 * here from the environment the integration tests set. */
static void
env_from_environ(void)
{
#define ENV(name, field)                                  \
	{                                                 \
		name, offsetof(struct publish_env, field) \
	}
	static const struct {
		const char *name;
		size_t off;
	} names[] = {
		ENV("S3_WHEELS_BUCKET", s3_wheels_bucket),
		ENV("CODEARTIFACT_DOMAIN", codeartifact_domain),
		ENV("CODEARTIFACT_ACCOUNT_ID", codeartifact_account_id),
		ENV("CODEARTIFACT_REPOSITORY", codeartifact_repository),
		ENV("AWS_ACCESS_KEY_ID", aws_access_key_id),
		ENV("AWS_SECRET_ACCESS_KEY", aws_secret_access_key),
		ENV("AWS_SESSION_TOKEN", aws_session_token),
		ENV("AWS_SECURITY_TOKEN", aws_security_token),
		ENV("AWS_ROLE_ARN", aws_role_arn),
		ENV("AWS_WEB_IDENTITY_TOKEN_FILE", aws_web_identity_token_file),
		ENV("AWS_ROLE_SESSION_NAME", aws_role_session_name),
		ENV("AWS_CONTAINER_CREDENTIALS_FULL_URI",
		    aws_container_credentials_full_uri),
		ENV("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		    aws_container_credentials_relative_uri),
		ENV("AWS_CONTAINER_AUTHORIZATION_TOKEN",
		    aws_container_authorization_token),
		ENV("AWS_REGION", aws_region),
		ENV("AWS_DEFAULT_REGION", aws_default_region),
		ENV("AWS_ENDPOINT_URL", aws_endpoint_url),
		ENV("AWS_ENDPOINT_URL_S3", aws_endpoint_url_s3),
		ENV("AWS_ENDPOINT_URL_STS", aws_endpoint_url_sts),
		ENV("AWS_ENDPOINT_URL_CODEARTIFACT",
		    aws_endpoint_url_codeartifact),
	};
#undef ENV
	const char *a = getenv("ARTIFACTD_HTTP_ATTEMPTS");
	const char *b = getenv("ARTIFACTD_HTTP_BACKOFF_MS");
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct error err;
		char *v = NULL;

		/* NAME, else the file NAME_FILE names, as the table reads */
		if (secret_get_plain(&v, names[i].name, &err) < 0)
			continue;
		env_strings[i] = v;
		memcpy((char *)&E + names[i].off, &(const char *){ v },
		    sizeof(const char *));
	}
	atexit(env_free);
	http_retry_defaults(a != NULL ? atoll(a) : HTTP_DEFAULT_ATTEMPTS,
	    b != NULL ? atoll(b) : HTTP_DEFAULT_BACKOFF_MS);
}

static int
drive(int argc, char **argv)
{
	const struct publisher_ops *ops = NULL;
	const char **keys = xcalloc((size_t)argc, sizeof(*keys));
	const char **vals = xcalloc((size_t)argc, sizeof(*vals));
	struct publish_target t = { "test", NULL, keys, vals, 0, &E };
	struct publish_release rel = { "v0", NULL, NULL, false };
	void *st = NULL;
	struct error err;
	int i, rc, worst = 0;

	log_init(LOG_LEVEL_INFO, false);
	env_from_environ();
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0) {
			rel.dry_run = true;
		} else if (strcmp(argv[i], "--package") == 0 && i + 1 < argc) {
			rel.package = argv[++i];
		} else if (strcmp(argv[i], "--version") == 0 && i + 1 < argc) {
			rel.version = argv[++i];
		} else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
			char *kv = argv[++i], *eq = strchr(kv, '=');

			if (eq == NULL)
				return 2;
			*eq = '\0';
			keys[t.n] = kv;
			vals[t.n++] = eq + 1;
		} else if (ops == NULL) {
			t.type = argv[i];
			ops = strcmp(argv[i], "s3") == 0 ? &s3_publisher
			      : strcmp(argv[i], "codeartifact") == 0
			          ? &codeartifact_publisher
			          : NULL;
			if (ops == NULL)
				return 2;
		} else {
			break;
		}
	}
	if (ops == NULL)
		return 2;
	if ((rc = ops->begin(&st, &t, &rel, &err)) < 0) {
		cJSON *o = cJSON_CreateObject();
		char *line;

		cJSON_AddStringToObject(o, "begin", "failed");
		cJSON_AddNumberToObject(o, "rc", rc);
		cJSON_AddStringToObject(o, "code", err.code);
		cJSON_AddStringToObject(o, "msg", err.msg);
		line = cJSON_PrintUnformatted(o);
		printf("%s\n", line);
		free(line);
		cJSON_Delete(o);
		free(keys);
		free(vals);
		return 1;
	}
	for (; i < argc; i++) {
		struct publish_file f = { 0 };
		struct publish_outcome out = { 0 };
		struct digest_set d;
		struct dist_meta *meta = NULL;
		struct dist_filename fn;
		cJSON *o = cJSON_CreateObject();
		char *line;
		const char *base = strrchr(argv[i], '/');

		/* A path the test runner chose, not a producer: a plain
		 * open is fine here. */
		f.fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		f.filename = base ? base + 1 : argv[i];
		error_clear(&err);
		if (f.fd < 0) {
			rc = error_set(&err, ERR_FAIL, "IO", "cannot open %s",
			    argv[i]);
		} else if ((rc = digest_file(&d, &f.size, f.fd, f.filename,
		                &err)) == 0) {
			memcpy(f.sha256, d.sha256, sizeof(f.sha256));
			memcpy(f.blake2_256, d.blake2_256,
			    sizeof(f.blake2_256));
			memcpy(f.sha1, d.sha1, sizeof(f.sha1));
			memcpy(f.md5, d.md5, sizeof(f.md5));
			if (dist_parse_filename(&fn, f.filename, &err) == 0 &&
			    fn.kind != DIST_OTHER &&
			    dist_meta_read(&meta, f.fd, f.filename, fn.kind,
			        &err) == 0)
				f.meta = meta;
			error_clear(&err);
			rc = ops->upload(st, &t, &rel, &f, &out, &err);
		}
		cJSON_AddStringToObject(o, "file", f.filename);
		cJSON_AddNumberToObject(o, "rc", rc);
		if (rc == 0) {
			cJSON_AddStringToObject(o, "status",
			    out.status == PUBLISH_UPLOADED ? "uploaded"
			    : out.status == PUBLISH_ALREADY_PRESENT
			        ? "already_present"
			        : "dry_run");
			cJSON_AddStringToObject(o, "url", out.url);
		} else {
			cJSON_AddStringToObject(o, "code", err.code);
			cJSON_AddStringToObject(o, "msg", err.msg);
			if (worst == 0)
				worst = rc;
		}
		line = cJSON_PrintUnformatted(o);
		printf("%s\n", line);
		fflush(stdout);
		free(line);
		cJSON_Delete(o);
		dist_meta_free(meta);
		if (f.fd >= 0)
			close(f.fd);
	}
	if (ops->finish != NULL && ops->finish(st, &t, &rel, &err) < 0)
		worst = ERR_FAIL;
	ops->state_free(st);
	free(keys);
	free(vals);
	return worst == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_xml_text, clean_env),
		cmocka_unit_test_setup(test_region, clean_env),
		cmocka_unit_test_setup(test_endpoint, clean_env),
		cmocka_unit_test_setup(test_env_and_file, clean_env),
		cmocka_unit_test_setup(test_target_keys_win, clean_env),
		cmocka_unit_test_setup(test_stale, clean_env),
		cmocka_unit_test_setup(test_web_identity_bad_settings,
		    clean_env),
		cmocka_unit_test_setup(test_s3_begin_checks, clean_env),
		cmocka_unit_test_setup(test_s3_dry_run_urls, clean_env),
		cmocka_unit_test_setup(test_codeartifact_begin_checks,
		    clean_env),
	};

	if (argc >= 2 && strcmp(argv[1], "--publish") == 0)
		return drive(argc, argv);
	log_init(LOG_LEVEL_WARN, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
