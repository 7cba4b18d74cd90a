/*
 * dev_main.c - the top of finlock-device: global options, the command
 * table, and the messages every command shares.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/version.h"
#include "device/dev_hal.h"
#include "device/dev_http.h"
#include "device/dev_phone.h"
#include "device/device.h"

static const struct dev_cmd commands[] = {
        {"create", "make a new phone from the factory", dev_cmd_create},
        {"enroll", "enroll with a clerk's one-time code", dev_cmd_enroll},
        {"run", "run the phone's firmware (check-ins, lock, unlock)",
         dev_cmd_run},
        {"status", "what the phone shows and enforces now", dev_cmd_status},
        {"screen", "draw the phone's screen in the terminal", dev_cmd_screen},
        {"enter-code", "type an offline unlock code", dev_cmd_enter_code},
        {"factory-reset", "wipe user data (the lock stays)",
         dev_cmd_factory_reset},
        {"reflash", "install a fresh OS image (wipes all but the factory)",
         dev_cmd_reflash},
        {"set-clock", "set the phone's clock (RFC 3339, or reset)",
         dev_cmd_set_clock},
        {"swap-sim", "put another SIM in the phone", dev_cmd_swap_sim},
        {"root", "root the phone (a tamper signal)", dev_cmd_root},
        {"offline", "cut the network off or restore it", dev_cmd_offline},
        {"reboot", "restart the phone", dev_cmd_reboot},
};

static const char about[] =
        "finlock-device - a simulated financed phone running the finlock "
        "agent.\n"
        "\n"
        "The phone lives in a directory: --dir DIR, else $FINLOCK_DEVICE_DIR,"
        "\n"
        "else ./phone. Exit codes: 0 ok, 1 refused or invalid, 2 usage, 3\n"
        "server unreachable.";

static char dir_buf[4096];
static const char *dir_now;

void dev_err(const char *fmt, ...)
{
	va_list ap;

	fputs("finlock-device: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *dev_dir(void)
{
	const char *env;

	if (dir_now != NULL)
		return dir_now;
	env = getenv(DEV_DIR_ENV);
	return env != NULL && env[0] != '\0' ? env : DEV_DIR_DEFAULT;
}

void dev_set_dir(const char *dir)
{
	snprintf(dir_buf, sizeof(dir_buf), "%s", dir);
	dir_now = dir_buf;
}

int dev_bad_option(const char *cmd, char **argv)
{
	dev_err("%s: unknown option or missing value: %s (try "
	        "'finlock-device %s --help')",
	        cmd, argv[optind - 1], cmd);
	return DEV_USAGE;
}

int dev_open_failed(const char *dir, fl_err err)
{
	switch (err) {
	case FL_E_NOT_FOUND:
		dev_err("no phone in %s (make one with 'finlock-device "
		        "create')",
		        dir);
		break;
	case FL_E_CORRUPT:
		dev_err("the factory image in %s is unreadable", dir);
		break;
	case FL_E_LIMIT:
		dev_err("the phone in %s is busy; try again", dir);
		break;
	default:
		dev_err("cannot open the phone in %s: %s", dir,
		        fl_strerror(err));
		break;
	}
	return DEV_REFUSED;
}

int dev_net_failed(const struct dev_hal *h, const char *what, fl_err err)
{
	const struct dev_net_result *n = dev_hal_net(h);
	char url[DEV_URL_MAX + 1];

	dev_hal_server(h, url);
	if (err == FL_E_NET || (n->attempted && n->err != FL_OK)) {
		if (n->offline && url[0] == '\0')
			dev_err("%s: no server known (give --server URL)",
			        what);
		else if (n->offline)
			dev_err("%s: the phone is offline", what);
		else
			dev_err("%s: server %s unreachable: %s", what, url,
			        fl_strerror(n->err ? n->err : err));
		return DEV_UNREACHABLE;
	}
	if (err == FL_E_AGENT_STATUS && n->status != 0) {
		if (n->error_code[0] != '\0')
			dev_err("%s: refused by the server: %s (HTTP %d)", what,
			        n->error_code, n->status);
		else
			dev_err("%s: refused by the server (HTTP %d)", what,
			        n->status);
		return n->status >= 500 ? DEV_UNREACHABLE : DEV_REFUSED;
	}
	dev_err("%s: %s", what, fl_strerror(err));
	return DEV_REFUSED;
}

static void print_help(FILE *out)
{
	fprintf(out,
	        "usage: finlock-device [--dir DIR] <command> [options]\n\n"
	        "%s\n\ncommands:\n",
	        about);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-14s %s\n", commands[i].name,
		        commands[i].summary);
	fprintf(out, "\nRun 'finlock-device <command> --help' for a command's "
	             "options.\n");
}

int dev_main(int argc, char **argv)
{
	int i = 1;

	if (fl_crypto_init() != FL_OK) {
		dev_err("cannot initialise the crypto library");
		return DEV_REFUSED;
	}
	if (dev_http_global_init() != FL_OK) {
		dev_err("cannot initialise libcurl");
		return DEV_REFUSED;
	}
	/* global options before the command */
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			print_help(stdout);
			return DEV_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("%s\n", fl_version_line("finlock-device"));
			return DEV_OK;
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			dev_set_dir(argv[i + 1]);
			i += 2;
		} else if (strncmp(argv[i], "--dir=", 6) == 0) {
			dev_set_dir(argv[i] + 6);
			i++;
		} else {
			dev_err("unknown option or missing value: %s (try "
			        "'finlock-device --help')",
			        argv[i]);
			return DEV_USAGE;
		}
	}
	if (i >= argc) {
		print_help(stderr);
		return DEV_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		print_help(stdout);
		return DEV_OK;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[i], commands[c].name) == 0) {
			optind = 0; /* a fresh getopt scan for the command */
			opterr = 0;
			return commands[c].run(argc - i, argv + i);
		}
	}
	dev_err("unknown command '%s' (try 'finlock-device --help')", argv[i]);
	return DEV_USAGE;
}
