/*
 * agent_fakesrv.h - a fake lender server for agent tests: the device
 * endpoints of docs/protocol.md (enroll, check-in, wait, lookup) for one
 * phone, with real keys (a test root, a certified signing key, a server
 * X25519 key) and real verification of what the phone sends. Install it as
 * the fake platform's transport:
 *
 *     fh->server = fl_fakesrv_handle; fh->server_ctx = srv;
 *
 * Tests change the device's state by editing srv->claims and calling
 * fl_fakesrv_issue (a new token, seq + 1), move the server clock with
 * srv->now, and wrap fl_fakesrv_handle to play a man in the middle.
 *
 * THREAD SAFETY: none; one test thread.
 */
#ifndef AGENT_FAKESRV_H
#define AGENT_FAKESRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/devproto.h"
#include "core/ocode.h"
#include "core/token.h"
#include "finlock/agent.h"

#define FS_EXTRA 8

struct fl_fakesrv {
	struct fl_signer root;   /* the operator's root */
	struct fl_signer signer; /* signs answers and tokens */
	char *cert;              /* root's cert for signer */
	uint8_t kx_pk[FL_KX_PK_LEN], kx_sk[FL_KX_SK_LEN];
	fl_time now;        /* the server's clock */
	int64_t token_life; /* exp - iat of tokens issued */

	/* the one device */
	bool registered;
	char code[FL_DP_CODE_MAX + 1]; /* its one-time code */
	bool code_used;                /* enrolled with it */
	char imei[2][FL_IMEI_LEN + 1];
	size_t n_imei;
	char device_id[FL_DP_DEVICE_ID_MAX + 1];
	bool enrolled; /* keys on record */
	bool ever_enrolled;
	uint8_t dev_sign_pk[FL_SIGN_PK_LEN], dev_kx_pk[FL_KX_PK_LEN];
	uint8_t mac_key[FL_MAC_KEY_LEN]; /* derived on the server side */
	uint8_t ocode[FL_DP_OCODE_SECRET_LEN];
	uint64_t counter_seen;
	uint64_t seq;                   /* seq of the current token */
	struct fl_device_claims claims; /* what the next token says */
	char *token;                    /* current token; owned */
	char *token_claims;             /* its claims JSON; owned */

	/* re-enrollment by pairing code */
	bool pairing_pending;
	uint8_t pair_sign_pk[FL_SIGN_PK_LEN], pair_kx_pk[FL_KX_PK_LEN];
	char pairing_code[FL_DP_PAIRING_LEN + 1];
	bool pairing_approved;

	/* extras put in every answer */
	char *certs[FS_EXTRA]; /* owned */
	size_t n_certs;
	char *revocations[FS_EXTRA]; /* owned */
	size_t n_revocations;
	char *seq_reset; /* owned, sent once */
	char *receipt;   /* owned, with released tokens */
	uint32_t next_checkin;

	/* observations and faults */
	struct fl_dp_checkin_req last_report;
	size_t n_checkins, n_waits, n_enrolls, n_lookups, n_refused;
	int force_status;       /* answer everything with it */
	bool garbage;           /* answer 200 with junk */
	bool reissue_on_report; /* new token on SIM/tamper */
	bool always_token;      /* the token in every check-in answer, as
	                         * before token_held */
	bool lookup_anonymous;  /* answer lookups as to someone without the
	                         * phone's factory key: no token */
};

/* A server whose clock reads now. Free with fl_fakesrv_free. */
struct fl_fakesrv *fl_fakesrv_new(fl_time now);
void fl_fakesrv_free(struct fl_fakesrv *s);

/* Registers the phone (again, with a new code: code_used is cleared, as a
 * clerk's new one-time code would): its code and IMEIs; claims get defaults
 * (active, lender "Acme Finance" +254700000001, loan LN-0001, 1500 KES, lock_at
 * 30 days on). */
void fl_fakesrv_register(struct fl_fakesrv *s, const char *code,
                         const char *imei1, const char *imei2);

/* Signs a new token from s->claims with seq + 1, iat now, exp now +
 * token_life. */
fl_err fl_fakesrv_issue(struct fl_fakesrv *s);

/* Signs claims c (sub, imei, seq, times taken as given) as kind with
 * signer; *out caller frees. */
fl_err fl_fakesrv_sign(const struct fl_device_claims *c,
                       const struct fl_signer *signer, enum fl_msg_kind kind,
                       char **out);

/* A fresh signing key certified by the root until not_after, put in the
 * answers' certs; the old signer stays certified. */
fl_err fl_fakesrv_rotate(struct fl_fakesrv *s, fl_time not_after);
/* A root-signed revocation of kid, put in the answers. */
fl_err fl_fakesrv_revoke(struct fl_fakesrv *s, const char *kid);

/* An offline code from the server's side of the secret. */
fl_err fl_fakesrv_ocode(const struct fl_fakesrv *s, uint64_t counter,
                        enum fl_ocode_action action, int64_t day,
                        char out[FL_OCODE_LEN + 1]);

/* The transport: an fh_server_fn (ctx is the struct fl_fakesrv). */
fl_err fl_fakesrv_handle(void *ctx, const struct fl_hal_request *req,
                         struct fl_hal_response *resp);

/* Sets a claims string field (replacing and freeing the old value). */
void fl_fakesrv_set(char **field, const char *value);

/* A phone and its lender together: platform, server, agent. */
struct fl_fakephone {
	struct fl_fakehal *fh;
	struct fl_fakesrv *srv;
	struct fl_hal hal;
	struct fl_agent *a;
};

/* Creates the platform and the server (clocks in step), registers the
 * phone with code "K7Q2-9XWD" and opens the agent on the server's root. */
fl_err fl_fakephone_new(struct fl_fakephone *p) FL_MUST_USE;
/* Closes the agent, reboots the platform and opens the agent again. */
fl_err fl_fakephone_reboot(struct fl_fakephone *p) FL_MUST_USE;
/* Setup (lookup) and enrollment with the registered code. */
fl_err fl_fakephone_enroll(struct fl_fakephone *p) FL_MUST_USE;
/* Time passes for the phone (wall and monotonic) and the server. */
void fl_fakephone_advance(struct fl_fakephone *p, int64_t secs);
void fl_fakephone_free(struct fl_fakephone *p);

#endif
