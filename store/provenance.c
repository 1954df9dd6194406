/*
 * provenance.c - build and verify provenance.intoto.json, the DSSE
 * envelope of an in-toto Statement v1 that every artifact commit carries
 * while a signing key is configured (issue 16).
 *
 * DSSE signs the pre-authentication encoding
 *	"DSSEv1" SP len(type) SP type SP len(payload) SP payload
 * (lengths in decimal ASCII, payload the raw statement bytes, not its
 * base64), so a verifier never parses JSON it has not authenticated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/provenance.h"
#include "store/sign.h"
#include "store/store_int.h"

static cJSON *
prov_str(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* DSSE's pre-authentication encoding of the payload. */
static char *
prov_pae(const char *payload, size_t plen, size_t *outlen)
{
	struct buf b;

	buf_init(&b, PROVENANCE_MAX + 256);
	(void)buf_printf(&b, "DSSEv1 %zu %s %zu ",
	    strlen(PROVENANCE_PAYLOAD_TYPE), PROVENANCE_PAYLOAD_TYPE, plen);
	(void)buf_append(&b, payload, plen);
	return buf_detach(&b, outlen);
}

static char *
prov_statement(const struct provenance_in *in, const char *publine)
{
	cJSON *st = cJSON_CreateObject(), *subj, *s, *d, *p;
	char hex[UTIL_SHA256_HEX], *text;
	size_t i;

	cJSON_AddStringToObject(st, "_type", "https://in-toto.io/Statement/v1");
	subj = cJSON_AddArrayToObject(st, "subject");
	for (i = 0; i < in->n; i++) {
		util_sha256_hex(hex, in->data[i] ? in->data[i] : "",
		    in->len[i]);
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "name", in->names[i]);
		d = cJSON_AddObjectToObject(s, "digest");
		cJSON_AddStringToObject(d, "sha256", hex);
		cJSON_AddItemToArray(subj, s);
	}
	cJSON_AddStringToObject(st, "predicateType", PROVENANCE_PREDICATE_TYPE);
	p = cJSON_AddObjectToObject(st, "predicate");
	cJSON_AddItemToObject(p, "event_id", prov_str(in->event_id));
	cJSON_AddItemToObject(p, "correlation_id",
	    prov_str(in->correlation_id));
	cJSON_AddItemToObject(p, "workflow_id", prov_str(in->workflow_id));
	cJSON_AddItemToObject(p, "task_id", prov_str(in->task_id));
	cJSON_AddItemToObject(p, "prompt_hash", prov_str(in->prompt_hash));
	cJSON_AddItemToObject(p, "agent_version", prov_str(in->agent_version));
	cJSON_AddItemToObject(p, "llm_version", prov_str(in->llm_version));
	cJSON_AddItemToObject(p, "test_metrics",
	    in->test_metrics ? cJSON_Duplicate(in->test_metrics, 1)
	                     : cJSON_CreateObject());
	cJSON_AddItemToObject(p, "commit_timestamp", prov_str(in->timestamp));
	cJSON_AddItemToObject(p, "branch", prov_str(in->branch));
	cJSON_AddStringToObject(p, "artifactd_version", ARTIFACTD_VERSION);
	cJSON_AddItemToObject(p, "consumer", prov_str(in->consumer));
	cJSON_AddStringToObject(p, "public_key", publine);
	text = cJSON_PrintUnformatted(st);
	cJSON_Delete(st);
	if (text == NULL)
		abort(); /* cJSON only fails on allocation */
	return text;
}

int
provenance_envelope(char **out, const struct sign_key *k, const char *payload,
    size_t plen, bool oneline, struct error *err)
{
	unsigned char sig[64];
	char keyid[SIGN_KEYID_HEX], *pae, *b64p, *b64s;
	size_t paelen;
	cJSON *env, *sigs, *s;
	int rc;

	pae = prov_pae(payload, plen, &paelen);
	rc = sign_raw(sig, k, pae, paelen, err);
	free(pae);
	if (rc < 0)
		return rc;
	sign_keyid(k, keyid);
	b64p = util_base64_encode(payload, plen);
	b64s = util_base64_encode(sig, sizeof(sig));
	env = cJSON_CreateObject();
	cJSON_AddStringToObject(env, "payloadType", PROVENANCE_PAYLOAD_TYPE);
	cJSON_AddStringToObject(env, "payload", b64p);
	sigs = cJSON_AddArrayToObject(env, "signatures");
	s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "keyid", keyid);
	cJSON_AddStringToObject(s, "sig", b64s);
	cJSON_AddItemToArray(sigs, s);
	*out = oneline ? cJSON_PrintUnformatted(env) : cJSON_Print(env);
	cJSON_Delete(env);
	if (*out == NULL)
		abort();
	free(b64p);
	free(b64s);
	return 0;
}

int
provenance_build(char **out, const struct sign_key *k,
    const struct provenance_in *in, struct error *err)
{
	char *publine, *payload;
	int rc;

	publine = sign_public_line(k, NULL);
	payload = prov_statement(in, publine);
	rc = provenance_envelope(out, k, payload, strlen(payload), false, err);
	free(payload);
	free(publine);
	return rc;
}

/* The bytes of the blob at path in tree (caller frees), bounded. */
static int
prov_read_blob(char **out, size_t *len, git_repository *repo, git_tree *tree,
    const char *path, size_t max, struct error *err)
{
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	int grc, rc = ERR_NOTFOUND;

	if (git_tree_entry_bypath(&e, tree, path) < 0 ||
	    git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
		git_error_clear();
		error_set(err, rc, "NOT_FOUND", "no %s in the commit", path);
		goto out;
	}
	if ((grc = STORE_GIT(
	         git_blob_lookup(&blob, repo, git_tree_entry_id(e)))) < 0) {
		rc = store_git_error(err, grc, "read blob");
		goto out;
	}
	if ((size_t)git_blob_rawsize(blob) > max) {
		rc = error_set(err, ERR_FAIL, "GIT", "%s is larger than %zu",
		    path, max);
		goto out;
	}
	*len = (size_t)git_blob_rawsize(blob);
	*out = xmalloc(*len + 1);
	memcpy(*out, git_blob_rawcontent(blob), *len);
	(*out)[*len] = '\0';
	rc = 0;
out:
	git_blob_free(blob);
	git_tree_entry_free(e);
	return rc;
}

/* Signature and keyid of the envelope; *statement gets the payload. */
static int
prov_check_envelope(cJSON **statement, const char *text, size_t len,
    const unsigned char pub[32], struct buf *rep, struct error *err)
{
	cJSON *env = cJSON_ParseWithLength(text, len), *s;
	const char *ptype, *b64p, *keyid, *b64s;
	char *payload = NULL, *sig = NULL, *pae = NULL, want[SIGN_KEYID_HEX];
	size_t plen = 0, slen = 0, paelen;
	int rc = ERR_INVALID;

	ptype = cJSON_GetStringValue(cJSON_GetObjectItem(env, "payloadType"));
	b64p = cJSON_GetStringValue(cJSON_GetObjectItem(env, "payload"));
	s = cJSON_GetArrayItem(cJSON_GetObjectItem(env, "signatures"), 0);
	keyid = cJSON_GetStringValue(cJSON_GetObjectItem(s, "keyid"));
	b64s = cJSON_GetStringValue(cJSON_GetObjectItem(s, "sig"));
	if (ptype == NULL || b64p == NULL || keyid == NULL || b64s == NULL ||
	    strcmp(ptype, PROVENANCE_PAYLOAD_TYPE) != 0 ||
	    util_base64_decode(&payload, &plen, b64p, strlen(b64p)) < 0 ||
	    util_base64_decode(&sig, &slen, b64s, strlen(b64s)) < 0 ||
	    slen != 64) {
		error_set(err, rc, "PROVENANCE_MISMATCH",
		    "the envelope is not a DSSE envelope of %s",
		    PROVENANCE_PAYLOAD_TYPE);
		goto out;
	}
	util_sha256_hex(want, pub, 32);
	if (strcmp(keyid, want) != 0) {
		error_set(err, rc, "PROVENANCE_MISMATCH",
		    "keyid %.64s is not the key's %s", keyid, want);
		goto out;
	}
	pae = prov_pae(payload, plen, &paelen);
	if (!sign_verify_raw(pub, (const unsigned char *)sig, pae, paelen)) {
		error_set(err, rc, "PROVENANCE_MISMATCH",
		    "the envelope's signature does not verify");
		goto out;
	}
	(void)buf_printf(rep, "signature ok keyid=%s\n", keyid);
	*statement = cJSON_ParseWithLength(payload, plen);
	if (*statement == NULL) {
		error_set(err, rc, "PROVENANCE_MISMATCH",
		    "the signed payload is not JSON");
		goto out;
	}
	rc = 0;
out:
	free(payload);
	free(sig);
	free(pae);
	cJSON_Delete(env);
	return rc;
}

/* Every subject's digest against the commit's file. */
static int
prov_check_subjects(const cJSON *statement, git_repository *repo,
    git_tree *tree, struct buf *rep, struct error *err)
{
	const cJSON *subj = cJSON_GetObjectItem(statement, "subject"), *s;
	const char *type;
	char hex[UTIL_SHA256_HEX], *data;
	size_t len, n = 0;
	int rc;

	type = cJSON_GetStringValue(
	    cJSON_GetObjectItem(statement, "predicateType"));
	if (!cJSON_IsArray(subj) || type == NULL ||
	    strcmp(type, PROVENANCE_PREDICATE_TYPE) != 0)
		return error_set(err, ERR_INVALID, "PROVENANCE_MISMATCH",
		    "the statement has no subjects or another predicate");
	cJSON_ArrayForEach(s, subj) {
		const char *name =
		    cJSON_GetStringValue(cJSON_GetObjectItem(s, "name"));
		const char *want = cJSON_GetStringValue(
		    cJSON_GetObjectItem(cJSON_GetObjectItem(s, "digest"),
		        "sha256"));

		if (name == NULL || want == NULL)
			return error_set(err, ERR_INVALID,
			    "PROVENANCE_MISMATCH",
			    "a subject lacks a name or "
			    "a sha256");
		data = NULL;
		rc = prov_read_blob(&data, &len, repo, tree, name, SIZE_MAX,
		    err);
		if (rc == ERR_NOTFOUND)
			return error_set(err, ERR_INVALID,
			    "PROVENANCE_MISMATCH", "%s is not in the commit",
			    name);
		if (rc < 0)
			return rc;
		util_sha256_hex(hex, data, len);
		free(data);
		if (strcmp(hex, want) != 0)
			return error_set(err, ERR_INVALID,
			    "PROVENANCE_MISMATCH",
			    "%s: sha256 %s, provenance says %.64s", name, hex,
			    want);
		(void)buf_printf(rep, "subject ok %s sha256=%s\n", name, hex);
		n++;
	}
	if (n == 0)
		return error_set(err, ERR_INVALID, "PROVENANCE_MISMATCH",
		    "the statement has no subjects");
	return 0;
}

int
provenance_verify(struct store *st, const char *correlation_id,
    const unsigned char pub[32], char **report, struct error *err)
{
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	struct store_trailers t;
	struct buf rep;
	cJSON *statement = NULL;
	git_oid cid;
	char *tag = NULL, *ref = NULL, *dir = NULL, *path = NULL, *text = NULL;
	size_t len = 0;
	int grc, rc;

	if (!util_id_valid(correlation_id))
		return error_set(err, ERR_INVALID, "INVALID_ARGUMENT",
		    "correlation_id must be 1-128 characters of "
		    "[A-Za-z0-9._-]");
	buf_init(&rep, PROVENANCE_MAX);
	if ((rc = store_repo_acquire(st, &repo, err)) < 0)
		goto out;
	tag = store_corr_tag(correlation_id);
	ref = xasprintf("refs/tags/%s", tag);
	if ((rc = store_ref_commit(&cid, repo, ref, err)) < 0) {
		if (rc == ERR_NOTFOUND)
			error_set(err, rc, "NOT_FOUND", "no tag %s", tag);
		goto out;
	}
	if ((grc = STORE_GIT(git_commit_lookup(&c, repo, &cid))) < 0 ||
	    (grc = STORE_GIT(git_commit_tree(&tree, c))) < 0) {
		rc = store_git_error(err, grc, "read tagged commit");
		goto out;
	}
	store_trailers_parse(&t, git_commit_message(c));
	dir = store_task_dir(st, t.workflow_id, t.task_id);
	path = dir[0] ? xasprintf("%s/%s", dir, PROVENANCE_FILENAME)
	              : xstrdup(PROVENANCE_FILENAME);
	if ((rc = prov_read_blob(&text, &len, repo, tree, path, PROVENANCE_MAX,
	         err)) < 0)
		goto out;
	(void)buf_printf(&rep, "commit %s %s\n", git_oid_tostr_s(&cid), path);
	if ((rc = prov_check_envelope(&statement, text, len, pub, &rep, err)) <
	        0 ||
	    (rc = prov_check_subjects(statement, repo, tree, &rep, err)) < 0)
		goto out;
	*report = buf_detach(&rep, NULL);
	rc = 0;
out:
	cJSON_Delete(statement);
	git_tree_free(tree);
	git_commit_free(c);
	store_repo_release(st, repo);
	buf_dispose(&rep);
	free(text);
	free(path);
	free(dir);
	free(ref);
	free(tag);
	return rc;
}
