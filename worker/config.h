/*
 * config.h - every setting of artifactd, and where it comes from.
 *
 * One descriptor table (config.c) drives the four layers in order of
 * precedence: built-in default < config file (YAML) < environment < flag.
 * The result is one struct config passed down explicitly, never a global.
 * Secrets are held here but never printed: config_print masks them.
 */
#ifndef WORKER_CONFIG_H
#define WORKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/conventional.h"
#include "common/error.h"
#include "publishers/publisher.h"

/* One key/value setting of a publishing target ("url", "token", ...). */
struct config_kv {
	char *key;
	char *value;
	size_t line; /* in the config file, for messages */
};

/* A publishing target: its name, its type (pypi, artifactory,
 * codeartifact, s3, github) and its own settings. */
struct config_target {
	char *name;
	char *type;
	struct config_kv *kv;
	size_t nkv;
	size_t type_line; /* of "type:" in the config file */
};

/* A package of the release pipelines (seed 004): which tags are its
 * releases and where it is published. */
struct config_package {
	char *name;          /* distribution name, e.g. "open-ticket-ai" */
	char **tag_patterns; /* globs on the tag: "v*", "open-ticket-ai-v*" */
	size_t ntag_patterns;
	char **targets; /* names of config_target */
	size_t ntargets;
	bool tag_patterns_set; /* while loading: a second spelling is refused */
	/* A RELEASE_TAGGED of the package also builds and publishes
	 * <Name>_v<version>.zip of the tag's tree (store_bundle), of
	 * bundle_paths only when some are given (docs/releasing.md). */
	bool bundle;
	char **bundle_paths;
	size_t nbundle_paths;
	/* How its commits bump the version: python-semantic-release 7's
	 * parser_angular_* / major_on_zero / patch_without_tag settings
	 * (docs/releasing.md); its defaults unless the package sets them. */
	struct conv_rules rules;
};

struct config {
	/* bus */
	char *redis_url;
	char *sentinel_master;   /* redis+sentinel://: the master's name */
	char *sentinel_password; /* redis+sentinel://: AUTH to sentinels */
	char *tls_ca_file;       /* rediss:// (events/tls.h) */
	char *tls_ca_dir;
	char *tls_cert_file;
	char *tls_key_file;
	bool tls_insecure;
	char *test_stream;
	char *release_stream;
	char *output_stream;
	char *output_channel;
	char *group;
	char *consumer;
	char **input_channels; /* Pub/Sub bridge channels, may be empty */
	size_t ninput_channels;
	long long block_ms;
	long long claim_idle_ms;
	long long max_deliveries;
	long long max_attempts;
	long long drain_timeout_ms;
	long long stream_maxlen; /* MAXLEN ~ on the output stream, 0: none */
	/* store */
	char *repo;
	char *remote_url;
	char *remote_name;
	char *base_branch;
	char *branch_prefix;
	char *path_template;
	char *task_dir_mode; /* "replace" or "merge" */
	char *strategy_path; /* template under artifacts_root, "": none */
	long long max_rollback_depth; /* 0: no limit */
	char *expire_after;           /* age (store_age_parse), NULL: no job */
	char *expire_interval;        /* age between runs of the job */
	bool expire_archive;
	bool expire_tags;
	char *author_name;
	char *author_email;
	bool include_metadata;
	char *metadata_filename;
	bool auto_push;
	bool git_fsync;
	long long push_timeout_s;
	/* coalesced pushes (store/push_batch.c) */
	long long push_window_ms;
	char *git_username; /* push credentials (store_creds) */
	char *git_token;
	char *git_password;
	char *git_ssh_key;
	char *git_ssh_pubkey;
	char *git_ssh_passphrase;
	char *git_ssh_host_key;
	char *signing_key; /* path of the OpenSSH ed25519 signing key */
	bool scan_for_secrets;
	char **secret_patterns;
	size_t nsecret_patterns;
	char **secret_allow;
	size_t nsecret_allow;
	char *scan_ignore_file; /* .gitleaksignore-style, NULL: none */
	bool require_test_passed;
	bool require_correlation_id;
	char *artifacts_root;
	long long max_file_bytes;
	long long max_event_files_bytes;
	/* runtime */
	long long concurrency;
	char *http_addr;
	char *log_format;
	char *log_level;
	/* publishing */
	struct config_target *targets;
	size_t ntargets;
	struct config_package *packages;
	size_t npackages;
	bool dry_run;
	/* the publishers' environment names (publisher.h), borrowed by
	 * struct release_config */
	struct publish_env publish_env;
	/* where it came from */
	char *config_file;
};

/* Fill cfg with the built-in defaults. */
void config_defaults(struct config *cfg);

/*
 * Apply the config file (path may be NULL: then ARTIFACTD_CONFIG, or
 * none), then the environment (getenv, *_FILE for secrets). Returns 0 or
 * ERR_INVALID with a message naming the file, line and key.
 */
int config_load(struct config *cfg, const char *path, struct error *err);

/*
 * Set one setting by its long flag name ("redis-url", "repo", ...).
 * Returns 0, ERR_NOTFOUND for an unknown name, ERR_INVALID for a bad
 * value.
 */
int config_set(struct config *cfg, const char *name, const char *value,
    struct error *err);

/* True when the setting called name ("redis-url", ...) holds a secret:
 * masked in output, and wiped from argv once parsed (cli.c). */
bool config_is_secret(const char *name);

/* Check cross-field constraints after all layers. Returns 0/ERR_INVALID. */
int config_validate(const struct config *cfg, struct error *err);

/* Hand the tls-* settings to events/ (endpoint_tls_defaults), for every
 * rediss:// connection made afterwards; config_validate does it too. Every
 * command runs it once the flags are applied (main.c). */
void config_apply_tls(const struct config *cfg);

/* Print the effective settings, secrets masked, as text or JSON. */
void config_print(const struct config *cfg, bool json);

/* A target's setting, or NULL. */
const char *config_target_get(const struct config_target *t, const char *key);

/* Print every setting: flag, environment name and one line of help. */
void config_describe(void);

/* Print the settings table as Markdown (flag and YAML key, environment
 * names, default, meaning): the table of docs/guide.md is this output,
 * and tests/integration/test_guide_settings fails when they differ. */
void config_print_markdown(void);

void config_dispose(struct config *cfg);

#endif
