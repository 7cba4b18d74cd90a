/*
 * cli_cmds.h - entry points of finlock's top-level commands, one group per
 * cli_<name>.c file, and the few helpers the lender's device, contract,
 * payment and import commands share (defined in cli_devices.c).
 *
 * THREAD SAFETY: the CLI is single-threaded.
 */
#ifndef FL_CLI_CMDS_H
#define FL_CLI_CMDS_H

#include <jansson.h>
#include <stddef.h>

#include "cli/cli.h"
#include "core/imei.h"

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
/* cli_reports.c */
int cli_cmd_reports(int argc, char **argv);

/* cli_devices.c, cli_contracts.c, cli_payments.c, cli_import.c */
int cli_cmd_devices(int argc, char **argv);
int cli_devices_import(int argc, char **argv);
int cli_cmd_contracts(int argc, char **argv);
int cli_cmd_payments(int argc, char **argv);
/* cli_locks.c */
int cli_cmd_locks(int argc, char **argv);
/* cli_webhooks.c */
int cli_cmd_webhooks(int argc, char **argv);

/* The groups (cli.h), listed in cli_groups. */
extern const struct cli_group cli_group_top, cli_group_tenant,
        cli_group_tenant_keys, cli_group_operator, cli_group_operator_keys,
        cli_group_keys, cli_group_audit, cli_group_contracts, cli_group_devices,
        cli_group_imei, cli_group_key, cli_group_payments, cli_group_token,
        cli_group_locks, cli_group_webhooks;

/* cli_help.c: `finlock help`, `finlock completion` */
int cli_cmd_help(int argc, char **argv);
int cli_cmd_completion(int argc, char **argv);

/* --- shared by the lender commands ------------------------------------- */

struct cli_api;

/* Finds the lender's device with this IMEI (normalised, 15 digits) among
 * its own devices, preferring one still in a program over a released one.
 * *device gets a new reference to it (caller decrefs) or NULL when there
 * is none. Returns an exit code (an error is printed). */
int cli_api_find_imei(struct cli_api *api, const char *imei, json_t **device);

/* Resolves a DEVICE argument into a device id in out[cap]: an exact IMEI is
 * looked up with cli_api_find_imei (none is CLI_REFUSED with a 404 line);
 * anything else is taken as the id. Returns an exit code. */
int cli_api_device(struct cli_api *api, const char *arg, char *out, size_t cap);

/* The whole of a command on one device: opens the API, resolves device,
 * sends method /v1/devices/<id><suffix> with body (taken; may be NULL) and
 * idem (may be NULL), prints the answer (member of it, or all). */
int cli_run_device_call(const struct cli_args *a, const char *device,
                        const char *method, const char *suffix, json_t *body,
                        const char *idem, const char *member);

/* Validates an IMEI argument into imei (normalised); CLI_REFUSED with a
 * message naming --what when it is not one. */
int cli_check_imei(const char *what, const char *arg,
                   char imei[FL_IMEI_LEN + 1]);

/* Prints a registration answer (device id, IMEIs, enrollment code);
 * returns CLI_OK. */
int cli_print_registered(const json_t *answer);

#endif
