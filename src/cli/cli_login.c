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
        "\n"
        "Saves the server, the API key (and a CA file for a server with its "
        "own\n"
        "certificate) in the config file ($FINLOCK_CONFIG, else\n"
        "~/.config/finlock/config), readable only by you (mode 0600), so "
        "later\n"
        "commands need neither. KEY may be '-' to read it from standard "
        "input\n"
        "(it then stays out of the shell's history and the process list).\n";

int cli_cmd_login(int argc, char **argv)
{
	const struct cli_spec spec = {"login", login_usage, NULL, 0, 0, true};
	char path[4096], hint[16], *key = NULL;
	const char *server;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (a.server == NULL || a.key == NULL) {
		cli_err("login: needs --server and --key (try --help)");
		return CLI_USAGE;
	}
	server = a.server;
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
	if (rc != CLI_OK)
		goto out;
	rc = cli_conf_write(path, server, key, a.cacert);
	if (rc != CLI_OK)
		goto out;
	cli_key_hint(key, hint);
	printf("saved server %s and key %s to %s\n", server, hint, path);
out:
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
		        "{s:s,s:s,s:s,s:s,s:s?,s:s?,s:s?}", "server",
		        cli_api_server(api), "server_from", in->server_from,
		        "key", in->key_hint, "key_from", in->key_from,
		        "cacert_from", in->cacert_from, "cacert",
		        in->cacert_from != NULL ? cli_api_cacert(api) : NULL,
		        "config", in->config[0] ? in->config : NULL);

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
			printf("config  %s\n", in->config);
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
