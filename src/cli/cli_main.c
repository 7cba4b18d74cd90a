/*
 * cli_main.c - the top of the finlock command tree.
 */
#include "cli/cli.h"
#include "cli/cli_cmds.h"
#include "core/crypto.h"

static const struct cli_cmd commands[] = {
        {"login", "save the server and API key in the config file",
         cli_cmd_login},
        {"config", "show the server and key in use, and where from",
         cli_cmd_config},
        {"health", "check that the server is up", cli_cmd_health},
        {"tenant", "operator: lenders and their admin keys", cli_cmd_tenant},
        {"operator", "operator: operator keys", cli_cmd_operator},
        {"keys", "your API keys, each with a role", cli_cmd_keys},
        {"devices", "register, list, lock, unlock, release phones",
         cli_cmd_devices},
        {"contracts", "loans: schedule and lock policy", cli_cmd_contracts},
        {"payments", "record and reverse payments", cli_cmd_payments},
        {"audit", "the audit log: list, export, verify, head", cli_cmd_audit},
        {"imei", "check an IMEI", cli_cmd_imei},
        {"keygen", "create a new Ed25519 key (PASERK k4.secret / k4.public)",
         cli_cmd_keygen},
        {"key", "key ceremony: certify a signing key with the root key",
         cli_cmd_key},
        {"token", "sign and verify PASETO v4.public tokens", cli_cmd_token},
};

static const char about[] =
        "finlock - lock a financed phone when installments are overdue,\n"
        "unlock it the moment the customer pays.";

int cli_main(int argc, char **argv)
{
	if (fl_crypto_init() != FL_OK) {
		cli_err("cannot initialise the crypto library");
		return CLI_REFUSED;
	}
	return cli_dispatch("finlock", about, commands,
	                    sizeof(commands) / sizeof(commands[0]), argc, argv);
}
