/* admin.c - `finlockd keys ...`, `root-pubkey`, `operator-key`, `check`,
 * `backup`, `restore`. */
#include "server/admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "server/apikeys.h"
#include "server/app.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/backup.h"
#include "server/datadir.h"
#include "server/files.h"
#include "server/run.h"
#include "server/secrets.h"
#include "server/server.h"
#include "server/signkeys.h"
#include "store/store.h"
#include "server/clock.h"

/* The system's time: the commands here run on a stopped server's data
 * directory, never under a test clock. */
static fl_time wall_now(void)
{
	struct fl_clock c;

	fl_clock_system(&c);
	return fl_clock_now(&c);
}

static void print_key(void *ctx, const struct fl_signkey_info *k)
{
	char na[FL_TIME_STR_LEN] = "-";
	const char *status = k->retired_at  ? "retired"
	                     : k->signer    ? "signer"
	                     : k->certified ? "certified"
	                                    : "uncertified";

	(void)ctx;
	if (k->not_after != 0)
		fl_time_format(k->not_after, na);
	printf("%s\t%s\t%s\t%s\n", k->kid, k->pk, status, na);
}

static int fail(const char *what, fl_err err)
{
	fprintf(stderr, "finlockd: %s: %s\n", what, fl_strerror(err));
	return 1;
}

/* Reads a certificate argument: the token itself, or "-" for stdin. */
static char *read_cert(const char *arg)
{
	char buf[8192];
	size_t n;

	if (strcmp(arg, "-") != 0)
		return strdup(arg);
	n = fread(buf, 1, sizeof(buf) - 1, stdin);
	buf[n] = '\0';
	while (n > 0 &&
	       (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return strdup(buf);
}

static int cmd_keys(const struct fl_config *cfg, int argc, char **argv)
{
	struct fl_signkeys *ks = NULL;
	char kid[FL_KID_MAX];
	fl_time now = wall_now();
	int rc = 1;
	fl_err err;

	if (argc < 2) {
		fprintf(stderr,
		        "usage: finlockd keys list|rotate|"
		        "accept-cert CERT [--root K4PUBLIC]|retire KID\n");
		return 2;
	}
	if ((err = fl_server_data_dir(cfg->data_dir)) != FL_OK)
		return fail("data directory", err);
	if ((err = fl_signkeys_open(&ks, cfg->data_dir, false,
	                            cfg->key_cert_days, now)) != FL_OK)
		return fail("signing keys", err);
	if (strcmp(argv[1], "list") == 0 && argc == 2) {
		err = fl_signkeys_list(ks, now, print_key, NULL);
		rc = err == FL_OK ? 0 : fail("keys list", err);
	} else if (strcmp(argv[1], "rotate") == 0 && argc == 2) {
		err = fl_signkeys_rotate(ks, now, kid);
		if (err == FL_OK) {
			printf("%s\n", kid);
			if (!fl_signkeys_is_dev(ks))
				fprintf(stderr, "finlockd: certify the new key "
				                "with the "
				                "root (finlock key certify) "
				                "and install "
				                "it with `finlockd keys "
				                "accept-cert`\n");
			rc = 0;
		} else {
			rc = fail("keys rotate", err);
		}
	} else if (strcmp(argv[1], "accept-cert") == 0 &&
	           (argc == 3 ||
	            (argc == 5 && strcmp(argv[3], "--root") == 0))) {
		char *cert = read_cert(argv[2]);

		err = cert == NULL
		              ? FL_E_NOMEM
		              : fl_signkeys_accept_cert(
		                        ks, cert, argc == 5 ? argv[4] : NULL,
		                        now, kid);
		free(cert);
		if (err == FL_OK) {
			printf("%s\n", kid);
			rc = 0;
		} else if (err == FL_E_NOT_FOUND && argc == 3) {
			fprintf(stderr, "finlockd: the first certificate needs "
			                "--root K4PUBLIC (the root's public "
			                "key), or it certifies a key this "
			                "server does not have\n");
		} else if (err == FL_E_CONFLICT) {
			fprintf(stderr, "finlockd: a different production root "
			                "is already installed\n");
		} else {
			rc = fail("keys accept-cert", err);
		}
	} else if (strcmp(argv[1], "retire") == 0 && argc == 3) {
		err = fl_signkeys_retire(ks, argv[2], now);
		rc = err == FL_OK ? 0 : fail("keys retire", err);
	} else {
		fprintf(stderr, "finlockd: unknown keys command\n");
		rc = 2;
	}
	fl_signkeys_free(ks);
	return rc;
}

static int cmd_root_pubkey(const struct fl_config *cfg)
{
	struct fl_signkeys *ks = NULL;
	char pub[FL_PASERK_PUBLIC_SIZE];
	fl_err err;

	if ((err = fl_server_data_dir(cfg->data_dir)) != FL_OK)
		return fail("data directory", err);
	if ((err = fl_signkeys_open(&ks, cfg->data_dir, true,
	                            cfg->key_cert_days, wall_now())) != FL_OK)
		return fail("signing keys", err);
	err = fl_signkeys_root(ks, pub);
	fl_signkeys_free(ks);
	if (err != FL_OK)
		return fail("root-pubkey", err);
	printf("%s\n", pub);
	return 0;
}

/* The key, as a request of the system would make it: one attempt. */
static fl_err operator_key_fn(struct fl_tx *tx, void *io, fl_time now)
{
	const struct fl_apikey_create_in *in = io;
	struct fl_apikey_result out;

	return fl_apikey_create(tx, in, now, &out);
}

static int cmd_operator_key(const struct fl_config *cfg)
{
	struct fl_datadir dd;
	struct fl_apikey_create_in in;
	struct fl_apikey_new key;
	char why[FL_DATADIR_WHY_MAX];
	int rc = 1;
	fl_err err;

	if (fl_datadir_open(cfg, 0, wall_now(), &dd, why) != FL_OK) {
		fprintf(stderr, "finlockd: %s\n", why);
		return FL_SERVER_EXIT_REFUSED;
	}
	memset(&in, 0, sizeof(in));
	in.who.role = FL_ROLE_OPERATOR;
	in.role = FL_ROLE_OPERATOR;
	snprintf(in.label, sizeof(in.label), "operator-key command");
	in.key = &key;
	if ((err = fl_apikey_new(dd.secrets.apikey_hash_key, &key)) != FL_OK ||
	    (err = fl_run(dd.store, wall_now(), 0, operator_key_fn, &in,
	                  NULL)) != FL_OK) {
		rc = fail("operator-key", err);
		goto out;
	}
	printf("operator key: %s\n", key.secret);
	rc = 0;
out:
	fl_wipe(&key, sizeof(key));
	fl_datadir_close(&dd);
	return rc;
}

/* --- check --------------------------------------------------------------- */

struct check {
	int problems;
};

__attribute__((format(printf, 3, 4))) static void
report(struct check *c, bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%-7s ", ok ? "ok" : "FAILED");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		c->problems++;
}

/* The newest exported head of each chain in audit-heads.jsonl. */
struct file_head {
	char chain[FL_ID_MAX];
	int64_t seq;
	uint8_t hash[FL_HASH_LEN];
};

struct file_heads {
	struct file_head *h;
	size_t n, cap;
	int64_t lines;
	int64_t bad_line; /* first line that is not a head, 0 if none */
};

static fl_err note_head(struct file_heads *fh, const char *line, int64_t lineno)
{
	json_t *j = json_loads(line, 0, NULL);
	const char *chain = json_string_value(json_object_get(j, "chain"));
	const char *hex = json_string_value(json_object_get(j, "hash"));
	json_t *seq = json_object_get(j, "seq");
	uint8_t hash[FL_HASH_LEN];
	size_t i;

	if (chain == NULL || hex == NULL || !json_is_integer(seq) ||
	    strlen(chain) >= FL_ID_MAX ||
	    fl_hex_decode(hash, sizeof(hash), hex, strlen(hex)) != FL_OK) {
		if (fh->bad_line == 0)
			fh->bad_line = lineno;
		json_decref(j);
		return FL_OK;
	}
	for (i = 0; i < fh->n; i++)
		if (strcmp(fh->h[i].chain, chain) == 0)
			break;
	if (i == fh->n) {
		if (fh->n == fh->cap) {
			size_t cap = fh->cap ? fh->cap * 2 : 16;
			void *p = realloc(fh->h, cap * sizeof(*fh->h));

			if (p == NULL) {
				json_decref(j);
				return FL_E_NOMEM;
			}
			fh->h = p;
			fh->cap = cap;
		}
		memset(&fh->h[fh->n], 0, sizeof(fh->h[0]));
		snprintf(fh->h[fh->n].chain, FL_ID_MAX, "%s", chain);
		fh->n++;
	}
	if (json_integer_value(seq) >= fh->h[i].seq) {
		fh->h[i].seq = json_integer_value(seq);
		memcpy(fh->h[i].hash, hash, sizeof(hash));
	}
	json_decref(j);
	return FL_OK;
}

static fl_err read_file_heads(const char *dir, struct file_heads *fh)
{
	char path[FL_CONFIG_PATH_MAX + 32];
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	fl_err err = FL_OK;

	memset(fh, 0, sizeof(*fh));
	if (fl_files_join(path, sizeof(path), dir, "audit-heads.jsonl") !=
	    FL_OK)
		return FL_E_TOO_LARGE;
	f = fopen(path, "re");
	if (f == NULL)
		return errno == ENOENT ? FL_E_NOT_FOUND : FL_E_IO;
	while (err == FL_OK && (n = getline(&line, &cap, f)) > 0) {
		fh->lines++;
		err = note_head(fh, line, fh->lines);
	}
	free(line);
	fclose(f);
	return err;
}

struct entry_hash {
	uint8_t hash[FL_HASH_LEN];
	bool found;
};

static fl_err take_hash(void *ctx, const struct fl_audit_entry *e)
{
	struct entry_hash *eh = ctx;

	memcpy(eh->hash, e->hash, FL_HASH_LEN);
	eh->found = true;
	return FL_OK;
}

/* Each chain's newest exported head names an entry the database holds,
 * with that entry's hash. */
static fl_err check_file_heads(struct check *c, struct fl_store *st,
                               const char *dir)
{
	struct file_heads fh;
	struct fl_tx *tx = NULL;
	int bad = 0;
	fl_err err = read_file_heads(dir, &fh);

	if (err == FL_E_NOT_FOUND) {
		report(c, true, "audit-heads.jsonl: none exported yet");
		return FL_OK;
	}
	if (err != FL_OK) {
		report(c, false, "audit-heads.jsonl: cannot read it (%s)",
		       fl_strerror(err));
		goto out;
	}
	if (fh.bad_line != 0)
		report(c, false, "audit-heads.jsonl: line %lld is not a head",
		       (long long)fh.bad_line);
	if ((err = fl_store_begin(st, false, &tx)) != FL_OK)
		goto out;
	for (size_t i = 0; i < fh.n; i++) {
		struct entry_hash eh = {0};

		err = fl_store_audit_list(tx, fh.h[i].chain, fh.h[i].seq - 1, 1,
		                          NULL, take_hash, &eh);
		if (err != FL_OK)
			goto out;
		if (!eh.found) {
			report(c, false,
			       "audit-heads.jsonl: chain %s was signed through "
			       "entry %lld, which the database lacks (entries "
			       "were lost)",
			       fh.h[i].chain, (long long)fh.h[i].seq);
			bad++;
		} else if (fl_ct_memcmp(eh.hash, fh.h[i].hash, FL_HASH_LEN) !=
		           0) {
			report(c, false,
			       "audit-heads.jsonl: entry %lld of chain %s "
			       "differs from its exported head",
			       (long long)fh.h[i].seq, fh.h[i].chain);
			bad++;
		}
	}
	if (bad == 0)
		report(c, true,
		       "audit-heads.jsonl: %lld heads, the newest of each of "
		       "%zu chains matches the database",
		       (long long)fh.lines, fh.n);
out:
	fl_tx_rollback(tx);
	free(fh.h);
	return err;
}

static fl_err check_chains(struct check *c, struct fl_store *st)
{
	char(*names)[FL_ID_MAX] = NULL;
	struct fl_audit_verdict v;
	struct fl_tx *tx = NULL;
	size_t n = 0;
	fl_err err;

	if ((err = fl_store_begin(st, false, &tx)) != FL_OK)
		return err;
	if ((err = fl_audit_chain_names(tx, &names, &n)) != FL_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((err = fl_audit_verify(tx, names[i], &v)) != FL_OK)
			goto out;
		if (v.ok)
			report(c, true,
			       "audit chain %s: %lld entries, signed through "
			       "%lld",
			       names[i], (long long)v.entries,
			       (long long)v.signed_seq);
		else
			report(c, false, "audit chain %s: %s", names[i],
			       v.problem);
	}
out:
	fl_tx_rollback(tx);
	free(names);
	return err;
}

static int cmd_check(const struct fl_config *cfg)
{
	struct fl_store_sqlite_opts opts = {.pool_size = 2, .must_exist = true};
	char path[FL_CONFIG_PATH_MAX + 32], problem[FL_STORE_PROBLEM_MAX];
	char why[FL_DATADIR_WHY_MAX];
	struct check c = {0};
	struct fl_datadir dd;
	struct fl_store *st = NULL;
	fl_err err;

	/* The database's structure first: the other checks read it. */
	if (cfg->database[0] != '\0') {
		struct fl_store_pg_opts pg = {.pool_size = 2,
		                              .must_exist = true};

		fl_datadir_db_name(cfg->database, path, sizeof(path));
		err = fl_store_open_pg(&st, cfg->database, &pg);
	} else {
		if ((err = fl_files_join(path, sizeof(path), cfg->data_dir,
		                         "finlock.db")) != FL_OK)
			return fail("check", err);
		err = fl_store_open_sqlite(&st, path, &opts);
	}
	if (err == FL_OK)
		err = fl_store_check(st, true, problem);
	else
		snprintf(problem, sizeof(problem), "%s", fl_strerror(err));
	fl_store_close(st);
	report(&c, err == FL_OK, "database %s: %s", path,
	       err == FL_OK ? (cfg->database[0] != '\0'
	                               ? "PostgreSQL's check passed"
	                               : "integrity_check passed")
	                    : problem);
	if (err != FL_OK)
		goto out;
	if (fl_datadir_open(cfg, FL_DATADIR_KEYS | FL_DATADIR_SKIP_QUICK_CHECK,
	                    wall_now(), &dd, why) != FL_OK) {
		report(&c, false, "%s", why);
		goto out;
	}
	report(&c, true,
	       "secrets (server.secret, kx.secret) are the ones the database "
	       "was made with");
	report(&c, true,
	       "signing keys (keys.json, keys/) load and signed the "
	       "database's audit heads");
	if ((err = check_chains(&c, dd.store)) != FL_OK)
		report(&c, false, "audit chains: cannot read them (%s)",
		       fl_strerror(err));
	if ((err = check_file_heads(&c, dd.store, cfg->data_dir)) != FL_OK)
		report(&c, false, "audit-heads.jsonl: %s", fl_strerror(err));
	fl_datadir_close(&dd);
out:
	if (c.problems > 0) {
		fprintf(stderr, "finlockd: check found %d problem%s in %s\n",
		        c.problems, c.problems == 1 ? "" : "s", cfg->data_dir);
		return 1;
	}
	printf("%s: all checks passed\n", cfg->data_dir);
	return 0;
}

static int cmd_backup(const struct fl_config *cfg, const char *file)
{
	struct fl_backup_summary sum;
	char why[FL_DATADIR_WHY_MAX];

	if (fl_backup_write(cfg, file, &sum, why) != FL_OK) {
		fprintf(stderr, "finlockd: backup: %s\n", why);
		return 1;
	}
	if (cfg->database[0] != '\0') {
		char name[512];

		fl_datadir_db_name(cfg->database, name, sizeof(name));
		printf("wrote %s: %llu bytes, %d files (the data directory's "
		       "keys, %d signing keys)\n"
		       "the database is PostgreSQL's to back up: pg_dump "
		       "--format=custom --file=finlock.pgdump '%s' "
		       "(docs/deploy.md)\n",
		       file, (unsigned long long)sum.bytes, sum.files,
		       sum.signing_keys, name);
		return 0;
	}
	printf("wrote %s: %llu bytes, %d files (database %llu bytes, %d "
	       "signing keys)\n",
	       file, (unsigned long long)sum.bytes, sum.files,
	       (unsigned long long)sum.db_bytes, sum.signing_keys);
	return 0;
}

static int cmd_restore(const struct fl_config *cfg, const char *file)
{
	struct fl_backup_summary sum;
	char why[FL_DATADIR_WHY_MAX];

	if (fl_backup_restore(cfg, file, &sum, why) != FL_OK) {
		fprintf(stderr, "finlockd: restore: %s\n", why);
		return 1;
	}
	printf("restored %s from %s: %d files (database %llu bytes, %d "
	       "signing keys)\n",
	       cfg->data_dir, file, sum.files, (unsigned long long)sum.db_bytes,
	       sum.signing_keys);
	return 0;
}

int fl_admin_main(const struct fl_config *cfg, int argc, char **argv)
{
	if (strcmp(argv[0], "keys") == 0)
		return cmd_keys(cfg, argc, argv);
	if (strcmp(argv[0], "root-pubkey") == 0 && argc == 1)
		return cmd_root_pubkey(cfg);
	if (strcmp(argv[0], "operator-key") == 0 && argc == 1)
		return cmd_operator_key(cfg);
	if (strcmp(argv[0], "check") == 0 && argc == 1)
		return cmd_check(cfg);
	if (strcmp(argv[0], "backup") == 0 && argc == 2)
		return cmd_backup(cfg, argv[1]);
	if (strcmp(argv[0], "restore") == 0 && argc == 2)
		return cmd_restore(cfg, argv[1]);
	fprintf(stderr, "finlockd: unknown command '%s' (see --help)\n",
	        argv[0]);
	return 2;
}
