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
#include <strings.h>

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

static const char unmatched_usage[] =
        "usage: finlock payments unmatched [--every] [--limit N] "
        "[--cursor C] [--all]\n"
        "\n"
        "Lists the provider payments that matched no contract (an account\n"
        "number mistyped, a reference sent again with other money), oldest\n"
        "first. They are kept until an admin assigns each to a device with\n"
        "`finlock payments assign`. --every lists those assigned already "
        "too.\n"
        "\n" CLI_LIST_HELP;

static const struct cli_col unmatched_cols[] = {
        {"ID", "id"},           {"REFERENCE", "reference"},
        {"ACCOUNT", "account"}, {"AMOUNT", "amount"},
        {"PAID AT", "paid_at"}, {"REASON", "reason"},
        {"PAYMENT", "payment_id"},
};

static int payments_unmatched(int argc, char **argv)
{
	char path[CLI_PATH_MAX] = "/v1/payments/unmatched";
	struct cli_listing l = {path,           NULL,
	                        NULL,           false,
	                        unmatched_cols, CLI_NCOLS(unmatched_cols),
	                        "no unmatched payments"};
	bool every = false;
	const struct cli_opt opts[] = {CLI_LIST_OPTS(l),
	                               {"every", CLI_OPT_FLAG, &every, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "payments unmatched", unmatched_usage, opts, 0, 0, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (every)
		snprintf(path, sizeof(path), "/v1/payments/unmatched?all=true");
	return cli_run_list(&a, &l);
}

static const char assign_usage[] =
        "usage: finlock payments assign UNMATCHED DEVICE\n"
        "\n"
        "Records the unmatched provider payment UNMATCHED (its id, from\n"
        "`finlock payments unmatched`) as a payment of DEVICE (the device "
        "id or\n"
        "one of its IMEIs), with the provider's reference. Audited; undo it "
        "by\n"
        "reversing the payment it made. Admin key.\n";

static int payments_assign(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "payments assign", assign_usage, NULL, 2, 2, true};
	char path[CLI_PATH_MAX], id[256];
	struct cli_api *api = NULL;
	struct cli_resp r = {0};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!cli_path(path, sizeof(path), "/v1/payments/unmatched", a.pos[0],
	              "/assign"))
		return CLI_USAGE;
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK)
		rc = cli_api_device(api, a.pos[1], id, sizeof(id));
	if (rc == CLI_OK) {
		json_t *body = json_pack("{s:s}", "device_id", id);

		rc = cli_api_call(api, "POST", path, body, NULL, &r);
		json_decref(body);
	}
	if (rc == CLI_OK)
		cli_print_answer(api, &r, "payment");
	cli_resp_free(&r);
	cli_api_free(api);
	return rc;
}

static const char confirm_usage[] =
        "usage: finlock payments confirm-release DEVICE\n"
        "\n"
        "A provider's payment that pays a contract off unlocks the phone at\n"
        "once but releases it for good only once you confirm (or a "
        "statement\n"
        "reconciles the payment: `finlock payments reconcile --apply`). "
        "This\n"
        "confirms DEVICE's pending release. Admin key.\n";

static int payments_confirm(int argc, char **argv)
{
	const struct cli_spec spec = {"payments confirm-release",
	                              confirm_usage, NULL, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return cli_run_device_call(&a, a.pos[0], "POST", "/release/confirm",
	                           NULL, NULL, "device");
}

static const char reconcile_usage[] =
        "usage: finlock payments reconcile FILE.csv --source SOURCE "
        "[--apply]\n"
        "\n"
        "Compares a provider's statement (CSV, first line the column names)\n"
        "with what finlock recorded through payment source SOURCE, by the\n"
        "provider's reference: payments missing from finlock, payments\n"
        "finlock has that the statement does not (over the statement's "
        "dates),\n"
        "and amounts that differ. With --apply the missing ones are "
        "recorded\n"
        "(as a callback would have: matched to a contract, or kept "
        "unmatched;\n"
        "running it again records nothing twice) and the releases the\n"
        "statement's payments confirm are made.\n"
        "\n"
        "Columns, by name (case ignored): the reference is \"Receipt No.\",\n"
        "\"TransID\" or \"reference\"; the amount \"Paid In\", "
        "\"TransAmount\"\n"
        "or \"amount\" (a decimal of the source's currency); the account\n"
        "\"Account No.\", \"BillRefNumber\" or \"account\"; the time\n"
        "\"Completion Time\", \"TransTime\" or \"paid_at\" (RFC 3339, or\n"
        "YYYY-MM-DD HH:MM:SS in East Africa Time). Rows with no amount paid\n"
        "in (withdrawals) are skipped. Admin key.\n";

#define RECON_LINE_MAX 4096
#define RECON_COLS_MAX 64

/* Splits a CSV line in place into fields (quotes as RFC 4180, no line
 * breaks inside a field). Returns the number of fields. */
static int csv_split(char *line, char **f, int cap)
{
	int n = 0;
	char *p = line, *w;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < cap) {
		f[n++] = w = p;
		if (*p == '"') {
			p++;
			for (;;) {
				if (*p == '\0')
					break;
				if (*p == '"' && p[1] == '"') {
					*w++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*w++ = *p++;
				}
			}
			while (*p != ',' && *p != '\0')
				p++;
		} else {
			while (*p != ',' && *p != '\0')
				*w++ = *p++;
		}
		if (*p == '\0') {
			*w = '\0';
			break;
		}
		*w = '\0';
		p++;
	}
	for (int i = 0; i < n; i++) {
		char *s = f[i], *e;

		while (*s == ' ')
			s++;
		e = s + strlen(s);
		while (e > s && e[-1] == ' ')
			*--e = '\0';
		f[i] = s;
	}
	return n;
}

/* The index of the first header among names, or -1. */
static int column(char **hdr, int n, const char *const *names)
{
	for (const char *const *nm = names; *nm != NULL; nm++)
		for (int i = 0; i < n; i++)
			if (strcasecmp(hdr[i], *nm) == 0)
				return i;
	return -1;
}

/* "1,500.00" as statements print it: the thousands separators go. */
static void no_commas(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (; *in != '\0' && n + 1 < cap; in++)
		if (*in != ',')
			out[n++] = *in;
	out[n] = '\0';
}

static int payments_reconcile(int argc, char **argv)
{
	static const char *const ref_names[] = {"Receipt No.", "Receipt No",
	                                        "TransID", "reference", NULL};
	static const char *const amt_names[] = {"Paid In", "TransAmount",
	                                        "amount", NULL};
	static const char *const acc_names[] = {
	        "Account No.", "Account No", "BillRefNumber", "account", NULL};
	static const char *const time_names[] = {
	        "Completion Time", "TransTime", "paid_at", NULL};
	const char *source;
	bool apply = false;
	const struct cli_opt opts[] = {
	        {"source", CLI_OPT_STR, &source, true},
	        {"apply", CLI_OPT_FLAG, &apply, false},
	        {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "payments reconcile", reconcile_usage, opts, 1, 1, true};
	char line[RECON_LINE_MAX], hline[RECON_LINE_MAX];
	char *hdr[RECON_COLS_MAX], *f[RECON_COLS_MAX];
	int nh, cref, camt, cacc, ctime, lineno = 1;
	json_t *rows = NULL, *body = NULL;
	struct cli_args a;
	FILE *in = NULL;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	in = strcmp(a.pos[0], "-") == 0 ? stdin : fopen(a.pos[0], "r");
	if (in == NULL) {
		cli_err("cannot read %s", a.pos[0]);
		return CLI_REFUSED;
	}
	if (fgets(hline, sizeof(hline), in) == NULL) {
		cli_err("%s is empty", a.pos[0]);
		rc = CLI_REFUSED;
		goto out;
	}
	nh = csv_split(hline, hdr, RECON_COLS_MAX);
	cref = column(hdr, nh, ref_names);
	camt = column(hdr, nh, amt_names);
	cacc = column(hdr, nh, acc_names);
	ctime = column(hdr, nh, time_names);
	if (cref < 0 || camt < 0) {
		cli_err("%s: the first line must name a reference column "
		        "(Receipt No., TransID or reference) and an amount "
		        "column (Paid In, TransAmount or amount)",
		        a.pos[0]);
		rc = CLI_REFUSED;
		goto out;
	}
	if ((rows = json_array()) == NULL) {
		rc = CLI_REFUSED;
		goto out;
	}
	while (fgets(line, sizeof(line), in) != NULL) {
		char amount[64];
		int n;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(in)) {
			cli_err("%s:%d: line too long", a.pos[0], lineno);
			rc = CLI_REFUSED;
			goto out;
		}
		n = csv_split(line, f, RECON_COLS_MAX);
		if (n == 1 && f[0][0] == '\0')
			continue; /* a blank line */
		if (n <= cref || n <= camt) {
			cli_err("%s:%d: fewer columns than the header",
			        a.pos[0], lineno);
			rc = CLI_REFUSED;
			goto out;
		}
		no_commas(f[camt], amount, sizeof(amount));
		if (amount[0] == '\0')
			continue; /* money out, not in */
		json_array_append_new(
		        rows,
		        json_pack("{s:s,s:s,s:s?,s:s?}", "reference", f[cref],
		                  "amount", amount, "account",
		                  cacc >= 0 && cacc < n ? f[cacc] : NULL,
		                  "paid_at",
		                  ctime >= 0 && ctime < n && f[ctime][0] != '\0'
		                          ? f[ctime]
		                          : NULL));
	}
	body = json_pack("{s:s,s:O,s:b}", "source_id", source, "rows", rows,
	                 "apply", apply);
	rc = cli_run_call(&a, "POST", "/v1/payments/reconcile", body, NULL);
out:
	json_decref(rows);
	if (in != NULL && in != stdin)
		fclose(in);
	return rc;
}

static const struct cli_cmd payments_cmds[] = {
        {"record", "record a payment (safe to retry)", payments_record},
        {"reverse", "reverse a payment, with a reason", payments_reverse},
        {"list", "list payments", payments_list},
        {"show", "show a payment", payments_show},
        {"unmatched", "list provider payments that matched no contract",
         payments_unmatched},
        {"assign", "record an unmatched payment as a device's",
         payments_assign},
        {"confirm-release", "confirm a release a provider payment made",
         payments_confirm},
        {"reconcile", "compare a provider's statement (CSV) with finlock",
         payments_reconcile},
};

const struct cli_group cli_group_payments = {
        "finlock payments", "Money received for a device's contract.",
        payments_cmds, sizeof(payments_cmds) / sizeof(payments_cmds[0])};

int cli_cmd_payments(int argc, char **argv)
{
	return cli_run_group(&cli_group_payments, argc, argv);
}
