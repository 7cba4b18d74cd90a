/*
 * cli_token.c - `finlock token sign|verify`: PASETO v4.public tokens.
 *
 * These work on the generic PASETO layer, exactly as the specification
 * describes it: verify checks the signature (with the footer and implicit
 * assertion) and nothing else, so the published test vectors verify.
 * finlock's own claim checks belong to the device agent.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_cmds.h"
#include "core/paserk.h"
#include "core/paseto.h"
#include "core/token.h"

static const char sign_usage[] =
        "usage: finlock token sign (--key K4SECRET | --key-file FILE)\n"
        "                          [--footer F] [--implicit I] PAYLOAD\n"
        "\n"
        "Signs PAYLOAD ('-' reads standard input) as a v4.public token with\n"
        "the optional footer F and implicit assertion I, and prints it.\n";

static int token_sign(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"key", required_argument, NULL, 'k'},
	        {"key-file", required_argument, NULL, 'f'},
	        {"footer", required_argument, NULL, 'F'},
	        {"implicit", required_argument, NULL, 'i'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	const char *key = NULL, *key_file = NULL, *footer = "", *implicit = "";
	struct fl_signer signer;
	char *payload = NULL, *token = NULL;
	fl_err err;
	int c, rc;

	memset(&signer, 0, sizeof(signer));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'f':
			key_file = optarg;
			break;
		case 'F':
			footer = optarg;
			break;
		case 'i':
			implicit = optarg;
			break;
		case 'h':
			fputs(sign_usage, stdout);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if ((key == NULL) == (key_file == NULL) || optind != argc - 1) {
		cli_err("token sign: needs --key or --key-file and one "
		        "PAYLOAD (try --help)");
		return CLI_USAGE;
	}
	rc = cli_load_secret(&signer, key, key_file);
	if (rc != CLI_OK)
		goto out;
	rc = CLI_REFUSED;
	payload = cli_arg_or_stdin(argv[optind]);
	if (payload == NULL)
		goto out;
	err = fl_paseto_sign(&token, signer.sk, payload, strlen(payload),
	                     footer, strlen(footer), implicit,
	                     strlen(implicit));
	if (err != FL_OK) {
		cli_err("cannot sign: %s", fl_strerror(err));
		goto out;
	}
	printf("%s\n", token);
	rc = CLI_OK;
out:
	free(token);
	free(payload);
	fl_signer_wipe(&signer);
	return rc;
}

static const char verify_usage[] =
        "usage: finlock token verify --key K4PUBLIC [--implicit I]\n"
        "                            [--show-footer] TOKEN\n"
        "\n"
        "Checks TOKEN's signature ('-' reads standard input) under K4PUBLIC\n"
        "with the implicit assertion I, as the PASETO specification does (no\n"
        "claim checks). Prints the payload and exits 0 when valid; otherwise\n"
        "prints the reason and exits 1. --show-footer prints the footer on a\n"
        "second line.\n";

static int token_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"key", required_argument, NULL, 'k'},
	        {"implicit", required_argument, NULL, 'i'},
	        {"show-footer", no_argument, NULL, 'F'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	const char *key = NULL, *implicit = "";
	uint8_t pk[FL_SIGN_PK_LEN], *msg = NULL, *footer = NULL;
	size_t msglen = 0, footerlen = 0;
	char *token = NULL;
	int c, show_footer = 0, rc = CLI_REFUSED;
	fl_err err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'i':
			implicit = optarg;
			break;
		case 'F':
			show_footer = 1;
			break;
		case 'h':
			fputs(verify_usage, stdout);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (key == NULL || optind != argc - 1) {
		cli_err("token verify: needs --key and one TOKEN (try --help)");
		return CLI_USAGE;
	}
	err = fl_paserk_public_decode(pk, key, strlen(key));
	if (err != FL_OK) {
		cli_err("bad --key: %s", fl_strerror(err));
		return CLI_REFUSED;
	}
	token = cli_arg_or_stdin(argv[optind]);
	if (token == NULL)
		goto out;
	err = fl_paseto_verify(&msg, &msglen, &footer, &footerlen, token,
	                       strlen(token), pk, implicit, strlen(implicit));
	if (err != FL_OK) {
		cli_err("invalid token: %s", fl_strerror(err));
		goto out;
	}
	fwrite(msg, 1, msglen, stdout);
	fputc('\n', stdout);
	if (show_footer) {
		fwrite(footer, 1, footerlen, stdout);
		fputc('\n', stdout);
	}
	rc = CLI_OK;
out:
	free(msg);
	free(footer);
	free(token);
	return rc;
}

static const struct cli_cmd token_cmds[] = {
        {"sign", "sign a payload as a v4.public token", token_sign},
        {"verify", "verify a v4.public token's signature", token_verify},
};

const struct cli_group cli_group_token = {
        "finlock token", "Sign and verify PASETO v4.public tokens.", token_cmds,
        sizeof(token_cmds) / sizeof(token_cmds[0])};

int cli_cmd_token(int argc, char **argv)
{
	return cli_run_group(&cli_group_token, argc, argv);
}
