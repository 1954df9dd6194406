/*
 * cmd_verify_provenance.c - `artifactd verify-provenance <correlation_id>`
 * checks the provenance.intoto.json of the artifact tagged corr_<id>:
 * the DSSE signature with the configured signing key's public half (or
 * --public-key FILE), its keyid, and every subject's SHA-256 against the
 * tagged commit's files. Exit 0 when all holds, 1 on any mismatch.
 *
 * Also the lines check-config prints for the signing key: the public key
 * and the allowed-signers line git's gpg.ssh.allowedSignersFile wants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "store/provenance.h"
#include "store/sign.h"
#include "store/store.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"

/* A public key file is one line; an allowed-signers file a few. */
#define VERIFY_PUBKEY_MAX (64 * 1024)

struct verify_opts {
	bool json;
	const char *pubkey;
};

static int
verify_opt(const char *name, const char *value, void *arg)
{
	struct verify_opts *o = arg;

	if (strcmp(name, "json") == 0)
		o->json = true;
	else if (strcmp(name, "public-key") == 0)
		o->pubkey = value;
	return 0;
}

/* The public key to verify with: --public-key, else the signing key's. */
static int
verify_pubkey(unsigned char pub[32], const struct verify_opts *o,
    const struct config *cfg, struct error *err)
{
	struct sign_key *k = NULL;
	char *text = NULL;
	size_t len;
	int rc;

	if (o->pubkey != NULL) {
		if ((rc = util_read_file(&text, &len, o->pubkey,
		         VERIFY_PUBKEY_MAX, err)) < 0)
			return rc;
		rc = sign_public_parse(pub, text, err);
		free(text);
		return rc;
	}
	if (cfg->signing_key == NULL || *cfg->signing_key == '\0')
		return error_set(err, ERR_INVALID, "INVALID_ARGUMENT",
		    "no signing-key configured: give --public-key FILE");
	if ((rc = sign_key_load(&k, cfg->signing_key, err)) < 0)
		return rc;
	memcpy(pub, sign_key_public(k), 32);
	sign_key_free(k);
	return 0;
}

int
cmd_verify_provenance(int argc, char **argv, struct config *cfg)
{
	static const struct cli_opt opts[] = {
		{ "json", 0, false, "print the result as JSON" },
		{ "public-key", 0, true,
		    "ssh-ed25519 public key file (default: signing-key's)" },
	};
	static const struct cli_spec spec = { "verify-provenance",
		"<correlation_id> [--public-key FILE] [--json]",
		"Check the provenance.intoto.json of the artifact tagged "
		"corr_<id>: the\nDSSE signature, its keyid and the SHA-256 of "
		"every subject against the\ntagged commit's files. Exits 1 "
		"on any mismatch.",
		opts, 2, 1, 1 };
	struct verify_opts o = { false, NULL };
	struct store *st = NULL;
	struct error err = { 0 };
	unsigned char pub[32];
	char **args = NULL, *report = NULL;
	size_t nargs = 0;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, verify_opt, &o, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	app_log_init(cfg);
	if (verify_pubkey(pub, &o, cfg, &err) < 0) {
		rc = cli_fail_error(&spec, o.json, CLI_EXIT_USAGE, &err);
		goto out;
	}
	if (app_open_store(&st, cfg, &err) < 0 ||
	    provenance_verify(st, args[0], pub, &report, &err) < 0) {
		rc = cli_fail_error(&spec, o.json, CLI_EXIT_FAILED, &err);
		goto out;
	}
	if (o.json)
		printf("{\"ok\":true}\n");
	else
		printf("%sprovenance ok\n", report);
	rc = 0;
out:
	free(report);
	free(args);
	store_free(st);
	return rc;
}

void
cmd_signing_print(const struct config *cfg)
{
	struct sign_key *k = NULL;
	struct error err = { 0 };
	char *line;

	if (cfg->signing_key == NULL || *cfg->signing_key == '\0' ||
	    sign_key_load(&k, cfg->signing_key, &err) < 0)
		return;
	line = sign_public_line(k, "artifactd");
	printf("# signing public key: %s\n", line);
	free(line);
	line = sign_public_line(k, NULL);
	printf("# allowed signers: %s namespaces=\"git\" %s\n",
	    cfg->author_email, line);
	free(line);
	sign_key_free(k);
}
