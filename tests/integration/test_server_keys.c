/*
 * Integration tests for finlockd's key ceremony and signed audit heads:
 * `keys list`, a production root's certificate installed with
 * `keys accept-cert`, `root-pubkey`, `keys rotate` and `keys retire`, the
 * development root of a zero-configuration start, and audit heads signed
 * over HTTP that verify under the root's trust.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/paserk.h"
#include "core/token.h"
#include "support/proc.h"
#include "support/server_harness.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	if (fl_crypto_init() != FL_OK)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/finlock-keys-XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Runs finlockd --data <d> args...; returns its exit status; *out gets
 * stdout (caller frees). */
static int run(const char *d, char **out, const char *a1, const char *a2,
               const char *a3, const char *a4, const char *a5)
{
	struct proc_result r;
	char *argv[] = {"finlockd", "--data",   (char *)d,
	                (char *)a1, (char *)a2, (char *)a3,
	                (char *)a4, (char *)a5, NULL};

	assert_int_equal(proc_run("finlockd", argv, NULL, &r), 0);
	if (out != NULL)
		*out = strdup(r.out);
	int st = r.status;
	proc_result_free(&r);
	return st;
}

struct keyline {
	char kid[80], pk[80], status[32];
};

/* Parses `keys list` output into up to 8 lines. */
static int parse_keys(const char *text, struct keyline *k)
{
	int n = 0;
	char na[64];
	const char *p = text;

	while (n < 8 && sscanf(p, "%79s %79s %31s %63s", k[n].kid, k[n].pk,
	                       k[n].status, na) == 4) {
		n++;
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return n;
}

static char *certify(const struct fl_signer *root, const char *pk_text,
                     fl_time not_after)
{
	uint8_t pk[FL_SIGN_PK_LEN];
	char *cert = NULL;

	assert_int_equal(fl_paserk_public_decode(pk, pk_text, strlen(pk_text)),
	                 FL_OK);
	assert_int_equal(fl_keycert_issue(&cert, root, pk, not_after), FL_OK);
	return cert;
}

static void test_production_ceremony(void **state)
{
	char d[128], rootpub[FL_PASERK_PUBLIC_SIZE], *out = NULL, *cert;
	struct fl_signer root, other;
	struct keyline k[8];
	fl_time far = time(NULL) + 86400 * 30;

	(void)state;
	snprintf(d, sizeof(d), "%s/prod", dir);
	assert_int_equal(fl_signer_generate(&root), FL_OK);
	assert_int_equal(fl_signer_generate(&other), FL_OK);
	assert_int_equal(fl_paserk_public_encode(rootpub, root.pk), FL_OK);

	/* a fresh directory gets one uncertified key and no root */
	assert_int_equal(run(d, &out, "keys", "list", NULL, NULL, NULL), 0);
	assert_int_equal(parse_keys(out, k), 1);
	assert_string_equal(k[0].status, "uncertified");
	assert_int_equal(strncmp(k[0].pk, "k4.public.", 10), 0);
	assert_int_equal(strncmp(k[0].kid, "k4.pid.", 7), 0);
	free(out);

	/* a certificate from another root does not verify against ours */
	cert = certify(&other, k[0].pk, far);
	assert_int_not_equal(
	        run(d, NULL, "keys", "accept-cert", cert, "--root", rootpub),
	        0);
	free(cert);
	/* the first certificate must name its root */
	cert = certify(&root, k[0].pk, far);
	assert_int_not_equal(
	        run(d, NULL, "keys", "accept-cert", cert, NULL, NULL), 0);
	assert_int_equal(
	        run(d, &out, "keys", "accept-cert", cert, "--root", rootpub),
	        0);
	assert_non_null(strstr(out, k[0].kid));
	free(out);
	free(cert);
	assert_int_equal(run(d, &out, "root-pubkey", NULL, NULL, NULL, NULL),
	                 0);
	assert_non_null(strstr(out, rootpub));
	free(out);
	assert_int_equal(run(d, &out, "keys", "list", NULL, NULL, NULL), 0);
	assert_int_equal(parse_keys(out, k), 1);
	assert_string_equal(k[0].status, "signer");
	free(out);
	/* no development root appeared */
	char p[256];
	snprintf(p, sizeof(p), "%s/dev-root.k4secret", d);
	assert_int_not_equal(access(p, F_OK), 0);

	/* rotate: the new key waits for its certificate */
	assert_int_equal(run(d, NULL, "keys", "rotate", NULL, NULL, NULL), 0);
	assert_int_equal(run(d, &out, "keys", "list", NULL, NULL, NULL), 0);
	assert_int_equal(parse_keys(out, k), 2);
	assert_string_equal(k[0].status, "signer");
	assert_string_equal(k[1].status, "uncertified");
	free(out);
	cert = certify(&root, k[1].pk, far);
	assert_int_equal(run(d, NULL, "keys", "accept-cert", cert, NULL, NULL),
	                 0);
	free(cert);
	assert_int_equal(run(d, &out, "keys", "list", NULL, NULL, NULL), 0);
	assert_int_equal(parse_keys(out, k), 2);
	assert_string_equal(k[0].status, "certified");
	assert_string_equal(k[1].status, "signer");
	free(out);
	assert_int_equal(run(d, NULL, "keys", "retire", k[0].kid, NULL, NULL),
	                 0);
	assert_int_not_equal(
	        run(d, NULL, "keys", "retire", k[0].kid, NULL, NULL), 0);
	/* another root cannot replace an installed production root */
	cert = certify(&other, k[1].pk, far);
	char otherpub[FL_PASERK_PUBLIC_SIZE];
	assert_int_equal(fl_paserk_public_encode(otherpub, other.pk), FL_OK);
	assert_int_not_equal(
	        run(d, NULL, "keys", "accept-cert", cert, "--root", otherpub),
	        0);
	free(cert);

	/* serve: audit heads are signed by the production-certified key */
	struct srv *s;
	struct srv_opts o = {.data_dir = d};
	struct srv_res r;
	assert_int_equal(srv_start(&s, &o), 0);
	assert_int_equal(srv_req(s, "POST", "/v1/operator/audit/head",
	                         srv_operator_key(s), NULL, &r),
	                 0);
	assert_int_equal(r.status, 201);
	const char *token = srv_jstr(&r, "token");
	char kid[FL_KID_MAX];
	assert_int_equal(fl_msg_peek_kid(token, kid), FL_OK);
	assert_string_equal(kid, k[1].kid);
	struct fl_trust *t = NULL;
	char *payload = NULL;
	size_t len;
	assert_int_equal(fl_trust_new(&t, root.pk), FL_OK);
	cert = certify(&root, k[1].pk, far);
	assert_int_equal(fl_trust_add_cert(t, cert, time(NULL), NULL), FL_OK);
	assert_int_equal(fl_trust_verify(t, FL_MSG_AUDIT_HEAD, token,
	                                 time(NULL), &payload, &len),
	                 FL_OK);
	assert_non_null(strstr(payload, "\"chain\":\"operator\""));
	free(payload);
	free(cert);
	fl_trust_free(t);
	srv_res_free(&r);
	/* the newest signed head is served and the chain verifies with it */
	assert_int_equal(srv_req(s, "GET", "/v1/operator/audit/head",
	                         srv_operator_key(s), NULL, &r),
	                 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	assert_int_equal(srv_req(s, "GET", "/v1/operator/audit/verify",
	                         srv_operator_key(s), NULL, &r),
	                 0);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	assert_true(srv_jint(&r, "signed_seq") >= 1);
	srv_res_free(&r);
	srv_free(s);
	fl_signer_wipe(&root);
	fl_signer_wipe(&other);
}

static void test_development_root(void **state)
{
	char d[128], *out = NULL, *again = NULL;
	struct keyline k[8];

	(void)state;
	snprintf(d, sizeof(d), "%s/dev", dir);
	/* zero configuration: root-pubkey makes a development root */
	assert_int_equal(run(d, &out, "root-pubkey", NULL, NULL, NULL, NULL),
	                 0);
	assert_int_equal(strncmp(out, "k4.public.", 10), 0);
	assert_int_equal(run(d, &again, "root-pubkey", NULL, NULL, NULL, NULL),
	                 0);
	assert_string_equal(out, again);
	free(again);
	assert_int_equal(run(d, &again, "keys", "list", NULL, NULL, NULL), 0);
	assert_int_equal(parse_keys(again, k), 1);
	assert_string_equal(k[0].status, "signer");
	free(again);
	/* rotation under a development root is certified at once */
	assert_int_equal(run(d, NULL, "keys", "rotate", NULL, NULL, NULL), 0);
	assert_int_equal(run(d, &again, "keys", "list", NULL, NULL, NULL), 0);
	assert_int_equal(parse_keys(again, k), 2);
	assert_string_equal(k[1].status, "signer");
	free(again);
	free(out);
	/* a tenant's audit head, and a loud warning in the log */
	struct srv *s;
	struct srv_opts o = {.data_dir = d};
	struct srv_res r;
	char tid[64], admin[64];
	assert_int_equal(srv_start(&s, &o), 0);
	assert_int_equal(srv_tenant(s, "Dev Lender", tid, admin), 0);
	assert_int_equal(srv_req(s, "POST", "/v1/audit/head", admin, NULL, &r),
	                 0);
	assert_int_equal(r.status, 201);
	assert_string_equal(srv_jstr(&r, "chain"), tid);
	srv_res_free(&r);
	assert_int_equal(
	        srv_req(s, "POST", "/v1/audit/head", admin, "{\"x\":1}", &r),
	        0);
	assert_int_equal(r.status, 400);
	srv_res_free(&r);
	assert_int_equal(srv_stop(s), 0);
	char log[4096] = "";
	FILE *f = fopen(srv_log_path(s), "r");
	assert_non_null(f);
	size_t n = fread(log, 1, sizeof(log) - 1, f);
	log[n] = '\0';
	fclose(f);
	assert_non_null(strstr(log, "DEVELOPMENT ROOT KEY IN USE"));
	srv_free(s);
}

static void test_bad_commands(void **state)
{
	char d[128];

	(void)state;
	snprintf(d, sizeof(d), "%s/bad", dir);
	assert_int_equal(run(d, NULL, "keys", NULL, NULL, NULL, NULL), 2);
	assert_int_equal(run(d, NULL, "keys", "frobnicate", NULL, NULL, NULL),
	                 2);
	assert_int_equal(run(d, NULL, "nonsense", NULL, NULL, NULL, NULL), 2);
	assert_int_not_equal(run(d, NULL, "keys", "accept-cert", "garbage",
	                         "--root", "k4.public.nope"),
	                     0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_production_ceremony),
	        cmocka_unit_test(test_development_root),
	        cmocka_unit_test(test_bad_commands),
	};
	return cmocka_run_group_tests_name("server_keys", tests, setup,
	                                   teardown);
}
