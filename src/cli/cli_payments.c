/*
 * cli_payments.c - `finlock payments record|reverse|list|show`: money
 * received for a device's contract, in whole minor units (cents).
 *
 * Recording is safe to retry: every record carries an Idempotency-Key
 * (--idempotency-key, or one finlock makes and prints on stderr once the
 * request is about to be sent). Sending the same command again with that key, e.g.
 * after a timeout, never records the payment twice: the server answers
 * with its first answer.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_cmds.h"
#include "cli/cli_out.h"
#include "core/crypto.h"

#define AMOUNT_MAX 1000000000000000LL

static const char record_usage[] =
        "usage: finlock payments record DEVICE --amount N --reference R\n"
        "                               [--paid-at TIME] "
        "[--idempotency-key K]\n"
        "                               [--allow-overpayment] "
        "[--allow-duplicate-reference]\n"
        "\n"
        "Records a payment of N minor units (cents) for DEVICE (the device "
        "id or\n"
        "one of its IMEIs), paid at TIME (RFC 3339; default now), with your\n"
        "reference R (the receipt or transaction code). The device's state "
        "is\n"
        "decided again at once: paid means unlocked.\n"
        "\n"
        "Money typed in by hand is checked: more than what remains on the\n"
        "contract is refused unless --allow-overpayment (the excess then "
        "shows as\n"
        "the device's credit), and a reference already recorded on any of "
        "your\n"
        "devices is refused, naming the earlier payment, unless\n"
        "--allow-duplicate-reference.\n"
        "\n"
        "Without --idempotency-key finlock makes a key and prints it on "
        "stderr\n"
        "as it sends the request; to retry after a timeout or an error, run the same\n"
        "command with --idempotency-key set to it: the payment is never "
        "recorded\n"
        "twice. Admin key.\n";

static int payments_record(int argc, char **argv)
{
	const char *amount, *paid_at, *reference, *idem;
	bool over, dup;
	const struct cli_opt opts[] = {
	        {"amount", CLI_OPT_STR, &amount, true},
	        {"paid-at", CLI_OPT_STR, &paid_at, false},
	        {"reference", CLI_OPT_STR, &reference, true},
	        {"idempotency-key", CLI_OPT_STR, &idem, false},
	        {"allow-overpayment", CLI_OPT_FLAG, &over, false},
	        {"allow-duplicate-reference", CLI_OPT_FLAG, &dup, false},
	        {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "payments record", record_usage, opts, 1, 1, true};
	char when[21], key[64];
	struct cli_args a;
	long long n;
	json_t *body;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (strchr(amount, '.') != NULL || strchr(amount, ',') != NULL) {
		cli_err("--amount is a whole number of minor units (cents): "
		        "1500.00 is --amount 150000");
		return CLI_REFUSED;
	}
	if ((rc = cli_int_arg("amount", amount, 1, AMOUNT_MAX, &n)) != CLI_OK)
		return rc;
	if (paid_at != NULL &&
	    (rc = cli_time_arg("paid-at", paid_at, when)) != CLI_OK)
		return rc;
	if (reference[0] == '\0') {
		cli_err("--reference must not be empty");
		return CLI_REFUSED;
	}
	if (idem == NULL) {
		uint8_t rnd[16];

		fl_random(rnd, sizeof(rnd));
		memcpy(key, "pay-", 4);
		fl_hex_encode(key + 4, rnd, sizeof(rnd));
		idem = key;
		a.idem_made = key; /* announced as the request goes out */
	}
	body = json_pack("{s:I,s:s}", "amount", (json_int_t)n, "reference",
	                 reference);
	if (body != NULL && over)
		json_object_set_new(body, "allow_overpayment", json_true());
	if (body != NULL && dup)
		json_object_set_new(body, "allow_duplicate_reference",
		                    json_true());
	if (body != NULL && paid_at != NULL)
		json_object_set_new(body, "paid_at", json_string(when));
	return cli_run_device_call(&a, a.pos[0], "POST", "/payments", body,
	                           idem, "payment");
}

static const char reverse_usage[] =
        "usage: finlock payments reverse PAYMENT --reason R\n"
        "\n"
        "Reverses a payment (a bounced transfer, a typo), with the reason "
        "kept in\n"
        "the audit log, and decides the device's state again. Admin key.\n";

static int payments_reverse(int argc, char **argv)
{
	const char *reason;
	const struct cli_opt opts[] = {{"reason", CLI_OPT_STR, &reason, true},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "payments reverse", reverse_usage, opts, 1, 1, true};
	char path[CLI_PATH_MAX];
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!cli_path(path, sizeof(path), "/v1/payments", a.pos[0], "/reverse"))
		return CLI_USAGE;
	return cli_run_call(&a, "POST", path,
	                    json_pack("{s:s}", "reason", reason), "payment");
}

static const char list_usage[] =
        "usage: finlock payments list [DEVICE] [--limit N] [--cursor C] "
        "[--all]\n"
        "\n"
        "Lists payments, oldest first: all of yours, or those of DEVICE "
        "(the\n"
        "device id or one of its IMEIs).\n"
        "\n" CLI_LIST_HELP;

static const struct cli_col payment_cols[] = {
        {"ID", "id"},
        {"DEVICE", "device_id"},
        {"AMOUNT", "amount"},
        {"PAID AT", "paid_at"},
        {"REFERENCE", "reference"},
        {"REVERSED", "reversed"},
};

static int payments_list(int argc, char **argv)
{
	char path[CLI_PATH_MAX] = "/v1/payments", id[256];
	struct cli_listing l = {path,         NULL,
	                        NULL,         false,
	                        payment_cols, CLI_NCOLS(payment_cols),
	                        "no payments"};
	const struct cli_opt opts[] = {CLI_LIST_OPTS(l),
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "payments list", list_usage, opts, 0, 1, true};
	struct cli_api *api = NULL;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK && a.npos == 1) {
		rc = cli_api_device(api, a.pos[0], id, sizeof(id));
		if (rc == CLI_OK && !cli_path(path, sizeof(path), "/v1/devices",
		                              id, "/payments"))
			rc = CLI_USAGE;
	}
	if (rc == CLI_OK)
		rc = cli_list_run(api, &l);
	cli_api_free(api);
	return rc;
}

static const char show_usage[] =
        "usage: finlock payments show PAYMENT\n"
        "\n"
        "Shows one payment, with its reversal if it was reversed.\n";

static int payments_show(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "payments show", show_usage, NULL, 1, 1, true};
	char path[CLI_PATH_MAX];
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!cli_path(path, sizeof(path), "/v1/payments", a.pos[0], NULL))
		return CLI_USAGE;
	return cli_run_call(&a, "GET", path, NULL, NULL);
}

static const struct cli_cmd payments_cmds[] = {
        {"record", "record a payment (safe to retry)", payments_record},
        {"reverse", "reverse a payment, with a reason", payments_reverse},
        {"list", "list payments", payments_list},
        {"show", "show a payment", payments_show},
};

int cli_cmd_payments(int argc, char **argv)
{
	return cli_dispatch(
	        "finlock payments", "Money received for a device's contract.",
	        payments_cmds, sizeof(payments_cmds) / sizeof(payments_cmds[0]),
	        argc, argv);
}
