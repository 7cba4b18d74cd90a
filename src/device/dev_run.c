/*
 * dev_run.c - `finlock-device run`: the phone's firmware loop.
 *
 * The loop owns the agent for as long as it runs:
 *
 *   every second     fl_agent_tick (time passing, SIM and tamper signals,
 *                    reminders, lock at lock_at even with no network),
 *                    then the status snapshot is rewritten;
 *   when due         the network step for the agent's phase: setup lookup
 *                    (SETUP), pairing enrollment (PAIRING), check-in when
 *                    the server's hint says (ENROLLED, RELEASED without
 *                    its receipt) and otherwise a long-poll wait, so a
 *                    payment unlocks the phone within a second; nothing
 *                    in IDLE (it waits for `enroll`) or once released.
 *
 * A failed step (no network, a server that is down, an answer that does
 * not verify) changes nothing in the agent's state; the loop logs one line
 * and retries after fl_agent_next_delay (5 s doubling to an hour, with
 * jitter). A long-poll is cut short, without counting as a failure, when
 * the lock time or the end of a code unlock comes (the tick must act), when
 * a command asks for the phone (SIGUSR1: the loop closes the agent, waits
 * its turn at the lock and reopens on what the command left), and on
 * SIGTERM or SIGINT, which end the loop cleanly (exit 0).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/fltime.h"
#include "core/state.h"
#include "device/dev_hal.h"
#include "device/dev_lock.h"
#include "device/dev_phone.h"
#include "device/dev_view.h"
#include "device/device.h"

#define TICK_MS        1000
#define WAIT_S         60   /* long-poll length asked of the agent */
#define WAIT_SPACING   1000 /* at least this long between two waits */
#define FALLBACK_DELAY 60   /* seconds, when the agent names none */
#define NEVER          INT64_MAX

static volatile sig_atomic_t run_stop;  /* SIGTERM, SIGINT */
static volatile sig_atomic_t run_yield; /* SIGUSR1: a command waits */

struct runner {
	struct dev_session s;
	const char *dir;
	const char *server; /* --server, or NULL */
	int64_t next_tick;  /* monotonic ms */
	int64_t net_at;     /* next network step, NEVER none */
	int64_t checkin_at; /* next check-in (waits in between) */
	fl_time deadline;   /* wall time that ends a wait early, 0 none */
	bool deadline_hit;  /* the last wait ended for the deadline */
	bool reopen;        /* open the agent afresh before going on */

	/* what was logged, so the log says each thing once */
	bool failing;     /* the last network step failed */
	fl_err tick_err;  /* the last tick's result */
	bool snap_failed; /* the last snapshot could not be written */
	struct fl_agent_screen seen; /* the screen as last logged */
	uint64_t seen_seq;
	bool seen_valid;
};

static void on_stop(int sig)
{
	(void)sig;
	run_stop = 1;
}

static void on_yield(int sig)
{
	(void)sig;
	run_yield = 1;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One log line on stderr: "finlock-device: <UTC time> <message>". */
static void run_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run_log(const char *fmt, ...)
{
	char when[FL_TIME_STR_LEN];
	va_list ap;

	fl_time_format(dev_host_time(), when);
	fprintf(stderr, "finlock-device: %s ", when);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static bool should_abort(void *ctx)
{
	struct runner *r = ctx;
	fl_time now;

	if (run_stop || run_yield)
		return true;
	if (r->deadline != 0 && dev_hal_wall(r->s.hal, &now) == FL_OK &&
	    now >= r->deadline) {
		r->deadline_hit = true;
		return true;
	}
	return false;
}

/* Logs what changed on the screen since the last look: phase, lock,
 * token, pairing code. */
static void log_changes(struct runner *r)
{
	struct fl_agent_screen scr;
	struct fl_agent_status st;
	const struct fl_agent_screen *old = r->seen_valid ? &r->seen : NULL;

	fl_agent_screen(r->s.agent, &scr);
	fl_agent_status(r->s.agent, &st);
	if (old == NULL || old->phase != scr.phase)
		run_log("phase %s", dev_view_phase_name(scr.phase));
	if (old == NULL || old->locked != scr.locked ||
	    old->stolen != scr.stolen) {
		if (scr.locked)
			run_log("LOCKED: %s", scr.message);
		else if (old != NULL)
			run_log("unlocked");
	}
	if (st.seq != r->seen_seq && st.seq != 0)
		run_log("token seq %llu: state %s", (unsigned long long)st.seq,
		        fl_state_name(scr.state));
	if (scr.pairing_code[0] != '\0' &&
	    (old == NULL || strcmp(old->pairing_code, scr.pairing_code) != 0))
		run_log("pairing code %s: read it to the lender to approve",
		        scr.pairing_code);
	r->seen = scr;
	r->seen_seq = st.seq;
	r->seen_valid = true;
}

static void snapshot(struct runner *r)
{
	fl_err err = dev_session_snapshot(&r->s);

	if (err && !r->snap_failed)
		run_log("cannot write the status snapshot: %s",
		        fl_strerror(err));
	r->snap_failed = err != FL_OK;
}

static void tick(struct runner *r)
{
	fl_err err = fl_agent_tick(r->s.agent);

	if (err != r->tick_err) {
		if (err)
			run_log("tick failed: %s", fl_strerror(err));
		else
			run_log("tick works again");
		r->tick_err = err;
	}
	log_changes(r);
	snapshot(r);
}

/* Why the last network step failed, in a few words. */
static void failure_reason(const struct runner *r, fl_err err, char *out,
                           size_t cap)
{
	const struct dev_net_result *n = dev_hal_net(r->s.hal);

	if (n->attempted && n->offline) {
		char url[DEV_URL_MAX + 1];
		dev_hal_server(r->s.hal, url);
		snprintf(out, cap, "%s",
		         url[0] ? "the phone is offline"
		                : "no server known (run with --server URL)");
	} else if (n->attempted && n->err != FL_OK) {
		snprintf(out, cap, "server unreachable: %s",
		         fl_strerror(n->err));
	} else if (err == FL_E_AGENT_STATUS && n->status != 0) {
		snprintf(out, cap, "server answered HTTP %d%s%s", n->status,
		         n->error_code[0] ? " " : "", n->error_code);
	} else {
		snprintf(out, cap, "%s", fl_strerror(err));
	}
}

/* The wall-clock time a wait must end at: when the lock time or the end
 * of a code unlock comes. The agent judges both on its effective time
 * (the later of trusted time and the wall clock), so the deadline is moved
 * earlier by however far trusted time is ahead of the wall clock. */
static fl_time wait_deadline(const struct runner *r)
{
	struct fl_agent_screen scr;
	struct fl_agent_status st;
	fl_time wall = 0, eff, d = 0, ahead;

	if (dev_hal_wall(r->s.hal, &wall) != FL_OK)
		return 0;
	fl_agent_screen(r->s.agent, &scr);
	fl_agent_status(r->s.agent, &st);
	eff = st.effective_time > wall ? st.effective_time : wall;
	ahead = eff - wall;
	if (!scr.locked && scr.lock_at > eff)
		d = scr.lock_at;
	if (scr.unlock_until > eff && (d == 0 || scr.unlock_until < d))
		d = scr.unlock_until;
	return d != 0 ? d - ahead : 0;
}

static void net_step(struct runner *r)
{
	struct fl_agent *a = r->s.agent;
	struct fl_agent_status st, after;
	const char *what;
	bool is_wait = false, is_checkin = false;
	int64_t start = mono_ms(), now, delay;
	char why[256];
	fl_err err;

	fl_agent_status(a, &st);
	dev_hal_net_reset(r->s.hal);
	r->deadline = 0;
	r->deadline_hit = false;
	switch (st.phase) {
	case FL_AGENT_IDLE:
		r->net_at = NEVER; /* waits for `enroll` */
		return;
	case FL_AGENT_SETUP:
		what = "setup lookup";
		err = fl_agent_setup(a);
		break;
	case FL_AGENT_PAIRING:
		what = "pairing enrollment";
		err = fl_agent_checkin(a);
		break;
	case FL_AGENT_RELEASED:
		if (fl_agent_next_delay(a) < 0) {
			r->net_at = NEVER; /* the receipt is kept: done */
			return;
		}
		what = "check-in";
		is_checkin = true;
		err = fl_agent_checkin(a);
		break;
	case FL_AGENT_ENROLLED:
	default:
		if (start >= r->checkin_at) {
			what = "check-in";
			is_checkin = true;
			err = fl_agent_checkin(a);
		} else {
			what = "wait";
			is_wait = true;
			r->deadline = wait_deadline(r);
			err = fl_agent_wait(a, WAIT_S);
			r->deadline = 0;
		}
		break;
	}
	now = mono_ms();
	if (dev_hal_net(r->s.hal)->aborted) {
		/* cut short on purpose: nothing is wrong with the network */
		r->net_at = now;
		if (r->deadline_hit) {
			/* The agent counted the cut-short wait as a network
			 * failure; reopening it (as a firmware restart would)
			 * forgets that, so no backoff follows. */
			r->reopen = true;
			r->next_tick = now;
		}
		return;
	}
	delay = fl_agent_next_delay(a);
	if (err == FL_OK) {
		if (r->failing)
			run_log("%s succeeded: the server is reachable again",
			        what);
		r->failing = false;
		if (is_checkin)
			r->checkin_at = delay < 0 ? NEVER : now + delay * 1000;
		else if (!is_wait)
			r->checkin_at = now; /* set up or enrolled: check in */
		/* A wait that brought a new token is followed by the next at
		 * once, so two changes a moment apart (a payment, then a lock)
		 * both reach the phone within a second; only a wait that came
		 * back with nothing new is spaced out. */
		fl_agent_status(a, &after);
		r->net_at = is_wait && after.seq == st.seq &&
		                            now < start + WAIT_SPACING
		                    ? start + WAIT_SPACING
		                    : now;
		return;
	}
	if (delay < 0)
		delay = FALLBACK_DELAY;
	if (err == FL_E_AGENT_PENDING) {
		r->net_at = now + delay * 1000;
		return;
	}
	failure_reason(r, err, why, sizeof(why));
	run_log("%s failed: %s; retrying in %lld s", what, why,
	        (long long)delay);
	r->failing = true;
	r->net_at = now + delay * 1000;
}

/* What decides whether a network step is worth trying again at once. */
struct net_view {
	enum fl_agent_phase phase;
	bool offline;
	char server[DEV_URL_MAX + 1];
};

static void net_view(const struct runner *r, struct net_view *v)
{
	struct fl_agent_status st;

	fl_agent_status(r->s.agent, &st);
	v->phase = st.phase;
	v->offline = dev_phone_offline(r->s.phone);
	dev_hal_server(r->s.hal, v->server);
}

/* Gives the phone to a waiting command and takes it back. The retry
 * schedule survives, so a stream of commands does not turn into a stream
 * of requests; it restarts at once when the command changed what the
 * network step depends on (the phase, offline mode, the server). Returns
 * DEV_OK to go on, -1 to stop cleanly, or an exit code. */
static int yield(struct runner *r)
{
	struct net_view before, after;
	fl_err err;
	int rc;

	snapshot(r);
	net_view(r, &before);
	dev_session_detach(&r->s, true);
	dev_lock_release(r->s.lock_fd);
	r->s.lock_fd = -1;
	err = dev_lock_reacquire(r->dir, &run_stop, &r->s.lock_fd);
	if (err == FL_E_STATE)
		return -1;
	if (err) {
		dev_err("run: cannot take the phone back: %s",
		        fl_strerror(err));
		return DEV_REFUSED;
	}
	rc = dev_session_attach(&r->s, r->dir, r->server);
	if (rc != DEV_OK)
		return rc;
	run_yield = 0;
	net_view(r, &after);
	r->next_tick = mono_ms();
	if (before.phase != after.phase || before.offline != after.offline ||
	    strcmp(before.server, after.server) != 0)
		r->net_at = r->checkin_at = r->next_tick;
	return DEV_OK;
}

static const char run_usage[] =
        "usage: finlock-device run [--server URL] [--dir DIR]\n"
        "\n"
        "Runs the phone's firmware until SIGTERM or Ctrl-C (exit 0): "
        "finishes setup\n"
        "when the phone has none (a lookup on the server), checks in, "
        "long-polls\n"
        "for changes so a payment unlocks within a second, ticks every "
        "second\n"
        "(locks on time even offline), and retries failures with "
        "backoff, one log\n"
        "line each. URL replaces the server the phone knows (and is "
        "recorded).\n"
        "Other commands can be used meanwhile: they take the phone for a "
        "moment.\n";

int dev_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"server", required_argument, NULL, 'u'},
	        {"dir", required_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	static struct runner r;
	struct sigaction sa;
	char url[DEV_URL_MAX + 1];
	int c, rc = DEV_OK, run_fd = -1;
	fl_err err;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			r.server = optarg;
			break;
		case 'd':
			dev_set_dir(optarg);
			break;
		case 'h':
			fputs(run_usage, stdout);
			return DEV_OK;
		default:
			return dev_bad_option("run", argv);
		}
	}
	if (optind < argc) {
		dev_err("run: unexpected argument '%s'", argv[optind]);
		return DEV_USAGE;
	}
	if (r.server != NULL && dev_url_check(r.server) != FL_OK) {
		dev_err("run: --server must be an http:// or https:// URL");
		return DEV_USAGE;
	}
	r.dir = dev_dir();
	r.s.lock_fd = -1;
	if (!dev_phone_exists(r.dir))
		return dev_open_failed(r.dir, FL_E_NOT_FOUND);

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop; /* no SA_RESTART: sleeps end at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_yield;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	err = dev_lock_run_claim(r.dir, &run_fd);
	if (err == FL_E_CONFLICT) {
		dev_err("run: the phone in %s is already running", r.dir);
		return DEV_REFUSED;
	}
	if (err)
		return dev_open_failed(r.dir, err);
	err = dev_lock_acquire(r.dir, DEV_LOCK_WAIT_MS, &r.s.lock_fd);
	if (err) {
		rc = dev_open_failed(r.dir, err);
		goto out;
	}
	rc = dev_session_attach(&r.s, r.dir, r.server);
	if (rc != DEV_OK)
		goto out;
	if (r.server != NULL && dev_phone_set_server(r.s.phone, r.server))
		run_log("cannot record the server %s", r.server);
	dev_hal_set_abort(r.s.hal, should_abort, &r);
	dev_hal_server(r.s.hal, url);
	run_log("running the phone in %s (server %s)", r.dir,
	        url[0] ? url : "none known");
	r.next_tick = r.net_at = r.checkin_at = mono_ms();

	while (!run_stop) {
		int64_t now, wake;

		if (run_yield) {
			rc = yield(&r);
			if (rc != DEV_OK)
				break;
			dev_hal_set_abort(r.s.hal, should_abort, &r);
			continue;
		}
		if (r.reopen) {
			r.reopen = false;
			dev_session_detach(&r.s, true);
			rc = dev_session_attach(&r.s, r.dir, r.server);
			if (rc != DEV_OK)
				break;
		}
		now = mono_ms();
		if (now >= r.next_tick) {
			tick(&r);
			r.next_tick = now + TICK_MS;
		}
		if (!run_stop && !run_yield && mono_ms() >= r.net_at) {
			net_step(&r);
			log_changes(&r);
			snapshot(&r);
			continue;
		}
		now = mono_ms();
		wake = r.next_tick < r.net_at ? r.next_tick : r.net_at;
		if (wake > now) {
			int64_t ms =
			        wake - now > TICK_MS ? TICK_MS : wake - now;
			struct timespec ts = {(time_t)(ms / 1000),
			                      (long)(ms % 1000) * 1000000L};
			nanosleep(&ts, NULL); /* a signal ends it early */
		}
	}
	if (rc == -1)
		rc = DEV_OK;
	if (rc == DEV_OK)
		run_log("stopped");
out:
	dev_session_close(&r.s);
	dev_lock_release(run_fd);
	return rc;
}
