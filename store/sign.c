/*
 * sign.c - the signing key: parse an OpenSSH ed25519 private key, make
 * SSHSIG signatures for git (PROTOCOL.sshsig) and raw Ed25519 ones for
 * DSSE, through OpenSSL 3's EVP interface.
 *
 * Ed25519 is deterministic, so an SSHSIG made here is byte for byte the
 * one `ssh-keygen -Y sign -n git` makes with the same key and message;
 * tests/unit/store/test_sign.c holds us to that. Key bytes are wiped
 * when freed; no message ever quotes them.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/buf.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/sign.h"

#define SIGN_ARMOR_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define SIGN_ARMOR_END "-----END OPENSSH PRIVATE KEY-----"
#define SIGN_AUTH_MAGIC "openssh-key-v1"
#define SIGN_KEYTYPE "ssh-ed25519"

/* Columns of an armored SSH signature, as ssh-keygen wraps it
 * (sshbuf_dtob64 with SSHSIG_LINE_LEN... 70 in sshsig.c). */
#define SIGN_ARMOR_COLS 70

struct sign_key {
	unsigned char seed[32]; /* the private half */
	unsigned char pub[32];
	EVP_PKEY *pkey;
};

/* A cursor over the SSH wire format (RFC 4251 uint32 and string). */
struct sign_rd {
	const unsigned char *p;
	size_t n;
};

static bool
sign_rd_u32(struct sign_rd *r, uint32_t *v)
{
	if (r->n < 4)
		return false;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	     (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->n -= 4;
	return true;
}

static bool
sign_rd_str(struct sign_rd *r, const unsigned char **s, size_t *len)
{
	uint32_t l;

	if (!sign_rd_u32(r, &l) || l > r->n)
		return false;
	*s = r->p;
	*len = l;
	r->p += l;
	r->n -= l;
	return true;
}

static bool
sign_rd_is(struct sign_rd *r, const char *want)
{
	const unsigned char *s;
	size_t len;

	return sign_rd_str(r, &s, &len) && len == strlen(want) &&
	       memcmp(s, want, len) == 0;
}

static void
sign_put_u32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)(v >> 24),
		(unsigned char)(v >> 16), (unsigned char)(v >> 8),
		(unsigned char)v };

	(void)buf_append(b, c, 4);
}

static void
sign_put_str(struct buf *b, const void *s, size_t len)
{
	sign_put_u32(b, (uint32_t)len);
	(void)buf_append(b, s, len);
}

static void
sign_put_cstr(struct buf *b, const char *s)
{
	sign_put_str(b, s, strlen(s));
}

/* The public key blob: string "ssh-ed25519", string pub. */
static void
sign_put_pubblob(struct buf *b, const unsigned char pub[32])
{
	struct buf blob;

	buf_init(&blob, 256);
	sign_put_cstr(&blob, SIGN_KEYTYPE);
	sign_put_str(&blob, pub, 32);
	sign_put_str(b, blob.data, blob.len);
	buf_dispose(&blob);
}

/* The base64 body between the armor lines, decoded. */
static int
sign_unarmor(char **out, size_t *outlen, const char *text, size_t len,
    struct error *err)
{
	const char *b, *e, *end = text + len;

	b = memmem(text, len, SIGN_ARMOR_BEGIN, strlen(SIGN_ARMOR_BEGIN));
	if (b == NULL) {
		if (memmem(text, len, "PRIVATE KEY-----", 16) != NULL)
			return error_set(err, ERR_INVALID, "INVALID_CONFIG",
			    "signing-key is a PEM key, not an OpenSSH one "
			    "(only ssh-ed25519 keys in OpenSSH format are "
			    "supported: ssh-keygen -t ed25519)");
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "signing-key is not an OpenSSH private key");
	}
	b += strlen(SIGN_ARMOR_BEGIN);
	e = memmem(b, (size_t)(end - b), SIGN_ARMOR_END,
	    strlen(SIGN_ARMOR_END));
	if (e == NULL ||
	    util_base64_decode(out, outlen, b, (size_t)(e - b)) < 0)
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "signing-key: the OpenSSH key is damaged");
	return 0;
}

static int
sign_key_finish(struct sign_key *k, struct error *err)
{
	k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed,
	    sizeof(k->seed));
	if (k->pkey == NULL)
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "signing-key: OpenSSL refused the ed25519 key");
	return 0;
}

/* The private section: checkints, then one ssh-ed25519 key. */
static int
sign_parse_private(struct sign_key *k, struct sign_rd *r, struct error *err)
{
	const unsigned char *pub, *priv;
	size_t publen, privlen;
	uint32_t c1, c2;

	if (!sign_rd_u32(r, &c1) || !sign_rd_u32(r, &c2) || c1 != c2)
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "signing-key: the OpenSSH key is damaged");
	if (!sign_rd_is(r, SIGN_KEYTYPE))
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "signing-key is not an ed25519 key (only ssh-ed25519 "
		    "is supported: ssh-keygen -t ed25519)");
	if (!sign_rd_str(r, &pub, &publen) || publen != 32 ||
	    !sign_rd_str(r, &priv, &privlen) || privlen != 64 ||
	    memcmp(priv + 32, pub, 32) != 0)
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "signing-key: the ed25519 key is damaged");
	memcpy(k->seed, priv, 32);
	memcpy(k->pub, pub, 32);
	return 0;
}

int
sign_key_parse(struct sign_key **out, const char *text, size_t len,
    struct error *err)
{
	struct sign_key *k = xcalloc(1, sizeof(*k));
	struct sign_rd r, pubr;
	const unsigned char *s, *pubblob;
	size_t slen, publen;
	char *raw = NULL;
	size_t rawlen = 0;
	uint32_t nkeys;
	unsigned char derived[32];
	size_t dlen = sizeof(derived);
	int rc;

	if ((rc = sign_unarmor(&raw, &rawlen, text, len, err)) < 0)
		goto out;
	rc = ERR_INVALID;
	r.p = (const unsigned char *)raw;
	r.n = rawlen;
	if (r.n < sizeof(SIGN_AUTH_MAGIC) ||
	    memcmp(r.p, SIGN_AUTH_MAGIC, sizeof(SIGN_AUTH_MAGIC)) != 0) {
		error_set(err, rc, "INVALID_CONFIG",
		    "signing-key is not in openssh-key-v1 format");
		goto out;
	}
	r.p += sizeof(SIGN_AUTH_MAGIC);
	r.n -= sizeof(SIGN_AUTH_MAGIC);
	if (!sign_rd_str(&r, &s, &slen)) {
		error_set(err, rc, "INVALID_CONFIG",
		    "signing-key: the OpenSSH key is damaged");
		goto out;
	}
	if (slen != 4 || memcmp(s, "none", 4) != 0) {
		error_set(err, rc, "INVALID_CONFIG",
		    "signing-key is encrypted: passphrase-protected keys are "
		    "not supported (remove it with ssh-keygen -p -N '')");
		goto out;
	}
	/* kdfname, kdfoptions, one key, its public blob, the private
	 * section (unencrypted: no padding to strip before parsing). */
	if (!sign_rd_str(&r, &s, &slen) || !sign_rd_str(&r, &s, &slen) ||
	    !sign_rd_u32(&r, &nkeys) || nkeys != 1 ||
	    !sign_rd_str(&r, &pubblob, &publen) ||
	    !sign_rd_str(&r, &s, &slen)) {
		error_set(err, rc, "INVALID_CONFIG",
		    "signing-key: the OpenSSH key is damaged or holds more "
		    "than one key");
		goto out;
	}
	pubr.p = pubblob;
	pubr.n = publen;
	if (!sign_rd_is(&pubr, SIGN_KEYTYPE)) {
		error_set(err, rc, "INVALID_CONFIG",
		    "signing-key is not an ed25519 key (only ssh-ed25519 "
		    "is supported: ssh-keygen -t ed25519)");
		goto out;
	}
	r.p = s;
	r.n = slen;
	if ((rc = sign_parse_private(k, &r, err)) < 0 ||
	    (rc = sign_key_finish(k, err)) < 0)
		goto out;
	/* The stored public half must be the one the seed gives. */
	if (EVP_PKEY_get_raw_public_key(k->pkey, derived, &dlen) != 1 ||
	    dlen != 32 || memcmp(derived, k->pub, 32) != 0) {
		rc = error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "signing-key: the public half does not match the "
		    "private key");
		goto out;
	}
	*out = k;
	k = NULL;
	rc = 0;
out:
	if (raw != NULL) {
		OPENSSL_cleanse(raw, rawlen);
		free(raw);
	}
	sign_key_free(k);
	return rc;
}

/* Read a key file: regular, mode & 077 == 0 (ssh's rule), bounded. */
static int
sign_read_file(char **out, size_t *outlen, const char *path, struct error *err)
{
	struct stat sb;
	char *text = NULL;
	ssize_t n;
	size_t len = 0;
	int fd, rc = ERR_INVALID;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0)
		return error_set(err, rc, "INVALID_CONFIG",
		    "signing-key %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		error_set(err, rc, "INVALID_CONFIG",
		    "signing-key %s is not a regular file", path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		error_set(err, rc, "INVALID_CONFIG",
		    "signing-key %s: permissions %04o are too open: group "
		    "and others must not read a private key (chmod 600)",
		    path, (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (sb.st_size > SIGN_KEY_FILE_MAX) {
		error_set(err, rc, "INVALID_CONFIG",
		    "signing-key %s is larger than %d bytes", path,
		    SIGN_KEY_FILE_MAX);
		goto out;
	}
	text = xmalloc(SIGN_KEY_FILE_MAX + 1);
	while ((n = read(fd, text + len, SIGN_KEY_FILE_MAX + 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0 || len > SIGN_KEY_FILE_MAX) {
		error_set(err, rc, "INVALID_CONFIG",
		    "signing-key %s could not be read whole", path);
		goto out;
	}
	*out = text;
	*outlen = len;
	text = NULL;
	rc = 0;
out:
	if (text != NULL) {
		OPENSSL_cleanse(text, SIGN_KEY_FILE_MAX + 1);
		free(text);
	}
	close(fd);
	return rc;
}

int
sign_key_load(struct sign_key **out, const char *setting, struct error *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (setting == NULL || *setting == '\0')
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "signing-key is empty");
	if (strncmp(setting, "-----BEGIN", 10) == 0)
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "signing-key must be the path of the key file, not the "
		    "key itself");
	if ((rc = sign_read_file(&text, &len, setting, err)) < 0)
		return rc;
	rc = sign_key_parse(out, text, len, err);
	OPENSSL_cleanse(text, SIGN_KEY_FILE_MAX + 1);
	free(text);
	return rc;
}

int
sign_key_check(const char *setting, struct error *err)
{
	struct sign_key *k = NULL;
	int rc = sign_key_load(&k, setting, err);

	sign_key_free(k);
	return rc;
}

void
sign_key_free(struct sign_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

const unsigned char *
sign_key_public(const struct sign_key *k)
{
	return k->pub;
}

char *
sign_public_line_raw(const unsigned char pub[32], const char *comment)
{
	struct buf b;
	char *b64, *line;

	buf_init(&b, 256);
	sign_put_cstr(&b, SIGN_KEYTYPE);
	sign_put_str(&b, pub, 32);
	b64 = util_base64_encode(b.data, b.len);
	buf_dispose(&b);
	line = comment ? xasprintf("%s %s %s", SIGN_KEYTYPE, b64, comment)
	               : xasprintf("%s %s", SIGN_KEYTYPE, b64);
	free(b64);
	return line;
}

char *
sign_public_line(const struct sign_key *k, const char *comment)
{
	return sign_public_line_raw(k->pub, comment);
}

int
sign_public_parse(unsigned char pub[32], const char *text, struct error *err)
{
	const char *b = strstr(text, SIGN_KEYTYPE " ");
	const unsigned char *k;
	struct sign_rd r;
	char *raw = NULL;
	size_t rawlen = 0, klen;
	int rc = 0;

	if (b == NULL)
		return error_set(err, ERR_INVALID, "INVALID_ARGUMENT",
		    "no ssh-ed25519 public key in the text");
	b += strlen(SIGN_KEYTYPE) + 1;
	if (util_base64_decode(&raw, &rawlen, b, strcspn(b, " \t\r\n")) < 0)
		return error_set(err, ERR_INVALID, "INVALID_ARGUMENT",
		    "the ssh-ed25519 public key is not base64");
	r.p = (const unsigned char *)raw;
	r.n = rawlen;
	if (!sign_rd_is(&r, SIGN_KEYTYPE) || !sign_rd_str(&r, &k, &klen) ||
	    klen != 32 || r.n != 0)
		rc = error_set(err, ERR_INVALID, "INVALID_ARGUMENT",
		    "the ssh-ed25519 public key is damaged");
	else
		memcpy(pub, k, 32);
	free(raw);
	return rc;
}

void
sign_keyid(const struct sign_key *k, char out[SIGN_KEYID_HEX])
{
	util_sha256_hex(out, k->pub, 32);
}

int
sign_raw(unsigned char sig[64], const struct sign_key *k, const void *msg,
    size_t len, struct error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 64;
	int rc = 0;

	if (ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, msg, len) != 1 || siglen != 64)
		rc = error_set(err, ERR_FAIL, "SIGN",
		    "OpenSSL could not sign with the ed25519 key");
	EVP_MD_CTX_free(ctx);
	return rc;
}

bool
sign_verify_raw(const unsigned char pub[32], const unsigned char sig[64],
    const void *msg, size_t len)
{
	EVP_PKEY *pk;
	EVP_MD_CTX *ctx;
	bool ok = false;

	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	ctx = EVP_MD_CTX_new();
	if (pk != NULL && ctx != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1)
		ok = EVP_DigestVerify(ctx, sig, 64, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return ok;
}

/* Armor a signature blob: base64 in lines of SIGN_ARMOR_COLS. */
static char *
sign_armor(const struct buf *blob)
{
	struct buf b;
	char *b64 = util_base64_encode(blob->data, blob->len), *out;
	size_t i, n = strlen(b64);

	buf_init(&b, 1024 * 1024);
	(void)buf_printf(&b, "-----BEGIN SSH SIGNATURE-----\n");
	for (i = 0; i < n; i += SIGN_ARMOR_COLS) {
		(void)buf_append(&b, b64 + i,
		    n - i < SIGN_ARMOR_COLS ? n - i : SIGN_ARMOR_COLS);
		(void)buf_append(&b, "\n", 1);
	}
	(void)buf_printf(&b, "-----END SSH SIGNATURE-----\n");
	free(b64);
	out = buf_detach(&b, NULL);
	return out;
}

int
sign_sshsig(char **out, const struct sign_key *k, const char *ns,
    const void *msg, size_t len, struct error *err)
{
	unsigned char h[SHA512_DIGEST_LENGTH], sig[64];
	struct buf tbs, blob, sigblob;
	int rc;

	SHA512(msg, len, h);
	/* What is signed (PROTOCOL.sshsig): the preamble, namespace,
	 * reserved, hash algorithm and the message's hash. */
	buf_init(&tbs, 1024);
	(void)buf_append(&tbs, "SSHSIG", 6);
	sign_put_cstr(&tbs, ns);
	sign_put_str(&tbs, "", 0);
	sign_put_cstr(&tbs, "sha512");
	sign_put_str(&tbs, h, sizeof(h));
	rc = sign_raw(sig, k, tbs.data, tbs.len, err);
	buf_dispose(&tbs);
	if (rc < 0)
		return rc;
	buf_init(&sigblob, 256);
	sign_put_cstr(&sigblob, SIGN_KEYTYPE);
	sign_put_str(&sigblob, sig, sizeof(sig));
	buf_init(&blob, 1024);
	(void)buf_append(&blob, "SSHSIG", 6);
	sign_put_u32(&blob, 1);
	sign_put_pubblob(&blob, k->pub);
	sign_put_cstr(&blob, ns);
	sign_put_str(&blob, "", 0);
	sign_put_cstr(&blob, "sha512");
	sign_put_str(&blob, sigblob.data, sigblob.len);
	*out = sign_armor(&blob);
	buf_dispose(&sigblob);
	buf_dispose(&blob);
	return 0;
}
