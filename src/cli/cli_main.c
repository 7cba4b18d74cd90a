/*
 * cli_main.c - the top of the finlock command tree.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_cmds.h"
#include "core/crypto.h"
#include "core/version.h"

static const struct cli_cmd commands[] = {
        {"login", "save the server and API key in the config file",
         cli_cmd_login},
        {"config", "show the server and key in use, and where from",
         cli_cmd_config},
        {"health", "check that the server is up", cli_cmd_health},
        {"tenant", "operator: lenders and their admin keys", cli_cmd_tenant},
        {"operator", "operator: operator keys", cli_cmd_operator},
        {"keys", "your API keys, each with a role", cli_cmd_keys},
        {"devices", "register, list, lock, unlock, release phones",
         cli_cmd_devices},
        {"contracts", "loans: schedule and lock policy", cli_cmd_contracts},
        {"payments", "record and reverse payments", cli_cmd_payments},
        {"locks", "hold automatic locks, preview what will lock",
         cli_cmd_locks},
        {"webhooks", "signed events to your server: endpoints, deliveries",
         cli_cmd_webhooks},
        {"audit", "the audit log: list, export, verify, head", cli_cmd_audit},
        {"reports", "portfolio at risk, amounts due, lock rate",
         cli_cmd_reports},
        {"imei", "check an IMEI", cli_cmd_imei},
        {"keygen", "create a new Ed25519 key (PASERK k4.secret / k4.public)",
         cli_cmd_keygen},
        {"key", "key ceremony: certify a signing key with the root key",
         cli_cmd_key},
        {"token", "sign and verify PASETO v4.public tokens", cli_cmd_token},
        {"help", "a command's help, or the manual page (help --man)",
         cli_cmd_help},
        {"completion", "shell completion script (completion bash)",
         cli_cmd_completion},
};

static const char about[] =
        "finlock - lock a financed phone when installments are overdue,\n"
        "unlock it the moment the customer pays.";

const struct cli_group cli_group_top = {"finlock", about, commands,
                                        sizeof(commands) / sizeof(commands[0])};

const struct cli_group *const cli_groups[] = {
        &cli_group_top,           &cli_group_tenant,
        &cli_group_tenant_keys,   &cli_group_operator,
        &cli_group_operator_keys, &cli_group_keys,
        &cli_group_devices,       &cli_group_contracts,
        &cli_group_payments,      &cli_group_audit,
        &cli_group_imei,          &cli_group_key,
        &cli_group_token,         &cli_group_locks,
        &cli_group_webhooks,      NULL,
};

const struct cli_group *cli_group_find(const char *path)
{
	for (size_t i = 0; cli_groups[i] != NULL; i++)
		if (strcmp(cli_groups[i]->path, path) == 0)
			return cli_groups[i];
	return NULL;
}

/* True when --json is on the command line (before any "--"). */
static bool wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--json") == 0)
			return true;
	}
	return false;
}

/* The connection options every server command takes, which people also
 * write before the command ("finlock --server URL devices list"). */
static const struct {
	const char *name;
	bool has_value;
} leading[] = {
        {"--server", true},  {"--key", true},     {"--cacert", true},
        {"--profile", true}, {"--timeout", true}, {"--insecure", false},
        {"--json", false},
};

/* How many argv entries the leading option at argv[i] takes (1 or 2), or 0
 * when argv[i] is not one. */
static int leading_len(int argc, char **argv, int i)
{
	for (size_t k = 0; k < sizeof(leading) / sizeof(leading[0]); k++) {
		size_t n = strlen(leading[k].name);

		if (strncmp(argv[i], leading[k].name, n) != 0)
			continue;
		if (argv[i][n] == '\0')
			return leading[k].has_value ? (i + 1 < argc ? 2 : 0)
			                            : 1;
		if (argv[i][n] == '=' && leading[k].has_value)
			return 1;
	}
	return 0;
}

/* Moves connection options written before the command to the end of argv,
 * where the command's own option parser (which accepts options after its
 * operands) reads them; argv keeps its entries, only their order changes. */
static void move_leading_options(int argc, char **argv)
{
	int first = 1, end = 1, len;

	while (end < argc && (len = leading_len(argc, argv, end)) > 0)
		end += len;
	if (end == first || end == argc)
		return;
	for (int moved = end - first; moved > 0; moved--) {
		char *a = argv[first];

		memmove(&argv[first], &argv[first + 1],
		        (size_t)(argc - first - 1) * sizeof(argv[0]));
		argv[argc - 1] = a;
	}
}

int cli_main(int argc, char **argv)
{
	cli_json_errors(wants_json(argc, argv));
	if (fl_crypto_init() != FL_OK) {
		cli_err("cannot initialise the crypto library");
		return cli_finish(CLI_REFUSED);
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("%s\n", fl_version_line("finlock"));
		return CLI_OK;
	}
	move_leading_options(argc, argv);
	return cli_finish(cli_run_group(&cli_group_top, argc, argv));
}
