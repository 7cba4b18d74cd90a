/*
 * cli_login.c - `finlock login` (save the server and key in the config
 * file), `finlock config` (show where each setting comes from, the key
 * only as a prefix) and `finlock health` (is the server up).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_cmds.h"
#include "cli/cli_conf.h"
#include "cli/cli_out.h"
#include "core/crypto.h"

static const char login_usage[] =
        "usage: finlock login --server URL --key KEY [--cacert FILE]\n"
        "                     [--profile NAME] [--no-check]\n"
        "\n"
        "Checks the API key with the server (GET /v1/whoami, which any "
        "valid key\n"
        "may call), then saves the server, the key (and a CA file for a "
        "server\n"
        "with its own certificate) as a profile of the config file\n"
        "($FINLOCK_CONFIG, else ~/.config/finlock/config), readable only by "
        "you\n"
        "(mode 0600), so later commands need neither. A key the server "
        "refuses\n"
        "is not saved. Without --profile it is the default profile; with "
        "it,\n"
        "profile NAME, used by commands given --profile NAME (or with\n"
        "FINLOCK_PROFILE=NAME); the file's other profiles are kept. KEY may "
        "be\n"
        "'-' to read it from standard input (it then stays out of the "
        "shell's\n"
        "history and the process list).\n"
        "\n"
        "  --no-check        save without asking the server (when it cannot "
        "be\n"
        "                    reached now); a wrong key then fails on first "
        "use\n";

/* Asks the server who key is: CLI_OK with *who (caller decrefs), or an
 * exit code with the reason printed. */
static int check_key(const struct cli_args *a, const char *key, json_t **who)
{
	struct cli_args b = *a;
	struct cli_api *api = NULL;
	struct cli_resp r;
	int rc;

	*who = NULL;
	b.key = key;
	b.profile = NULL;
	b.json = false;
	rc = cli_api_open(&api, &b, true);
	if (rc == CLI_OK)
		rc = cli_api_send(api, "GET", "/v1/whoami", NULL, NULL, NULL,
		                  &r);
	if (rc == CLI_UNREACHABLE) {
		cli_err("login: the key was not checked, so it was not saved "
		        "(--no-check saves it without checking)");
	} else if (rc == CLI_OK) {
		if (r.status == 200 &&
		    json_is_string(json_object_get(r.json, "role"))) {
			*who = json_incref(r.json);
		} else if (r.status == 401) {
			cli_err("login: %s refused this API key (401): it is "
			        "wrong or revoked; not saved",
			        cli_api_server(api));
			rc = CLI_REFUSED;
		} else {
			cli_api_print_error(&r);
			cli_err("login: the key could not be checked, so it "
			        "was not saved");
			rc = CLI_REFUSED;
		}
		cli_resp_free(&r);
	}
	cli_api_free(api);
	return rc;
}

int cli_cmd_login(int argc, char **argv)
{
	bool no_check;
	const struct cli_opt opts[] = {
	        {"no-check", CLI_OPT_FLAG, &no_check, false},
	        {NULL, 0, NULL, false}};
	const struct cli_spec spec = {"login", login_usage, opts, 0, 0, true};
	char path[4096], hint[16], *key = NULL;
	const char *server, *profile;
	json_t *who = NULL;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (a.server == NULL || a.key == NULL) {
		cli_err("login: needs --server and --key (try --help)");
		return CLI_USAGE;
	}
	server = a.server;
	profile = a.profile != NULL ? a.profile : "default";
	if (!cli_profile_ok(profile)) {
		cli_err("login: bad profile name '%.64s' (letters, digits, "
		        "'.', '_', '-')",
		        profile);
		return CLI_USAGE;
	}
	if (strncmp(server, "http://", 7) != 0 &&
	    strncmp(server, "https://", 8) != 0) {
		cli_err("login: the server must be an http:// or https:// URL");
		return CLI_USAGE;
	}
	key = cli_arg_or_stdin(a.key);
	if (key == NULL)
		return CLI_REFUSED;
	if (!cli_conf_value_ok(server) || !cli_conf_value_ok(key) ||
	    (a.cacert != NULL && !cli_conf_value_ok(a.cacert))) {
		cli_err("login: the server, key and CA file must be one line "
		        "of printable text each");
		rc = CLI_USAGE;
		goto out;
	}
	rc = cli_conf_path(path, sizeof(path));
	if (rc == CLI_OK && !no_check)
		rc = check_key(&a, key, &who);
	if (rc != CLI_OK)
		goto out;
	rc = cli_conf_write(path, profile, server, key, a.cacert);
	if (rc != CLI_OK)
		goto out;
	cli_key_hint(key, hint);
	if (a.json) {
		json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:b,s:O?,s:O?}",
		                      "profile", profile, "server", server,
		                      "key", hint, "config", path, "checked",
		                      who != NULL, "role",
		                      json_object_get(who, "role"), "tenant_id",
		                      json_object_get(who, "tenant_id"));

		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else if (who != NULL) {
		const char *tenant = cli_jstr(who, "tenant_id");

		printf("saved profile %s: server %s, key %s (%s%s%s) to %s\n",
		       profile, server, hint, cli_jstr(who, "role"),
		       tenant[0] != '\0' ? " of " : "", tenant, path);
	} else {
		printf("saved profile %s: server %s, key %s (not checked) to "
		       "%s\n",
		       profile, server, hint, path);
	}
out:
	json_decref(who);
	fl_wipe(key, strlen(key));
	free(key);
	return rc;
}

static const char config_usage[] =
        "usage: finlock config [connection options]\n"
        "\n"
        "Shows the server, API key (its first characters only) and CA file\n"
        "that a command would use, and where each comes from: the command\n"
        "line, the environment (FINLOCK_SERVER, FINLOCK_API_KEY,\n"
        "FINLOCK_CACERT) or the config file.\n";

int cli_cmd_config(int argc, char **argv)
{
	const struct cli_spec spec = {"config", config_usage, NULL, 0, 0, true};
	const struct cli_api_info *in;
	struct cli_api *api = NULL;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_api_open(&api, &a, true);
	if (rc != CLI_OK)
		return rc;
	in = cli_api_info(api);
	if (a.json) {
		json_t *j = json_pack(
		        "{s:s,s:s,s:s,s:s,s:s?,s:s?,s:s?,s:s}", "server",
		        cli_api_server(api), "server_from", in->server_from,
		        "key", in->key_hint, "key_from", in->key_from,
		        "cacert_from", in->cacert_from, "cacert",
		        in->cacert_from != NULL ? cli_api_cacert(api) : NULL,
		        "config", in->config[0] ? in->config : NULL, "profile",
		        in->profile);

		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		printf("server  %s (from %s)\n", cli_api_server(api),
		       in->server_from);
		printf("key     %s (from %s)\n", in->key_hint, in->key_from);
		if (in->cacert_from != NULL)
			printf("cacert  %s (from %s)\n", cli_api_cacert(api),
			       in->cacert_from);
		if (in->config[0] != '\0')
			printf("config  %s (profile %s)\n", in->config,
			       in->profile);
	}
	cli_api_free(api);
	return CLI_OK;
}

static const char health_usage[] =
        "usage: finlock health [--server URL]\n"
        "\n"
        "Asks the server whether it is up and its storage answers (no key "
        "is\n"
        "sent). Exits 0 when healthy, 1 when the server says it is not, 3 "
        "when\n"
        "it cannot be reached.\n";

int cli_cmd_health(int argc, char **argv)
{
	const struct cli_spec spec = {"health", health_usage, NULL, 0, 0, true};
	struct cli_api *api = NULL;
	struct cli_resp r;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_api_open(&api, &a, false);
	if (rc == CLI_OK)
		rc = cli_api_call(api, "GET", "/healthz", NULL, NULL, &r);
	if (rc == CLI_OK) {
		if (a.json)
			cli_print_body(&r);
		else
			printf("%s: %s (server time %s)\n", cli_api_server(api),
			       cli_jstr(r.json, "status"),
			       cli_jstr(r.json, "time"));
		cli_resp_free(&r);
	}
	cli_api_free(api);
	return rc;
}
