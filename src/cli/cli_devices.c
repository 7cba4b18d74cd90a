/*
 * cli_devices.c - `finlock devices ...`: a lender's phones. Register one
 * (the answer carries the one-time enrollment code the clerk types on the
 * phone), list with filters, show, and the manual commands: lock (now or
 * at a time), unlock until a time, release for good, stolen set/clear,
 * force sync, a new enrollment code. `devices import` is in cli_import.c.
 *
 * Wherever a command takes a DEVICE it accepts the device id (dv_...) or
 * one of the phone's IMEIs, looked up among the lender's own devices.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_cmds.h"
#include "cli/cli_out.h"
#include "core/imei.h"

#define DEVICE_ARG_HELP                                                        \
	"DEVICE is the device id (dv_...) or one of the phone's IMEIs.\n"

/* --- looking a device up -------------------------------------------------- */

/* True when arg is exactly an IMEI (15 digits, right check digit). */
static bool is_imei(const char *arg, char imei[FL_IMEI_LEN + 1])
{
	return strlen(arg) == FL_IMEI_LEN &&
	       strspn(arg, "0123456789") == FL_IMEI_LEN &&
	       fl_imei_parse(arg, FL_IMEI_LEN, imei) == FL_OK;
}

int cli_api_find_imei(struct cli_api *api, const char *imei, json_t **device)
{
	char path[CLI_PATH_MAX];
	struct cli_resp r;
	json_t *best = NULL, *it;
	size_t i;
	int rc;

	*device = NULL;
	/* a route every lender role may call: a clerk finds phones too */
	if (!cli_path(path, sizeof(path), "/v1/devices/by-imei", imei, NULL))
		return CLI_REFUSED;
	rc = cli_api_call(api, "GET", path, NULL, NULL, &r);
	if (rc != CLI_OK)
		return rc;
	/* keep the exact IMEI, preferring a device still in a program over
	 * a released one */
	json_array_foreach(json_object_get(r.json, "items"), i, it)
	{
		if (strcmp(cli_jstr(it, "imei"), imei) != 0 &&
		    strcmp(cli_jstr(it, "imei2"), imei) != 0)
			continue;
		if (best == NULL ||
		    strcmp(cli_jstr(best, "state"), "released") == 0)
			best = it;
	}
	if (best != NULL)
		*device = json_incref(best);
	cli_resp_free(&r);
	return CLI_OK;
}

int cli_api_device(struct cli_api *api, const char *arg, char *out, size_t cap)
{
	char imei[FL_IMEI_LEN + 1];
	json_t *d = NULL;
	int rc;

	if (strlen(arg) == FL_IMEI_LEN &&
	    strspn(arg, "0123456789") == FL_IMEI_LEN && !is_imei(arg, imei)) {
		fl_err err = fl_imei_parse(arg, FL_IMEI_LEN, imei);

		cli_err("'%s' is not a valid IMEI: %s (a device is its id, "
		        "dv_..., or one of its IMEIs)",
		        arg, fl_strerror(err));
		return CLI_REFUSED;
	}
	if (!is_imei(arg, imei)) {
		if (snprintf(out, cap, "%s", arg) >= (int)cap) {
			cli_err("device id too long");
			return CLI_REFUSED;
		}
		return CLI_OK;
	}
	rc = cli_api_find_imei(api, imei, &d);
	if (rc != CLI_OK)
		return rc;
	if (d == NULL) {
		cli_err("404 not found: none of your devices has IMEI %s",
		        imei);
		return CLI_REFUSED;
	}
	snprintf(out, cap, "%s", cli_jstr(d, "id"));
	json_decref(d);
	return CLI_OK;
}

int cli_run_device_call(const struct cli_args *a, const char *device,
                        const char *method, const char *suffix, json_t *body,
                        const char *idem, const char *member)
{
	char id[256], path[CLI_PATH_MAX];
	struct cli_api *api = NULL;
	struct cli_resp r;
	int rc;

	rc = cli_api_open(&api, a, true);
	if (rc == CLI_OK)
		rc = cli_api_device(api, device, id, sizeof(id));
	if (rc == CLI_OK &&
	    !cli_path(path, sizeof(path), "/v1/devices", id, suffix))
		rc = CLI_USAGE;
	if (rc == CLI_OK && a->idem_made != NULL)
		fprintf(stderr,
		        "finlock: idempotency key %s (to retry safely, run the "
		        "same command with --idempotency-key %s)\n",
		        a->idem_made, a->idem_made);
	if (rc == CLI_OK)
		rc = cli_api_call(api, method, path, body, idem, &r);
	if (rc == CLI_OK) {
		size_t i;
		json_t *w;

		if (r.replayed)
			fprintf(stderr, "finlock: the server had already done "
			                "this (same idempotency key): this is "
			                "its first answer\n");
		/* what the server warns of goes to stderr, whatever prints */
		json_array_foreach(json_object_get(r.json, "warnings"), i, w)
		        fprintf(stderr, "finlock: warning: %s\n",
		                json_string_value(w) != NULL
		                        ? json_string_value(w)
		                        : "");
		cli_print_answer(api, &r, member);
		cli_resp_free(&r);
	}
	json_decref(body);
	cli_api_free(api);
	return rc;
}

/* --- register ------------------------------------------------------------- */

static const char register_usage[] =
        "usage: finlock devices register --imei IMEI [--imei2 IMEI2] "
        "--serial S\n"
        "                                [--model M] [--idempotency-key K]\n"
        "\n"
        "Registers a phone sold on credit and prints its one-time "
        "enrollment\n"
        "code: enter it on the phone to enroll it. The IMEIs are checked\n"
        "(length, digits, check digit) before anything is sent. An IMEI is "
        "in\n"
        "one financing program at a time: registering one that is already "
        "in\n"
        "a program is refused (409). Admin or clerk key.\n";

int cli_print_registered(const json_t *ans)
{
	const json_t *d = json_object_get(ans, "device");

	printf("registered %s\n", cli_jstr(d, "id"));
	printf("  imei             %s\n", cli_jstr(d, "imei"));
	if (cli_jstr(d, "imei2")[0] != '\0')
		printf("  imei2            %s\n", cli_jstr(d, "imei2"));
	printf("  serial           %s\n", cli_jstr(d, "serial"));
	if (cli_jstr(d, "model")[0] != '\0')
		printf("  model            %s\n", cli_jstr(d, "model"));
	printf("  enrollment code  %s (valid until %s)\n",
	       cli_jstr(ans, "enrollment_code"),
	       cli_jstr(ans, "enrollment_code_expires_at"));
	return CLI_OK;
}

int cli_check_imei(const char *what, const char *arg,
                   char imei[FL_IMEI_LEN + 1])
{
	fl_err err = fl_imei_parse(arg, strlen(arg), imei);

	if (err != FL_OK) {
		cli_err("--%s: '%s' is not a valid IMEI: %s", what, arg,
		        fl_strerror(err));
		return CLI_REFUSED;
	}
	return CLI_OK;
}

static int devices_register(int argc, char **argv)
{
	const char *imei, *imei2, *serial, *model, *idem;
	const struct cli_opt opts[] = {
	        {"imei", CLI_OPT_STR, &imei, true},
	        {"imei2", CLI_OPT_STR, &imei2, false},
	        {"serial", CLI_OPT_STR, &serial, true},
	        {"model", CLI_OPT_STR, &model, false},
	        {"idempotency-key", CLI_OPT_STR, &idem, false},
	        {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "devices register", register_usage, opts, 0, 0, true};
	char i1[FL_IMEI_LEN + 1], i2[FL_IMEI_LEN + 1];
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	json_t *body = NULL;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_check_imei("imei", imei, i1)) != CLI_OK ||
	    (imei2 != NULL &&
	     (rc = cli_check_imei("imei2", imei2, i2)) != CLI_OK))
		return rc;
	if (imei2 != NULL && strcmp(i1, i2) == 0) {
		cli_err("--imei2 must differ from --imei");
		return CLI_REFUSED;
	}
	if (serial[0] == '\0') {
		cli_err("--serial must not be empty");
		return CLI_REFUSED;
	}
	body = json_pack("{s:s,s:s}", "imei", i1, "serial", serial);
	if (body != NULL && imei2 != NULL)
		json_object_set_new(body, "imei2", json_string(i2));
	if (body != NULL && model != NULL)
		json_object_set_new(body, "model", json_string(model));
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK)
		rc = cli_api_call(api, "POST", "/v1/devices", body, idem, &r);
	if (rc == CLI_OK) {
		if (a.json)
			cli_print_body(&r);
		else
			cli_print_registered(r.json);
		cli_resp_free(&r);
	}
	json_decref(body);
	cli_api_free(api);
	return rc;
}

/* --- list and show -------------------------------------------------------- */

static const char list_usage[] =
        "usage: finlock devices list [--state S] [--overdue] [--tamper] "
        "[--sim]\n"
        "                            [--stolen] [--lock-held] [--q TEXT]\n"
        "                            [--sort KEY] [--desc]\n"
        "                            [--limit N] [--cursor C] [--all]\n"
        "\n"
        "Lists your devices, oldest first unless --sort says otherwise. Any "
        "key of\n"
        "the lender.\n"
        "\n"
        "  --state S         only devices in state S: pending, active, "
        "reminding,\n"
        "                    locked or released (any case)\n"
        "  --overdue         only devices with an amount due now\n"
        "  --tamper          only devices that reported tampering (rooted,\n"
        "                    bootloader unlocked)\n"
        "  --sim             only devices that reported a SIM change\n"
        "  --stolen          only devices reported stolen\n"
        "  --lock-held       only devices a manual unlock holds open now\n"
        "  --sort KEY        order by registered (the default), "
        "last_contact,\n"
        "                    amount_due, next_due or state\n"
        "  --desc            that order descending (newest, largest, "
        "latest first)\n"
        "  --q TEXT          only devices whose id, IMEI, serial, model or "
        "loan\n"
        "                    reference contains TEXT\n" CLI_LIST_HELP;

static const struct cli_col device_cols[] = {
        {"ID", "id"},
        {"IMEI", "imei"},
        {"SERIAL", "serial"},
        {"MODEL", "model"},
        {"STATE", "state"},
        {"STOLEN", "stolen"},
        {"DUE", "amount_due"},
        {"LOCK AT", "lock_at"},
        {"LAST CONTACT", "last_contact"},
};

static int devices_list(int argc, char **argv)
{
	char path[CLI_PATH_MAX] = "/v1/devices";
	const char *state, *q, *sort;
	bool overdue, tamper, sim, stolen, lock_held, desc;
	struct cli_listing l = {path,        NULL,
	                        NULL,        false,
	                        device_cols, CLI_NCOLS(device_cols),
	                        "no devices"};
	const struct cli_opt opts[] = {
	        {"state", CLI_OPT_STR, &state, false},
	        {"overdue", CLI_OPT_FLAG, &overdue, false},
	        {"tamper", CLI_OPT_FLAG, &tamper, false},
	        {"sim", CLI_OPT_FLAG, &sim, false},
	        {"stolen", CLI_OPT_FLAG, &stolen, false},
	        {"lock-held", CLI_OPT_FLAG, &lock_held, false},
	        {"sort", CLI_OPT_STR, &sort, false},
	        {"desc", CLI_OPT_FLAG, &desc, false},
	        {"q", CLI_OPT_STR, &q, false},
	        CLI_LIST_OPTS(l),
	        {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "devices list", list_usage, opts, 0, 0, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if ((state != NULL && !cli_query(path, sizeof(path), "state", state)) ||
	    (overdue && !cli_query(path, sizeof(path), "overdue", "true")) ||
	    (tamper && !cli_query(path, sizeof(path), "tamper", "true")) ||
	    (sim && !cli_query(path, sizeof(path), "sim", "true")) ||
	    (stolen && !cli_query(path, sizeof(path), "stolen", "true")) ||
	    (lock_held &&
	     !cli_query(path, sizeof(path), "lock_held", "true")) ||
	    (sort != NULL && !cli_query(path, sizeof(path), "sort", sort)) ||
	    (desc && !cli_query(path, sizeof(path), "order", "desc")) ||
	    (q != NULL && !cli_query(path, sizeof(path), "q", q)))
		return CLI_USAGE;
	return cli_run_list(&a, &l);
}

static const char show_usage[] =
        "usage: finlock devices show DEVICE\n"
        "\n"
        "Shows a device: its state and why, lock time, amount due, paid-"
        "through\n"
        "date, last contact, SIM and tamper reports, and its pending "
        "commands (a\n"
        "scheduled lock, an unlock still holding) with their ids for\n"
        "`finlock devices cancel`.\n"
        "\n"
        "Beside what the server decided it shows what the phone last "
        "confirmed\n"
        "applying: lock_status is locked, locking (locked by the server, "
        "not yet\n"
        "confirmed by the phone), unlocking, unlocked, or unknown (the "
        "phone has\n"
        "confirmed nothing yet); phone is the token seq it confirmed, "
        "whether\n"
        "that token locks it, when, and whether it is the latest token.\n"
        "The last line sums this up. " DEVICE_ARG_HELP;

/* One line: what the server decided and what the phone confirmed. */
static void print_lock_status(const json_t *d)
{
	const json_t *phone = json_object_get(d, "phone");
	const char *status = cli_jstr(d, "lock_status");

	if (status[0] == '\0')
		return;
	if (!json_is_object(phone)) {
		printf("lock status: %s (the phone has confirmed no token "
		       "yet)\n",
		       status);
		return;
	}
	printf("lock status: %s (the phone confirmed token %lld, %s, at %s%s)"
	       "\n",
	       status,
	       (long long)json_integer_value(
	               json_object_get(phone, "token_seq")),
	       json_is_true(json_object_get(phone, "locked")) ? "locked"
	                                                      : "unlocked",
	       cli_jstr(phone, "confirmed_at"),
	       json_is_true(json_object_get(phone, "current"))
	               ? ""
	               : "; a newer token is not confirmed yet");
}

static int devices_show(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "devices show", show_usage, NULL, 1, 1, true};
	char id[256], path[CLI_PATH_MAX];
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK)
		rc = cli_api_device(api, a.pos[0], id, sizeof(id));
	if (rc == CLI_OK &&
	    !cli_path(path, sizeof(path), "/v1/devices", id, NULL))
		rc = CLI_USAGE;
	if (rc == CLI_OK)
		rc = cli_api_call(api, "GET", path, NULL, NULL, &r);
	if (rc == CLI_OK) {
		cli_print_answer(api, &r, NULL);
		if (!a.json)
			print_lock_status(r.json);
		cli_resp_free(&r);
	}
	cli_api_free(api);
	return rc;
}

/* --- commands ------------------------------------------------------------- */

static const char lock_usage[] =
        "usage: finlock devices lock DEVICE --reason R [--at TIME] "
        "[--show-reason]\n"
        "\n"
        "Locks the phone now, or at TIME (RFC 3339, or +2h, +3d from now; "
        "a time\n"
        "already past is refused). The lock screen says the lender locked "
        "the\n"
        "phone; with --show-reason it also shows the customer R. The lock "
        "never\n"
        "erases data; emergency calls, calls to you and your payment app "
        "keep\n"
        "working. A lock at TIME shows in `devices show` until it comes and "
        "can be\n"
        "cancelled with `devices cancel`. Admin key. " DEVICE_ARG_HELP;

static int devices_lock(int argc, char **argv)
{
	const char *reason, *at;
	bool show;
	const struct cli_opt opts[] = {{"reason", CLI_OPT_STR, &reason, true},
	                               {"at", CLI_OPT_STR, &at, false},
	                               {"show-reason", CLI_OPT_FLAG, &show, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "devices lock", lock_usage, opts, 1, 1, true};
	char when[21];
	struct cli_args a;
	json_t *body;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (at != NULL && (rc = cli_time_arg("at", at, when)) != CLI_OK)
		return rc;
	body = json_pack("{s:s,s:b}", "reason", reason, "show_reason", show);
	if (body != NULL && at != NULL)
		json_object_set_new(body, "at", json_string(when));
	return cli_run_device_call(&a, a.pos[0], "POST", "/lock", body, NULL,
	                           NULL);
}

static const char unlock_usage[] =
        "usage: finlock devices unlock DEVICE --until TIME [--reason R]\n"
        "\n"
        "Unlocks the phone until TIME (RFC 3339, or +2h, +3d from now; a "
        "time\n"
        "already past is refused), whatever is due; after TIME the "
        "contract\n"
        "decides again. The unlock shows in `devices show` while it holds "
        "and can\n"
        "be ended early with `devices cancel`. Admin key.\n" DEVICE_ARG_HELP;

static int devices_unlock(int argc, char **argv)
{
	const char *until, *reason;
	const struct cli_opt opts[] = {{"until", CLI_OPT_STR, &until, true},
	                               {"reason", CLI_OPT_STR, &reason, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "devices unlock", unlock_usage, opts, 1, 1, true};
	char when[21];
	struct cli_args a;
	json_t *body;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_time_arg("until", until, when)) != CLI_OK)
		return rc;
	body = json_pack("{s:s}", "until", when);
	if (body != NULL && reason != NULL)
		json_object_set_new(body, "reason", json_string(reason));
	return cli_run_device_call(&a, a.pos[0], "POST", "/unlock", body, NULL,
	                           NULL);
}

static const char release_usage[] =
        "usage: finlock devices release DEVICE [--reason R]\n"
        "\n"
        "Releases the phone for good: every restriction is lifted and it "
        "can\n"
        "never be locked again (a phone is released by itself after its "
        "last\n"
        "payment). Admin key. " DEVICE_ARG_HELP;

static int devices_release(int argc, char **argv)
{
	const char *reason;
	const struct cli_opt opts[] = {{"reason", CLI_OPT_STR, &reason, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "devices release", release_usage, opts, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return cli_run_device_call(
	        &a, a.pos[0], "POST", "/release",
	        reason != NULL ? json_pack("{s:s}", "reason", reason)
	                       : json_object(),
	        NULL, NULL);
}

static const char stolen_usage[] =
        "usage: finlock devices stolen DEVICE (--set | --clear) --reason R\n"
        "\n"
        "Reports the phone stolen (--set), which locks it whatever is paid "
        "and\n"
        "shows it as stolen to anyone checking its IMEI; or lifts the "
        "report\n"
        "(--clear). A released phone belongs to its owner: a report on it "
        "shows\n"
        "in the IMEI check and its certificate only, and never locks it. "
        "Both are\n"
        "audited with the reason. Admin key. " DEVICE_ARG_HELP;

static int devices_stolen(int argc, char **argv)
{
	const char *reason;
	bool set, clear;
	const struct cli_opt opts[] = {{"set", CLI_OPT_FLAG, &set, false},
	                               {"clear", CLI_OPT_FLAG, &clear, false},
	                               {"reason", CLI_OPT_STR, &reason, true},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "devices stolen", stolen_usage, opts, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (set == clear) {
		cli_err("devices stolen: give one of --set and --clear");
		return CLI_USAGE;
	}
	return cli_run_device_call(
	        &a, a.pos[0], "POST", set ? "/stolen" : "/stolen/clear",
	        json_pack("{s:s}", "reason", reason), NULL, NULL);
}

static const char cancel_usage[] =
        "usage: finlock devices cancel DEVICE COMMAND --reason R\n"
        "\n"
        "Cancels a pending command of the phone: a lock at a time still to "
        "come\n"
        "never comes; an unlock still holding ends now. COMMAND is the id "
        "that\n"
        "`devices show` lists under pending_commands. Audited with the "
        "reason.\n"
        "Admin key. " DEVICE_ARG_HELP;

static int devices_cancel(int argc, char **argv)
{
	const char *reason;
	const struct cli_opt opts[] = {{"reason", CLI_OPT_STR, &reason, true},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "devices cancel", cancel_usage, opts, 2, 2, true};
	char suffix[96];
	struct cli_args a;
	long long cmd;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_int_arg("COMMAND", a.pos[1], 1, INT64_MAX, &cmd)) !=
	    CLI_OK)
		return rc;
	snprintf(suffix, sizeof(suffix), "/commands/%lld/cancel", cmd);
	return cli_run_device_call(&a, a.pos[0], "POST", suffix,
	                           json_pack("{s:s}", "reason", reason), NULL,
	                           NULL);
}

static const char sync_usage[] =
        "usage: finlock devices sync DEVICE\n"
        "\n"
        "Forces a fresh token for the phone, so it picks up its state at "
        "its next\n"
        "check-in even if nothing changed (\"I paid but my phone is still "
        "locked\").\n"
        "Admin or support key. " DEVICE_ARG_HELP;

static int devices_sync(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "devices sync", sync_usage, NULL, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return cli_run_device_call(&a, a.pos[0], "POST", "/sync", json_object(),
	                           NULL, NULL);
}

static const char enroll_code_usage[] =
        "usage: finlock devices enrollment-code DEVICE\n"
        "\n"
        "Issues a new one-time enrollment code for the phone (the old one "
        "stops\n"
        "working), e.g. when the first expired or the phone was reset. "
        "Admin or\n"
        "clerk key. " DEVICE_ARG_HELP;

static int devices_enroll_code(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "devices enrollment-code", enroll_code_usage, NULL, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return cli_run_device_call(&a, a.pos[0], "POST", "/enrollment-code",
	                           json_object(), NULL, NULL);
}

static const char wait_usage[] =
        "usage: finlock devices wait DEVICE [--seq N] [--for SECONDS]\n"
        "\n"
        "Waits until the device's token changes (a payment, a command, a "
        "lock\n"
        "time passing) and prints the device; when it does not change in "
        "time\n"
        "nothing is printed on stdout. Without --seq it waits for a\n"
        "change from the token the device has now. Gives up after SECONDS\n"
        "(default 30, at most 3600). Exits 0 when the token changed, 1 when "
        "it\n"
        "did not in time. " DEVICE_ARG_HELP;

#define WAIT_CHUNK 120 /* the server's longest long-poll, seconds */

static int devices_wait(int argc, char **argv)
{
	const char *seq_s, *for_s;
	const struct cli_opt opts[] = {{"seq", CLI_OPT_STR, &seq_s, false},
	                               {"for", CLI_OPT_STR, &for_s, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "devices wait", wait_usage, opts, 1, 1, true};
	char id[256], path[CLI_PATH_MAX], num[32];
	long long seq = -1, secs = 30, left;
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if ((seq_s != NULL &&
	     (rc = cli_int_arg("seq", seq_s, 0, INT64_MAX, &seq)) != CLI_OK) ||
	    (for_s != NULL &&
	     (rc = cli_int_arg("for", for_s, 1, 3600, &secs)) != CLI_OK))
		return rc;
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK)
		rc = cli_api_device(api, a.pos[0], id, sizeof(id));
	if (rc == CLI_OK && seq < 0) {
		/* the token the device has now */
		if (!cli_path(path, sizeof(path), "/v1/devices", id, NULL))
			rc = CLI_USAGE;
		else if ((rc = cli_api_call(api, "GET", path, NULL, NULL,
		                            &r)) == CLI_OK) {
			seq = json_integer_value(
			        json_object_get(r.json, "token_seq"));
			cli_resp_free(&r);
		}
	}
	if (rc == CLI_OK)
		cli_api_min_timeout(api, WAIT_CHUNK + 15);
	for (left = secs; rc == CLI_OK && left > 0;) {
		long long chunk = left < WAIT_CHUNK ? left : WAIT_CHUNK;
		long long now_seq;

		snprintf(num, sizeof(num), "%lld", seq);
		if (!cli_path(path, sizeof(path), "/v1/devices", id, "/wait") ||
		    !cli_query(path, sizeof(path), "seq", num)) {
			rc = CLI_USAGE;
			break;
		}
		snprintf(num, sizeof(num), "%lld", chunk);
		if (!cli_query(path, sizeof(path), "timeout", num)) {
			rc = CLI_USAGE;
			break;
		}
		rc = cli_api_call(api, "GET", path, NULL, NULL, &r);
		if (rc != CLI_OK)
			break;
		now_seq = json_integer_value(
		        json_object_get(r.json, "token_seq"));
		left -= chunk;
		if (now_seq > seq) {
			cli_print_answer(api, &r, NULL);
			cli_resp_free(&r);
			break;
		}
		if (left <= 0) {
			/* nothing changed: no device is printed */
			cli_err("no change within %lld s (token seq still "
			        "%lld)",
			        secs, seq);
			rc = CLI_REFUSED;
			cli_resp_free(&r);
			break;
		}
		cli_resp_free(&r);
	}
	cli_api_free(api);
	return rc;
}

/* --- offline codes and re-enrollment ------------------------------------- */

static const char code_usage[] =
        "usage: finlock devices code DEVICE (--days N | --release)\n"
        "\n"
        "Issues a 10-digit offline code for a phone with no data "
        "connection:\n"
        "support reads it to the customer, who types it on the lock "
        "screen. It\n"
        "unlocks for N days (1, 3, 7 or 30) or, with --release, releases "
        "the\n"
        "phone for good (admin key only; the device is released here too). "
        "A code\n"
        "is good for about 72 hours; asking again before it is used shows "
        "the\n"
        "same code. The phone must have enrolled. Admin or support "
        "key.\n" DEVICE_ARG_HELP;

static int devices_code(int argc, char **argv)
{
	const char *days;
	bool release;
	const struct cli_opt opts[] = {
	        {"days", CLI_OPT_STR, &days, false},
	        {"release", CLI_OPT_FLAG, &release, false},
	        {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "devices code", code_usage, opts, 1, 1, true};
	char id[256], path[CLI_PATH_MAX];
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	long long n = 0;
	json_t *body;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if ((days == NULL) == !release) {
		cli_err("devices code: give one of --days N and --release");
		return CLI_USAGE;
	}
	if (days != NULL &&
	    ((rc = cli_int_arg("days", days, 1, 30, &n)) != CLI_OK))
		return rc;
	if (days != NULL && n != 1 && n != 3 && n != 7 && n != 30) {
		cli_err("--days must be 1, 3, 7 or 30");
		return CLI_REFUSED;
	}
	body = days != NULL ? json_pack("{s:I}", "days", (json_int_t)n)
	                    : json_pack("{s:s}", "action", "release");
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK)
		rc = cli_api_device(api, a.pos[0], id, sizeof(id));
	if (rc == CLI_OK &&
	    !cli_path(path, sizeof(path), "/v1/devices", id, "/offline-code"))
		rc = CLI_USAGE;
	if (rc == CLI_OK)
		rc = cli_api_call(api, "POST", path, body, NULL, &r);
	if (rc == CLI_OK) {
		if (a.json) {
			cli_print_body(&r);
		} else {
			long long d = json_integer_value(
			        json_object_get(r.json, "days"));

			printf("offline code for %s: %s\n",
			       cli_jstr(r.json, "device_id"),
			       cli_jstr(r.json, "spoken"));
			if (strcmp(cli_jstr(r.json, "action"), "release") == 0)
				printf("  releases the phone for good\n");
			else
				printf("  unlocks for %lld day%s\n", d,
				       d == 1 ? "" : "s");
			printf("  type it before %s\n",
			       cli_jstr(r.json, "expires_at"));
			if (json_is_true(
			            json_object_get(r.json, "shown_again")))
				printf("  (the code issued earlier, not yet "
				       "used)\n");
		}
		cli_resp_free(&r);
	}
	json_decref(body);
	cli_api_free(api);
	return rc;
}

static const char approve_usage[] =
        "usage: finlock devices approve DEVICE --pairing-code CODE\n"
        "       finlock devices approve DEVICE --request ID\n"
        "\n"
        "Approves the re-enrollment of a phone that was wiped (reflashed): "
        "it\n"
        "shows a pairing code of 16 digits (\"0491 7253 8812 0034\") that "
        "the\n"
        "customer reads to you (spaces and dashes may be left in). Only a "
        "pending\n"
        "request showing that code is approved; the phone then enrolls "
        "with new\n"
        "keys. When two pending requests show the same code the server "
        "refuses\n"
        "(409) and names them: see `devices pairing-requests` (a request "
        "signed\n"
        "by the phone's factory key says so) and approve one with --request "
        "ID.\n"
        "Admin or support key. " DEVICE_ARG_HELP;

static const char reject_usage[] =
        "usage: finlock devices reject DEVICE --pairing-code CODE\n"
        "       finlock devices reject DEVICE --request ID\n"
        "\n"
        "Refuses the pending re-enrollment request showing CODE, or request "
        "ID\n"
        "(a phone that is not the customer's). Admin or support "
        "key. " DEVICE_ARG_HELP;

static int pairing_decide(int argc, char **argv, const char *path_word,
                          const struct cli_spec *spec_in)
{
	const char *code = NULL, *request = NULL;
	const struct cli_opt opts[] = {
	        {"pairing-code", CLI_OPT_STR, &code, false},
	        {"request", CLI_OPT_STR, &request, false},
	        {NULL, 0, NULL, false}};
	struct cli_spec spec = *spec_in;
	struct cli_args a;
	long long id = 0;
	int rc;

	spec.opts = opts;
	rc = cli_parse(&a, &spec, argc, argv);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((code == NULL) == (request == NULL)) {
		cli_err("%s: give one of --pairing-code CODE and --request ID",
		        spec.path);
		return CLI_USAGE;
	}
	if (request != NULL && (rc = cli_int_arg("--request", request, 1,
	                                         INT64_MAX, &id)) != CLI_OK)
		return rc;
	return cli_run_device_call(
	        &a, a.pos[0], "POST", path_word,
	        code != NULL ? json_pack("{s:s}", "pairing_code", code)
	                     : json_pack("{s:I}", "request_id", (json_int_t)id),
	        NULL, NULL);
}

static int devices_approve(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "devices approve", approve_usage, NULL, 1, 1, true};

	return pairing_decide(argc, argv, "/approve-pairing", &spec);
}

static int devices_reject(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "devices reject", reject_usage, NULL, 1, 1, true};

	return pairing_decide(argc, argv, "/reject-pairing", &spec);
}

static const char pairing_usage[] =
        "usage: finlock devices pairing-requests DEVICE\n"
        "\n"
        "Lists the phone's re-enrollment requests: request id, pairing "
        "code,\n"
        "whether the phone's factory key signed it (FACTORY yes: the phone "
        "that\n"
        "enrolled first, after a reflash), the client network it came "
        "from,\n"
        "status (pending, approved, rejected, expired), when made and "
        "decided.\n" DEVICE_ARG_HELP;

static const struct cli_col pairing_cols[] = {
        {"REQUEST", "request_id"},     {"PAIRING CODE", "pairing_code"},
        {"FACTORY", "factory_signed"}, {"NETWORK", "client_network"},
        {"STATUS", "status"},          {"CREATED", "created_at"},
        {"EXPIRES", "expires_at"},     {"DECIDED", "decided_at"},
        {"BY", "decided_by"},
};

static int devices_pairing(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "devices pairing-requests", pairing_usage, NULL, 1, 1, true};
	char id[256], path[CLI_PATH_MAX];
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK)
		rc = cli_api_device(api, a.pos[0], id, sizeof(id));
	if (rc == CLI_OK && !cli_path(path, sizeof(path), "/v1/devices", id,
	                              "/pairing-requests"))
		rc = CLI_USAGE;
	if (rc == CLI_OK)
		rc = cli_api_call(api, "GET", path, NULL, NULL, &r);
	if (rc == CLI_OK) {
		json_t *items = json_object_get(r.json, "items");

		if (a.json)
			cli_print_body(&r);
		else if (json_array_size(items) == 0)
			fprintf(stderr, "finlock: no pairing requests\n");
		else
			cli_print_table(pairing_cols, CLI_NCOLS(pairing_cols),
			                items);
		cli_resp_free(&r);
	}
	cli_api_free(api);
	return rc;
}

static const struct cli_cmd devices_cmds[] = {
        {"register", "register a phone, get its enrollment code",
         devices_register},
        {"import", "register the phones of a reseller's CSV file",
         cli_devices_import},
        {"list", "list devices (filters, sort, text)", devices_list},
        {"show", "show a device", devices_show},
        {"lock", "lock now or at a time", devices_lock},
        {"unlock", "unlock until a time", devices_unlock},
        {"release", "release for good", devices_release},
        {"stolen", "set or clear a stolen report", devices_stolen},
        {"cancel", "cancel a pending lock or unlock", devices_cancel},
        {"sync", "force a fresh token", devices_sync},
        {"enrollment-code", "issue a new one-time enrollment code",
         devices_enroll_code},
        {"wait", "wait until the device's token changes", devices_wait},
        {"code", "issue an offline unlock code", devices_code},
        {"approve", "approve a wiped phone's re-enrollment", devices_approve},
        {"reject", "refuse a re-enrollment request", devices_reject},
        {"pairing-requests", "list a phone's re-enrollment requests",
         devices_pairing},
};

const struct cli_group cli_group_devices = {
        "finlock devices",
        "Your financed phones and the commands that lock, "
        "unlock and release them.",
        devices_cmds, sizeof(devices_cmds) / sizeof(devices_cmds[0])};

int cli_cmd_devices(int argc, char **argv)
{
	return cli_run_group(&cli_group_devices, argc, argv);
}
