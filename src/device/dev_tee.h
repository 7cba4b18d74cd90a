/*
 * dev_tee.h - the simulated phone's secure hardware: the trusted
 * application behind the tee_* callbacks of struct fl_hal
 * (include/finlock/agent.h, docs/threat-model.md).
 *
 * On a real phone this is vendor code in the TEE or a secure element; the
 * customer can neither read nor change what it keeps. It holds three
 * parts, each stored on its own so that each survives what it survives:
 *
 *   DEV_TEE_ROM   the factory key pair, provisioned at manufacture; never
 *                 changes (a reflash keeps it)
 *   DEV_TEE_RPMB  the monotonic counter; only goes up (a reflash keeps it)
 *   DEV_TEE_KEYS  the agent's keys and the offline-code record; a reflash
 *                 wipes it
 *
 * The operations work on a struct dev_tee in memory and say which parts
 * they changed; the caller (finlock-device's HAL with files under tee/,
 * the tests' fake HAL in memory) makes those parts durable through the
 * save callback before the operation's effect is visible. An operation
 * that must be durable half-way (an offline-code try is recorded before
 * the code is checked) calls save itself. No operation returns a secret.
 *
 * Memory: no allocation. dev_tee_wipe zeroes a struct's secrets.
 *
 * THREAD SAFETY: none; the phone's lock serialises its users.
 */
#ifndef FL_DEV_TEE_H
#define FL_DEV_TEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/fltime.h"
#include "core/ocode.h"
#include "finlock/agent.h"

enum dev_tee_part {
	DEV_TEE_ROM = 1u << 0,  /* factory key */
	DEV_TEE_RPMB = 1u << 1, /* monotonic counter */
	DEV_TEE_KEYS = 1u << 2, /* agent keys, offline-code record */
};

#define DEV_TEE_PART_MAX 512 /* bytes of the largest encoded part */

struct dev_tee {
	bool has_factory;                   /* a factory key was provisioned */
	uint8_t factory_sk[FL_SIGN_SK_LEN]; /* the factory key */
	uint64_t counter;                   /* monotonic counter */

	bool has_seal;                        /* the sealing key exists */
	uint8_t seal_key[FL_AEAD_KEY_LEN];    /* made on first seal */
	bool has_pending;                     /* an enrollment pair waits */
	uint8_t pend_sign_sk[FL_SIGN_SK_LEN]; /* its Ed25519 key */
	uint8_t pend_kx_pk[FL_KX_PK_LEN];     /* its X25519 key */
	uint8_t pend_kx_sk[FL_KX_SK_LEN];
	bool has_mac;                       /* enrolled: MAC and code keys */
	uint8_t mac_key[FL_MAC_KEY_LEN];    /* check-in MAC key */
	uint8_t ocode[FL_OCODE_SECRET_LEN]; /* offline-code secret */
	struct fl_hal_code code;            /* offline-code record */
};

/* Makes a part durable: returns FL_OK once it is, FL_E_IO otherwise. */
struct dev_tee_io {
	fl_err (*save)(void *ctx, const struct dev_tee *t, unsigned parts);
	void *ctx;
};

/* A new factory key pair (manufacture). */
void dev_tee_provision(struct dev_tee *t);
/* Forgets the DEV_TEE_KEYS part (a reflash). */
void dev_tee_wipe_keys(struct dev_tee *t);
/* Zeroes everything. */
void dev_tee_wipe(struct dev_tee *t);

/* The bytes of one part, and back. decode leaves the other parts alone;
 * FL_E_CORRUPT for a malformed part (the part is then cleared). */
fl_err dev_tee_encode(const struct dev_tee *t, enum dev_tee_part part,
                      uint8_t buf[DEV_TEE_PART_MAX], size_t *len) FL_MUST_USE;
fl_err dev_tee_decode(struct dev_tee *t, enum dev_tee_part part,
                      const uint8_t *buf, size_t len) FL_MUST_USE;

/* The operations of struct fl_hal's tee_* callbacks, same contracts. Each
 * calls io->save for what it changed before returning FL_OK. */
fl_err dev_tee_factory_pk(const struct dev_tee *t, uint8_t pk[32]) FL_MUST_USE;
fl_err dev_tee_factory_sign(const struct dev_tee *t, const uint8_t *msg,
                            size_t len, uint8_t sig[64]) FL_MUST_USE;
fl_err dev_tee_keygen(struct dev_tee *t, const struct dev_tee_io *io,
                      uint8_t sign_pk[32], uint8_t kx_pk[32]) FL_MUST_USE;
fl_err dev_tee_pending(const struct dev_tee *t, uint8_t sign_pk[32],
                       uint8_t kx_pk[32]) FL_MUST_USE;
fl_err dev_tee_sign(const struct dev_tee *t, const uint8_t *msg, size_t len,
                    uint8_t sig[64]) FL_MUST_USE;
fl_err dev_tee_enroll(struct dev_tee *t, const struct dev_tee_io *io,
                      const uint8_t server_kx_pk[32]) FL_MUST_USE;
fl_err dev_tee_mac(const struct dev_tee *t, const uint8_t *msg, size_t len,
                   uint8_t mac[32]) FL_MUST_USE;
fl_err dev_tee_code(struct dev_tee *t, const struct dev_tee_io *io,
                    const char *code, fl_time now,
                    struct fl_hal_code *out) FL_MUST_USE;
fl_err dev_tee_seal(struct dev_tee *t, const struct dev_tee_io *io,
                    const uint8_t *ad, size_t ad_len, const uint8_t *in,
                    size_t len, uint8_t *out) FL_MUST_USE;
fl_err dev_tee_unseal(const struct dev_tee *t, const uint8_t *ad, size_t ad_len,
                      const uint8_t *in, size_t len, uint8_t *out) FL_MUST_USE;
fl_err dev_tee_counter_raise(struct dev_tee *t, const struct dev_tee_io *io,
                             uint64_t to) FL_MUST_USE;

#endif
