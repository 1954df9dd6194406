/*
 * aws_profile.h - the AWS shared files (~/.aws/config and
 * ~/.aws/credentials) as botocore reads them: an INI reader with the
 * rules of Python's configparser.RawConfigParser, the profile maps of
 * botocore's configloader, and the profile steps of the credential chain
 * (AssumeRole with role_arn + source_profile, credential_process, keys in
 * either file).
 *
 * Values read from these files may be secrets (aws_secret_access_key,
 * aws_session_token): every string of a parsed file is wiped when it is
 * freed, and no function here puts a value into a message; messages name
 * the file, the profile and the key.
 */
#ifndef PUBLISHERS_AWS_PROFILE_H
#define PUBLISHERS_AWS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "publishers/aws_creds.h"

/* A shared config or credentials file is a few KiB even with a hundred
 * profiles; 1 MiB bounds the read before any allocation. */
#define AWS_PROFILE_FILE_MAX (1024 * 1024)
/* role_arn + source_profile may chain roles; botocore only refuses loops.
 * Eight hops is far beyond any real account layout and bounds the
 * recursion (and the STS calls) of a runaway file. */
#define AWS_PROFILE_CHAIN_MAX 8

struct aws_ini;

/*
 * Parse INI text as configparser.RawConfigParser does (the parser
 * botocore uses): "[section]" headers (case kept), "key = value" or
 * "key: value" (key lower-cased, both sides trimmed, no inline comments,
 * no interpolation), whole-line comments starting with '#' or ';',
 * indented continuation lines joined with '\n'. A line before the first
 * section, a line without '=' or ':', a duplicate section or a duplicate
 * key in one section is an error, as in configparser's strict mode.
 * `what` names the file in messages. *out is the caller's (aws_ini_free).
 * Returns 0 or ERR_INVALID (code CONFIG, with the line number).
 */
int aws_ini_parse(struct aws_ini **out, const char *text, size_t len,
    const char *what, struct error *err);

/* Read and parse the file at path (at most AWS_PROFILE_FILE_MAX bytes).
 * Returns 0, ERR_NOTFOUND (no such file: botocore's ConfigNotFound, the
 * step is skipped), ERR_INVALID (code CONFIG) or ERR_FAIL (code IO). */
int aws_ini_load(struct aws_ini **out, const char *path, struct error *err);

/* The value of key (lower case) in section, or NULL (borrowed). */
const char *aws_ini_get(const struct aws_ini *ini, const char *section,
    const char *key);

/* Number of sections, and the name of section i (borrowed). */
size_t aws_ini_count(const struct aws_ini *ini);
const char *aws_ini_section(const struct aws_ini *ini, size_t i);

/* Wipe and free ini (NULL is fine). */
void aws_ini_free(struct aws_ini *ini);

/*
 * The shared files of one resolution: the profile name (AWS_PROFILE,
 * else "default"; AWS_DEFAULT_PROFILE before AWS_PROFILE as botocore's
 * config provider reads them) and both files, each NULL when absent.
 */
struct aws_profiles {
	char *name;
	bool named; /* the name came from the environment */
	char *config_path;
	char *creds_path;
	struct aws_ini *config;
	struct aws_ini *creds;
};

/*
 * Load the profile name and both files: AWS_CONFIG_FILE (default
 * $HOME/.aws/config) and AWS_SHARED_CREDENTIALS_FILE (default
 * $HOME/.aws/credentials); a leading "~/" is $HOME. env may be NULL.
 * Returns 0, ERR_INVALID (code CONFIG: a file does not parse, or a
 * profile named in the environment is in neither file, as botocore's
 * ProfileNotFound) or ERR_FAIL (IO). Release with aws_profiles_dispose.
 */
int aws_profiles_load(struct aws_profiles *p, const struct publish_env *env,
    struct error *err);
void aws_profiles_dispose(struct aws_profiles *p);

/* key of profile in the config file's profile map ("[default]" or
 * "[profile NAME]"; the last such section wins, as botocore's dict). */
const char *aws_profile_config_get(const struct aws_profiles *p,
    const char *profile, const char *key);
/* key of profile in the credentials file ("[NAME]"). */
const char *aws_profile_creds_get(const struct aws_profiles *p,
    const char *profile, const char *key);
/* key of profile in botocore's full_config: the credentials file's value
 * wins over the config file's. */
const char *aws_profile_get(const struct aws_profiles *p, const char *profile,
    const char *key);
/* True when profile is in either file. */
bool aws_profile_exists(const struct aws_profiles *p, const char *profile);

/*
 * Split a credential_process command line into an argument vector as
 * Python's shlex.split (POSIX mode, no comments) does, which botocore's
 * ProcessProvider uses: blanks separate words, '...' is literal, "..."
 * honours \\ \" \$ \` and \<newline>, a backslash outside quotes escapes
 * the next character. *argv (NULL-terminated) is the caller's
 * (aws_argv_free). Returns 0 or ERR_INVALID (unbalanced quote, a
 * trailing backslash, no word, more than 256 words).
 */
int aws_shell_split(char ***argv, const char *cmd, struct error *err);
void aws_argv_free(char **argv);

#endif
