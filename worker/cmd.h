/*
 * cmd.h - the subcommands of the artifactd binary.
 *
 * Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and the settings loaded so far, and returns the exit status:
 * 0 success, 1 a failure the user caused (or the operation failed), 2 bad
 * usage. Each lives in its own cmd_<name>.c.
 */
#ifndef WORKER_CMD_H
#define WORKER_CMD_H

#include "worker/config.h"

int cmd_run(int argc, char **argv, struct config *cfg);
int cmd_commit(int argc, char **argv, struct config *cfg);
int cmd_emit(int argc, char **argv, struct config *cfg);
int cmd_publish(int argc, char **argv, struct config *cfg);
int cmd_unpublish(int argc, char **argv, struct config *cfg);
int cmd_list(int argc, char **argv, struct config *cfg);
int cmd_show(int argc, char **argv, struct config *cfg);
int cmd_revert(int argc, char **argv, struct config *cfg);
int cmd_expire(int argc, char **argv, struct config *cfg);
int cmd_release(int argc, char **argv, struct config *cfg);
int cmd_bundle(int argc, char **argv, struct config *cfg);
int cmd_scan(int argc, char **argv, struct config *cfg);
int cmd_replay(int argc, char **argv, struct config *cfg);
int cmd_dlq(int argc, char **argv, struct config *cfg);
int cmd_bridge(int argc, char **argv, struct config *cfg);
int cmd_check_config(int argc, char **argv, struct config *cfg);
int cmd_version(int argc, char **argv, struct config *cfg);
int cmd_verify_provenance(int argc, char **argv, struct config *cfg);
int cmd_verify(int argc, char **argv, struct config *cfg);

/* check-config's lines for the signing key (cmd_verify_provenance.c):
 * the public key and the allowed-signers line; nothing without a key. */
void cmd_signing_print(const struct config *cfg);

#endif
