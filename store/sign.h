/*
 * sign.h - the signing key (issue 16): an OpenSSH ed25519 private key,
 * SSHSIG signatures as `ssh-keygen -Y sign` makes them (what git's
 * gpg.format=ssh verifies in commits and tags) and raw Ed25519
 * signatures (DSSE provenance envelopes), all through OpenSSL 3, with no
 * ssh-keygen process.
 *
 * Only the unencrypted openssh-key-v1 format (cipher "none") holding one
 * ssh-ed25519 key is accepted: an encrypted key would need a passphrase
 * the daemon cannot be given interactively, and git verifies ed25519
 * with every ssh-keygen since 8.2.
 */
#ifndef STORE_SIGN_H
#define STORE_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct sign_key;

/* A key file is a few hundred bytes (ed25519: ~400); the ceiling bounds
 * the read before anything is parsed. */
#define SIGN_KEY_FILE_MAX (16 * 1024)

/* Hex of SHA-256 over the raw 32-byte public key, NUL-terminated. */
#define SIGN_KEYID_HEX 65

/*
 * Load the signing-key setting: the path of an OpenSSH private key file
 * (the key's text itself is refused: the setting is not masked, a path
 * is not a secret). The file must be a regular file that neither group
 * nor others may read (ssh's rule: mode & 077 == 0). On
 * success *out is the caller's (sign_key_free). Returns 0 or ERR_INVALID
 * (code INVALID_CONFIG) naming what is wrong: missing file, permissions,
 * not OpenSSH format, passphrase-protected, not ed25519. Never prints
 * key material.
 */
int sign_key_load(struct sign_key **out, const char *setting,
    struct error *err);

/* Load and free: what check-config and config_validate call. */
int sign_key_check(const char *setting, struct error *err);

/* Parse the text of an OpenSSH private key (len bytes). Same codes. */
int sign_key_parse(struct sign_key **out, const char *text, size_t len,
    struct error *err);

/* Wipe and free; NULL is fine. */
void sign_key_free(struct sign_key *k);

/* The raw 32-byte public key (borrowed). */
const unsigned char *sign_key_public(const struct sign_key *k);

/* "ssh-ed25519 AAAA... <comment>" (no comment when NULL); caller frees. */
char *sign_public_line(const struct sign_key *k, const char *comment);

/* The same for a raw public key. */
char *sign_public_line_raw(const unsigned char pub[32], const char *comment);

/*
 * The raw key of a public key line: "ssh-ed25519 AAAA... [comment]", as
 * in a .pub file or after the principals of an allowed-signers line (the
 * first "ssh-ed25519 " of the text is used). Returns 0 or ERR_INVALID
 * (code INVALID_ARGUMENT).
 */
int sign_public_parse(unsigned char pub[32], const char *text,
    struct error *err);

/* keyid: lower-case hex of SHA-256 over the raw 32-byte public key. */
void sign_keyid(const struct sign_key *k, char out[SIGN_KEYID_HEX]);

/*
 * SSHSIG signature of msg under namespace ns (SHA-512), armored as
 * ssh-keygen writes it ("-----BEGIN SSH SIGNATURE-----", base64 lines
 * of 70, "-----END SSH SIGNATURE-----\n"). Caller frees. Returns 0 or
 * ERR_FAIL (code SIGN: OpenSSL refused).
 */
int sign_sshsig(char **out, const struct sign_key *k, const char *ns,
    const void *msg, size_t len, struct error *err);

/* Raw Ed25519 signature (64 bytes) of msg. Returns 0 or ERR_FAIL. */
int sign_raw(unsigned char sig[64], const struct sign_key *k, const void *msg,
    size_t len, struct error *err);

/* True when sig is pub's Ed25519 signature of msg. */
bool sign_verify_raw(const unsigned char pub[32], const unsigned char sig[64],
    const void *msg, size_t len);

#endif
