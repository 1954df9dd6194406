/*
 * config.c - the settings table and its four layers.
 *
 * One descriptor per setting names its flag, its environment variables
 * (ours first, then the names users bring from the seeds and tools), its
 * type, its default and whether it is secret. Defaults, the YAML file,
 * the environment and flags all go through config_set_desc(), so a value
 * is checked the same way wherever it comes from.
 */
#include "worker/config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "events/endpoint.h"
#include "publishers/publisher.h"
#include "store/sign.h"
#include "store/store.h"
#include "worker/repos.h"

enum config_type { CT_STR, CT_INT, CT_BOOL, CT_LIST };

struct config_desc {
	const char *name;   /* flag and YAML key ('-' or '_') */
	const char *env[3]; /* environment names, first wins */
	const char *alias;  /* another YAML key (the seed's name) */
	enum config_type type;
	size_t off;       /* of the value in struct config */
	size_t count_off; /* CT_LIST: of the size_t count */
	const char *def;  /* default (NULL: none) */
	long long max;    /* CT_INT upper bound */
	bool secret;      /* masked in output, NAME_FILE honoured */
	const char *help;
};

static int config_check_branch_prefix(const char *value, struct error *err);
static int config_check_base_branch(const char *value, struct error *err);
static int config_check_task_dir_mode(const char *value, struct error *err);
static int config_check_age(const char *value, struct error *err);

/* Checks of a string setting beyond its type, by name. */
static const struct config_check {
	const char *name;
	int (*check)(const char *value, struct error *err);
} config_checks[] = {
	{ "base-branch", config_check_base_branch },
	{ "branch-prefix", config_check_branch_prefix },
	{ "task-dir-mode", config_check_task_dir_mode },
	{ "expire-after", config_check_age },
	{ "expire-interval", config_check_age },
};

#define F(field) offsetof(struct config, field)
#define KIB 1024LL
#define MIB (1024LL * 1024)

/* Ordered as check-config prints them. */
static const struct config_desc config_descs[] = {
	{ "redis-url", { "ARTIFACTD_REDIS_URL" }, NULL, CT_STR, F(redis_url), 0,
	    "redis://127.0.0.1:6379/0", 0, true,
	    "redis://[user:pass@]host:port/db, rediss:// (TLS) or "
	    "unix:///path" },
	{ "sentinel-master", { "ARTIFACTD_SENTINEL_MASTER" }, NULL, CT_STR,
	    F(sentinel_master), 0, NULL, 0, false,
	    "redis+sentinel://: master name, when the URL has none" },
	{ "sentinel-password",
	    { "ARTIFACTD_SENTINEL_PASSWORD", "REDIS_SENTINEL_PASSWORD" }, NULL,
	    CT_STR, F(sentinel_password), 0, NULL, 0, true,
	    "redis+sentinel://: password of the sentinels (AUTH)" },
	{ "tls-ca-file", { "ARTIFACTD_TLS_CA_FILE" }, NULL, CT_STR,
	    F(tls_ca_file), 0, NULL, 0, false,
	    "rediss://: CA certificates (PEM) to verify Redis with "
	    "(default: the system's)" },
	{ "tls-ca-dir", { "ARTIFACTD_TLS_CA_DIR" }, NULL, CT_STR, F(tls_ca_dir),
	    0, NULL, 0, false,
	    "rediss://: directory of hashed CA certificates" },
	{ "tls-cert-file", { "ARTIFACTD_TLS_CERT_FILE" }, NULL, CT_STR,
	    F(tls_cert_file), 0, NULL, 0, false,
	    "rediss://: client certificate (PEM), for tls-auth-clients" },
	{ "tls-key-file", { "ARTIFACTD_TLS_KEY_FILE" }, NULL, CT_STR,
	    F(tls_key_file), 0, NULL, 0, false,
	    "rediss://: key of the client certificate (PEM)" },
	{ "tls-insecure", { "ARTIFACTD_TLS_INSECURE" }, NULL, CT_BOOL,
	    F(tls_insecure), 0, "false", 0, false,
	    "rediss://: do not verify Redis's certificate (warned on every "
	    "connect)" },
	{ "test-stream", { "ARTIFACTD_TEST_STREAM" }, NULL, CT_STR,
	    F(test_stream), 0, "test_results", 0, false,
	    "input stream of test results" },
	{ "release-stream", { "ARTIFACTD_RELEASE_STREAM" }, NULL, CT_STR,
	    F(release_stream), 0, "release_events", 0, false,
	    "input stream of release tags" },
	{ "output-stream", { "ARTIFACTD_OUTPUT_STREAM" }, NULL, CT_STR,
	    F(output_stream), 0, "workflow_events", 0, false,
	    "stream of everything artifactd says" },
	{ "output-channel", { "ARTIFACTD_OUTPUT_CHANNEL" }, NULL, CT_STR,
	    F(output_channel), 0, "workflow_events", 0, false,
	    "Pub/Sub channel the outcome events are also published on" },
	{ "group", { "ARTIFACTD_GROUP" }, NULL, CT_STR, F(group), 0,
	    "artifactd", 0, false, "consumer group" },
	{ "consumer", { "ARTIFACTD_CONSUMER" }, NULL, CT_STR, F(consumer), 0,
	    NULL, 0, false, "consumer name (default <hostname>-<pid>)" },
	{ "input-channels", { "ARTIFACTD_INPUT_CHANNELS" }, NULL, CT_LIST,
	    F(input_channels), F(ninput_channels), "", 0, false,
	    "Pub/Sub channels the bridge appends to the streams" },
	{ "block-ms", { "ARTIFACTD_BLOCK_MS" }, NULL, CT_INT, F(block_ms), 0,
	    "5000", 60000, false, "XREADGROUP BLOCK time" },
	{ "claim-idle-ms", { "ARTIFACTD_CLAIM_IDLE_MS" }, NULL, CT_INT,
	    F(claim_idle_ms), 0, "60000", 86400000, false,
	    "idle time after which another worker's entry is claimed" },
	{ "max-deliveries", { "ARTIFACTD_MAX_DELIVERIES" }, NULL, CT_INT,
	    F(max_deliveries), 0, "5", 1000, false,
	    "deliveries before an entry is dead-lettered" },
	{ "max-attempts", { "ARTIFACTD_MAX_ATTEMPTS" }, NULL, CT_INT,
	    F(max_attempts), 0, "8", 1000, false,
	    "attempts of a transient failure before dead-lettering" },
	{ "drain-timeout-ms", { "ARTIFACTD_DRAIN_TIMEOUT_MS" }, NULL, CT_INT,
	    F(drain_timeout_ms), 0, "25000", 3600000, false,
	    "time in-flight handlers get after SIGTERM" },
	{ "stream-maxlen", { "ARTIFACTD_STREAM_MAXLEN" }, NULL, CT_INT,
	    F(stream_maxlen), 0, "1000000", LLONG_MAX, false,
	    "approximate MAXLEN of the output stream (0: unbounded)" },
	{ "repo", { "ARTIFACTD_REPO" }, "repo_path", CT_STR, F(repo), 0,
	    "./artifacts.git", 0, false,
	    "git repository (created bare if absent)" },
	{ "remote-url", { "ARTIFACTD_REMOTE_URL" }, NULL, CT_STR, F(remote_url),
	    0, NULL, 0, true,
	    "remote to clone from and push to (none: no push)" },
	{ "remote-name", { "ARTIFACTD_REMOTE_NAME", "GIT_REMOTE_NAME" }, NULL,
	    CT_STR, F(remote_name), 0, "origin", 0, false, "git remote name" },
	{ "base-branch", { "ARTIFACTD_BASE_BRANCH" }, NULL, CT_STR,
	    F(base_branch), 0, "main", 0, false,
	    "branch new task branches start from" },
	{ "branch-prefix", { "ARTIFACTD_BRANCH_PREFIX" }, NULL, CT_STR,
	    F(branch_prefix), 0, "ai/generated", 0, false,
	    "prefix of task branches" },
	{ "path-template", { "ARTIFACTD_PATH_TEMPLATE" }, NULL, CT_STR,
	    F(path_template), 0, "Backtest/codes/{task_id}", 0, false,
	    "directory of a task's files ({task_id}, {workflow_id})" },
	{ "task-dir-mode", { "ARTIFACTD_TASK_DIR_MODE" }, NULL, CT_STR,
	    F(task_dir_mode), 0, "replace", 0, false,
	    "replace: a commit's task directory holds exactly its event's "
	    "files; merge: earlier files stay" },
	{ "strategy-path", { "ARTIFACTD_STRATEGY_PATH" }, NULL, CT_STR,
	    F(strategy_path), 0, "Backtest/codes/{task_id}.py", 0, false,
	    "file under artifacts-root committed too when it exists "
	    "({task_id}, {workflow_id}; empty: none)" },
	{ "max-rollback-depth", { "ARTIFACTD_MAX_ROLLBACK_DEPTH" }, NULL,
	    CT_INT, F(max_rollback_depth), 0, "10", 1000000, false,
	    "revert restores only a commit at most N commits behind its task "
	    "branch's tip (0: no limit)" },
	{ "expire-after", { "ARTIFACTD_EXPIRE_AFTER" }, NULL, CT_STR,
	    F(expire_after), 0, NULL, 0, false,
	    "run: remove task branches whose tip is older (30d, 12h; none: "
	    "off)" },
	{ "expire-interval", { "ARTIFACTD_EXPIRE_INTERVAL" }, NULL, CT_STR,
	    F(expire_interval), 0, "1h", 0, false,
	    "run: how often the expiry job runs (one worker at a time)" },
	{ "expire-archive", { "ARTIFACTD_EXPIRE_ARCHIVE" }, NULL, CT_BOOL,
	    F(expire_archive), 0, "true", 0, false,
	    "run: keep expired branches under refs/archive/" },
	{ "expire-tags", { "ARTIFACTD_EXPIRE_TAGS" }, NULL, CT_BOOL,
	    F(expire_tags), 0, "false", 0, false,
	    "run: also delete the corr_/prompt_ tags of expired branches" },
	{ "author-name", { "ARTIFACTD_AUTHOR_NAME", "GIT_AUTHOR_NAME" },
	    "commit_author_name", CT_STR, F(author_name), 0, "algo-agent-bot",
	    0, false, "commit author name" },
	{ "author-email", { "ARTIFACTD_AUTHOR_EMAIL", "GIT_AUTHOR_EMAIL" },
	    "commit_author_email", CT_STR, F(author_email), 0,
	    "algo-agent@example.com", 0, false, "commit author email" },
	{ "include-metadata", { "ARTIFACTD_INCLUDE_METADATA" }, NULL, CT_BOOL,
	    F(include_metadata), 0, "true", 0, false,
	    "write metadata.json next to the files" },
	{ "metadata-filename", { "ARTIFACTD_METADATA_FILENAME" }, NULL, CT_STR,
	    F(metadata_filename), 0, "metadata.json", 0, false,
	    "name of the metadata file" },
	{ "auto-push", { "ARTIFACTD_AUTO_PUSH" }, NULL, CT_BOOL, F(auto_push),
	    0, "true", 0, false, "push after each commit (with a remote)" },
	{ "git-fsync", { "ARTIFACTD_GIT_FSYNC" }, NULL, CT_BOOL, F(git_fsync),
	    0, "true", 0, false,
	    "fsync each group's pack and every ref before answering (durable "
	    "across power loss; false: faster, a crash may lose answered "
	    "commits)" },
	{ "push-timeout", { "ARTIFACTD_PUSH_TIMEOUT", "GIT_PUSH_TIMEOUT" },
	    NULL, CT_INT, F(push_timeout_s), 0, "30", 3600, false,
	    "hard deadline of one push, seconds" },
	/* At most 10 s: every answer waits for its push, and a window
	 * longer than a few seconds only delays answers. */
	{ "push-window-ms", { "ARTIFACTD_PUSH_WINDOW_MS" }, NULL, CT_INT,
	    F(push_window_ms), 0, "200", 10000, false,
	    "refs ready within this window go out in one push (0: one push "
	    "per event)" },
	{ "git-username", { "ARTIFACTD_GIT_USERNAME" }, NULL, CT_STR,
	    F(git_username), 0, NULL, 0, true,
	    "user name for git over HTTPS (default x-access-token)" },
	{ "git-token", { "ARTIFACTD_GIT_TOKEN" }, NULL, CT_STR, F(git_token), 0,
	    NULL, 0, true, "token for git over HTTPS" },
	{ "git-password", { "ARTIFACTD_GIT_PASSWORD" }, NULL, CT_STR,
	    F(git_password), 0, NULL, 0, true,
	    "password for git over HTTPS (when no token)" },
	{ "git-ssh-key",
	    { "ARTIFACTD_GIT_SSH_KEY", "ARTIFACTD_GIT_SSH_KEY_FILE" }, NULL,
	    CT_STR, F(git_ssh_key), 0, NULL, 0, false,
	    "path of the SSH private key (none: the ssh-agent)" },
	{ "git-ssh-pubkey",
	    { "ARTIFACTD_GIT_SSH_PUBKEY", "ARTIFACTD_GIT_SSH_PUBKEY_FILE" },
	    NULL, CT_STR, F(git_ssh_pubkey), 0, NULL, 0, false,
	    "path of the SSH public key (optional)" },
	{ "git-ssh-passphrase", { "ARTIFACTD_GIT_SSH_PASSPHRASE" }, NULL,
	    CT_STR, F(git_ssh_passphrase), 0, NULL, 0, true,
	    "passphrase of the SSH private key" },
	{ "git-ssh-host-key", { "ARTIFACTD_GIT_SSH_HOST_KEY" }, NULL, CT_STR,
	    F(git_ssh_host_key), 0, NULL, 0, false,
	    "SHA256:... fingerprint of an SSH host key not in known_hosts" },
	{ "signing-key",
	    { "ARTIFACTD_SIGNING_KEY", "ARTIFACTD_SIGNING_KEY_FILE" }, NULL,
	    CT_STR, F(signing_key), 0, NULL, 0, false,
	    "path of the OpenSSH ed25519 key that signs commits, tags and "
	    "provenance (none: unsigned)" },
	{ "scan-for-secrets", { "ARTIFACTD_SCAN_FOR_SECRETS" }, NULL, CT_BOOL,
	    F(scan_for_secrets), 0, "true", 0, false,
	    "refuse files that contain secrets" },
	{ "secret-patterns", { "ARTIFACTD_SECRET_PATTERNS" }, NULL, CT_LIST,
	    F(secret_patterns), F(nsecret_patterns), "", 0, false,
	    "extra PCRE2 patterns (newline-separated in the environment)" },
	{ "secret-allow", { "ARTIFACTD_SECRET_ALLOW" }, NULL, CT_LIST,
	    F(secret_allow), F(nsecret_allow), "", 0, false,
	    "fingerprints of known non-secrets to allow" },
	{ "scan-ignore-file", { "ARTIFACTD_SCAN_IGNORE_FILE" }, NULL, CT_STR,
	    F(scan_ignore_file), 0, NULL, 0, false,
	    "a .gitleaksignore-style file of allowed hits (none: no file)" },
	{ "require-test-passed", { "ARTIFACTD_REQUIRE_TEST_PASSED" }, NULL,
	    CT_BOOL, F(require_test_passed), 0, "true", 0, false,
	    "commit only TEST_PASSED events" },
	{ "require-correlation-id", { "ARTIFACTD_REQUIRE_CORRELATION_ID" },
	    NULL, CT_BOOL, F(require_correlation_id), 0, "true", 0, false,
	    "refuse events without a correlation_id" },
	{ "artifacts-root", { "ARTIFACTD_ARTIFACTS_ROOT" }, NULL, CT_STR,
	    F(artifacts_root), 0, ".", 0, false,
	    "event file paths must resolve inside it" },
	{ "max-file-bytes", { "ARTIFACTD_MAX_FILE_BYTES" }, NULL, CT_INT,
	    F(max_file_bytes), 0, "67108864", 4 * 1024 * MIB, false,
	    "largest artifact file committed" },
	{ "max-event-files-bytes", { "ARTIFACTD_MAX_EVENT_FILES_BYTES" }, NULL,
	    CT_INT, F(max_event_files_bytes), 0, "268435456", 16 * 1024 * MIB,
	    false, "largest total of one event's files" },
	{ "concurrency", { "ARTIFACTD_CONCURRENCY" }, NULL, CT_INT,
	    F(concurrency), 0, NULL, 256, false,
	    "handler threads (default: number of cores)" },
	{ "http-addr", { "ARTIFACTD_HTTP_ADDR" }, NULL, CT_STR, F(http_addr), 0,
	    "127.0.0.1:9464", 0, false,
	    "health and metrics listener (empty: off)" },
	{ "log-format", { "ARTIFACTD_LOG_FORMAT" }, NULL, CT_STR, F(log_format),
	    0, "text", 0, false, "text or json" },
	{ "log-level", { "ARTIFACTD_LOG_LEVEL" }, NULL, CT_STR, F(log_level), 0,
	    "info", 0, false, "debug, info or warn" },
	{ "dry-run", { "ARTIFACTD_DRY_RUN" }, NULL, CT_BOOL, F(dry_run), 0,
	    "false", 0, false, "build and check uploads, send nothing" },
	/* The publishers' environment names (struct publish_env), one row
	 * each: a target's setting wins over them (publisher.h). */
	{ "twine-repository-url", { "TWINE_REPOSITORY_URL" }, NULL, CT_STR,
	    F(publish_env.twine_repository_url), 0, NULL, 0, false,
	    "pypi targets: upload URL (default "
	    "https://upload.pypi.org/legacy/)" },
	{ "pypi-api-token", { "PYPI_API_TOKEN" }, NULL, CT_STR,
	    F(publish_env.pypi_api_token), 0, NULL, 0, true,
	    "pypi targets: API token" },
	{ "twine-username", { "TWINE_USERNAME" }, NULL, CT_STR,
	    F(publish_env.twine_username), 0, NULL, 0, false,
	    "pypi targets: user name (with twine-password)" },
	{ "twine-password", { "TWINE_PASSWORD" }, NULL, CT_STR,
	    F(publish_env.twine_password), 0, NULL, 0, true,
	    "pypi targets: password, or a token with user __token__" },
	{ "twine-repository", { "TWINE_REPOSITORY" }, NULL, CT_STR,
	    F(publish_env.twine_repository), 0, NULL, 0, false,
	    "pypi targets: section of ~/.pypirc" },
	{ "artifactory-url", { "ARTIFACTORY_URL" }, NULL, CT_STR,
	    F(publish_env.artifactory_url), 0, NULL, 0, false,
	    "artifactory targets: base URL" },
	{ "artifactory-username", { "ARTIFACTORY_USERNAME" }, NULL, CT_STR,
	    F(publish_env.artifactory_username), 0, NULL, 0, false,
	    "artifactory targets: user name" },
	{ "artifactory-password", { "ARTIFACTORY_PASSWORD" }, NULL, CT_STR,
	    F(publish_env.artifactory_password), 0, NULL, 0, true,
	    "artifactory targets: password" },
	{ "artifactory-access-token", { "ARTIFACTORY_ACCESS_TOKEN" }, NULL,
	    CT_STR, F(publish_env.artifactory_access_token), 0, NULL, 0, true,
	    "artifactory targets: bearer token" },
	{ "artifactory-repository", { "ARTIFACTORY_REPOSITORY" }, NULL, CT_STR,
	    F(publish_env.artifactory_repository), 0, NULL, 0, false,
	    "artifactory targets: repository" },
	{ "gh-token", { "GH_TOKEN" }, NULL, CT_STR, F(publish_env.gh_token), 0,
	    NULL, 0, true,
	    "github targets: token (before github-token, as gh reads them)" },
	{ "github-token", { "GITHUB_TOKEN" }, NULL, CT_STR,
	    F(publish_env.github_token), 0, NULL, 0, true,
	    "github targets: token" },
	{ "github-repository", { "GITHUB_REPOSITORY" }, NULL, CT_STR,
	    F(publish_env.github_repository), 0, NULL, 0, false,
	    "github targets: owner/name" },
	{ "github-api-url", { "GITHUB_API_URL" }, NULL, CT_STR,
	    F(publish_env.github_api_url), 0, NULL, 0, false,
	    "github targets: API URL (GitHub Enterprise)" },
	{ "s3-wheels-bucket", { "S3_WHEELS_BUCKET" }, NULL, CT_STR,
	    F(publish_env.s3_wheels_bucket), 0, NULL, 0, false,
	    "s3 targets: bucket" },
	{ "codeartifact-domain", { "CODEARTIFACT_DOMAIN" }, NULL, CT_STR,
	    F(publish_env.codeartifact_domain), 0, NULL, 0, false,
	    "codeartifact targets: domain" },
	{ "codeartifact-account-id", { "CODEARTIFACT_ACCOUNT_ID" }, NULL,
	    CT_STR, F(publish_env.codeartifact_account_id), 0, NULL, 0, false,
	    "codeartifact targets: domain owner (account id)" },
	{ "codeartifact-repository", { "CODEARTIFACT_REPOSITORY" }, NULL,
	    CT_STR, F(publish_env.codeartifact_repository), 0, NULL, 0, false,
	    "codeartifact targets: repository" },
	{ "aws-access-key-id", { "AWS_ACCESS_KEY_ID" }, NULL, CT_STR,
	    F(publish_env.aws_access_key_id), 0, NULL, 0, true,
	    "AWS targets: access key id (with aws-secret-access-key)" },
	{ "aws-secret-access-key", { "AWS_SECRET_ACCESS_KEY" }, NULL, CT_STR,
	    F(publish_env.aws_secret_access_key), 0, NULL, 0, true,
	    "AWS targets: secret access key" },
	{ "aws-session-token", { "AWS_SESSION_TOKEN" }, NULL, CT_STR,
	    F(publish_env.aws_session_token), 0, NULL, 0, true,
	    "AWS targets: session token of temporary keys" },
	{ "aws-security-token", { "AWS_SECURITY_TOKEN" }, NULL, CT_STR,
	    F(publish_env.aws_security_token), 0, NULL, 0, true,
	    "AWS targets: older name of aws-session-token" },
	{ "aws-role-arn", { "AWS_ROLE_ARN" }, NULL, CT_STR,
	    F(publish_env.aws_role_arn), 0, NULL, 0, false,
	    "AWS targets: role to assume with a web identity token" },
	{ "aws-web-identity-token-file", { "AWS_WEB_IDENTITY_TOKEN_FILE" },
	    NULL, CT_STR, F(publish_env.aws_web_identity_token_file), 0, NULL,
	    0, false,
	    "AWS targets: path of the web identity token (read on each use)" },
	{ "aws-role-session-name", { "AWS_ROLE_SESSION_NAME" }, NULL, CT_STR,
	    F(publish_env.aws_role_session_name), 0, NULL, 0, false,
	    "AWS targets: session name of the assumed role" },
	{ "aws-container-credentials-full-uri",
	    { "AWS_CONTAINER_CREDENTIALS_FULL_URI" }, NULL, CT_STR,
	    F(publish_env.aws_container_credentials_full_uri), 0, NULL, 0,
	    false, "AWS targets: container credentials endpoint" },
	{ "aws-container-credentials-relative-uri",
	    { "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" }, NULL, CT_STR,
	    F(publish_env.aws_container_credentials_relative_uri), 0, NULL, 0,
	    false, "AWS targets: ECS task credentials path" },
	{ "aws-container-authorization-token",
	    { "AWS_CONTAINER_AUTHORIZATION_TOKEN" }, NULL, CT_STR,
	    F(publish_env.aws_container_authorization_token), 0, NULL, 0, true,
	    "AWS targets: Authorization of the container endpoint" },
	{ "aws-profile", { "AWS_PROFILE" }, NULL, CT_STR,
	    F(publish_env.aws_profile), 0, NULL, 0, false,
	    "AWS targets: profile of the shared files (default: default)" },
	{ "aws-default-profile", { "AWS_DEFAULT_PROFILE" }, NULL, CT_STR,
	    F(publish_env.aws_default_profile), 0, NULL, 0, false,
	    "AWS targets: older name of aws-profile (wins, as in botocore)" },
	{ "aws-config-file", { "AWS_CONFIG_FILE" }, NULL, CT_STR,
	    F(publish_env.aws_config_file), 0, NULL, 0, false,
	    "AWS targets: shared config file (default ~/.aws/config)" },
	{ "aws-shared-credentials-file", { "AWS_SHARED_CREDENTIALS_FILE" },
	    NULL, CT_STR, F(publish_env.aws_shared_credentials_file), 0, NULL,
	    0, false,
	    "AWS targets: shared credentials file (default "
	    "~/.aws/credentials)" },
	{ "aws-ec2-metadata-service-endpoint",
	    { "AWS_EC2_METADATA_SERVICE_ENDPOINT" }, NULL, CT_STR,
	    F(publish_env.aws_ec2_metadata_service_endpoint), 0, NULL, 0, false,
	    "AWS targets: instance metadata service (default "
	    "http://169.254.169.254/)" },
	{ "aws-ec2-metadata-disabled", { "AWS_EC2_METADATA_DISABLED" }, NULL,
	    CT_STR, F(publish_env.aws_ec2_metadata_disabled), 0, NULL, 0, false,
	    "AWS targets: true turns the instance metadata step off" },
	{ "aws-region", { "AWS_REGION" }, NULL, CT_STR,
	    F(publish_env.aws_region), 0, NULL, 0, false,
	    "AWS targets: region" },
	{ "aws-default-region", { "AWS_DEFAULT_REGION" }, NULL, CT_STR,
	    F(publish_env.aws_default_region), 0, NULL, 0, false,
	    "AWS targets: region when aws-region is not set" },
	{ "aws-endpoint-url", { "AWS_ENDPOINT_URL" }, NULL, CT_STR,
	    F(publish_env.aws_endpoint_url), 0, NULL, 0, false,
	    "AWS targets: endpoint of every service (S3-compatible servers)" },
	{ "aws-endpoint-url-s3", { "AWS_ENDPOINT_URL_S3" }, NULL, CT_STR,
	    F(publish_env.aws_endpoint_url_s3), 0, NULL, 0, false,
	    "AWS targets: S3 endpoint" },
	{ "aws-endpoint-url-sts", { "AWS_ENDPOINT_URL_STS" }, NULL, CT_STR,
	    F(publish_env.aws_endpoint_url_sts), 0, NULL, 0, false,
	    "AWS targets: STS endpoint" },
	{ "aws-endpoint-url-codeartifact", { "AWS_ENDPOINT_URL_CODEARTIFACT" },
	    NULL, CT_STR, F(publish_env.aws_endpoint_url_codeartifact), 0, NULL,
	    0, false, "AWS targets: CodeArtifact endpoint" },
	{ "actions-id-token-request-url", { "ACTIONS_ID_TOKEN_REQUEST_URL" },
	    NULL, CT_STR, F(publish_env.actions_id_token_request_url), 0, NULL,
	    0, false,
	    "pypi targets without a token: GitHub Actions' identity token "
	    "endpoint (Trusted Publishing)" },
	{ "actions-id-token-request-token",
	    { "ACTIONS_ID_TOKEN_REQUEST_TOKEN" }, NULL, CT_STR,
	    F(publish_env.actions_id_token_request_token), 0, NULL, 0, true,
	    "pypi targets without a token: bearer token of that endpoint" },
	{ "http-attempts", { "ARTIFACTD_HTTP_ATTEMPTS" }, NULL, CT_INT,
	    F(publish_env.http_attempts), 0, "5", 100, false,
	    "attempts of one publishing request (retries of 5xx, 429, "
	    "connection errors)" },
	{ "http-backoff-ms", { "ARTIFACTD_HTTP_BACKOFF_MS" }, NULL, CT_INT,
	    F(publish_env.http_backoff_ms), 0, "1000", 60000, false,
	    "first wait between publishing attempts, doubled each time" },
	{ "verify-deadline", { "ARTIFACTD_VERIFY_DEADLINE" }, NULL, CT_INT,
	    F(publish_env.verify_deadline_s), 0, "120", 3600, false,
	    "seconds to wait for each published file to be served back with "
	    "its sha256 (0: do not verify)" },
};

#define CONFIG_NDESCS (sizeof(config_descs) / sizeof(config_descs[0]))

/* A config file larger than this is a mistake, not a config. */
#define CONFIG_FILE_MAX (1 * MIB)

static void
config_list_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Compare a key written with '-' or '_' to a descriptor name. */
static bool
config_key_eq(const char *key, const char *name)
{
	for (; *key != '\0' && *name != '\0'; key++, name++) {
		char a = *key == '_' ? '-' : *key;
		char b = *name == '_' ? '-' : *name;

		if (a != b)
			return false;
	}
	return *key == '\0' && *name == '\0';
}

static const struct config_desc *
config_find(const char *key)
{
	size_t i;

	for (i = 0; i < CONFIG_NDESCS; i++) {
		if (config_key_eq(key, config_descs[i].name) ||
		    (config_descs[i].alias != NULL &&
		        config_key_eq(key, config_descs[i].alias)))
			return &config_descs[i];
	}
	return NULL;
}

/* Split a list value: newlines always separate; commas too unless the
 * list holds regexes (secret-patterns), where a comma is legitimate. */
static void
config_split(const struct config_desc *d, const char *value, char ***out,
    size_t *n)
{
	bool commas = strcmp(d->name, "secret-patterns") != 0;
	const char *p = value;
	char **v = NULL;
	size_t count = 0;

	while (*p != '\0') {
		const char *end = p;
		size_t len;

		while (*end != '\0' && *end != '\n' && !(commas && *end == ','))
			end++;
		len = (size_t)(end - p);
		while (len > 0 && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len > 0) {
			v = xrealloc(v, (count + 1) * sizeof(*v));
			v[count++] = xstrndup(p, len);
		}
		p = *end != '\0' ? end + 1 : end;
	}
	*out = v;
	*n = count;
}

/* Settings whose value is a URL (or a path): only the credentials in it
 * are secret. */
static bool
config_is_url_setting(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, "-url") == 0;
}

static int
config_set_desc(struct config *cfg, const struct config_desc *d,
    const char *value, struct error *err)
{
	char *base = (char *)cfg;
	long long v;
	bool b;

	switch (d->type) {
	case CT_STR: {
		char **slot = (char **)(void *)(base + d->off);

		for (size_t c = 0;
		     value != NULL &&
		     c < sizeof(config_checks) / sizeof(config_checks[0]);
		     c++)
			if (strcmp(d->name, config_checks[c].name) == 0 &&
			    config_checks[c].check(value, err) < 0)
				return ERR_INVALID;

		if (d->secret)
			secret_free(*slot);
		else
			free(*slot);
		*slot = value != NULL ? xstrdup(value) : NULL;
		/* From now on the value is masked wherever it appears,
		 * in our logs and in libgit2's and libcurl's messages. A
		 * URL setting holds a secret only in its credentials: a
		 * plain path or host:path stays readable. */
		if (d->secret && (!config_is_url_setting(d->name) ||
		                     (value != NULL && strstr(value, "://"))))
			secret_register(*slot); /* owned by the slot's copy */
		/* The bus reads a redis+sentinel:// URL with these two
		 * (endpoint.h); kept in step whichever layer sets them. */
		if (d->off == F(sentinel_master) ||
		    d->off == F(sentinel_password))
			endpoint_sentinel_defaults(cfg->sentinel_master,
			    cfg->sentinel_password);
		return 0;
	}
	case CT_INT:
		if (value == NULL || util_parse_uint(&v, value, d->max) < 0)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "%s must be a whole number from 0 to %lld, not "
			    "'%s'",
			    d->name, d->max, value != NULL ? value : "");
		*(long long *)(void *)(base + d->off) = v;
		return 0;
	case CT_BOOL:
		if (value == NULL || util_parse_bool(&b, value) < 0)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "%s must be true or false, not '%s'", d->name,
			    value != NULL ? value : "");
		*(bool *)(void *)(base + d->off) = b;
		return 0;
	case CT_LIST: {
		char ***slot = (char ***)(void *)(base + d->off);
		size_t *count = (size_t *)(void *)(base + d->count_off);

		config_list_free(*slot, *count);
		*slot = NULL;
		*count = 0;
		if (value != NULL)
			config_split(d, value, slot, count);
		return 0;
	}
	}
	return ERR_FAIL;
}

bool
config_is_secret(const char *name)
{
	const struct config_desc *d = config_find(name);

	return d != NULL && d->secret;
}

int
config_set(struct config *cfg, const char *name, const char *value,
    struct error *err)
{
	const struct config_desc *d = config_find(name);

	if (d == NULL || strcmp(name, "config") == 0)
		return error_set(err, ERR_NOTFOUND, "CONFIG",
		    "unknown setting %s", name);
	return config_set_desc(cfg, d, value, err);
}

void
config_defaults(struct config *cfg)
{
	char host[256] = "artifactd";
	long cores;
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < CONFIG_NDESCS; i++) {
		if (config_descs[i].def != NULL)
			config_set_desc(cfg, &config_descs[i],
			    config_descs[i].def, NULL);
	}
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "artifactd");
	host[sizeof(host) - 1] = '\0';
	cfg->consumer = xasprintf("%s-%ld", host, (long)getpid());
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	cfg->concurrency = cores > 0 ? cores : 1;
}

/* --- YAML ------------------------------------------------------------ */

static const char *
config_yaml_scalar(yaml_document_t *doc, yaml_node_t *node)
{
	(void)doc;
	if (node == NULL || node->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)node->data.scalar.value;
}

/* A scalar, or a sequence of scalars joined by newlines, as one value. */
static char *
config_yaml_value(yaml_document_t *doc, yaml_node_t *node)
{
	yaml_node_item_t *it;
	struct buf b;

	if (node->type == YAML_SCALAR_NODE)
		return xstrdup((const char *)node->data.scalar.value);
	if (node->type != YAML_SEQUENCE_NODE)
		return NULL;
	buf_init(&b, CONFIG_FILE_MAX);
	for (it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++) {
		const char *s =
		    config_yaml_scalar(doc, yaml_document_get_node(doc, *it));

		if (s == NULL) {
			buf_dispose(&b);
			return NULL;
		}
		if (b.len > 0)
			buf_puts(&b, "\n");
		buf_puts(&b, s);
	}
	return buf_detach(&b, NULL);
}

/* A structured section of the file: "name: {key: value, ...}" entries
 * (targets:, packages:). The walker reports locations and refuses a key
 * given twice in one entry (in either spelling); the callbacks only say
 * what is wrong. */
struct config_section {
	const char *what; /* "target", "package" */
	void (*begin)(struct config *cfg, const char *name);
	/* Apply one setting of the current entry; val is taken over. line
	 * is where the key stands in the file. */
	int (*set)(struct config *cfg, const char *key, char *val, size_t line,
	    struct error *err);
	/* Check the finished entry; *line is the entry's, and may be set to
	 * the line of the key at fault. */
	int (*end)(struct config *cfg, size_t *line, struct error *err);
};

/*
 * The settings a target of each type reads: publishers/<type>.c, and
 * aws_creds.c for s3 and codeartifact. Each may also be given as
 * <key>_file or <key>_env (publisher.h). A key outside its type's list
 * is a typo the publisher would never read, so it is refused. When a
 * publisher reads a new key, it is added here (check-config would refuse
 * it otherwise, which the publishing tests would show).
 */
#define CONFIG_AWS_KEYS                                                    \
	"access_key_id", "secret_access_key", "session_token", "role_arn", \
	    "web_identity_token_file", "role_session_name", "region",      \
	    "sts_endpoint"

struct config_target_keys {
	const char *type;
	const char *keys[24]; /* NULL-terminated */
};

static const struct config_target_keys config_target_keys[] = {
	{ "pypi", { "url", "token", "username", "password", "json_url",
	              "allow_local_versions", "strict_filenames", "oidc_token",
	              "oidc_remint_after", NULL } },
	{ "artifactory",
	    { "url", "repository", "path", "api", "checksum_deploy",
	        "properties", "token", "username", "password", NULL } },
	{ "github", { "api_url", "repository", "token", NULL } },
	{ "s3", { "bucket", "prefix", "endpoint", "path_style",
	            "multipart_threshold", "part_size", "unsigned_payload",
	            "storage_class", CONFIG_AWS_KEYS, NULL } },
	{ "codeartifact",
	    { "domain", "domain_owner", "repository", "endpoint",
	        "token_duration", "unpublish", CONFIG_AWS_KEYS, NULL } },
};

/* key is one of the type's settings, or <setting>_file / _env. */
static bool
config_target_key_ok(const struct config_target_keys *tk, const char *key)
{
	size_t i, n;

	/* Every type: verification after upload (publishers/verify.h). */
	if (strcmp(key, "verify") == 0 || strcmp(key, "verify_deadline") == 0)
		return true;
	if (strcmp(tk->type, "pypi") == 0 && strcmp(key, "simple_url") == 0)
		return true;
	for (i = 0; tk->keys[i] != NULL; i++) {
		n = strlen(tk->keys[i]);
		if (strncmp(key, tk->keys[i], n) != 0)
			continue;
		if (key[n] == '\0' || strcmp(key + n, "_file") == 0 ||
		    strcmp(key + n, "_env") == 0)
			return true;
	}
	return false;
}

static void
config_target_begin(struct config *cfg, const char *name)
{
	struct config_target *t;

	cfg->targets =
	    xrealloc(cfg->targets, (cfg->ntargets + 1) * sizeof(*cfg->targets));
	t = &cfg->targets[cfg->ntargets++];
	memset(t, 0, sizeof(*t));
	t->name = xstrdup(name);
}

static int
config_target_set(struct config *cfg, const char *key, char *val, size_t line,
    struct error *err)
{
	struct config_target *t = &cfg->targets[cfg->ntargets - 1];

	(void)err;
	if (strcmp(key, "type") == 0) {
		free(t->type);
		t->type = val;
		t->type_line = line;
		return 0;
	}
	t->kv = xrealloc(t->kv, (t->nkv + 1) * sizeof(*t->kv));
	t->kv[t->nkv].key = xstrdup(key);
	t->kv[t->nkv].value = val;
	t->kv[t->nkv].line = line;
	t->nkv++;
	return 0;
}

static int
config_target_end(struct config *cfg, size_t *line, struct error *err)
{
	const struct config_target *t = &cfg->targets[cfg->ntargets - 1];
	const struct config_target_keys *tk = NULL;
	char types[128] = "";
	size_t i, n = 0;

	if (t->type == NULL)
		return error_set(err, ERR_INVALID, "CONFIG", "has no type");
	for (i = 0;
	     i < sizeof(config_target_keys) / sizeof(config_target_keys[0]);
	     i++) {
		if (strcmp(t->type, config_target_keys[i].type) == 0)
			tk = &config_target_keys[i];
		n += (size_t)snprintf(types + n, sizeof(types) - n, "%s%s",
		    i ? ", " : "", config_target_keys[i].type);
	}
	if (tk == NULL || publisher_find(t->type) == NULL) {
		*line = t->type_line;
		return error_set(err, ERR_INVALID, "CONFIG",
		    "has unknown type '%s' (one of %s)", t->type, types);
	}
	for (i = 0; i < t->nkv; i++) {
		if (config_target_key_ok(tk, t->kv[i].key))
			continue;
		*line = t->kv[i].line;
		return error_set(err, ERR_INVALID, "CONFIG",
		    "has unknown key '%s' for type %s (see docs/publishing.md)",
		    t->kv[i].key, t->type);
	}
	return 0;
}

static void
config_package_begin(struct config *cfg, const char *name)
{
	struct config_package *pk;

	cfg->packages = xrealloc(cfg->packages,
	    (cfg->npackages + 1) * sizeof(*cfg->packages));
	pk = &cfg->packages[cfg->npackages++];
	memset(pk, 0, sizeof(*pk));
	pk->name = xstrdup(name);
	conv_rules_default(&pk->rules);
}

static int
config_package_set(struct config *cfg, const char *key, char *val, size_t line,
    struct error *err)
{
	struct config_package *pk = &cfg->packages[cfg->npackages - 1];
	struct config_desc list = { .name = "list" };
	int rc = 0;

	(void)line;
	if (config_key_eq(key, "tag-patterns") ||
	    config_key_eq(key, "tag-pattern")) {
		/* Two spellings of one key: the walker only sees the same
		 * key twice. */
		if (pk->tag_patterns_set)
			rc = error_set(err, ERR_INVALID, "CONFIG",
			    "gives the tag patterns twice (%s)", key);
		pk->tag_patterns_set = true;
		config_list_free(pk->tag_patterns, pk->ntag_patterns);
		config_split(&list, val, &pk->tag_patterns, &pk->ntag_patterns);
	} else if (strcmp(key, "targets") == 0) {
		config_list_free(pk->targets, pk->ntargets);
		config_split(&list, val, &pk->targets, &pk->ntargets);
	} else if (strcmp(key, "bundle") == 0) {
		if (util_parse_bool(&pk->bundle, val) < 0)
			rc = error_set(err, ERR_INVALID, "CONFIG",
			    "bundle must be true or false");
	} else if (config_key_eq(key, "bundle-paths")) {
		config_list_free(pk->bundle_paths, pk->nbundle_paths);
		config_split(&list, val, &pk->bundle_paths, &pk->nbundle_paths);
		pk->bundle = true;
	} else if ((rc = conv_rules_set(&pk->rules, key, val, err)) ==
	           ERR_NOTFOUND) {
		/* Not one of the release rules (common/conventional.h). */
		rc = error_set(err, ERR_INVALID, "CONFIG", "unknown key %s",
		    key);
	}
	free(val);
	return rc;
}

/* The release rules as a whole, once every key of the package is read. */
static int
config_package_end(struct config *cfg, size_t *line, struct error *err)
{
	(void)line;
	return conv_rules_check(&cfg->packages[cfg->npackages - 1].rules, err);
}

static const struct config_section config_targets_section = { "target",
	config_target_begin, config_target_set, config_target_end };
static const struct config_section config_packages_section = { "package",
	config_package_begin, config_package_set, config_package_end };

/* The line of an earlier key of the mapping [start, until) that is key
 * in another spelling ('-' or '_'), or 0. */
static size_t
config_yaml_dup(yaml_document_t *doc, yaml_node_pair_t *start,
    yaml_node_pair_t *until, const char *key)
{
	yaml_node_pair_t *p;

	for (p = start; p < until; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		const char *s = config_yaml_scalar(doc, k);

		if (s != NULL && config_key_eq(s, key))
			return k->start_mark.line + 1;
	}
	return 0;
}

/* One "name: {key: value, ...}" entry of a section. */
static int
config_yaml_entry(struct config *cfg, yaml_document_t *doc, yaml_node_t *k,
    yaml_node_t *v, const char *file, const struct config_section *sec,
    struct error *err)
{
	const char *name = config_yaml_scalar(doc, k);
	char msg[ERROR_MSG_MAX];
	yaml_node_pair_t *q;
	size_t line, dup;

	if (name == NULL || v->type != YAML_MAPPING_NODE)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "%s:%zu: each %s is name: {key: value, ...}", file,
		    k->start_mark.line + 1, sec->what);
	sec->begin(cfg, name);
	for (q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
	     q++) {
		yaml_node_t *kk = yaml_document_get_node(doc, q->key);
		const char *key = config_yaml_scalar(doc, kk);
		char *val;

		line = kk->start_mark.line + 1;
		if (key != NULL &&
		    (dup = config_yaml_dup(doc, v->data.mapping.pairs.start, q,
		         key)) != 0)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "%s:%zu: %s %s: %s is given twice (first on line "
			    "%zu)",
			    file, line, sec->what, name, key, dup);
		val = config_yaml_value(doc,
		    yaml_document_get_node(doc, q->value));
		if (key == NULL || val == NULL) {
			free(val);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "%s:%zu: %s %s: settings must be scalars or lists",
			    file, line, sec->what, name);
		}
		if (sec->set(cfg, key, val, line, err) < 0) {
			snprintf(msg, sizeof(msg), "%s", err->msg);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "%s:%zu: %s %s: %s", file, line, sec->what, name,
			    msg);
		}
	}
	line = k->start_mark.line + 1;
	if (sec->end != NULL && sec->end(cfg, &line, err) < 0) {
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return error_set(err, ERR_INVALID, "CONFIG", "%s:%zu: %s %s %s",
		    file, line, sec->what, name, msg);
	}
	return 0;
}

static int
config_yaml_section(struct config *cfg, yaml_document_t *doc, yaml_node_t *map,
    const char *file, const struct config_section *sec, struct error *err)
{
	yaml_node_pair_t *p;
	int rc;

	if (map->type != YAML_MAPPING_NODE)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "%s:%zu: %ss must be a mapping of name to settings", file,
		    map->start_mark.line + 1, sec->what);
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		const char *name = config_yaml_scalar(doc, k);
		size_t dup;

		if (name != NULL &&
		    (dup = config_yaml_dup(doc, map->data.mapping.pairs.start,
		         p, name)) != 0)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "%s:%zu: %s %s is given twice (first on line %zu)",
			    file, k->start_mark.line + 1, sec->what, name, dup);
		if ((rc = config_yaml_entry(cfg, doc,
		         yaml_document_get_node(doc, p->key),
		         yaml_document_get_node(doc, p->value), file, sec,
		         err)) < 0)
			return rc;
	}
	return 0;
}

static int
config_load_file(struct config *cfg, const char *path, struct error *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	yaml_node_pair_t *p;
	/* Line of each setting (and of targets:, packages:) once seen: a
	 * second spelling of one key is refused, not silently last-wins. */
	size_t seen[CONFIG_NDESCS + 2] = { 0 }, slot;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if ((rc = util_read_file(&text, &len, path, CONFIG_FILE_MAX, err)) < 0)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "config file %s: %s", path, err->msg);
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = error_set(err, ERR_INVALID, "CONFIG", "%s:%zu: %s", path,
		    parser.problem_mark.line + 1,
		    parser.problem ? parser.problem : "YAML error");
		yaml_parser_delete(&parser);
		free(text);
		return rc;
	}
	rc = 0;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL)
		goto out; /* an empty file is fine */
	if (root->type != YAML_MAPPING_NODE) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "%s: the top level must be a mapping of settings", path);
		goto out;
	}
	for (p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top && rc == 0; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&doc, p->value);
		const char *key = config_yaml_scalar(&doc, k);
		const struct config_desc *d;
		char *val;

		if (key == NULL) {
			rc = error_set(err, ERR_INVALID, "CONFIG",
			    "%s:%zu: keys must be scalars", path,
			    k->start_mark.line + 1);
			break;
		}
		d = config_find(key);
		slot = d != NULL ? (size_t)(d - config_descs)
		       : strcmp(key, "targets") == 0  ? CONFIG_NDESCS
		       : strcmp(key, "packages") == 0 ? CONFIG_NDESCS + 1
		                                      : SIZE_MAX;
		if (slot != SIZE_MAX && seen[slot] != 0) {
			rc = error_set(err, ERR_INVALID, "CONFIG",
			    "%s:%zu: %s sets %s again (first on line %zu); "
			    "give each setting once",
			    path, k->start_mark.line + 1, key,
			    d != NULL ? d->name : key, seen[slot]);
			break;
		}
		if (slot != SIZE_MAX)
			seen[slot] = k->start_mark.line + 1;
		if (strcmp(key, "targets") == 0) {
			rc = config_yaml_section(cfg, &doc, v, path,
			    &config_targets_section, err);
			continue;
		}
		if (strcmp(key, "packages") == 0) {
			rc = config_yaml_section(cfg, &doc, v, path,
			    &config_packages_section, err);
			continue;
		}
		if (d == NULL) {
			rc = error_set(err, ERR_INVALID, "CONFIG",
			    "%s:%zu: unknown setting %s", path,
			    k->start_mark.line + 1, key);
			break;
		}
		if ((val = config_yaml_value(&doc, v)) == NULL) {
			rc = error_set(err, ERR_INVALID, "CONFIG",
			    "%s:%zu: %s must be a scalar or a list", path,
			    k->start_mark.line + 1, key);
			break;
		}
		if (config_set_desc(cfg, d, val, err) < 0) {
			char msg[ERROR_MSG_MAX];

			snprintf(msg, sizeof(msg), "%s", err->msg);
			rc = error_set(err, ERR_INVALID, "CONFIG", "%s:%zu: %s",
			    path, k->start_mark.line + 1, msg);
		}
		free(val);
	}
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(text);
	return rc;
}

/* The publishers' rows (struct publish_env) honour NAME_FILE though most
 * are not secret, as the publishers always did. */
static bool
config_env_file(const struct config_desc *d)
{
	return d->type == CT_STR && d->off >= F(publish_env) &&
	       d->off < F(publish_env) + sizeof(struct publish_env);
}

/* Value of an environment setting, honouring NAME_FILE for secrets
 * (secret_get: NAME wins when both are set; an empty NAME then counts
 * as unset, but still sets the value "" when there is no file).
 * Returns an allocated string or NULL. */
static char *
config_env(const struct config_desc *d, struct error *err, int *rc)
{
	size_t i;

	for (i = 0; i < 3 && d->env[i] != NULL; i++) {
		const char *v = getenv(d->env[i]);
		char *text = NULL;

		if (!d->secret && config_env_file(d)) {
			if ((*rc = secret_get_plain(&text, d->env[i], err)) ==
			    0)
				return text;
			if (*rc != ERR_NOTFOUND)
				return NULL;
			*rc = 0;
			if (v != NULL)
				return xstrdup(v);
			continue;
		}
		if (!d->secret) {
			if (v != NULL)
				return xstrdup(v);
			continue;
		}
		if ((*rc = secret_get(&text, d->env[i], err)) == 0)
			return text;
		if (*rc != ERR_NOTFOUND)
			return NULL;
		*rc = 0;
		if (v != NULL)
			return xstrdup(v);
	}
	return NULL;
}

int
config_load(struct config *cfg, const char *path, struct error *err)
{
	size_t i;
	int rc = 0;

	if (path == NULL)
		path = getenv("ARTIFACTD_CONFIG");
	if (path != NULL && path[0] != '\0') {
		if ((rc = config_load_file(cfg, path, err)) < 0)
			return rc;
		free(cfg->config_file);
		cfg->config_file = xstrdup(path);
	}
	for (i = 0; i < CONFIG_NDESCS; i++) {
		char *v = config_env(&config_descs[i], err, &rc);

		if (rc < 0)
			return rc;
		if (v == NULL)
			continue;
		rc = config_set_desc(cfg, &config_descs[i], v, err);
		secret_free(v);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool config_key_secret(const char *key);

/* The ref a setting would make must be one git accepts: checked where the
 * value enters (file, environment, flag), before the daemon runs. */
static int
config_check_ref(const char *what, const char *fmt, const char *value,
    struct error *err)
{
	char *ref = xasprintf(fmt, value);
	bool ok = value[0] != '\0' && store_ref_name_ok(ref);

	free(ref);
	if (!ok)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "%s '%s' does not make valid git branch names (no spaces, "
		    "'..', '~', '^', ':', '?', '*', '[', '\\', or a component "
		    "ending in '.lock')",
		    what, value);
	return 0;
}

static int
config_check_branch_prefix(const char *value, struct error *err)
{
	return config_check_ref("branch-prefix", "refs/heads/%s/workflow/task",
	    value, err);
}

static int
config_check_base_branch(const char *value, struct error *err)
{
	return config_check_ref("base-branch", "refs/heads/%s", value, err);
}

static int
config_check_task_dir_mode(const char *value, struct error *err)
{
	if (strcmp(value, "replace") == 0 || strcmp(value, "merge") == 0)
		return 0;
	return error_set(err, ERR_INVALID, "INVALID_CONFIG",
	    "task-dir-mode must be replace or merge");
}

static int
config_check_age(const char *value, struct error *err)
{
	long long s;

	/* Empty: the job is off. */
	if (*value != '\0' && store_age_parse(&s, value) < 0)
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "\"%.64s\" is not an age: a number with s, m, h, d or w "
		    "(at most 100 years)",
		    value);
	return 0;
}

void
config_apply_tls(const struct config *cfg)
{
	struct endpoint_tls t = { cfg->tls_ca_file, cfg->tls_ca_dir,
		cfg->tls_cert_file, cfg->tls_key_file, cfg->tls_insecure };

	endpoint_tls_defaults(&t);
}

/* rediss://: what can be checked before connecting (the CA file loads,
 * the client certificate and key match); TLS settings with another
 * scheme are refused rather than quietly talking clear text. */
static int
config_check_tls(const struct config *cfg, struct error *err)
{
#define CONFIG_SET(s) ((s) != NULL && *(s) != '\0')
	bool set = CONFIG_SET(cfg->tls_ca_file) ||
	           CONFIG_SET(cfg->tls_ca_dir) ||
	           CONFIG_SET(cfg->tls_cert_file) ||
	           CONFIG_SET(cfg->tls_key_file) || cfg->tls_insecure;
#undef CONFIG_SET

	config_apply_tls(cfg);
	if (strncmp(cfg->redis_url, "rediss://", 9) == 0 ||
	    strncmp(cfg->redis_url, "rediss+cluster://", 17) == 0 ||
	    strncmp(cfg->redis_url, "rediss+sentinel://", 18) == 0)
		return endpoint_check(cfg->redis_url, NULL, err);
	if (set)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "tls-* settings are set but redis-url is not rediss:// "
		    "(it would be clear text)");
	return 0;
}

int
config_validate(const struct config *cfg, struct error *err)
{
	size_t i, j;

	if (strncmp(cfg->redis_url, "redis://", 8) != 0 &&
	    strncmp(cfg->redis_url, "unix://", 7) != 0 &&
	    strncmp(cfg->redis_url, "redis+sentinel://", 17) != 0 &&
	    strncmp(cfg->redis_url, "rediss+sentinel://", 18) != 0 &&
	    strncmp(cfg->redis_url, "redis+cluster://", 16) != 0 &&
	    strncmp(cfg->redis_url, "rediss+cluster://", 17) != 0 &&
	    strncmp(cfg->redis_url, "rediss://", 9) != 0)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "redis-url must start with redis://, rediss://, "
		    "redis+sentinel://, rediss+sentinel://, redis+cluster://, "
		    "rediss+cluster:// or unix://");
	if (config_check_tls(cfg, err) < 0)
		return ERR_INVALID;
	/* Parsed as the bus will (with sentinel-master, see
	 * config_set_desc): a missing or conflicting master name is caught
	 * here, by check-config too. */
	if (strncmp(cfg->redis_url, "redis+sentinel://", 17) == 0 ||
	    strncmp(cfg->redis_url, "redis+cluster://", 16) == 0) {
		struct endpoint ep;

		if (endpoint_parse(&ep, cfg->redis_url, err) < 0)
			return ERR_INVALID;
		endpoint_dispose(&ep);
	}
	/* The check the store makes when it opens, so that check-config
	 * refuses what run would. */
	if (repos_config_check(cfg, err) < 0) /* templates, then the URL */
		return ERR_INVALID;
	/* The key the store will load: unusable is an error here too. */
	if (cfg->signing_key != NULL && *cfg->signing_key != '\0' &&
	    sign_key_check(cfg->signing_key, err) < 0)
		return ERR_INVALID;
	for (i = 0; i < cfg->ntargets; i++)
		for (j = 0; j < cfg->targets[i].nkv; j++)
			if (config_key_secret(cfg->targets[i].kv[j].key))
				redact_secret_add(cfg->targets[i].kv[j].value);
	if (strcmp(cfg->log_format, "text") != 0 &&
	    strcmp(cfg->log_format, "json") != 0)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "log-format must be text or json");
	if (log_level_parse(cfg->log_level) < 0)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "log-level must be debug, info or warn");
	if (cfg->concurrency < 1)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "concurrency must be at least 1");
	if (cfg->block_ms < 100)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "block-ms must be at least 100");
	if (cfg->max_deliveries < 1 || cfg->max_attempts < 1)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "max-deliveries and max-attempts must be at least 1");
	if (strstr(cfg->path_template, "..") != NULL ||
	    cfg->path_template[0] == '/')
		return error_set(err, ERR_INVALID, "CONFIG",
		    "path-template must be a relative path without '..'");
	for (i = 0; i < cfg->npackages; i++) {
		for (j = 0; j < cfg->packages[i].ntargets; j++) {
			size_t k;

			for (k = 0; k < cfg->ntargets; k++)
				if (strcmp(cfg->targets[k].name,
				        cfg->packages[i].targets[j]) == 0)
					break;
			if (k == cfg->ntargets)
				return error_set(err, ERR_INVALID, "CONFIG",
				    "package %s names unknown target %s",
				    cfg->packages[i].name,
				    cfg->packages[i].targets[j]);
		}
	}
	return 0;
}

/* Target settings whose names say they hold a secret. */
static bool
config_key_secret(const char *key)
{
	static const char *words[] = { "token", "password", "secret", "key",
		"auth" };
	size_t i, n = strlen(key);

	if (n > 5 && strcmp(key + n - 5, "_file") == 0)
		return false; /* a path to a secret is not the secret */
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(key, words[i]) != NULL)
			return true;
	return false;
}

static char *
config_masked(const struct config_desc *d, const char *v)
{
	if (v == NULL)
		return NULL;
	/* A URL keeps its host (its credentials are masked); a URL
	 * setting holding a path has none; any other secret is masked
	 * whole, whatever its length. */
	if (d->secret && strstr(v, "://") == NULL && v[0] != '\0' &&
	    !config_is_url_setting(d->name))
		return xstrdup(REDACT_MASK);
	if (d->secret)
		return util_redact_url(v);
	return xstrdup(v);
}

static void
config_print_text(const struct config *cfg)
{
	const char *base = (const char *)cfg;
	size_t i, j;

	printf("# effective settings%s%s\n", cfg->config_file ? " from " : "",
	    cfg->config_file ? cfg->config_file : "");
	for (i = 0; i < CONFIG_NDESCS; i++) {
		const struct config_desc *d = &config_descs[i];
		char *s;

		switch (d->type) {
		case CT_STR:
			s = config_masked(d,
			    *(char *const *)(const void *)(base + d->off));
			printf("%-24s %s\n", d->name, s ? s : "(none)");
			free(s);
			break;
		case CT_INT:
			printf("%-24s %lld\n", d->name,
			    *(const long long *)(const void *)(base + d->off));
			break;
		case CT_BOOL:
			printf("%-24s %s\n", d->name,
			    *(const bool *)(const void *)(base + d->off)
			        ? "true"
			        : "false");
			break;
		case CT_LIST: {
			char *const *v = *(
			    char *const *const *)(const void *)(base + d->off);
			size_t n = *(
			    const size_t *)(const void *)(base + d->count_off);

			printf("%-24s", d->name);
			for (j = 0; j < n; j++)
				printf(" %s", v[j]);
			printf("%s\n", n == 0 ? " (none)" : "");
			break;
		}
		}
	}
	for (i = 0; i < cfg->ntargets; i++) {
		const struct config_target *t = &cfg->targets[i];

		printf("target %s: type=%s", t->name, t->type);
		for (j = 0; j < t->nkv; j++)
			printf(" %s=%s", t->kv[j].key,
			    config_key_secret(t->kv[j].key) ? "***"
			                                    : t->kv[j].value);
		printf("\n");
	}
	for (i = 0; i < cfg->npackages; i++) {
		const struct config_package *p = &cfg->packages[i];

		printf("package %s: tags=", p->name);
		for (j = 0; j < p->ntag_patterns; j++)
			printf("%s%s", j ? "," : "", p->tag_patterns[j]);
		printf(" targets=");
		for (j = 0; j < p->ntargets; j++)
			printf("%s%s", j ? "," : "", p->targets[j]);
		printf("\n");
	}
}

/* One JSON object: every string goes through cJSON's escaping, so a value
 * with a tab, a quote or a control character stays valid JSON. */
static void
config_print_json(const struct config *cfg)
{
	const char *base = (const char *)cfg;
	cJSON *root = cJSON_CreateObject(), *arr;
	char *s, *text;
	size_t i, j;

	for (i = 0; i < CONFIG_NDESCS; i++) {
		const struct config_desc *d = &config_descs[i];

		switch (d->type) {
		case CT_STR:
			s = config_masked(d,
			    *(char *const *)(const void *)(base + d->off));
			if (s == NULL)
				cJSON_AddNullToObject(root, d->name);
			else
				cJSON_AddStringToObject(root, d->name, s);
			free(s);
			break;
		case CT_INT:
			/* A double holds every integer up to 2^53; the
			 * table's ceilings are far below except
			 * stream-maxlen, whose practical values are too. */
			cJSON_AddNumberToObject(root, d->name,
			    (double)*(const long long *)(const void *)(base +
			                                               d->off));
			break;
		case CT_BOOL:
			cJSON_AddBoolToObject(root, d->name,
			    *(const bool *)(const void *)(base + d->off));
			break;
		case CT_LIST: {
			char *const *v = *(
			    char *const *const *)(const void *)(base + d->off);
			size_t n = *(
			    const size_t *)(const void *)(base + d->count_off);

			arr = cJSON_AddArrayToObject(root, d->name);
			for (j = 0; j < n; j++)
				cJSON_AddItemToArray(arr,
				    cJSON_CreateString(v[j]));
			break;
		}
		}
	}
	cJSON_AddNumberToObject(root, "targets", (double)cfg->ntargets);
	cJSON_AddNumberToObject(root, "packages", (double)cfg->npackages);
	text = cJSON_PrintUnformatted(root);
	printf("%s\n", text != NULL ? text : "{}");
	free(text);
	cJSON_Delete(root);
}

void
config_print(const struct config *cfg, bool json)
{
	if (json)
		config_print_json(cfg);
	else
		config_print_text(cfg);
}

const char *
config_target_get(const struct config_target *t, const char *key)
{
	size_t i;

	for (i = 0; i < t->nkv; i++)
		if (strcmp(t->kv[i].key, key) == 0)
			return t->kv[i].value;
	return NULL;
}

void
config_dispose(struct config *cfg)
{
	char *base = (char *)cfg;
	size_t i, j;

	for (i = 0; i < CONFIG_NDESCS; i++) {
		const struct config_desc *d = &config_descs[i];

		if (d->type == CT_STR && d->secret)
			secret_free(*(char **)(void *)(base + d->off));
		else if (d->type == CT_STR)
			free(*(char **)(void *)(base + d->off));
		else if (d->type == CT_LIST)
			config_list_free(*(char ***)(void *)(base + d->off),
			    *(size_t *)(void *)(base + d->count_off));
	}
	for (i = 0; i < cfg->ntargets; i++) {
		free(cfg->targets[i].name);
		free(cfg->targets[i].type);
		for (j = 0; j < cfg->targets[i].nkv; j++) {
			free(cfg->targets[i].kv[j].key);
			free(cfg->targets[i].kv[j].value);
		}
		free(cfg->targets[i].kv);
	}
	free(cfg->targets);
	for (i = 0; i < cfg->npackages; i++) {
		free(cfg->packages[i].name);
		config_list_free(cfg->packages[i].tag_patterns,
		    cfg->packages[i].ntag_patterns);
		config_list_free(cfg->packages[i].bundle_paths,
		    cfg->packages[i].nbundle_paths);
		config_list_free(cfg->packages[i].targets,
		    cfg->packages[i].ntargets);
	}
	free(cfg->packages);
	free(cfg->config_file);
	memset(cfg, 0, sizeof(*cfg));
}

void
config_describe(void)
{
	size_t i, j;

	for (i = 0; i < CONFIG_NDESCS; i++) {
		const struct config_desc *d = &config_descs[i];
		char env[96] = "";
		size_t n = 0;

		for (j = 0; j < 3 && d->env[j] != NULL; j++)
			n += (size_t)snprintf(env + n, sizeof(env) - n, "%s%s",
			    j ? "," : "", d->env[j]);
		printf("  --%-22s %-40s %s%s\n", d->name, env, d->help,
		    d->secret ? " (secret: also NAME_FILE)" : "");
	}
}

/* A table cell: '|' would end it. */
static void
config_md_cell(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputs("\\|", stdout);
		else
			putchar(*s);
	}
}

void
config_print_markdown(void)
{
	size_t i, j;

	printf("| flag / YAML key | environment | default | meaning |\n"
	       "|---|---|---|---|\n");
	for (i = 0; i < CONFIG_NDESCS; i++) {
		const struct config_desc *d = &config_descs[i];

		printf("| `%s`", d->name);
		if (d->alias != NULL)
			printf(", `%s`", d->alias);
		printf(" |");
		for (j = 0; j < 3 && d->env[j] != NULL; j++)
			printf("%s`%s`", j ? ", " : " ", d->env[j]);
		printf("%s |", d->secret || config_env_file(d)
		                   ? " (each also `_FILE`)"
		                   : "");
		if (d->def != NULL && d->def[0] != '\0')
			printf(" `%s` |", d->def);
		else
			printf(" %s |", strstr(d->help, "(default") != NULL
			                    ? "see meaning"
			                    : "none");
		putchar(' ');
		config_md_cell(d->help);
		printf("%s |\n", d->secret ? " (secret: masked)" : "");
	}
}
