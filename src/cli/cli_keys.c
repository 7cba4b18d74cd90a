/*
 * cli_keys.c - `finlock keygen` and `finlock key ...`: the key ceremony.
 *
 * keygen prints a new Ed25519 key as three PASERK lines: k4.secret,
 * k4.public, k4.pid. With --root it is the operator's root key, which is
 * meant to live offline; finlockd only ever sees its public half.
 * `key certify` signs a signing-key certificate with the root key.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_cmds.h"
#include "core/fltime.h"
#include "core/paserk.h"
#include "core/token.h"

static const char keygen_usage[] =
        "usage: finlock keygen [--root] [--json]\n"
        "\n"
        "Creates a new Ed25519 key and prints it as PASERK, one per line:\n"
        "the secret key (k4.secret), its public key (k4.public) and its key "
        "id\n"
        "(k4.pid). --root marks it as the operator's root key: keep that one\n"
        "offline; phones carry its public key in their factory image.\n";

int cli_cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {{"root", no_argument, NULL, 'r'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	char sec[FL_PASERK_SECRET_SIZE], pub[FL_PASERK_PUBLIC_SIZE];
	struct fl_signer key;
	int c, root = 0, json = 0, rc = CLI_REFUSED;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(keygen_usage, stdout);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc) {
		cli_err("keygen: unexpected argument '%s'", argv[optind]);
		return CLI_USAGE;
	}
	if (fl_signer_generate(&key) != FL_OK ||
	    fl_paserk_secret_encode(sec, key.sk) != FL_OK ||
	    fl_paserk_public_encode(pub, key.pk) != FL_OK) {
		cli_err("keygen: could not create a key");
		goto out;
	}
	if (json)
		printf("{\"secret\":\"%s\",\"public\":\"%s\",\"kid\":\"%s\","
		       "\"root\":%s}\n",
		       sec, pub, key.kid, root ? "true" : "false");
	else
		printf("%s\n%s\n%s\n", sec, pub, key.kid);
	if (root)
		fprintf(stderr, "finlock: this is a root key: store the "
		                "k4.secret line offline and give finlockd "
		                "only certificates it signs\n");
	rc = CLI_OK;
out:
	fl_wipe(sec, sizeof(sec));
	fl_signer_wipe(&key);
	return rc;
}

/* Loads a k4.secret given inline, as "-" (stdin) or from --*-file. */
static int load_secret(struct fl_signer *s, const char *inline_key,
                       const char *file)
{
	char buf[256];
	char *text = NULL;
	fl_err err;
	int rc = CLI_REFUSED;

	if (file != NULL) {
		FILE *f = fopen(file, "r");
		size_t n;

		if (f == NULL) {
			cli_err("cannot open %s", file);
			return CLI_REFUSED;
		}
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		err = fl_signer_from_paserk(s, buf);
		fl_wipe(buf, sizeof(buf));
	} else {
		text = cli_arg_or_stdin(inline_key);
		if (text == NULL)
			return CLI_REFUSED;
		err = fl_signer_from_paserk(s, text);
		fl_wipe(text, strlen(text));
		free(text);
	}
	if (err != FL_OK)
		cli_err("bad secret key: %s", fl_strerror(err));
	else
		rc = CLI_OK;
	return rc;
}

static const char certify_usage[] =
        "usage: finlock key certify (--root K4SECRET | --root-file FILE)\n"
        "                           --key K4PUBLIC --not-after TIME "
        "[--webhook]\n"
        "\n"
        "Signs a certificate for finlockd's signing key K4PUBLIC with the\n"
        "operator's root key, valid until TIME (RFC 3339). Give the result to\n"
        "`finlockd --data DIR keys accept-cert`. K4SECRET may be '-' to read "
        "it\n"
        "from standard input. --webhook certifies the key that signs webhooks\n"
        "(v1a; its public_key in GET /v1/webhooks/signing-key) with a\n"
        "certificate of its own kind, which no phone accepts.\n";

static int key_certify(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"root", required_argument, NULL, 'r'},
	        {"root-file", required_argument, NULL, 'f'},
	        {"key", required_argument, NULL, 'k'},
	        {"not-after", required_argument, NULL, 'n'},
	        {"webhook", no_argument, NULL, 'w'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	const char *root = NULL, *root_file = NULL, *key = NULL, *na = NULL;
	bool webhook = false;
	uint8_t pk[FL_SIGN_PK_LEN];
	struct fl_signer signer;
	char *cert = NULL;
	fl_time not_after;
	fl_err err;
	int c, rc;

	memset(&signer, 0, sizeof(signer));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 'f':
			root_file = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			na = optarg;
			break;
		case 'w':
			webhook = true;
			break;
		case 'h':
			fputs(certify_usage, stdout);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if ((root == NULL) == (root_file == NULL) || key == NULL ||
	    na == NULL || optind != argc) {
		cli_err("key certify: needs one of --root/--root-file, --key "
		        "and --not-after (try --help)");
		return CLI_USAGE;
	}
	err = fl_paserk_public_decode(pk, key, strlen(key));
	if (err != FL_OK) {
		cli_err("bad --key: %s", fl_strerror(err));
		return CLI_REFUSED;
	}
	err = fl_time_parse(na, strlen(na), &not_after);
	if (err != FL_OK) {
		cli_err("bad --not-after: %s", fl_strerror(err));
		return CLI_REFUSED;
	}
	rc = load_secret(&signer, root, root_file);
	if (rc != CLI_OK)
		goto out;
	err = webhook ? fl_webhook_keycert_issue(&cert, &signer, pk, not_after)
	              : fl_keycert_issue(&cert, &signer, pk, not_after);
	if (err != FL_OK) {
		cli_err("cannot certify: %s", fl_strerror(err));
		rc = CLI_REFUSED;
		goto out;
	}
	printf("%s\n", cert);
out:
	free(cert);
	fl_signer_wipe(&signer);
	return rc;
}

static const struct cli_cmd key_cmds[] = {
        {"certify", "certify a finlockd signing key with the root key",
         key_certify},
};

const struct cli_group cli_group_key = {
        "finlock key",
        "The key ceremony: the offline root key certifies "
        "finlockd's signing keys.",
        key_cmds, sizeof(key_cmds) / sizeof(key_cmds[0])};

int cli_cmd_key(int argc, char **argv)
{
	return cli_run_group(&cli_group_key, argc, argv);
}

int cli_load_secret(struct fl_signer *s, const char *inline_key,
                    const char *file)
{
	return load_secret(s, inline_key, file);
}
