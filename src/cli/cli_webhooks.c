/*
 * cli_webhooks.c - `finlock webhooks ...`: the lender's webhook endpoints
 * (docs/webhooks.md). create answers the endpoint's whsec_ secret, shown
 * this once (and again only by rotate, which makes a new one); list, show,
 * disable, enable, delete; the delivery log and redelivery.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_cmds.h"
#include "cli/cli_out.h"

#define WH_EVENTS_HELP                                                         \
	"Event types: device.enrolled, device.locked, device.unlocked,\n"      \
	"device.released, device.stolen, device.lock_confirmed,\n"             \
	"device.unlock_confirmed, device.sim_changed, device.tamper,\n"        \
	"payment.recorded, payment.reversed, payment.unmatched,\n"             \
	"payment_source.stale, locks.held; or * for all of them.\n"

/* Prints the secret warning after an answer carrying one (not with
 * --json: the secret is in the JSON). */
static void secret_note(const struct cli_args *a)
{
	if (!a->json)
		fprintf(stderr, "finlock: keep the secret now: it is not shown "
		                "again (`finlock webhooks rotate` makes a new "
		                "one)\n");
}

/* Sends method path with body (taken) and prints the answer; with
 * secret, warns that the secret is shown once. */
static int wh_call(const struct cli_args *a, const char *method,
                   const char *path, json_t *body, bool secret)
{
	int rc = cli_run_call(a, method, path, body, NULL);

	if (rc == CLI_OK && secret)
		secret_note(a);
	return rc;
}

static int add_event(void *ctx, const char *s, size_t len)
{
	json_t *events = ctx;

	return json_array_append_new(events, json_stringn(s, len)) == 0
	               ? 0
	               : CLI_REFUSED;
}

static const char create_usage[] =
        "usage: finlock webhooks create URL --events TYPE[,TYPE...]\n"
        "\n"
        "Registers URL (http or https) as a webhook endpoint receiving the\n"
        "events named (--events may be given more than once). Prints the\n"
        "endpoint and its secret (whsec_...), which signs every delivery "
        "(v1):\n"
        "it is shown this once. A URL on loopback or a private network is\n"
        "refused at delivery unless finlockd runs with "
        "webhook_allow_private.\n"
        "Admin key.\n"
        "\n" WH_EVENTS_HELP;

static int webhooks_create(int argc, char **argv)
{
	struct cli_list events;
	const struct cli_opt opts[] = {{"events", CLI_OPT_LIST, &events, true},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "webhooks create", create_usage, opts, 1, 1, true};
	struct cli_args a;
	json_t *list, *body;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (a.pos[0][0] == '\0') {
		cli_err("webhooks create: URL must not be empty");
		return CLI_USAGE;
	}
	if ((list = json_array()) == NULL) {
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	if (cli_list_each(&events, add_event, list) != 0) {
		json_decref(list);
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	if (json_array_size(list) == 0) {
		json_decref(list);
		cli_err("--events must name at least one event type, or * for "
		        "all");
		return CLI_USAGE;
	}
	body = json_pack("{s:s,s:o}", "url", a.pos[0], "events", list);
	return wh_call(&a, "POST", "/v1/webhooks", body, true);
}

static const char list_usage[] =
        "usage: finlock webhooks list [--limit N] [--cursor C] [--all]\n"
        "\n"
        "Lists your webhook endpoints, oldest first. Admin key.\n"
        "\n" CLI_LIST_HELP;

static const struct cli_col endpoint_cols[] = {
        {"ID", "id"},
        {"URL", "url"},
        {"EVENTS", "events"},
        {"ENABLED", "enabled"},
        {"CREATED", "created_at"},
        {"DISABLED REASON", "disabled_reason"},
};

static int webhooks_list(int argc, char **argv)
{
	char path[CLI_PATH_MAX] = "/v1/webhooks";
	struct cli_listing l = {path,
	                        NULL,
	                        NULL,
	                        false,
	                        endpoint_cols,
	                        CLI_NCOLS(endpoint_cols),
	                        "no webhook endpoints"};
	const struct cli_opt opts[] = {CLI_LIST_OPTS(l),
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "webhooks list", list_usage, opts, 0, 0, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return cli_run_list(&a, &l);
}

/* A command on one endpoint: method /v1/webhooks/<ID><suffix>. */
static int on_endpoint(const struct cli_args *a, const char *method,
                       const char *suffix, json_t *body, bool secret)
{
	char path[CLI_PATH_MAX];

	if (a->pos[0][0] == '\0' ||
	    !cli_path(path, sizeof(path), "/v1/webhooks", a->pos[0], suffix)) {
		json_decref(body);
		cli_err("bad webhook endpoint id '%s'", a->pos[0]);
		return CLI_USAGE;
	}
	return wh_call(a, method, path, body, secret);
}

static const char show_usage[] =
        "usage: finlock webhooks show ID\n"
        "\n"
        "Shows a webhook endpoint: its URL, events, and whether it is "
        "enabled\n"
        "(and why not). The secret is not shown. Admin key.\n";

static int webhooks_show(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "webhooks show", show_usage, NULL, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return on_endpoint(&a, "GET", NULL, NULL, false);
}

static const char disable_usage[] =
        "usage: finlock webhooks disable ID [--reason R]\n"
        "\n"
        "Stops deliveries to the endpoint; events emitted while it is "
        "disabled\n"
        "are not queued for it. Audited. Admin key.\n";

static int webhooks_disable(int argc, char **argv)
{
	const char *reason;
	const struct cli_opt opts[] = {{"reason", CLI_OPT_STR, &reason, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "webhooks disable", disable_usage, opts, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return on_endpoint(&a, "POST", "/disable",
	                   reason != NULL ? json_pack("{s:s}", "reason", reason)
	                                  : NULL,
	                   false);
}

static const char enable_usage[] =
        "usage: finlock webhooks enable ID\n"
        "\n"
        "Resumes deliveries to a disabled endpoint (one disabled by hand, "
        "or\n"
        "because it answered 410). Audited. Admin key.\n";

static int webhooks_enable(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "webhooks enable", enable_usage, NULL, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return on_endpoint(&a, "POST", "/enable", NULL, false);
}

static const char rotate_usage[] =
        "usage: finlock webhooks rotate ID\n"
        "\n"
        "Gives the endpoint a new secret, printed this once and used for "
        "every\n"
        "later attempt; the old one stops signing at once. Audited. Admin "
        "key.\n";

static int webhooks_rotate(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "webhooks rotate", rotate_usage, NULL, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return on_endpoint(&a, "POST", "/rotate", NULL, true);
}

static const char delete_usage[] =
        "usage: finlock webhooks delete ID\n"
        "\n"
        "Deletes the endpoint and its delivery log. Audited. Admin key.\n";

static int webhooks_delete(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "webhooks delete", delete_usage, NULL, 1, 1, true};
	char path[CLI_PATH_MAX];
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (a.pos[0][0] == '\0' ||
	    !cli_path(path, sizeof(path), "/v1/webhooks", a.pos[0], NULL)) {
		cli_err("bad webhook endpoint id '%s'", a.pos[0]);
		return CLI_USAGE;
	}
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK)
		rc = cli_api_call(api, "DELETE", path, NULL, NULL, &r);
	if (rc == CLI_OK) {
		/* the server answers 204, no body: say what was done */
		json_t *j =
		        json_pack("{s:s,s:b}", "id", a.pos[0], "deleted", true);

		if (a.json)
			json_dumpf(j, stdout, JSON_COMPACT);
		else
			printf("deleted webhook endpoint %s", a.pos[0]);
		fputc('\n', stdout);
		json_decref(j);
		cli_resp_free(&r);
	}
	cli_api_free(api);
	return rc;
}

static const char deliveries_usage[] =
        "usage: finlock webhooks deliveries ID [--limit N] [--cursor C] "
        "[--all]\n"
        "\n"
        "The endpoint's delivery log, oldest first: each event sent or to "
        "be\n"
        "sent, its state (pending, delivered, failed), attempts, the last\n"
        "status and error. Admin key.\n"
        "\n" CLI_LIST_HELP;

static const struct cli_col delivery_cols[] = {
        {"ID", "id"},
        {"EVENT", "event_id"},
        {"TYPE", "type"},
        {"STATE", "state"},
        {"ATTEMPTS", "attempts"},
        {"LAST STATUS", "last_status"},
        {"NEXT ATTEMPT", "next_attempt_at"},
        {"LAST ERROR", "last_error"},
};

static int webhooks_deliveries(int argc, char **argv)
{
	char path[CLI_PATH_MAX];
	struct cli_listing l = {path,           NULL,
	                        NULL,           false,
	                        delivery_cols,  CLI_NCOLS(delivery_cols),
	                        "no deliveries"};
	const struct cli_opt opts[] = {CLI_LIST_OPTS(l),
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "webhooks deliveries", deliveries_usage, opts, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (a.pos[0][0] == '\0' || !cli_path(path, sizeof(path), "/v1/webhooks",
	                                     a.pos[0], "/deliveries")) {
		cli_err("bad webhook endpoint id '%s'", a.pos[0]);
		return CLI_USAGE;
	}
	return cli_run_list(&a, &l);
}

static const char redeliver_usage[] =
        "usage: finlock webhooks redeliver ID DELIVERY\n"
        "\n"
        "Sends delivery DELIVERY (its number, from `finlock webhooks "
        "deliveries`)\n"
        "of endpoint ID again, with a fresh count of attempts, in its place "
        "in\n"
        "the endpoint's order. Audited. Admin key.\n";

static int webhooks_redeliver(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "webhooks redeliver", redeliver_usage, NULL, 2, 2, true};
	char path[CLI_PATH_MAX], rest[64];
	struct cli_args a;
	long long n;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_int_arg("DELIVERY", a.pos[1], 1, INT64_MAX, &n)) !=
	    CLI_OK)
		return rc;
	snprintf(rest, sizeof(rest), "/deliveries/%lld/redeliver", n);
	if (a.pos[0][0] == '\0' ||
	    !cli_path(path, sizeof(path), "/v1/webhooks", a.pos[0], rest)) {
		cli_err("bad webhook endpoint id '%s'", a.pos[0]);
		return CLI_USAGE;
	}
	return wh_call(&a, "POST", path, NULL, false);
}

static const struct cli_cmd webhooks_cmds[] = {
        {"create", "register an endpoint (prints its secret once)",
         webhooks_create},
        {"list", "list your endpoints", webhooks_list},
        {"show", "show an endpoint", webhooks_show},
        {"disable", "stop deliveries to an endpoint", webhooks_disable},
        {"enable", "resume deliveries to an endpoint", webhooks_enable},
        {"rotate", "give an endpoint a new secret (printed once)",
         webhooks_rotate},
        {"delete", "delete an endpoint and its delivery log", webhooks_delete},
        {"deliveries", "an endpoint's delivery log", webhooks_deliveries},
        {"redeliver", "send a delivery again", webhooks_redeliver},
};

const struct cli_group cli_group_webhooks = {
        "finlock webhooks",
        "Webhooks to your server: signed events for every change to your "
        "devices\nand payments (docs/webhooks.md).",
        webhooks_cmds, sizeof(webhooks_cmds) / sizeof(webhooks_cmds[0])};

int cli_cmd_webhooks(int argc, char **argv)
{
	return cli_run_group(&cli_group_webhooks, argc, argv);
}
