/*
 * pypi.h - the PyPI legacy upload API, as twine speaks it.
 *
 * pypi.c exports pypi_publisher (type "pypi") for PyPI, TestPyPI and any
 * index with the same API (Artifactory, Nexus, devpi, Gitea). The pieces
 * below are shared with codeartifact.c, which uploads the same form as
 * user "aws" with a token it obtained itself, and with the unit tests.
 */
#ifndef PUBLISHERS_PYPI_H
#define PUBLISHERS_PYPI_H

#include <stdbool.h>

#include "common/error.h"
#include "publishers/dist.h"
#include "publishers/http.h"
#include "publishers/publisher.h"

/*
 * The form fields of one upload, in twine's order: every metadata field
 * present (multi-use fields repeated, names as Warehouse reads them,
 * empty and "UNKNOWN" values left out), then pyversion, filetype,
 * sha256_digest, blake2_256_digest, :action and protocol_version. The
 * file part itself is added by http_form_body(). Returns 0 or
 * ERR_INVALID (not a wheel or sdist).
 */
int pypi_form_build(struct http_form *f, const struct dist_filename *fn,
    const struct dist_meta *m, const char *sha256, const char *blake2_256,
    struct error *err);

/* twine's "safe name": runs of characters other than [A-Za-z0-9.] become
 * "-". out gets at most n-1 bytes. */
void pypi_safe_name(char *out, size_t n, const char *name);

/* Where and how to upload. */
struct pypi_endpoint {
	const char *url;         /* the upload URL, e.g. .../legacy/ */
	const char *auth_header; /* "Authorization: Basic ..." */
	/* JSON API base ("https://pypi.org/pypi") to compare digests when
	 * the index says the file exists; NULL: cannot compare. */
	const char *json_url;
	const char *what; /* label for logs and messages: "pypi" */
};

/* A <dist>.publish.attestation is one attestation object of a few KiB
 * (a Sigstore certificate and a transparency log entry with its
 * inclusion proof); 256 KiB bounds the read before parsing. */
#define PYPI_ATTESTATION_MAX (256 * 1024)
#define PYPI_ATTESTATION_SUFFIX ".publish.attestation"

/*
 * PEP 740: the attestation beside the dist open as fd - the file
 * <dist path>.publish.attestation, as pypa's publish action and twine's
 * --attestations find it - as the `attestations` field Warehouse's
 * legacy upload reads: a JSON array of attestation objects, each with
 * "version", "verification_material" and "envelope". The dist's path is
 * the kernel's (/proc/self/fd), the attestation is opened without
 * following a symlink, must be a regular file of at most
 * PYPI_ATTESTATION_MAX bytes holding one such object (or an array of
 * them). *out (caller frees) is NULL when there is none. Returns 0 or
 * ERR_INVALID (code INVALID_DIST) naming the file and what is wrong.
 */
int pypi_attestations_read(char **out, int fd, const char *filename,
    struct error *err);

/*
 * Upload one distribution (f->meta must be set). When ep->json_url is
 * set, the JSON API is asked first: the same sha256 there is
 * PUBLISH_ALREADY_PRESENT and nothing is sent, another is ERR_CONFLICT.
 * 200 is uploaded (PyPI
 * answers 200 to a byte-identical re-upload too); "400 File already
 * exists" and 409 become PUBLISH_ALREADY_PRESENT when the index's JSON
 * API shows the same sha256 for the file name, ERR_CONFLICT (CONFLICT)
 * otherwise. dry_run: the request is built and checked, not sent.
 * Returns 0, ERR_CONFLICT, ERR_TRANSIENT (5xx/429/network after retries),
 * ERR_FAIL (AUTH for 401/403, HTTP for other statuses), ERR_INVALID.
 */
int pypi_upload_file(const struct pypi_endpoint *ep,
    const struct publish_file *f, bool dry_run, struct publish_outcome *out,
    struct error *err);

/* The same with PEP 740 attestations: the upload's `attestations` field,
 * a JSON array of attestation objects (pypi_attestations_read); NULL:
 * none. */
int pypi_upload_file_att(const struct pypi_endpoint *ep,
    const struct publish_file *f, const char *attestations, bool dry_run,
    struct publish_outcome *out, struct error *err);

/* The JSON API base for an upload URL, or NULL: upload.pypi.org ->
 * https://pypi.org/pypi, test.pypi.org -> https://test.pypi.org/pypi,
 * ".../legacy/" on another host -> that origin + "/pypi". Caller frees. */
char *pypi_json_url_for(const char *upload_url);

extern const struct publisher_ops pypi_publisher;

#endif
