/*
 * device.h - finlock-device, the simulated phone: the pieces its commands
 * share.
 *
 * Every command follows one contract: --help prints its usage on stdout
 * and exits DEV_OK; a usage mistake prints one line on stderr and exits
 * DEV_USAGE; a refusal or invalid input exits DEV_REFUSED with one line on
 * stderr; a server that cannot be reached exits DEV_UNREACHABLE.
 *
 * The phone's directory is --dir DIR (before or after the command), else
 * $FINLOCK_DEVICE_DIR, else ./phone.
 *
 * A session is one process's turn with the agent: the phone's lock (asking
 * a running `run` to yield), the phone, its platform and the agent opened
 * on them. Commands that change anything do their work inside a session
 * and leave the status snapshot behind when they close it.
 *
 * THREAD SAFETY: the program is single-threaded.
 */
#ifndef FL_DEVICE_H
#define FL_DEVICE_H

#include <stdbool.h>
#include <stdio.h>

#include "core/err.h"
#include "finlock/agent.h"

struct dev_phone;
struct dev_hal;

enum dev_exit {
	DEV_OK = 0,          /* done */
	DEV_REFUSED = 1,     /* refused or invalid */
	DEV_USAGE = 2,       /* wrong arguments */
	DEV_UNREACHABLE = 3, /* the server could not be reached */
};

struct dev_cmd {
	const char *name;                  /* word on the command line */
	const char *summary;               /* one line for the help */
	int (*run)(int argc, char **argv); /* argv[0] is the command's name */
};

/* Prints "finlock-device: <fmt>" and a newline on stderr. */
void dev_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The phone directory in effect; dev_set_dir replaces it (--dir). */
const char *dev_dir(void);
void dev_set_dir(const char *dir);

/* Common option handling for a command's getopt loop: prints the usage
 * line for an unknown option or a missing argument and returns DEV_USAGE.
 */
int dev_bad_option(const char *cmd, char **argv);

/* Prints the reason a phone could not be opened (err from dev_phone_open
 * or the lock) and returns the exit code. */
int dev_open_failed(const char *dir, fl_err err);

/* Prints why a network operation failed (err from the agent, details from
 * the platform) as "<what>: <reason>" and returns the exit code:
 * DEV_UNREACHABLE for transport failures, DEV_REFUSED otherwise. */
int dev_net_failed(const struct dev_hal *h, const char *what, fl_err err);

/* --- sessions ------------------------------------------------------------- */

struct dev_session {
	struct dev_phone *phone; /* owned */
	struct dev_hal *hal;     /* owned */
	struct fl_agent *agent;  /* owned */
	int lock_fd;             /* the phone's lock, -1 not held */
};

/* Takes the phone's lock and opens everything: DEV_OK, or the exit code
 * after printing the reason. server: URL overriding the phone's (NULL). */
int dev_session_open(struct dev_session *s, const char *dir,
                     const char *server);

/* With the lock already held (s->lock_fd): opens the phone and the agent,
 * and the platform unless s->hal is already there (then it is pointed at
 * the reopened phone, keeping its connection). DEV_OK or an exit code. */
int dev_session_attach(struct dev_session *s, const char *dir,
                       const char *server);

/* Writes the status snapshot (run/status.json) from the agent. */
fl_err dev_session_snapshot(struct dev_session *s) FL_MUST_USE;

/* Closes the agent and the phone; frees the platform unless keep_hal. The
 * lock stays held. */
void dev_session_detach(struct dev_session *s, bool keep_hal);

/* Writes the snapshot, closes everything, releases the lock. */
void dev_session_close(struct dev_session *s);

/* --- commands ------------------------------------------------------------- */

int dev_cmd_create(int argc, char **argv);
int dev_cmd_enroll(int argc, char **argv);
int dev_cmd_run(int argc, char **argv);
int dev_cmd_status(int argc, char **argv);
int dev_cmd_screen(int argc, char **argv);
int dev_cmd_enter_code(int argc, char **argv);
int dev_cmd_factory_reset(int argc, char **argv);
int dev_cmd_reflash(int argc, char **argv);
int dev_cmd_set_clock(int argc, char **argv);
int dev_cmd_swap_sim(int argc, char **argv);
int dev_cmd_root(int argc, char **argv);
int dev_cmd_offline(int argc, char **argv);
int dev_cmd_reboot(int argc, char **argv);

/* Top-level entry point. */
int dev_main(int argc, char **argv);

#endif
