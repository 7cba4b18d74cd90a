/*
 * cli_audit.c - `finlock audit list|export|verify|head`: the hash-chained
 * audit log of a lender (admin or auditor key), or with --operator the
 * operator's own chain (operator key).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_cmds.h"
#include "core/fltime.h"
#include "cli/cli_out.h"

#define EXPORT_PAGES_MAX 100000 /* export answers followed */

struct filter {
	const char *action, *target, *actor, *since, *until;
};

#define FILTER_OPTS(f)                                                         \
	{"action", CLI_OPT_STR, &(f).action, false},                           \
	        {"target", CLI_OPT_STR, &(f).target, false},                   \
	        {"actor", CLI_OPT_STR, &(f).actor, false},                     \
	        {"since", CLI_OPT_STR, &(f).since, false},                     \
	        {"until", CLI_OPT_STR, &(f).until, false},                     \
	{                                                                      \
		"operator", CLI_OPT_FLAG, &operator, false                     \
	}

#define FILTER_HELP                                                            \
	"  --action A        only entries of this action (device.lock, "       \
	"...)\n"                                                               \
	"  --target ID       only entries about this id\n"                     \
	"  --actor KEY-ID    only entries made with this API key\n"            \
	"  --since TIME      only entries at or after TIME (RFC 3339)\n"       \
	"  --until TIME      only entries before TIME (RFC 3339)\n"            \
	"  --operator        the operator's chain (operator key)\n"

static const char *base(bool operator)
{
	return operator? "/v1/operator/audit" : "/v1/audit";
}

/* Builds base+suffix with the filter's query into buf[cap]. */
static int filter_path(char *buf, size_t cap, bool operator,
                       const char * suffix, const struct filter *f)
{
	const char *names[] = {"action", "target", "actor", "since", "until"};
	const char *vals[] = {f->action, f->target, f->actor, f->since,
	                      f->until};

	snprintf(buf, cap, "%s%s", base(operator), suffix);
	for (size_t i = 0; i < 5; i++) {
		fl_time t;

		if (vals[i] == NULL)
			continue;
		if (i >= 3 &&
		    fl_time_parse(vals[i], strlen(vals[i]), &t) != FL_OK) {
			cli_err("--%s must be an RFC 3339 time "
			        "(2026-01-31T00:00:00Z)",
			        names[i]);
			return CLI_REFUSED;
		}
		if (!cli_query(buf, cap, names[i], vals[i]))
			return CLI_USAGE;
	}
	return CLI_OK;
}

static const char list_usage[] =
        "usage: finlock audit list [filters] [--limit N] [--cursor C] "
        "[--all]\n"
        "\n"
        "Lists audit entries, oldest first: who (API key id) did what to "
        "which\n"
        "id, when, and the reason given. Admin or auditor key.\n"
        "\n" FILTER_HELP CLI_LIST_HELP;

static const struct cli_col entry_cols[] = {
        {"SEQ", "seq"},       {"AT", "at"},         {"ACTOR", "actor"},
        {"ACTION", "action"}, {"TARGET", "target"}, {"REASON", "reason"},
};

static int audit_list(int argc, char **argv)
{
	char path[CLI_PATH_MAX];
	struct filter f;
	bool operator;
	struct cli_listing l = {path,        NULL,       NULL,
	                        false,       entry_cols, CLI_NCOLS(entry_cols),
	                        "no entries"};
	const struct cli_opt opts[] = {
	        FILTER_OPTS(f), CLI_LIST_OPTS(l), {NULL, 0, NULL, false}};
	const struct cli_spec spec = {"audit list", list_usage, opts, 0, 0,
	                              true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = filter_path(path, sizeof(path), operator, "", &f);
	if (rc != CLI_OK)
		return rc;
	return cli_run_list(&a, &l);
}

static const char export_usage[] =
        "usage: finlock audit export [filters] [--output FILE]\n"
        "\n"
        "Writes the audit chain as JSON lines (one entry per line, with its\n"
        "hashes) to standard output or FILE, following the server's pages "
        "to\n"
        "the end. Admin or auditor key.\n"
        "\n" FILTER_HELP
        "  --output FILE     write to FILE instead of standard output\n";

static int audit_export(int argc, char **argv)
{
	char path[CLI_PATH_MAX], full[CLI_PATH_MAX],
	        cursor[CLI_CURSOR_MAX] = "";
	const char *output;
	struct filter f;
	bool operator;
	const struct cli_opt opts[] = {FILTER_OPTS(f),
	                               {"output", CLI_OPT_STR, &output, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "audit export", export_usage, opts, 0, 0, true};
	struct cli_api *api = NULL;
	struct cli_args a;
	FILE *out = stdout;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = filter_path(path, sizeof(path), operator, "/export", &f);
	if (rc != CLI_OK)
		return rc;
	rc = cli_api_open(&api, &a, true);
	if (rc != CLI_OK)
		return rc;
	if (output != NULL && (out = fopen(output, "w")) == NULL) {
		cli_err("cannot write %s", output);
		cli_api_free(api);
		return CLI_REFUSED;
	}
	for (int page = 0; page < EXPORT_PAGES_MAX; page++) {
		struct cli_resp r;

		snprintf(full, sizeof(full), "%s", path);
		if (cursor[0] != '\0' &&
		    !cli_query(full, sizeof(full), "cursor", cursor)) {
			rc = CLI_REFUSED;
			break;
		}
		rc = cli_api_send(api, "GET", full, NULL, NULL, out, &r);
		if (rc != CLI_OK)
			break;
		if (r.status < 200 || r.status >= 300) {
			cli_api_print_error(&r);
			cli_resp_free(&r);
			rc = CLI_REFUSED;
			break;
		}
		if (r.next_cursor[0] == '\0' ||
		    strcmp(r.next_cursor, cursor) == 0) {
			cli_resp_free(&r);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", r.next_cursor);
		cli_resp_free(&r);
	}
	if (out != stdout && fclose(out) != 0 && rc == CLI_OK) {
		cli_err("cannot write %s", output);
		rc = CLI_REFUSED;
	} else if (out == stdout && fflush(stdout) != 0 && rc == CLI_OK) {
		rc = CLI_REFUSED;
	}
	cli_api_free(api);
	return rc;
}

static const char verify_usage[] =
        "usage: finlock audit verify [--operator]\n"
        "\n"
        "Has the server re-check the whole hash chain (and its signed "
        "heads).\n"
        "Exits 0 when the chain is intact, 1 when it is not, naming the "
        "first\n"
        "bad entry. Admin or auditor key.\n";

static int audit_verify(int argc, char **argv)
{
	bool operator;
	const struct cli_opt opts[] = {
	        {"operator", CLI_OPT_FLAG, &operator, false },
	         {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "audit verify", verify_usage, opts, 0, 0, true};
	char path[CLI_PATH_MAX];
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	snprintf(path, sizeof(path), "%s/verify", base(operator));
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK)
		rc = cli_api_call(api, "GET", path, NULL, NULL, &r);
	if (rc == CLI_OK) {
		cli_print_answer(api, &r, NULL);
		if (!json_is_true(json_object_get(r.json, "ok"))) {
			cli_err("the audit chain is broken at entry %lld: %s",
			        (long long)json_integer_value(
			                json_object_get(r.json, "bad_seq")),
			        cli_jstr(r.json, "problem"));
			rc = CLI_REFUSED;
		}
		cli_resp_free(&r);
	}
	cli_api_free(api);
	return rc;
}

static const char head_usage[] =
        "usage: finlock audit head [--sign] [--operator]\n"
        "\n"
        "Shows the newest signed head of the audit chain (sequence, hash "
        "and\n"
        "the signed token). With --sign the server signs the current head "
        "now.\n"
        "Keep heads outside the server: rewriting history then needs the\n"
        "signing key as well as the database. Admin or auditor key.\n";

static int audit_head(int argc, char **argv)
{
	bool operator, sign;
	const struct cli_opt opts[] = {
	        {"operator", CLI_OPT_FLAG, &operator, false },
	         {"sign", CLI_OPT_FLAG, &sign, false},
	         {NULL, 0, NULL, false}};
	const struct cli_spec spec = {"audit head", head_usage, opts, 0, 0,
	                              true};
	char path[CLI_PATH_MAX];
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	snprintf(path, sizeof(path), "%s/head", base(operator));
	return cli_run_call(&a, sign ? "POST" : "GET", path,
	                    sign ? json_object() : NULL, NULL);
}

static const struct cli_cmd audit_cmds[] = {
        {"list", "list audit entries", audit_list},
        {"export", "export the chain as JSON lines", audit_export},
        {"verify", "check the chain's hashes", audit_verify},
        {"head", "show (or sign) the chain's head", audit_head},
};

int cli_cmd_audit(int argc, char **argv)
{
	return cli_dispatch(
	        "finlock audit", "The audit log: every change, hash-chained.",
	        audit_cmds, sizeof(audit_cmds) / sizeof(audit_cmds[0]), argc,
	        argv);
}
