/*
 * Payment sources against a real finlockd: a Daraja C2B source and a
 * Standard Webhooks signed source created by a lender, callbacks posted
 * as Safaricom (or a signing provider) posts them. A confirmation records
 * one payment per TransID (sent again, or twenty times at once, it is
 * still one), a locked phone waiting on its long-poll is unlocked within
 * a second, a payment for no contract is kept as unmatched and assigned
 * by an admin, a payment that pays the contract off waits for the
 * lender's confirmation before it releases the phone. Bad input on every
 * route is refused and changes nothing; a wrong URL secret, a refused
 * address or a disabled source is the same 404 as a source that does not
 * exist, and the URL secret never appears in the server's log.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <sodium.h>

#include "finlock/agent.h"
#include "support/cli_run.h"
#include "support/devapi_phone.h"
#include "support/server_harness.h"

static struct srv *S;
static struct devapi_lender L;
static unsigned next_imei = 700;
static unsigned next_ref = 1;

static int setup(void **state)
{
	static const char *const args[] = {"--wait-timeout", "20",
	                                   "--sweep-interval-ms", "100", NULL};
	struct srv_opts o = {.args = args, .clock = (long long)time(NULL)};

	(void)state;
	return devapi_start_opts(&S, &L, &o);
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

/* --- helpers -------------------------------------------------------------- */

/* A source created by the lender; its URL paths (from the answer). */
struct source {
	char id[64];
	char validation[256];   /* path of validation_url */
	char confirmation[256]; /* path of confirmation_url */
	char callback[256];     /* signed: path of callback_url */
	char secret[128];       /* signed: whsec_... */
	char url_secret[64];    /* the secret segment of the paths */
};

/* The path of an absolute URL. */
static void path_of(const char *url, char *out, size_t cap)
{
	const char *p = strstr(url, "://");

	p = p != NULL ? strchr(p + 3, '/') : url;
	snprintf(out, cap, "%s", p != NULL ? p : "");
}

static void make_source(const char *body, struct source *src)
{
	struct srv_res r;
	json_t *s;
	const char *p;

	memset(src, 0, sizeof(*src));
	assert_int_equal(
	        srv_req(S, "POST", "/v1/payment-sources", L.admin, body, &r),
	        0);
	assert_int_equal(r.status, 201);
	s = json_object_get(r.json, "source");
	assert_non_null(s);
	snprintf(src->id, sizeof(src->id), "%s",
	         json_string_value(json_object_get(s, "id")));
	path_of(srv_jstr(&r, "validation_url"), src->validation,
	        sizeof(src->validation));
	path_of(srv_jstr(&r, "confirmation_url"), src->confirmation,
	        sizeof(src->confirmation));
	path_of(srv_jstr(&r, "callback_url"), src->callback,
	        sizeof(src->callback));
	snprintf(src->secret, sizeof(src->secret), "%s",
	         srv_jstr(&r, "secret"));
	p = src->confirmation[0] ? src->confirmation : src->callback;
	/* /v1/callbacks/<id>/<secret>/... */
	p = strchr(p + strlen("/v1/callbacks/"), '/') + 1;
	snprintf(src->url_secret, sizeof(src->url_secret), "%.*s",
	         (int)(strchr(p, '/') - p), p);
	assert_int_equal(strlen(src->url_secret), 43);
	srv_res_free(&r);
}

static void c2b_source(const char *shortcode, struct source *src)
{
	char body[256];

	snprintf(body, sizeof(body),
	         "{\"kind\":\"mpesa_c2b\",\"shortcode\":\"%s\","
	         "\"allowed_networks\":[\"127.0.0.0/8\"]}",
	         shortcode);
	make_source(body, src);
}

/* A registered device with a contract of loan_ref: installments of
 * 150000 (KES minor units), the first due long ago when overdue (the
 * phone is locked), else in 2035; two installments unless one. */
static void device_with(const char *loan_ref, bool overdue, bool one,
                        char id[64], char code[64], char imei[16])
{
	char imei2[16], path[128], body[512];
	struct srv_res r;

	devapi_imei(next_imei++, imei);
	devapi_imei(next_imei++, imei2);
	assert_int_equal(devapi_register(S, &L, imei, imei2, id, code), 0);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", id);
	snprintf(body, sizeof(body),
	         "{\"loan_ref\":\"%s\",\"currency\":\"KES\","
	         "\"allow_overdue\":true,\"schedule\":[{\"due\":\"%s\","
	         "\"amount\":150000}%s],\"grace\":0,\"policy\":{\"contact\":"
	         "{\"name\":\"Acme\",\"phones\":[\"+254700000001\"]}}}",
	         loan_ref, overdue ? "2025-01-01" : "2035-01-01",
	         one ? "" : ",{\"due\":\"2036-01-01\",\"amount\":150000}");
	assert_int_equal(srv_req(S, "POST", path, L.admin, body, &r), 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
}

static void new_transid(char out[16])
{
	snprintf(out, 16, "QK%08uX", next_ref++);
}

/* A Daraja C2B body. */
static void c2b_body(char *out, size_t cap, const char *trans_id,
                     const char *amount, const char *shortcode,
                     const char *account)
{
	snprintf(out, cap,
	         "{\"TransactionType\":\"Pay Bill\",\"TransID\":\"%s\","
	         "\"TransTime\":\"20260101120000\",\"TransAmount\":\"%s\","
	         "\"BusinessShortCode\":\"%s\",\"BillRefNumber\":\"%s\","
	         "\"InvoiceNumber\":\"\",\"OrgAccountBalance\":\"49197.00\","
	         "\"ThirdPartyTransID\":\"\",\"MSISDN\":"
	         "\"2547 ***** 126\",\"FirstName\":\"John\","
	         "\"MiddleName\":\"\",\"LastName\":\"Doe\"}",
	         trans_id, amount, shortcode, account);
}

static long post(const char *path, const char *body, struct srv_res *r)
{
	assert_int_equal(srv_req(S, "POST", path, NULL, body, r), 0);
	return r->status;
}

static int count_items(const char *path)
{
	struct srv_res r;
	int n;

	assert_int_equal(srv_req(S, "GET", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	n = (int)json_array_size(json_object_get(r.json, "items"));
	srv_res_free(&r);
	return n;
}

static int payments_of(const char *id)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/devices/%s/payments", id);
	return count_items(path);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* --- tests ---------------------------------------------------------------- */

static void test_create_list_show(void **state)
{
	struct source src;
	struct srv_res r;
	char path[128], clerk[64];

	(void)state;
	c2b_source("600100", &src);
	assert_true(strncmp(src.validation, "/v1/callbacks/", 14) == 0);
	assert_non_null(strstr(src.confirmation, "/confirmation"));
	assert_true(count_items("/v1/payment-sources") >= 1);
	snprintf(path, sizeof(path), "/v1/payment-sources/%s", src.id);
	assert_int_equal(srv_req(S, "GET", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(srv_jstr(&r, "kind"), "mpesa_c2b");
	assert_string_equal(srv_jstr(&r, "health"), "healthy");
	/* the secret is shown once, never again */
	assert_null(strstr(r.body, src.url_secret));
	srv_res_free(&r);

	/* an mpesa_c2b source defaults to Safaricom's addresses */
	assert_int_equal(srv_req(S, "POST", "/v1/payment-sources", L.admin,
	                         "{\"kind\":\"mpesa_c2b\",\"shortcode\":"
	                         "\"600101\"}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 201);
	assert_non_null(strstr(r.body, "196.201.214.200/32"));
	srv_res_free(&r);

	/* bad input: nothing is created */
	{
		static const char *const bad[] = {
		        "{\"kind\":\"paypal\"}",
		        "{\"kind\":\"mpesa_c2b\"}",
		        "{\"kind\":\"mpesa_c2b\",\"shortcode\":\"60 01\"}",
		        "{\"kind\":\"signed\"}",
		        "{\"kind\":\"signed\",\"allowed_networks\":[\"10.0.0.0/"
		        "33\"]}",
		        "{\"kind\":\"signed\",\"allowed_networks\":[\"nope\"]}",
		        "{\"kind\":\"signed\",\"allowed_networks\":[]}",
		        "{\"kind\":\"mpesa_c2b\",\"shortcode\":\"6\","
		        "\"max_silence\":5}",
		        "{\"kind\":\"mpesa_c2b\",\"shortcode\":\"6\","
		        "\"currency\":\"kes\"}",
		        "{\"kind\":\"mpesa_c2b\",\"shortcode\":\"6\","
		        "\"color\":\"red\"}",
		        "{\"kind\":",
		        NULL};
		int before = count_items("/v1/payment-sources?limit=500");

		for (int i = 0; bad[i] != NULL; i++) {
			assert_int_equal(srv_req(S, "POST",
			                         "/v1/payment-sources", L.admin,
			                         bad[i], &r),
			                 0);
			if (r.status != 400)
				fail_msg("%s: %ld", bad[i], r.status);
			srv_res_free(&r);
		}
		assert_int_equal(count_items("/v1/payment-sources?limit=500"),
		                 before);
	}
	/* a clerk may not */
	assert_int_equal(srv_key(S, L.admin, "clerk", clerk), 0);
	assert_int_equal(srv_req(S, "POST", "/v1/payment-sources", clerk,
	                         "{\"kind\":\"mpesa_c2b\",\"shortcode\":\"1\"}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 403);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/payment-sources/ps_nosuch");
	assert_int_equal(srv_req(S, "GET", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 404);
	srv_res_free(&r);
}

static void test_confirmation_once_per_transid(void **state)
{
	char id[64], code[64], imei[16], tid[16], body[1024];
	struct source src;
	struct srv_res r;

	(void)state;
	c2b_source("600200", &src);
	device_with("LN-A 100", false, false, id, code, imei);

	/* validation: known account (any case, any spaces), unknown one */
	new_transid(tid);
	c2b_body(body, sizeof(body), tid, "1500.00", "600200", " ln-a100 ");
	assert_int_equal(post(src.validation, body, &r), 200);
	assert_string_equal(srv_jstr(&r, "ResultCode"), "0");
	assert_string_equal(srv_jstr(&r, "ResultDesc"), "Accepted");
	srv_res_free(&r);
	c2b_body(body, sizeof(body), tid, "1500.00", "600200", "LN-B");
	assert_int_equal(post(src.validation, body, &r), 200);
	assert_string_equal(srv_jstr(&r, "ResultCode"), "C2B00012");
	srv_res_free(&r);
	assert_int_equal(payments_of(id), 0);

	/* confirmation: one payment, the TransID its reference */
	c2b_body(body, sizeof(body), tid, "1500.00", "600200", "ln-a 100");
	assert_int_equal(post(src.confirmation, body, &r), 200);
	assert_string_equal(srv_jstr(&r, "ResultCode"), "0");
	assert_string_equal(srv_jstr(&r, "ResultDesc"), "Accepted");
	srv_res_free(&r);
	assert_int_equal(payments_of(id), 1);
	{
		char path[128];

		snprintf(path, sizeof(path), "/v1/devices/%s/payments", id);
		assert_int_equal(srv_req(S, "GET", path, L.admin, NULL, &r), 0);
		assert_non_null(strstr(r.body, tid));
		assert_non_null(strstr(r.body, "150000"));
		srv_res_free(&r);
	}
	/* sent again: the same answer, still one payment */
	assert_int_equal(post(src.confirmation, body, &r), 200);
	assert_string_equal(srv_jstr(&r, "ResultCode"), "0");
	srv_res_free(&r);
	assert_int_equal(payments_of(id), 1);
	/* the IMEI names the device too */
	new_transid(tid);
	c2b_body(body, sizeof(body), tid, "10", "600200", imei);
	assert_int_equal(post(src.confirmation, body, &r), 200);
	srv_res_free(&r);
	assert_int_equal(payments_of(id), 2);

	/* the same TransID for other money: unmatched, not a payment */
	{
		int before = count_items("/v1/payments/unmatched?limit=500");

		c2b_body(body, sizeof(body), tid, "99.00", "600200",
		         "ln-a 100");
		assert_int_equal(post(src.confirmation, body, &r), 200);
		assert_string_equal(srv_jstr(&r, "ResultCode"), "0");
		srv_res_free(&r);
		assert_int_equal(payments_of(id), 2);
		assert_int_equal(
		        count_items("/v1/payments/unmatched?limit=500"),
		        before + 1);
		/* sent again: answered as the first, kept once */
		assert_int_equal(post(src.confirmation, body, &r), 200);
		assert_string_equal(srv_jstr(&r, "ResultCode"), "0");
		srv_res_free(&r);
		assert_int_equal(
		        count_items("/v1/payments/unmatched?limit=500"),
		        before + 1);
		/* yet other money under it: kept too */
		c2b_body(body, sizeof(body), tid, "98.00", "600200",
		         "ln-a 100");
		assert_int_equal(post(src.confirmation, body, &r), 200);
		srv_res_free(&r);
		assert_int_equal(
		        count_items("/v1/payments/unmatched?limit=500"),
		        before + 2);
		assert_int_equal(payments_of(id), 2);
	}
	/* the source's last callback is known */
	{
		char path[128];

		snprintf(path, sizeof(path), "/v1/payment-sources/%s", src.id);
		assert_int_equal(srv_req(S, "GET", path, L.admin, NULL, &r), 0);
		assert_true(json_is_string(
		        json_object_get(r.json, "last_callback_at")));
		srv_res_free(&r);
	}
}

static void test_bad_input_changes_nothing(void **state)
{
	static const char *const amounts[] = {
	        "1,500.00", "-5",  "1e9", "0", "0.00", "15.001",
	        " 15",      "15.", ".5",  "",  "abc",  NULL};
	char id[64], code[64], imei[16], tid[16], body[1024], path[512];
	struct source src, other;
	struct srv_res r, ref404;
	FILE *log;

	(void)state;
	c2b_source("600300", &src);
	device_with("LN-C", false, false, id, code, imei);
	new_transid(tid);

	for (int i = 0; amounts[i] != NULL; i++) {
		c2b_body(body, sizeof(body), tid, amounts[i], "600300", "LN-C");
		assert_int_equal(post(src.validation, body, &r), 200);
		if (strcmp(srv_jstr(&r, "ResultCode"), "C2B00013") != 0)
			fail_msg("validation of '%s': %s", amounts[i], r.body);
		srv_res_free(&r);
		assert_int_equal(post(src.confirmation, body, &r), 400);
		assert_string_equal(srv_err_code(&r), "money");
		srv_res_free(&r);
	}
	/* malformed Daraja JSON */
	{
		static const char *const bad[] = {
		        "{",
		        "[]",
		        "not json",
		        "{\"TransID\":\"X1\",\"TransTime\":\"20260101120000\","
		        "\"TransAmount\":\"10\",\"BusinessShortCode\":"
		        "\"600300\"}",
		        "{\"TransID\":\"X1\",\"TransTime\":\"2026-01-01\","
		        "\"TransAmount\":\"10\",\"BusinessShortCode\":"
		        "\"600300\","
		        "\"BillRefNumber\":\"LN-C\"}",
		        "{\"TransID\":\"X1\",\"TransTime\":\"20260231120000\","
		        "\"TransAmount\":\"10\",\"BusinessShortCode\":"
		        "\"600300\","
		        "\"BillRefNumber\":\"LN-C\"}",
		        "{\"TransID\":7,\"TransTime\":\"20260101120000\","
		        "\"TransAmount\":\"10\",\"BusinessShortCode\":"
		        "\"600300\","
		        "\"BillRefNumber\":\"LN-C\"}",
		        "{\"TransTime\":\"20260101120000\","
		        "\"TransAmount\":\"10\",\"BusinessShortCode\":"
		        "\"600300\","
		        "\"BillRefNumber\":\"LN-C\"}",
		        NULL};

		for (int i = 0; bad[i] != NULL; i++) {
			assert_int_equal(post(src.confirmation, bad[i], &r),
			                 400);
			srv_res_free(&r);
		}
	}
	/* a shortcode that is not the source's */
	c2b_body(body, sizeof(body), tid, "10", "999999", "LN-C");
	assert_int_equal(post(src.validation, body, &r), 200);
	assert_string_equal(srv_jstr(&r, "ResultCode"), "C2B00015");
	srv_res_free(&r);
	assert_int_equal(post(src.confirmation, body, &r), 400);
	srv_res_free(&r);

	/* wrong secret, no such source, refused address, disabled: the
	 * same 404 */
	c2b_body(body, sizeof(body), tid, "10", "600300", "LN-C");
	snprintf(path, sizeof(path),
	         "/v1/callbacks/ps_AAAAAAAAAAAAAAAAAAAAAA/%s/confirmation",
	         src.url_secret);
	assert_int_equal(post(path, body, &ref404), 404);
	snprintf(path, sizeof(path), "/v1/callbacks/%s/%s/confirmation", src.id,
	         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(post(path, body, &r), 404);
	assert_string_equal(r.body, ref404.body);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/callbacks/%s/%s/payments", src.id,
	         src.url_secret);
	assert_int_equal(post(path, body, &r), 404); /* wrong kind */
	assert_string_equal(r.body, ref404.body);
	srv_res_free(&r);
	make_source("{\"kind\":\"mpesa_c2b\",\"shortcode\":\"600300\","
	            "\"allowed_networks\":[\"10.0.0.0/8\"]}",
	            &other);
	assert_int_equal(post(other.confirmation, body, &r), 404);
	assert_string_equal(r.body, ref404.body);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/payment-sources/%s/disable", src.id);
	assert_int_equal(srv_req(S, "POST", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(srv_jstr(&r, "health"), "disabled");
	srv_res_free(&r);
	assert_int_equal(post(src.confirmation, body, &r), 404);
	assert_string_equal(r.body, ref404.body);
	srv_res_free(&r);
	srv_res_free(&ref404);
	assert_int_equal(payments_of(id), 0);

	/* the URL secret never reaches the log */
	{
		char line[8192];
		bool redacted = false;

		sleep_ms(100);
		log = fopen(srv_log_path(S), "r");
		assert_non_null(log);
		while (fgets(line, sizeof(line), log) != NULL) {
			if (strstr(line, src.url_secret) != NULL ||
			    strstr(line, other.url_secret) != NULL)
				fail_msg("secret in the log: %s", line);
			if (strstr(line, "REDACTED") != NULL)
				redacted = true;
		}
		fclose(log);
		assert_true(redacted);
	}
}

static void test_rotate(void **state)
{
	char id[64], code[64], imei[16], tid[16], body[1024], path[256];
	struct source src;
	struct srv_res r;

	(void)state;
	c2b_source("600400", &src);
	device_with("LN-D", false, false, id, code, imei);
	snprintf(path, sizeof(path), "/v1/payment-sources/%s/rotate", src.id);
	assert_int_equal(srv_req(S, "POST", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_null(strstr(srv_jstr(&r, "confirmation_url"), src.url_secret));
	{
		char fresh[256];

		path_of(srv_jstr(&r, "confirmation_url"), fresh, sizeof(fresh));
		srv_res_free(&r);
		new_transid(tid);
		c2b_body(body, sizeof(body), tid, "10", "600400", "LN-D");
		assert_int_equal(post(src.confirmation, body, &r), 404);
		srv_res_free(&r);
		assert_int_equal(post(fresh, body, &r), 200);
		srv_res_free(&r);
	}
	assert_int_equal(payments_of(id), 1);
}

/* --- twenty at once ------------------------------------------------------- */

struct poster {
	const char *url;
	const char *body;
	long status;
	pthread_t t;
};

static size_t discard(char *p, size_t sz, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return sz * n;
}

static void *post_main(void *arg)
{
	struct poster *p = arg;
	struct curl_slist *h =
	        curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();

	curl_easy_setopt(c, CURLOPT_URL, p->url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, p->body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &p->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return NULL;
}

static void test_twenty_at_once(void **state)
{
	char id[64], code[64], imei[16], tid[16], body[1024], url[512];
	struct poster p[20];
	struct source src;

	(void)state;
	c2b_source("600500", &src);
	device_with("LN-E", false, false, id, code, imei);
	new_transid(tid);
	c2b_body(body, sizeof(body), tid, "500.00", "600500", "LN-E");
	snprintf(url, sizeof(url), "%s%s", srv_url(S), src.confirmation);
	for (int i = 0; i < 20; i++) {
		p[i] = (struct poster){.url = url, .body = body};
		assert_int_equal(
		        pthread_create(&p[i].t, NULL, post_main, &p[i]), 0);
	}
	for (int i = 0; i < 20; i++) {
		assert_int_equal(pthread_join(p[i].t, NULL), 0);
		assert_int_equal(p[i].status, 200);
	}
	assert_int_equal(payments_of(id), 1);

	/* the same TransID for other money, twenty times at once: one
	 * unmatched payment */
	{
		int before = count_items("/v1/payments/unmatched?limit=500");

		c2b_body(body, sizeof(body), tid, "7.00", "600500", "LN-E");
		for (int i = 0; i < 20; i++) {
			p[i] = (struct poster){.url = url, .body = body};
			assert_int_equal(pthread_create(&p[i].t, NULL,
			                                post_main, &p[i]),
			                 0);
		}
		for (int i = 0; i < 20; i++) {
			assert_int_equal(pthread_join(p[i].t, NULL), 0);
			assert_int_equal(p[i].status, 200);
		}
		assert_int_equal(
		        count_items("/v1/payments/unmatched?limit=500"),
		        before + 1);
		assert_int_equal(payments_of(id), 1);
	}
}

/* --- a locked phone unlocked by a confirmation -----------------------------
 */

struct waiter {
	struct devapi_phone *p;
	fl_err err;
	pthread_t t;
};

static void *wait_main(void *arg)
{
	struct waiter *w = arg;

	devapi_phone_tick(w->p);
	w->err = fl_agent_wait(w->p->a, 15);
	return NULL;
}

static void test_confirmation_unlocks_phone(void **state)
{
	char id[64], code[64], imei[16], imei2[16], tid[16], body[1024];
	struct fl_agent_screen sc;
	struct devapi_phone ph;
	struct source src;
	struct srv_res r;
	struct waiter w = {0};
	int64_t t0, ms;

	(void)state;
	c2b_source("600600", &src);
	device_with("LN-F", true, false, id, code, imei);
	/* the second IMEI devapi_register got: the next one */
	devapi_imei(next_imei - 1, imei2);
	assert_int_equal(devapi_phone_open(&ph, S, &L, imei, imei2), 0);
	assert_int_equal(fl_agent_setup(ph.a), FL_OK);
	assert_int_equal(fl_agent_enroll(ph.a, code), FL_OK);
	fl_agent_screen(ph.a, &sc);
	assert_true(sc.locked);

	w.p = &ph;
	assert_int_equal(pthread_create(&w.t, NULL, wait_main, &w), 0);
	sleep_ms(300);
	new_transid(tid);
	c2b_body(body, sizeof(body), tid, "1500.00", "600600", "LN-F");
	t0 = devapi_ms();
	assert_int_equal(post(src.confirmation, body, &r), 200);
	assert_string_equal(srv_jstr(&r, "ResultCode"), "0");
	srv_res_free(&r);
	assert_int_equal(pthread_join(w.t, NULL), 0);
	ms = devapi_ms() - t0;
	assert_int_equal(w.err, FL_OK);
	devapi_phone_tick(&ph);
	assert_int_equal(fl_agent_tick(ph.a), FL_OK);
	fl_agent_screen(ph.a, &sc);
	assert_false(sc.locked);
	if (ms >= 1000)
		fail_msg("unlocked %lld ms after the confirmation",
		         (long long)ms);
	devapi_phone_close(&ph);
}

/* --- unmatched payments ----------------------------------------------------
 */

static void test_unmatched_assigned(void **state)
{
	char id[64], code[64], imei[16], tid[16], body[1024], path[256], um[64],
	        pay[64];
	struct source src;
	struct srv_res r;
	json_t *items;
	size_t n;

	(void)state;
	c2b_source("600700", &src);
	device_with("LN-G", false, false, id, code, imei);
	new_transid(tid);
	c2b_body(body, sizeof(body), tid, "250.00", "600700", "LN-TYPO");
	assert_int_equal(post(src.confirmation, body, &r), 200);
	assert_string_equal(srv_jstr(&r, "ResultCode"), "0");
	srv_res_free(&r);
	assert_int_equal(payments_of(id), 0);

	assert_int_equal(srv_req(S, "GET", "/v1/payments/unmatched?limit=500",
	                         L.admin, NULL, &r),
	                 0);
	assert_int_equal(r.status, 200);
	items = json_object_get(r.json, "items");
	n = json_array_size(items);
	assert_true(n >= 1);
	{
		json_t *last = json_array_get(items, n - 1);

		assert_string_equal(
		        json_string_value(json_object_get(last, "reference")),
		        tid);
		assert_int_equal(
		        json_integer_value(json_object_get(last, "amount")),
		        25000);
		snprintf(um, sizeof(um), "%s",
		         json_string_value(json_object_get(last, "id")));
	}
	srv_res_free(&r);

	/* bad input: no device, unknown field, no such unmatched payment */
	snprintf(path, sizeof(path), "/v1/payments/unmatched/%s/assign", um);
	assert_int_equal(srv_req(S, "POST", path, L.admin, "{}", &r), 0);
	assert_int_equal(r.status, 400);
	srv_res_free(&r);
	assert_int_equal(srv_req(S, "POST", path, L.admin,
	                         "{\"device_id\":\"dv_nosuch\"}", &r),
	                 0);
	assert_int_equal(r.status, 404);
	srv_res_free(&r);
	assert_int_equal(srv_req(S, "POST",
	                         "/v1/payments/unmatched/um_x/assign", L.admin,
	                         "{\"device_id\":\"dv_x\"}", &r),
	                 0);
	assert_int_equal(r.status, 404);
	srv_res_free(&r);
	assert_int_equal(payments_of(id), 0);

	snprintf(body, sizeof(body), "{\"device_id\":\"%s\"}", id);
	assert_int_equal(srv_req(S, "POST", path, L.admin, body, &r), 0);
	assert_int_equal(r.status, 201);
	snprintf(pay, sizeof(pay), "%s",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "payment"), "id")));
	srv_res_free(&r);
	assert_int_equal(payments_of(id), 1);
	/* once */
	assert_int_equal(srv_req(S, "POST", path, L.admin, body, &r), 0);
	assert_int_equal(r.status, 409);
	srv_res_free(&r);
	/* reversible like any payment */
	snprintf(path, sizeof(path), "/v1/payments/%s/reverse", pay);
	assert_int_equal(srv_req(S, "POST", path, L.admin,
	                         "{\"reason\":\"assigned to the wrong "
	                         "device\"}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	/* audited */
	assert_int_equal(
	        srv_req(S, "GET", "/v1/audit?limit=500", L.admin, NULL, &r), 0);
	assert_non_null(strstr(r.body, "payment.unmatched_assign"));
	srv_res_free(&r);
}

/* --- release waits for the lender ------------------------------------------
 */

static void test_release_pending(void **state)
{
	char id[64], code[64], imei[16], tid[16], body[1024], path[256];
	struct source src;
	struct srv_res r;

	(void)state;
	c2b_source("600800", &src);
	device_with("LN-H", true, true, id, code, imei);
	new_transid(tid);
	/* more than the contract: recorded whole, the excess as credit */
	c2b_body(body, sizeof(body), tid, "2000.00", "600800", "LN-H");
	assert_int_equal(post(src.confirmation, body, &r), 200);
	assert_string_equal(srv_jstr(&r, "ResultCode"), "0");
	srv_res_free(&r);
	assert_int_equal(devapi_show(S, &L, id, &r), 0);
	assert_string_not_equal(srv_jstr(&r, "state"), "released");
	assert_string_not_equal(srv_jstr(&r, "state"), "locked");
	assert_true(json_is_true(json_object_get(r.json, "release_pending")));
	srv_res_free(&r);

	snprintf(path, sizeof(path), "/v1/devices/%s/release/confirm", id);
	assert_int_equal(srv_req(S, "POST", path, L.admin, "{\"x\":1}", &r), 0);
	assert_int_equal(r.status, 400);
	srv_res_free(&r);
	assert_int_equal(srv_req(S, "POST", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	assert_int_equal(devapi_show(S, &L, id, &r), 0);
	assert_string_equal(srv_jstr(&r, "state"), "released");
	assert_false(json_is_true(json_object_get(r.json, "release_pending")));
	srv_res_free(&r);
	/* nothing left to confirm */
	assert_int_equal(srv_req(S, "POST", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 409);
	srv_res_free(&r);
}

/* --- signed sources --------------------------------------------------------
 */

/* Standard Webhooks v1 for id.ts.body under secret (whsec_<base64>),
 * computed here with libsodium alone. */
static void sign(const char *secret, const char *msg_id, long long ts,
                 const char *body, char out[128])
{
	unsigned char key[64], mac[32];
	size_t klen = 0;
	char *buf;
	size_t n = strlen(msg_id) + strlen(body) + 64;
	crypto_auth_hmacsha256_state st;

	assert_int_equal(sodium_base642bin(key, sizeof(key), secret + 6,
	                                   strlen(secret + 6), NULL, &klen,
	                                   NULL,
	                                   sodium_base64_VARIANT_ORIGINAL),
	                 0);
	buf = malloc(n);
	snprintf(buf, n, "%s.%lld.%s", msg_id, ts, body);
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, (unsigned char *)buf, strlen(buf));
	crypto_auth_hmacsha256_final(&st, mac);
	free(buf);
	memcpy(out, "v1,", 3);
	sodium_bin2base64(out + 3, 125, mac, sizeof(mac),
	                  sodium_base64_VARIANT_ORIGINAL);
}

static long post_signed(const struct source *src, const char *msg_id,
                        long long ts, const char *sig, const char *body,
                        struct srv_res *r)
{
	char h1[160], h2[160], h3[200];
	const char *const hdrs[] = {h1, h2, h3,
	                            "Content-Type: application/json", NULL};

	snprintf(h1, sizeof(h1), "webhook-id: %s", msg_id);
	snprintf(h2, sizeof(h2), "webhook-timestamp: %lld", ts);
	snprintf(h3, sizeof(h3), "webhook-signature: %s", sig);
	assert_int_equal(srv_reqx(S, "POST", src->callback, NULL, hdrs, body,
	                          strlen(body), r),
	                 0);
	return r->status;
}

static void test_signed_source(void **state)
{
	char id[64], code[64], imei[16], body[512], sig[128], sig2[128];
	struct source src;
	struct srv_res r;
	long long now = srv_clock(S);
	char when[32];
	time_t t = (time_t)now;
	struct tm tm;

	(void)state;
	make_source("{\"kind\":\"signed\",\"currency\":\"KES\","
	            "\"allowed_networks\":[\"127.0.0.0/8\"]}",
	            &src);
	assert_true(strncmp(src.secret, "whsec_", 6) == 0);
	device_with("LN-S", false, false, id, code, imei);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(body, sizeof(body),
	         "{\"id\":\"agg-1\",\"account\":\"ln-s\",\"amount\":70000,"
	         "\"currency\":\"KES\",\"paid_at\":\"%s\"}",
	         when);

	sign(src.secret, "msg_1", now, body, sig);
	/* a bad signature, an old timestamp: refused */
	snprintf(sig2, sizeof(sig2), "%s", sig);
	sig2[5] = sig2[5] == 'A' ? 'B' : 'A';
	assert_int_equal(post_signed(&src, "msg_1", now, sig2, body, &r), 401);
	srv_res_free(&r);
	sign(src.secret, "msg_1", now - 600, body, sig2);
	assert_int_equal(post_signed(&src, "msg_1", now - 600, sig2, body, &r),
	                 401);
	srv_res_free(&r);
	assert_int_equal(payments_of(id), 0);

	assert_int_equal(post_signed(&src, "msg_1", now, sig, body, &r), 200);
	assert_string_equal(srv_jstr(&r, "reference"), "agg-1");
	srv_res_free(&r);
	assert_int_equal(payments_of(id), 1);
	/* the same message id again: refused */
	assert_int_equal(post_signed(&src, "msg_1", now, sig, body, &r), 409);
	srv_res_free(&r);
	/* the same payment in a new message: answered as the first */
	sign(src.secret, "msg_2", now, body, sig);
	assert_int_equal(post_signed(&src, "msg_2", now, sig, body, &r), 200);
	assert_true(json_is_true(json_object_get(r.json, "replay")));
	srv_res_free(&r);
	assert_int_equal(payments_of(id), 1);
	/* bad body, well signed */
	snprintf(body, sizeof(body),
	         "{\"id\":\"agg-2\",\"account\":\"ln-s\",\"amount\":\"700\","
	         "\"currency\":\"KES\",\"paid_at\":\"%s\"}",
	         when);
	sign(src.secret, "msg_3", now, body, sig);
	assert_int_equal(post_signed(&src, "msg_3", now, sig, body, &r), 400);
	srv_res_free(&r);
	assert_int_equal(payments_of(id), 1);
}

static void test_loan_ref_unique(void **state)
{
	char id[64], code[64], imei[16], imei2[16], id2[64], code2[64],
	        path[128];
	struct srv_res r;

	(void)state;
	device_with("LN-U 1", false, false, id, code, imei);
	devapi_imei(next_imei++, imei);
	devapi_imei(next_imei++, imei2);
	assert_int_equal(devapi_register(S, &L, imei, imei2, id2, code2), 0);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", id2);
	assert_int_equal(
	        srv_req(S, "POST", path, L.admin,
	                "{\"loan_ref\":\"ln-u1\",\"currency\":\"KES\","
	                "\"schedule\":[{\"due\":\"2035-01-01\",\"amount\":"
	                "100}],\"policy\":{\"contact\":{\"name\":\"A\","
	                "\"phones\":[\"+254700000001\"]}}}",
	                &r),
	        0);
	assert_int_equal(r.status, 409);
	assert_non_null(strstr(r.body, id));
	srv_res_free(&r);
}

/* --- the CLI ----------------------------------------------------------------
 */

static void test_cli(void **state)
{
	char id[64], code[64], imei[16], tid[16], tid2[16], body[1024],
	        csv[256], line[512];
	struct proc_result r;
	struct source src;
	struct srv_res sr;
	json_t *j;
	FILE *f;

	(void)state;
	cli_isolate();
	cli_env(srv_url(S), L.admin);
	c2b_source("600900", &src);
	device_with("LN-CLI", false, true, id, code, imei);

	/* a payment for no contract: listed, then assigned */
	new_transid(tid);
	c2b_body(body, sizeof(body), tid, "20.00", "600900", "LN-CLX");
	assert_int_equal(post(src.confirmation, body, &sr), 200);
	srv_res_free(&sr);
	assert_int_equal(cli_run(&r, NULL, "payments", "unmatched", "--json",
	                         "--limit", "500", NULL),
	                 0);
	assert_non_null(strstr(r.out, tid));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "payments", "unmatched", NULL), 0);
	assert_non_null(strstr(r.out, "LN-CLX"));
	{
		/* the id from the table: the line naming the reference */
		char um[64] = "";
		const char *p = strstr(r.out, tid);
		const char *start = p;

		while (start > r.out && start[-1] != '\n')
			start--;
		snprintf(um, sizeof(um), "%.*s", (int)strcspn(start, " "),
		         start);
		proc_result_free(&r);
		assert_true(strncmp(um, "um_", 3) == 0);
		assert_int_equal(cli_run(&r, NULL, "payments", "assign", um,
		                         "dv_nosuch", NULL),
		                 1);
		proc_result_free(&r);
		assert_int_equal(
		        cli_run(&r, NULL, "payments", "assign", um, imei, NULL),
		        0);
		proc_result_free(&r);
	}
	assert_int_equal(payments_of(id), 1);

	/* a statement: one payment finlock has, one it missed */
	new_transid(tid2);
	snprintf(csv, sizeof(csv), "%s/statement.csv", cli_isolate());
	f = fopen(csv, "w");
	assert_non_null(f);
	fprintf(f, "Receipt No.,Completion Time,Details,Paid In,Withdrawn,"
	           "Account No.\n");
	fprintf(f, "%s,2026-01-01 12:00:00,Pay Bill,\"1,480.00\",,LN-CLI\n",
	        tid2);
	fprintf(f, "XX1,2026-01-01 12:05:00,Charge,,5.00,\n");
	fclose(f);
	assert_int_equal(cli_run(&r, NULL, "payments", "reconcile", csv,
	                         "--source", src.id, "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_int_equal(json_array_size(json_object_get(j, "missing")), 1);
	assert_int_equal(json_array_size(json_object_get(j, "applied")), 0);
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(payments_of(id), 1);
	/* bad input: no such file, no reference column, no source */
	assert_int_equal(cli_run(&r, NULL, "payments", "reconcile",
	                         "/nonexistent.csv", "--source", src.id, NULL),
	                 1);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "payments", "reconcile", csv,
	                         "--source", "ps_nosuch", NULL),
	                 1);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "payments", "reconcile", csv,
	                         "--source", src.id, "--apply", "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_int_equal(json_array_size(json_object_get(j, "applied")), 1);
	json_decref(j);
	proc_result_free(&r);
	/* 20.00 + 1,480.00 pays the 1,500.00 contract off: the release
	 * waits for the lender; applying again records nothing */
	assert_int_equal(payments_of(id), 2);
	assert_int_equal(cli_run(&r, NULL, "payments", "reconcile", csv,
	                         "--source", src.id, "--apply", "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_int_equal(json_array_size(json_object_get(j, "missing")), 0);
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(payments_of(id), 2);
	assert_int_equal(devapi_show(S, &L, id, &sr), 0);
	assert_string_equal(srv_jstr(&sr, "state"), "released");
	srv_res_free(&sr);

	/* the preview and a freeze through the CLI */
	assert_int_equal(
	        cli_run(&r, NULL, "locks", "preview", "--within", "48h", NULL),
	        0);
	assert_non_null(strstr(r.out, "device(s) lock by"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "locks", "preview", "--within", "nope", NULL),
	        1);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "locks", "freeze", "--until",
	                         "2020-01-01T00:00:00Z", "--reason", "x", NULL),
	                 1);
	proc_result_free(&r);
	(void)line;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_create_list_show),
	        cmocka_unit_test(test_confirmation_once_per_transid),
	        cmocka_unit_test(test_bad_input_changes_nothing),
	        cmocka_unit_test(test_rotate),
	        cmocka_unit_test(test_twenty_at_once),
	        cmocka_unit_test(test_confirmation_unlocks_phone),
	        cmocka_unit_test(test_unmatched_assigned),
	        cmocka_unit_test(test_release_pending),
	        cmocka_unit_test(test_signed_source),
	        cmocka_unit_test(test_loan_ref_unique),
	        cmocka_unit_test(test_cli),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
