/*
 * cli_cmds.h - entry points of finlock's top-level commands, one group per
 * cli_<name>.c file.
 *
 * THREAD SAFETY: the CLI is single-threaded.
 */
#ifndef FL_CLI_CMDS_H
#define FL_CLI_CMDS_H

/* cli_keys.c: the key ceremony */
int cli_cmd_keygen(int argc, char **argv);
int cli_cmd_key(int argc, char **argv);
/* cli_token.c */
int cli_cmd_token(int argc, char **argv);
/* cli_imei.c */
int cli_cmd_imei(int argc, char **argv);
/* cli_login.c */
int cli_cmd_login(int argc, char **argv);
int cli_cmd_config(int argc, char **argv);
int cli_cmd_health(int argc, char **argv);
/* cli_admin.c */
int cli_cmd_tenant(int argc, char **argv);
int cli_cmd_operator(int argc, char **argv);
int cli_cmd_keys(int argc, char **argv);
/* cli_audit.c */
int cli_cmd_audit(int argc, char **argv);

#endif
