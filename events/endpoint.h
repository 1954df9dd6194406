/*
 * endpoint.h - where the bus is: ARTIFACTD_REDIS_URL parsed. The
 * blocking connection of the command-line tools (emit, replay, dlq) is in
 * endpoint_int.h, which only events/ may include (it is hiredis's).
 *
 * redis://[user:pass@]host:port/db, redis://:pass@host, or
 * unix:///path/to/socket[?db=N]. The daemon's asynchronous connections
 * (bus.c) use the same parsed form.
 *
 * redis+sentinel://[user:pass@]host:port[,host:port...]/<master>[/db]
 * names Redis Sentinels (port 26379 by default) and the master they
 * watch; the credentials and db are the master's. The address of the
 * master is found by sentinel.h, never by this parser.
 * rediss+sentinel://...[?tls-...] is the same over TLS: the sentinels and
 * the master are both reached over TLS (the ?tls-... parameters and
 * tls-* settings of rediss://), each certificate checked against the
 * address it is reached at; the clear-text form takes no parameters.
 *
 * redis+cluster://[user:pass@]host:port[,host:port...] names seed nodes
 * of a Redis Cluster (port 6379 by default; a cluster has db 0 only).
 * The slot map is asked of them by cluster.h, never by this parser.
 *
 * rediss://[user:pass@]host:port/db[?tls-ca-file=...&tls-ca-dir=...
 * &tls-cert-file=...&tls-key-file=...&tls-insecure=yes] is redis:// over
 * TLS (events/tls.h), port 6379 by default as with redis-py and
 * redis-cli. It never falls back to clear text.
 */
#ifndef EVENTS_ENDPOINT_H
#define EVENTS_ENDPOINT_H

#include <stdbool.h>

#include "common/error.h"

struct endpoint {
	char *host;     /* NULL for unix sockets */
	int port;       /* 6379 by default */
	char *path;     /* unix socket path, or NULL */
	char *user;     /* ACL user, or NULL */
	char *password; /* or NULL */
	int db;
	/* redis+sentinel:// only (nsentinels 0 otherwise) */
	struct endpoint_node *sentinels;
	size_t nsentinels;
	char *master_name;       /* the name the sentinels know it by */
	char *sentinel_password; /* AUTH to the sentinels, or NULL */
	/* redis+cluster:// only (nseeds 0 otherwise): where the slot map is
	 * first asked for */
	struct endpoint_node *seeds;
	size_t nseeds;
	/* rediss://, rediss+cluster://, rediss+sentinel:// (tls true): TLS
	 * through events/tls.h */
	bool tls;
	struct endpoint_tls {
		char *ca_file;   /* PEM bundle, or NULL */
		char *ca_dir;    /* hashed directory (c_rehash), or NULL */
		char *cert_file; /* client certificate chain, or NULL */
		char *key_file;  /* its key, or NULL */
		bool insecure;   /* no verification at all (logged) */
	} tls_opt;
};

struct endpoint_node {
	char *host;
	int port;
};

/* Sentinels in one URL at most: the Sentinel docs advise three or five;
 * bounds the discovery time (each is asked in turn). */
#define ENDPOINT_SENTINELS_MAX 16
/* Seed nodes in one redis+cluster:// URL at most: any one live node
 * gives the whole map; more only help while some are down. Bounds one
 * map refresh, which asks them in turn. */
#define ENDPOINT_SEEDS_MAX 16
/* A master name is at most this long and printable ASCII without
 * spaces, quotes or '/' (it is logged and goes into the URL path). */
#define ENDPOINT_NAME_MAX 128

/*
 * What the settings sentinel-master and sentinel-password say, used by
 * every later endpoint_parse of a redis+sentinel:// URL: the master name
 * when the URL has none (a different one in the URL is refused), and the
 * sentinels' password. Set once at start-up (config_validate), before any
 * connection; the strings are copied; NULL or "" clears.
 */
void endpoint_sentinel_defaults(const char *master, const char *password);

/*
 * The settings tls-ca-file, tls-ca-dir, tls-cert-file, tls-key-file and
 * tls-insecure, used by every later endpoint_parse of a rediss:// URL
 * (the URL's own ?tls-ca-file=... and so on win). Set once at start-up,
 * before any connection; copied; NULL clears.
 */
void endpoint_tls_defaults(const struct endpoint_tls *t);

/*
 * Parse url as endpoint_parse does, with t as the TLS settings (NULL:
 * those of endpoint_tls_defaults), and for a rediss:// URL also check the
 * certificate files (tls.h's tls_check); the same for rediss+cluster://
 * and rediss+sentinel://. For check-config. Returns 0 or
 * ERR_INVALID.
 */
int endpoint_check(const char *url, const struct endpoint_tls *t,
    struct error *err);

/* Parse a URL. Returns 0 or ERR_INVALID (the message never contains the
 * password). */
int endpoint_parse(struct endpoint *ep, const char *url, struct error *err);

void endpoint_dispose(struct endpoint *ep);

#endif
