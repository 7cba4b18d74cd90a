/*
 * bench_fleet.c - sets up the fleet the server benchmarks load: a lender,
 * N registered devices with contracts, and (when finlockd serves the
 * device protocol) each device enrolled as a phone enrolls, through
 * finlockd's real HTTP API.
 *
 *   bench_fleet --url URL --operator-key KEY --lender-out FILE
 *   bench_fleet --url URL --admin-key KEY --devices N --out FILE
 *               [--root PASERK] [--threads 8] [--first I]
 *
 * Lender side: with --operator-key, POST /v1/tenants and POST
 * /v1/tenants/{id}/keys, writing "tenant id" and "admin key" lines to
 * --lender-out. With --admin-key, per device POST /v1/devices (two valid
 * IMEIs numbered from --first, a serial) and POST /v1/devices/{id}/contract
 * (six monthly installments of 1,500.00 KES, the first due in 10 to 40 days,
 * grace 3 days, reminders 3 and 1 days before, max offline 30 days): every
 * device is active, in good standing.
 *
 * Phone side (docs/protocol.md "Enroll"), with --root (the k4.public trust
 * anchor finlockd prints with `root-pubkey`): fresh Ed25519 and X25519
 * keys, the signed enroll request with the one-time code, then what the
 * agent checks: the enrollment token verified against the root and the
 * certificates in the answer, both echoed keys, the first device token
 * (sub, IMEI). The check-in MAC key is derived from the key exchange as
 * the phone derives it. Each enrolled device goes to FILE (bench.h
 * format) with its counter at 0 and its token's seq.
 *
 * Requests run on --threads threads, each with its own keep-alive
 * connection. Prints timing lines and key=value results (registered,
 * enrolled, register_per_s, enroll_per_s).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>

#include "bench.h"
#include "core/imei.h"
#include "core/paserk.h"
#include "core/token.h"

struct http {
	CURL *c;
	struct curl_slist *hdrs_admin; /* with the admin key */
	struct curl_slist *hdrs_plain; /* JSON only */
	char *buf;
	size_t len, cap;
	char err[128]; /* the last transport error */
};

struct fleet {
	const char *url;
	char op_key[128];
	char admin_key[128];
	size_t first; /* IMEIs and serials are numbered from here */
	char tenant[64];
	size_t n;
	int threads;
	bool enroll;
	uint8_t root_pk[FL_SIGN_PK_LEN];
	struct bench_dev *devs; /* n entries; id "" if not enrolled */
	char (*ids)[FL_DP_DEVICE_ID_MAX + 1]; /* registered device ids */
	char (*codes)[FL_DP_CODE_MAX + 1];    /* their one-time codes */
	fl_time now;
	/* phase timing */
	size_t next; /* next device index to take (under lock) */
	pthread_mutex_t lock;
	size_t failures;
	char last_error[256];
};

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
	struct http *h = ctx;
	size_t k = sz * n;

	if (h->len + k + 1 > h->cap) {
		size_t cap = (h->len + k + 1) * 2;
		char *nb = realloc(h->buf, cap);

		if (nb == NULL)
			return 0;
		h->buf = nb;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, p, k);
	h->len += k;
	h->buf[h->len] = '\0';
	return k;
}

static void http_init(struct http *h, const char *key)
{
	char auth[256];

	memset(h, 0, sizeof(*h));
	h->c = curl_easy_init();
	if (h->c == NULL)
		bench_die("curl_easy_init");
	h->hdrs_plain =
	        curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	h->hdrs_admin =
	        curl_slist_append(NULL, "Content-Type: application/json");
	h->hdrs_admin = curl_slist_append(h->hdrs_admin, auth);
	curl_easy_setopt(h->c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(h->c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h->c, CURLOPT_NOSIGNAL, 1L);
}

static void http_free(struct http *h)
{
	curl_slist_free_all(h->hdrs_admin);
	curl_slist_free_all(h->hdrs_plain);
	curl_easy_cleanup(h->c);
	free(h->buf);
}

/* POSTs body to url + path; returns the status (0 on transport failure)
 * and leaves the answer in h->buf. */
static long http_post(struct http *h, const char *base, const char *path,
                      const char *body, bool admin)
{
	char url[1024];
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", base, path);
	h->len = 0;
	if (h->buf)
		h->buf[0] = '\0';
	curl_easy_setopt(h->c, CURLOPT_URL, url);
	curl_easy_setopt(h->c, CURLOPT_HTTPHEADER,
	                 admin ? h->hdrs_admin : h->hdrs_plain);
	curl_easy_setopt(h->c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h->c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	rc = curl_easy_perform(h->c);
	if (rc != CURLE_OK) {
		snprintf(h->err, sizeof(h->err), "%s", curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static void fail(struct fleet *f, const char *what, long status,
                 const struct http *h)
{
	pthread_mutex_lock(&f->lock);
	f->failures++;
	snprintf(f->last_error, sizeof(f->last_error), "%s: HTTP %ld %.150s",
	         what, status, status ? (h->buf ? h->buf : "") : h->err);
	pthread_mutex_unlock(&f->lock);
}

/* Two distinct valid IMEIs for device i (TACs 35300000 and 35300001,
 * apart from the ones bench_sweep imports). */
static void make_imeis(size_t i, char a[FL_IMEI_LEN + 1],
                       char b[FL_IMEI_LEN + 1])
{
	char d[32];

	snprintf(d, sizeof(d), "35300000%06u", (unsigned)(i % 1000000));
	memcpy(a, d, 14);
	a[14] = fl_imei_check_digit(d);
	a[15] = '\0';
	snprintf(d, sizeof(d), "35300001%06u", (unsigned)(i % 1000000));
	memcpy(b, d, 14);
	b[14] = fl_imei_check_digit(d);
	b[15] = '\0';
}

static char *date_str(fl_time t, char out[16])
{
	int y, m, d, hh, mm, ss;

	fl_time_to_civil(t, &y, &m, &d, &hh, &mm, &ss);
	snprintf(out, 16, "%04d-%02d-%02d", y, m, d);
	return out;
}

/* Registers device i and gives it a contract. */
static bool register_one(struct fleet *f, struct http *h, size_t i)
{
	char imei1[16], imei2[16], body[2048], path[256], ds[16];
	char loan_ref[64];
	json_t *j, *sched;
	json_error_t je;
	const char *id, *code;
	long st;
	char *s;

	make_imeis(f->first + i, imei1, imei2);
	snprintf(body, sizeof(body),
	         "{\"imei\":\"%s\",\"imei2\":\"%s\",\"serial\":\"SN%09zu\","
	         "\"model\":\"Bench Phone\"}",
	         imei1, imei2, f->first + i);
	st = http_post(h, f->url, "/v1/devices", body, true);
	if (st != 201) {
		fail(f, "register", st, h);
		return false;
	}
	j = json_loads(h->buf, 0, &je);
	id = json_string_value(
	        json_object_get(json_object_get(j, "device"), "id"));
	code = json_string_value(json_object_get(j, "enrollment_code"));
	if (id == NULL || code == NULL || strlen(id) > FL_DP_DEVICE_ID_MAX ||
	    strlen(code) > FL_DP_CODE_MAX) {
		json_decref(j);
		fail(f, "register answer", st, h);
		return false;
	}
	strcpy(f->ids[i], id);
	strcpy(f->codes[i], code);
	json_decref(j);

	/* a loan reference is one contract's (docs/payments.md) */
	snprintf(loan_ref, sizeof(loan_ref), "LN-API-%s", f->ids[i]);
	sched = json_array();
	for (int k = 0; k < 6; k++)
		json_array_append_new(
		        sched,
		        json_pack("{s:s,s:i}", "due",
		                  date_str(f->now + (10 + (fl_time)(i % 30) +
		                                     30 * (fl_time)k) *
		                                            FL_DAY,
		                           ds),
		                  "amount", 150000));
	j = json_pack(
	        "{s:s,s:s,s:s,s:o,s:s,s:{s:[s,s],s:[s,s],s:s,s:{s:s,s:[s]},"
	        "s:s}}",
	        "loan_ref", loan_ref, "currency", "KES", "utc_offset",
	        "+03:00", "schedule", sched, "grace", "3d", "policy",
	        "reminders", "3d", "1d", "restrict", "camera", "install_apps",
	        "message",
	        "This device is locked due to an overdue installment "
	        "payment",
	        "contact", "name", "Bench Finance", "phones", "+254700000001",
	        "max_offline", "30d");
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", f->ids[i]);
	st = http_post(h, f->url, path, s, true);
	free(s);
	if (st != 201) {
		fail(f, "contract", st, h);
		return false;
	}
	return true;
}

/* Enrolls device i as its phone would; fills f->devs[i]. */
static bool enroll_one(struct fleet *f, struct http *h, size_t i)
{
	struct fl_dp_enroll_req r = {0};
	struct fl_dp_enroll_answer a = {0};
	struct fl_dp_enroll_payload p = {0};
	struct fl_device_claims c = {0};
	struct fl_claims_expect e = {0};
	struct fl_trust *t = NULL;
	uint8_t sk[FL_SIGN_SK_LEN], kx_sk[FL_KX_SK_LEN];
	uint8_t shared[FL_KX_SESSION_LEN], ocode[FL_DP_OCODE_SECRET_LEN];
	char *json = NULL, *payload = NULL;
	size_t plen = 0;
	bool ok = false;
	long st = 0;

	strcpy(r.code, f->codes[i]);
	make_imeis(f->first + i, r.imei[0], r.imei[1]);
	r.n_imei = 2;
	snprintf(r.serial, sizeof(r.serial), "SN%09zu", f->first + i);
	fl_sign_keypair(r.sign_pk, sk);
	fl_kx_keypair(r.kx_pk, kx_sk);
	if (fl_dp_enroll_sign(&r, sk) != FL_OK ||
	    fl_dp_enroll_req_encode(&r, &json) != FL_OK)
		goto out;
	st = http_post(h, f->url, FL_DP_PATH_ENROLL, json, false);
	if (st != 200)
		goto out;
	if (fl_dp_enroll_answer_decode(h->buf, h->len, &a) != FL_OK ||
	    fl_trust_new(&t, f->root_pk) != FL_OK)
		goto out;
	/* as the agent does: keep each certificate that verifies */
	for (size_t k = 0; k < a.keys.n_certs; k++)
		if (fl_trust_add_cert(t, a.keys.certs[k], f->now, NULL) !=
		    FL_OK)
			continue;
	if (fl_trust_verify(t, FL_MSG_ENROLL, a.enrollment, f->now, &payload,
	                    &plen) != FL_OK ||
	    fl_dp_enroll_payload_decode(payload, plen, &p) != FL_OK ||
	    memcmp(p.sign_pk, r.sign_pk, FL_SIGN_PK_LEN) != 0 ||
	    memcmp(p.kx_pk, r.kx_pk, FL_KX_PK_LEN) != 0)
		goto out;
	e.device_id = p.device_id;
	e.imei = r.imei[0];
	e.last_seq = 0;
	e.now = p.time;
	e.skew = 300;
	if (fl_device_token_verify(t, p.token, &e, &c) != FL_OK ||
	    fl_kx_shared(shared, 0, r.kx_pk, kx_sk, p.server_kx_pk) != FL_OK ||
	    fl_dp_derive(shared, f->devs[i].mac_key, ocode) != FL_OK)
		goto out;
	snprintf(f->devs[i].id, sizeof(f->devs[i].id), "%s", p.device_id);
	f->devs[i].counter = 0;
	f->devs[i].seq = c.seq;
	strcpy(f->devs[i].imei, r.imei[0]);
	ok = true;
out:
	if (!ok)
		fail(f, "enroll", st, h);
	fl_wipe(sk, sizeof(sk));
	fl_wipe(kx_sk, sizeof(kx_sk));
	fl_wipe(shared, sizeof(shared));
	fl_wipe(ocode, sizeof(ocode));
	fl_claims_clear(&c);
	fl_trust_free(t);
	fl_dp_enroll_payload_clear(&p);
	fl_dp_enroll_answer_clear(&a);
	free(payload);
	free(json);
	return ok;
}

enum phase { PH_REGISTER, PH_ENROLL };

struct job {
	struct fleet *f;
	enum phase ph;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	struct fleet *f = j->f;
	struct http h;

	http_init(&h, f->admin_key);
	for (;;) {
		size_t i;

		pthread_mutex_lock(&f->lock);
		i = f->next++;
		pthread_mutex_unlock(&f->lock);
		if (i >= f->n || f->failures > 20)
			break;
		if (j->ph == PH_REGISTER)
			(void)register_one(f, &h, i);
		else if (f->ids[i][0])
			(void)enroll_one(f, &h, i);
	}
	http_free(&h);
	return NULL;
}

static double run_phase(struct fleet *f, enum phase ph)
{
	pthread_t *th = bench_alloc((size_t)f->threads * sizeof(*th));
	struct job j = {f, ph};
	uint64_t t0 = bench_now_ns();

	f->next = 0;
	for (int i = 0; i < f->threads; i++)
		if (pthread_create(&th[i], NULL, worker, &j) != 0)
			bench_die("pthread_create");
	for (int i = 0; i < f->threads; i++)
		pthread_join(th[i], NULL);
	free(th);
	return (double)(bench_now_ns() - t0) / 1e9;
}

/* The lender: a tenant and its admin key, through the operator key. */
static void make_lender(struct fleet *f)
{
	struct http h;
	json_t *j;
	const char *s;
	char path[256];
	long st;

	http_init(&h, f->op_key);
	st = http_post(&h, f->url, "/v1/tenants",
	               "{\"name\":\"Bench Finance\"}", true);
	j = st == 201 ? json_loads(h.buf, 0, NULL) : NULL;
	s = json_string_value(json_object_get(j, "id"));
	if (s == NULL || strlen(s) >= sizeof(f->tenant))
		bench_die("create tenant: HTTP %ld %s", st, h.buf ? h.buf : "");
	strcpy(f->tenant, s);
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/tenants/%s/keys", f->tenant);
	st = http_post(&h, f->url, path, "{\"label\":\"bench\"}", true);
	j = st == 201 ? json_loads(h.buf, 0, NULL) : NULL;
	s = json_string_value(json_object_get(j, "key"));
	if (s == NULL || strlen(s) >= sizeof(f->admin_key))
		bench_die("create admin key: HTTP %ld %s", st,
		          h.buf ? h.buf : "");
	strcpy(f->admin_key, s);
	json_decref(j);
	http_free(&h);
}

int main(int argc, char **argv)
{
	struct fleet f = {0};
	const char *out = NULL, *lender_out = NULL, *root = NULL;
	double t_reg, t_enr = 0;
	size_t enrolled = 0, registered = 0;
	struct timespec rt;

	f.threads = 8;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];

		if (strcmp(a, "--url") == 0)
			f.url = v;
		else if (strcmp(a, "--operator-key") == 0)
			snprintf(f.op_key, sizeof(f.op_key), "%s", v);
		else if (strcmp(a, "--admin-key") == 0)
			snprintf(f.admin_key, sizeof(f.admin_key), "%s", v);
		else if (strcmp(a, "--lender-out") == 0)
			lender_out = v;
		else if (strcmp(a, "--devices") == 0)
			f.n = (size_t)atol(v);
		else if (strcmp(a, "--first") == 0)
			f.first = (size_t)atol(v);
		else if (strcmp(a, "--out") == 0)
			out = v;
		else if (strcmp(a, "--root") == 0)
			root = v;
		else if (strcmp(a, "--threads") == 0)
			f.threads = atoi(v);
		else
			bench_die("unknown option %s", a);
	}
	if (f.url == NULL || f.threads <= 0 ||
	    (lender_out == NULL &&
	     (f.admin_key[0] == '\0' || f.n == 0 || out == NULL)) ||
	    (lender_out != NULL && f.op_key[0] == '\0'))
		bench_die("usage: see the comment at the top of "
		          "bench_fleet.c");
	if (fl_crypto_init() != FL_OK ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		bench_die("libsodium or libcurl failed to start");
	pthread_mutex_init(&f.lock, NULL);

	if (lender_out != NULL) {
		FILE *fp;

		make_lender(&f);
		fp = fopen(lender_out, "w");
		if (fp == NULL)
			bench_die("%s: %s", lender_out, strerror(errno));
		fprintf(fp, "%s\n%s\n", f.tenant, f.admin_key);
		fclose(fp);
		curl_global_cleanup();
		return 0;
	}
	if (root != NULL) {
		if (fl_paserk_public_decode(f.root_pk, root, strlen(root)) !=
		    FL_OK)
			bench_die("--root: not a k4.public key");
		f.enroll = true;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	f.now = (fl_time)rt.tv_sec;
	f.devs = bench_alloc(f.n * sizeof(*f.devs));
	f.ids = bench_alloc(f.n * sizeof(*f.ids));
	f.codes = bench_alloc(f.n * sizeof(*f.codes));

	t_reg = run_phase(&f, PH_REGISTER);
	for (size_t i = 0; i < f.n; i++)
		registered += f.ids[i][0] != '\0';
	printf("  through the lender API: registered %zu devices with "
	       "contracts in %.1f s (%.0f/s, 2 requests each, %d "
	       "connections)\n",
	       registered, t_reg, (double)registered / t_reg, f.threads);
	fflush(stdout);
	if (f.enroll && f.failures == 0) {
		t_enr = run_phase(&f, PH_ENROLL);
		for (size_t i = 0; i < f.n; i++)
			enrolled += f.devs[i].id[0] != '\0';
		printf("  through the device API: enrolled %zu devices in %.1f "
		       "s (%.0f/s)\n",
		       enrolled, t_enr, (double)enrolled / t_enr);
	}
	if (f.failures)
		printf("  %zu failures; last: %s\n", f.failures, f.last_error);
	{
		/* Only the enrolled ones can check in. */
		size_t k = 0;

		for (size_t i = 0; i < f.n; i++)
			if (f.devs[i].id[0])
				f.devs[k++] = f.devs[i];
		bench_devs_save(out, f.devs, k);
	}
	printf("registered=%zu\nenrolled=%zu\nregister_per_s=%.0f\n"
	       "enroll_per_s=%.0f\nfailures=%zu\n",
	       registered, enrolled, (double)registered / t_reg,
	       t_enr > 0 ? (double)enrolled / t_enr : 0.0, f.failures);
	curl_global_cleanup();
	return f.failures ? 1 : 0;
}
