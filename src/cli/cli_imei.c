/*
 * cli_imei.c - `finlock imei ...`: what a second-hand buyer runs.
 *
 * `imei check IMEI` validates the IMEI offline (length, digits, check
 * digit) and, given a server, asks its public IMEI check: no_record,
 * financed, released or stolen (never "locked", never a debtor); with the
 * phone's serial the lender's name and contact come too. No key is sent.
 *
 * `imei certificate` fetches the server's signed status certificate: a
 * JSON document holding the certificate (a PASETO v4.public token of kind
 * finlock:imei-certificate, signed by one of finlockd's signing keys), the
 * signing key's certificate (signed by the operator's root key), the kid
 * and, for information, the root's public key. `imei verify-cert` checks
 * it offline against a root public key the verifier already trusts (never
 * the one inside the document): the key certificate must be signed by
 * that root and unexpired, the status certificate signed by that key with
 * the right implicit assertion, and not past its "exp".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_cmds.h"
#include "cli/cli_out.h"
#include "core/imei.h"
#include "core/paserk.h"
#include "core/token.h"

#define CERT_FILE_MAX (64u * 1024) /* a certificate document is small */

static const char check_usage[] =
        "usage: finlock imei check IMEI [--server URL [--serial S]] "
        "[--online]\n"
        "\n"
        "Checks that IMEI is a valid 15-digit IMEI (length, digits, Luhn "
        "check\n"
        "digit). Spaces, dashes and slashes are allowed between digits.\n"
        "Prints the normalised IMEI and its TAC; exits 0 when valid, 1 when "
        "not.\n"
        "With --json: {\"imei\": ..., \"valid\": true, \"tac\": ...} "
        "offline, the\n"
        "server's answer online.\n"
        "\n"
        "With --server URL (or --online, which uses the configured server) "
        "a\n"
        "valid IMEI is then looked up in the server's public IMEI check: "
        "no_record,\n"
        "financed, released or stolen. With the phone's serial number "
        "(--serial,\n"
        "proof of having it in hand) the lender's name and contact are "
        "shown\n"
        "too. No API key is sent.\n";

/* Prints the public check's answer. */
static void print_status(const json_t *j)
{
	const json_t *lender = json_object_get(j, "lender");
	char phones[512];

	printf("status: %s\n", cli_jstr(j, "status"));
	if (json_is_object(lender)) {
		cli_jtext(cli_jpath(lender, "contact.phones"), phones,
		          sizeof(phones));
		printf("lender: %s\n", cli_jstr(lender, "name"));
		if (cli_jstr(lender, "contact.name")[0] != '\0' ||
		    json_array_size(cli_jpath(lender, "contact.phones")) > 0)
			printf("contact: %s %s\n",
			       cli_jstr(lender, "contact.name"), phones);
	}
}

static int imei_check(int argc, char **argv)
{
	const char *serial;
	bool online;
	const struct cli_opt opts[] = {{"serial", CLI_OPT_STR, &serial, false},
	                               {"online", CLI_OPT_FLAG, &online, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {"imei check", check_usage, opts, 1, 1,
	                              true};
	char imei[FL_IMEI_LEN + 1], tac[FL_TAC_LEN + 1], path[CLI_PATH_MAX];
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	fl_err err;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (serial != NULL && a.server == NULL && !online) {
		cli_err("imei check: --serial needs --server or --online");
		return CLI_USAGE;
	}
	err = fl_imei_parse(a.pos[0], strlen(a.pos[0]), imei);
	if (err != FL_OK) {
		cli_err("invalid IMEI: %s", fl_strerror(err));
		return CLI_REFUSED;
	}
	fl_imei_tac(imei, tac);
	if (a.server == NULL && !online) {
		if (a.json) {
			json_t *j = json_pack("{s:s,s:b,s:s}", "imei", imei,
			                      "valid", 1, "tac", tac);

			json_dumpf(j, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			json_decref(j);
		} else {
			printf("%s valid (TAC %s)\n", imei, tac);
		}
		return CLI_OK;
	}
	if (!cli_path(path, sizeof(path), "/v1/imei", imei, NULL) ||
	    (serial != NULL &&
	     !cli_query(path, sizeof(path), "serial", serial)))
		return CLI_USAGE;
	rc = cli_api_open(&api, &a, false);
	if (rc == CLI_OK)
		rc = cli_api_call(api, "GET", path, NULL, NULL, &r);
	if (rc == CLI_OK) {
		if (a.json) {
			cli_print_body(&r);
		} else {
			printf("%s valid (TAC %s)\n", imei, tac);
			print_status(r.json);
		}
		cli_resp_free(&r);
	}
	cli_api_free(api);
	return rc;
}

static const char certificate_usage[] =
        "usage: finlock imei certificate IMEI (--server URL | --online) "
        "[--serial S]\n"
        "\n"
        "Fetches the server's signed status certificate for IMEI and prints "
        "it\n"
        "(a JSON document, good for a day) to give to a buyer, who checks "
        "it\n"
        "with 'finlock imei verify-cert'. With --serial it names the "
        "lender.\n";

static int imei_certificate(int argc, char **argv)
{
	const char *serial;
	bool online;
	const struct cli_opt opts[] = {{"serial", CLI_OPT_STR, &serial, false},
	                               {"online", CLI_OPT_FLAG, &online, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "imei certificate", certificate_usage, opts, 1, 1, true};
	char imei[FL_IMEI_LEN + 1], path[CLI_PATH_MAX];
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	fl_err err;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (a.server == NULL && !online) {
		cli_err("imei certificate: needs --server URL or --online");
		return CLI_USAGE;
	}
	err = fl_imei_parse(a.pos[0], strlen(a.pos[0]), imei);
	if (err != FL_OK) {
		cli_err("invalid IMEI: %s", fl_strerror(err));
		return CLI_REFUSED;
	}
	if (!cli_path(path, sizeof(path), "/v1/imei", imei, "/certificate") ||
	    (serial != NULL &&
	     !cli_query(path, sizeof(path), "serial", serial)))
		return CLI_USAGE;
	rc = cli_api_open(&api, &a, false);
	if (rc == CLI_OK)
		rc = cli_api_call(api, "GET", path, NULL, NULL, &r);
	if (rc == CLI_OK) {
		if (!json_is_string(json_object_get(r.json, "certificate")) ||
		    !json_is_string(json_object_get(r.json, "key_cert"))) {
			cli_err("the server's answer is not a certificate");
			rc = CLI_REFUSED;
		} else {
			cli_print_body(&r);
		}
		cli_resp_free(&r);
	}
	cli_api_free(api);
	return rc;
}

static const char verify_usage[] =
        "usage: finlock imei verify-cert CERT --root K4PUBLIC [--imei IMEI] "
        "[--json]\n"
        "\n"
        "Checks a status certificate (the file CERT written by 'finlock "
        "imei\n"
        "certificate'; '-' reads standard input) offline against the "
        "operator's\n"
        "root public key K4PUBLIC, which you must already trust (the copy "
        "inside\n"
        "the certificate is never used): the signing key must be certified "
        "by\n"
        "that root and unexpired, the certificate signed by it and not "
        "expired.\n"
        "With --imei it must also be about that IMEI. Prints the IMEI's "
        "status\n"
        "and exits 0 when valid; otherwise prints why and exits 1. --json "
        "prints\n"
        "the certificate's signed content.\n";

/* Reads CERT ("-" for stdin) as a JSON object; *doc new reference. */
static int read_cert(const char *file, json_t **doc)
{
	json_error_t e;
	char *text = NULL;
	FILE *f;
	size_t n;

	*doc = NULL;
	f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	if (f == NULL) {
		cli_err("cannot open %s", file);
		return CLI_REFUSED;
	}
	text = malloc(CERT_FILE_MAX + 1);
	if (text == NULL) {
		cli_err("out of memory");
		if (f != stdin)
			fclose(f);
		return CLI_REFUSED;
	}
	n = fread(text, 1, CERT_FILE_MAX + 1, f);
	if (f != stdin)
		fclose(f);
	if (n > CERT_FILE_MAX) {
		cli_err("%s is too large to be a certificate", file);
		free(text);
		return CLI_REFUSED;
	}
	text[n] = '\0';
	*doc = json_loads(text, 0, &e);
	free(text);
	if (!json_is_object(*doc) ||
	    !json_is_string(json_object_get(*doc, "certificate")) ||
	    !json_is_string(json_object_get(*doc, "key_cert"))) {
		cli_err("%s is not a finlock status certificate (a JSON object "
		        "with \"certificate\" and \"key_cert\")",
		        file);
		json_decref(*doc);
		*doc = NULL;
		return CLI_REFUSED;
	}
	return CLI_OK;
}

static int imei_verify_cert(int argc, char **argv)
{
	const char *root, *want;
	bool json;
	const struct cli_opt opts[] = {{"root", CLI_OPT_STR, &root, true},
	                               {"imei", CLI_OPT_STR, &want, false},
	                               {"json", CLI_OPT_FLAG, &json, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "imei verify-cert", verify_usage, opts, 1, 1, false};
	char kid[FL_KID_MAX], want_imei[FL_IMEI_LEN + 1];
	uint8_t pk[FL_SIGN_PK_LEN];
	struct fl_trust *trust = NULL;
	json_t *doc = NULL, *claims = NULL;
	char *payload = NULL;
	size_t len = 0;
	struct cli_args a;
	fl_time now = cli_now(), exp;
	const char *s;
	fl_err err;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = CLI_REFUSED;
	if ((err = fl_paserk_public_decode(pk, root, strlen(root))) != FL_OK) {
		cli_err("bad --root: %s", fl_strerror(err));
		return CLI_REFUSED;
	}
	if (want != NULL &&
	    (err = fl_imei_parse(want, strlen(want), want_imei)) != FL_OK) {
		cli_err("bad --imei: %s", fl_strerror(err));
		return CLI_REFUSED;
	}
	if (read_cert(a.pos[0], &doc) != CLI_OK)
		goto out;
	if ((err = fl_trust_new(&trust, pk)) != FL_OK) {
		cli_err("cannot verify: %s", fl_strerror(err));
		goto out;
	}
	err = fl_trust_add_cert(trust, cli_jstr(doc, "key_cert"), now, kid);
	if (err != FL_OK) {
		cli_err("invalid certificate: its signing key is not certified "
		        "by this root: %s",
		        fl_strerror(err));
		goto out;
	}
	err = fl_trust_verify(trust, FL_MSG_IMEI_CERT,
	                      cli_jstr(doc, "certificate"), now, &payload,
	                      &len);
	if (err != FL_OK) {
		cli_err("invalid certificate: %s", fl_strerror(err));
		goto out;
	}
	claims = json_loadb(payload, len, 0, NULL);
	s = cli_jstr(claims, "exp");
	if (!json_is_object(claims) ||
	    fl_time_parse(s, strlen(s), &exp) != FL_OK ||
	    strlen(cli_jstr(claims, "imei")) != FL_IMEI_LEN ||
	    cli_jstr(claims, "status")[0] == '\0') {
		cli_err("invalid certificate: its content is malformed");
		goto out;
	}
	if (exp < now) {
		cli_err("invalid certificate: it expired at %s", s);
		goto out;
	}
	if (want != NULL && strcmp(cli_jstr(claims, "imei"), want_imei) != 0) {
		cli_err("invalid certificate: it is about IMEI %s, not %s",
		        cli_jstr(claims, "imei"), want_imei);
		goto out;
	}
	if (json) {
		fwrite(payload, 1, len, stdout);
		fputc('\n', stdout);
	} else {
		printf("valid certificate: IMEI %s\n",
		       cli_jstr(claims, "imei"));
		print_status(claims);
		printf("checked at: %s\nvalid until: %s\nsigned by: %s\n",
		       cli_jstr(claims, "checked_at"), s, kid);
	}
	rc = CLI_OK;
out:
	json_decref(claims);
	json_decref(doc);
	free(payload);
	fl_trust_free(trust);
	return rc;
}

static const struct cli_cmd imei_cmds[] = {
        {"check", "validate an IMEI, and look it up on a server", imei_check},
        {"certificate", "fetch a signed status certificate", imei_certificate},
        {"verify-cert", "verify a status certificate offline",
         imei_verify_cert},
};

const struct cli_group cli_group_imei = {
        "finlock imei", "Check IMEIs before buying or financing.", imei_cmds,
        sizeof(imei_cmds) / sizeof(imei_cmds[0])};

int cli_cmd_imei(int argc, char **argv)
{
	return cli_run_group(&cli_group_imei, argc, argv);
}
