/*
 * cli_cmds.h - entry points of finlock's top-level commands, one per
 * cli_<name>.c file.
 *
 * THREAD SAFETY: the CLI is single-threaded.
 */
#ifndef FL_CLI_CMDS_H
#define FL_CLI_CMDS_H

int cli_cmd_keygen(int argc, char **argv);
int cli_cmd_key(int argc, char **argv);
int cli_cmd_token(int argc, char **argv);
int cli_cmd_imei(int argc, char **argv);

#endif
