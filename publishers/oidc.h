/*
 * oidc.h - Trusted Publishing (issue 16): a short-lived PyPI API token
 * minted from an OIDC identity token, instead of a long-lived one.
 *
 * The exchange is Warehouse's (warehouse/oidc/views.py, routes in
 * warehouse/oidc/urls.py; docs/internals/publishers.md): GET
 * <index>/_/oidc/audience answers {"audience": "pypi"}; the CI's identity
 * provider gives an ID token (a JWT) for that audience - GitHub Actions:
 * GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud> with "Authorization:
 * bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" answers {"value": "<jwt>"}, or
 * a file the platform mounts holds it; POST <index>/_/oidc/mint-token
 * {"token": "<jwt>"} answers {"success": true, "token": "pypi-...",
 * "expires": <unix s>} or, refused, 422 {"message": ..., "errors":
 * [{"code", "description"}]}. The minted token lives 15 minutes
 * (Warehouse's expires_at = now + 900); the caller mints again when it
 * may outlive that (pypi.c).
 *
 * Every token here (the request token, the JWT, the minted token) is a
 * secret: registered with the redactor as soon as it is read, wiped when
 * freed (common/secret.h), never in a message or a log line.
 */
#ifndef PUBLISHERS_OIDC_H
#define PUBLISHERS_OIDC_H

#include <stdbool.h>

#include "common/error.h"

/* An audience is a short name ("pypi", "testpypi"); 256 bytes bounds
 * what goes into the token request's URL. */
#define OIDC_AUDIENCE_MAX 256
/* A JWT and a minted macaroon are a few hundred bytes to a few KiB; the
 * secrets' ceiling (SECRET_FILE_MAX, 64 KiB) bounds both. */
#define OIDC_TOKEN_MAX (64 * 1024)
/* Each of the three requests must answer within this many seconds (they
 * carry a few hundred bytes). */
#define OIDC_TIMEOUT_S 30

/* Where the identity token comes from; NULL or "": not available. */
struct oidc_source {
	const char *request_url;   /* ACTIONS_ID_TOKEN_REQUEST_URL */
	const char *request_token; /* ACTIONS_ID_TOKEN_REQUEST_TOKEN */
	/* The identity token itself, read by the caller right before each
	 * mint (the target's oidc_token / oidc_token_file / oidc_token_env:
	 * platforms rotate the file); wins over the two above. */
	const char *id_token;
};

/* True when s can give an identity token (id_token, or both of the
 * GitHub Actions variables). */
bool oidc_available(const struct oidc_source *s);

/* "scheme://host[:port]" of url, where Warehouse serves /_/oidc/ (the
 * upload host: upload.pypi.org, as pypa's publish action asks it); NULL
 * when url has no "://". Caller frees. */
char *oidc_index_origin(const char *url);

/*
 * Mint a PyPI API token for the index at origin (oidc_index_origin):
 * audience, identity token, exchange. *out (caller: secret_free) is the
 * minted token, registered with the redactor. `what` labels messages
 * (the target's name). Returns 0; ERR_FAIL code AUTH when the index or
 * the identity provider refuses (403/422: the message carries the
 * index's error codes and descriptions, never a token); ERR_TRANSIENT
 * (HTTP) when one of them cannot be reached or answers 5xx/429;
 * ERR_FAIL (code OIDC) for an answer of the wrong shape; ERR_INVALID
 * for a refused URL or an id_token that is not one line of printable
 * ASCII.
 */
int oidc_mint_pypi(char **out, const struct oidc_source *s, const char *origin,
    const char *what, struct error *err);

#endif
