/*
 * aws_process.c - credentials from a profile's credential_process: run
 * the command (no shell: split as botocore's compat_shell_split, i.e.
 * shlex.split), read its standard output, parse the JSON of version 1
 * (AccessKeyId, SecretAccessKey, optional SessionToken and Expiration),
 * as botocore's ProcessProvider.
 *
 * botocore waits for the process without limit and keeps all of its
 * output; a daemon cannot, so a deadline and a ceiling on the output are
 * added. The helper's standard error goes to /dev/null: it is not ours
 * to log, and a helper may print anything there. The output (it holds
 * the secret key) is wiped after parsing.
 */
#define _GNU_SOURCE /* pipe2 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/aws_creds_int.h"

extern char **environ;

/* A credential helper answers in a second or two (a cache hit, or an SSO
 * refresh); one that has not answered in 60 s is hung, and a release
 * should fail over it rather than wait forever. */
#define AWS_PROCESS_TIMEOUT_MS (60 * 1000)
/* The JSON answer is a few hundred bytes. */
#define AWS_PROCESS_OUTPUT_MAX (64 * 1024)

/* The deadline; test builds may shorten it so that a test of a hung
 * helper does not wait a minute. */
static int64_t
aws_process_timeout_ms(void)
{
#ifdef ARTIFACTD_TEST_HOOKS
	const char *v = getenv("ARTIFACTD_TEST_AWS_PROCESS_TIMEOUT_MS");
	long ms = v != NULL ? strtol(v, NULL, 10) : 0;

	if (ms > 0)
		return ms;
#endif
	return AWS_PROCESS_TIMEOUT_MS;
}

/* Read the child's stdout until EOF, the deadline or the ceiling.
 * Returns 0, or ERR_FAIL with err set. */
static int
aws_process_read(struct buf *out, int fd, const char *profile,
    struct error *err)
{
	int64_t deadline = util_mono_ms() + aws_process_timeout_ms();
	char chunk[4096];
	ssize_t n;

	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = deadline - util_mono_ms();
		int pr;

		if (left <= 0)
			return error_set(err, ERR_FAIL, "AUTH",
			    "credential_process of profile %s did not finish "
			    "within %lld ms",
			    profile, (long long)aws_process_timeout_ms());
		pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return error_set(err, ERR_FAIL, "AUTH",
			    "credential_process of profile %s: poll: %s",
			    profile, strerror(errno));
		if (pr == 0)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_append(out, chunk, (size_t)n) < 0) {
			secret_wipe(chunk, sizeof(chunk));
			return error_set(err, ERR_FAIL, "AUTH",
			    "credential_process of profile %s wrote more than "
			    "%d bytes",
			    profile, AWS_PROCESS_OUTPUT_MAX);
		}
	}
	secret_wipe(chunk, sizeof(chunk));
	return 0;
}

/* Start argv with stdout on a pipe; *pid and *fd are set on success. */
static int
aws_process_spawn(pid_t *pid, int *fd, char **argv, const char *profile,
    struct error *err)
{
	posix_spawn_file_actions_t fa;
	int p[2], e;

	if (pipe2(p, O_CLOEXEC) < 0)
		return error_set(err, ERR_FAIL, "AUTH",
		    "credential_process of profile %s: pipe: %s", profile,
		    strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	e = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (e != 0) {
		close(p[0]);
		return error_set(err, ERR_FAIL, "AUTH",
		    "credential_process of profile %s: cannot run %.200s: %s",
		    profile, argv[0], strerror(e));
	}
	*fd = p[0];
	return 0;
}

/* The version 1 JSON answer into *out. */
static int
aws_process_parse(struct aws_credentials *out, const struct buf *b,
    const char *profile, struct error *err)
{
	cJSON *root, *it;
	const cJSON *ver, *id, *secret, *token, *exp;
	int64_t exp_ms = 0;
	int rc = ERR_FAIL;

	root = cJSON_ParseWithLength(b->data ? b->data : "", b->len);
	ver = cJSON_GetObjectItemCaseSensitive(root, "Version");
	id = cJSON_GetObjectItemCaseSensitive(root, "AccessKeyId");
	secret = cJSON_GetObjectItemCaseSensitive(root, "SecretAccessKey");
	token = cJSON_GetObjectItemCaseSensitive(root, "SessionToken");
	exp = cJSON_GetObjectItemCaseSensitive(root, "Expiration");
	if (root == NULL) {
		error_set(err, rc, "AUTH",
		    "credential_process of profile %s: the output is not JSON",
		    profile);
	} else if (!cJSON_IsNumber(ver) || ver->valuedouble != 1) {
		error_set(err, rc, "AUTH",
		    "credential_process of profile %s: Version must be 1",
		    profile);
	} else if (!cJSON_IsString(id) || !cJSON_IsString(secret) ||
	           id->valuestring[0] == '\0' ||
	           secret->valuestring[0] == '\0' ||
	           (token != NULL && !cJSON_IsNull(token) &&
	               !cJSON_IsString(token)) ||
	           (cJSON_IsString(exp) &&
	               util_parse_iso8601(&exp_ms, exp->valuestring) < 0)) {
		error_set(err, rc, "AUTH",
		    "credential_process of profile %s: AccessKeyId and "
		    "SecretAccessKey are required, Expiration must be a date",
		    profile);
	} else {
		out->access_key_id = xstrdup(id->valuestring);
		out->secret_access_key = xstrdup(secret->valuestring);
		out->session_token =
		    cJSON_IsString(token) && token->valuestring[0] != '\0'
		        ? xstrdup(token->valuestring)
		        : NULL;
		out->expires_ms = exp_ms;
		out->source = "process";
		rc = 0;
	}
	if (root != NULL) {
		cJSON_ArrayForEach(it, root) {
			if (cJSON_IsString(it))
				secret_wipe(it->valuestring,
				    strlen(it->valuestring));
		}
		cJSON_Delete(root);
	}
	return rc;
}

int
aws_step_process(struct aws_credentials *out, const char *command,
    const char *profile, struct error *err)
{
	char **argv = NULL;
	struct buf b;
	pid_t pid = -1;
	int fd = -1, st = 0, rc;

	buf_init(&b, AWS_PROCESS_OUTPUT_MAX);
	if ((rc = aws_shell_split(&argv, command, err)) < 0)
		goto out;
	if ((rc = aws_process_spawn(&pid, &fd, argv, profile, err)) < 0)
		goto out;
	rc = aws_process_read(&b, fd, profile, err);
	close(fd);
	if (rc < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (rc < 0)
		goto out;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "credential_process of profile %s failed (%s %d)", profile,
		    WIFEXITED(st) ? "exit status" : "signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		goto out;
	}
	if ((rc = aws_process_parse(out, &b, profile, err)) < 0)
		goto out;
	log_info("aws_credentials source=process profile=%s", profile);
out:
	if (b.data != NULL)
		secret_wipe(b.data, b.len);
	buf_dispose(&b);
	aws_argv_free(argv);
	return rc;
}
