/*
 * main.c - finlockd's command line.
 *
 *   finlockd [OPTIONS]                    serve
 *   finlockd [OPTIONS] keys list          signing keys (kid, k4.public)
 *   finlockd [OPTIONS] keys rotate        new signing key
 *   finlockd [OPTIONS] keys accept-cert CERT
 *   finlockd [OPTIONS] keys retire KID
 *   finlockd [OPTIONS] root-pubkey        the trust anchor (k4.public)
 *   finlockd [OPTIONS] operator-key       mint another operator API key
 *   finlockd [OPTIONS] check              full check of the data directory
 *   finlockd [OPTIONS] backup FILE        one file with everything
 *   finlockd --data NEWDIR restore FILE   rebuild a data directory
 *   finlockd --version
 *
 * OPTIONS: --config FILE, --data DIR, --listen ADDR, --tls-cert FILE,
 * --tls-key FILE, --behind-tls-proxy, --log-level LEVEL, and --SETTING
 * VALUE for every setting in config.h. Precedence: flags over environment
 * (FINLOCKD_*) over the config file over defaults. --allow-fresh-database
 * and --accept-wal-loss (datadir.h) exist only as flags: each is meant for
 * one start.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/crypto.h"
#include "core/version.h"
#include "server/admin.h"
#include "server/config.h"
#include "server/log.h"
#include "server/server.h"

extern char **environ;

static void usage(FILE *f)
{
	fprintf(f, "usage: finlockd [OPTIONS] [COMMAND]\n"
	           "\n"
	           "With no command, serve. Options:\n"
	           "  --config FILE        key = value settings\n"
	           "  --data DIR           data directory (database, keys)\n"
	           "  --database URI       postgresql://USER@HOST:PORT/DB "
	           "instead of SQLite in DIR\n"
	           "  --listen ADDR:PORT   address to listen on "
	           "(default 127.0.0.1:8080)\n"
	           "  --tls-cert FILE      PEM certificate chain (with "
	           "--tls-key)\n"
	           "  --tls-key FILE       PEM private key\n"
	           "  --behind-tls-proxy   allow plain HTTP on a non-loopback "
	           "address\n"
	           "  --log-level LEVEL    debug, info, warn or error\n"
	           "  --SETTING VALUE      any setting of the config file\n"
	           "  --allow-fresh-database  start a new, empty database in "
	           "a data\n"
	           "                       directory whose database is missing "
	           "or empty\n"
	           "  --accept-wal-loss    serve a database whose WAL was "
	           "deleted after\n"
	           "                       an unclean stop, without its last "
	           "transactions\n"
	           "  --version            print the version and commit\n"
	           "\n"
	           "Commands:\n"
	           "  keys list            list signing keys (kid, k4.public, "
	           "certificate)\n"
	           "  keys rotate          create a new signing key\n"
	           "  keys accept-cert CERT  install a root certificate for a "
	           "signing key\n"
	           "  keys retire KID      stop signing with a key\n"
	           "  root-pubkey          print the root public key (trust "
	           "anchor)\n"
	           "  operator-key         create another operator API key\n"
	           "  check                check the database, audit chains, "
	           "secrets and keys\n"
	           "  backup FILE          write a backup (the server may be "
	           "running)\n"
	           "  restore FILE         rebuild --data DIR (new or empty) "
	           "from a backup\n"
	           "\n"
	           "A start refused because the data directory cannot be "
	           "trusted exits 3.\n");
}

int main(int argc, char **argv)
{
	struct fl_config cfg;
	char err[FL_CONFIG_ERR_MAX];
	int i, first_cmd = argc;

	/* Everything finlockd creates (database, keys, secrets) is private. */
	umask(077);
	/* glibc gives each thread that contends its own malloc arena; the
	 * HTTP pool, the sweep and the write-behind thread allocate and free
	 * across threads, so more arenas hold more freed memory without
	 * serving requests any faster (docs/server.md "Memory"). The
	 * MALLOC_ARENA_MAX environment variable still overrides this. */
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		(void)mallopt(M_ARENA_MAX, 2);
	/* A large block (the write-behind flush's list of a half second's
	 * devices) is mapped and unmapped on its own, always: by default
	 * glibc raises this threshold to the size of each large block freed,
	 * and the next ones then come out of the heap, where what they leave
	 * keeps pages resident. MALLOC_MMAP_THRESHOLD_ overrides it. */
	if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL)
		(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	fl_config_defaults(&cfg);
	fl_log_init(stderr, FL_LOG_INFO);
	/* The config file first, wherever --config appears. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			if (fl_config_load_file(&cfg, argv[i + 1], err) !=
			    FL_OK) {
				fprintf(stderr, "finlockd: %s: %s\n",
				        argv[i + 1], err);
				return 2;
			}
			i++;
		}
	}
	if (fl_config_load_env(&cfg, environ, err) != FL_OK) {
		fprintf(stderr, "finlockd: environment: %s\n", err);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--version") == 0) {
			printf("%s\n", fl_version_line("finlockd"));
			return 0;
		}
		if (strncmp(a, "--", 2) != 0) {
			first_cmd = i;
			break;
		}
		if (strcmp(a, "--config") == 0) {
			i++;
			continue;
		}
		if (strcmp(a, "--behind-tls-proxy") == 0) {
			cfg.behind_tls_proxy = true;
			continue;
		}
		if (strcmp(a, "--allow-fresh-database") == 0) {
			cfg.allow_fresh_database = true;
			continue;
		}
		if (strcmp(a, "--accept-wal-loss") == 0) {
			cfg.accept_wal_loss = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "finlockd: %s needs a value\n", a);
			return 2;
		}
		if (fl_config_set(&cfg, a + 2, argv[i + 1], err) != FL_OK) {
			fprintf(stderr, "finlockd: %s\n", err);
			return 2;
		}
		i++;
	}
	if (fl_config_check(&cfg, err) != FL_OK) {
		fprintf(stderr, "finlockd: %s\n", err);
		return 2;
	}
	if (first_cmd == argc)
		return fl_server_run(&cfg);
	/* A command logs at the level asked for too (the server applies its
	 * own in fl_server_run). */
	{
		enum fl_log_level lvl = FL_LOG_INFO;

		if (fl_log_level_parse(cfg.log_level, &lvl) == FL_OK)
			fl_log_init(stderr, lvl);
	}
	if (fl_crypto_init() != FL_OK) {
		fprintf(stderr, "finlockd: libsodium failed to start\n");
		return 1;
	}
	return fl_admin_main(&cfg, argc - first_cmd, argv + first_cmd);
}
