/*
 * persist.h - the agent's state on the persistent partition.
 *
 * The persistent partition is the customer's: they can read, edit, delete,
 * copy out and put back any of it (docs/threat-model.md). So the state is
 * sealed by the phone's secure hardware and numbered against its monotonic
 * counter:
 *
 *   offset size
 *   0      4    magic "FLAS"
 *   4      2    format version, LE (FL_PERSIST_VERSION)
 *   6      2    zero
 *   8      8    generation, LE
 *   16     4    payload length n, LE (at most FL_PERSIST_MAX_PAYLOAD)
 *   20     n+40 the payload sealed by hal->tee_seal (authenticated
 *               encryption under a key that never leaves the secure
 *               hardware), bytes 0..20 as associated data
 *
 * An edited byte, a copy from another phone (another sealing key) or a
 * header with another generation fails the seal. Two slots, blobs
 * "agent.state.a" and "agent.state.b"; the counter names the generation of
 * the newest copy ever stored. A store (generation g + 1) writes the slot
 * that does NOT hold the newest copy g, then raises the counter to g + 1.
 * A load takes the newest copy that unseals:
 *
 *   generation == counter      the newest copy: loaded
 *   generation == counter + 1  stored, then the power went before the
 *                              counter moved: loaded, the counter raised
 *   generation <  counter      an older copy put back: loaded, marked
 *                              rolled back (the caller trusts none of it)
 *   nothing unseals            FL_E_NOT_FOUND
 *
 * So whatever byte or step a crash cuts a store at, the next load finds
 * the old state or the new one, never an older one, never neither.
 *
 * Payload records: LE16 tag, LE32 length, value. Integers are fixed-size LE;
 * strings are bytes without NUL, within their caps; a string-list tag
 * repeats. A tag at or above 0x8000 is critical: an unknown one makes the
 * copy unreadable (written by a newer format); an unknown tag below 0x8000
 * is skipped. A scalar tag seen twice is corrupt.
 *
 * THREAD SAFETY: pure functions plus HAL calls; the caller serialises.
 */
#ifndef FL_AGENT_PERSIST_H
#define FL_AGENT_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/devproto.h"
#include "core/err.h"
#include "core/fltime.h"
#include "finlock/agent.h"

#define FL_PERSIST_VERSION     2
#define FL_PERSIST_HDR_LEN     20
#define FL_PERSIST_MAX_PAYLOAD (192 * 1024)
#define FL_PERSIST_MAX_BLOB                                                    \
	(FL_PERSIST_HDR_LEN + FL_PERSIST_MAX_PAYLOAD + FL_HAL_SEAL_OVERHEAD)
#define FL_PERSIST_MAX_CERTS 16          /* certificates kept */
#define FL_PERSIST_MAX_REVS  64          /* revocations kept */
#define FL_PERSIST_TEXT_MAX  (64 * 1024) /* longest string field */

#define FL_PERSIST_SLOT_A "agent.state.a"
#define FL_PERSIST_SLOT_B "agent.state.b"

/* Local reactions in force (bits of react_lock). */
#define FL_REACT_SIM    0x1u /* SIM change, sim_policy "lock" */
#define FL_REACT_TAMPER 0x2u /* tamper, tamper_policy "lock" */

/* Everything the agent must not forget across a reboot or factory reset. */
struct fl_pstate {
	uint8_t phase;                           /* enum fl_agent_phase */
	char device_id[FL_DP_DEVICE_ID_MAX + 1]; /* "" before enrollment */
	uint64_t counter;                        /* last request counter used */
	uint64_t seq;                            /* seq of the token held */
	char *token;             /* the signed device token enforced; owned */
	bool claims_from_lookup; /* token came from a setup lookup */
	bool distrust;           /* an older copy was put back: locked until
	                          * a verified answer from the server */

	bool enroll_pending;                  /* keys made, not enrolled */
	uint8_t pend_sign_pk[FL_SIGN_PK_LEN]; /* the pending keys */
	uint8_t pend_kx_pk[FL_KX_PK_LEN];

	char *certs[FL_PERSIST_MAX_CERTS]; /* key certificates; owned */
	size_t n_certs;
	char *revs[FL_PERSIST_MAX_REVS]; /* revocations; owned */
	size_t n_revs;
	fl_time reset_iat; /* newest seq reset applied */

	bool tt_known;    /* trusted time ever set */
	fl_time tt_base;  /* trusted time at tt_mono */
	uint64_t tt_mono; /* monotonic ms at tt_base */
	uint64_t tt_boot; /* boot id of tt_mono */

	char iccid_known[FL_DP_ICCID_MAX + 1]; /* SIM the server knows */
	char iccid_now[FL_DP_ICCID_MAX + 1];   /* SIM in the phone */
	bool sim_pending;                      /* SIM change not reported */
	uint32_t tamper_seen;                  /* tamper flags ever seen */
	uint32_t tamper_pending;               /* flags not reported yet */
	uint8_t react_lock;                    /* FL_REACT_* locks in force */
	fl_time react_at;                      /* trusted time of the event */

	char *receipt; /* release receipt; owned */
};

/* Frees what s owns and zeroes it. NULL-safe. */
void fl_pstate_clear(struct fl_pstate *s);

/* Payload records of s into *out (caller frees), *len bytes. */
fl_err fl_pstate_encode(const struct fl_pstate *s, uint8_t **out,
                        size_t *len) FL_MUST_USE;
/* Decodes a payload into *s (cleared first; cleared again on error).
 * FL_E_CORRUPT for anything malformed. */
fl_err fl_pstate_decode(const uint8_t *buf, size_t len,
                        struct fl_pstate *s) FL_MUST_USE;
/* A deep copy of src into *dst (cleared first). */
fl_err fl_pstate_copy(struct fl_pstate *dst,
                      const struct fl_pstate *src) FL_MUST_USE;

/* Seals payload[len] as generation gen through hal into *out (caller
 * frees). */
fl_err fl_persist_seal(const struct fl_hal *hal, uint64_t gen,
                       const uint8_t *payload, size_t len, uint8_t **out,
                       size_t *outlen) FL_MUST_USE;
/* Checks and opens a sealed copy; on FL_OK *gen, *payload (caller frees)
 * and *plen describe it. FL_E_CORRUPT otherwise. */
fl_err fl_persist_unseal(const struct fl_hal *hal, const uint8_t *buf,
                         size_t len, uint64_t *gen, uint8_t **payload,
                         size_t *plen) FL_MUST_USE;

/* Where the newest copy is: what a store must not overwrite. */
struct fl_persist_pos {
	uint64_t gen; /* generation a store counts on from (>= counter) */
	int slot;     /* 0 (A) or 1 (B) holding the loaded copy, -1 none */
};

/* Loads the newest copy that unseals through hal into *s (above).
 * *rolled_back: it is older than the counter says the newest is.
 * FL_E_NOT_FOUND when no slot holds one (a new or reflashed phone, or
 * storage deleted, edited or copied from another phone); FL_E_IO when the
 * HAL fails to read. pos receives where it was found. */
fl_err fl_persist_load(const struct fl_hal *hal, struct fl_pstate *s,
                       struct fl_persist_pos *pos,
                       bool *rolled_back) FL_MUST_USE;
/* Writes s as generation pos->gen + 1 into the other slot, then raises the
 * counter; pos moves to it once the copy is written (FL_E_IO when only the
 * counter failed). On other errors pos is unchanged. */
fl_err fl_persist_store(const struct fl_hal *hal, const struct fl_pstate *s,
                        struct fl_persist_pos *pos) FL_MUST_USE;

#endif
