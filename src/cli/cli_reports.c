/*
 * cli_reports.c - `finlock reports portfolio`: the lender's portfolio
 * figures (GET /v1/reports/portfolio): devices by state, the outstanding
 * portfolio and what is due, PAR1, PAR7 and PAR30 per currency, the lock
 * rate. --csv prints the server's CSV, --json its JSON.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_cmds.h"
#include "cli/cli_out.h"

static const char portfolio_usage[] =
        "usage: finlock reports portfolio [--csv] [--history]\n"
        "\n"
        "The portfolio as of now: devices by state, the gross outstanding\n"
        "portfolio and the amount due now, and portfolio at risk per "
        "currency:\n"
        "PAR N is the whole outstanding balance of every loan with an\n"
        "installment more than N days late, over the outstanding "
        "portfolio\n"
        "(N = 1, 7, 30). The lock rate is the share of devices in service\n"
        "that are locked. --csv prints one line per currency. Admin, "
        "support\n"
        "or auditor key.\n"
        "\n"
        "--history adds the collections of the last 12 periods of 30 days "
        "per\n"
        "currency: the installments that fell due, the part of them paid "
        "by\n"
        "their due date (on-time collection rate) and the payments made\n"
        "(collection rate, over what fell due); with --csv, one line per\n"
        "currency and period. It reads every loan's schedule and payments,\n"
        "so it takes longer on a large portfolio.\n"
        "\n"
        "--history also gives the trends of the same periods, from the\n"
        "history of each device's state: the lock rate at the period's "
        "end,\n"
        "the cure rate (locks for money begun in the period, at least 7\n"
        "days old, that a payment ended within 7 days) and the p95 of the\n"
        "time from a payment's record to the phone confirming the unlock\n"
        "(docs/web.md, \"Trends\").\n";

static long long jint(const json_t *o, const char *name)
{
	return (long long)json_integer_value(json_object_get(o, name));
}

static void print_report(const json_t *j)
{
	const json_t *st = json_object_get(j, "by_state"), *c;
	const json_t *lock = json_object_get(j, "lock_rate");
	size_t i;

	printf("as_of       %s\n", cli_jstr(j, "as_of"));
	printf("devices     %lld: pending %lld, active %lld, reminding %lld, "
	       "locked %lld, released %lld; stolen %lld\n",
	       jint(j, "devices"), jint(st, "pending"), jint(st, "active"),
	       jint(st, "reminding"), jint(st, "locked"), jint(st, "released"),
	       jint(j, "stolen"));
	if (json_is_number(lock))
		printf("lock_rate   %.1f%%\n", 100.0 * json_number_value(lock));
	else
		printf("lock_rate   - (no device in service)\n");
	json_array_foreach(json_object_get(j, "currencies"), i, c)
	{
		printf("%-11s loans %lld, outstanding %lld, due now %lld, "
		       "overdue %lld\n",
		       cli_jstr(c, "currency"), jint(c, "loans"),
		       jint(c, "outstanding"), jint(c, "due_now"),
		       jint(c, "loans_overdue"));
		printf("            PAR1 %.2f%% (%lld), PAR7 %.2f%% (%lld), "
		       "PAR30 %.2f%% (%lld)\n",
		       100.0 * json_number_value(json_object_get(c, "par1")),
		       jint(c, "par1_amount"),
		       100.0 * json_number_value(json_object_get(c, "par7")),
		       jint(c, "par7_amount"),
		       100.0 * json_number_value(json_object_get(c, "par30")),
		       jint(c, "par30_amount"));
	}
	if (json_array_size(json_object_get(j, "currencies")) == 0)
		printf("loans       none\n");
	json_array_foreach(json_object_get(j, "currencies"), i, c)
	{
		const json_t *per = json_object_get(c, "collections"), *x;
		size_t k;

		if (!json_is_array(per))
			continue;
		printf("%-11s collections (due, on time, collected; rates):\n",
		       cli_jstr(c, "currency"));
		json_array_foreach(per, k, x)
		{
			const json_t *ot = json_object_get(x, "on_time_rate");
			const json_t *cr =
			        json_object_get(x, "collection_rate");

			printf("            %.10s..%.10s %lld, %lld, %lld",
			       cli_jstr(x, "from"), cli_jstr(x, "to"),
			       jint(x, "due"), jint(x, "on_time"),
			       jint(x, "collected"));
			if (json_is_number(ot))
				printf("; on time %.1f%%, collected %.1f%%",
				       100.0 * json_number_value(ot),
				       100.0 * json_number_value(cr));
			printf("\n");
		}
	}
	if (json_is_array(json_object_get(j, "trends"))) {
		const json_t *x;

		printf("trends      (lock rate at the end, cure rate, unlock "
		       "p95):\n");
		json_array_foreach(json_object_get(j, "trends"), i, x)
		{
			const json_t *lr = json_object_get(x, "lock_rate");
			const json_t *cr = json_object_get(x, "cure_rate");
			const json_t *lat =
			        json_object_get(x, "unlock_latency_p95");

			printf("            %.10s..%.10s", cli_jstr(x, "from"),
			       cli_jstr(x, "to"));
			if (json_is_number(lr))
				printf(" lock rate %.1f%%",
				       100.0 * json_number_value(lr));
			else
				printf(" lock rate -");
			if (json_is_number(cr))
				printf(", cure rate %.1f%%",
				       100.0 * json_number_value(cr));
			else
				printf(", cure rate -");
			if (json_is_integer(lat))
				printf(", unlock p95 %lld s",
				       (long long)json_integer_value(lat));
			else
				printf(", unlock p95 -");
			printf("\n");
		}
	}
}

static int portfolio(int argc, char **argv)
{
	bool csv = false, history = false;
	const struct cli_opt opts[] = {
	        {"csv", CLI_OPT_FLAG, &csv, false},
	        {"history", CLI_OPT_FLAG, &history, false},
	        {NULL, 0, NULL, false}};
	static const char *const paths[2][2] = {
	        {"/v1/reports/portfolio", "/v1/reports/portfolio?format=csv"},
	        {"/v1/reports/portfolio?history=true",
	         "/v1/reports/portfolio?history=true&format=csv"}};
	const struct cli_spec spec = {"reports portfolio", portfolio_usage,
	                              opts, 0, 0, true};
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK)
		rc = cli_api_call(api, "GET", paths[history][csv], NULL, NULL,
		                  &r);
	if (rc == CLI_OK) {
		if (csv || cli_api_json(api))
			cli_print_body(&r);
		else
			print_report(r.json);
		cli_resp_free(&r);
	}
	cli_api_free(api);
	return rc;
}

static const struct cli_cmd reports_cmds[] = {
        {"portfolio", "portfolio at risk, amounts due, lock rate",
         portfolio},
};

int cli_cmd_reports(int argc, char **argv)
{
	return cli_dispatch("finlock reports",
	                    "Reports on the lender's portfolio.", reports_cmds,
	                    sizeof(reports_cmds) / sizeof(reports_cmds[0]),
	                    argc, argv);
}
