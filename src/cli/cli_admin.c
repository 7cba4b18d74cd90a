/*
 * cli_admin.c - who may use finlockd: `finlock tenant ...` and
 * `finlock operator keys ...` for the operator, `finlock keys ...` for a
 * lender's admin (API keys with a role: admin, clerk, support, auditor).
 *
 * A new key's secret is printed in full exactly once, by the command that
 * creates it: the server keeps only its hash.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_cmds.h"
#include "cli/cli_out.h"

static const struct cli_col key_cols[] = {
        {"ID", "id"},
        {"ROLE", "role"},
        {"LABEL", "label"},
        {"ACTIVE", "active"},
        {"CREATED", "created_at"},
        {"REVOKED", "revoked_at"},
        {"LAST USED", "last_used_at"},
};

/* POSTs a key-creating request and prints the answer, with a reminder
 * that the secret is shown this once. */
static int create_key(const struct cli_args *a, const char *path, json_t *body)
{
	struct cli_api *api = NULL;
	struct cli_resp r;
	int rc;

	rc = cli_api_open(&api, a, true);
	if (rc == CLI_OK)
		rc = cli_api_call(api, "POST", path, body, NULL, &r);
	if (rc == CLI_OK) {
		cli_print_answer(api, &r, NULL);
		fprintf(stderr, "finlock: the key is shown only this once: "
		                "store it now\n");
		cli_resp_free(&r);
	}
	json_decref(body);
	cli_api_free(api);
	return rc;
}

/* {"label": label} or {} */
static json_t *label_body(const char *label)
{
	return label != NULL ? json_pack("{s:s}", "label", label)
	                     : json_object();
}

/* --- finlock tenant ------------------------------------------------------- */

static const char tenant_create_usage[] =
        "usage: finlock tenant create NAME\n"
        "\n"
        "Creates a lender (a tenant) named NAME and prints its id. Operator "
        "key.\n"
        "Then give the lender its first admin key with\n"
        "'finlock tenant keys create TENANT'.\n";

static int tenant_create(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "tenant create", tenant_create_usage, NULL, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return cli_run_call(&a, "POST", "/v1/tenants",
	                    json_pack("{s:s}", "name", a.pos[0]), NULL);
}

static const char tenant_list_usage[] =
        "usage: finlock tenant list [--limit N] [--cursor C] [--all]\n"
        "\n"
        "Lists the lenders hosted by this finlockd. Operator key.\n"
        "\n" CLI_LIST_HELP;

static const struct cli_col tenant_cols[] = {
        {"ID", "id"}, {"NAME", "name"}, {"CREATED", "created_at"}};

static int tenant_list(int argc, char **argv)
{
	struct cli_listing l = {
	        "/v1/tenants",          NULL,        NULL, false, tenant_cols,
	        CLI_NCOLS(tenant_cols), "no tenants"};
	const struct cli_opt opts[] = {CLI_LIST_OPTS(l), {NULL}};
	const struct cli_spec spec = {
	        "tenant list", tenant_list_usage, opts, 0, 0, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return cli_run_list(&a, &l);
}

static const char tenant_show_usage[] = "usage: finlock tenant show TENANT\n"
                                        "\n"
                                        "Shows one lender. Operator key.\n";

static int tenant_show(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "tenant show", tenant_show_usage, NULL, 1, 1, true};
	char path[CLI_PATH_MAX];
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!cli_path(path, sizeof(path), "/v1/tenants", a.pos[0], NULL))
		return CLI_USAGE;
	return cli_run_call(&a, "GET", path, NULL, NULL);
}

static const char tkeys_create_usage[] =
        "usage: finlock tenant keys create TENANT [--label L]\n"
        "\n"
        "Creates an admin API key for the lender TENANT and prints it (once).\n"
        "Operator key. The lender's admin makes its other keys with\n"
        "'finlock keys create'.\n";

static int tkeys_create(int argc, char **argv)
{
	const char *label;
	const struct cli_opt opts[] = {{"label", CLI_OPT_STR, &label, false},
	                               {NULL}};
	const struct cli_spec spec = {
	        "tenant keys create", tkeys_create_usage, opts, 1, 1, true};
	char path[CLI_PATH_MAX];
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!cli_path(path, sizeof(path), "/v1/tenants", a.pos[0], "/keys"))
		return CLI_USAGE;
	return create_key(&a, path, label_body(label));
}

static const char tkeys_list_usage[] =
        "usage: finlock tenant keys list TENANT [--limit N] [--cursor C] "
        "[--all]\n"
        "\n"
        "Lists the API keys of the lender TENANT (never their secrets).\n"
        "Operator key.\n"
        "\n" CLI_LIST_HELP;

static int tkeys_list(int argc, char **argv)
{
	char path[CLI_PATH_MAX];
	struct cli_listing l = {path,     NULL,     NULL,
	                        false,    key_cols, CLI_NCOLS(key_cols),
	                        "no keys"};
	const struct cli_opt opts[] = {CLI_LIST_OPTS(l), {NULL}};
	const struct cli_spec spec = {
	        "tenant keys list", tkeys_list_usage, opts, 1, 1, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!cli_path(path, sizeof(path), "/v1/tenants", a.pos[0], "/keys"))
		return CLI_USAGE;
	return cli_run_list(&a, &l);
}

static const char tkeys_revoke_usage[] =
        "usage: finlock tenant keys revoke TENANT KEY-ID\n"
        "\n"
        "Revokes an admin key of the lender TENANT. Operator key.\n";

static int tkeys_revoke(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "tenant keys revoke", tkeys_revoke_usage, NULL, 2, 2, true};
	char path[CLI_PATH_MAX], rest[CLI_PATH_MAX] = "/keys/";
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!cli_url_append(rest, sizeof(rest) - 8, a.pos[1]) ||
	    !cli_path(path, sizeof(path), "/v1/tenants", a.pos[0],
	              strcat(rest, "/revoke")))
		return CLI_USAGE;
	return cli_run_call(&a, "POST", path, json_object(), NULL);
}

static const struct cli_cmd tkeys_cmds[] = {
        {"create", "create an admin key for a lender", tkeys_create},
        {"list", "list a lender's keys", tkeys_list},
        {"revoke", "revoke a lender's admin key", tkeys_revoke},
};

static int tenant_keys(int argc, char **argv)
{
	return cli_dispatch(
	        "finlock tenant keys",
	        "A lender's admin keys, managed by the operator.", tkeys_cmds,
	        sizeof(tkeys_cmds) / sizeof(tkeys_cmds[0]), argc, argv);
}

static const struct cli_cmd tenant_cmds[] = {
        {"create", "create a lender", tenant_create},
        {"list", "list lenders", tenant_list},
        {"show", "show a lender", tenant_show},
        {"keys", "a lender's admin keys (create, list, revoke)", tenant_keys},
};

int cli_cmd_tenant(int argc, char **argv)
{
	return cli_dispatch("finlock tenant",
	                    "The operator's lenders (tenants). These commands "
	                    "need an operator key.",
	                    tenant_cmds,
	                    sizeof(tenant_cmds) / sizeof(tenant_cmds[0]), argc,
	                    argv);
}

/* --- finlock operator keys ------------------------------------------------ */

static const char okeys_create_usage[] =
        "usage: finlock operator keys create [--label L]\n"
        "\n"
        "Creates another operator key and prints it (once). Operator key.\n";

static int okeys_create(int argc, char **argv)
{
	const char *label;
	const struct cli_opt opts[] = {{"label", CLI_OPT_STR, &label, false},
	                               {NULL}};
	const struct cli_spec spec = {
	        "operator keys create", okeys_create_usage, opts, 0, 0, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return create_key(&a, "/v1/operator/keys", label_body(label));
}

static const char okeys_list_usage[] =
        "usage: finlock operator keys list [--limit N] [--cursor C] "
        "[--all]\n"
        "\n"
        "Lists the operator keys (never their secrets). Operator key.\n"
        "\n" CLI_LIST_HELP;

static int okeys_list(int argc, char **argv)
{
	struct cli_listing l = {
	        "/v1/operator/keys", NULL,     NULL, false, key_cols,
	        CLI_NCOLS(key_cols), "no keys"};
	const struct cli_opt opts[] = {CLI_LIST_OPTS(l), {NULL}};
	const struct cli_spec spec = {
	        "operator keys list", okeys_list_usage, opts, 0, 0, true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return cli_run_list(&a, &l);
}

static const char okeys_revoke_usage[] =
        "usage: finlock operator keys revoke KEY-ID\n"
        "\n"
        "Revokes an operator key. Operator key.\n";

static int okeys_revoke(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "operator keys revoke", okeys_revoke_usage, NULL, 1, 1, true};
	char path[CLI_PATH_MAX];
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!cli_path(path, sizeof(path), "/v1/operator/keys", a.pos[0],
	              "/revoke"))
		return CLI_USAGE;
	return cli_run_call(&a, "POST", path, json_object(), NULL);
}

static const struct cli_cmd okeys_cmds[] = {
        {"create", "create an operator key", okeys_create},
        {"list", "list operator keys", okeys_list},
        {"revoke", "revoke an operator key", okeys_revoke},
};

static int operator_keys(int argc, char **argv)
{
	return cli_dispatch(
	        "finlock operator keys", "The operator's API keys.", okeys_cmds,
	        sizeof(okeys_cmds) / sizeof(okeys_cmds[0]), argc, argv);
}

static const char metrics_usage[] =
        "usage: finlock operator metrics\n"
        "\n"
        "Prints finlockd's metrics in the Prometheus text format (requests,\n"
        "latencies, devices by state, rate limiting). Operator key.\n";

static int operator_metrics(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "operator metrics", metrics_usage, NULL, 0, 0, true};
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_api_open(&api, &a, true);
	if (rc == CLI_OK)
		rc = cli_api_call(api, "GET", "/metrics", NULL, NULL, &r);
	if (rc == CLI_OK) {
		cli_print_body(&r);
		cli_resp_free(&r);
	}
	cli_api_free(api);
	return rc;
}

static const struct cli_cmd operator_cmds[] = {
        {"keys", "operator keys (create, list, revoke)", operator_keys},
        {"metrics", "the server's metrics (Prometheus text)", operator_metrics},
};

int cli_cmd_operator(int argc, char **argv)
{
	return cli_dispatch("finlock operator",
	                    "What the operator of finlockd manages besides "
	                    "tenants.",
	                    operator_cmds,
	                    sizeof(operator_cmds) / sizeof(operator_cmds[0]),
	                    argc, argv);
}

/* --- finlock keys (a lender's API keys) ----------------------------------- */

static const char keys_create_usage[] =
        "usage: finlock keys create --role ROLE [--label L]\n"
        "\n"
        "Creates an API key for your lender account and prints it (once).\n"
        "ROLE is admin, clerk (registers devices), support (force sync,\n"
        "offline codes) or auditor (reads the audit log). Admin key.\n";

static int keys_create(int argc, char **argv)
{
	const char *role, *label;
	const struct cli_opt opts[] = {{"role", CLI_OPT_STR, &role, true},
	                               {"label", CLI_OPT_STR, &label, false},
	                               {NULL}};
	const struct cli_spec spec = {
	        "keys create", keys_create_usage, opts, 0, 0, true};
	struct cli_args a;
	json_t *body;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	body = json_pack("{s:s}", "role", role);
	if (body != NULL && label != NULL)
		json_object_set_new(body, "label", json_string(label));
	return create_key(&a, "/v1/keys", body);
}

static const char keys_list_usage[] =
        "usage: finlock keys list [--limit N] [--cursor C] [--all]\n"
        "\n"
        "Lists your lender account's API keys (never their secrets), with "
        "when\n"
        "each was last used (to the minute). Admin key.\n"
        "\n" CLI_LIST_HELP;

static int keys_list(int argc, char **argv)
{
	struct cli_listing l = {"/v1/keys", NULL,     NULL,
	                        false,      key_cols, CLI_NCOLS(key_cols),
	                        "no keys"};
	const struct cli_opt opts[] = {CLI_LIST_OPTS(l), {NULL}};
	const struct cli_spec spec = {"keys list", keys_list_usage, opts, 0, 0,
	                              true};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	return cli_run_list(&a, &l);
}

static const char keys_show_usage[] =
        "usage: finlock keys show KEY-ID\n"
        "\n"
        "Shows one of your API keys (never its secret). Admin key.\n";

static int keys_show(int argc, char **argv)
{
	const struct cli_spec spec = {"keys show", keys_show_usage, NULL, 1, 1,
	                              true};
	char path[CLI_PATH_MAX];
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!cli_path(path, sizeof(path), "/v1/keys", a.pos[0], NULL))
		return CLI_USAGE;
	return cli_run_call(&a, "GET", path, NULL, NULL);
}

static const char keys_revoke_usage[] =
        "usage: finlock keys revoke KEY-ID\n"
        "\n"
        "Revokes one of your API keys at once. Admin key.\n";

static int keys_revoke(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "keys revoke", keys_revoke_usage, NULL, 1, 1, true};
	char path[CLI_PATH_MAX];
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (!cli_path(path, sizeof(path), "/v1/keys", a.pos[0], "/revoke"))
		return CLI_USAGE;
	return cli_run_call(&a, "POST", path, json_object(), NULL);
}

static const struct cli_cmd keys_cmds[] = {
        {"create", "create an API key with a role", keys_create},
        {"list", "list API keys", keys_list},
        {"show", "show an API key", keys_show},
        {"revoke", "revoke an API key", keys_revoke},
};

int cli_cmd_keys(int argc, char **argv)
{
	return cli_dispatch("finlock keys",
	                    "Your lender account's API keys, each with a role.",
	                    keys_cmds, sizeof(keys_cmds) / sizeof(keys_cmds[0]),
	                    argc, argv);
}
