/*
 * dev_hal.h - the simulated phone's platform: a struct fl_hal over a phone
 * directory (dev_phone.h) and libcurl (dev_http.h).
 *
 *   persist_*, userdata_*  one file per blob in persist/ and userdata/,
 *                          written through a temporary file, fsync and
 *                          rename, the directory fsync'd after;
 *   tee_*                  the secure hardware: the trusted application
 *                          of dev_tee.h over tee/rom, tee/rpmb and
 *                          tee/keys (each written durably);
 *   apply                  records the restrictions, allowed apps and
 *                          lender numbers in force (run/policy.json);
 *   show                   records the screen as drawn (run/screen.json);
 *   reminder, notice       appended to userdata/notifications.json (the
 *                          newest DEV_HAL_NOTIFICATIONS kept);
 *   device                 IMEIs and serial from the factory image;
 *   sim_iccid, tamper      hw/sim and hw/tamper;
 *   wall                   the system clock plus hw/clock's offset;
 *   mono                   CLOCK_BOOTTIME in ms; the boot id hashes the
 *                          kernel's boot id with the phone's boot count,
 *                          so a simulated reboot is a new boot;
 *   http                   libcurl to the phone's server; FL_E_NET at once,
 *                          without touching the network, when hw/offline
 *                          is set or no server is known.
 *
 * THREAD SAFETY: one platform per thread, as the agent that uses it.
 */
#ifndef FL_DEV_HAL_H
#define FL_DEV_HAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "device/dev_http.h"
#include "device/dev_phone.h"
#include "finlock/agent.h"

#define DEV_HAL_NOTIFICATIONS 32 /* reminders and notices kept */
#define DEV_POLICY_RECORD     "policy.json"
#define DEV_SCREEN_RECORD     "screen.json"
#define DEV_NOTIFY_RECORD     "notifications.json"

/* What the platform enforces, as the agent last applied it. */
struct dev_applied {
	bool valid;          /* apply was called since the last boot */
	uint64_t mask;       /* FL_R_* in force */
	uint32_t guaranteed; /* FL_G_* kept working */
	char apps[FL_AGENT_APPS][FL_AGENT_APP_MAX]; /* allowed while locked */
	size_t n_apps;
	char phones[FL_AGENT_PHONES][FL_AGENT_PHONE_MAX]; /* lender's numbers */
	size_t n_phones;
};

/* How the last HTTP request went. */
struct dev_net_result {
	bool attempted;      /* a request was made (or refused offline) */
	bool offline;        /* refused: offline mode or no server */
	bool aborted;        /* ended by the abort test */
	fl_err err;          /* transport result: FL_OK when an answer came */
	int status;          /* HTTP status of the answer, 0 none */
	char error_code[64]; /* "code" of an error answer, "" none */
};

struct dev_hal;

/* A platform on phone (borrowed; it must outlive the platform). server:
 * the server URL to use instead of the phone's own (NULL: the phone's, see
 * dev_phone_server, read at every request). *out: dev_hal_free. */
fl_err dev_hal_new(struct dev_hal **out, struct dev_phone *phone,
                   const char *server) FL_MUST_USE;
void dev_hal_free(struct dev_hal *h);

/* Points the platform at another (reopened) phone; records are reloaded. */
void dev_hal_set_phone(struct dev_hal *h, struct dev_phone *phone);

/* Fills hal with this platform's callbacks (ctx = h). */
void dev_hal_fill(struct dev_hal *h, struct fl_hal *hal);

/* The abort test HTTP transfers consult (dev_http.h). */
void dev_hal_set_abort(struct dev_hal *h, dev_http_abort_fn fn, void *ctx);

/* What is enforced now (borrowed). */
const struct dev_applied *dev_hal_applied(const struct dev_hal *h);

/* The last request's outcome (borrowed); cleared by dev_hal_net_reset. */
const struct dev_net_result *dev_hal_net(const struct dev_hal *h);
void dev_hal_net_reset(struct dev_hal *h);

/* The server URL requests go to now ("" none). */
void dev_hal_server(const struct dev_hal *h, char out[DEV_URL_MAX + 1]);

/* The phone's wall clock (the host's time, dev_host_time, plus the
 * offset set-clock recorded). */
fl_err dev_hal_wall(const struct dev_hal *h, fl_time *now) FL_MUST_USE;

/* The host's time: the system clock, or, when FINLOCK_TEST_CLOCK names a
 * file, the seconds since 1970 written in it (a test moves the phone's
 * time with the server's test clock, docs/device.md; the platform's
 * monotonic clock then reads it too). A file that cannot be read gives
 * the system clock. */
fl_time dev_host_time(void);

#endif
