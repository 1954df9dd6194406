/*
 * pypi.c - publish wheels and sdists through PyPI's legacy upload API.
 *
 * One multipart POST per file, built the way twine builds it
 * (publishers.md 1.2-1.3): the metadata fields come from the wheel's
 * METADATA / the sdist's PKG-INFO, the digests are sha256 and blake2_256
 * (md5 is left out, as twine >= 6.2 does), authentication is
 * "__token__:<token>" (or a username and password for other indexes).
 * Idempotency: before sending, the index's JSON API (when it has one) is
 * asked whether the file is there - with our sha256 it is already
 * present and nothing is sent, with another it is a conflict. PyPI also
 * answers 200 to a byte-identical re-upload; an index that says "already
 * exists" (400 or 409) is asked again, with the same verdicts.
 *
 * A target without any credential but with an OIDC identity token uses
 * Trusted Publishing (oidc.h): the token it uploads with is minted at
 * begin, minted again before a file when it is older than
 * oidc_remint_after seconds, and once more when the index answers 403
 * (the upload outlived it). A <dist>.publish.attestation beside a dist
 * goes in the upload's `attestations` field (PEP 740).
 */
#include "publishers/pypi.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/oidc.h"
#include "publishers/pypirc.h"
#include "publishers/verify_pypi.h"

#define PYPI_DEFAULT_URL "https://upload.pypi.org/legacy/"

/* METADATA header -> Warehouse form field; multi: repeated parts. */
struct meta_map {
	const char *header, *field;
	bool multi;
};

static const struct meta_map meta_fields[] = {
	{ "Metadata-Version", "metadata_version", false },
	{ "Name", "name", false },
	{ "Version", "version", false },
	{ "Summary", "summary", false },
	{ "Description-Content-Type", "description_content_type", false },
	{ "Keywords", "keywords", false },
	{ "Home-page", "home_page", false },
	{ "Download-URL", "download_url", false },
	{ "Author", "author", false },
	{ "Author-email", "author_email", false },
	{ "Maintainer", "maintainer", false },
	{ "Maintainer-email", "maintainer_email", false },
	{ "License", "license", false },
	{ "License-Expression", "license_expression", false },
	{ "License-File", "license_file", true },
	{ "Classifier", "classifiers", true },
	{ "Requires-Dist", "requires_dist", true },
	{ "Requires-Python", "requires_python", false },
	{ "Requires-External", "requires_external", true },
	{ "Project-URL", "project_urls", true },
	{ "Provides-Extra", "provides_extra", true },
	{ "Provides-Dist", "provides_dist", true },
	{ "Obsoletes-Dist", "obsoletes_dist", true },
	{ "Platform", "platform", true },
	{ "Supported-Platform", "supported_platform", true },
	{ "Dynamic", "dynamic", true },
	{ "Requires", "requires", true },
	{ "Provides", "provides", true },
	{ "Obsoletes", "obsoletes", true },
	{ "Import-Name", "import_name", true },
	{ "Import-Namespace", "import_namespace", true },
	{ NULL, NULL, false },
};

void
pypi_safe_name(char *out, size_t n, const char *name)
{
	size_t j = 0;
	bool run = false;

	for (; *name != '\0' && j + 1 < n; name++) {
		unsigned char ch = (unsigned char)*name;

		if ((ch < 0x80 && isalnum(ch)) || ch == '.') {
			out[j++] = (char)ch;
			run = false;
		} else if (!run) {
			out[j++] = '-';
			run = true;
		}
	}
	out[j] = '\0';
}

/* Warehouse treats "" as absent and deletes "UNKNOWN" values. */
static bool
value_present(const char *v)
{
	return v != NULL && v[0] != '\0' && strcmp(v, "UNKNOWN") != 0;
}

/* Metadata-Version as a comparable number: "2.4" -> 204. */
static int
meta_version_num(const char *v)
{
	long major, minor = 0;
	char *end;

	major = strtol(v, &end, 10);
	if (end == v || major < 0 || major > 99)
		return 0;
	if (*end == '.')
		minor = strtol(end + 1, NULL, 10);
	if (minor < 0 || minor > 99)
		minor = 0;
	return (int)(major * 100 + minor);
}

int
pypi_form_build(struct http_form *f, const struct dist_filename *fn,
    const struct dist_meta *m, const char *sha256, const char *blake2_256,
    struct error *err)
{
	const struct meta_map *mm;
	const char *desc;
	char safe[DIST_NAME_MAX];
	size_t i;

	if (fn->kind != DIST_WHEEL && fn->kind != DIST_SDIST)
		return error_set(err, ERR_INVALID, "INVALID_DIST",
		    "only wheels and sdists can be uploaded to a package "
		    "index");
	for (mm = meta_fields; mm->header != NULL; mm++) {
		/* License-File needs Metadata-Version 2.4 (twine drops it
		 * for older files, Warehouse would refuse it). */
		if (strcmp(mm->header, "License-File") == 0 &&
		    meta_version_num(m->metadata_version) < 204)
			continue;
		for (i = 0; i < m->n; i++) {
			const char *v = m->fields[i].value;

			if (strcasecmp(m->fields[i].key, mm->header) != 0 ||
			    !value_present(v))
				continue;
			if (strcmp(mm->field, "name") == 0) {
				pypi_safe_name(safe, sizeof(safe), v);
				v = safe;
			}
			http_form_add(f, mm->field, v);
			if (!mm->multi)
				break;
		}
		/* The description is the body (Metadata 2.1+), or the old
		 * Description header; it goes right after the summary. */
		if (strcmp(mm->header, "Summary") == 0) {
			desc = m->description ? m->description
			                      : dist_meta_get(m, "Description");
			if (value_present(desc))
				http_form_add(f, "description", desc);
		}
	}
	http_form_add(f, "pyversion",
	    fn->kind == DIST_WHEEL ? fn->python_tag : "source");
	http_form_add(f, "filetype",
	    fn->kind == DIST_WHEEL ? "bdist_wheel" : "sdist");
	http_form_add(f, "sha256_digest", sha256);
	http_form_add(f, "blake2_256_digest", blake2_256);
	http_form_add(f, ":action", "file_upload");
	http_form_add(f, "protocol_version", "1");
	return 0;
}

char *
pypi_json_url_for(const char *upload_url)
{
	const char *p, *host, *path;
	size_t hl;

	if ((p = strstr(upload_url, "://")) == NULL)
		return NULL;
	host = p + 3;
	path = strchr(host, '/');
	hl = path ? (size_t)(path - host) : strlen(host);
	if (hl == strlen("upload.pypi.org") &&
	    strncmp(host, "upload.pypi.org", hl) == 0)
		return xstrdup("https://pypi.org/pypi");
	if (hl == strlen("test.pypi.org") &&
	    strncmp(host, "test.pypi.org", hl) == 0)
		return xstrdup("https://test.pypi.org/pypi");
	if (path != NULL) {
		size_t pl = strlen(path);

		if (pl >= 8 && strcmp(path + pl - 8, "/legacy/") == 0)
			return xasprintf("%.*s/pypi", (int)(path - upload_url),
			    upload_url);
	}
	return NULL;
}

/*
 * Ask the JSON API which sha256 the index holds for filename. Returns 0
 * with *found/out_sha set, ERR_NOTFOUND when the release or file is not
 * listed, or an HTTP error. *url_out receives the file's URL (may stay
 * NULL).
 */
static int
json_lookup(const struct pypi_endpoint *ep, const struct publish_file *f,
    char sha_out[65], char **url_out, struct error *err)
{
	struct http_response resp;
	struct http_request req = { 0 };
	static const char *const hdrs[] = { "Accept: application/json", NULL };
	cJSON *root = NULL, *urls, *u;
	char norm[DIST_NAME_MAX], *url = NULL, *en = NULL, *ev = NULL;
	int rc = ERR_NOTFOUND;

	http_response_init(&resp);
	dist_normalize_name(norm, sizeof(norm), f->meta->name);
	en = http_escape(norm, false);
	ev = http_escape(f->meta->version, false);
	url = xasprintf("%s/%s/%s/json", ep->json_url, en, ev);
	req.method = "GET";
	req.url = url;
	req.headers = hdrs;
	req.what = "pypi_json";
	if ((rc = http_request(&resp, &req, err)) < 0)
		goto out;
	if (resp.status == 404) {
		rc = ERR_NOTFOUND;
		goto out;
	}
	if (resp.status != 200) {
		rc = http_status_error(&resp, "pypi_json", err);
		goto out;
	}
	rc = ERR_NOTFOUND;
	if ((root = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "",
	         resp.body.len)) == NULL)
		goto out;
	urls = cJSON_GetObjectItemCaseSensitive(root, "urls");
	cJSON_ArrayForEach(u, urls) {
		const cJSON *fnm =
		    cJSON_GetObjectItemCaseSensitive(u, "filename");
		const cJSON *dg =
		    cJSON_GetObjectItemCaseSensitive(u, "digests");
		const cJSON *sh =
		    cJSON_GetObjectItemCaseSensitive(dg, "sha256");
		const cJSON *fu = cJSON_GetObjectItemCaseSensitive(u, "url");

		if (!cJSON_IsString(fnm) ||
		    strcmp(fnm->valuestring, f->filename) != 0)
			continue;
		if (!cJSON_IsString(sh) || strlen(sh->valuestring) != 64)
			break;
		snprintf(sha_out, 65, "%s", sh->valuestring);
		for (size_t i = 0; i < 64; i++)
			sha_out[i] = (char)tolower((unsigned char)sha_out[i]);
		if (url_out != NULL && cJSON_IsString(fu))
			*url_out = xstrdup(fu->valuestring);
		rc = 0;
		break;
	}
out:
	cJSON_Delete(root);
	http_response_dispose(&resp);
	free(url);
	free(en);
	free(ev);
	return rc;
}

/* PyPI's "already exists" answers (and pypiserver's/CodeArtifact's 409),
 * as twine's --skip-existing recognises them. */
static bool
is_already_exists(const struct http_response *r)
{
	if (r->status == 409)
		return true;
	if (r->status != 400)
		return false;
	return strstr(r->reason, "already exist") != NULL ||
	       (r->body.data != NULL &&
	           strstr(r->body.data, "already exist") != NULL);
}

/*
 * The index answered that the file exists: already published when its
 * sha256 is ours (read through the JSON API), else a conflict; a JSON
 * API that cannot be reached now is ERR_TRANSIENT.
 */
static int
pypi_exists_answer(const struct pypi_endpoint *ep, const struct publish_file *f,
    const struct http_response *resp, struct publish_outcome *out,
    struct error *err)
{
	struct error jerr;
	char there[65], *file_url = NULL;
	int jrc = ERR_NOTFOUND, rc;

	if (ep->json_url != NULL)
		jrc = json_lookup(ep, f, there, &file_url, &jerr);
	if (jrc == 0 && strcmp(there, f->sha256) == 0) {
		out->status = PUBLISH_ALREADY_PRESENT;
		snprintf(out->url, sizeof(out->url), "%s",
		    file_url ? file_url : ep->url);
		rc = 0;
	} else if (jrc == 0) {
		rc = error_set(err, ERR_CONFLICT, "CONFLICT",
		    "%s: %s already exists there with sha256 %.12s..., "
		    "ours is %.12s...; nothing was overwritten",
		    ep->what, f->filename, there, f->sha256);
	} else if (jrc == ERR_TRANSIENT) {
		rc = error_set(err, ERR_TRANSIENT, "HTTP",
		    "%s: %s exists; its digest could not be read: %s", ep->what,
		    f->filename, jerr.msg);
	} else {
		rc = error_set(err, ERR_CONFLICT, "CONFLICT",
		    "%s: HTTP %ld %s (a different file of that name is "
		    "there, or its digest cannot be checked)",
		    ep->what, resp->status, resp->reason);
	}
	free(file_url);
	return rc;
}

/* One PEP 740 attestation object: what Warehouse's Attestation model
 * requires at the top (pypi-attestations: version 1, the Sigstore
 * verification material, the DSSE-like envelope). */
static bool
attestation_ok(const cJSON *a)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "version");

	return cJSON_IsObject(a) && cJSON_IsNumber(v) && v->valuedouble == 1 &&
	       cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(a,
	           "verification_material")) &&
	       cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(a, "envelope"));
}

/* Read the open attestation file (bounded) and shape the field. */
static int
attestations_parse(char **out, int afd, const char *name, struct error *err)
{
	struct stat st;
	cJSON *root = NULL, *arr = NULL, *a;
	char *text = NULL;
	ssize_t n;
	int rc = ERR_INVALID;

	if (fstat(afd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > PYPI_ATTESTATION_MAX) {
		error_set(err, rc, "INVALID_DIST",
		    "%s is not a regular file of at most %d bytes", name,
		    PYPI_ATTESTATION_MAX);
		goto out;
	}
	text = xmalloc((size_t)st.st_size + 1);
	n = pread(afd, text, (size_t)st.st_size, 0);
	if (n != (ssize_t)st.st_size) {
		error_set(err, rc, "INVALID_DIST", "cannot read %s", name);
		goto out;
	}
	if ((root = cJSON_ParseWithLength(text, (size_t)n)) == NULL) {
		error_set(err, rc, "INVALID_DIST", "%s is not JSON", name);
		goto out;
	}
	/* One object (what the publish action writes) or an array. */
	if (cJSON_IsObject(root)) {
		arr = cJSON_CreateArray();
		cJSON_AddItemToArray(arr, root);
		root = NULL;
	} else {
		arr = root;
		root = NULL;
	}
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
		error_set(err, rc, "INVALID_DIST",
		    "%s holds no attestation object", name);
		goto out;
	}
	cJSON_ArrayForEach(a, arr) {
		if (!attestation_ok(a)) {
			error_set(err, rc, "INVALID_DIST",
			    "%s: not a PEP 740 attestation (an object with "
			    "version 1, verification_material and envelope)",
			    name);
			goto out;
		}
	}
	if ((*out = cJSON_PrintUnformatted(arr)) == NULL)
		abort(); /* cJSON fails only on allocation */
	rc = 0;
out:
	cJSON_Delete(root);
	cJSON_Delete(arr);
	free(text);
	return rc;
}

int
pypi_attestations_read(char **out, int fd, const char *filename,
    struct error *err)
{
	char link[64], path[PATH_MAX], *apath = NULL, *name;
	ssize_t n;
	int afd, rc;

	*out = NULL;
	/* The dist was opened beneath the artifacts root; the kernel
	 * knows where it is. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) <= 0 || path[0] != '/')
		return 0; /* not a file on a path (a test's memfd): none */
	path[n] = '\0';
	apath = xasprintf("%s%s", path, PYPI_ATTESTATION_SUFFIX);
	name = xasprintf("%s%s", filename, PYPI_ATTESTATION_SUFFIX);
	afd = open(apath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (afd < 0 && errno == ENOENT) {
		rc = 0;
	} else if (afd < 0) {
		rc = error_set(err, ERR_INVALID, "INVALID_DIST",
		    "cannot open %s: %s", name,
		    errno == ELOOP ? "it is a symbolic link" : strerror(errno));
	} else {
		rc = attestations_parse(out, afd, name, err);
		close(afd);
		if (rc == 0)
			log_info("pypi_attestation file=%s", filename);
	}
	free(apath);
	free(name);
	return rc;
}

int
pypi_upload_file(const struct pypi_endpoint *ep, const struct publish_file *f,
    bool dry_run, struct publish_outcome *out, struct error *err)
{
	return pypi_upload_file_att(ep, f, NULL, dry_run, out, err);
}

int
pypi_upload_file_att(const struct pypi_endpoint *ep,
    const struct publish_file *f, const char *attestations, bool dry_run,
    struct publish_outcome *out, struct error *err)
{
	struct dist_filename fn;
	struct http_form form;
	struct http_body body;
	struct http_response resp;
	struct http_request req = { 0 };
	const char *hdrs[4];
	char ctype[128], *ct_hdr = NULL, there[65], *file_url = NULL;
	int rc;

	http_form_init(&form);
	http_body_init(&body);
	http_response_init(&resp);
	if (f->meta == NULL) {
		rc = error_set(err, ERR_INVALID, "INVALID_DIST",
		    "%s is not a wheel or sdist", f->filename);
		goto out;
	}
	if ((rc = dist_parse_filename(&fn, f->filename, err)) < 0)
		goto out;
	if ((rc = pypi_form_build(&form, &fn, f->meta, f->sha256, f->blake2_256,
	         err)) < 0)
		goto out;
	if (attestations != NULL)
		http_form_add(&form, "attestations", attestations);
	if ((rc = http_form_body(&body, ctype, sizeof(ctype), &form, NULL,
	         "content", f->filename, "application/octet-stream", f->fd,
	         f->size, err)) < 0)
		goto out;
	if (!http_url_allowed(ep->url)) {
		char *safe = util_redact_url(ep->url);

		rc = error_set(err, ERR_INVALID, "INVALID_TARGET",
		    "%s: URL %s refused: https is required (plain http only "
		    "to loopback)",
		    ep->what, safe);
		free(safe);
		goto out;
	}
	if (dry_run) {
		out->status = PUBLISH_DRY_RUN;
		snprintf(out->url, sizeof(out->url), "%s", ep->url);
		log_info("pypi_dry_run target=%s file=%s bytes=%llu fields=%zu",
		    ep->what, f->filename, (unsigned long long)body.size,
		    form.n);
		rc = 0;
		goto out;
	}
	/* Ask first: a file already there is not sent again (a 2 GiB wheel
	 * re-published by a redelivered event costs one GET). Any trouble
	 * with the JSON API just means we upload and let the index judge. */
	if (ep->json_url != NULL &&
	    json_lookup(ep, f, there, &file_url, NULL) == 0) {
		if (strcmp(there, f->sha256) == 0) {
			out->status = PUBLISH_ALREADY_PRESENT;
			snprintf(out->url, sizeof(out->url), "%s",
			    file_url ? file_url : ep->url);
			rc = 0;
		} else {
			rc = error_set(err, ERR_CONFLICT, "CONFLICT",
			    "%s: %s already exists there with sha256 %.12s..., "
			    "ours is %.12s...; nothing was overwritten",
			    ep->what, f->filename, there, f->sha256);
		}
		goto out;
	}
	free(file_url);
	file_url = NULL;
	ct_hdr = xasprintf("Content-Type: %s", ctype);
	hdrs[0] = ct_hdr;
	hdrs[1] = ep->auth_header;
	hdrs[2] = NULL;
	req.method = "POST";
	req.url = ep->url;
	req.headers = hdrs;
	req.body = &body;
	req.what = ep->what;
	if ((rc = http_request(&resp, &req, err)) < 0)
		goto out;
	if (resp.status == 200 || resp.status == 201) {
		out->status = PUBLISH_UPLOADED;
		snprintf(out->url, sizeof(out->url), "%s", ep->url);
		/* Where it can be fetched, when the index has a JSON API. */
		if (ep->json_url != NULL &&
		    json_lookup(ep, f, there, &file_url, NULL) == 0 &&
		    file_url != NULL)
			snprintf(out->url, sizeof(out->url), "%s", file_url);
		rc = 0;
		goto out;
	}
	if (is_already_exists(&resp)) {
		rc = pypi_exists_answer(ep, f, &resp, out, err);
		goto out;
	}
	rc = http_status_error(&resp, ep->what, err);
out:
	free(ct_hdr);
	free(file_url);
	http_response_dispose(&resp);
	http_body_dispose(&body);
	http_form_dispose(&form);
	return rc;
}

/* Minted tokens live 900 s (Warehouse); minting again before a file
 * once the token is 300 s old leaves any upload 10 minutes before it
 * would outlive the token (the index checks it when the body is in).
 * The setting may not reach 900 - OIDC_REMINT_MARGIN_S: a token minted
 * later than that would be used expired. 0: before every file. */
#define PYPI_OIDC_REMINT_DEFAULT_S 300
#define PYPI_OIDC_REMINT_MAX_S 840

/* Per-release state: the resolved endpoint, so secrets are read once. */
struct pypi_state {
	char *url;
	char *auth;
	char *json_url;
	char *what;
	/* Trusted Publishing: auth holds a minted token */
	bool oidc;
	char *origin;      /* where /_/oidc/ is served */
	int64_t minted_ms; /* util_mono_ms() of the last mint */
	int64_t remint_ms; /* mint again before a file past this age */
};

static void
pypi_state_free(void *arg)
{
	struct pypi_state *s = arg;

	if (s == NULL)
		return;
	free(s->url);
	secret_free(s->auth);
	free(s->json_url);
	free(s->what);
	free(s->origin);
	free(s);
}

/* One credential of a target and how specific its source is: the
 * target's own settings (key, key_file, key_env) 0, the type's
 * environment names 1, ~/.pypirc 2. */
struct pypi_cred {
	char *value;
	int level;
	char src[512];
};

static void
pypi_cred_get(struct pypi_cred *c, const struct publish_target *t,
    const char *key)
{
	c->value = publish_target_get_src(t, key, c->src, sizeof(c->src));
	c->level = strncmp(c->src, "environment ", 12) == 0 ? 1 : 0;
}

/* Where a target uploads and with what (pypi_auth_resolve). */
struct pypi_auth {
	char *url;
	char *user, *pass; /* Basic auth; user "__token__" for a token */
	char url_src[400];
	char src[1100];
	bool oidc; /* no credential: Trusted Publishing (user, no pass) */
};

/* The identity-token source of t: its oidc_token (oidc_token_file,
 * oidc_token_env; read now, *id the caller's: secret_free), else GitHub
 * Actions' two variables of the settings table. src says which. */
static void
pypi_oidc_source(struct oidc_source *os, char **id,
    const struct publish_target *t, char *src, size_t n)
{
	memset(os, 0, sizeof(*os));
	*id = publish_target_get_src(t, "oidc_token", src, n);
	os->id_token = *id;
	if (t->env != NULL) {
		os->request_url = t->env->actions_id_token_request_url;
		os->request_token = t->env->actions_id_token_request_token;
	}
	if (*id == NULL)
		snprintf(src, n, "environment ACTIONS_ID_TOKEN_REQUEST_URL");
}

static void
pypi_auth_dispose(struct pypi_auth *a)
{
	free(a->url);
	free(a->user);
	secret_free(a->pass);
}

/* The upload URL: a target source, else the ~/.pypirc repository (whose
 * username and password then fill *rc_user / *rc_pass), else PyPI. */
static int
pypi_url_resolve(struct pypi_auth *a, const struct publish_target *t,
    struct pypi_cred *rc_user, struct pypi_cred *rc_pass, struct error *err)
{
	struct pypirc_repo repo = { 0 };
	char *name, *path, *shown;
	int rc = 0;

	if ((a->url = publish_target_get_src(t, "url", a->url_src,
	         sizeof(a->url_src))) != NULL)
		return 0;
	/* twine: TWINE_REPOSITORY (default "pypi") names the section; the
	 * file's credentials go only to the file's URL. */
	name = publish_target_get(t, "repository");
	path = publish_target_get(t, "pypirc");
	rc = pypirc_lookup(&repo, path, name ? name : "pypi", err);
	shown = path ? xstrdup(path) : pypirc_default_path();
	if (rc == ERR_NOTFOUND && name == NULL) {
		a->url = xstrdup(PYPI_DEFAULT_URL);
		snprintf(a->url_src, sizeof(a->url_src), "default");
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	a->url = repo.url ? repo.url : xstrdup(PYPI_DEFAULT_URL);
	repo.url = NULL;
	if (repo.file_found)
		snprintf(a->url_src, sizeof(a->url_src), "pypirc %s [%s]",
		    shown ? shown : "~/.pypirc", name ? name : "pypi");
	else
		snprintf(a->url_src, sizeof(a->url_src), "default [%s]",
		    name ? name : "pypi");
	rc_user->value = repo.username;
	rc_pass->value = repo.password;
	repo.username = repo.password = NULL;
	rc_user->level = rc_pass->level = 2;
	snprintf(rc_user->src, sizeof(rc_user->src), "%s username", a->url_src);
	snprintf(rc_pass->src, sizeof(rc_pass->src), "%s password", a->url_src);
out:
	pypirc_repo_dispose(&repo);
	free(name);
	free(path);
	free(shown);
	return rc;
}

/* True when t can mint a token (pypi_oidc_source); its source into src. */
static bool
pypi_oidc_available(const struct publish_target *t, char *src, size_t n)
{
	struct oidc_source os;
	char *id;
	bool ok;

	pypi_oidc_source(&os, &id, t, src, n);
	ok = oidc_available(&os);
	secret_free(id);
	return ok;
}

/*
 * The URL and credential of a pypi target (docs/publishing.md): each
 * key by publish_target_get's order, ~/.pypirc last; then the most
 * specific source wins (a target's own settings before the environment
 * before ~/.pypirc, so a global PYPI_API_TOKEN never goes to an index
 * whose target names its own user), a token before username + password
 * at the same level, and a password alone (or with user __token__) is
 * a token. Returns 0, ERR_FAIL (AUTH: none) or ERR_INVALID (pypirc).
 */
static int
pypi_auth_resolve(struct pypi_auth *a, const struct publish_target *t,
    struct error *err)
{
	struct pypi_cred tok = { 0 }, user = { 0 }, pass = { 0 };
	struct pypi_cred rc_user = { 0 }, rc_pass = { 0 };
	int rc, pair_level;

	memset(a, 0, sizeof(*a));
	if ((rc = pypi_url_resolve(a, t, &rc_user, &rc_pass, err)) < 0)
		goto out;
	pypi_cred_get(&tok, t, "token");
	pypi_cred_get(&user, t, "username");
	pypi_cred_get(&pass, t, "password");
	if (user.value == NULL && rc_user.value != NULL) {
		user = rc_user;
		rc_user.value = NULL;
	}
	if (pass.value == NULL && rc_pass.value != NULL) {
		pass = rc_pass;
		rc_pass.value = NULL;
	}
	pair_level = user.level > pass.level ? user.level : pass.level;
	if (user.value != NULL && pass.value != NULL &&
	    strcmp(user.value, "__token__") != 0 &&
	    (tok.value == NULL || pair_level < tok.level)) {
		a->user = user.value;
		a->pass = pass.value;
		user.value = pass.value = NULL;
		snprintf(a->src, sizeof(a->src),
		    "username from %s, password "
		    "from %s",
		    user.src, pass.src);
	} else if (tok.value != NULL &&
	           (pass.value == NULL || tok.level <= pass.level)) {
		a->user = xstrdup("__token__");
		a->pass = tok.value;
		tok.value = NULL;
		snprintf(a->src, sizeof(a->src), "token from %s", tok.src);
	} else if (pass.value != NULL) {
		a->user = xstrdup("__token__");
		a->pass = pass.value;
		pass.value = NULL;
		snprintf(a->src, sizeof(a->src), "token from %s", pass.src);
	} else if (pypi_oidc_available(t, tok.src, sizeof(tok.src))) {
		a->user = xstrdup("__token__");
		a->oidc = true;
		snprintf(a->src, sizeof(a->src),
		    "trusted publishing (OIDC), identity token from %s",
		    tok.src);
	} else {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "target %s has no token (setting token/token_file/"
		    "token_env, PYPI_API_TOKEN, TWINE_PASSWORD or the "
		    "~/.pypirc repository's password) and no OIDC identity "
		    "token for Trusted Publishing (oidc_token_file, or GitHub "
		    "Actions' ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN)",
		    t->name);
	}
out:
	secret_free(tok.value);
	free(user.value);
	secret_free(pass.value);
	free(rc_user.value);
	secret_free(rc_pass.value);
	if (rc < 0)
		pypi_auth_dispose(a);
	return rc;
}

static int
pypi_credential(const struct publish_target *t, char *src, size_t n,
    struct error *err)
{
	struct pypi_auth a;
	int rc;

	if ((rc = pypi_auth_resolve(&a, t, err)) < 0)
		return rc;
	snprintf(src, n, "%s (upload URL from %s)", a.src, a.url_src);
	pypi_auth_dispose(&a);
	return 0;
}

/* Mint a token for s (oidc.h) and make it s's credential. */
static int
pypi_mint(struct pypi_state *s, const struct publish_target *t,
    struct error *err)
{
	struct oidc_source os;
	char src[512], *id = NULL, *tok = NULL;
	int rc;

	pypi_oidc_source(&os, &id, t, src, sizeof(src));
	if ((rc = oidc_mint_pypi(&tok, &os, s->origin, s->what, err)) == 0) {
		secret_free(s->auth);
		s->auth = http_basic_auth_header("__token__", tok);
		s->minted_ms = util_mono_ms();
	}
	secret_free(tok);
	secret_free(id);
	return rc;
}

/* Trusted Publishing's set-up in begin: where to mint, when to mint
 * again, and the first token (none in a dry run: nothing is sent). */
static int
pypi_oidc_begin(struct pypi_state *s, const struct publish_target *t,
    bool dry_run, struct error *err)
{
	char *v = publish_target_get(t, "oidc_remint_after"), *end = NULL;
	long long secs = PYPI_OIDC_REMINT_DEFAULT_S;

	if (v != NULL) {
		errno = 0;
		secs = strtoll(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || secs < 0 ||
		    secs > PYPI_OIDC_REMINT_MAX_S) {
			free(v);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "%s: oidc_remint_after must be 0 to %d seconds",
			    s->what, PYPI_OIDC_REMINT_MAX_S);
		}
		free(v);
	}
	s->oidc = true;
	s->remint_ms = secs * 1000;
	if ((s->origin = oidc_index_origin(s->url)) == NULL)
		return error_set(err, ERR_INVALID, "INVALID_TARGET",
		    "%s: the upload URL has no scheme://host", s->what);
	if (dry_run) {
		s->auth = http_basic_auth_header("__token__", "");
		return 0;
	}
	return pypi_mint(s, t, err);
}

static int
pypi_begin(void **state, const struct publish_target *t,
    const struct publish_release *rel, struct error *err)
{
	struct pypi_state *s = xcalloc(1, sizeof(*s));
	struct pypi_auth a;
	char *json = NULL;
	int rc;

	s->what = xstrdup(t->name);
	if ((rc = pypi_auth_resolve(&a, t, err)) < 0)
		goto out;
	s->url = a.url;
	a.url = NULL;
	/* Warehouse answers 308 to /legacy; we never follow redirects. */
	{
		size_t l = strlen(s->url);

		if (l >= 7 && strcmp(s->url + l - 7, "/legacy") == 0) {
			char *u = xasprintf("%s/", s->url);

			free(s->url);
			s->url = u;
		}
	}
	if (!a.oidc)
		s->auth = http_basic_auth_header(a.user, a.pass);
	else if ((rc = pypi_oidc_begin(s, t, rel->dry_run, err)) < 0) {
		pypi_auth_dispose(&a);
		goto out;
	}
	pypi_auth_dispose(&a);
	json = publish_target_get(t, "json_url");
	s->json_url = json ? json : pypi_json_url_for(s->url);
	json = NULL;
	*state = s;
	s = NULL;
	rc = 0;
out:
	pypi_state_free(s);
	return rc;
}

/*
 * Upload f with s's credential; with Trusted Publishing, mint first when
 * the token is older than the setting, and once more on a 403 (the
 * upload outlived the token, or the index revoked it).
 */
static int
pypi_upload_auth(struct pypi_state *s, const struct publish_target *t,
    const struct publish_file *f, bool dry_run, const char *attestations,
    struct publish_outcome *out, struct error *err)
{
	struct pypi_endpoint ep = { s->url, s->auth, s->json_url, s->what };
	int rc;

	if (s->oidc && !dry_run &&
	    util_mono_ms() - s->minted_ms >= s->remint_ms) {
		log_info("pypi_oidc_remint target=%s file=%s reason=age",
		    s->what, f->filename);
		if ((rc = pypi_mint(s, t, err)) < 0)
			return rc;
		ep.auth_header = s->auth;
	}
	rc = pypi_upload_file_att(&ep, f, attestations, dry_run, out, err);
	if (rc != ERR_FAIL || !s->oidc || dry_run ||
	    strcmp(err->code, "AUTH") != 0)
		return rc;
	log_info("pypi_oidc_remint target=%s file=%s reason=refused", s->what,
	    f->filename);
	error_clear(err);
	if ((rc = pypi_mint(s, t, err)) < 0)
		return rc;
	ep.auth_header = s->auth;
	return pypi_upload_file_att(&ep, f, attestations, dry_run, out, err);
}

static int
pypi_upload(void *state, const struct publish_target *t,
    const struct publish_release *rel, const struct publish_file *f,
    struct publish_outcome *out, struct error *err)
{
	struct pypi_state *s = state;
	char *att = NULL;
	struct dist_filename fn;
	struct dist_rules rules = { 0 };
	char *local = publish_target_get(t, "allow_local_versions");
	char *strict = publish_target_get(t, "strict_filenames");
	bool allow_local = false, strict_names = true;
	int rc;

	if (local != NULL)
		(void)util_parse_bool(&allow_local, local);
	if (strict != NULL)
		(void)util_parse_bool(&strict_names, strict);
	free(local);
	free(strict);
	/* PyPI's own rules by default; a private index may accept local
	 * versions and legacy file names, if its target says so. */
	rules.refuse_local = !allow_local;
	rules.pypi_filenames = strict_names;
	if ((rc = dist_parse_filename(&fn, f->filename, err)) < 0)
		return rc;
	if (f->meta != NULL &&
	    (rc = dist_check(&fn, f->meta, NULL, NULL, &rules, err)) < 0)
		return rc;
	if ((rc = pypi_attestations_read(&att, f->fd, f->filename, err)) < 0)
		return rc;
	rc = pypi_upload_auth(s, t, f, rel->dry_run, att, out, err);
	free(att);
	return rc;
}

/* Verification (verify.h): the sha256 the JSON API lists for the file,
 * else the one the simple index (setting simple_url, else beside the
 * JSON API) lists: indexes without the JSON API all have it. */
static int
pypi_served(void *state, const struct publish_target *t,
    const struct publish_release *rel, const struct publish_file *f,
    char served[65], struct error *err)
{
	struct pypi_state *s = state;
	struct pypi_endpoint ep = { .url = s->url,
		.auth_header = s->auth,
		.json_url = s->json_url,
		.what = s->what };
	char *simple = publish_target_get(t, "simple_url");
	int rc = ERR_NOTFOUND;

	(void)rel;
	if (f->meta == NULL)
		goto out;
	if (s->json_url != NULL &&
	    (rc = json_lookup(&ep, f, served, NULL, err)) == 0)
		goto out;
	if (simple == NULL)
		simple = verify_pypi_simple_url(s->json_url);
	if (simple != NULL)
		rc = verify_pypi_simple(simple, f->meta->name, f->filename,
		    s->what, served, err);
	else if (s->json_url == NULL)
		rc = error_set(err, ERR_FAIL, "CONFIG",
		    "%s: no json_url or simple_url to read what the index "
		    "serves",
		    s->what);
out:
	free(simple);
	return rc;
}

const struct publisher_ops pypi_publisher = {
	.type = "pypi",
	.begin = pypi_begin,
	.upload = pypi_upload,
	.finish = NULL,
	.state_free = pypi_state_free,
	.dists_only = true,
	.credential = pypi_credential,
	.served = pypi_served,
};
