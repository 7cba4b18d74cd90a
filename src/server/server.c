/* server.c - start-up, the main loop, and shutdown. */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <pthread.h>
#include <time.h>

#include "core/crypto.h"
#include "core/version.h"
#include "server/ahead.h"
#include "server/apikeys.h"
#include "server/app.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/datadir.h"
#include "server/decide.h"
#include "server/files.h"
#include "server/holds.h"
#include "server/http.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/devauth.h"
#include "server/push.h"
#include "server/ratelimit.h"
#include "server/run.h"
#include "server/signkeys.h"
#include "server/sources.h"
#include "server/tokens.h"
#include "server/tokensign.h"
#include "server/tokensign.h"
#include "server/webhooks.h"
#include "store/store.h"

/* Freed memory goes back to the system as soon as requests pause (no new
 * one since the last look, half a second at most) after some were served:
 * after a burst, such as a fleet's first check-ins after a start, the
 * allocator keeps it otherwise. Under steady load, every FL_TRIM_PERIOD_S
 * (a trim takes milliseconds). */
#define FL_TRIM_PERIOD_S 5

struct trim {
	uint64_t seen;    /* requests at the last look */
	uint64_t trimmed; /* requests at the last trim */
	time_t at;        /* monotonic seconds of the last trim */
};

static void trim_memory(struct trim *t, uint64_t requests, time_t now)
{
	bool paused = requests == t->seen && requests != t->trimmed;

	if (paused || now >= t->at + FL_TRIM_PERIOD_S) {
		(void)malloc_trim(0);
		t->trimmed = requests;
		t->at = now;
	}
	t->seen = requests;
}

fl_err fl_server_data_dir(const char *dir)
{
	fl_err err = fl_files_mkdirs(dir, 0700);

	if (err != FL_OK) {
		fl_logf(FL_LOG_ERROR, "cannot create data directory", "%s: %s",
		        dir, strerror(errno));
		return err;
	}
	return FL_OK;
}

fl_err fl_server_open_store(const struct fl_config *cfg, struct fl_store **out)
{
	struct fl_store_sqlite_opts opts = {
	        .pool_size = cfg->db_pool,
	        .busy_timeout_ms = 5000,
	        .cache_mb = cfg->db_cache_mb,
	        .mmap_mb = cfg->db_mmap_mb,
	};
	char path[FL_CONFIG_PATH_MAX + 32];
	fl_err err;

	*out = NULL;
	if (cfg->database[0] != '\0') {
		struct fl_store_pg_opts pg = {.pool_size = cfg->db_pool};
		char name[512];

		err = fl_store_open_pg(out, cfg->database, &pg);
		if (err != FL_OK) {
			fl_datadir_db_name(cfg->database, name, sizeof(name));
			fl_logf(FL_LOG_ERROR, "cannot open the database",
			        "%s: %s%s%s", name, fl_strerror(err),
			        fl_store_errmsg()[0] != '\0' ? ": " : "",
			        fl_store_errmsg());
		}
		return err;
	}
	if ((err = fl_server_data_dir(cfg->data_dir)) != FL_OK)
		return err;
	if ((err = fl_files_join(path, sizeof(path), cfg->data_dir,
	                         "finlock.db")) != FL_OK)
		return err;
	err = fl_store_open_sqlite(out, path, &opts);
	if (err != FL_OK) {
		fl_logf(FL_LOG_ERROR, "cannot open the database", "%s: %s%s%s",
		        path, fl_strerror(err),
		        fl_store_errmsg()[0] != '\0' ? ": " : "",
		        fl_store_errmsg());
		return err;
	}
	/* The database file and its WAL were just created in the directory:
	 * make their names durable too. */
	if (fl_files_sync_dir(cfg->data_dir) != FL_OK)
		fl_logf(FL_LOG_WARN, "cannot sync the data directory", "%s",
		        cfg->data_dir);
	return FL_OK;
}

/* Connections need descriptors: lift the soft limit to what the
 * connection limit needs (or the hard limit, whichever is lower). */
static void raise_nofile(const struct fl_config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		/* root may raise the hard limit as well */
		struct rlimit hard = {want, want};

		if (setrlimit(RLIMIT_NOFILE, &hard) == 0)
			return;
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	    getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < (rlim_t)cfg->max_connections + 64)
		fl_logf(FL_LOG_WARN, "descriptor limit below connection limit",
		        "RLIMIT_NOFILE is %llu, max_connections %d",
		        (unsigned long long)rl.rlim_cur, cfg->max_connections);
}

/* Forgets idempotency records older than idempotency_ttl: a retry that
 * late is a new request. */
struct expire_io {
	fl_time ttl;
	int64_t n;
};

static fl_err expire_fn(struct fl_tx *tx, void *arg, fl_time now)
{
	struct expire_io *io = arg;

	io->n = 0;
	return fl_store_idem_expire(tx, now - io->ttl, &io->n);
}

static void expire_idempotency(struct fl_app *app)
{
	struct expire_io io = {app->cfg.idempotency_ttl, 0};
	fl_err err = fl_run(app->store, fl_clock_now(&app->clock), 0,
	                    expire_fn, &io, NULL);

	if (err != FL_OK)
		fl_log(FL_LOG_ERROR, "cannot expire idempotency records",
		       fl_log_err(NULL, err));
	else if (io.n > 0)
		fl_log(FL_LOG_INFO, "idempotency records expired",
		       json_pack("{s:I}", "count", (json_int_t)io.n));
}

/* Signs the head of every audit chain that grew since its last signature. */
static void sign_heads(struct fl_app *app)
{
	int n = 0;
	fl_err err = fl_audit_sign_all(app, fl_clock_now(&app->clock), &n);

	if (err != FL_OK)
		fl_log(FL_LOG_ERROR, "cannot sign audit heads",
		       fl_log_err(NULL, err));
	else if (n > 0)
		fl_log(FL_LOG_INFO, "audit heads signed",
		       json_pack("{s:i}", "chains", n));
}

/* Long polls park requests: the waiters table suspends and resumes their
 * connections through req.h. */
static const struct fl_push_hooks req_waiters = {
        .park = fl_req_park,
        .wake = fl_req_wake,
};

static volatile sig_atomic_t got_signal; /* SIGTERM or SIGINT seen */
static volatile sig_atomic_t got_hup;    /* SIGHUP seen: reload keys */

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_signal = sig;
}

/* Time-driven transitions: re-decide every device whose next change has
 * come (a reminder, a due date, lock_at, the end of an unlock), batch
 * after batch until a batch decides nothing (a device that cannot be
 * decided stays due, so "fewer than a full batch" would stop early). */
static struct fl_log_repeat sweep_log; /* the main loop's thread only */

/* A device the sweep moved (fl_decide_moved_fn): when a phone waits on
 * it, its token's draft from the decision's own device and inputs, so the
 * woken wait signs it on its own thread without reading the store. */
static void sweep_moved(void *arg, const struct fl_device *dev,
                        const struct fl_device_inputs *in, fl_time now)
{
	struct fl_app *app = arg;
	struct fl_token_draft dr;

	if (app->tokens == NULL || app->push == NULL ||
	    !fl_push_waited(app->push, dev->id))
		return;
	if (fl_token_draft_of(dev, in, now, now + (fl_time)app->cfg.token_ttl,
	                      &dr) != FL_OK)
		return; /* the wait builds it from the store */
	/* refused only for want of memory: the wait then reads the store */
	if (fl_tokens_draft(app->tokens, &dr) != FL_OK)
		return;
}

static void sweep(struct fl_app *app)
{
	int n = 0;
	fl_err err;

	do {
		err = fl_decide_sweep_with(app, fl_clock_now(&app->clock), 1024,
		                           sweep_moved, app, &n);
	} while (err == FL_OK && n > 0 && got_signal == 0);
	fl_log_round(&sweep_log, "sweep", err);
}

/* --- signatures made ahead (ahead.h) ----------------------------------------
 *
 * In the last AHEAD_S seconds before the next instant at which devices
 * change, the tokens of those the change will give a new seq, and whose
 * phone waits on a long-poll, are signed for that instant: at the instant
 * the sweep stores the decisions and the woken waits find their
 * signatures made. Each round of the main loop takes the phones that came
 * to wait since the last, and stops when the instant comes. */
#define AHEAD_S     5
#define AHEAD_LIMIT 16384 /* devices looked at for one instant */

struct ahead_run {
	struct fl_app *app;
	fl_time at;
	bool late; /* the instant came: the rest is signed then */
};

static bool ahead_want(void *arg, const char *id)
{
	struct ahead_run *r = arg;

	if (!r->late && fl_clock_now(&r->app->clock) >= r->at)
		r->late = true;
	return !r->late && fl_push_waited(r->app->push, id) &&
	       !fl_ahead_has(r->app->ahead, id, r->at);
}

static void ahead_moved(void *arg, const struct fl_device *dev,
                        const struct fl_device_inputs *in, fl_time at)
{
	struct ahead_run *r = arg;
	struct fl_app *app = r->app;
	struct fl_token_draft dr;
	char kid[FL_KID_MAX], *claims = NULL, *token = NULL;
	uint8_t sig[FL_SIG_LEN];

	/* a released device's token comes with its receipt: both at the
	 * instant */
	if (dev->st.state == FL_ST_RELEASED && !dev->st.stolen)
		return;
	if (fl_token_draft_of(dev, in, at, at + (fl_time)app->cfg.token_ttl,
	                      &dr) != FL_OK)
		return;
	if (fl_claims_encode(&dr.c, &claims) == FL_OK &&
	    fl_signkeys_sign_sig(app->keys, FL_MSG_DEVICE_TOKEN, claims,
	                         strlen(claims), at, &token, kid, sig) == FL_OK)
		(void)fl_ahead_put(app->ahead, dev->id, at, kid, claims,
		                   strlen(claims), sig);
	free(token);
	free(claims);
	fl_token_draft_clear(&dr);
}

/* The earliest next_change of any device still to come (0: none, or
 * the store could not say). */
static fl_time next_change(struct fl_app *app)
{
	struct fl_tx *tx = NULL;
	fl_time next = 0;

	if (fl_store_begin(app->store, false, &tx) == FL_OK) {
		if (fl_store_device_next_change(tx, fl_clock_now(&app->clock),
		                                &next) != FL_OK)
			next = 0;
		fl_tx_rollback(tx);
	}
	return next;
}

/* Signs ahead for the instant `at` (next_change) when it is near. */
static void sign_ahead(struct fl_app *app, fl_time at)
{
	struct ahead_run r = {app, at, false};
	fl_time now = fl_clock_now(&app->clock);
	int n = 0;

	if (app->ahead == NULL || app->push == NULL)
		return;
	fl_ahead_expire(app->ahead, now - 60);
	if (r.at <= now || r.at - now > AHEAD_S)
		return;
	if (fl_decide_ahead(app, r.at, AHEAD_LIMIT, ahead_want, ahead_moved, &r,
	                    &n) != FL_OK)
		return; /* the instant signs them */
	if (n > 0)
		fl_log(FL_LOG_DEBUG, "tokens signed ahead",
		       json_pack("{s:i,s:I}", "devices", n, "instant",
		                 (json_int_t)r.at));
}

#define TEST_CLOCK_POLL_NS 5000000 /* 5 ms */

/* How long the main loop sleeps before the next sweep: the sweep
 * interval, or until the earliest device's next change (next, read just
 * before) when that comes sooner, so a time-driven transition is made as
 * its second begins rather
 * than up to an interval late. */
static struct timespec sweep_pause(struct fl_app *app, fl_time next)
{
	int64_t ns = (int64_t)app->cfg.sweep_interval_ms * 1000000;
	struct timespec ts, now;

	clock_gettime(CLOCK_REALTIME, &now);
	if (fl_clock_is_test(&app->clock)) {
		/* The test clock jumps when a test sets it: look again soon,
		 * and sleep on its seconds. */
		ns = TEST_CLOCK_POLL_NS;
		now.tv_sec = (time_t)fl_clock_now(&app->clock);
		now.tv_nsec = 0;
	}
	/* A change already past was left by the sweep (a device it could
	 * not decide): it waits for the next interval, the others not. */
	if (next > now.tv_sec) {
		int64_t until =
		        (int64_t)(next - now.tv_sec) * 1000000000 - now.tv_nsec;

		if (until < ns)
			ns = until;
	}
	if (ns < 1000000)
		ns = 1000000;
	ts.tv_sec = (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	return ts;
}

int fl_server_run(const struct fl_config *cfg)
{
	struct fl_app *app = NULL;
	struct fl_http *http = NULL;
	char dbname[FL_CONFIG_PATH_MAX + 32];
	char secret[FL_APIKEY_LEN + 1] = "";
	struct sigaction sa;
	enum fl_log_level lvl = FL_LOG_INFO;
	struct fl_datadir dd;
	char why[FL_DATADIR_WHY_MAX];
	unsigned flags;
	int status = 1;
	fl_err err;

	memset(&dd, 0, sizeof(dd));

	if (fl_log_level_parse(cfg->log_level, &lvl) != FL_OK)
		lvl = FL_LOG_INFO;
	fl_log_init(stderr, lvl);
	if (fl_crypto_init() != FL_OK) {
		fl_logf(FL_LOG_ERROR, "cannot start", "libsodium failed");
		return 1;
	}
	app = calloc(1, sizeof(*app));
	if (app == NULL)
		return 1;
	app->cfg = *cfg;
	raise_nofile(cfg);
	fl_clock_system(&app->clock);
	if (cfg->test_clock[0] != '\0') {
		if (fl_clock_test(&app->clock, cfg->test_clock) != FL_OK) {
			fl_logf(FL_LOG_ERROR, "cannot read the test clock",
			        "%s", cfg->test_clock);
			goto out;
		}
		fl_logf(FL_LOG_WARN, "test clock in use",
		        "the server's time is read from %s", cfg->test_clock);
	}

	flags = FL_DATADIR_SERVE | FL_DATADIR_KEYS |
	        (cfg->allow_fresh_database ? FL_DATADIR_ALLOW_FRESH : 0) |
	        (cfg->accept_wal_loss ? FL_DATADIR_ACCEPT_WAL_LOSS : 0);
	if ((err = fl_datadir_open(cfg, flags, fl_clock_now(&app->clock), &dd, why)) !=
	    FL_OK) {
		fprintf(stderr, "finlockd: refused to start: %s\n", why);
		status = FL_SERVER_EXIT_REFUSED;
		goto out;
	}
	/* The store, keys and secrets are the app's now; dd keeps the lock
	 * until the very end. */
	app->store = dd.store;
	app->keys = dd.keys;
	app->secrets = dd.secrets;
	dd.store = NULL;
	dd.keys = NULL;
	fl_secrets_wipe(&dd.secrets);
	if ((err = fl_metrics_new(&app->metrics)) != FL_OK)
		goto out;
	if ((err = fl_push_new(&app->push, cfg->max_connections,
	                       &req_waiters)) != FL_OK ||
	    (err = fl_push_follow(app->push, app->store)) != FL_OK)
		goto out;
	if ((err = fl_tokens_new(&app->tokens, cfg->token_cache)) != FL_OK ||
	    (err = fl_ahead_new(&app->ahead, AHEAD_LIMIT)) != FL_OK ||
	    (err = fl_devauth_new(&app->devauth, app->store, &app->secrets,
	                          cfg->device_cache)) != FL_OK)
		goto out;
	if ((err = fl_ratelimit_new(&app->public_rl, cfg->public_rate,
	                            cfg->public_burst, cfg->public_global_rate,
	                            cfg->public_global_burst,
	                            cfg->ratelimit_clients)) != FL_OK)
		goto out;
	/* Console sign-ins: per client network, and no global cap (one
	 * busy network must not lock every lender out). */
	if ((err = fl_ratelimit_new(&app->signin_rl, cfg->signin_rate,
	                            cfg->signin_burst, 1e6, 1000000,
	                            cfg->ratelimit_clients)) != FL_OK)
		goto out;
	if ((err = fl_webhooks_start(&app->webhooks, app)) != FL_OK) {
		fl_logf(FL_LOG_ERROR, "cannot start the webhook senders", "%s",
		        fl_strerror(err));
		goto out;
	}
	err = fl_apikey_bootstrap(app->store, app->secrets.apikey_hash_key,
	                          fl_clock_now(&app->clock), secret);
	if (err != FL_OK) {
		fl_logf(FL_LOG_ERROR, "cannot create the operator key", "%s",
		        fl_strerror(err));
		goto out;
	}
	if (secret[0] != '\0') {
		/* Shown once; only its hash is kept. */
		printf("operator key: %s\n", secret);
		fflush(stdout);
		fl_wipe(secret, sizeof(secret));
		fl_log(FL_LOG_WARN,
		       "first start: operator key printed on "
		       "stdout; it is not shown again",
		       NULL);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	{
		/* HTTP threads inherit a mask without the stop signals, so
		 * they always land on the main thread. */
		sigset_t block, old;

		sigemptyset(&block);
		sigaddset(&block, SIGTERM);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &block, &old);
		/* a callback URL's secret never reaches a log */
		fl_http_set_log_path(fl_src_redact_path);
		err = fl_http_start(&http, app);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (err != FL_OK)
		goto out;
	printf("listening on %s\n", fl_http_address(http));
	fflush(stdout);
	if (cfg->database[0] != '\0')
		fl_datadir_db_name(cfg->database, dbname, sizeof(dbname));
	else
		snprintf(dbname, sizeof(dbname), "%s/finlock.db",
		         cfg->data_dir);
	fl_log(FL_LOG_INFO, "listening",
	       json_pack("{s:s,s:s,s:s,s:s,s:i,s:b,s:b,s:i,s:s}", "address",
	                 fl_http_address(http), "data", cfg->data_dir,
	                 "store", fl_store_backend(app->store), "database",
	                 dbname, "threads", cfg->threads, "tls",
	                 cfg->tls_cert[0] != '\0', "behind_tls_proxy",
	                 cfg->behind_tls_proxy, "schema",
	                 fl_store_schema_version(app->store), "version",
	                 fl_version()));

	fl_time next_heads = fl_clock_now(&app->clock) + cfg->audit_head_interval;
	fl_time next_expiry = fl_clock_now(&app->clock);
	fl_time next_feeds = fl_clock_now(&app->clock);
	time_t next_feeds_mono = 0;
	struct trim trim = {0};
	struct timespec mono;
	fl_time next = next_change(app);
	while (got_signal == 0) {
		struct timespec ts = sweep_pause(app, next);

		nanosleep(&ts, NULL);
		sweep(app);
		clock_gettime(CLOCK_MONOTONIC, &mono);
		if (fl_clock_now(&app->clock) >= next_feeds ||
		    mono.tv_sec >= next_feeds_mono) {
			/* payment feeds gone quiet hold automatic locks; a
			 * feed that spoke again ends its hold (each second of
			 * the server's clock, and of real time: a test clock
			 * may stand still) */
			fl_holds_tick(app, fl_clock_now(&app->clock));
			next_feeds = fl_clock_now(&app->clock) + 1;
			next_feeds_mono = mono.tv_sec + 1;
		}
		fl_push_expire(app->push, fl_clock_now(&app->clock));
		trim_memory(&trim, fl_http_requests(http), mono.tv_sec);
		if (fl_clock_now(&app->clock) >= next_heads) {
			sign_heads(app);
			next_heads = fl_clock_now(&app->clock) + cfg->audit_head_interval;
		}
		if (fl_clock_now(&app->clock) >= next_expiry) {
			expire_idempotency(app);
			next_expiry = fl_clock_now(&app->clock) + 600;
		}
		if (got_hup) {
			got_hup = 0;
			err = fl_signkeys_reload(app->keys, fl_clock_now(&app->clock));
			fl_log(err == FL_OK ? FL_LOG_INFO : FL_LOG_ERROR,
			       "signing keys reloaded",
			       json_pack("{s:s}", "result", fl_strerror(err)));
		}
		/* the next change, read once: signed ahead for when near,
		 * and what the next sleep waits for */
		next = next_change(app);
		sign_ahead(app, next);
	}
	fl_log(FL_LOG_INFO, "stopping",
	       json_pack("{s:s}", "signal",
	                 got_signal == SIGTERM ? "SIGTERM" : "SIGINT"));
	fl_http_quiesce(http);
	/* Long-polls answer now rather than at their deadline. */
	fl_push_release_all(app->push);
	if (fl_http_drain(http, cfg->shutdown_grace) > 0)
		fl_log(FL_LOG_WARN, "requests still in flight at shutdown",
		       NULL);
	sign_heads(app); /* the last word of this run, signed */
	status = 0;
out:
	fl_http_stop(http);
	fl_webhooks_stop(app->webhooks);
	/* the last check-in bookkeeping, written before the store closes */
	fl_devauth_free(app->devauth);
	fl_tokens_free(app->tokens);
	fl_ahead_free(app->ahead);
	fl_store_close(app->store);
	fl_signkeys_free(app->keys);
	fl_metrics_free(app->metrics);
	fl_ratelimit_free(app->public_rl);
	fl_ratelimit_free(app->signin_rl);
	if (app->push != NULL)
		fl_push_release_all(app->push);
	fl_push_free(app->push);
	fl_secrets_wipe(&app->secrets);
	free(app);
	fl_datadir_close(&dd); /* the lock goes last */
	if (status == 0)
		fl_log(FL_LOG_INFO, "stopped", NULL);
	return status;
}
