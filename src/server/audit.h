/*
 * audit.h - the append-only, hash-chained audit logs.
 *
 * Every state-changing action is recorded, in the same transaction as the
 * change, in its tenant's chain (the operator's actions in the chain
 * FL_AUDIT_CHAIN_OPERATOR): who (API key id), what (action, target), the
 * record before and after (JSON), and when. Entry n carries
 *
 *   hash_n = BLAKE2b-256("finlock-audit-v1" || u64be(n) || lp(chain) ||
 *                        u64be(at) || lp(actor) || lp(action) ||
 *                        lp(target) || lp(before) || lp(after) || hash_n-1)
 *
 * with lp(s) = u32be(len(s)) || s and hash_0 = 32 zero bytes, so changing,
 * inserting or removing an entry breaks every later hash. The head (seq,
 * hash) is signed as a FL_MSG_AUDIT_HEAD token at intervals and on demand
 * and kept, so cutting entries off the end after a signed head is detected
 * as well, and rewriting history needs the signing key, not just the
 * database.
 *
 * THREAD SAFETY: functions take a transaction and follow store.h.
 */
#ifndef FL_SERVER_AUDIT_H
#define FL_SERVER_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "store/store.h"

struct fl_app;
struct fl_principal;

/* The hash of e, chained on e->prev_hash. */
void fl_audit_hash(const struct fl_audit_entry *e, uint8_t out[FL_HASH_LEN]);

/* Appends one entry to chain inside the write transaction tx, after
 * taking the chain's lock (fl_store_lock_chain): two appenders of one
 * chain, in any processes, run one after the other. before and
 * after (either may be NULL) are JSON snapshots; their references are
 * taken. Snapshots longer than the store's cap are replaced by a note
 * saying so. */
fl_err fl_audit_append(struct fl_tx *tx, const char *chain, const char *actor,
                       fl_time at, const char *action, const char *target,
                       json_t *before, json_t *after) FL_MUST_USE;

/* fl_audit_append for the caller who (auth.h): its tenant's chain (or
 * the operator's), its key id ("system" without one), at `at`. A request
 * audits through fl_audit_req (api.h). */
fl_err fl_audit_by(struct fl_tx *tx, const struct fl_principal *who, fl_time at,
                   const char *action, const char *target, json_t *before,
                   json_t *after) FL_MUST_USE;

struct fl_audit_verdict {
	bool ok;          /* the chain is intact */
	int64_t entries;  /* entries checked */
	int64_t head_seq; /* seq of the last entry */
	uint8_t head_hash[FL_HASH_LEN];
	int64_t bad_seq;    /* first entry found wrong, or 0 */
	char problem[160];  /* what was wrong */
	int64_t signed_seq; /* newest signed head's seq, 0 if none */
};

/* Walks chain from the start, recomputing every hash, and compares the end
 * with the newest signed head. */
fl_err fl_audit_verify(struct fl_tx *tx, const char *chain,
                       struct fl_audit_verdict *v) FL_MUST_USE;

/* Signs chain's current head (FL_MSG_AUDIT_HEAD; payload {"chain","seq",
 * "hash","at"}), keeps it in the store and appends it as one JSON line to
 * DATA/audit-heads.jsonl (fsync'd), in one write transaction. *out
 * receives the signed head. FL_E_STATE when no signing key is usable. */
fl_err fl_audit_sign_head(struct fl_app *app, const char *chain, fl_time now,
                          struct fl_audit_signed_head *out) FL_MUST_USE;

/* The job (store.h fl_store_job_claim) of signing heads on a timer. */
#define FL_AUDIT_JOB_HEADS "audit-heads"

/* Signs the head of every chain that grew since its last signed head, in
 * one transaction holding the job FL_AUDIT_JOB_HEADS: when another
 * process holds it (it is signing them now), this round signs nothing.
 * *n (may be NULL) counts the heads signed. */
fl_err fl_audit_sign_all(struct fl_app *app, fl_time now, int *n) FL_MUST_USE;

/* Every chain that has entries: *names (caller frees) receives *n names. */
fl_err fl_audit_chain_names(struct fl_tx *tx, char (**names)[FL_ID_MAX],
                            size_t *n) FL_MUST_USE;

/* A signed head as JSON. New reference. */
json_t *fl_audit_head_json(const struct fl_audit_signed_head *h);

/* An entry as JSON (hashes in hex, before/after parsed back when they are
 * JSON). New reference. */
json_t *fl_audit_entry_json(const struct fl_audit_entry *e);

#endif
