/*
 * test_endpoint.c - rediss:// URLs (events/endpoint.c) and the parts of
 * events/tls.c that need no server: the certificate checks, the bridge's
 * private socket, a blocking TLS connection to a port where nothing
 * listens, and endpoint_connect refusing clear text to a rediss://
 * endpoint. The handshakes themselves are in
 * tests/integration/test_bus_tls (real redis-server, openssl-made CA).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <netinet/in.h>

#include "events/endpoint.h"
#include "events/endpoint_int.h"
#include "events/tls.h"

static void
test_parse_rediss(void **state)
{
	struct endpoint ep;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(endpoint_parse(&ep,
	                     "rediss://user:p%3Fw@redis.example:6380/3", &err),
	    0);
	assert_true(ep.tls);
	assert_string_equal(ep.host, "redis.example");
	assert_int_equal(ep.port, 6380);
	assert_int_equal(ep.db, 3);
	assert_string_equal(ep.user, "user");
	assert_string_equal(ep.password, "p?w");
	assert_null(ep.tls_opt.ca_file);
	assert_false(ep.tls_opt.insecure);
	endpoint_dispose(&ep);

	/* Defaults as redis-py: port 6379, db 0. */
	assert_int_equal(endpoint_parse(&ep, "rediss://10.0.0.7", &err), 0);
	assert_true(ep.tls);
	assert_int_equal(ep.port, 6379);
	assert_int_equal(ep.db, 0);
	endpoint_dispose(&ep);

	/* redis:// stays clear text. */
	assert_int_equal(endpoint_parse(&ep, "redis://h:1/0", &err), 0);
	assert_false(ep.tls);
	endpoint_dispose(&ep);
}

static void
test_parse_params(void **state)
{
	struct endpoint ep;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(endpoint_parse(&ep,
	                     "rediss://:pw@[::1]:6380/2?tls-ca-file=/a/ca.pem"
	                     "&tls-cert-file=/a/c.pem&tls-key-file=/a/c%20k.key"
	                     "&tls-ca-dir=/etc/ssl/certs&tls-insecure=yes",
	                     &err),
	    0);
	assert_string_equal(ep.host, "::1");
	assert_int_equal(ep.port, 6380);
	assert_int_equal(ep.db, 2);
	assert_string_equal(ep.password, "pw");
	assert_string_equal(ep.tls_opt.ca_file, "/a/ca.pem");
	assert_string_equal(ep.tls_opt.ca_dir, "/etc/ssl/certs");
	assert_string_equal(ep.tls_opt.cert_file, "/a/c.pem");
	assert_string_equal(ep.tls_opt.key_file, "/a/c k.key");
	assert_true(ep.tls_opt.insecure);
	endpoint_dispose(&ep);

	/* A port without a db, then the query. */
	assert_int_equal(endpoint_parse(&ep,
	                     "rediss://h:7000?tls-ca-file=/x.pem", &err),
	    0);
	assert_int_equal(ep.port, 7000);
	assert_string_equal(ep.tls_opt.ca_file, "/x.pem");
	endpoint_dispose(&ep);
}

static void
test_parse_refused(void **state)
{
	static const char *const bad[] = {
		"rediss://h/0?tls-ca-fil=/x.pem", /* misspelt: never ignored */
		"rediss://h/0?tls-ca-file",
		"rediss://h/0?tls-ca-file=",
		"rediss://h/0?tls-insecure=maybe",
		"rediss://h:0/0",
		"rediss://h:99999/0",
		"rediss://h/x",
	};
	struct endpoint ep;
	struct error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(endpoint_parse(&ep, bad[i], &err),
		    ERR_INVALID);
		assert_true(err.msg[0] != '\0');
	}
	/* The password never appears in a refusal. */
	memset(&err, 0, sizeof(err));
	assert_int_equal(endpoint_parse(&ep, "rediss://:sekrit@h/0?bogus=1",
	                     &err),
	    ERR_INVALID);
	assert_null(strstr(err.msg, "sekrit"));
}

static void
test_defaults(void **state)
{
	char ca[] = "/set/ca.pem", cert[] = "/set/c.pem", key[] = "/set/c.key";
	struct endpoint_tls t = { ca, NULL, cert, key, false };
	struct endpoint ep;
	struct error err = { 0 };

	(void)state;
	endpoint_tls_defaults(&t);
	assert_int_equal(endpoint_parse(&ep, "rediss://h/0", &err), 0);
	assert_string_equal(ep.tls_opt.ca_file, "/set/ca.pem");
	assert_string_equal(ep.tls_opt.key_file, "/set/c.key");
	endpoint_dispose(&ep);
	/* The URL wins over the settings. */
	assert_int_equal(endpoint_parse(&ep,
	                     "rediss://h/0?tls-ca-file=/url/ca.pem", &err),
	    0);
	assert_string_equal(ep.tls_opt.ca_file, "/url/ca.pem");
	assert_string_equal(ep.tls_opt.cert_file, "/set/c.pem");
	endpoint_dispose(&ep);
	/* A redis:// URL does not pick them up. */
	assert_int_equal(endpoint_parse(&ep, "redis://h/0", &err), 0);
	assert_false(ep.tls);
	assert_null(ep.tls_opt.ca_file);
	endpoint_dispose(&ep);
	endpoint_tls_defaults(NULL);
	assert_int_equal(endpoint_parse(&ep, "rediss://h/0", &err), 0);
	assert_null(ep.tls_opt.ca_file);
	endpoint_dispose(&ep);
}

static void
test_check_files(void **state)
{
	char dir[] = "/tmp/test-endpoint-XXXXXX";
	char junk[64], missing[64];
	struct endpoint_tls t = { 0 };
	struct error err = { 0 };
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(junk, sizeof(junk), "%s/junk.pem", dir);
	snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
	f = fopen(junk, "w");
	assert_non_null(f);
	fputs("not a certificate\n", f);
	fclose(f);

	t.ca_file = missing;
	assert_int_equal(tls_check(&t, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "missing.pem"));
	t.ca_file = junk;
	assert_int_equal(tls_check(&t, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "junk.pem"));
	t.ca_file = NULL;
	t.ca_dir = junk; /* a file, not a directory */
	assert_int_equal(tls_check(&t, &err), ERR_INVALID);
	t.ca_dir = dir;
	t.cert_file = junk; /* without a key */
	assert_int_equal(tls_check(&t, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "go together"));
	t.key_file = junk;
	assert_int_equal(tls_check(&t, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "tls-cert-file"));
	/* A directory CA alone is fine (nothing to load up front). */
	t.cert_file = t.key_file = NULL;
	assert_int_equal(tls_check(&t, &err), 0);

	/* endpoint_check: the same through a URL. */
	assert_int_equal(endpoint_check("rediss://h/0?tls-ca-file=/nonexistent",
	                     NULL, &err),
	    ERR_INVALID);
	assert_int_equal(endpoint_check("redis://h/0", NULL, &err), 0);
	unlink(junk);
	rmdir(dir);
}

static void
test_bridge_socket(void **state)
{
	struct event_base *base = event_base_new();
	struct tls_bridge *b = NULL;
	struct endpoint ep;
	struct error err = { 0 };
	struct stat st;
	char *dir;

	(void)state;
	assert_int_equal(endpoint_parse(&ep,
	                     "rediss://127.0.0.1:1/0?tls-ca-dir=/tmp", &err),
	    0);
	assert_int_equal(tls_bridge_new(&b, base, &ep, &err), 0);
	dir = strdup(tls_bridge_path(b));
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	*strrchr(dir, '/') = '\0';
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700); /* ours alone */
	tls_bridge_free(b);
	assert_int_equal(stat(dir, &st), -1); /* removed */
	free(dir);
	endpoint_dispose(&ep);
	event_base_free(base);
}

/* A free loopback port: bound, then closed (nothing listens there). */
static int
closed_port(void)
{
	struct sockaddr_in sin = { 0 };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void
test_open_refused(void **state)
{
	struct endpoint_conn conn;
	struct endpoint ep;
	struct error err = { 0 };
	redisContext *c = NULL;
	char url[96];

	(void)state;
	snprintf(url, sizeof(url), "rediss://127.0.0.1:%d/0?tls-ca-dir=/tmp",
	    closed_port());
	assert_int_equal(endpoint_parse(&ep, url, &err), 0);
	/* Never clear text to a rediss:// endpoint. */
	assert_int_equal(endpoint_connect(&c, &ep, 1000, &err), ERR_INVALID);
	assert_null(c);
	/* The thread starts, the connect is refused, the cause is told. */
	memset(&err, 0, sizeof(err));
	assert_int_equal(endpoint_open(&conn, &ep, 2000, &err), ERR_TRANSIENT);
	assert_non_null(strstr(err.msg, "cannot connect to redis"));
	assert_non_null(strstr(err.msg, "refused"));
	endpoint_dispose(&ep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rediss),
		cmocka_unit_test(test_parse_params),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_check_files),
		cmocka_unit_test(test_bridge_socket),
		cmocka_unit_test(test_open_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
