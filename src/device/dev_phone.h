/*
 * dev_phone.h - a simulated phone's data directory: its factory image,
 * partitions, keystore and the world around it (SIM, clock, network).
 *
 * Layout of DIR (see docs/device.md):
 *
 *   factory/root.pub     the operator's root public key (k4.public): the
 *                        trust anchor of the factory image
 *   factory/device.json  IMEIs, serial number and the server the factory
 *                        image names (may be ""): {"imei": [..],
 *                        "serial": "..", "server": ".."}
 *   persist/             the persistent partition, one file per named blob;
 *                        survives a factory reset, not a reflash
 *   userdata/            the user-data partition; wiped by a factory reset
 *   tee/                 the secure hardware, which the customer can
 *                        neither read nor change: tee/rom the factory
 *                        key (made at create), tee/rpmb the monotonic
 *                        counter (both survive a reflash), tee/keys the
 *                        agent's keys (survives a factory reset, not a
 *                        reflash)
 *   hw/                  the world: sim (ICCID, "" without a SIM), tamper
 *                        (one signal name a line), clock (offset of the
 *                        phone's wall clock from the system clock, seconds),
 *                        offline (present: no network), boot (boots so far)
 *   run/                 what the running phone shows and enforces: the
 *                        platform's records (policy.json, screen.json) and
 *                        the status snapshot (status.json); cleared at every
 *                        boot, rebuilt by the agent
 *   lock, lock.gate,     the lock protocol between processes (dev_lock.h)
 *   lock.run
 *
 * The factory image is written last by dev_phone_create, so a directory
 * holds a phone exactly when factory/device.json exists.
 *
 * THREAD SAFETY: none; one struct per thread. Between processes, writers
 * hold the phone's lock (dev_lock.h).
 */
#ifndef FL_DEV_PHONE_H
#define FL_DEV_PHONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/err.h"
#include "finlock/agent.h"

#define DEV_DIR_ENV       "FINLOCK_DEVICE_DIR" /* default data directory */
#define DEV_DIR_DEFAULT   "phone"              /* ./phone */
#define DEV_URL_MAX       1024                 /* longest server URL */
#define DEV_TEE_FILE_ROM  "rom"                /* tee/: the factory key */
#define DEV_TEE_FILE_RPMB "rpmb"               /* tee/: the monotonic counter */
#define DEV_TEE_FILE_KEYS "keys" /* tee/: the agent's keys, code record */
#define DEV_SERVER_BLOB   "device.server" /* enrolled server, persist/ */

/* The partitions and record directories under DIR. */
enum dev_part {
	DEV_PART_FACTORY = 0, /* factory/ */
	DEV_PART_PERSIST,     /* persist/ */
	DEV_PART_USERDATA,    /* userdata/ */
	DEV_PART_HW,          /* hw/ */
	DEV_PART_RUN,         /* run/ */
	DEV_PART_TEE,         /* tee/: the secure hardware (dev_tee.h) */
	DEV_PART_COUNT
};

/* What the factory put in the phone's image. */
struct dev_factory {
	uint8_t root_pk[FL_SIGN_PK_LEN]; /* trust anchor */
	struct fl_hal_device dev;        /* IMEIs and serial */
	char server[DEV_URL_MAX + 1];    /* server for setup, "" none */
};

struct dev_phone;

/* FL_OK if url is an http:// or https:// URL of at most DEV_URL_MAX
 * printable characters without spaces; FL_E_INVALID otherwise. */
fl_err dev_url_check(const char *url) FL_MUST_USE;

/* FL_OK if iccid is "" (no SIM) or 18..22 digits. */
fl_err dev_iccid_check(const char *iccid) FL_MUST_USE;

/* True when dir holds a phone (factory/device.json exists). */
bool dev_phone_exists(const char *dir);

/* Makes a new phone in dir (created if missing, parents too) from f,
 * with iccid in its SIM slot. An existing phone is FL_E_CONFLICT unless
 * force, which wipes it first (everything: factory image, partitions,
 * keystore, world). The caller holds the phone's lock. */
fl_err dev_phone_create(const char *dir, const struct dev_factory *f,
                        const char *iccid, bool force) FL_MUST_USE;

/* Opens the phone in dir: reads its factory image. FL_E_NOT_FOUND when
 * dir holds no phone, FL_E_CORRUPT when the image is unreadable. *out:
 * free with dev_phone_close. */
fl_err dev_phone_open(struct dev_phone **out, const char *dir) FL_MUST_USE;
void dev_phone_close(struct dev_phone *p);

/* The phone's directory, a part's directory (borrowed strings). */
const char *dev_phone_dir(const struct dev_phone *p);
const char *dev_phone_part(const struct dev_phone *p, enum dev_part part);
const struct dev_factory *dev_phone_factory(const struct dev_phone *p);

/* --- the world ------------------------------------------------------------ */

/* The SIM in the phone: out[FL_HAL_ICCID_MAX + 1], "" without one. */
fl_err dev_phone_iccid(const struct dev_phone *p, char *out) FL_MUST_USE;
fl_err dev_phone_set_iccid(struct dev_phone *p, const char *iccid) FL_MUST_USE;

/* Tamper signals (FL_HAL_TAMPER_* flags). */
fl_err dev_phone_tamper(const struct dev_phone *p, uint32_t *flags) FL_MUST_USE;
fl_err dev_phone_set_tamper(struct dev_phone *p, uint32_t flags) FL_MUST_USE;

/* The wall clock's offset from the system clock, seconds. */
fl_err dev_phone_clock_offset(const struct dev_phone *p,
                              int64_t *secs) FL_MUST_USE;
fl_err dev_phone_set_clock_offset(struct dev_phone *p,
                                  int64_t secs) FL_MUST_USE;

/* Whether the network is cut off. */
bool dev_phone_offline(const struct dev_phone *p);
fl_err dev_phone_set_offline(struct dev_phone *p, bool on) FL_MUST_USE;

/* Boots so far (0 for a new phone). */
fl_err dev_phone_boots(const struct dev_phone *p, uint64_t *n) FL_MUST_USE;

/* The server the phone talks to: the one enrollment recorded on the
 * persistent partition, else the factory image's; "" when neither. */
void dev_phone_server(const struct dev_phone *p, char out[DEV_URL_MAX + 1]);
/* Records url on the persistent partition. */
fl_err dev_phone_set_server(struct dev_phone *p, const char *url) FL_MUST_USE;

/* --- life events (the caller holds the phone's lock) --------------------- */

/* A reboot: the boot count goes up (a new boot id) and the running
 * phone's records (run/) are cleared. */
fl_err dev_phone_reboot(struct dev_phone *p) FL_MUST_USE;

/* Factory reset: userdata/ wiped, then a reboot. The persistent partition
 * and the keystore stay. */
fl_err dev_phone_factory_reset(struct dev_phone *p) FL_MUST_USE;

/* Reflash: a fresh OS image. persist/, the keystore and userdata/ wiped
 * and the tamper signals cleared (the new image is not rooted), then a
 * reboot. Only the factory image and the world (SIM, clock, network)
 * stay. */
fl_err dev_phone_reflash(struct dev_phone *p) FL_MUST_USE;

#endif
