/*
 * cli_locks.c - `finlock locks freeze|holds|release|preview`: holding
 * automatic overdue locks tenant-wide (a payment feed that stopped, a
 * bank holiday), and seeing what will lock before it does.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_cmds.h"
#include "cli/cli_out.h"

static const char freeze_usage[] =
        "usage: finlock locks freeze --until TIME --reason R\n"
        "\n"
        "Holds every automatic overdue lock of your devices until TIME "
        "(RFC 3339,\n"
        "at most 90 days on): a phone whose lock would come before TIME "
        "gets a\n"
        "new token locking it at TIME instead (online phones at once, the "
        "others\n"
        "at their next check-in), and a phone locked as overdue is "
        "unlocked.\n"
        "Manual, scheduled and stolen locks are not held. Audited; end it "
        "early\n"
        "with `finlock locks release`. Admin key.\n";

static int locks_freeze(int argc, char **argv)
{
	const char *until, *reason;
	const struct cli_opt opts[] = {{"until", CLI_OPT_STR, &until, true},
	                               {"reason", CLI_OPT_STR, &reason, true},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "locks freeze", freeze_usage, opts, 0, 0, true};
	char when[21];
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_time_arg("until", until, when)) != CLI_OK)
		return rc;
	return cli_run_call(
	        &a, "POST", "/v1/locks/freeze",
	        json_pack("{s:s,s:s}", "until", when, "reason", reason), NULL);
}

static const char holds_usage[] =
        "usage: finlock locks holds [--every]\n"
        "\n"
        "Lists the holds on automatic locks that stand now (freezes, and "
        "stale\n"
        "payment feeds); --every lists ended ones too.\n";

static const struct cli_col hold_cols[] = {
        {"ID", "id"},         {"KIND", "kind"},     {"UNTIL", "until"},
        {"REASON", "reason"}, {"BY", "created_by"},
};

static int locks_holds(int argc, char **argv)
{
	bool every = false;
	const struct cli_opt opts[] = {{"every", CLI_OPT_FLAG, &every, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {"locks holds", holds_usage, opts, 0, 0,
	                              true};
	struct cli_listing l = {
	        "/v1/locks/holds",    NULL,      NULL, false, hold_cols,
	        CLI_NCOLS(hold_cols), "no holds"};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (every)
		l.path = "/v1/locks/holds?all=true";
	return cli_run_list(&a, &l);
}

static const char release_usage[] =
        "usage: finlock locks release HOLD\n"
        "\n"
        "Ends a hold now: devices it held lock if they are still overdue. "
        "Audited.\n"
        "Admin key.\n";

static int locks_release(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "locks release", release_usage, NULL, 1, 1, true};
	char path[CLI_PATH_MAX];
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!cli_path(path, sizeof(path), "/v1/locks/holds", a.pos[0],
	              "/release"))
		return CLI_USAGE;
	return cli_run_call(&a, "POST", path, NULL, NULL);
}

static const char preview_usage[] =
        "usage: finlock locks preview [--within DURATION]\n"
        "\n"
        "How many devices will lock within DURATION (default 24h; 3d, 90m, "
        "3600),\n"
        "which, when and why (overdue, offline, manual, scheduled), and "
        "whether\n"
        "a hold moved the lock. Audited.\n";

static const struct cli_col preview_cols[] = {
        {"DEVICE", "device_id"}, {"IMEI", "imei"},      {"LOCK AT", "lock_at"},
        {"CAUSE", "cause"},      {"DUE", "amount_due"}, {"HELD", "held"},
};

static int locks_preview(int argc, char **argv)
{
	const char *within = NULL;
	const struct cli_opt opts[] = {{"within", CLI_OPT_STR, &within, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "locks preview", preview_usage, opts, 0, 0, true};
	char path[CLI_PATH_MAX] = "/v1/locks/preview";
	struct cli_api *api = NULL;
	struct cli_resp r = {0};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (within != NULL && !cli_query(path, sizeof(path), "within", within))
		return CLI_USAGE;
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK)
		rc = cli_api_call(api, "GET", path, NULL, NULL, &r);
	if (rc == CLI_OK && cli_api_json(api)) {
		cli_print_body(&r);
	} else if (rc == CLI_OK) {
		json_t *devs = json_object_get(r.json, "devices");

		printf("%zu device(s) lock by %s\n", json_array_size(devs),
		       json_string_value(json_object_get(r.json, "until")));
		if (json_array_size(devs) > 0)
			cli_print_table(preview_cols, CLI_NCOLS(preview_cols),
			                devs);
	}
	cli_resp_free(&r);
	cli_api_free(api);
	return rc;
}

static const struct cli_cmd locks_cmds[] = {
        {"freeze", "hold automatic locks until a time, with a reason",
         locks_freeze},
        {"holds", "list the holds standing", locks_holds},
        {"release", "end a hold now", locks_release},
        {"preview", "what will lock, when and why", locks_preview},
};

const struct cli_group cli_group_locks = {
        "finlock locks",
        "Holding automatic locks tenant-wide, and what will lock.", locks_cmds,
        sizeof(locks_cmds) / sizeof(locks_cmds[0])};

int cli_cmd_locks(int argc, char **argv)
{
	return cli_run_group(&cli_group_locks, argc, argv);
}
