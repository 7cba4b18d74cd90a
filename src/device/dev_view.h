/*
 * dev_view.h - what the simulated phone shows: the status object behind
 * `status --json`, its human-readable form, and the lock screen and home
 * screen drawn in a terminal.
 *
 * Whoever has the agent open (run, or a short command) writes the status
 * object to run/status.json after every step (the snapshot); `status` and
 * `screen` read it without disturbing run. Its fields are listed in
 * docs/device.md; scripts and tests rely on their names.
 *
 * Text that came from the server (message, lender name, notices) is shown
 * with control characters replaced, so a message cannot drive the
 * terminal.
 *
 * Memory: functions returning json_t * give the caller a reference to
 * json_decref; NULL means out of memory.
 *
 * THREAD SAFETY: no shared state.
 */
#ifndef FL_DEV_VIEW_H
#define FL_DEV_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/err.h"
#include "finlock/agent.h"

struct dev_phone;
struct dev_hal;

#define DEV_STATUS_RECORD "status.json" /* the snapshot, under run/ */

/* "setup", "idle", "pairing", "enrolled", "released". */
const char *dev_view_phase_name(enum fl_agent_phase p);

/* The screen's fields as JSON (also run/screen.json). */
json_t *dev_view_screen_json(const struct fl_agent_screen *s);

/* The whole status object: the screen, the agent's bookkeeping, what the
 * platform enforces and the world around the phone. */
json_t *dev_view_status(struct dev_phone *p, const struct dev_hal *h,
                        const struct fl_agent_screen *s,
                        const struct fl_agent_status *st);

/* Writes / reads the snapshot run/status.json. Reading a phone that has
 * none yet is FL_E_NOT_FOUND. */
fl_err dev_view_snapshot_write(struct dev_phone *p,
                               const json_t *status) FL_MUST_USE;
fl_err dev_view_snapshot_read(const char *dir, json_t **out) FL_MUST_USE;

/* "KES 1,500.00": minor units with the currency's decimals. */
void dev_view_amount(char *out, size_t cap, long long minor,
                     const char *currency);

/* The status for people, one fact a line. */
void dev_view_print(FILE *out, const json_t *status);

/* One frame of the phone's display: the lock screen (locked or setting
 * up) or the home screen, in a box, then a status line. */
void dev_view_draw(FILE *out, const json_t *status);

#endif
