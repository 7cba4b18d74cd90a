/*
 * bench_agent.c - benchmark 4: what one check-in costs on the phone.
 *
 * The device agent library (libflagent.a) runs on the in-memory fake
 * platform of the agent tests (tests/support/agent_fakehal.h), enrolled
 * with the fake lender server (agent_fakesrv.h) exactly as the tests do.
 * For the timed check-ins the transport answers from answers prepared
 * beforehand (a real token signed by the certified key, the answer MAC
 * over the request's counter), so only the phone's work is timed: build
 * and MAC the request, persist the counter, decode and check the answer,
 * verify the token, persist the new state, enforce.
 *
 * Figures:
 *   - a check-in that brings a new token (seq + 1) and one that brings the
 *     token already held (the usual answer when nothing changed);
 *   - its parts: token verification (fl_device_token_verify: kid, Ed25519,
 *     claims decode and checks) and one persisted write (fl_persist_store:
 *     encode, seal in the secure hardware, write a slot, raise the
 *     counter; a check-in makes two:
 *     the counter before sending, the state after the answer); the time in
 *     the platform's write callback itself is shown apart;
 *   - the same write to a file with fsync, as a phone's flash would take it
 *     (this machine's disk, for scale only);
 *   - memory: heap the agent holds between calls, heap peak during a
 *     check-in above that, and stack depth (the check-in runs on a thread
 *     whose stack was painted beforehand).
 *
 * Code size is measured by bench/run.sh (size of libflagent.a and of a
 * minimal firmware link, bench/fwmin.c).
 *
 * The Makefile builds each benchmark from one source file, so the fake
 * platform and server of the tests are compiled in here by inclusion.
 */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include "bench.h"

#include "support/agent_fakehal.c"
#include "support/agent_fakesrv.c"

#include "agent/persist.h"

/* --- heap accounting --------------------------------------------------------
 * malloc and friends are replaced (glibc supports this: its own and every
 * library's calls come here) by wrappers that count the bytes of live
 * blocks, so the agent's heap use can be read off without a tool. */

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

static long long g_heap;      /* bytes in live blocks */
static long long g_heap_peak; /* highest g_heap since the last reset */

static void heap_add(void *p)
{
	if (p != NULL) {
		g_heap += (long long)malloc_usable_size(p);
		if (g_heap > g_heap_peak)
			g_heap_peak = g_heap;
	}
}

void *malloc(size_t n)
{
	void *p = __libc_malloc(n);

	heap_add(p);
	return p;
}

void *calloc(size_t n, size_t m)
{
	void *p = __libc_calloc(n, m);

	heap_add(p);
	return p;
}

void *realloc(void *old, size_t n)
{
	long long before = old ? (long long)malloc_usable_size(old) : 0;
	void *p = __libc_realloc(old, n);

	if (p != NULL || n == 0)
		g_heap -= before;
	heap_add(p);
	return p;
}

void free(void *p)
{
	if (p != NULL)
		g_heap -= (long long)malloc_usable_size(p);
	__libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p = __libc_memalign(align, n);

	if (p == NULL)
		return ENOMEM;
	heap_add(p);
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	void *p = __libc_memalign(align, n);

	heap_add(p);
	return p;
}

/* --- the platform, instrumented --------------------------------------------
 */

static fl_err (*g_orig_write)(void *ctx, const char *name, const uint8_t *buf,
                              size_t len);
static uint64_t g_write_ns;  /* time inside the platform's write */
static uint64_t g_writes;    /* persistent writes */
static size_t g_write_bytes; /* size of the last one */

static fl_err timed_write(void *ctx, const char *name, const uint8_t *buf,
                          size_t len)
{
	uint64_t t0 = bench_now_ns();
	fl_err err = g_orig_write(ctx, name, buf, len);

	g_write_ns += bench_now_ns() - t0;
	g_writes++;
	g_write_bytes = len;
	return err;
}

/* Prepared answers handed out in order by the transport. */
struct canned {
	char **answers;
	size_t n, next;
};

static fl_err canned_http(void *ctx, const struct fl_hal_request *req,
                          struct fl_hal_response *resp)
{
	struct canned *c = ctx;

	(void)req;
	if (c->next >= c->n)
		return FL_E_NET;
	return fl_fakehal_respond(resp, 200, c->answers[c->next++]);
}

/* The answer to the check-in with request counter `counter`, carrying
 * token and the server's certificate (as every finlockd answer does). */
static char *make_answer(struct fl_fakesrv *s, uint64_t counter,
                         const char *token)
{
	struct fl_dp_checkin_answer a = {0};
	char *json = NULL;

	a.time = s->now;
	a.next_checkin = 900;
	a.token = (char *)token;
	a.keys.certs[a.keys.n_certs++] = s->cert;
	if (fl_dp_answer_mac(a.mac, s->mac_key, counter, a.time, a.next_checkin,
	                     a.token) != FL_OK ||
	    fl_dp_checkin_answer_encode(&a, &json) != FL_OK)
		bench_die("cannot build an answer");
	return json;
}

/* --- a check-in on a painted stack ------------------------------------------
 */

#define STACK_SIZE  (1024 * 1024)
#define STACK_PAINT 0xA5

struct stack_run {
	struct fl_agent *a;
	fl_err err;
};

static void *stack_checkin(void *arg)
{
	struct stack_run *r = arg;

	r->err = fl_agent_checkin(r->a);
	return NULL;
}

/* Runs one check-in on a fresh painted stack; returns the bytes of stack
 * it touched. */
static size_t stack_depth(struct fl_agent *a, fl_err *err)
{
	uint8_t *stack = bench_alloc(STACK_SIZE);
	struct stack_run r = {a, FL_OK};
	pthread_attr_t attr;
	pthread_t th;
	size_t untouched = 0;

	memset(stack, STACK_PAINT, STACK_SIZE);
	pthread_attr_init(&attr);
	if (pthread_attr_setstack(&attr, stack, STACK_SIZE) != 0 ||
	    pthread_create(&th, &attr, stack_checkin, &r) != 0)
		bench_die("cannot start the stack thread");
	pthread_join(th, NULL);
	pthread_attr_destroy(&attr);
	/* The stack grows down: the low end stays painted. */
	while (untouched < STACK_SIZE && stack[untouched] == STACK_PAINT)
		untouched++;
	free(stack);
	*err = r.err;
	return STACK_SIZE - untouched;
}

/* --- the benchmark -----------------------------------------------------------
 */

/* Every figure is the median of ROUNDS rounds, the rounds of all figures
 * interleaved, so a burst of load from elsewhere on the machine moves one
 * round, not a figure. */
#define ROUNDS     7
#define N_CHECKINS 300 /* per round and kind */
#define N_VERIFY   300
#define N_WRITES   2000
#define N_FSYNC    30

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Microseconds per check-in over the next n prepared answers. */
static double run_checkins(struct fl_agent *a, size_t n)
{
	uint64_t t0 = bench_now_ns();

	for (size_t i = 0; i < n; i++)
		if (fl_agent_checkin(a) != FL_OK)
			bench_die("check-in %zu failed", i);
	return (double)(bench_now_ns() - t0) / (double)n / 1e3;
}

struct verify_ctx {
	struct fl_trust *trust;
	char **tokens; /* ROUNDS * N_CHECKINS, seq 1.. above the held one */
	size_t n_tokens;
	char *claims_json; /* one token's claims */
	uint8_t sig[FL_SIG_LEN], pk[FL_SIGN_PK_LEN];
	uint8_t msg[800]; /* an Ed25519 message the size of a token's */
	struct fl_claims_expect e;
};

static double run_verify(struct verify_ctx *v)
{
	struct fl_device_claims cl = {0};
	uint64_t t0 = bench_now_ns();

	for (size_t i = 0; i < N_VERIFY; i++) {
		v->e.last_seq = 0;
		if (fl_device_token_verify(v->trust, v->tokens[i % v->n_tokens],
		                           &v->e, &cl) != FL_OK)
			bench_die("token %zu does not verify", i);
		fl_claims_clear(&cl);
	}
	return (double)(bench_now_ns() - t0) / N_VERIFY / 1e3;
}

static double run_trust_verify(struct verify_ctx *v)
{
	uint64_t t0 = bench_now_ns();

	for (size_t i = 0; i < N_VERIFY; i++) {
		char *pl = NULL;
		size_t len = 0;

		if (fl_trust_verify(v->trust, FL_MSG_DEVICE_TOKEN,
		                    v->tokens[i % v->n_tokens], v->e.now, &pl,
		                    &len) != FL_OK)
			bench_die("token %zu does not verify", i);
		free(pl);
	}
	return (double)(bench_now_ns() - t0) / N_VERIFY / 1e3;
}

static double run_ed25519(struct verify_ctx *v)
{
	uint64_t t0 = bench_now_ns();

	for (size_t i = 0; i < N_VERIFY; i++)
		if (fl_sign_verify(v->sig, v->msg, sizeof(v->msg), v->pk) !=
		    FL_OK)
			bench_die("Ed25519 verify failed");
	return (double)(bench_now_ns() - t0) / N_VERIFY / 1e3;
}

static double run_claims(struct verify_ctx *v)
{
	struct fl_device_claims cl = {0};
	uint64_t t0 = bench_now_ns();

	for (size_t i = 0; i < N_VERIFY; i++) {
		if (fl_claims_decode(v->claims_json, strlen(v->claims_json),
		                     &cl) != FL_OK)
			bench_die("claims do not decode");
		fl_claims_clear(&cl);
	}
	return (double)(bench_now_ns() - t0) / N_VERIFY / 1e3;
}

static double run_writes(const struct fl_hal *hal, const struct fl_pstate *ps,
                         struct fl_persist_pos *pos)
{
	uint64_t t0 = bench_now_ns();

	for (size_t i = 0; i < N_WRITES; i++)
		if (fl_persist_store(hal, ps, pos) != FL_OK)
			bench_die("persisted write failed");
	return (double)(bench_now_ns() - t0) / N_WRITES / 1e3;
}

/* The agent's sealed state as the partition holds it (the newer valid
 * slot), decoded into *ps; returns the slot. */
static const struct fh_blob *read_state(struct fl_fakehal *fh,
                                        const struct fl_hal *hal,
                                        struct fl_pstate *ps)
{
	const char *names[2] = {FL_PERSIST_SLOT_A, FL_PERSIST_SLOT_B};
	const struct fh_blob *best = NULL;
	uint8_t *payload = NULL, *p;
	size_t plen = 0, len;
	uint64_t best_gen = 0, gen;

	for (int i = 0; i < 2; i++) {
		const struct fh_blob *b = fl_fakehal_blob(fh, names[i]);

		if (b == NULL || fl_persist_unseal(hal, b->data, b->len, &gen,
		                                   &p, &len) != FL_OK)
			continue;
		if (gen > best_gen) {
			best = b;
			best_gen = gen;
			free(payload);
			payload = p;
			plen = len;
		} else {
			free(p);
		}
	}
	if (best == NULL || fl_pstate_decode(payload, plen, ps) != FL_OK)
		bench_die("cannot read the agent's state back");
	free(payload);
	return best;
}

/* Microseconds for one write + fsync of len bytes to a file in dir. */
static double fsync_write(const char *dir, const uint8_t *data, size_t len)
{
	char path[4096];
	uint64_t t0;
	double us = NAN;
	int fd;

	snprintf(path, sizeof(path), "%s/agent.state.bench", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return NAN;
	t0 = bench_now_ns();
	for (size_t i = 0; i < N_FSYNC; i++)
		if (pwrite(fd, data, len, 0) != (ssize_t)len || fsync(fd) != 0)
			goto out;
	us = (double)(bench_now_ns() - t0) / N_FSYNC / 1e3;
out:
	close(fd);
	unlink(path);
	return us;
}

int main(int argc, char **argv)
{
	struct fl_fakehal *fh, *fh2;
	struct fl_fakesrv *srv;
	struct fl_hal hal, hal2;
	struct fl_agent *a = NULL;
	struct fl_agent_status st;
	struct canned canned = {0};
	struct verify_ctx v = {0};
	struct fl_pstate ps = {0};
	struct fl_persist_pos pos = {0, -1};
	const struct fh_blob *slot;
	double r_new[ROUNDS], r_same[ROUNDS], r_verify[ROUNDS], r_trust[ROUNDS],
	        r_ed[ROUNDS], r_claims[ROUNDS], r_write[ROUNDS];
	double us_new, us_same, us_verify, us_trust, us_ed, us_claims, us_write;
	double us_fsync, hal_write_us;
	uint64_t w0, wn0, writes_per;
	long long heap_before, held, peak_new;
	size_t stack_used, blob_len, token_len, k = 0;
	fl_err err;
	const char *tmpdir = argc > 1 ? argv[1] : "/tmp";
	char buf[64];

	if (fl_crypto_init() != FL_OK)
		bench_die("libsodium failed to start");

	/* A phone and its lender, as the agent tests set them up. */
	fh = fl_fakehal_new();
	srv = fh ? fl_fakesrv_new(fh->wall) : NULL;
	if (srv == NULL)
		bench_die("fake platform");
	fl_fakesrv_register(srv, "K7Q2-9XWD", fh->dev.imei[0], fh->dev.imei[1]);
	fh->server = fl_fakesrv_handle;
	fh->server_ctx = srv;
	fl_fakehal_hal(fh, &hal);
	g_orig_write = hal.persist_write;
	hal.persist_write = timed_write;

	heap_before = g_heap;
	if (fl_agent_open(&a, &hal, srv->root.pk) != FL_OK ||
	    fl_agent_setup(a) != FL_OK ||
	    fl_agent_enroll(a, "K7Q2-9XWD") != FL_OK ||
	    fl_agent_checkin(a) != FL_OK)
		bench_die("enrollment with the fake lender failed");
	fl_agent_status(a, &st);

	/* Prepared answers, in the order the rounds use them: per round,
	 * N_CHECKINS new tokens (seq + 1 each), then N_CHECKINS answers
	 * repeating the newest. Counters follow the agent's, one per
	 * check-in; the 2 extra answers are for the memory runs. */
	canned.n = ROUNDS * 2 * N_CHECKINS + 2;
	canned.answers = bench_alloc(canned.n * sizeof(char *));
	v.n_tokens = ROUNDS * N_CHECKINS;
	v.tokens = bench_alloc(v.n_tokens * sizeof(char *));
	for (size_t r = 0, t = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < N_CHECKINS; i++, k++) {
			if (fl_fakesrv_issue(srv) != FL_OK)
				bench_die("token signing failed");
			v.tokens[t++] = strdup(srv->token);
			canned.answers[k] = make_answer(srv, st.counter + 1 + k,
			                                srv->token);
		}
		for (size_t i = 0; i < N_CHECKINS; i++, k++)
			canned.answers[k] = make_answer(srv, st.counter + 1 + k,
			                                srv->token);
	}
	for (; k < canned.n; k++) {
		if (fl_fakesrv_issue(srv) != FL_OK)
			bench_die("token signing failed");
		canned.answers[k] =
		        make_answer(srv, st.counter + 1 + k, srv->token);
	}
	token_len = strlen(srv->token);
	fh->server = canned_http;
	fh->server_ctx = &canned;

	/* Verification alone, with a trust set like the agent's. */
	if (fl_trust_new(&v.trust, srv->root.pk) != FL_OK ||
	    fl_trust_add_cert(v.trust, srv->cert, srv->now, NULL) != FL_OK)
		bench_die("trust set");
	v.e.device_id = srv->device_id;
	v.e.imei = srv->imei[0];
	v.e.now = srv->now;
	v.e.skew = 300;
	{
		char *pl = NULL;
		size_t len = 0;
		uint8_t sk[FL_SIGN_SK_LEN];

		if (fl_trust_verify(v.trust, FL_MSG_DEVICE_TOKEN, v.tokens[0],
		                    srv->now, &pl, &len) != FL_OK)
			bench_die("token does not verify");
		v.claims_json = pl;
		fl_random(v.msg, sizeof(v.msg));
		fl_sign_keypair(v.pk, sk);
		fl_sign_detached(v.sig, v.msg, sizeof(v.msg), sk);
		fl_wipe(sk, sizeof(sk));
	}

	/* Persisted writes alone, on a platform of their own (the agent's
	 * partition stays as the agent wrote it). */
	slot = read_state(fh, &hal, &ps);
	blob_len = slot->len;
	fh2 = fl_fakehal_new();
	if (fh2 == NULL)
		bench_die("fake platform");
	fl_fakehal_hal(fh2, &hal2);

	w0 = g_writes;
	wn0 = g_write_ns;
	for (size_t r = 0; r < ROUNDS; r++) {
		r_new[r] = run_checkins(a, N_CHECKINS);
		r_same[r] = run_checkins(a, N_CHECKINS);
		r_verify[r] = run_verify(&v);
		r_trust[r] = run_trust_verify(&v);
		r_ed[r] = run_ed25519(&v);
		r_claims[r] = run_claims(&v);
		r_write[r] = run_writes(&hal2, &ps, &pos);
	}
	writes_per = (g_writes - w0) / (ROUNDS * 2 * N_CHECKINS);
	hal_write_us =
	        (double)(g_write_ns - wn0) / (double)(g_writes - w0) / 1e3;
	fl_agent_status(a, &st);
	if (st.seq != srv->seq - 2)
		bench_die("the agent holds seq %llu, the server issued %llu",
		          (unsigned long long)st.seq,
		          (unsigned long long)srv->seq - 2);
	us_new = median(r_new, ROUNDS);
	us_same = median(r_same, ROUNDS);
	us_verify = median(r_verify, ROUNDS);
	us_trust = median(r_trust, ROUNDS);
	us_ed = median(r_ed, ROUNDS);
	us_claims = median(r_claims, ROUNDS);
	us_write = median(r_write, ROUNDS);
	us_fsync = fsync_write(tmpdir, slot->data, slot->len);

	printf("  check-in with a new token: %.1f us; with the token already "
	       "held: %.1f us (medians of %d rounds)\n",
	       us_new, us_same, ROUNDS);
	printf("  token verification (fl_device_token_verify, %zu-byte "
	       "token): %.1f us\n",
	       token_len, us_verify);
	printf("    kid + signature (fl_trust_verify): %.1f us, of which "
	       "Ed25519 itself %.1f us; claims decode %.1f us\n",
	       us_trust, us_ed, us_claims);
	printf("  persisted writes per check-in: %llu; one (fl_persist_store, "
	       "%zu-byte slot): %.1f us, of which the platform's write "
	       "callback %.2f us\n",
	       (unsigned long long)writes_per, blob_len, us_write,
	       hal_write_us);
	printf("  rest of a new-token check-in (request, MACs, answer "
	       "decode, state copy, enforcement): %.1f us\n",
	       us_new - us_verify - (double)writes_per * us_write);
	printf("  the same slot written to a file with fsync on this "
	       "machine: %.0f us (a phone's flash differs)\n",
	       us_fsync);

	/* Memory: a check-in's heap peak and stack depth. */
	{
		long long base = g_heap;

		g_heap_peak = g_heap;
		if (fl_agent_checkin(a) != FL_OK)
			bench_die("check-in failed");
		peak_new = g_heap_peak - base;
		stack_used = stack_depth(a, &err);
		if (err != FL_OK)
			bench_die("check-in on the painted stack failed: %s",
			          fl_strerror(err));
	}
	/* What the agent holds: everything fl_agent_close gives back. */
	{
		long long before_close = g_heap;

		fl_agent_close(a);
		held = before_close - g_heap;
	}
	printf("  heap held by the agent between calls: %lld bytes; peak "
	       "during a check-in above that: %lld bytes\n",
	       held, peak_new);
	printf("  stack used by a check-in (deepest point, HAL callbacks "
	       "included): %zu bytes\n",
	       stack_used);
	(void)heap_before;

	snprintf(buf, sizeof(buf), "%.0f us", us_new);
	bench_result("4a", "agent: check-in, new token", buf, NULL, NAN, NULL,
	             NULL);
	snprintf(buf, sizeof(buf), "%.0f us", us_same);
	bench_result("4b", "agent: check-in, same token", buf, NULL, NAN, NULL,
	             NULL);
	snprintf(buf, sizeof(buf), "%.0f us", us_verify);
	bench_result("4c", "agent: token verification", buf, NULL, NAN, NULL,
	             NULL);
	snprintf(buf, sizeof(buf), "%llu x %.1f us",
	         (unsigned long long)writes_per, us_write);
	bench_result("4d", "agent: persisted writes (in memory)", buf, NULL,
	             NAN, NULL, NULL);
	snprintf(buf, sizeof(buf), "%.1f KiB",
	         (double)(held + peak_new) / 1024);
	bench_result("4e", "agent: heap peak (held + check-in)", buf, NULL, NAN,
	             NULL, NULL);
	snprintf(buf, sizeof(buf), "%.1f KiB", (double)stack_used / 1024);
	bench_result("4f", "agent: stack peak (check-in)", buf, NULL, NAN, NULL,
	             NULL);

	fl_pstate_clear(&ps);
	fl_trust_free(v.trust);
	for (size_t i = 0; i < v.n_tokens; i++)
		free(v.tokens[i]);
	free(v.tokens);
	free(v.claims_json);
	for (size_t i = 0; i < canned.n; i++)
		free(canned.answers[i]);
	free(canned.answers);
	fl_fakesrv_free(srv);
	fl_fakehal_free(fh);
	fl_fakehal_free(fh2);
	return 0;
}
