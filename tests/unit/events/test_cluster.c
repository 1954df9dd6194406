/*
 * test_cluster.c - the Redis Cluster pieces that need no server
 * (events/cluster.c): CRC16/XMODEM, key slots with hash tags (the vectors
 * of the Cluster specification), MOVED/ASK replies, the CLUSTER SLOTS map,
 * redis+cluster:// URLs (events/endpoint.c), and a refresh where no node
 * listens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events/cluster.h"
#include "events/endpoint.h"

static void
test_crc16(void **state)
{
	(void)state;
	/* The check value of CRC-16/XMODEM. */
	assert_int_equal(cluster_crc16("123456789", 9), 0x31C3);
	assert_int_equal(cluster_crc16("", 0), 0);
}

static unsigned
slot(const char *key)
{
	return cluster_key_slot(key, strlen(key));
}

static void
test_key_slot(void **state)
{
	(void)state;
	assert_int_equal(slot("foo"), 12182);
	assert_int_equal(slot("123456789"), 0x31C3 & 16383);
	/* Hash tags: only what is between the first { and the next }. */
	assert_int_equal(slot("{user1000}.following"),
	    slot("{user1000}.followers"));
	assert_int_equal(slot("{user1000}.following"), slot("user1000"));
	assert_int_equal(slot("foo{bar}{zap}"), slot("bar"));
	/* {} is empty: the whole key is hashed. */
	assert_int_equal(slot("foo{}{bar}"),
	    cluster_crc16("foo{}{bar}", 10) & 16383);
	assert_int_equal(slot("foo{{bar}}zap"), slot("{bar"));
	assert_int_equal(slot("foo{bar"), cluster_crc16("foo{bar", 7) & 16383);
	/* What the bus relies on for answer and ack in one script. */
	assert_int_equal(slot("{pipeline}test_results"),
	    slot("{pipeline}workflow_events"));
	assert_int_equal(slot("{pipeline}test_results"),
	    slot("{pipeline}test_results:dead"));
	assert_int_not_equal(slot("test_results"), slot("workflow_events"));
}

static void
test_redirect(void **state)
{
	struct cluster_node to;
	unsigned s = 0;
	bool ask = true;
	const char *m = "MOVED 3999 127.0.0.1:6381";
	const char *a = "ASK 12182 [::1]:7000";

	(void)state;
	assert_int_equal(cluster_redirect_parse(m, strlen(m), &ask, &s, &to),
	    0);
	assert_false(ask);
	assert_int_equal(s, 3999);
	assert_string_equal(to.host, "127.0.0.1");
	assert_int_equal(to.port, 6381);
	/* hiredis hands the text without the leading '-'. */
	assert_int_equal(cluster_redirect_parse(a, strlen(a), &ask, &s, &to),
	    0);
	assert_true(ask);
	assert_int_equal(s, 12182);
	assert_string_equal(to.host, "::1");
	assert_int_equal(to.port, 7000);
	assert_int_equal(cluster_redirect_parse("ERR x", 5, &ask, &s, &to),
	    ERR_NOTFOUND);
	assert_int_equal(cluster_redirect_parse("MOVED 16384 h:1", 15, &ask, &s,
	                     &to),
	    ERR_INVALID);
	assert_int_equal(cluster_redirect_parse("MOVED 1 h:0", 11, &ask, &s,
	                     &to),
	    ERR_INVALID);
	assert_int_equal(cluster_redirect_parse("MOVED 1", 7, &ask, &s, &to),
	    ERR_INVALID);
	assert_int_equal(cluster_redirect_parse("ASK 1 :7000", 11, &ask, &s,
	                     &to),
	    ERR_INVALID);
}

/* Reply objects built by hand (hiredis's own constructors are private). */
struct fake {
	redisReply r[64];
	redisReply *el[64][4];
	size_t used;
};

static redisReply *
fake_int(struct fake *f, long long v)
{
	redisReply *r = &f->r[f->used++];

	r->type = REDIS_REPLY_INTEGER;
	r->integer = v;
	return r;
}

static redisReply *
fake_str(struct fake *f, const char *s)
{
	redisReply *r = &f->r[f->used++];

	r->type = REDIS_REPLY_STRING;
	r->str = (char *)(uintptr_t)s;
	r->len = strlen(s);
	return r;
}

static redisReply *
fake_arr(struct fake *f, size_t n, redisReply *a, redisReply *b, redisReply *c)
{
	size_t i = f->used++;
	redisReply *r = &f->r[i];

	r->type = REDIS_REPLY_ARRAY;
	r->elements = n;
	f->el[i][0] = a;
	f->el[i][1] = b;
	f->el[i][2] = c;
	r->element = f->el[i];
	return r;
}

static void
test_map(void **state)
{
	static struct cluster_map m;
	static struct fake f;
	struct cluster_node asked = { "10.0.0.9", 7009 };
	redisReply *ranges[3], top = { 0 };
	struct error err = { 0 };
	unsigned first = 99;

	(void)state;
	memset(&f, 0, sizeof(f));
	ranges[0] = fake_arr(&f, 3, fake_int(&f, 0), fake_int(&f, 5460),
	    fake_arr(&f, 2, fake_str(&f, "127.0.0.1"), fake_int(&f, 7000),
	        NULL));
	/* "" names the node that answered. */
	ranges[1] = fake_arr(&f, 3, fake_int(&f, 5461), fake_int(&f, 10922),
	    fake_arr(&f, 2, fake_str(&f, ""), fake_int(&f, 7001), NULL));
	ranges[2] = fake_arr(&f, 3, fake_int(&f, 10923), fake_int(&f, 16382),
	    fake_arr(&f, 2, fake_str(&f, "127.0.0.1"), fake_int(&f, 7000),
	        NULL));
	top.type = REDIS_REPLY_ARRAY;
	top.elements = 3;
	top.element = ranges;
	assert_int_equal(cluster_map_parse(&m, &top, &asked, &err), 0);
	assert_int_equal(m.nnodes, 2);
	assert_string_equal(cluster_map_node(&m, 0)->host, "127.0.0.1");
	assert_int_equal(cluster_map_node(&m, 5460)->port, 7000);
	assert_string_equal(cluster_map_node(&m, 5461)->host, "10.0.0.9");
	assert_int_equal(cluster_map_node(&m, 5461)->port, 7001);
	assert_int_equal(cluster_map_node(&m, 12182)->port, 7000);
	/* Slot 16383 is named by nobody. */
	assert_null(cluster_map_node(&m, 16383));
	assert_null(cluster_map_node(&m, 16384));
	assert_int_equal(cluster_map_uncovered(&m, &first), 1);
	assert_int_equal(first, 16383);
	/* A range past the last slot is refused. */
	ranges[2]->element[1]->integer = 16384;
	assert_int_equal(cluster_map_parse(&m, &top, &asked, &err),
	    ERR_INVALID);
	/* Not an array at all. */
	assert_int_equal(cluster_map_parse(&m, ranges[0]->element[0], &asked,
	                     &err),
	    ERR_INVALID);
}

static void
test_url(void **state)
{
	struct endpoint ep;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(endpoint_parse(&ep,
	                     "redis+cluster://app:s%40cret@127.0.0.1:7000,"
	                     "[::1]:7001,node3",
	                     &err),
	    0);
	assert_int_equal(ep.nseeds, 3);
	assert_string_equal(ep.seeds[0].host, "127.0.0.1");
	assert_int_equal(ep.seeds[0].port, 7000);
	assert_string_equal(ep.seeds[1].host, "::1");
	assert_int_equal(ep.seeds[2].port, 6379);
	assert_string_equal(ep.user, "app");
	assert_string_equal(ep.password, "s@cret");
	assert_null(ep.host);
	assert_false(ep.tls);
	endpoint_dispose(&ep);
	assert_int_equal(endpoint_parse(&ep, "redis+cluster://h:1/0", &err), 0);
	endpoint_dispose(&ep);
	assert_int_equal(endpoint_parse(&ep,
	                     "rediss+cluster://h:1?tls-insecure=yes", &err),
	    0);
	assert_true(ep.tls);
	assert_true(ep.tls_opt.insecure);
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
	assert_int_equal(ep.nseeds, 0);
	assert_null(ep.seeds);
	assert_null(ep.password);
}

static void
test_url_refused(void **state)
{
	(void)state;
	expect_refused("redis+cluster://", "names no node");
	expect_refused("redis+cluster://:secret@h1,,h2", "empty node");
	expect_refused("redis+cluster://h1:0", "bad node port");
	expect_refused("redis+cluster://h1:7000/3", "db 0 only");
	expect_refused("redis+cluster://h1?tls-insecure=yes", "TLS");
	expect_refused("rediss+cluster://h1?tls-cafile=x", "unknown parameter");
	expect_refused("redis+cluster://h,h,h,h,h,h,h,h,h,h,h,h,h,h,h,h,h",
	    "at most 16 nodes");
}

static void
test_refresh_nobody(void **state)
{
	static struct cluster_map m;
	struct endpoint ep;
	struct error err = { 0 };
	size_t first = 0;

	(void)state;
	/* Port 1 on loopback: nothing listens there (refused at once). */
	assert_int_equal(endpoint_parse(&ep, "redis+cluster://127.0.0.1:1",
	                     &err),
	    0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(cluster_refresh(&m, &ep, &first, &err), ERR_TRANSIENT);
	assert_non_null(strstr(err.msg, "no cluster node answered"));
	assert_non_null(strstr(err.msg, "127.0.0.1:1"));
	endpoint_dispose(&ep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc16),
		cmocka_unit_test(test_key_slot),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_url_refused),
		cmocka_unit_test(test_refresh_nobody),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
