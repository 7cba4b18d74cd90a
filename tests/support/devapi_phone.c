/* devapi_phone.c - a real agent over HTTP to a real finlockd, and a lender
 * (devapi_phone.h). */
#include "support/devapi_phone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/imei.h"
#include "core/paserk.h"
#include "device/dev_http.h"
#include "finlock/agent.h"
#include "support/proc.h"

int64_t devapi_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void devapi_imei(unsigned n, char out[16])
{
	snprintf(out, 16, "35209900%06u", n % 1000000u);
	out[14] = fl_imei_check_digit(out);
	out[15] = '\0';
}

int devapi_start(struct srv **s, struct devapi_lender *l,
                 const char *const *args)
{
	struct srv_opts o = {.args = args};

	return devapi_start_opts(s, l, &o);
}

int devapi_start_opts(struct srv **s, struct devapi_lender *l,
                      const struct srv_opts *o)
{
	if (fl_crypto_init() != FL_OK || srv_start(s, o) != 0)
		return -1;
	return devapi_lender_setup(*s, l);
}

int devapi_lender_setup(struct srv *s, struct devapi_lender *l)
{
	struct proc_result r;
	char data[600];
	int rc = -1;

	memset(l, 0, sizeof(*l));
	if (srv_tenant(s, "Acme Finance", l->tenant, l->admin) != 0)
		return -1;
	snprintf(data, sizeof(data), "%s", srv_data_dir(s));
	if (proc_runl(&r, NULL, "finlockd", "--data", data, "root-pubkey",
	              NULL) != 0)
		return -1;
	if (r.status == 0) {
		r.out[strcspn(r.out, "\r\n")] = '\0';
		rc = fl_paserk_public_decode(l->root, r.out, strlen(r.out)) ==
		                     FL_OK
		             ? 0
		             : -1;
	}
	proc_result_free(&r);
	return rc;
}

int devapi_register(struct srv *s, const struct devapi_lender *l,
                    const char *imei1, const char *imei2, char id[64],
                    char code[64])
{
	struct srv_res r;
	char body[256];
	int rc = -1;

	if (imei2 != NULL)
		snprintf(body, sizeof(body),
		         "{\"imei\":\"%s\",\"imei2\":\"%s\",\"serial\":"
		         "\"SN-%s\",\"model\":\"Test X1\"}",
		         imei1, imei2, imei1);
	else
		snprintf(body, sizeof(body),
		         "{\"imei\":\"%s\",\"serial\":\"SN-%s\"}", imei1,
		         imei1);
	if (srv_req(s, "POST", "/v1/devices", l->admin, body, &r) != 0)
		return -1;
	if (r.status == 201 && r.json != NULL) {
		json_t *dev = json_object_get(r.json, "device");

		snprintf(id, 64, "%s",
		         json_string_value(json_object_get(dev, "id")));
		snprintf(code, 64, "%s", srv_jstr(&r, "enrollment_code"));
		rc = 0;
	}
	srv_res_free(&r);
	return rc;
}

int devapi_contract(struct srv *s, const struct devapi_lender *l,
                    const char *id, const char *due, long long amount,
                    long long grace, const char *sim, const char *tamper)
{
	struct srv_res r;
	char path[128], body[1024];
	int rc;

	snprintf(path, sizeof(path), "/v1/devices/%s/contract", id);
	snprintf(body, sizeof(body),
	         /* tests lock phones from the start on purpose */
	         "{\"loan_ref\":\"LN-0001-%.8s\",\"currency\":\"KES\","
	         "\"allow_overdue\":true,"
	         "\"utc_offset\":\"+03:00\",\"schedule\":[{\"due\":\"%s\","
	         "\"amount\":%lld}],\"grace\":%lld,\"policy\":{"
	         "\"reminders\":[\"3d\",\"1d\",\"0d\"],"
	         "\"allow_apps\":[\"com.acme.pay\"],"
	         "\"message\":\"Pay your installment to unlock\","
	         "\"contact\":{\"name\":\"Acme Finance\",\"phones\":"
	         "[\"+254700000001\"]},\"sim_change\":\"%s\","
	         "\"tamper\":\"%s\"}}",
	         /* loan references are unique per lender */
	         strlen(id) > 3 ? id + 3 : id, due, amount, grace, sim, tamper);
	if (srv_req(s, "POST", path, l->admin, body, &r) != 0)
		return -1;
	rc = r.status == 201 ? 0 : -1;
	if (rc != 0)
		fprintf(stderr, "contract: %ld %s\n", r.status,
		        r.body != NULL ? r.body : "");
	srv_res_free(&r);
	return rc;
}

int devapi_pay(struct srv *s, const struct devapi_lender *l, const char *id,
               long long amount)
{
	struct srv_res r;
	char path[128], body[128];
	int rc;

	snprintf(path, sizeof(path), "/v1/devices/%s/payments", id);
	snprintf(body, sizeof(body),
	         "{\"amount\":%lld,\"reference\":\"MPESA-%lld\"}", amount,
	         (long long)devapi_ms());
	if (srv_req(s, "POST", path, l->admin, body, &r) != 0)
		return -1;
	rc = r.status == 201 ? 0 : -1;
	if (rc != 0)
		fprintf(stderr, "pay: %ld %s\n", r.status,
		        r.body != NULL ? r.body : "");
	srv_res_free(&r);
	return rc;
}

int devapi_show(struct srv *s, const struct devapi_lender *l, const char *id,
                struct srv_res *r)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/devices/%s", id);
	return srv_req(s, "GET", path, l->admin, NULL, r);
}

/* --- the phone -------------------------------------------------------------
 */

/* The phone's clocks catch up with the real clock, or with the server's
 * test clock when it has one (monotonic time then moves with it too). */
static void catch_up(struct devapi_phone *p)
{
	int64_t elapsed = devapi_ms() - p->mono0_ms;

	if (srv_clock(p->srv) > 0) {
		elapsed += (srv_clock(p->srv) - p->clock0) * 1000;
		p->fh->wall = (fl_time)srv_clock(p->srv);
	} else {
		p->fh->wall = (fl_time)time(NULL);
	}
	if (elapsed > (int64_t)p->fh->mono_ms)
		p->fh->mono_ms = (uint64_t)elapsed;
}

/* Sends over HTTP; the clocks move on while the request is out (a
 * long-poll lasts seconds), as a real phone's do. */
static fl_err transport(void *ctx, const struct fl_hal_request *req,
                        struct fl_hal_response *resp)
{
	struct devapi_phone *p = ctx;
	bool aborted = false;
	fl_err err;

	err = dev_http_send(p->http, p->url, req, resp, &aborted);
	catch_up(p);
	return err;
}

void devapi_phone_tick(struct devapi_phone *p)
{
	catch_up(p);
}

int devapi_phone_open(struct devapi_phone *p, struct srv *s,
                      const struct devapi_lender *l, const char *imei1,
                      const char *imei2)
{
	static bool curl_ready;

	memset(p, 0, sizeof(*p));
	if (!curl_ready) {
		if (dev_http_global_init() != FL_OK)
			return -1;
		curl_ready = true;
	}
	p->fh = fl_fakehal_new();
	if (p->fh == NULL || dev_http_new(&p->http) != FL_OK)
		return -1;
	snprintf(p->url, sizeof(p->url), "%s", srv_url(s));
	p->srv = s;
	p->clock0 = srv_clock(s);
	memcpy(p->root, l->root, sizeof(p->root));
	snprintf(p->fh->dev.imei[0], sizeof(p->fh->dev.imei[0]), "%s", imei1);
	p->fh->dev.n_imei = 1;
	if (imei2 != NULL) {
		snprintf(p->fh->dev.imei[1], sizeof(p->fh->dev.imei[1]), "%s",
		         imei2);
		p->fh->dev.n_imei = 2;
	}
	snprintf(p->fh->dev.serial, sizeof(p->fh->dev.serial), "SN-%s", imei1);
	p->fh->server = transport;
	p->fh->server_ctx = p;
	p->mono0_ms = devapi_ms() - (int64_t)p->fh->mono_ms;
	devapi_phone_tick(p);
	fl_fakehal_hal(p->fh, &p->hal);
	return fl_agent_open(&p->a, &p->hal, p->root) == FL_OK ? 0 : -1;
}

int devapi_phone_reboot(struct devapi_phone *p)
{
	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_power_on(p->fh);
	p->mono0_ms = devapi_ms();
	p->clock0 = srv_clock(p->srv);
	devapi_phone_tick(p);
	return fl_agent_open(&p->a, &p->hal, p->root) == FL_OK ? 0 : -1;
}

int devapi_phone_reflash(struct devapi_phone *p)
{
	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_reflash(p->fh);
	p->mono0_ms = devapi_ms();
	p->clock0 = srv_clock(p->srv);
	devapi_phone_tick(p);
	return fl_agent_open(&p->a, &p->hal, p->root) == FL_OK ? 0 : -1;
}

void devapi_phone_close(struct devapi_phone *p)
{
	fl_agent_close(p->a);
	fl_fakehal_free(p->fh);
	dev_http_free(p->http);
	memset(p, 0, sizeof(*p));
}

/* --- a phone by hand -------------------------------------------------------
 */

#include "core/devproto.h"
#include "core/token.h"

void devapi_raw_new(struct devapi_raw *r, const char *imei1, const char *imei2)
{
	memset(r, 0, sizeof(*r));
	fl_sign_keypair(r->sign_pk, r->sign_sk);
	fl_kx_keypair(r->kx_pk, r->kx_sk);
	snprintf(r->imei[0], sizeof(r->imei[0]), "%s", imei1);
	r->n_imei = 1;
	if (imei2 != NULL) {
		snprintf(r->imei[1], sizeof(r->imei[1]), "%s", imei2);
		r->n_imei = 2;
	}
}

void devapi_raw_factory(struct devapi_raw *r)
{
	fl_sign_keypair(r->factory_pk, r->factory_sk);
	r->has_factory = true;
}

/* POSTs body (taken) to path: the status, 0 when no answer. */
static long raw_post(struct srv *s, const char *path, char *body,
                     struct srv_res *res)
{
	int rc = srv_req(s, "POST", path, NULL, body, res);

	free(body);
	return rc == 0 ? res->status : 0;
}

/* A trust set of root and the certificates of k; NULL on failure. */
static struct fl_trust *raw_trust(const uint8_t root[32],
                                  const struct fl_dp_keys *k)
{
	struct fl_trust *t = NULL;

	if (fl_trust_new(&t, root) != FL_OK)
		return NULL;
	for (size_t i = 0; i < k->n_certs; i++)
		if (fl_trust_add_cert(t, k->certs[i], (fl_time)time(NULL),
		                      NULL) != FL_OK) {
			fl_trust_free(t);
			return NULL;
		}
	return t;
}

/* Verifies a lookup answer over nonce into *p, *c and *text; 0 or -1. */
static int raw_lookup_accept(const struct srv_res *res, const uint8_t root[32],
                             const uint8_t nonce[FL_DP_NONCE_LEN],
                             struct fl_dp_lookup_payload *p,
                             struct fl_device_claims *c, char **text)
{
	struct fl_dp_lookup_answer a = {0};
	struct fl_trust *t = NULL;
	char *payload = NULL;
	size_t len = 0;
	int rc = -1;

	if (fl_dp_lookup_answer_decode(res->body, res->len, &a) != FL_OK ||
	    (t = raw_trust(root, &a.keys)) == NULL ||
	    fl_trust_verify(t, FL_MSG_LOOKUP, a.lookup, (fl_time)time(NULL),
	                    &payload, &len) != FL_OK ||
	    fl_dp_lookup_payload_decode(payload, len, p) != FL_OK ||
	    memcmp(p->nonce, nonce, FL_DP_NONCE_LEN) != 0)
		goto out;
	if (text != NULL)
		*text = payload;
	else
		free(payload);
	payload = NULL;
	if (p->token != NULL &&
	    (fl_trust_verify(t, FL_MSG_DEVICE_TOKEN, p->token,
	                     (fl_time)time(NULL), &payload, &len) != FL_OK ||
	     fl_claims_decode(payload, len, c) != FL_OK))
		goto out;
	rc = 0;
out:
	free(payload);
	fl_trust_free(t);
	fl_dp_lookup_answer_clear(&a);
	return rc;
}

long devapi_raw_lookup(struct srv *s, const struct devapi_raw *r, bool forge,
                       const uint8_t root[32], struct fl_dp_lookup_payload *p,
                       struct fl_device_claims *c, char **text,
                       struct srv_res *res)
{
	struct fl_dp_lookup_req q;
	uint8_t other_pk[32], other_sk[64], *in = NULL;
	char *body = NULL;
	size_t len = 0;
	long st;

	memset(res, 0, sizeof(*res));
	memset(p, 0, sizeof(*p));
	memset(c, 0, sizeof(*c));
	if (text != NULL)
		*text = NULL;
	memset(&q, 0, sizeof(q));
	memcpy(q.imei, r->imei, sizeof(q.imei));
	q.n_imei = r->n_imei;
	fl_random(q.nonce, sizeof(q.nonce));
	if (r->has_factory) {
		q.has_factory = true;
		memcpy(q.factory_pk, r->factory_pk, 32);
		fl_sign_keypair(other_pk, other_sk);
		if (fl_dp_lookup_sign_input(&q, &in, &len) != FL_OK)
			return 0;
		fl_sign_detached(q.sig, in, len,
		                 forge ? other_sk : r->factory_sk);
		free(in);
	}
	if (fl_dp_lookup_req_encode(&q, &body) != FL_OK)
		return 0;
	st = raw_post(s, FL_DP_PATH_LOOKUP, body, res);
	if (st == 200 && raw_lookup_accept(res, root, q.nonce, p, c, text) != 0)
		return -1;
	return st;
}

/* Verifies an enroll answer and derives the secrets; 0 or -1. */
static int raw_accept(struct devapi_raw *r, const uint8_t root[32],
                      const struct srv_res *res)
{
	struct fl_dp_enroll_answer a = {0};
	struct fl_dp_enroll_payload p = {0};
	struct fl_device_claims c = {0};
	struct fl_claims_expect e = {0};
	struct fl_trust *t = NULL;
	uint8_t shared[32];
	char *payload = NULL;
	size_t len = 0;
	int rc = -1;

	if (fl_dp_enroll_answer_decode(res->body, res->len, &a) != FL_OK ||
	    (t = raw_trust(root, &a.keys)) == NULL)
		goto out;
	if (fl_trust_verify(t, FL_MSG_ENROLL, a.enrollment, (fl_time)time(NULL),
	                    &payload, &len) != FL_OK ||
	    fl_dp_enroll_payload_decode(payload, len, &p) != FL_OK)
		goto out;
	if (memcmp(p.sign_pk, r->sign_pk, 32) != 0 ||
	    memcmp(p.kx_pk, r->kx_pk, 32) != 0)
		goto out;
	e.device_id = p.device_id;
	e.imei = r->imei[0];
	e.now = (fl_time)time(NULL);
	e.skew = 300;
	if (fl_device_token_verify(t, p.token, &e, &c) != FL_OK)
		goto out;
	if (fl_kx_shared(shared, 0, r->kx_pk, r->kx_sk, p.server_kx_pk) !=
	            FL_OK ||
	    fl_dp_derive(shared, r->mac_key, r->ocode) != FL_OK)
		goto out;
	snprintf(r->device_id, sizeof(r->device_id), "%s", p.device_id);
	r->counter = 0;
	r->seq = c.seq;
	rc = 0;
out:
	fl_claims_clear(&c);
	free(payload);
	fl_dp_enroll_payload_clear(&p);
	fl_dp_enroll_answer_clear(&a);
	fl_trust_free(t);
	return rc;
}

long devapi_raw_enroll(struct srv *s, struct devapi_raw *r, const char *code,
                       bool forge, const uint8_t root[32], struct srv_res *res)
{
	struct fl_dp_enroll_req q;
	uint8_t other_pk[32], other_sk[64];
	char *body = NULL;
	long st;

	memset(res, 0, sizeof(*res));
	memset(&q, 0, sizeof(q));
	snprintf(q.code, sizeof(q.code), "%s", code);
	memcpy(q.imei, r->imei, sizeof(q.imei));
	q.n_imei = r->n_imei;
	snprintf(q.serial, sizeof(q.serial), "SN-%s", r->imei[0]);
	memcpy(q.sign_pk, r->sign_pk, 32);
	memcpy(q.kx_pk, r->kx_pk, 32);
	fl_sign_keypair(other_pk, other_sk);
	if (r->has_factory) {
		uint8_t *in = NULL;
		size_t len = 0;

		q.has_factory = true;
		memcpy(q.factory_pk, r->factory_pk, 32);
		if (fl_dp_enroll_factory_input(&q, &in, &len) != FL_OK)
			return 0;
		fl_sign_detached(q.factory_sig, in, len, r->factory_sk);
		free(in);
	}
	if (fl_dp_enroll_sign(&q, forge ? other_sk : r->sign_sk) != FL_OK ||
	    fl_dp_enroll_req_encode(&q, &body) != FL_OK)
		return 0;
	st = raw_post(s, FL_DP_PATH_ENROLL, body, res);
	if (st == 200 && raw_accept(r, root, res) != 0)
		return -1;
	return st;
}

long devapi_raw_call(struct srv *s, struct devapi_raw *r, const char *method,
                     const char *target, const char *body, uint64_t counter,
                     bool bad_mac, struct srv_res *res)
{
	char h_dev[128], h_ctr[64], h_mac[128], hex[65];
	const char *hdrs[4];
	size_t len = body != NULL ? strlen(body) : 0;
	uint8_t mac[32];

	memset(res, 0, sizeof(*res));
	if (fl_dp_request_mac(mac, r->mac_key, method, target,
	                      body != NULL ? body : "", len, counter) != FL_OK)
		return 0;
	if (bad_mac)
		mac[0] ^= 1;
	fl_hex_encode(hex, mac, sizeof(mac));
	snprintf(h_dev, sizeof(h_dev), FL_DP_HDR_DEVICE ": %s", r->device_id);
	snprintf(h_ctr, sizeof(h_ctr), FL_DP_HDR_COUNTER ": %llu",
	         (unsigned long long)counter);
	snprintf(h_mac, sizeof(h_mac), FL_DP_HDR_MAC ": %s", hex);
	hdrs[0] = h_dev;
	hdrs[1] = h_ctr;
	hdrs[2] = h_mac;
	hdrs[3] = NULL;
	if (srv_reqx(s, method, target, NULL, hdrs, body, len, res) != 0)
		return 0;
	if (counter > r->counter)
		r->counter = counter;
	if (res->status == 200) {
		struct fl_dp_checkin_answer a = {0};
		uint8_t want[32];
		int ok;

		if (fl_dp_checkin_answer_decode(res->body, res->len, &a) !=
		    FL_OK)
			return -1;
		ok = fl_dp_answer_mac(want, r->mac_key, counter, a.time,
		                      a.next_checkin, a.token) == FL_OK &&
		     memcmp(want, a.mac, 32) == 0;
		fl_dp_checkin_answer_clear(&a);
		if (!ok)
			return -1;
	}
	return res->status;
}

long devapi_raw_checkin(struct srv *s, struct devapi_raw *r, uint64_t counter,
                        struct srv_res *res)
{
	struct fl_dp_checkin_req q;
	char *body = NULL;
	long st;

	memset(&q, 0, sizeof(q));
	q.seq = r->seq;
	q.trusted_time = (fl_time)time(NULL);
	q.wall_time = q.trusted_time;
	if (fl_dp_checkin_req_encode(&q, &body) != FL_OK)
		return 0;
	st = devapi_raw_call(s, r, "POST", FL_DP_PATH_CHECKIN, body, counter,
	                     false, res);
	free(body);
	return st;
}
