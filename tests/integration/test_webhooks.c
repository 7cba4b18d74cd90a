/*
 * Webhooks to the lender against a real finlockd, received by a local
 * process finlock did not write (tests/webhooks/receiver.mjs): v1 checked
 * with the npm standardwebhooks package, v1a with node's own Ed25519.
 *
 *   - the journey: a locked phone, a payment recorded, the receiver gets
 *     payment.recorded and then device.unlock_confirmed once the phone
 *     reports it applied the unlock; the device shows "unlocking" until
 *     then;
 *   - a receiver down (503) for a while, then up: everything delivered,
 *     in order;
 *   - kill -9 of finlockd during a storm of payments: every payment
 *     answered 201 has its event delivered after the restart;
 *   - kill -9 of finlockd during a storm of Daraja C2B confirmations:
 *     every confirmation answered ResultCode "0" is a payment after the
 *     restart, and its payment.recorded is delivered;
 *   - with a production root, `finlock key certify --webhook` and
 *     `finlockd keys accept-cert` certify the webhook key: the receiver
 *     verifies v1a with the key the root's certificate names;
 *   - a secret rotated: the receiver keeping the old secret still
 *     verifies v1 for the overlap, the new one does at once; with no
 *     overlap, the old secret verifies nothing;
 *   - with webhook_allow_private off, a loopback target is refused at
 *     delivery and the receiver hears nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/devproto.h"
#include "core/paserk.h"
#include "core/token.h"
#include "finlock/agent.h"
#include "support/devapi_phone.h"
#include "support/proc.h"
#include "support/server_harness.h"

static unsigned next_imei = 700;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* --- the receiver --------------------------------------------------------- */

struct receiver {
	char dir[256];
	pid_t pid;
	unsigned port;
};

static void put_file(const struct receiver *rc, const char *name,
                     const char *text)
{
	char path[512], tmp[520];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", rc->dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void receiver_start(struct receiver *rc)
{
	int fd[2];
	char line[128] = "";
	FILE *out;

	memset(rc, 0, sizeof(*rc));
	snprintf(rc->dir, sizeof(rc->dir), "/tmp/fl-hooks-XXXXXX");
	assert_non_null(mkdtemp(rc->dir));
	assert_int_equal(pipe(fd), 0);
	rc->pid = fork();
	assert_true(rc->pid >= 0);
	if (rc->pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execlp("node", "node", "tests/webhooks/receiver.mjs", rc->dir,
		       (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	out = fdopen(fd[0], "r");
	assert_non_null(out);
	assert_non_null(fgets(line, sizeof(line), out));
	fclose(out);
	assert_int_equal(sscanf(line, "port %u", &rc->port), 1);
}

static void receiver_stop(struct receiver *rc)
{
	char cmd[300];

	kill(rc->pid, SIGKILL);
	waitpid(rc->pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", rc->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", rc->dir);
}

/* What the receiver got, one JSON object per request, in arrival order
 * (new reference). */
static json_t *received(const struct receiver *rc)
{
	char path[512], line[2048];
	json_t *all = json_array();
	FILE *f;

	snprintf(path, sizeof(path), "%s/received.jsonl", rc->dir);
	if ((f = fopen(path, "r")) == NULL)
		return all;
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *j = json_loads(line, 0, NULL);

		if (j != NULL)
			json_array_append_new(all, j);
	}
	fclose(f);
	return all;
}

/* Index of the first request answered 2xx for an event of type (and ref
 * when not NULL) in all, -1 if none. Every request seen must carry two
 * good signatures. */
static int find_delivered(json_t *all, const char *type, const char *ref)
{
	size_t i;
	json_t *v;

	json_array_foreach(all, i, v)
	{
		int st = (int)json_integer_value(json_object_get(v, "status"));

		assert_true(json_is_true(json_object_get(v, "v1")));
		assert_true(json_is_true(json_object_get(v, "v1a")));
		if (st >= 200 && st < 300 &&
		    strcmp(json_string_value(json_object_get(v, "type")),
		           type) == 0 &&
		    (ref == NULL ||
		     strcmp(json_string_value(json_object_get(v, "ref")),
		            ref) == 0))
			return (int)i;
	}
	return -1;
}

/* Waits (up to secs) until the receiver has a 2xx delivery of type (and
 * ref); its index. */
static int await_delivered(const struct receiver *rc, const char *type,
                           const char *ref, int secs)
{
	for (int i = 0; i < secs * 50; i++) {
		json_t *all = received(rc);
		int at = find_delivered(all, type, ref);

		json_decref(all);
		if (at >= 0)
			return at;
		sleep_ms(20);
	}
	fail_msg("no %s %s delivered within %d s", type, ref ? ref : "",
	         secs);
	return -1;
}

/* Registers the receiver for every event with the lender's admin key,
 * and hands it the secret and the server's webhook public key. Returns
 * the endpoint id in id[64]. */
static void subscribe(struct srv *s, const struct devapi_lender *l,
                      const struct receiver *rc, char id[64])
{
	struct srv_res r;
	char body[256];

	snprintf(body, sizeof(body),
	         "{\"url\":\"http://127.0.0.1:%u/hooks\",\"events\":[\"*\"]}",
	         rc->port);
	assert_int_equal(srv_req(s, "POST", "/v1/webhooks", l->admin, body, &r),
	                 0);
	assert_int_equal(r.status, 201);
	assert_true(strncmp(srv_jstr(&r, "secret"), "whsec_", 6) == 0);
	put_file(rc, "secret", srv_jstr(&r, "secret"));
	snprintf(id, 64, "%s", srv_jstr(&r, "id"));
	srv_res_free(&r);
	assert_int_equal(srv_req(s, "GET", "/v1/webhooks/signing-key", l->admin,
	                         NULL, &r),
	                 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(srv_jstr(&r, "alg"), "Ed25519");
	/* certified by the (development) root, as a webhook key */
	assert_true(strncmp(srv_jstr(&r, "certificate"), "v4.public.", 10) ==
	            0);
	put_file(rc, "pubkey", srv_jstr(&r, "public_key_base64"));
	srv_res_free(&r);
}

static int start(struct srv **s, struct devapi_lender *l, bool private_ok)
{
	/* short retries, and attempts of at most 2 s: an attempt a kill -9
	 * interrupted is another's once its lease (2 s + 5 s) ends */
	static const char *const on[] = {"--webhook-allow-private", "true",
	                                  "--webhook-retry-ms", "100",
	                                  "--webhook-timeout", "2", NULL};
	static const char *const off[] = {"--webhook-retry-ms", "100",
	                                  "--webhook-timeout", "2", NULL};

	return devapi_start(s, l, private_ok ? on : off);
}

/* A registered device with a contract of two installments of 1,500.00
 * KES, the first overdue since 2025 (so its phone, once enrolled, is
 * locked, and paying it unlocks the phone without releasing it). */
static void overdue_device(struct srv *s, const struct devapi_lender *l,
                           char imei1[16], char imei2[16], char id[64],
                           char code[64])
{
	struct srv_res r;
	char path[128];

	devapi_imei(next_imei++, imei1);
	devapi_imei(next_imei++, imei2);
	assert_int_equal(devapi_register(s, l, imei1, imei2, id, code), 0);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", id);
	assert_int_equal(
	        srv_req(s, "POST", path, l->admin,
	                "{\"loan_ref\":\"LN-9\",\"currency\":\"KES\","
	                "\"allow_overdue\":true,"
	                "\"schedule\":[{\"due\":\"2025-01-01\",\"amount\":"
	                "150000},{\"due\":\"2035-01-01\",\"amount\":150000}],"
	                "\"grace\":0,\"policy\":{\"contact\":{\"name\":"
	                "\"Acme Finance\",\"phones\":[\"+254700000001\"]}}}",
	                &r),
	        0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
}

static const char *lock_status(struct srv *s, const struct devapi_lender *l,
                               const char *id, char out[32])
{
	struct srv_res r;

	assert_int_equal(devapi_show(s, l, id, &r), 0);
	snprintf(out, 32, "%s", srv_jstr(&r, "lock_status"));
	srv_res_free(&r);
	return out;
}

static void test_journey(void **state)
{
	struct devapi_lender l;
	struct devapi_phone p;
	struct receiver rc;
	struct fl_agent_screen sc;
	struct srv *s = NULL;
	char imei1[16], imei2[16], id[64], code[64], ep[64], ls[32];
	int paid, confirmed;

	(void)state;
	receiver_start(&rc);
	assert_int_equal(start(&s, &l, true), 0);
	subscribe(s, &l, &rc, ep);
	overdue_device(s, &l, imei1, imei2, id, code);
	assert_int_equal(devapi_phone_open(&p, s, &l, imei1, imei2), 0);
	assert_int_equal(fl_agent_setup(p.a), FL_OK);
	assert_int_equal(fl_agent_enroll(p.a, code), FL_OK);
	/* decided locked, not yet confirmed by the phone */
	assert_string_equal(lock_status(s, &l, id, ls), "locking");
	for (int i = 0; i < 3 && strcmp(ls, "locked") != 0; i++) {
		devapi_phone_tick(&p);
		assert_int_equal(fl_agent_checkin(p.a), FL_OK);
		lock_status(s, &l, id, ls);
	}
	fl_agent_screen(p.a, &sc);
	assert_true(sc.locked);
	assert_string_equal(ls, "locked");
	await_delivered(&rc, "device.lock_confirmed", id, 10);

	assert_int_equal(devapi_pay(s, &l, id, 150000), 0);
	paid = await_delivered(&rc, "payment.recorded", NULL, 10);
	await_delivered(&rc, "device.unlocked", id, 10);
	/* the server unlocked it; the phone has not said so yet */
	assert_string_equal(lock_status(s, &l, id, ls), "unlocking");
	for (int i = 0; i < 3 && strcmp(ls, "unlocked") != 0; i++) {
		devapi_phone_tick(&p);
		assert_int_equal(fl_agent_checkin(p.a), FL_OK);
		lock_status(s, &l, id, ls);
	}
	assert_string_equal(ls, "unlocked");
	fl_agent_screen(p.a, &sc);
	assert_false(sc.locked);
	confirmed = await_delivered(&rc, "device.unlock_confirmed", id, 10);
	assert_true(paid < confirmed);
	{
		json_t *all = received(&rc);

		/* the enrollment's events came first: one endpoint, in
		 * order */
		assert_true(find_delivered(all, "device.enrolled", id) <
		            find_delivered(all, "device.lock_confirmed", id));
		json_decref(all);
	}
	devapi_phone_close(&p);
	srv_free(s);
	receiver_stop(&rc);
}

/* Payments of 1 minor unit on device id, n of them; the ids of those
 * answered 201 go to ids (n entries of 64). */
static int pay_many(struct srv *s, const struct devapi_lender *l,
                    const char *id, int n, char (*ids)[64])
{
	char path[128], body[128];
	int ok = 0;

	snprintf(path, sizeof(path), "/v1/devices/%s/payments", id);
	for (int i = 0; i < n; i++) {
		struct srv_res r;

		snprintf(body, sizeof(body),
		         "{\"amount\":1,\"reference\":\"R-%d-%ld\"}", i,
		         (long)random());
		if (srv_req(s, "POST", path, l->admin, body, &r) != 0)
			break;
		if (r.status == 201) {
			const char *pid = json_string_value(json_object_get(
			        json_object_get(r.json, "payment"), "id"));

			snprintf(ids[ok++], 64, "%s", pid != NULL ? pid : "");
		}
		srv_res_free(&r);
	}
	return ok;
}

static void test_receiver_down_then_up(void **state)
{
	struct devapi_lender l;
	struct receiver rc;
	struct srv *s = NULL;
	char imei1[16], imei2[16], id[64], code[64], ep[64];
	char ids[8][64];
	int n;
	json_t *all;

	(void)state;
	receiver_start(&rc);
	put_file(&rc, "status", "503");
	assert_int_equal(start(&s, &l, true), 0);
	subscribe(s, &l, &rc, ep);
	overdue_device(s, &l, imei1, imei2, id, code);
	n = pay_many(s, &l, id, 8, ids);
	assert_int_equal(n, 8);
	/* down: attempts made, answered 503, nothing delivered */
	sleep_ms(1500);
	all = received(&rc);
	assert_true(json_array_size(all) >= 2);
	assert_int_equal(find_delivered(all, "payment.recorded", NULL), -1);
	json_decref(all);
	put_file(&rc, "status", "204");
	for (int i = 0; i < n; i++)
		await_delivered(&rc, "payment.recorded", ids[i], 30);
	/* in the order they were recorded */
	all = received(&rc);
	for (int i = 1; i < n; i++)
		assert_true(find_delivered(all, "payment.recorded", ids[i - 1]) <
		            find_delivered(all, "payment.recorded", ids[i]));
	json_decref(all);
	srv_free(s);
	receiver_stop(&rc);
}

struct storm {
	struct srv *s;
	const struct devapi_lender *l;
	const char *id;
	char (*ids)[64];
	int n;
};

static void *storm_main(void *arg)
{
	struct storm *st = arg;

	st->n = pay_many(st->s, st->l, st->id, 400, st->ids);
	return NULL;
}

static void test_kill9_storm(void **state)
{
	struct devapi_lender l;
	struct receiver rc;
	struct srv *s = NULL;
	char imei1[16], imei2[16], id[64], code[64], ep[64];
	static char ids[400][64];
	struct storm st;
	pthread_t t;

	(void)state;
	receiver_start(&rc);
	assert_int_equal(start(&s, &l, true), 0);
	subscribe(s, &l, &rc, ep);
	overdue_device(s, &l, imei1, imei2, id, code);
	/* the storm runs on its own thread; the kill lands mid-way */
	st = (struct storm){s, &l, id, ids, 0};
	assert_int_equal(pthread_create(&t, NULL, storm_main, &st), 0);
	sleep_ms(700);
	srv_kill9(s);
	pthread_join(t, NULL);
	assert_true(st.n > 0);
	assert_int_equal(srv_restart(s), 0);
	for (int i = 0; i < st.n; i++)
		await_delivered(&rc, "payment.recorded", ids[i], 30);
	srv_free(s);
	receiver_stop(&rc);
}

/* --- kill -9 during a storm of Daraja confirmations ------------------------ */

struct dstorm {
	struct srv *s;
	const char *path; /* the source's confirmation path */
	char (*tids)[16]; /* TransIDs answered "0" */
	int n;
};

static void *dstorm_main(void *arg)
{
	struct dstorm *st = arg;
	unsigned salt = (unsigned)(random() % 100000);

	for (int i = 0; i < 400; i++) {
		char body[700], tid[16];
		struct srv_res r;

		snprintf(tid, sizeof(tid), "QS%05u%04u", salt, (unsigned)i % 10000);
		snprintf(body, sizeof(body),
		         "{\"TransactionType\":\"Pay Bill\",\"TransID\":"
		         "\"%s\",\"TransTime\":\"20260101120000\","
		         "\"TransAmount\":\"1.00\",\"BusinessShortCode\":"
		         "\"600900\",\"BillRefNumber\":\"ln- 9\","
		         "\"MSISDN\":\"2547 ***** 126\"}",
		         tid);
		if (srv_req(st->s, "POST", st->path, NULL, body, &r) != 0)
			break;
		if (r.status == 200 && r.json != NULL &&
		    strcmp(srv_jstr(&r, "ResultCode"), "0") == 0)
			snprintf(st->tids[st->n++], 16, "%s", tid);
		srv_res_free(&r);
	}
	return NULL;
}

static void test_kill9_daraja_storm(void **state)
{
	struct devapi_lender l;
	struct receiver rc;
	struct srv *s = NULL;
	struct srv_res r;
	char imei1[16], imei2[16], id[64], code[64], ep[64], path[256],
	        conf[256];
	static char tids[400][16];
	struct dstorm st;
	pthread_t t;
	json_t *items, *v;
	size_t k;

	(void)state;
	receiver_start(&rc);
	assert_int_equal(start(&s, &l, true), 0);
	subscribe(s, &l, &rc, ep);
	overdue_device(s, &l, imei1, imei2, id, code);
	assert_int_equal(
	        srv_req(s, "POST", "/v1/payment-sources", l.admin,
	                "{\"kind\":\"mpesa_c2b\",\"shortcode\":\"600900\","
	                "\"allowed_networks\":[\"127.0.0.0/8\"]}",
	                &r),
	        0);
	assert_int_equal(r.status, 201);
	snprintf(conf, sizeof(conf), "%s",
	         strchr(strstr(srv_jstr(&r, "confirmation_url"), "://") + 3,
	                '/'));
	srv_res_free(&r);
	st = (struct dstorm){s, conf, tids, 0};
	assert_int_equal(pthread_create(&t, NULL, dstorm_main, &st), 0);
	sleep_ms(700);
	srv_kill9(s);
	pthread_join(t, NULL);
	assert_true(st.n > 0);
	assert_int_equal(srv_restart(s), 0);
	/* every "0" is a payment, whose event reaches the receiver */
	snprintf(path, sizeof(path), "/v1/devices/%s/payments?limit=500", id);
	assert_int_equal(srv_req(s, "GET", path, l.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	items = json_object_get(r.json, "items");
	for (int i = 0; i < st.n; i++) {
		const char *pid = NULL;

		json_array_foreach(items, k, v)
		if (strcmp(json_string_value(json_object_get(v, "reference")),
		           tids[i]) == 0)
			pid = json_string_value(json_object_get(v, "id"));
		if (pid == NULL)
			fail_msg("confirmation %s answered 0 but not recorded "
			         "(%zu payments: %.300s)",
			         tids[i], json_array_size(items), r.body);
		await_delivered(&rc, "payment.recorded", pid, 30);
	}
	srv_res_free(&r);
	srv_free(s);
	receiver_stop(&rc);
}

/* --- the webhook key certified by a production root ------------------------
 */

/* Line n (from 0) of text into out[cap]. */
static void nth_line(const char *text, int n, char *out, size_t cap)
{
	const char *p = text;

	for (int i = 0; i < n && p != NULL; i++)
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	assert_non_null(p);
	snprintf(out, cap, "%.*s", (int)strcspn(p, "\n"), p);
}

static void test_production_root(void **state)
{
	struct devapi_lender l;
	struct receiver rc;
	struct srv *s = NULL;
	struct srv_res r;
	struct proc_result pr;
	char root_sec[256], root_pub[128], root_file[600], wpub[128],
	        sk_pub[128], cert[4096], wcert[4096], line[512], b64[64];
	char imei1[16], imei2[16], id[64], code[64], ep[64];
	uint8_t root[32], pk[32];
	FILE *f;

	(void)state;
	receiver_start(&rc);
	assert_int_equal(start(&s, &l, true), 0);
	assert_int_equal(srv_req(s, "GET", "/v1/webhooks/signing-key", l.admin,
	                         NULL, &r),
	                 0);
	snprintf(wpub, sizeof(wpub), "%s", srv_jstr(&r, "public_key"));
	srv_res_free(&r);
	assert_int_equal(srv_stop(s), 0);

	/* the operator's root, offline */
	assert_int_equal(
	        proc_runl(&pr, NULL, "finlock", "keygen", "--root", NULL), 0);
	assert_int_equal(pr.status, 0);
	nth_line(pr.out, 0, root_sec, sizeof(root_sec));
	nth_line(pr.out, 1, root_pub, sizeof(root_pub));
	proc_result_free(&pr);
	snprintf(root_file, sizeof(root_file), "%s/root.k4secret", rc.dir);
	assert_non_null(f = fopen(root_file, "w"));
	fprintf(f, "%s\n", root_sec);
	fclose(f);
	/* the signing key certified and installed, as docs/deploy.md says */
	assert_int_equal(proc_runl(&pr, NULL, "finlockd", "--data",
	                           srv_data_dir(s), "keys", "list", NULL),
	                 0);
	nth_line(pr.out, 0, line, sizeof(line));
	proc_result_free(&pr);
	snprintf(sk_pub, sizeof(sk_pub), "%.*s",
	         (int)strcspn(strchr(line, '\t') + 1, "\t"),
	         strchr(line, '\t') + 1);
	assert_int_equal(proc_runl(&pr, NULL, "finlock", "key", "certify",
	                           "--root-file", root_file, "--key", sk_pub,
	                           "--not-after", "2035-01-01T00:00:00Z",
	                           NULL),
	                 0);
	assert_int_equal(pr.status, 0);
	nth_line(pr.out, 0, cert, sizeof(cert));
	proc_result_free(&pr);
	assert_int_equal(proc_runl(&pr, NULL, "finlockd", "--data",
	                           srv_data_dir(s), "keys", "accept-cert", cert,
	                           "--root", root_pub, NULL),
	                 0);
	assert_int_equal(pr.status, 0);
	proc_result_free(&pr);
	/* a signing key's certificate names no webhook key: the webhook
	 * key needs its own kind */
	assert_int_equal(proc_runl(&pr, NULL, "finlock", "key", "certify",
	                           "--root-file", root_file, "--key", wpub,
	                           "--not-after", "2035-01-01T00:00:00Z",
	                           NULL),
	                 0);
	nth_line(pr.out, 0, wcert, sizeof(wcert));
	proc_result_free(&pr);
	assert_int_equal(proc_runl(&pr, NULL, "finlockd", "--data",
	                           srv_data_dir(s), "keys", "accept-cert",
	                           wcert, NULL),
	                 0);
	assert_int_not_equal(pr.status, 0);
	proc_result_free(&pr);
	assert_int_equal(proc_runl(&pr, NULL, "finlock", "key", "certify",
	                           "--root-file", root_file, "--key", wpub,
	                           "--not-after", "2035-01-01T00:00:00Z",
	                           "--webhook", NULL),
	                 0);
	assert_int_equal(pr.status, 0);
	nth_line(pr.out, 0, wcert, sizeof(wcert));
	proc_result_free(&pr);
	assert_int_equal(proc_runl(&pr, NULL, "finlockd", "--data",
	                           srv_data_dir(s), "keys", "accept-cert",
	                           wcert, NULL),
	                 0);
	if (pr.status != 0)
		fprintf(stderr, "%s", pr.err);
	assert_int_equal(pr.status, 0);
	proc_result_free(&pr);

	/* served as the key's certificate, under the production root */
	assert_int_equal(srv_restart(s), 0);
	assert_int_equal(srv_req(s, "GET", "/v1/webhooks/signing-key", l.admin,
	                         NULL, &r),
	                 0);
	assert_string_equal(srv_jstr(&r, "certificate"), wcert);
	assert_string_equal(srv_jstr(&r, "root"), root_pub);
	srv_res_free(&r);
	/* the receiver trusts only what the root certified */
	assert_int_equal(
	        fl_paserk_public_decode(root, root_pub, strlen(root_pub)),
	        FL_OK);
	assert_int_equal(fl_webhook_keycert_verify(root, wcert,
	                                           (fl_time)time(NULL), pk),
	                 FL_OK);
	subscribe(s, &l, &rc, ep);
	assert_int_equal(fl_b64_encode(b64, sizeof(b64), pk, sizeof(pk)),
	                 FL_OK);
	put_file(&rc, "pubkey", b64);
	overdue_device(s, &l, imei1, imei2, id, code);
	assert_int_equal(devapi_pay(s, &l, id, 1000), 0);
	await_delivered(&rc, "payment.recorded", NULL, 30);
	srv_free(s);
	receiver_stop(&rc);
}

/* --- rotating an endpoint's secret ----------------------------------------
 */

static void rotate(struct srv *s, const struct devapi_lender *l,
                   const char *ep, char secret[128], bool overlap)
{
	struct srv_res r;
	char path[128];

	snprintf(path, sizeof(path), "/v1/webhooks/%s/rotate", ep);
	assert_int_equal(srv_req(s, "POST", path, l->admin, "{}", &r), 0);
	assert_int_equal(r.status, 200);
	snprintf(secret, 128, "%s", srv_jstr(&r, "secret"));
	assert_int_equal(json_is_string(json_object_get(
	                         r.json, "previous_secret_until")),
	                 overlap);
	srv_res_free(&r);
}

/* The payment.recorded request of payment pid the receiver logged:
 * whether v1 verified (waits until it came). */
static bool v1_of(const struct receiver *rc, const char *pid)
{
	for (int i = 0; i < 1500; i++) {
		json_t *all = received(rc), *v;
		size_t k;
		int found = -1;

		json_array_foreach(all, k, v)
		if (strcmp(json_string_value(json_object_get(v, "ref")), pid) ==
		    0)
			found = json_is_true(json_object_get(v, "v1"));
		json_decref(all);
		if (found >= 0)
			return found == 1;
		sleep_ms(20);
	}
	fail_msg("no request for payment %s", pid);
	return false;
}

static void test_rotation_overlap(void **state)
{
	static const char *const no_overlap[] = {
	        "--webhook-allow-private", "true", "--webhook-retry-ms", "100",
	        "--webhook-secret-overlap", "0", NULL};
	struct devapi_lender l;
	struct receiver rc;
	struct srv *s = NULL;
	char imei1[16], imei2[16], id[64], code[64], ep[64], old[128],
	        fresh[128], ids[1][64];

	(void)state;
	receiver_start(&rc);
	assert_int_equal(start(&s, &l, true), 0);
	subscribe(s, &l, &rc, ep); /* the receiver holds the first secret */
	overdue_device(s, &l, imei1, imei2, id, code);
	rotate(s, &l, ep, fresh, true);
	/* the old secret still verifies, and then the new one */
	assert_int_equal(pay_many(s, &l, id, 1, ids), 1);
	await_delivered(&rc, "payment.recorded", ids[0], 30);
	put_file(&rc, "secret", fresh);
	assert_int_equal(pay_many(s, &l, id, 1, ids), 1);
	await_delivered(&rc, "payment.recorded", ids[0], 30);
	srv_free(s);
	receiver_stop(&rc);

	/* no overlap: the replaced secret verifies nothing */
	receiver_start(&rc);
	assert_int_equal(devapi_start(&s, &l, no_overlap), 0);
	subscribe(s, &l, &rc, ep);
	overdue_device(s, &l, imei1, imei2, id, code);
	rotate(s, &l, ep, fresh, false);
	snprintf(old, sizeof(old), "%s", fresh);
	rotate(s, &l, ep, fresh, false);
	put_file(&rc, "secret", old);
	put_file(&rc, "status", "503"); /* kept until the right secret */
	assert_int_equal(pay_many(s, &l, id, 1, ids), 1);
	assert_false(v1_of(&rc, ids[0]));
	srv_free(s);
	receiver_stop(&rc);
}

static void test_private_refused(void **state)
{
	struct devapi_lender l;
	struct receiver rc;
	struct srv *s = NULL;
	char imei1[16], imei2[16], id[64], code[64], ep[64], path[128];
	bool refused = false;
	json_t *all;

	(void)state;
	receiver_start(&rc);
	assert_int_equal(start(&s, &l, false), 0);
	subscribe(s, &l, &rc, ep);
	overdue_device(s, &l, imei1, imei2, id, code);
	assert_int_equal(devapi_pay(s, &l, id, 1000), 0);
	snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries", ep);
	for (int i = 0; i < 500 && !refused; i++) {
		struct srv_res r;
		json_t *items, *v;
		size_t k;

		assert_int_equal(srv_req(s, "GET", path, l.admin, NULL, &r), 0);
		assert_int_equal(r.status, 200);
		items = json_object_get(r.json, "items");
		json_array_foreach(items, k, v)
		{
			const char *e = json_string_value(
			        json_object_get(v, "last_error"));

			if (e != NULL &&
			    strstr(e, "refused to connect to 127.0.0.1") != NULL)
				refused = true;
		}
		srv_res_free(&r);
		if (!refused)
			sleep_ms(20);
	}
	assert_true(refused);
	all = received(&rc);
	assert_int_equal(json_array_size(all), 0);
	json_decref(all);
	srv_free(s);
	receiver_stop(&rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_journey),
	        cmocka_unit_test(test_receiver_down_then_up),
	        cmocka_unit_test(test_kill9_storm),
	        cmocka_unit_test(test_kill9_daraja_storm),
	        cmocka_unit_test(test_production_root),
	        cmocka_unit_test(test_rotation_overlap),
	        cmocka_unit_test(test_private_refused),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
