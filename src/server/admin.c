/* admin.c - `finlockd keys ...`, `root-pubkey`, `operator-key`. */
#include "server/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/secrets.h"
#include "server/server.h"
#include "server/signkeys.h"
#include "store/store.h"

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
	fl_time now = fl_app_now();
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
	                            cfg->key_cert_days, fl_app_now())) != FL_OK)
		return fail("signing keys", err);
	err = fl_signkeys_root(ks, pub);
	fl_signkeys_free(ks);
	if (err != FL_OK)
		return fail("root-pubkey", err);
	printf("%s\n", pub);
	return 0;
}

static int cmd_operator_key(const struct fl_config *cfg)
{
	struct fl_secrets sec;
	struct fl_store *st = NULL;
	struct fl_tx *tx = NULL;
	struct fl_req req;
	json_t *out = NULL;
	int rc = 1;
	fl_err err;

	if ((err = fl_server_data_dir(cfg->data_dir)) != FL_OK ||
	    (err = fl_secrets_load(&sec, cfg->data_dir)) != FL_OK)
		return fail("secrets", err);
	if ((err = fl_server_open_store(cfg, &st)) != FL_OK) {
		fl_secrets_wipe(&sec);
		return fail("database", err);
	}
	/* The key is created as a request of the system would be. */
	memset(&req, 0, sizeof(req));
	struct fl_app app = {.store = st, .secrets = sec};
	req.app = &app;
	req.now = fl_app_now();
	req.who.role = FL_ROLE_OPERATOR;
	if ((err = fl_store_begin(st, true, &tx)) != FL_OK ||
	    (err = fl_api_key_create(tx, &req, "", FL_ROLE_OPERATOR,
	                             "operator-key command", &out)) != FL_OK) {
		fl_tx_rollback(tx);
		rc = fail("operator-key", err);
		goto out;
	}
	if ((err = fl_tx_commit(tx)) != FL_OK) {
		rc = fail("operator-key", err);
		goto out;
	}
	printf("operator key: %s\n",
	       json_string_value(json_object_get(out, "key")));
	rc = 0;
out:
	json_decref(out);
	fl_store_close(st);
	fl_wipe(&app, sizeof(app));
	fl_secrets_wipe(&sec);
	return rc;
}

int fl_admin_main(const struct fl_config *cfg, int argc, char **argv)
{
	if (strcmp(argv[0], "keys") == 0)
		return cmd_keys(cfg, argc, argv);
	if (strcmp(argv[0], "root-pubkey") == 0 && argc == 1)
		return cmd_root_pubkey(cfg);
	if (strcmp(argv[0], "operator-key") == 0 && argc == 1)
		return cmd_operator_key(cfg);
	fprintf(stderr, "finlockd: unknown command '%s' (see --help)\n",
	        argv[0]);
	return 2;
}
