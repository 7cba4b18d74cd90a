/*
 * devapi_phone.h - a phone and a lender for device-protocol tests against a
 * real finlockd (server_harness.h).
 *
 * The phone is the real agent library (include/finlock/agent.h) on the
 * fake platform (agent_fakehal.h), sending its requests over real HTTP to
 * the server with the simulator's libcurl transport (src/device/
 * dev_http.h). Its wall and monotonic clocks follow the real clock (or the
 * server's test clock, srv_clock, when it has one):
 * moved on by devapi_phone_tick before a call, and by the transport when
 * an answer arrives (a long-poll lasts seconds).
 *
 * The lender side is the server's HTTP API with an admin key: register a
 * device (its one-time code), create a contract, record a payment.
 *
 *     struct devapi_phone p;
 *     devapi_lender_setup(s, &l);                  tenant, admin key, root
 *     devapi_register(s, &l, IMEI1, IMEI2, dev_id, code);
 *     devapi_phone_open(&p, s, &l, IMEI1, IMEI2);
 *     fl_agent_setup(p.a); fl_agent_enroll(p.a, code);
 *
 * THREAD SAFETY: none; one test thread.
 */
#ifndef FL_TEST_DEVAPI_PHONE_H
#define FL_TEST_DEVAPI_PHONE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/devproto.h"
#include "core/token.h"
#include "support/agent_fakehal.h"
#include "support/server_harness.h"

struct dev_http;

/* A lender: its tenant, admin key and the server's root public key. */
struct devapi_lender {
	char tenant[64];
	char admin[64];
	uint8_t root[32]; /* the factory image's trust anchor */
};

struct devapi_phone {
	struct fl_fakehal *fh;
	struct fl_hal hal;
	struct fl_agent *a;
	struct dev_http *http;
	char url[128];
	uint8_t root[32];
	int64_t mono0_ms; /* real monotonic time at creation */
	struct srv *srv;  /* the server it talks to */
	long long clock0; /* the server's test clock at creation, or 0 */
};

/* Creates a tenant with an admin key and reads the server's root key
 * (`finlockd root-pubkey` on its data directory). 0 on success. */
int devapi_lender_setup(struct srv *s, struct devapi_lender *l);

/* libsodium, a finlockd started with the extra arguments args (NULL-ended,
 * may be NULL) and its lender (devapi_lender_setup). 0 on success. */
int devapi_start(struct srv **s, struct devapi_lender *l,
                 const char *const *args);

/* devapi_start with all of finlockd's harness options (a test clock). */
int devapi_start_opts(struct srv **s, struct devapi_lender *l,
                      const struct srv_opts *o);
/* A valid IMEI whose first 14 digits are "35209900" + six digits of n. */
void devapi_imei(unsigned n, char out[16]);

/* Registers a device (serial "SN-<imei1>") and returns its id and
 * one-time code. 0 on success. */
int devapi_register(struct srv *s, const struct devapi_lender *l,
                    const char *imei1, const char *imei2, char id[64],
                    char code[64]);

/* Creates a contract (KES, "+03:00", grace given in seconds) of one
 * installment of `amount` due `due` (RFC 3339 or a date), reminders 3d,
 * 1d and 0d, lender contact "Acme Finance" +254700000001, allowed app
 * com.acme.pay, sim_change and tamper reactions as given ("none",
 * "notify", "lock"). 0 on success. */
int devapi_contract(struct srv *s, const struct devapi_lender *l,
                    const char *id, const char *due, long long amount,
                    long long grace, const char *sim, const char *tamper);

/* Records a payment of amount now. 0 on success. */
int devapi_pay(struct srv *s, const struct devapi_lender *l, const char *id,
               long long amount);

/* GET /v1/devices/{id} into *r (caller frees). 0 on an answer. */
int devapi_show(struct srv *s, const struct devapi_lender *l, const char *id,
                struct srv_res *r);

/* A phone with these IMEIs (imei2 may be NULL) talking to s, trusting the
 * lender's root; its agent is open. 0 on success. */
int devapi_phone_open(struct devapi_phone *p, struct srv *s,
                      const struct devapi_lender *l, const char *imei1,
                      const char *imei2);
/* The phone's clocks catch up with the real clock. */
void devapi_phone_tick(struct devapi_phone *p);
/* Closes the agent and opens it again (a reboot). 0 on success. */
int devapi_phone_reboot(struct devapi_phone *p);
/* Wipes everything the phone keeps (a reflash) and opens the agent. */
int devapi_phone_reflash(struct devapi_phone *p);
void devapi_phone_close(struct devapi_phone *p);

/* Monotonic milliseconds. */
int64_t devapi_ms(void);

/* --- a phone by hand -----------------------------------------------------
 *
 * For what the agent never sends (bad MACs, replayed counters, forged
 * signatures): the protocol spoken directly with core/devproto.h. A raw
 * phone may hold a factory key (devapi_raw_factory), which then signs its
 * enrollment and lookup requests; a reflash keeps it (copy it into the
 * new raw phone's fields). */

struct devapi_raw {
	uint8_t sign_pk[32], sign_sk[64]; /* device key */
	uint8_t kx_pk[32], kx_sk[32];     /* key exchange */
	bool has_factory;                 /* signs with the factory key */
	uint8_t factory_pk[32], factory_sk[64];
	uint8_t mac_key[32], ocode[32]; /* derived after enrollment */
	char device_id[65];
	char imei[2][16];
	size_t n_imei;
	uint64_t counter; /* last counter sent */
	uint64_t seq;     /* seq of the enrollment's token */
};

/* Fresh keys for a phone with these IMEIs (imei2 may be NULL); no factory
 * key. */
void devapi_raw_new(struct devapi_raw *r, const char *imei1, const char *imei2);
/* Gives r a new factory key pair. */
void devapi_raw_factory(struct devapi_raw *r);
/* POST /v1/device/lookup for r's IMEIs with a fresh nonce, signed by r's
 * factory key when it has one (with forge, by another key under r's
 * factory_pk). A 200 is verified against root (signed as a lookup, over
 * the nonce) and its payload goes to *p (caller clears) and, as signed, to
 * *text (caller frees; text may be NULL); a token in it is verified as a
 * device token and its claims go to *c (caller clears). Returns the status
 * (0 when no answer, -1 when a 200 did not verify); *res is the caller's
 * to free. */
long devapi_raw_lookup(struct srv *s, const struct devapi_raw *r, bool forge,
                       const uint8_t root[32], struct fl_dp_lookup_payload *p,
                       struct fl_device_claims *c, char **text,
                       struct srv_res *res);
/* POST /v1/device/enroll with code, signed (or, with forge, signed by
 * another key), and by r's factory key when it has one. On 200 the answer is
 * verified against root (signature, echoed keys, first token) and the secrets
 * derived. Returns the status (0 when no answer, -1 when a 200 did not verify);
 * *res is the caller's to free. */
long devapi_raw_enroll(struct srv *s, struct devapi_raw *r, const char *code,
                       bool forge, const uint8_t root[32], struct srv_res *res);
/* A MAC'd request: method and target (path with query) with body (may
 * be NULL), sent with counter; bad_mac flips a bit of the MAC. A 200
 * answer's MAC is checked (-1 when it does not verify). */
long devapi_raw_call(struct srv *s, struct devapi_raw *r, const char *method,
                     const char *target, const char *body, uint64_t counter,
                     bool bad_mac, struct srv_res *res);
/* A check-in with a default body (seq held, nothing to report). */
long devapi_raw_checkin(struct srv *s, struct devapi_raw *r, uint64_t counter,
                        struct srv_res *res);

#endif
