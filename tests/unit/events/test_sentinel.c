/*
 * test_sentinel.c - redis+sentinel:// URLs (events/endpoint.c) and the
 * pieces of Sentinel discovery that need no server (events/sentinel.c):
 * the ROLE check, +switch-master messages, and a discovery where no
 * sentinel listens (also over TLS); rediss+sentinel:// URLs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events/endpoint.h"
#include "events/sentinel.h"

static void
test_parse_list(void **state)
{
	struct endpoint ep;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(endpoint_parse(&ep,
	                     "redis+sentinel://127.0.0.1:26379,"
	                     "10.0.0.2:26380,[::1],s3/mymaster/2",
	                     &err),
	    0);
	assert_int_equal(ep.nsentinels, 4);
	assert_string_equal(ep.sentinels[0].host, "127.0.0.1");
	assert_int_equal(ep.sentinels[0].port, 26379);
	assert_int_equal(ep.sentinels[1].port, 26380);
	assert_string_equal(ep.sentinels[2].host, "::1");
	assert_int_equal(ep.sentinels[2].port, 26379);
	assert_string_equal(ep.sentinels[3].host, "s3");
	assert_string_equal(ep.master_name, "mymaster");
	assert_int_equal(ep.db, 2);
	assert_null(ep.host); /* found by discovery, never by the parser */
	assert_null(ep.password);
	assert_null(ep.sentinel_password);
	endpoint_dispose(&ep);
}

static void
test_parse_credentials(void **state)
{
	struct endpoint ep;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(endpoint_parse(&ep,
	                     "redis+sentinel://app:p%40ss@h1:1,h2:2/m", &err),
	    0);
	assert_string_equal(ep.user, "app");
	assert_string_equal(ep.password, "p@ss");
	assert_int_equal(ep.nsentinels, 2);
	assert_int_equal(ep.db, 0);
	assert_null(strstr(err.msg, "p@ss"));
	endpoint_dispose(&ep);
}

static void
expect_refused(const char *url, const char *words)
{
	struct endpoint ep;
	struct error err = { 0 };

	assert_int_equal(endpoint_parse(&ep, url, &err), ERR_INVALID);
	if (strstr(err.msg, words) == NULL)
		fail_msg("%s: '%s' lacks '%s'", url, err.msg, words);
	assert_null(strstr(err.msg, "secret"));
	assert_int_equal(ep.nsentinels, 0);
	assert_null(ep.sentinels);
	assert_null(ep.password);
}

static void
test_parse_refused(void **state)
{
	char url[512];
	size_t i;
	int n;

	(void)state;
	expect_refused("redis+sentinel://h1:26379", "needs a master name");
	expect_refused("redis+sentinel://h1:26379/", "needs a master name");
	expect_refused("redis+sentinel:///m", "names no sentinel");
	expect_refused("redis+sentinel://:secret@h1,,h2/m", "empty sentinel");
	expect_refused("redis+sentinel://h1,/m", "empty sentinel");
	expect_refused("redis+sentinel://h1:0/m", "bad sentinel port");
	expect_refused("redis+sentinel://h1:65536/m", "bad sentinel port");
	expect_refused("redis+sentinel://h1:x/m", "bad sentinel port");
	expect_refused("redis+sentinel://[::1/m", "bad IPv6");
	expect_refused("redis+sentinel://h1/ma\"ster", "bad master name");
	expect_refused("redis+sentinel://h1/m%20x/0x", "bad db number");
	expect_refused("redis+sentinel://h1/m/x", "bad db number");
	/* one sentinel more than the limit */
	n = snprintf(url, sizeof(url), "redis+sentinel://");
	for (i = 0; i <= ENDPOINT_SENTINELS_MAX; i++)
		n += snprintf(url + n, sizeof(url) - (size_t)n, "%sh%zu",
		    i ? "," : "", i);
	snprintf(url + n, sizeof(url) - (size_t)n, "/m");
	expect_refused(url, "at most");
	/* a name one byte over the limit */
	n = snprintf(url, sizeof(url), "redis+sentinel://h1/");
	for (i = 0; i <= ENDPOINT_NAME_MAX; i++)
		url[n++] = 'a';
	url[n] = '\0';
	expect_refused(url, "bad master name");
}

static void
test_parse_settings(void **state)
{
	struct endpoint ep;
	struct error err = { 0 };

	(void)state;
	endpoint_sentinel_defaults("fromsetting", "sentpw");
	assert_int_equal(endpoint_parse(&ep, "redis+sentinel://h1", &err), 0);
	assert_string_equal(ep.master_name, "fromsetting");
	assert_string_equal(ep.sentinel_password, "sentpw");
	endpoint_dispose(&ep);
	assert_int_equal(endpoint_parse(&ep,
	                     "redis+sentinel://h1/fromsetting/3", &err),
	    0);
	assert_int_equal(ep.db, 3);
	endpoint_dispose(&ep);
	expect_refused("redis+sentinel://h1/other", "sentinel-master says");
	/* a plain URL is not touched by them */
	assert_int_equal(endpoint_parse(&ep, "redis://h:7/1", &err), 0);
	assert_int_equal(ep.nsentinels, 0);
	assert_null(ep.sentinel_password);
	assert_null(ep.master_name);
	endpoint_dispose(&ep);
	endpoint_sentinel_defaults(NULL, NULL);
	expect_refused("redis+sentinel://h1", "needs a master name");
}

static void
test_switch_message(void **state)
{
	struct sentinel_master m;
	const char *msg = "mymaster 127.0.0.1 6379 127.0.0.2 6380";

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(sentinel_switch_parse(&m, "mymaster", msg,
	                     strlen(msg)),
	    0);
	assert_string_equal(m.host, "127.0.0.2");
	assert_int_equal(m.port, 6380);
	assert_int_equal(sentinel_switch_parse(&m, "mymaster2", msg,
	                     strlen(msg)),
	    ERR_NOTFOUND);
	assert_int_equal(sentinel_switch_parse(&m, "mymas", msg, strlen(msg)),
	    ERR_NOTFOUND);
	/* cut short, a bad port */
	assert_int_equal(sentinel_switch_parse(&m, "mymaster", msg, 24),
	    ERR_INVALID);
	msg = "mymaster 127.0.0.1 6379 127.0.0.2 70000";
	assert_int_equal(sentinel_switch_parse(&m, "mymaster", msg,
	                     strlen(msg)),
	    ERR_INVALID);
	assert_int_equal(sentinel_switch_parse(&m, "mymaster", "", 0),
	    ERR_INVALID);
}

static void
test_role(void **state)
{
	redisReply head = { 0 }, top = { 0 };
	redisReply *el[1] = { &head };

	(void)state;
	top.type = REDIS_REPLY_ARRAY;
	top.elements = 1;
	top.element = el;
	head.type = REDIS_REPLY_STRING;
	head.str = (char *)(uintptr_t) "master";
	head.len = 6;
	assert_true(sentinel_role_is_master(&top));
	head.str = (char *)(uintptr_t) "slave";
	head.len = 5;
	assert_false(sentinel_role_is_master(&top));
	head.str = (char *)(uintptr_t) "sentinel";
	head.len = 8;
	assert_false(sentinel_role_is_master(&top));
	top.elements = 0;
	assert_false(sentinel_role_is_master(&top));
	assert_false(sentinel_role_is_master(NULL));
}

/* Nobody listens on port 1 of loopback: every sentinel is down. */
static void
test_discover_none_reachable(void **state)
{
	struct endpoint ep;
	struct error err = { 0 };
	struct sentinel_master m;
	size_t first = 0;

	(void)state;
	assert_int_equal(endpoint_parse(&ep,
	                     "redis+sentinel://127.0.0.1:1,127.0.0.1:1/m",
	                     &err),
	    0);
	assert_int_equal(sentinel_discover(&m, &ep, &first, &err),
	    ERR_TRANSIENT);
	assert_non_null(strstr(err.msg, "no sentinel reachable (2 of 2"));
	assert_non_null(strstr(err.msg, "127.0.0.1:1"));
	endpoint_dispose(&ep);
}

/* rediss+sentinel://: the same list, master and db, TLS on, with the
 * ?tls-... parameters of rediss+cluster:// winning over the settings. */
static void
test_parse_tls(void **state)
{
	struct endpoint_tls def = { 0 };
	struct endpoint ep;
	struct error err = { 0 };

	(void)state;
	def.ca_file = (char *)(uintptr_t) "/set/ca.pem";
	def.cert_file = (char *)(uintptr_t) "/set/c.pem";
	def.key_file = (char *)(uintptr_t) "/set/c.key";
	endpoint_tls_defaults(&def);
	assert_int_equal(endpoint_parse(&ep,
	                     "rediss+sentinel://u:p%3Fw@127.0.0.1:26380,"
	                     "[::1]/tm/4?tls-ca-file=/url/ca.pem&"
	                     "tls-insecure=no",
	                     &err),
	    0);
	assert_true(ep.tls);
	assert_int_equal(ep.nsentinels, 2);
	assert_int_equal(ep.sentinels[0].port, 26380);
	assert_string_equal(ep.sentinels[1].host, "::1");
	assert_int_equal(ep.sentinels[1].port, 26379);
	assert_string_equal(ep.master_name, "tm");
	assert_int_equal(ep.db, 4);
	assert_string_equal(ep.user, "u");
	assert_string_equal(ep.password, "p?w");
	assert_string_equal(ep.tls_opt.ca_file, "/url/ca.pem"); /* URL wins */
	assert_string_equal(ep.tls_opt.cert_file, "/set/c.pem");
	assert_false(ep.tls_opt.insecure);
	assert_null(ep.host);
	endpoint_dispose(&ep);
	/* the query right after the master, or with the name a setting */
	assert_int_equal(endpoint_parse(&ep,
	                     "rediss+sentinel://h/tm?tls-insecure=yes", &err),
	    0);
	assert_string_equal(ep.master_name, "tm");
	assert_int_equal(ep.db, 0);
	assert_true(ep.tls_opt.insecure);
	endpoint_dispose(&ep);
	endpoint_sentinel_defaults("tm", NULL);
	assert_int_equal(endpoint_parse(&ep,
	                     "rediss+sentinel://h?tls-ca-dir=/d", &err),
	    0);
	assert_string_equal(ep.master_name, "tm");
	assert_string_equal(ep.tls_opt.ca_dir, "/d");
	endpoint_dispose(&ep);
	endpoint_sentinel_defaults(NULL, NULL);
	/* the clear form is never TLS and takes no TLS parameters (they
	 * would be ignored and the connection made in clear text) */
	assert_int_equal(endpoint_parse(&ep, "redis+sentinel://h/tm", &err), 0);
	assert_false(ep.tls);
	assert_null(ep.tls_opt.ca_file);
	endpoint_dispose(&ep);
	expect_refused("redis+sentinel://h/tm?tls-ca-file=/x",
	    "rediss+sentinel:// (TLS) only");
	expect_refused("rediss+sentinel://h/tm?tls-cafile=/x",
	    "unknown parameter");
	expect_refused("rediss+sentinel://h/tm?tls-ca-file", "needs a value");
	expect_refused("rediss+sentinel://h?tls-insecure=yes",
	    "needs a master name");
	expect_refused("rediss+sentinel:///tm", "names no sentinel");
	endpoint_tls_defaults(NULL);
	/* check-config's check loads the files */
	assert_int_equal(endpoint_check("rediss+sentinel://h/tm?tls-ca-file="
	                                "/nonexistent/ca.pem",
	                     NULL, &err),
	    ERR_INVALID);
	assert_non_null(strstr(err.msg, "/nonexistent/ca.pem"));
	assert_int_equal(endpoint_check("rediss+sentinel://h/tm/x", NULL, &err),
	    ERR_INVALID);
}

/* rediss+sentinel:// asks its sentinels over TLS, never in clear text:
 * the failure names the TLS connection. */
static void
test_discover_tls_none_reachable(void **state)
{
	struct endpoint ep;
	struct error err = { 0 };
	struct sentinel_master m;
	size_t first = 0;

	(void)state;
	assert_int_equal(endpoint_parse(&ep,
	                     "rediss+sentinel://127.0.0.1:1/m?tls-insecure=yes",
	                     &err),
	    0);
	assert_int_equal(sentinel_discover(&m, &ep, &first, &err),
	    ERR_TRANSIENT);
	assert_non_null(strstr(err.msg, "sentinel 127.0.0.1:1 (TLS)"));
	endpoint_dispose(&ep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_parse_credentials),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_parse_settings),
		cmocka_unit_test(test_switch_message),
		cmocka_unit_test(test_role),
		cmocka_unit_test(test_discover_none_reachable),
		cmocka_unit_test(test_parse_tls),
		cmocka_unit_test(test_discover_tls_none_reachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
