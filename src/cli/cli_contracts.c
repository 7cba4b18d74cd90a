/*
 * cli_contracts.c - `finlock contracts create|show|list|reschedule`: the
 * loan attached to a device (one per device): installment schedule in
 * the contract's UTC offset, grace period and the lock policy.
 *
 * A schedule comes from a JSON file (an array of {"due", "amount"}, or an
 * object with such a "schedule" array) or inline with --installments
 * "2026-12-01:1500,2027-01-01:1500". A due date alone means the end of
 * that day at the contract's offset; an RFC 3339 time is that instant.
 * Amounts are whole minor units (cents) of the contract's currency.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_cmds.h"
#include "cli/cli_out.h"
#include "core/fltime.h"

#define SCHEDULE_FILE_MAX (1u << 20) /* largest schedule file */
#define AMOUNT_MAX        1000000000000000LL

/* Checks a due date or time as the server will read it. */
static bool due_ok(const char *s)
{
	int y, m, d;
	fl_time t;

	return fl_date_parse(s, strlen(s), &y, &m, &d) == FL_OK ||
	       fl_time_parse(s, strlen(s), &t) == FL_OK;
}

struct inst_ctx {
	json_t *arr;
	int rc;
};

/* One "DUE:AMOUNT" item; the amount follows the last colon (times have
 * colons of their own). */
static int add_installment(void *ctx, const char *s, size_t len)
{
	struct inst_ctx *ic = ctx;
	char item[128], *colon;
	long long amount;

	if (len >= sizeof(item)) {
		cli_err("--installments: item too long");
		return ic->rc = CLI_REFUSED;
	}
	memcpy(item, s, len);
	item[len] = '\0';
	colon = strrchr(item, ':');
	if (colon == NULL) {
		cli_err("--installments: '%s' is not DUE:AMOUNT", item);
		return ic->rc = CLI_REFUSED;
	}
	*colon = '\0';
	if (!due_ok(item)) {
		cli_err("--installments: '%s' is not a date (2026-12-01) or "
		        "an RFC 3339 time",
		        item);
		return ic->rc = CLI_REFUSED;
	}
	if (cli_int_arg("installments amount", colon + 1, 1, AMOUNT_MAX,
	                &amount) != CLI_OK)
		return ic->rc = CLI_REFUSED;
	json_array_append_new(ic->arr, json_pack("{s:s,s:I}", "due", item,
	                                         "amount", (json_int_t)amount));
	return 0;
}

/* Reads the schedule from --schedule FILE ("-": stdin) or --installments
 * into *out (new reference). */
static int read_schedule(const char *file, const struct cli_list *inst,
                         json_t **out)
{
	struct inst_ctx ic = {NULL, CLI_OK};
	json_error_t e;
	json_t *doc;

	*out = NULL;
	if ((file == NULL) == (inst->n == 0)) {
		cli_err("give the schedule with one of --schedule FILE and "
		        "--installments");
		return CLI_USAGE;
	}
	if (inst->n > 0) {
		ic.arr = json_array();
		if (ic.arr == NULL) {
			cli_err("out of memory");
			return CLI_REFUSED;
		}
		cli_list_each(inst, add_installment, &ic);
		if (ic.rc != CLI_OK) {
			json_decref(ic.arr);
			return ic.rc;
		}
		if (json_array_size(ic.arr) == 0) {
			cli_err("--installments is empty");
			json_decref(ic.arr);
			return CLI_REFUSED;
		}
		*out = ic.arr;
		return CLI_OK;
	}
	if (strcmp(file, "-") == 0)
		doc = json_loadf(stdin, JSON_REJECT_DUPLICATES, &e);
	else
		doc = json_load_file(file, JSON_REJECT_DUPLICATES, &e);
	if (doc == NULL) {
		cli_err("%s:%d: %s", file, e.line, e.text);
		return CLI_REFUSED;
	}
	if (json_is_object(doc)) {
		json_t *s = json_object_get(doc, "schedule");

		json_incref(s);
		json_decref(doc);
		doc = s;
	}
	if (!json_is_array(doc)) {
		cli_err("%s: expected an array of {\"due\": ..., \"amount\": "
		        "...} (or an object with one as \"schedule\")",
		        file);
		json_decref(doc);
		return CLI_REFUSED;
	}
	*out = doc;
	return CLI_OK;
}

struct names_ctx {
	json_t *arr;
};

static int add_name(void *ctx, const char *s, size_t len)
{
	struct names_ctx *nc = ctx;

	return json_array_append_new(nc->arr, json_stringn(s, len)) != 0;
}

/* A JSON array of the comma-separated items of l. */
static json_t *names(const struct cli_list *l)
{
	struct names_ctx nc = {json_array()};

	if (nc.arr != NULL && cli_list_each(l, add_name, &nc) != 0) {
		json_decref(nc.arr);
		return NULL;
	}
	return nc.arr;
}

static const char create_usage[] =
        "usage: finlock contracts create DEVICE (--schedule FILE.json |\n"
        "           --installments DUE:AMOUNT,...) --currency CUR\n"
        "           [--utc-offset +03:00] [--grace 3d] [--loan-ref REF] "
        "[--allow-overdue]\n"
        "           [policy]\n"
        "\n"
        "Attaches the loan to a device and decides its state at once. "
        "DEVICE is\n"
        "the device id or one of its IMEIs. Amounts are whole minor units "
        "(cents).\n"
        "A due date alone is the end of that day at the contract's UTC "
        "offset.\n"
        "Durations are like 90s, 15m, 72h, 3d. Admin key.\n"
        "\n"
        "  --schedule FILE      JSON: [{\"due\": \"2026-12-01\", \"amount\": "
        "1500}, ...]\n"
        "                       ('-' reads standard input)\n"
        "  --installments LIST  \"2026-12-01:1500,2027-01-01:1500\"\n"
        "  --currency CUR       ISO 4217 code (KES, NGN, ...)\n"
        "  --utc-offset OFF     the contract's offset (default Z)\n"
        "  --grace D            time after a due date before the lock "
        "(default 0)\n"
        "  --loan-ref REF       your loan account number\n"
        "  --allow-overdue      create it although installments are "
        "already due\n"
        "                       (the phone then locks as overdue once "
        "grace ends;\n"
        "                       without it such a contract is refused)\n"
        "policy:\n"
        "  --remind D,...       reminders before each due date (3d,1d,0d)\n"
        "  --restrict R,...     what a lock restricts (camera, "
        "install_apps, ...)\n"
        "  --allow-apps A,...   apps that keep working while locked\n"
        "  --message TEXT       the lock screen's message\n"
        "  --contact-name N     who to call, shown on the lock screen\n"
        "  --contact-phones P,..  numbers that can always be called\n"
        "  --max-offline D      lock a phone not seen for this long\n"
        "  --sim-change R       none, notify or lock on a SIM change\n"
        "  --tamper R           none, notify or lock on root/bootloader "
        "unlock\n";

static int contracts_create(int argc, char **argv)
{
	const char *file, *currency, *offset, *grace, *loan_ref, *message,
	        *contact_name, *max_offline, *sim, *tamper;
	struct cli_list inst, remind, restrict_, allow, phones;
	bool allow_overdue;
	const struct cli_opt opts[] = {
	        {"schedule", CLI_OPT_STR, &file, false},
	        {"installments", CLI_OPT_LIST, &inst, false},
	        {"currency", CLI_OPT_STR, &currency, true},
	        {"utc-offset", CLI_OPT_STR, &offset, false},
	        {"grace", CLI_OPT_STR, &grace, false},
	        {"loan-ref", CLI_OPT_STR, &loan_ref, false},
	        {"remind", CLI_OPT_LIST, &remind, false},
	        {"restrict", CLI_OPT_LIST, &restrict_, false},
	        {"allow-apps", CLI_OPT_LIST, &allow, false},
	        {"message", CLI_OPT_STR, &message, false},
	        {"contact-name", CLI_OPT_STR, &contact_name, false},
	        {"contact-phones", CLI_OPT_LIST, &phones, false},
	        {"max-offline", CLI_OPT_STR, &max_offline, false},
	        {"sim-change", CLI_OPT_STR, &sim, false},
	        {"tamper", CLI_OPT_STR, &tamper, false},
	        {"allow-overdue", CLI_OPT_FLAG, &allow_overdue, false},
	        {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "contracts create", create_usage, opts, 1, 1, true};
	json_t *body = NULL, *sched = NULL, *policy = NULL;
	struct cli_args a;
	int32_t off;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (offset != NULL &&
	    fl_offset_parse(offset, strlen(offset), &off) != FL_OK) {
		cli_err("--utc-offset must be Z or like +03:00, not '%s'",
		        offset);
		return CLI_REFUSED;
	}
	rc = read_schedule(file, &inst, &sched);
	if (rc != CLI_OK)
		return rc;
	body = json_pack("{s:s,s:o}", "currency", currency, "schedule", sched);
	policy = json_object();
	if (body == NULL || policy == NULL) {
		json_decref(body);
		json_decref(policy);
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	if (offset != NULL)
		json_object_set_new(body, "utc_offset", json_string(offset));
	if (grace != NULL)
		json_object_set_new(body, "grace", json_string(grace));
	if (loan_ref != NULL)
		json_object_set_new(body, "loan_ref", json_string(loan_ref));
	if (allow_overdue)
		json_object_set_new(body, "allow_overdue", json_true());
	if (remind.n > 0)
		json_object_set_new(policy, "reminders", names(&remind));
	if (restrict_.n > 0)
		json_object_set_new(policy, "restrict", names(&restrict_));
	if (allow.n > 0)
		json_object_set_new(policy, "allow_apps", names(&allow));
	if (message != NULL)
		json_object_set_new(policy, "message", json_string(message));
	if (contact_name != NULL || phones.n > 0) {
		json_t *c = json_object();

		if (contact_name != NULL)
			json_object_set_new(c, "name",
			                    json_string(contact_name));
		if (phones.n > 0)
			json_object_set_new(c, "phones", names(&phones));
		json_object_set_new(policy, "contact", c);
	}
	if (max_offline != NULL)
		json_object_set_new(policy, "max_offline",
		                    json_string(max_offline));
	if (sim != NULL)
		json_object_set_new(policy, "sim_change", json_string(sim));
	if (tamper != NULL)
		json_object_set_new(policy, "tamper", json_string(tamper));
	if (json_object_size(policy) > 0)
		json_object_set_new(body, "policy", policy);
	else
		json_decref(policy);
	return cli_run_device_call(&a, a.pos[0], "POST", "/contract", body,
	                           NULL, NULL);
}

static const char show_usage[] =
        "usage: finlock contracts show DEVICE\n"
        "\n"
        "Shows a device's contract: schedule, reschedules, grace, policy, "
        "and the\n"
        "device's state. DEVICE is the device id or one of its IMEIs.\n";

static int contracts_show(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "contracts show", show_usage, NULL, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return cli_run_device_call(&a, a.pos[0], "GET", "/contract", NULL, NULL,
	                           NULL);
}

static const char list_usage[] =
        "usage: finlock contracts list [--limit N] [--cursor C] [--all]\n"
        "\n"
        "Lists your contracts (without their schedules: show one for "
        "those).\n"
        "\n" CLI_LIST_HELP;

static const struct cli_col contract_cols[] = {
        {"DEVICE", "device_id"},  {"LOAN REF", "loan_ref"},
        {"CURRENCY", "currency"}, {"OFFSET", "utc_offset"},
        {"GRACE (S)", "grace"},   {"CREATED", "created_at"},
};

static int contracts_list(int argc, char **argv)
{
	struct cli_listing l = {
	        "/v1/contracts", NULL,          NULL,
	        false,           contract_cols, CLI_NCOLS(contract_cols),
	        "no contracts"};
	const struct cli_opt opts[] = {CLI_LIST_OPTS(l),
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "contracts list", list_usage, opts, 0, 0, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return cli_run_list(&a, &l);
}

static const char reschedule_usage[] =
        "usage: finlock contracts reschedule DEVICE --from DATE\n"
        "           (--schedule FILE.json | --installments DUE:AMOUNT,...)\n"
        "           [--reason R]\n"
        "\n"
        "Replaces the schedule from DATE on (a date is the start of that "
        "day at\n"
        "the contract's offset; an RFC 3339 time is that instant) with the "
        "new\n"
        "installments, and decides the device's state again. Audited. "
        "Admin key.\n";

static int contracts_reschedule(int argc, char **argv)
{
	const char *from, *file, *reason;
	struct cli_list inst;
	const struct cli_opt opts[] = {
	        {"from", CLI_OPT_STR, &from, true},
	        {"schedule", CLI_OPT_STR, &file, false},
	        {"installments", CLI_OPT_LIST, &inst, false},
	        {"reason", CLI_OPT_STR, &reason, false},
	        {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "contracts reschedule", reschedule_usage, opts, 1, 1, true};
	json_t *sched = NULL, *body;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!due_ok(from)) {
		cli_err("--from must be a date (2027-01-01) or an RFC 3339 "
		        "time");
		return CLI_REFUSED;
	}
	rc = read_schedule(file, &inst, &sched);
	if (rc != CLI_OK)
		return rc;
	body = json_pack("{s:s,s:o}", "from", from, "schedule", sched);
	if (body != NULL && reason != NULL)
		json_object_set_new(body, "reason", json_string(reason));
	return cli_run_device_call(&a, a.pos[0], "POST", "/contract/reschedule",
	                           body, NULL, NULL);
}

static const struct cli_cmd contracts_cmds[] = {
        {"create", "attach a loan to a device", contracts_create},
        {"show", "show a device's contract", contracts_show},
        {"list", "list contracts", contracts_list},
        {"reschedule", "replace the schedule from a date on",
         contracts_reschedule},
};

int cli_cmd_contracts(int argc, char **argv)
{
	return cli_dispatch(
	        "finlock contracts",
	        "Loans: the installment schedule and lock policy of a device.",
	        contracts_cmds,
	        sizeof(contracts_cmds) / sizeof(contracts_cmds[0]), argc, argv);
}
