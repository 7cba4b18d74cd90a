/* webhooks.c - the senders of the webhook outbox (webhooks.h). */
#include "server/webhooks.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/token.h"
#include "server/app.h"
#include "server/files.h"
#include "server/log.h"
#include "server/netaddr.h"
#include "server/signkeys.h"
#include "store/store.h"

#define LEASE_SLACK   5   /* seconds a lease outlives the attempt's timeout */
#define POLL_MS       100 /* between claims when nothing was due */
#define MAX_SENDERS   64
#define RESPONSE_KEEP 512 /* bytes of an answer kept for the log */
#define PRUNE_EVERY   300  /* seconds between looks for old events */
#define PRUNE_BATCH   1000 /* events deleted by one transaction */
#define PRUNE_JOB     "webhook-prune"

struct fl_webhooks {
	struct fl_app *app;
	struct fl_clock clock; /* the system's: receivers check timestamps */
	struct fl_signer key;  /* signs v1a */
	struct fl_webhook_key_info info;
	char *cert;
	atomic_bool stop;
	_Atomic int64_t next_prune; /* when this process looks again */
	pthread_t thr[MAX_SENDERS];
	int n_thr;
};

void fl_webhook_secret(const uint8_t key[FL_MAC_KEY_LEN], const char *id,
                       int64_t gen, uint8_t raw[FL_WH_SECRET_LEN],
                       char text[FL_WH_SECRET_TEXT])
{
	uint8_t k[FL_WH_SECRET_LEN];
	fl_blake2b_state st;
	uint8_t g[8];

	for (int i = 0; i < 8; i++)
		g[i] = (uint8_t)((uint64_t)gen >> (8 * i));
	if (fl_blake2b_init(&st, key, FL_MAC_KEY_LEN, sizeof(k)) != FL_OK) {
		memset(k, 0, sizeof(k)); /* cannot happen: fixed sizes */
	} else {
		fl_blake2b_update(&st, "finlock webhook secret", 22);
		fl_blake2b_update(&st, id, strlen(id) + 1);
		fl_blake2b_update(&st, g, sizeof(g));
		fl_blake2b_final(&st, k, sizeof(k));
	}
	if (raw != NULL)
		memcpy(raw, k, sizeof(k));
	if (text != NULL) {
		memcpy(text, "whsec_", 6);
		if (fl_b64_encode(text + 6, FL_WH_SECRET_TEXT - 6, k,
		                  sizeof(k)) != FL_OK)
			text[6] = '\0';
	}
	fl_wipe(k, sizeof(k));
}

fl_err fl_webhook_signature(const uint8_t secret[FL_WH_SECRET_LEN],
                            const uint8_t *prev, const uint8_t *sk,
                            const char *msg_id,
                            int64_t ts, const char *body, size_t len,
                            char out[FL_WH_SIG_MAX])
{
	uint8_t mac[FL_HMAC_SHA256_LEN], sig[FL_SIG_LEN];
	char b64[96];
	char *signed_text = NULL;
	size_t head, n;
	fl_err err = FL_OK;

	out[0] = '\0';
	head = strlen(msg_id) + 24;
	if ((signed_text = malloc(head + len + 1)) == NULL)
		return FL_E_NOMEM;
	n = (size_t)snprintf(signed_text, head, "%s.%lld.", msg_id,
	                     (long long)ts);
	memcpy(signed_text + n, body, len);
	n += len;
	fl_hmac_sha256(mac, secret, FL_WH_SECRET_LEN, signed_text, n);
	if ((err = fl_b64_encode(b64, sizeof(b64), mac, sizeof(mac))) !=
	    FL_OK)
		goto out;
	snprintf(out, FL_WH_SIG_MAX, "v1,%s", b64);
	if (prev != NULL) {
		size_t used = strlen(out);

		fl_hmac_sha256(mac, prev, FL_WH_SECRET_LEN, signed_text, n);
		if ((err = fl_b64_encode(b64, sizeof(b64), mac, sizeof(mac))) !=
		    FL_OK)
			goto out;
		snprintf(out + used, FL_WH_SIG_MAX - used, " v1,%s", b64);
	}
	if (sk != NULL) {
		size_t used = strlen(out);

		fl_sign_detached(sig, signed_text, n, sk);
		if ((err = fl_b64_encode(b64, sizeof(b64), sig, sizeof(sig))) !=
		    FL_OK)
			goto out;
		snprintf(out + used, FL_WH_SIG_MAX - used, " v1a,%s", b64);
	}
out:
	free(signed_text);
	fl_wipe(mac, sizeof(mac));
	return err;
}

int64_t fl_webhook_retry_delay(int attempts, int base_ms)
{
	static const int64_t factor[FL_WH_ATTEMPTS - 1] = {
	        1, 6, 24, 120, 360, 720, 1440, 2880, 5760,
	        8640, 8640, 8640, 8640, 8640};
	int64_t ms;

	if (attempts < 1 || attempts >= FL_WH_ATTEMPTS)
		return -1;
	ms = factor[attempts - 1] * (int64_t)base_ms;
	return ms < 1000 ? 1 : ms / 1000;
}

bool fl_webhook_addr_private(const uint8_t a[16])
{
	static const uint8_t v4map[12] = {0, 0, 0, 0, 0, 0,
	                                  0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t zero[16] = {0};

	if (memcmp(a, v4map, 12) == 0) {
		const uint8_t *b = a + 12;

		return b[0] == 0 || b[0] == 10 || b[0] == 127 ||
		       (b[0] == 100 && (b[1] & 0xc0) == 64) ||  /* CGNAT */
		       (b[0] == 169 && b[1] == 254) ||          /* link-local */
		       (b[0] == 172 && (b[1] & 0xf0) == 16) ||  /* RFC 1918 */
		       (b[0] == 192 && b[1] == 168) ||          /* RFC 1918 */
		       (b[0] == 192 && b[1] == 0 && b[2] == 0) || /* IETF */
		       (b[0] == 192 && b[1] == 0 && b[2] == 2) || /* docs */
		       (b[0] == 198 && (b[1] & 0xfe) == 18) ||  /* bench */
		       (b[0] == 198 && b[1] == 51 && b[2] == 100) ||
		       (b[0] == 203 && b[1] == 0 && b[2] == 113) ||
		       b[0] >= 224; /* multicast, reserved, broadcast */
	}
	if (memcmp(a, zero, 15) == 0) /* :: and ::1 */
		return true;
	return (a[0] & 0xfe) == 0xfc ||              /* unique local */
	       (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || /* link-local */
	       a[0] == 0xff ||                        /* multicast */
	       (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d &&
	        a[3] == 0xb8) || /* documentation */
	       (a[0] == 0 && a[1] == 0x64 && a[2] == 0xff &&
	        a[3] == 0x9b); /* NAT64: a v4 address inside */
}

/* --- one attempt ---------------------------------------------------------- */

struct attempt {
	bool allow_private;
	bool refused;                 /* an address was refused */
	char refused_addr[64];        /* which */
	char answer[RESPONSE_KEEP];   /* the start of the answer */
	size_t answer_len;
};

/* CURLOPT_OPENSOCKETFUNCTION: the address curl is about to connect to,
 * as resolved for this very connection. */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
	struct attempt *at = ctx;
	uint8_t addr[16];

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    !fl_net_from_sockaddr(&a->addr, addr))
		return CURL_SOCKET_BAD;
	if (!at->allow_private && fl_webhook_addr_private(addr)) {
		at->refused = true;
		if (a->family == AF_INET)
			inet_ntop(AF_INET,
			          &((struct sockaddr_in *)(void *)&a->addr)
			                   ->sin_addr,
			          at->refused_addr, sizeof(at->refused_addr));
		else
			inet_ntop(AF_INET6,
			          &((struct sockaddr_in6 *)(void *)&a->addr)
			                   ->sin6_addr,
			          at->refused_addr, sizeof(at->refused_addr));
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t keep_answer(char *p, size_t size, size_t n, void *ctx)
{
	struct attempt *at = ctx;
	size_t len = size * n, room = sizeof(at->answer) - 1 - at->answer_len;

	if (len < room)
		room = len;
	memcpy(at->answer + at->answer_len, p, room);
	at->answer_len += room;
	at->answer[at->answer_len] = '\0';
	return len; /* the rest is read and dropped */
}

/* Sends d once; *status the HTTP status (0 none) and err_text why it
 * failed ("" on a 2xx). */
static void post(struct fl_webhooks *w, const struct fl_wh_delivery *d,
                 int *status, char err_text[FL_WH_ERROR_MAX])
{
	const struct fl_config *cfg = &w->app->cfg;
	uint8_t secret[FL_WH_SECRET_LEN], prev[FL_WH_SECRET_LEN];
	char sig[FL_WH_SIG_MAX], h_id[FL_ID_MAX + 16], h_ts[48],
	        h_sig[FL_WH_SIG_MAX + 32], ua[64];
	struct curl_slist *hdr = NULL;
	struct attempt at;
	int64_t ts = fl_clock_now(&w->clock);
	CURL *c = NULL;
	CURLcode rc;
	long code = 0;
	bool overlap = d->secret_gen > 0 && ts < d->prev_secret_until;
	fl_err err;

	*status = 0;
	err_text[0] = '\0';
	memset(&at, 0, sizeof(at));
	at.allow_private = cfg->webhook_allow_private;
	fl_webhook_secret(w->app->secrets.webhook_key, d->endpoint_id,
	                  d->secret_gen, secret, NULL);
	/* just rotated: the old secret signs too, so a lender can switch
	 * its receiver over within the overlap */
	if (overlap)
		fl_webhook_secret(w->app->secrets.webhook_key, d->endpoint_id,
		                  d->secret_gen - 1, prev, NULL);
	err = fl_webhook_signature(secret, overlap ? prev : NULL, w->key.sk,
	                           d->event_id, ts, d->body, strlen(d->body),
	                           sig);
	fl_wipe(secret, sizeof(secret));
	fl_wipe(prev, sizeof(prev));
	if (err != FL_OK) {
		snprintf(err_text, FL_WH_ERROR_MAX, "cannot sign: out of memory");
		goto out;
	}
	snprintf(h_id, sizeof(h_id), "webhook-id: %s", d->event_id);
	snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %lld", (long long)ts);
	snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
	snprintf(ua, sizeof(ua), "User-Agent: finlockd-webhooks/1");
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err_text, FL_WH_ERROR_MAX, "out of memory");
		goto out;
	}
	struct curl_slist *h = NULL;
	const char *lines[] = {"Content-Type: application/json", h_id, h_ts,
	                       h_sig, ua, "Expect:"};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if ((h = curl_slist_append(hdr, lines[i])) == NULL) {
			snprintf(err_text, FL_WH_ERROR_MAX, "out of memory");
			goto out;
		}
		hdr = h;
	}
	curl_easy_setopt(c, CURLOPT_URL, d->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never the environment's */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)cfg->webhook_timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	                 (long)(cfg->webhook_timeout < 5 ? cfg->webhook_timeout
	                                                 : 5));
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &at);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_answer);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &at);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(d->body));
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE, 1024L * 1024L);
	rc = curl_easy_perform(c);
	if (at.refused) {
		snprintf(err_text, FL_WH_ERROR_MAX,
		         "refused to connect to %s: a loopback or private "
		         "address (webhook_allow_private is off)",
		         at.refused_addr);
		goto out;
	}
	if (rc != CURLE_OK) {
		snprintf(err_text, FL_WH_ERROR_MAX, "%s",
		         curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	*status = (int)code;
	if (code < 200 || code > 299)
		snprintf(err_text, FL_WH_ERROR_MAX, "HTTP %ld%s%.*s", code,
		         at.answer_len ? ": " : "", 160, at.answer);
out:
	fl_wipe(secret, sizeof(secret));
	curl_slist_free_all(hdr);
	if (c != NULL)
		curl_easy_cleanup(c);
}

/* --- the senders ---------------------------------------------------------- */

/* Records the outcome of an attempt of d at now; a 410 disables its
 * endpoint. */
static fl_err record(struct fl_webhooks *w, struct fl_wh_delivery *d,
                     int status, const char *why, fl_time now)
{
	struct fl_store *st = w->app->store;
	struct fl_wh_endpoint ep;
	struct fl_tx *tx = NULL;
	int64_t delay;
	fl_err err;

	d->attempts++;
	d->last_at = now;
	d->last_status = status;
	snprintf(d->last_error, sizeof(d->last_error), "%s", why);
	if (status >= 200 && status <= 299) {
		d->state = FL_WH_DELIVERED;
		d->done_at = now;
	} else if (status == 410) {
		d->state = FL_WH_FAILED;
		d->done_at = now;
	} else if ((delay = fl_webhook_retry_delay(
	                    d->attempts, w->app->cfg.webhook_retry_ms)) < 0) {
		d->state = FL_WH_FAILED;
		d->done_at = now;
	} else {
		d->next_at = now + delay;
	}
	if ((err = fl_store_begin(st, true, &tx)) != FL_OK)
		return err;
	err = fl_store_wh_delivery_update(tx, d);
	if (err == FL_OK && status == 410) {
		err = fl_store_wh_endpoint_get(tx, d->tenant_id, d->endpoint_id,
		                               &ep);
		if (err == FL_OK && ep.disabled_at == 0) {
			ep.disabled_at = now;
			snprintf(ep.disabled_reason, sizeof(ep.disabled_reason),
			         "the endpoint answered 410 Gone");
			err = fl_store_wh_endpoint_update(tx, &ep);
		}
	}
	if (err == FL_OK)
		return fl_tx_commit(tx);
	fl_tx_rollback(tx);
	return err;
}

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Deletes the events older than webhook_retention_days that have no
 * pending delivery, with their deliveries, in batches; one node at a
 * time does it (the job's claim). */
static void prune(struct fl_webhooks *w, fl_time now)
{
	int64_t due = atomic_load(&w->next_prune), n = PRUNE_BATCH, all = 0;
	fl_time before =
	        now - (fl_time)w->app->cfg.webhook_retention_days * FL_DAY;
	fl_err err = FL_OK;

	/* one sender thread of this process takes the turn */
	if (now < due || !atomic_compare_exchange_strong(&w->next_prune, &due,
	                                                 now + PRUNE_EVERY))
		return;
	while (err == FL_OK && n == PRUNE_BATCH && !atomic_load(&w->stop)) {
		struct fl_tx *tx = NULL;
		bool mine = false;

		n = 0;
		if ((err = fl_store_begin(w->app->store, true, &tx)) != FL_OK)
			break;
		err = fl_store_job_claim(tx, PRUNE_JOB, &mine);
		if (err == FL_OK && mine)
			err = fl_store_wh_prune(tx, before, PRUNE_BATCH, &n);
		if (err == FL_OK && mine)
			err = fl_tx_commit(tx);
		else
			fl_tx_rollback(tx);
		all += err == FL_OK ? n : 0;
	}
	if (err != FL_OK)
		fl_log(FL_LOG_ERROR, "webhook outbox pruning failed",
		       json_pack("{s:s}", "error", fl_strerror(err)));
	else if (all > 0)
		fl_log(FL_LOG_INFO, "webhook outbox pruned",
		       json_pack("{s:I,s:i}", "events", (json_int_t)all,
		                 "retention_days",
		                 w->app->cfg.webhook_retention_days));
}

static void *sender(void *arg)
{
	struct fl_webhooks *w = arg;
	struct fl_store *st = w->app->store;
	struct fl_wh_delivery d;

	while (!atomic_load(&w->stop)) {
		fl_time now = fl_clock_now(&w->clock);
		char why[FL_WH_ERROR_MAX];
		struct fl_tx *tx = NULL;
		int n = 0, status = 0;
		fl_err err;

		prune(w, now);
		err = fl_store_begin(st, true, &tx);
		if (err == FL_OK) {
			err = fl_store_wh_claim(
			        tx, now,
			        now + w->app->cfg.webhook_timeout + LEASE_SLACK,
			        1, &d, &n);
			if (err == FL_OK)
				err = fl_tx_commit(tx);
			else
				fl_tx_rollback(tx);
			if (err != FL_OK && n > 0) {
				free(d.body);
				n = 0;
			}
		}
		if (err != FL_OK || n == 0) {
			pause_ms(POLL_MS);
			continue;
		}
		post(w, &d, &status, why);
		err = record(w, &d, status, why, fl_clock_now(&w->clock));
		fl_log(status >= 200 && status <= 299 ? FL_LOG_DEBUG
		                                      : FL_LOG_WARN,
		       "webhook attempt",
		       json_pack("{s:s,s:s,s:I,s:i,s:i,s:s,s:s}", "event",
		                 d.event_id, "endpoint", d.endpoint_id,
		                 "delivery", (json_int_t)d.ord, "attempt",
		                 d.attempts, "status", status, "error", why,
		                 "recorded", fl_strerror(err)));
		free(d.body);
	}
	return NULL;
}

/* Reads DATA/webhook.k4secret, creating it (0600) the first time. */
static fl_err load_key(struct fl_webhooks *w, const char *dir)
{
	char path[4200], buf[FL_PASERK_SECRET_SIZE + 8];
	size_t n = 0;
	fl_err err;

	if ((err = fl_files_join(path, sizeof(path), dir,
	                         "webhook.k4secret")) != FL_OK)
		return err;
	err = fl_files_read(path, buf, sizeof(buf) - 1, &n);
	if (err == FL_E_NOT_FOUND) {
		if ((err = fl_signer_generate(&w->key)) != FL_OK ||
		    (err = fl_paserk_secret_encode(buf, w->key.sk)) != FL_OK)
			return err;
		err = fl_files_write(path, buf, strlen(buf), 0600, true);
		fl_wipe(buf, sizeof(buf));
		return err;
	}
	if (err != FL_OK)
		return err;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	err = fl_signer_from_paserk(&w->key, buf);
	fl_wipe(buf, sizeof(buf));
	return err;
}

fl_err fl_webhooks_install_cert(const char *dir,
                                const uint8_t root_pk[FL_SIGN_PK_LEN],
                                const char *cert, fl_time now,
                                char kid[FL_KID_MAX])
{
	char path[4200], buf[FL_PASERK_SECRET_SIZE + 8];
	uint8_t pk[FL_SIGN_PK_LEN];
	struct fl_signer key;
	size_t n = 0;
	fl_err err;

	kid[0] = '\0';
	memset(&key, 0, sizeof(key));
	if ((err = fl_webhook_keycert_verify(root_pk, cert, now, pk)) != FL_OK)
		return err;
	if ((err = fl_files_join(path, sizeof(path), dir,
	                         "webhook.k4secret")) != FL_OK ||
	    (err = fl_files_read(path, buf, sizeof(buf) - 1, &n)) != FL_OK)
		return err;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	err = fl_signer_from_paserk(&key, buf);
	fl_wipe(buf, sizeof(buf));
	if (err != FL_OK)
		return err;
	if (memcmp(key.pk, pk, sizeof(pk)) != 0)
		err = FL_E_AUTH; /* another key's certificate */
	else
		snprintf(kid, FL_KID_MAX, "%s", key.kid);
	fl_signer_wipe(&key);
	if (err == FL_OK &&
	    (err = fl_files_join(path, sizeof(path), dir, "webhook.cert")) ==
	            FL_OK)
		err = fl_files_write(path, cert, strlen(cert), 0600, true);
	if (err != FL_OK)
		kid[0] = '\0';
	return err;
}

/* The key's certificate: DATA/webhook.cert as the operator installed
 * it, else one from a development root; none otherwise. */
static fl_err load_cert(struct fl_webhooks *w, const char *dir, fl_time now)
{
	char path[4200];
	size_t n = 0;
	fl_err err;

	if ((err = fl_files_join(path, sizeof(path), dir, "webhook.cert")) !=
	    FL_OK)
		return err;
	if ((w->cert = malloc(4096)) == NULL)
		return FL_E_NOMEM;
	err = fl_files_read(path, w->cert, 4095, &n);
	if (err == FL_OK) {
		w->cert[n] = '\0';
		while (n > 0 && (w->cert[n - 1] == '\n' ||
		                 w->cert[n - 1] == '\r'))
			w->cert[--n] = '\0';
		return FL_OK;
	}
	free(w->cert);
	w->cert = NULL;
	if (err != FL_E_NOT_FOUND)
		return err;
	err = fl_signkeys_dev_webhook_cert(w->app->keys, w->key.pk, now,
	                                   &w->cert);
	if (err == FL_E_STATE) {
		fl_log(FL_LOG_WARN,
		       "the webhook signing key has no certificate: install "
		       "one in webhook.cert (docs/webhooks.md)",
		       json_pack("{s:s}", "kid", w->key.kid));
		return FL_OK;
	}
	return err;
}

fl_err fl_webhooks_start(struct fl_webhooks **out, struct fl_app *app)
{
	struct fl_webhooks *w = calloc(1, sizeof(*w));
	fl_err err;

	*out = NULL;
	if (w == NULL)
		return FL_E_NOMEM;
	w->app = app;
	fl_clock_system(&w->clock);
	curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread uses it */
	if ((err = load_key(w, app->cfg.data_dir)) != FL_OK ||
	    (err = load_cert(w, app->cfg.data_dir,
	                     fl_clock_now(&app->clock))) != FL_OK)
		goto fail;
	if ((err = fl_paserk_pid(w->info.kid, w->key.pk)) != FL_OK ||
	    (err = fl_paserk_public_encode(w->info.pk, w->key.pk)) != FL_OK ||
	    (err = fl_b64_encode(w->info.pk_b64, sizeof(w->info.pk_b64),
	                         w->key.pk, sizeof(w->key.pk))) != FL_OK)
		goto fail;
	if (fl_signkeys_root(app->keys, w->info.root) != FL_OK)
		w->info.root[0] = '\0';
	w->info.cert = w->cert;
	for (int i = 0; i < app->cfg.webhook_senders && i < MAX_SENDERS; i++) {
		if (pthread_create(&w->thr[i], NULL, sender, w) != 0) {
			err = FL_E_NOMEM;
			fl_webhooks_stop(w);
			return err;
		}
		w->n_thr++;
	}
	*out = w;
	return FL_OK;
fail:
	fl_signer_wipe(&w->key);
	free(w->cert);
	free(w);
	return err;
}

void fl_webhooks_stop(struct fl_webhooks *w)
{
	if (w == NULL)
		return;
	atomic_store(&w->stop, true);
	for (int i = 0; i < w->n_thr; i++)
		pthread_join(w->thr[i], NULL);
	fl_signer_wipe(&w->key);
	free(w->cert);
	free(w);
}

void fl_webhooks_key_info(const struct fl_webhooks *w,
                          struct fl_webhook_key_info *out)
{
	*out = w->info;
}
