/*
 * agent.h - the finlock device agent: the library a financed phone's firmware
 * links to lock the phone when installments are overdue and unlock it when
 * they are paid (docs/protocol.md, docs/threat-model.md).
 *
 * The agent reads no file, clock or socket itself: everything goes through a
 * platform interface, struct fl_hal, that the firmware (or the simulator
 * finlock-device, or a test) fills with function pointers. The phone's
 * owner may be hostile to the lock and controls all of its ordinary
 * storage (docs/threat-model.md), so the agent keeps its state on the
 * persistent partition sealed by the phone's secure hardware and numbered
 * against its monotonic counter: an edited, older or foreign copy is
 * refused, and a crash at any byte of a write leaves the old state or the
 * new one. Its long-term secrets are made and used inside the secure
 * hardware (the tee_* callbacks) and never leave it. It trusts only what
 * it verified: the root key from the factory image, signing keys the root
 * certified, tokens signed by those keys for this device and its IMEIs
 * with a seq above the one it holds; the token it enforces is kept as
 * signed text and verified again on every load. What fails its checks
 * falls back to the safest state the phone can prove: locked, the
 * lender's contact shown, emergency calls working; never unlocked, never
 * a wipe.
 *
 * A firmware's loop: fl_agent_open at boot; fl_agent_setup until it returns
 * FL_OK when the partition was empty; fl_agent_enroll with the clerk's code;
 * then fl_agent_wait / fl_agent_checkin whenever fl_agent_next_delay says,
 * fl_agent_tick every few seconds (time passing, SIM and tamper signals), and
 * fl_agent_screen whenever the HAL asks what to draw. A network failure, a
 * server that is down or an answer that does not verify never changes the
 * state: the call returns an error and the caller retries after
 * fl_agent_next_delay seconds.
 *
 * Memory: the agent owns everything it allocates; fl_agent_close frees it.
 * Strings the HAL returns to the agent are described at each callback.
 *
 * THREAD SAFETY: one struct fl_agent must be used from one thread at a time
 * (the firmware serialises calls). HAL callbacks are made from the calling
 * thread. Separate agents are independent.
 */
#ifndef FINLOCK_AGENT_H
#define FINLOCK_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/state.h"

/* --- the platform interface ------------------------------------------------
 */

#define FL_HAL_IMEI_LEN   15 /* digits */
#define FL_HAL_SERIAL_MAX 64 /* printable ASCII */
#define FL_HAL_ICCID_MAX  22 /* digits; "" when no SIM */

/* Tamper signals (bit flags), as fl_hal.tamper reports them. */
#define FL_HAL_TAMPER_ROOTED     0x1u /* the OS has been rooted */
#define FL_HAL_TAMPER_BOOTLOADER 0x2u /* the bootloader is unlocked */

/* Who the phone is. */
struct fl_hal_device {
	char imei[2][FL_HAL_IMEI_LEN + 1];  /* IMEI 1 and 2 */
	size_t n_imei;                      /* 1 or 2 */
	char serial[FL_HAL_SERIAL_MAX + 1]; /* serial number, may be "" */
};

/* One HTTP header; both strings borrowed. */
struct fl_hal_header {
	const char *name;
	const char *value;
};

/* A request the agent sends; everything borrowed for the call. */
struct fl_hal_request {
	const char *method; /* "GET" or "POST" */
	const char *path;   /* path with query: "/v1/..." */
	const struct fl_hal_header *headers;
	size_t n_headers;
	const char *body; /* NULL for GET */
	size_t body_len;
	uint32_t timeout_s; /* give up after this long */
	size_t max_body;    /* refuse a bigger answer body */
};

/* The answer. body is allocated by the HAL with malloc, NUL-terminated, and
 * freed by the agent with free(). */
struct fl_hal_response {
	int status;      /* HTTP status */
	char *body;      /* owned by the agent once returned; may be NULL */
	size_t body_len; /* without the NUL */
};

/* What the lock applies: restrictions, and what stays reachable. */
struct fl_hal_policy {
	uint64_t restrict_mask; /* FL_R_* bits (core/restrict.h); 0 none */
	uint32_t guaranteed;    /* FL_G_* that must keep working: all */
	const char *const *allow_apps; /* apps allowed while locked; borrowed */
	size_t n_allow_apps;
	const char *const
	        *lender_phones; /* numbers always callable; borrowed */
	size_t n_lender_phones;
};

struct fl_agent_screen;

#define FL_HAL_SEAL_OVERHEAD 40 /* nonce and tag a seal adds */

/* What the secure hardware records of offline codes. */
struct fl_hal_code {
	uint32_t tries; /* wrong tries on `day` */
	int64_t day;    /* UTC day of those tries */
	uint64_t last;  /* newest code counter accepted, 0 none */
	uint8_t action; /* what it granted: enum fl_ocode_action, 0 none */
	fl_time at;     /* trusted time it was accepted */
	fl_time until;  /* an unlock's end, 0 for a release */
};

/*
 * The platform. Every callback gets ctx first. Callbacks return FL_OK or an
 * error (FL_E_IO for a storage failure, FL_E_NET for a transport failure,
 * FL_E_NOT_FOUND for a blob or secret that does not exist). Required unless
 * marked optional.
 */
struct fl_hal {
	void *ctx;

	/* Persistent partition (survives a factory reset, not a reflash): named
	 * blobs. read copies up to cap bytes into buf and sets *len to the
	 * blob's size (FL_E_TOO_LARGE if it is bigger than cap); write
	 * replaces the blob with buf[len]. The HAL need not be atomic: the
	 * agent writes so that a write cut at any byte loses nothing. */
	fl_err (*persist_read)(void *ctx, const char *name, uint8_t *buf,
	                       size_t cap, size_t *len);
	fl_err (*persist_write)(void *ctx, const char *name, const uint8_t *buf,
	                        size_t len);

	/* User-data partition (wiped by a factory reset): same contract. The
	 * agent keeps only what may be lost there (which reminders were
	 * shown). */
	fl_err (*userdata_read)(void *ctx, const char *name, uint8_t *buf,
	                        size_t cap, size_t *len);
	fl_err (*userdata_write)(void *ctx, const char *name,
	                         const uint8_t *buf, size_t len);

	/* The secure hardware: a trusted application in the phone's TEE or
	 * secure element (the part a vendor's device-financing lock provides;
	 * docs/threat-model.md). The customer can neither read nor change
	 * what it keeps, and no operation here returns a long-term secret's
	 * bytes: keys are generated inside and used inside. It keeps:
	 *   - the factory key pair (Ed25519), provisioned at manufacture; a
	 *     reflash does not change it;
	 *   - a monotonic counter that only goes up; a reflash keeps it;
	 *   - the agent's keys (a reflash wipes them): the sealing key, a
	 *     pending enrollment key pair (Ed25519 + X25519), and after
	 *     enrollment the check-in MAC key and the offline-code secret,
	 *     both derived inside from the key exchange with the server;
	 *   - the offline-code record: tries on the current day, the newest
	 *     code counter accepted and what that code granted.
	 * Each returns FL_OK, FL_E_NOT_FOUND when the key it needs does not
	 * exist, or FL_E_IO.
	 *
	 * factory_pk / factory_sign: the factory key's public half, and an
	 * Ed25519 signature by it. keygen makes a fresh pending enrollment
	 * pair (replacing any) and returns its public halves; pending returns
	 * them (FL_E_NOT_FOUND: none); sign signs with the pending Ed25519
	 * key. enroll completes an enrollment: the key exchange of the
	 * pending X25519 key with server_kx_pk (crypto_kx, client side),
	 * then fl_dp_derive; the MAC key and the offline-code secret replace
	 * the old ones (the same pair and server key give the same keys
	 * again; the next keygen replaces the pair). mac: keyed BLAKE2b-256
	 * with the MAC key. */
	fl_err (*tee_factory_pk)(void *ctx, uint8_t pk[32]);
	fl_err (*tee_factory_sign)(void *ctx, const uint8_t *msg, size_t len,
	                           uint8_t sig[64]);
	fl_err (*tee_keygen)(void *ctx, uint8_t sign_pk[32], uint8_t kx_pk[32]);
	fl_err (*tee_pending)(void *ctx, uint8_t sign_pk[32],
	                      uint8_t kx_pk[32]);
	fl_err (*tee_sign)(void *ctx, const uint8_t *msg, size_t len,
	                   uint8_t sig[64]);
	fl_err (*tee_enroll)(void *ctx, const uint8_t server_kx_pk[32]);
	fl_err (*tee_mac)(void *ctx, const uint8_t *msg, size_t len,
	                  uint8_t mac[32]);

	/* Offline codes, checked inside (core/ocode.h): code tries code at
	 * trusted time now. It refuses at once after FL_OCODE_MAX_TRIES
	 * wrong tries on now's UTC day (FL_E_CODE_TRIES); otherwise it counts
	 * the try durably before checking, and on success records the
	 * counter (retiring every lower one), what it granted and until when
	 * (now + N days), and takes the try back. A day before the recorded
	 * one counts as the recorded one. Errors are those of
	 * fl_ocode_check. code_state reads the record (all zero before any
	 * code). */
	fl_err (*tee_code)(void *ctx, const char *code, fl_time now,
	                   struct fl_hal_code *out);
	fl_err (*tee_code_state)(void *ctx, struct fl_hal_code *out);

	/* Sealing: authenticated encryption under a key that never leaves
	 * this phone's secure hardware (made on first use). seal writes
	 * len + FL_HAL_SEAL_OVERHEAD bytes to out; unseal writes
	 * len - FL_HAL_SEAL_OVERHEAD bytes, or FL_E_CORRUPT when the input
	 * was not sealed by this phone with this ad. */
	fl_err (*tee_seal)(void *ctx, const uint8_t *ad, size_t ad_len,
	                   const uint8_t *in, size_t len, uint8_t *out);
	fl_err (*tee_unseal)(void *ctx, const uint8_t *ad, size_t ad_len,
	                     const uint8_t *in, size_t len, uint8_t *out);

	/* The monotonic counter (replay-protected memory): counter reads it;
	 * counter_raise sets it to `to` when that is higher, never lower. */
	fl_err (*tee_counter)(void *ctx, uint64_t *value);
	fl_err (*tee_counter_raise)(void *ctx, uint64_t to);

	/* Enforcement. apply sets the restrictions in force (mask 0 lifts
	 * every one); the guaranteed capabilities, the allowed apps and the
	 * lender's numbers must stay usable whatever the mask. show draws the
	 * lock screen (s->locked or s->setup_pending) or removes it; the
	 * struct is borrowed for the call. reminder and notice show a one-off
	 * message (text borrowed). show, reminder and notice are
	 * optional. */
	fl_err (*apply)(void *ctx, const struct fl_hal_policy *p);
	void (*show)(void *ctx, const struct fl_agent_screen *s);
	void (*reminder)(void *ctx, const char *text);
	void (*notice)(void *ctx, const char *text);

	/* Identity and signals. sim_iccid writes the current SIM's ICCID
	 * ("" without a SIM) into out[FL_HAL_ICCID_MAX + 1]; tamper sets
	 * FL_HAL_TAMPER_* flags. Both optional (NULL: no signal). */
	fl_err (*device)(void *ctx, struct fl_hal_device *out);
	fl_err (*sim_iccid)(void *ctx, char *out);
	fl_err (*tamper)(void *ctx, uint32_t *flags);

	/* Clocks. wall: the user-settable clock, seconds since the epoch.
	 * mono: milliseconds that keep counting while the phone sleeps
	 * (CLOCK_BOOTTIME) and a boot id that changes at every boot. */
	fl_err (*wall)(void *ctx, fl_time *now);
	fl_err (*mono)(void *ctx, uint64_t *ms, uint64_t *boot_id);

	/* Transport: send req to the lender's server, fill resp. FL_E_NET on
	 * any transport failure (no connection, timeout, TLS). */
	fl_err (*http)(void *ctx, const struct fl_hal_request *req,
	               struct fl_hal_response *resp);
};

/* --- what the screen shows ---------------------------------------------------
 */

#define FL_AGENT_TEXT_MAX   1024 /* message and reminder text */
#define FL_AGENT_NAME_MAX   128  /* lender name, loan reference */
#define FL_AGENT_PHONE_MAX  32   /* one phone number */
#define FL_AGENT_PHONES     4    /* lender numbers shown */
#define FL_AGENT_APPS       16   /* allowed apps listed */
#define FL_AGENT_APP_MAX    128  /* one app id */
#define FL_AGENT_NOTICES    4    /* notices kept */
#define FL_AGENT_NOTICE_MAX 256  /* one notice */

/* The lock screen's default text (a token's "message" replaces it). */
#define FL_AGENT_LOCK_MESSAGE                                                  \
	"This device is locked due to an overdue installment payment"

/* Where the agent is in the phone's life. */
enum fl_agent_phase {
	FL_AGENT_SETUP = 0, /* no state yet: setup waits for a lookup answer */
	FL_AGENT_IDLE,      /* looked up: in no program, or awaiting a code */
	FL_AGENT_PAIRING,  /* reflashed: re-enrolls once the code is approved */
	FL_AGENT_ENROLLED, /* holds a device token, checks in */
	FL_AGENT_RELEASED, /* paid off: no restriction, no check-in, for good */
};

/* Why the lock screen is up, so a platform can word its headline. */
enum fl_agent_lock_reason {
	FL_AGENT_LOCK_NONE = 0, /* not locked */
	FL_AGENT_LOCK_PAYMENT,  /* overdue: an installment is unpaid */
	FL_AGENT_LOCK_STOLEN,   /* reported stolen by the lender */
	FL_AGENT_LOCK_SIM,      /* the SIM changed and the policy locks */
	FL_AGENT_LOCK_TAMPER, /* rooted or bootloader unlocked, policy locks */
	FL_AGENT_LOCK_UNVERIFIED, /* the saved state failed its checks (an
	                           * edited or restored copy): locked until
	                           * the server's answer is verified */
	FL_AGENT_LOCK_LENDER,  /* the lender locked it (now or at a set time) */
	FL_AGENT_LOCK_OFFLINE, /* no contact with the lender for too long */
};

/* "none", "payment", "stolen", "sim", "tamper", "unverified", "lender",
 * "offline"; NULL if out of range. */
const char *fl_agent_lock_reason_name(enum fl_agent_lock_reason r);

/* Everything the phone must show and enforce, by value (strings are
 * truncated to their buffers). */
struct fl_agent_screen {
	enum fl_agent_phase phase;
	bool setup_pending; /* setup waits for the network (lookup) */
	bool locked;        /* lock screen up, restrictions applied */
	enum fl_agent_lock_reason lock_reason; /* why, when locked */
	bool stolen;                     /* reported stolen by the lender */
	enum fl_dev_state state;         /* the state the agent enforces */
	char message[FL_AGENT_TEXT_MAX]; /* lock screen message: the true
	                                    cause in plain words */
	int64_t amount_due; /* minor units; 0 on a lock that is not for an
	                       overdue payment */
	char currency[4];                /* ISO 4217, "" if none */
	char lender_name[FL_AGENT_NAME_MAX];
	char lender_phones[FL_AGENT_PHONES][FL_AGENT_PHONE_MAX];
	size_t n_lender_phones;
	char loan_ref[FL_AGENT_NAME_MAX];
	char reminder[FL_AGENT_TEXT_MAX]; /* latest reminder due, "" none */
	char notices[FL_AGENT_NOTICES][FL_AGENT_NOTICE_MAX]; /* newest last */
	size_t n_notices;
	char pairing_code[20];  /* "1234 5678 9012 3456" while re-enrolling */
	uint64_t restrict_mask; /* FL_R_* in force */
	uint32_t guaranteed;    /* FL_G_* always allowed: FL_G_ALL */
	char allow_apps[FL_AGENT_APPS][FL_AGENT_APP_MAX]; /* allowed apps */
	size_t n_allow_apps;
	fl_time lock_at;      /* scheduled lock, 0 none */
	fl_time unlock_until; /* offline-code unlock end, 0 none */
	bool has_receipt;     /* the signed release receipt is kept */
};

/* Bookkeeping the simulator and tests display. */
struct fl_agent_status {
	enum fl_agent_phase phase;
	char device_id[65];     /* "" before enrollment */
	uint64_t seq;           /* seq of the token held, 0 none */
	uint64_t counter;       /* last request counter used */
	fl_time trusted_time;   /* 0 when never set by a server */
	fl_time effective_time; /* max(trusted, wall): what locks act on */
	uint32_t code_tries;    /* wrong offline codes on the trusted day */
	uint64_t code_counter;  /* newest offline code accepted */
	uint32_t failures;      /* network attempts failed in a row */
	int http_status;        /* status of the last answer, 0 none */
};

/* --- the agent
 * ---------------------------------------------------------------- */

struct fl_agent;

/* Opens the agent on hal (copied) with the factory image's root key:
 * loads the persistent state (the newer valid slot), rebuilds the trust set,
 * re-applies the restrictions in force (a reboot or factory reset does not
 * loosen a lock) and shows the screen. A phone with no state starts in
 * FL_AGENT_SETUP. FL_E_INVALID if a required callback is missing or
 * the IMEIs are not valid; FL_E_IO if the partition cannot be read (a
 * read error is never taken for an empty partition). *out: free with
 * fl_agent_close. */
fl_err fl_agent_open(struct fl_agent **out, const struct fl_hal *hal,
                     const uint8_t root_pk[32]) FL_MUST_USE;
/* Frees the agent and wipes its secrets. NULL-safe. */
void fl_agent_close(struct fl_agent *a);

/* Setup after a wipe (FL_AGENT_SETUP): looks the IMEI up with a fresh
 * nonce, verifies the signed answer and enforces what it says; moves to
 * FL_AGENT_IDLE or FL_AGENT_PAIRING. FL_OK at once in any other phase. */
fl_err fl_agent_setup(struct fl_agent *a) FL_MUST_USE;

/* Enrolls with the clerk's one-time code (code NULL or "": by pairing
 * code, in FL_AGENT_PAIRING). New device keys are made once and reused by
 * retries until the enrollment succeeds. FL_E_STATE when already enrolled;
 * FL_E_AGENT_PENDING while a pairing code waits for approval. */
fl_err fl_agent_enroll(struct fl_agent *a, const char *code) FL_MUST_USE;

/* Checks in: reports SIM and tamper events, receives the newest token,
 * certificates, revocations, seq reset and release receipt. In
 * FL_AGENT_PAIRING it retries the pending enrollment instead. FL_E_STATE
 * once released with the receipt kept, or before enrollment. */
fl_err fl_agent_checkin(struct fl_agent *a) FL_MUST_USE;

/* Long-polls the server for a new token (GET /v1/device/wait), up to
 * timeout_s seconds. Does a check-in instead while reports are pending. */
fl_err fl_agent_wait(struct fl_agent *a, uint32_t timeout_s) FL_MUST_USE;

/* Time passes: reads the clocks and platform signals, keeps trusted time
 * (persisted at least every FL_AGENT_TIME_PERSIST seconds), shows reminders
 * that came due, and locks or unlocks as the time says. */
fl_err fl_agent_tick(struct fl_agent *a) FL_MUST_USE;
#define FL_AGENT_TIME_PERSIST 60

/* Tries a 10-digit offline code read over the phone. The try is counted and
 * persisted before the code is checked; five wrong tries per trusted day
 * (FL_E_CODE_TRIES after that). An accepted unlock code unlocks until its N
 * days have passed; a release code releases. */
fl_err fl_agent_enter_code(struct fl_agent *a, const char *code) FL_MUST_USE;

/* Platform events pushed by the firmware (tick also polls the HAL): tamper
 * flags seen, and the SIM now in the phone ("" none). Reported at the next
 * check-in; the held token's sim_policy / tamper_policy decides the local
 * reaction. */
fl_err fl_agent_report_tamper(struct fl_agent *a, uint32_t flags) FL_MUST_USE;
fl_err fl_agent_report_sim(struct fl_agent *a, const char *iccid) FL_MUST_USE;

/* What the screen must show now. */
void fl_agent_screen(const struct fl_agent *a, struct fl_agent_screen *out);
void fl_agent_status(const struct fl_agent *a, struct fl_agent_status *out);

/* Seconds until the next network call (check-in, wait, setup or pairing
 * retry): the server's hint after a success, exponential backoff with
 * jitter after failures (5 s doubling to 1 h). -1 once nothing is left to
 * do (released with the receipt kept). */
int64_t fl_agent_next_delay(const struct fl_agent *a);

/* The signed release receipt (a finlock:release-receipt token) into *out
 * (caller frees). FL_E_NOT_FOUND before release. */
fl_err fl_agent_receipt(const struct fl_agent *a, char **out) FL_MUST_USE;

#endif
