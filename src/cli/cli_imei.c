/*
 * cli_imei.c - `finlock imei check IMEI`: validate an IMEI offline.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_cmds.h"
#include "core/imei.h"

static const char check_usage[] =
        "usage: finlock imei check IMEI\n"
        "\n"
        "Checks that IMEI is a valid 15-digit IMEI (length, digits, Luhn "
        "check\n"
        "digit). Spaces, dashes and slashes are allowed between digits.\n"
        "Prints the normalised IMEI and its TAC; exits 0 when valid, 1 when "
        "not.\n";

static int imei_check(int argc, char **argv)
{
	char imei[FL_IMEI_LEN + 1], tac[FL_TAC_LEN + 1];
	fl_err err;

	if (cli_wants_help(argc, argv)) {
		fputs(check_usage, stdout);
		return CLI_OK;
	}
	if (argc != 2) {
		cli_err("imei check: exactly one IMEI is needed");
		return CLI_USAGE;
	}
	err = fl_imei_parse(argv[1], strlen(argv[1]), imei);
	if (err != FL_OK) {
		cli_err("invalid IMEI: %s", fl_strerror(err));
		return CLI_REFUSED;
	}
	fl_imei_tac(imei, tac);
	printf("%s valid (TAC %s)\n", imei, tac);
	return CLI_OK;
}

static const struct cli_cmd imei_cmds[] = {
        {"check", "validate an IMEI", imei_check},
};

int cli_cmd_imei(int argc, char **argv)
{
	return cli_dispatch("finlock imei",
	                    "Check IMEIs before buying or financing.",
	                    imei_cmds, sizeof(imei_cmds) / sizeof(imei_cmds[0]),
	                    argc, argv);
}
