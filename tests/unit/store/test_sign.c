/*
 * test_sign.c - the signing key and SSHSIG: a key made by ssh-keygen is
 * loaded, and since Ed25519 is deterministic our armored signature must
 * be byte for byte the one `ssh-keygen -Y sign -n git` makes of the same
 * message. Unusable keys (missing, 0644, RSA, passphrase) are refused
 * with a message that says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/sign.h"

static char dir[] = "/tmp/test_sign_XXXXXX";

/* Run cmd (owned, freed here); it must succeed. */
static void
sh(char *cmd)
{
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* ssh-keygen a key without a passphrase unless pass is given. */
static void
keygen(const char *type, const char *pass, const char *name)
{
	sh(xasprintf("ssh-keygen -q -t %s -N '%s' -C t -f %s/%s </dev/null",
	    type, pass, dir, name));
}

static char *
slurp(const char *path, size_t *len)
{
	char *text = NULL;
	struct error err = { 0 };

	assert_int_equal(util_read_file(&text, len, path, 1 << 20, &err), 0);
	return text;
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	keygen("ed25519", "", "ed");
	return 0;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf %s", dir);

	(void)state;
	if (system(cmd) != 0)
		print_message("could not remove %s\n", dir);
	free(cmd);
	return 0;
}

static void
test_matches_ssh_keygen(void **state)
{
	static const char *const msgs[] = { "", "hello\n",
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <a@b> "
		"1 +0000\ncommitter a <a@b> 1 +0000\n\nmsg\n" };
	struct sign_key *k = NULL;
	struct error err = { 0 };
	char *path = xasprintf("%s/ed", dir), *ours, *theirs, *pub, *line;
	char *mpath = xasprintf("%s/msg", dir), *spath;
	size_t i, len;
	FILE *f;

	(void)state;
	assert_int_equal(sign_key_load(&k, path, &err), 0);
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		f = fopen(mpath, "w");
		assert_non_null(f);
		fputs(msgs[i], f);
		fclose(f);
		sh(xasprintf("rm -f %s/msg.sig; ssh-keygen -q -Y sign -n git "
		             "-f %s/ed %s/msg </dev/null",
		    dir, dir, dir));
		spath = xasprintf("%s/msg.sig", dir);
		theirs = slurp(spath, &len);
		assert_int_equal(sign_sshsig(&ours, k, "git", msgs[i],
		                     strlen(msgs[i]), &err),
		    0);
		assert_string_equal(ours, theirs);
		free(ours);
		free(theirs);
		free(spath);
	}
	/* The public line is the .pub file's (same comment). */
	free(path);
	path = xasprintf("%s/ed.pub", dir);
	pub = slurp(path, &len);
	line = sign_public_line(k, "t");
	assert_int_equal(strncmp(pub, line, strlen(line)), 0);
	free(line);
	free(pub);
	free(path);
	free(mpath);
	sign_key_free(k);
}

static void
test_raw_verify(void **state)
{
	struct sign_key *k = NULL;
	struct error err = { 0 };
	unsigned char sig[64];
	char *path = xasprintf("%s/ed", dir), id[SIGN_KEYID_HEX];

	(void)state;
	assert_int_equal(sign_key_load(&k, path, &err), 0);
	assert_int_equal(sign_raw(sig, k, "payload", 7, &err), 0);
	assert_true(sign_verify_raw(sign_key_public(k), sig, "payload", 7));
	assert_false(sign_verify_raw(sign_key_public(k), sig, "payloaD", 7));
	sig[3] ^= 1;
	assert_false(sign_verify_raw(sign_key_public(k), sig, "payload", 7));
	sign_keyid(k, id);
	assert_int_equal(strlen(id), 64);
	sign_key_free(k);
	free(path);
}

static void
expect_refused(const char *setting, const char *words)
{
	struct sign_key *k = NULL;
	struct error err = { 0 };

	assert_int_equal(sign_key_load(&k, setting, &err), ERR_INVALID);
	assert_null(k);
	assert_string_equal(err.code, "INVALID_CONFIG");
	if (strstr(err.msg, words) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err.msg, words);
}

static void
test_refused(void **state)
{
	char *p;

	(void)state;
	p = xasprintf("%s/missing", dir);
	expect_refused(p, "No such file");
	free(p);

	sh(xasprintf("cp %s/ed %s/open; chmod 644 %s/open", dir, dir, dir));
	p = xasprintf("%s/open", dir);
	expect_refused(p, "too open");
	free(p);

	keygen("rsa", "", "rsa");
	p = xasprintf("%s/rsa", dir);
	expect_refused(p, "not an ed25519 key");
	free(p);

	keygen("ed25519", "secretpass", "enc");
	p = xasprintf("%s/enc", dir);
	expect_refused(p, "passphrase-protected keys are not supported");
	free(p);

	keygen("ecdsa", "", "ec");
	p = xasprintf("%s/ec", dir);
	expect_refused(p, "not an ed25519 key");
	free(p);

	expect_refused("-----BEGIN OPENSSH PRIVATE KEY-----\n", "the path");
	sh(xasprintf("printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nAAAA\\n"
	             "-----END OPENSSH PRIVATE KEY-----\\n' >%s/short; "
	             "chmod 600 %s/short",
	    dir, dir));
	p = xasprintf("%s/short", dir);
	expect_refused(p, "openssh-key-v1");
	free(p);
	sh(xasprintf("openssl genpkey -algorithm ed25519 -out %s/pem; "
	             "chmod 600 %s/pem",
	    dir, dir));
	p = xasprintf("%s/pem", dir);
	expect_refused(p, "PEM key");
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_ssh_keygen),
		cmocka_unit_test(test_raw_verify),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
