/*
 * dev_cmd_agent.c - commands that talk to the agent: enroll, enter-code,
 * status, screen.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/fltime.h"
#include "device/dev_hal.h"
#include "device/dev_lock.h"
#include "device/dev_phone.h"
#include "device/dev_view.h"
#include "device/device.h"

#define STATUS_LOCK_WAIT_MS 5000 /* a short command may hold the phone */
#define SNAPSHOT_WAIT_MS    3000 /* a run just started may not have one */
#define SCREEN_POLL_MS      250
#define SCREEN_REFRESH_MS   1000 /* re-reading the agent without run */

/* --- enroll --------------------------------------------------------------- */

static const char enroll_usage[] =
        "usage: finlock-device enroll [--server URL] [--code CODE] [--dir "
        "DIR]\n"
        "\n"
        "Enrolls the phone with the one-time CODE a clerk got when "
        "registering it.\n"
        "A phone that has not finished setup looks itself up on the "
        "server first.\n"
        "URL is the lender's server (recorded for later; the one known "
        "already is\n"
        "used when it is left out). Without --code, a reflashed phone asks "
        "to\n"
        "re-enroll by the pairing code it shows, which the lender "
        "approves.\n"
        "Exit 3 when the server cannot be reached.\n";

int dev_cmd_enroll(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"server", required_argument, NULL, 'u'},
	        {"code", required_argument, NULL, 'c'},
	        {"dir", required_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	const char *server = NULL, *code = NULL, *dir;
	struct dev_session s = {.lock_fd = -1};
	struct fl_agent_screen scr;
	struct fl_agent_status st;
	char url[DEV_URL_MAX + 1];
	fl_err err;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			server = optarg;
			break;
		case 'c':
			code = optarg;
			break;
		case 'd':
			dev_set_dir(optarg);
			break;
		case 'h':
			fputs(enroll_usage, stdout);
			return DEV_OK;
		default:
			return dev_bad_option("enroll", argv);
		}
	}
	if (optind < argc) {
		dev_err("enroll: unexpected argument '%s'", argv[optind]);
		return DEV_USAGE;
	}
	if (server != NULL && dev_url_check(server) != FL_OK) {
		dev_err("enroll: --server must be an http:// or https:// URL");
		return DEV_USAGE;
	}
	if (code != NULL && (code[0] == '\0' || strlen(code) > 64)) {
		dev_err("enroll: --code must be 1 to 64 characters");
		return DEV_USAGE;
	}
	dir = dev_dir();
	rc = dev_session_open(&s, dir, server);
	if (rc != DEV_OK)
		return rc;
	dev_hal_server(s.hal, url);
	if (url[0] == '\0') {
		dev_err("enroll: no server known for this phone (give "
		        "--server URL)");
		rc = DEV_USAGE;
		goto out;
	}
	if (server != NULL && dev_phone_set_server(s.phone, server) != FL_OK) {
		dev_err("enroll: cannot record the server");
		rc = DEV_REFUSED;
		goto out;
	}
	fl_agent_status(s.agent, &st);
	if (st.phase == FL_AGENT_ENROLLED || st.phase == FL_AGENT_RELEASED) {
		dev_err("enroll: the phone is already enrolled (%s)",
		        st.device_id);
		rc = DEV_REFUSED;
		goto out;
	}
	if (st.phase == FL_AGENT_SETUP) {
		err = fl_agent_setup(s.agent);
		if (err) {
			rc = dev_net_failed(s.hal, "enroll: setup lookup", err);
			goto out;
		}
		fl_agent_status(s.agent, &st);
	}
	if (code == NULL && st.phase != FL_AGENT_PAIRING) {
		dev_err("enroll: --code is required (the phone is not "
		        "re-enrolling by pairing code)");
		rc = DEV_USAGE;
		goto out;
	}
	err = fl_agent_enroll(s.agent, code);
	fl_agent_screen(s.agent, &scr);
	if (err == FL_E_AGENT_PENDING) {
		printf("pairing code %s shown: waiting for the lender to "
		       "approve it\n",
		       scr.pairing_code);
		rc = DEV_OK;
		goto out;
	}
	if (err) {
		rc = dev_net_failed(s.hal, "enroll", err);
		goto out;
	}
	if (fl_agent_tick(s.agent) != FL_OK)
		dev_err("enroll: the first tick failed; 'run' retries it");
	fl_agent_status(s.agent, &st);
	fl_agent_screen(s.agent, &scr);
	printf("enrolled as %s: state %s%s\n", st.device_id,
	       scr.locked ? "locked" : "unlocked",
	       scr.phase == FL_AGENT_RELEASED ? " (released)" : "");
	rc = DEV_OK;
out:
	dev_session_close(&s);
	return rc;
}

/* --- enter-code ------------------------------------------------------------
 */

static const char code_usage[] =
        "usage: finlock-device enter-code CODE [--dir DIR]\n"
        "\n"
        "Types the 10-digit offline unlock code support read out over the "
        "phone.\n"
        "Five wrong codes a day are allowed; every try counts, right or "
        "wrong.\n";

int dev_cmd_enter_code(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"dir", required_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	struct dev_session s = {.lock_fd = -1};
	struct fl_agent_screen scr;
	char when[FL_TIME_STR_LEN];
	fl_err err;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dev_set_dir(optarg);
			break;
		case 'h':
			fputs(code_usage, stdout);
			return DEV_OK;
		default:
			return dev_bad_option("enter-code", argv);
		}
	}
	if (argc - optind != 1) {
		dev_err("enter-code: give one CODE");
		return DEV_USAGE;
	}
	rc = dev_session_open(&s, dev_dir(), NULL);
	if (rc != DEV_OK)
		return rc;
	if (fl_agent_tick(s.agent) != FL_OK)
		dev_err("enter-code: the agent's tick failed");
	err = fl_agent_enter_code(s.agent, argv[optind]);
	if (err == FL_E_STATE) {
		dev_err("enter-code: this phone takes no offline code now (it "
		        "is not enrolled, or it is released)");
		rc = DEV_REFUSED;
		goto out;
	}
	if (err) {
		dev_err("enter-code: %s", fl_strerror(err));
		rc = DEV_REFUSED;
		goto out;
	}
	fl_agent_screen(s.agent, &scr);
	if (scr.phase == FL_AGENT_RELEASED) {
		printf("code accepted: the phone is released\n");
	} else if (scr.unlock_until != 0) {
		fl_time_format(scr.unlock_until, when);
		printf("code accepted: unlocked until %s\n", when);
	} else {
		printf("code accepted\n");
	}
out:
	dev_session_close(&s);
	return rc;
}

/* --- status ----------------------------------------------------------------
 */

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The phone's status now. With `run` alive: its snapshot. Otherwise the
 * agent is opened (under the lock), given a tick, and the snapshot
 * rewritten. *out: json_decref. Returns an exit code. */
static int current_status(const char *dir, json_t **out)
{
	struct dev_session s = {.lock_fd = -1};
	bool running;
	fl_err err;
	int rc;

	*out = NULL;
	if (!dev_phone_exists(dir))
		return dev_open_failed(dir, FL_E_NOT_FOUND);
	running = dev_lock_running(dir);
	if (!running) {
		err = dev_lock_acquire(dir, STATUS_LOCK_WAIT_MS, &s.lock_fd);
		if (err == FL_OK) {
			rc = dev_session_attach(&s, dir, NULL);
			if (rc == DEV_OK && fl_agent_tick(s.agent) != FL_OK)
				dev_err("the agent's tick failed");
			dev_session_close(&s);
			if (rc != DEV_OK)
				return rc;
		}
		/* If the phone stayed busy, its holder's snapshot will do. */
	}
	for (int waited = 0;; waited += 100) {
		err = dev_view_snapshot_read(dir, out);
		if (err != FL_E_NOT_FOUND || waited >= SNAPSHOT_WAIT_MS)
			break;
		nap_ms(100);
	}
	if (err) {
		dev_err("no status for the phone in %s yet: %s", dir,
		        fl_strerror(err));
		return DEV_REFUSED;
	}
	json_object_set_new(*out, "running",
	                    json_boolean(dev_lock_running(dir)));
	return DEV_OK;
}

static const char status_usage[] =
        "usage: finlock-device status [--json] [--dir DIR]\n"
        "\n"
        "What the phone shows and enforces now: lock screen or not, the "
        "amount due,\n"
        "the lender, restrictions, allowed apps, the agent's token and "
        "trusted time,\n"
        "and the world around it (SIM, root, clock, network). --json prints "
        "one JSON\n"
        "object (fields listed in docs/device.md) for scripts.\n";

int dev_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"dir", required_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	bool as_json = false;
	json_t *st = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			as_json = true;
			break;
		case 'd':
			dev_set_dir(optarg);
			break;
		case 'h':
			fputs(status_usage, stdout);
			return DEV_OK;
		default:
			return dev_bad_option("status", argv);
		}
	}
	if (optind < argc) {
		dev_err("status: unexpected argument '%s'", argv[optind]);
		return DEV_USAGE;
	}
	rc = current_status(dev_dir(), &st);
	if (rc != DEV_OK)
		return rc;
	if (as_json) {
		char *text = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (text == NULL) {
			json_decref(st);
			dev_err("out of memory");
			return DEV_REFUSED;
		}
		printf("%s\n", text);
		free(text);
	} else {
		dev_view_print(stdout, st);
	}
	json_decref(st);
	return DEV_OK;
}

/* --- screen ----------------------------------------------------------------
 */

static volatile sig_atomic_t screen_stop;

static void on_screen_signal(int sig)
{
	(void)sig;
	screen_stop = 1;
}

static const char screen_usage[] =
        "usage: finlock-device screen [--once] [--dir DIR]\n"
        "\n"
        "Draws the phone's screen: the lock screen while it is locked "
        "(with the\n"
        "amount due, who to call, the loan reference, allowed apps and "
        "any pairing\n"
        "code), the home screen with reminders and notices otherwise. It "
        "is redrawn\n"
        "as it changes; q or Ctrl-C quits. --once prints one frame and "
        "exits.\n";

/* Draws a frame if it differs from the last one drawn (*last, a text we
 * own). */
static void redraw(const json_t *st, char **last, bool tty)
{
	char *frame = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&frame, &len);

	if (mem == NULL)
		return;
	dev_view_draw(mem, st);
	if (fclose(mem) != 0 || frame == NULL) {
		free(frame);
		return;
	}
	if (*last != NULL && strcmp(*last, frame) == 0) {
		free(frame);
		return;
	}
	free(*last);
	*last = frame;
	if (tty)
		fputs("\033[H\033[2J", stdout);
	else
		fputc('\n', stdout);
	fputs(frame, stdout);
	if (tty)
		fputs("q: quit\n", stdout);
	fflush(stdout);
}

/* The status without disturbing a run: the snapshot when run is alive;
 * otherwise the agent is re-read every SCREEN_REFRESH_MS. */
static int screen_status(const char *dir, json_t **out, bool refresh)
{
	fl_err err;

	if (refresh)
		return current_status(dir, out);
	err = dev_view_snapshot_read(dir, out);
	if (err) {
		*out = NULL;
		return current_status(dir, out);
	}
	json_object_set_new(*out, "running",
	                    json_boolean(dev_lock_running(dir)));
	return DEV_OK;
}

int dev_cmd_screen(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"once", no_argument, NULL, 'o'},
	        {"dir", required_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	struct sigaction sa;
	struct termios saved, raw;
	bool once = false, tty_in, tty_out, stdin_open = true;
	const char *dir;
	char *last = NULL;
	json_t *st = NULL;
	int c, rc, since_refresh = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			once = true;
			break;
		case 'd':
			dev_set_dir(optarg);
			break;
		case 'h':
			fputs(screen_usage, stdout);
			return DEV_OK;
		default:
			return dev_bad_option("screen", argv);
		}
	}
	if (optind < argc) {
		dev_err("screen: unexpected argument '%s'", argv[optind]);
		return DEV_USAGE;
	}
	dir = dev_dir();
	rc = current_status(dir, &st);
	if (rc != DEV_OK)
		return rc;
	if (once) {
		dev_view_draw(stdout, st);
		json_decref(st);
		return DEV_OK;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_screen_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	tty_in = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	tty_out = isatty(STDOUT_FILENO);
	if (tty_in) {
		raw = saved;
		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	while (!screen_stop) {
		struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
		int n;

		if (st != NULL) {
			redraw(st, &last, tty_out);
			json_decref(st);
			st = NULL;
		}
		n = poll(&pfd, stdin_open ? 1 : 0, SCREEN_POLL_MS);
		if (n > 0 && (pfd.revents & (POLLIN | POLLHUP))) {
			char ch[64];
			ssize_t got = read(STDIN_FILENO, ch, sizeof(ch));
			if (got <= 0)
				stdin_open =
				        false; /* end of input: keep drawing */
			for (ssize_t i = 0; i < got; i++)
				if (ch[i] == 'q' || ch[i] == 'Q')
					screen_stop = 1;
		}
		if (screen_stop)
			break;
		since_refresh += SCREEN_POLL_MS;
		rc = screen_status(dir, &st,
		                   since_refresh >= SCREEN_REFRESH_MS &&
		                           !dev_lock_running(dir));
		if (since_refresh >= SCREEN_REFRESH_MS)
			since_refresh = 0;
		if (rc != DEV_OK)
			break;
	}
	if (tty_in)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	json_decref(st);
	free(last);
	return rc;
}
