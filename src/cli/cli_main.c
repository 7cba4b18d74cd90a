/*
 * cli_main.c - the top of the finlock command tree.
 */
#include "cli/cli.h"
#include "cli/cli_cmds.h"
#include "core/crypto.h"

static const struct cli_cmd commands[] = {
        {"keygen", "create a new Ed25519 key (PASERK k4.secret / k4.public)",
         cli_cmd_keygen},
        {"key", "key ceremony: certify a signing key with the root key",
         cli_cmd_key},
        {"token", "sign and verify PASETO v4.public tokens", cli_cmd_token},
        {"imei", "check an IMEI", cli_cmd_imei},
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
