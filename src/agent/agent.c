/*
 * The device agent: state, the lock decision on the phone, enforcement
 * through the HAL, trusted time, offline codes, SIM and tamper signals.
 * The network side (enroll, check-in, wait, lookup) is in net.c.
 *
 * Phases (enum fl_agent_phase) and who moves between them:
 *
 *            open with an empty partition
 *                      |
 *                      v
 *   +-------------- SETUP --------------+
 *   | lookup: none/enroll/released      | lookup: pairing
 *   v                                   v
 *  IDLE --- enroll(code) ---+        PAIRING --- enroll("") approved,
 *                           |           |          or enroll(code)
 *                           v           v
 *                        ENROLLED <-----+
 *                           |
 *   released token, or a release code
 *                           v
 *                        RELEASED (for good; a stolen token still locks)
 *
 *   from      to        made by
 *   SETUP     IDLE      net.c setup_apply (program none, enroll, released)
 *   SETUP     PAIRING   net.c setup_apply (program pairing)
 *   IDLE      ENROLLED  net.c enroll_apply (one-time code)
 *   PAIRING   ENROLLED  net.c enroll_apply (pairing approved, or a code)
 *   ENROLLED  RELEASED  fl_agent_accept_token (state "released"),
 *                       fl_agent_enter_code (release code)
 *
 * Whether the phone is locked is decided afresh (decide) every time
 * anything changes or time passes, from the held claims, the effective time
 * (max of trusted time and wall clock), an offline-code unlock and local
 * SIM/tamper reactions:
 *
 *   saved state unproven (an edited or older
 *   copy, a token that no longer verifies),
 *   or re-pairing with no token to enforce  -> locked ("unverified")
 *                                              unless code unlock
 *   stolen                                  -> locked (no code lifts it)
 *   released (not stolen)                   -> free, for good
 *   state locked, or lock_at <= effective   -> locked unless code unlock
 *   SIM/tamper reaction "lock" in force     -> locked unless code unlock
 *   otherwise                               -> free
 */
#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/imei.h"
#include "core/ocode.h"
#include "core/restrict.h"

_Static_assert(FL_HAL_TAMPER_ROOTED == FL_DP_TAMPER_ROOTED,
               "tamper flags agree");
_Static_assert(FL_HAL_TAMPER_BOOTLOADER == FL_DP_TAMPER_BOOTLOADER,
               "tamper flags agree");
_Static_assert(FL_OCODE_SECRET_LEN == FL_DP_OCODE_SECRET_LEN,
               "offline-code secret sizes agree");
_Static_assert(FL_HAL_ICCID_MAX == FL_DP_ICCID_MAX, "ICCID sizes agree");

static const char setup_message[] =
        "Connect to Wi-Fi or mobile data to finish setting up this phone.";
static const char stolen_message[] =
        "This device has been reported lost or stolen. Contact the lender.";
static const char sim_message[] =
        "This device is locked because its SIM card was changed. Contact "
        "the lender.";
static const char unverified_message[] =
        "This phone could not verify its payment status. Connect to Wi-Fi "
        "or mobile data, or call the lender.";
static const char tamper_message[] =
        "This device is locked because its software was modified. Contact "
        "the lender.";

/* --- small helpers ------------------------------------------------------- */

static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	n = strnlen(src, cap - 1);
	/* never cut a UTF-8 sequence in half */
	while (n > 0 && n == cap - 1 && ((unsigned char)src[n] & 0xc0) == 0x80)
		n--;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static struct fl_ttime tt_get(const struct fl_pstate *s)
{
	struct fl_ttime t = {s->tt_known, s->tt_base, s->tt_mono, s->tt_boot};
	return t;
}

static void tt_put(struct fl_pstate *s, const struct fl_ttime *t)
{
	s->tt_known = t->known;
	s->tt_base = t->base;
	s->tt_mono = t->mono;
	s->tt_boot = t->boot;
}

fl_err fl_agent_read_clocks(struct fl_agent *a)
{
	fl_err err;

	err = a->hal.wall(a->hal.ctx, &a->wall);
	if (err)
		return FL_E_IO;
	if (a->wall < 0 || a->wall > FL_TIME_MAX)
		a->wall = 0; /* a nonsense wall clock counts as none */
	err = a->hal.mono(a->hal.ctx, &a->mono, &a->boot);
	return err ? FL_E_IO : FL_OK;
}

fl_time fl_agent_trusted(const struct fl_agent *a)
{
	struct fl_ttime t = tt_get(&a->st);
	return fl_ttime_now(&t, a->mono, a->boot);
}

fl_time fl_agent_effective(const struct fl_agent *a)
{
	return fl_ttime_effective(fl_agent_trusted(a), a->wall);
}

void fl_agent_learn_time(struct fl_agent *a, fl_time server)
{
	struct fl_ttime t = tt_get(&a->st);

	if (fl_ttime_learn(&t, server, a->mono, a->boot))
		tt_put(&a->st, &t);
}

void fl_agent_fresh_time(struct fl_agent *a, fl_time server)
{
	struct fl_ttime t = tt_get(&a->st);
	uint64_t took = a->boot == a->sent_boot && a->mono >= a->sent_mono
	                        ? a->mono - a->sent_mono
	                        : 0;

	fl_ttime_learn(&t, server, a->mono, a->boot);
	fl_ttime_correct(&t, server, took, a->mono, a->boot);
	tt_put(&a->st, &t);
}

/* --- trust set and claims, rebuilt from the persisted state ------------------
 */

/* Rebuilds a->trust from the root, the revocations and the certificates
 * in a->st (a certificate that no longer verifies is skipped). Expiry is
 * not judged here: a certificate's end limits when a token may be
 * accepted, and fl_trust_verify judges it then; a token already held
 * stays in force however long the phone stays offline. */
static fl_err rebuild_trust(struct fl_agent *a)
{
	struct fl_trust *t = NULL;
	const fl_time now = FL_AGENT_ANY_TIME;
	fl_err err;

	err = fl_trust_new(&t, a->root_pk);
	if (err)
		return err;
	for (size_t i = 0; i < a->st.n_revs; i++)
		if (fl_trust_add_revocation(t, a->st.revs[i]) == FL_E_NOMEM) {
			fl_trust_free(t);
			return FL_E_NOMEM;
		}
	for (size_t i = 0; i < a->st.n_certs; i++)
		if (fl_trust_add_cert(t, a->st.certs[i], now, NULL) ==
		    FL_E_NOMEM) {
			fl_trust_free(t);
			return FL_E_NOMEM;
		}
	fl_trust_free(a->trust);
	a->trust = t;
	return FL_OK;
}

/* True when the token's IMEIs are this phone's: each of them is one of
 * the phone's, and the phone's first IMEI is among them. */
static bool imeis_match(const struct fl_agent *a,
                        const struct fl_device_claims *c)
{
	bool first = false;

	if (c->n_imei < 1 || c->n_imei > 2)
		return false;
	for (size_t i = 0; i < c->n_imei; i++) {
		bool mine = false;
		for (size_t j = 0; j < a->dev.n_imei; j++)
			if (strcmp(c->imei[i], a->dev.imei[j]) == 0)
				mine = true;
		if (!mine)
			return false;
		if (strcmp(c->imei[i], a->dev.imei[0]) == 0)
			first = true;
	}
	return first;
}

fl_err fl_agent_token_check(const struct fl_agent *a, const char *token,
                            fl_time now, bool from_lookup,
                            struct fl_device_claims *c)
{
	char *payload = NULL;
	size_t len = 0;
	fl_err err;

	memset(c, 0, sizeof(*c));
	/* kid first (unknown or revoked keys end here), then the signature
	 * with the device token's implicit assertion */
	err = fl_trust_verify(a->trust, FL_MSG_DEVICE_TOKEN, token, now,
	                      &payload, &len);
	if (!err)
		err = fl_claims_decode(payload, len, c);
	if (err)
		goto out;
	if (c->sub == NULL || fl_dp_device_id_check(c->sub) != FL_OK ||
	    (!from_lookup && strcmp(c->sub, a->st.device_id) != 0)) {
		err = FL_E_WRONG_SUBJECT;
		goto out;
	}
	if (!imeis_match(a, c)) {
		err = FL_E_WRONG_IMEI;
		goto out;
	}
	if (now != FL_AGENT_ANY_TIME) {
		/* the acceptance window, on trusted time */
		struct fl_claims_expect e = {
		        .device_id = c->sub,
		        .imei = a->dev.imei[0],
		        .last_seq = 0,
		        .now = now,
		        .skew = FL_AGENT_SKEW,
		};
		err = c->seq == 0 ? FL_E_REPLAY : fl_claims_check(c, &e);
	}
out:
	free(payload);
	if (err)
		fl_claims_clear(c);
	return err;
}

/* The release receipt held, checked as on arrival but for time. */
static bool receipt_ok(const struct fl_agent *a)
{
	struct fl_dp_receipt r = {0};
	char *payload = NULL;
	size_t len = 0;
	bool ok;

	if (a->st.receipt == NULL)
		return false;
	ok = fl_trust_verify(a->trust, FL_MSG_RELEASE_RECEIPT, a->st.receipt,
	                     FL_AGENT_ANY_TIME, &payload, &len) == FL_OK &&
	     fl_dp_receipt_decode(payload, len, &r) == FL_OK &&
	     strcmp(r.device_id, a->st.device_id) == 0;
	fl_dp_receipt_clear(&r);
	free(payload);
	return ok;
}

/* Verifies everything the saved state claims on its own authority, as on
 * every load: the token held (signature, kid, device id, IMEIs), the
 * receipt, and that a release is proven. What fails leaves a->unverified
 * set: the phone locks until the server's answer is verified. */
static fl_err rebuild_claims(struct fl_agent *a)
{
	fl_err err;

	fl_claims_clear(&a->claims);
	a->has_claims = false;
	a->unverified = false;
	a->receipt_ok = receipt_ok(a);
	if (a->st.token != NULL) {
		err = fl_agent_token_check(a, a->st.token, FL_AGENT_ANY_TIME,
		                           a->st.claims_from_lookup,
		                           &a->claims);
		if (err == FL_E_NOMEM)
			return err;
		a->has_claims = err == FL_OK;
		a->unverified = err != FL_OK;
	}
	if (a->st.phase == FL_AGENT_RELEASED && !fl_agent_released_proven(a))
		a->unverified = true;
	return FL_OK;
}

bool fl_agent_released_proven(const struct fl_agent *a)
{
	return (a->has_claims && !a->st.claims_from_lookup &&
	        a->claims.state == FL_ST_RELEASED) ||
	       a->receipt_ok || a->code.action == FL_OCODE_RELEASE;
}

/* --- transactions ------------------------------------------------------------
 */

fl_err fl_agent_txn_begin(struct fl_agent *a, struct fl_pstate *snap)
{
	return fl_pstate_copy(snap, &a->st);
}

fl_err fl_agent_txn_end(struct fl_agent *a, struct fl_pstate *snap, fl_err err)
{
	if (!err) {
		struct fl_ttime t = tt_get(&a->st);
		fl_ttime_rebase(&t, a->mono, a->boot);
		tt_put(&a->st, &t);
		err = fl_persist_store(&a->hal, &a->st, &a->pos);
	}
	if (err) {
		fl_pstate_clear(&a->st);
		a->st = *snap;
		memset(snap, 0, sizeof(*snap));
		if (rebuild_trust(a) != FL_OK || rebuild_claims(a) != FL_OK)
			return FL_E_NOMEM;
		return err;
	}
	fl_pstate_clear(snap);
	return FL_OK;
}

/* Commits the current in-memory changes with no snapshot to return to:
 * used where the change must reach the partition before anything else
 * happens (a counter, a try). */
static fl_err store_now(struct fl_agent *a)
{
	struct fl_ttime t = tt_get(&a->st);

	fl_ttime_rebase(&t, a->mono, a->boot);
	tt_put(&a->st, &t);
	return fl_persist_store(&a->hal, &a->st, &a->pos);
}

/* --- keys, certificates, revocations -----------------------------------------
 */

static bool have_str(char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

fl_err fl_agent_add_keys(struct fl_agent *a, const struct fl_dp_keys *k,
                         fl_time now)
{
	/* Revocations first, so a certificate for a revoked key in the same
	 * answer is refused. Each item stands on its own root signature: one
	 * that does not verify is dropped, the rest kept. */
	for (size_t i = 0; i < k->n_revocations; i++) {
		const char *r = k->revocations[i];
		fl_err err;
		char *d;

		if (have_str(a->st.revs, a->st.n_revs, r))
			continue;
		err = fl_trust_add_revocation(a->trust, r);
		if (err == FL_E_NOMEM)
			return err;
		if (err)
			continue;
		if (a->st.n_revs == FL_PERSIST_MAX_REVS)
			return FL_E_TOO_LARGE;
		d = strdup(r);
		if (d == NULL)
			return FL_E_NOMEM;
		a->st.revs[a->st.n_revs++] = d;
	}
	for (size_t i = 0; i < k->n_certs; i++) {
		const char *c = k->certs[i];
		fl_err err;
		char *d;

		if (have_str(a->st.certs, a->st.n_certs, c))
			continue;
		err = fl_trust_add_cert(a->trust, c, now, NULL);
		if (err == FL_E_NOMEM)
			return err;
		if (err)
			continue;
		if (a->st.n_certs == FL_PERSIST_MAX_CERTS) {
			/* make room: drop the oldest certificate kept */
			free(a->st.certs[0]);
			memmove(a->st.certs, a->st.certs + 1,
			        (a->st.n_certs - 1) * sizeof(char *));
			a->st.n_certs--;
		}
		d = strdup(c);
		if (d == NULL)
			return FL_E_NOMEM;
		a->st.certs[a->st.n_certs++] = d;
	}
	return FL_OK;
}

/* --- claims and tokens
 * -------------------------------------------------------- */

fl_err fl_agent_set_token(struct fl_agent *a, const char *token,
                          struct fl_device_claims *c, bool from_lookup)
{
	char *copy = strdup(token);

	if (copy == NULL)
		return FL_E_NOMEM;
	free(a->st.token);
	a->st.token = copy;
	a->st.claims_from_lookup = from_lookup;
	a->unverified = false;
	fl_claims_clear(&a->claims);
	a->claims = *c;
	memset(c, 0, sizeof(*c));
	a->has_claims = true;
	return FL_OK;
}

static void reminders(struct fl_agent *a);

fl_err fl_agent_accept_token(struct fl_agent *a, const char *token)
{
	struct fl_device_claims c = {0};
	fl_time now = fl_agent_trusted(a);
	fl_err err;

	/* Every token is checked in full, the seq already held included:
	 * kid, revocation and signature, device id and IMEIs. The token
	 * already held, sent again, changes nothing (its window may have
	 * passed since: that limits acceptance, and it was accepted). Any
	 * other token must also be within its window on trusted time. */
	if (a->st.token != NULL && strcmp(token, a->st.token) == 0 &&
	    !a->st.claims_from_lookup) {
		err = fl_agent_token_check(a, token, FL_AGENT_ANY_TIME, false,
		                           &c);
		goto out;
	}
	err = fl_agent_token_check(a, token, now, false, &c);
	if (err)
		goto out;
	if (c.seq < a->st.seq ||
	    (c.seq == a->st.seq && a->has_claims && !a->unverified &&
	     !a->st.claims_from_lookup)) {
		/* an older token, or another one with the seq held */
		err = c.seq < a->st.seq ? FL_E_REPLAY : FL_OK;
		goto out;
	}
	a->st.seq = c.seq;
	fl_agent_learn_time(a, c.iat);
	/* A local SIM/tamper lock holds until the server has decided on the
	 * report: a token issued at or after the event. Trusted time comes
	 * from the server and can only lag it, so no skew is allowed here. */
	if (a->st.react_lock && c.iat >= a->st.react_at)
		a->st.react_lock = 0;
	/* A new token lists only the reminders still to come: the ones of
	 * the claims held whose time came while the phone was parked on a
	 * long-poll are shown now, before those claims are replaced. */
	reminders(a);
	if (c.state == FL_ST_RELEASED && !c.stolen)
		a->st.phase = FL_AGENT_RELEASED; /* for good */
	err = fl_agent_set_token(a, token, &c, false);
out:
	fl_claims_clear(&c);
	return err;
}

/* --- device keys
 * ---------------------------------------------------------------- */

fl_err fl_agent_make_keys(struct fl_agent *a)
{
	uint8_t pk[FL_SIGN_PK_LEN], kxpk[FL_KX_PK_LEN];

	/* made inside the secure hardware; only the public halves come out */
	if (a->hal.tee_keygen(a->hal.ctx, pk, kxpk) != FL_OK)
		return FL_E_IO;
	a->st.enroll_pending = true;
	memcpy(a->st.pend_sign_pk, pk, sizeof(pk));
	memcpy(a->st.pend_kx_pk, kxpk, sizeof(kxpk));
	return FL_OK;
}

void fl_agent_pairing_code(const struct fl_agent *a, char out[20])
{
	char code[FL_DP_PAIRING_LEN + 1];
	size_t n = 0;

	out[0] = '\0';
	if (a->st.phase != FL_AGENT_PAIRING || !a->st.enroll_pending)
		return;
	fl_dp_pairing_code(a->st.pend_sign_pk, a->st.pend_kx_pk, code);
	/* shown in groups of four: "1234 5678 9012 3456" */
	for (size_t i = 0; code[i] != '\0' && n < 19; i++) {
		if (i > 0 && i % 4 == 0)
			out[n++] = ' ';
		out[n++] = code[i];
	}
	out[n] = '\0';
}

/* --- user data: reminders shown and notices
 * -------------------------------------- */

static void ui_save(struct fl_agent *a)
{
	uint8_t buf[16 + FL_AGENT_NOTICES * (2 + FL_AGENT_NOTICE_MAX)];
	size_t n = 0;

	memcpy(buf, "FLUI", 4);
	for (int i = 0; i < 8; i++)
		buf[4 + i] = (uint8_t)((uint64_t)a->reminder_mark >> (8 * i));
	buf[12] = (uint8_t)a->n_notices;
	n = 13;
	for (size_t i = 0; i < a->n_notices; i++) {
		size_t l = strlen(a->notices[i]);
		buf[n] = (uint8_t)l;
		buf[n + 1] = (uint8_t)(l >> 8);
		memcpy(buf + n + 2, a->notices[i], l);
		n += 2 + l;
	}
	/* losing this blob only shows a reminder or notice twice */
	(void)a->hal.userdata_write(a->hal.ctx, FL_UI_BLOB, buf, n);
}

static void ui_load(struct fl_agent *a)
{
	uint8_t buf[16 + FL_AGENT_NOTICES * (2 + FL_AGENT_NOTICE_MAX)];
	size_t len = 0, off;
	uint64_t mark = 0;

	a->reminder_mark = 0;
	a->n_notices = 0;
	if (a->hal.userdata_read(a->hal.ctx, FL_UI_BLOB, buf, sizeof(buf),
	                         &len) != FL_OK ||
	    len < 13 || len > sizeof(buf) || memcmp(buf, "FLUI", 4) != 0)
		return;
	for (int i = 7; i >= 0; i--)
		mark = (mark << 8) | buf[4 + i];
	if ((fl_time)mark < 0 || (fl_time)mark > FL_TIME_MAX)
		return;
	a->reminder_mark = (fl_time)mark;
	off = 13;
	for (size_t i = 0; i < buf[12] && i < FL_AGENT_NOTICES; i++) {
		size_t l;
		if (len - off < 2)
			break;
		l = (size_t)buf[off] | ((size_t)buf[off + 1] << 8);
		if (l >= FL_AGENT_NOTICE_MAX || l > len - off - 2 ||
		    memchr(buf + off + 2, '\0', l) != NULL)
			break;
		memcpy(a->notices[i], buf + off + 2, l);
		a->notices[i][l] = '\0';
		a->n_notices = i + 1;
		off += 2 + l;
	}
}

void fl_agent_notice(struct fl_agent *a, const char *text)
{
	if (a->n_notices == FL_AGENT_NOTICES) {
		memmove(a->notices[0], a->notices[1],
		        (FL_AGENT_NOTICES - 1) * sizeof(a->notices[0]));
		a->n_notices--;
	}
	copy_text(a->notices[a->n_notices], FL_AGENT_NOTICE_MAX, text);
	a->n_notices++;
	if (a->hal.notice != NULL)
		a->hal.notice(a->hal.ctx, text);
	ui_save(a);
}

/* --- the decision on the phone
 * --------------------------------------------------- */

static bool code_unlocked(const struct fl_agent *a, fl_time eff)
{
	return a->code.until != 0 && eff < a->code.until;
}

/* Why a token's lock holds, from its lock_cause claim. A token that does
 * not say (an older server's) reads as overdue when it shows an amount due,
 * else as the lender's lock. */
static enum fl_agent_lock_reason
token_lock_reason(const struct fl_device_claims *c)
{
	switch (c->lock_cause) {
	case FL_CLAIM_CAUSE_OVERDUE:
		return FL_AGENT_LOCK_PAYMENT;
	case FL_CLAIM_CAUSE_OFFLINE:
		return FL_AGENT_LOCK_OFFLINE;
	case FL_CLAIM_CAUSE_LENDER:
		return FL_AGENT_LOCK_LENDER;
	case FL_CLAIM_CAUSE_STOLEN:
		return FL_AGENT_LOCK_STOLEN;
	default:
		return c->amount_due > 0 ? FL_AGENT_LOCK_PAYMENT
		                         : FL_AGENT_LOCK_LENDER;
	}
}

/* The lock screen's words for a lock the token holds: the lender's own
 * message on an overdue lock, the lender's reason (when shown) on the
 * lender's lock. buf (cap bytes) holds a composed text. */
static const char *token_lock_message(const struct fl_device_claims *c,
                                      enum fl_agent_lock_reason r, char *buf,
                                      size_t cap)
{
	static const char lender_message[] =
	        "This device has been locked by the lender. Contact the "
	        "lender.";
	static const char offline_message[] =
	        "This device is locked because it has not reached the lender "
	        "for too long. Connect to Wi-Fi or mobile data to unlock it.";

	switch (r) {
	case FL_AGENT_LOCK_STOLEN:
		return stolen_message;
	case FL_AGENT_LOCK_OFFLINE:
		return offline_message;
	case FL_AGENT_LOCK_LENDER:
		if (c->lock_reason_text == NULL || c->lock_reason_text[0] == '\0')
			return lender_message;
		snprintf(buf, cap,
		         "This device has been locked by the lender. Reason: %s",
		         c->lock_reason_text);
		return buf;
	default:
		return c->message != NULL && c->message[0]
		               ? c->message
		               : FL_AGENT_LOCK_MESSAGE;
	}
}

/* Fills a->screen from the state and the effective time. */
static void decide(struct fl_agent *a)
{
	struct fl_agent_screen *s = &a->screen;
	const struct fl_device_claims *c = a->has_claims ? &a->claims : NULL;
	fl_time eff = fl_agent_effective(a);
	const char *msg = NULL;
	char lender_msg[FL_AGENT_TEXT_MAX];
	bool pay_lock = false;

	memset(s, 0, sizeof(*s));
	s->phase = (enum fl_agent_phase)a->st.phase;
	s->guaranteed = FL_G_ALL;
	s->state = c != NULL ? c->state : FL_ST_PENDING;
	s->unlock_until = code_unlocked(a, eff) ? a->code.until : 0;
	s->has_receipt = a->st.receipt != NULL;
	fl_agent_pairing_code(a, s->pairing_code);
	for (size_t i = 0; i < a->n_notices; i++)
		copy_text(s->notices[i], FL_AGENT_NOTICE_MAX, a->notices[i]);
	s->n_notices = a->n_notices;

	if (a->st.phase == FL_AGENT_SETUP) {
		s->setup_pending = true;
		s->restrict_mask = FL_R_DEFAULT_LOCK;
		copy_text(s->message, sizeof(s->message), setup_message);
		return;
	}
	if (c != NULL) {
		copy_text(s->lender_name, sizeof(s->lender_name),
		          c->contact_name);
		for (size_t i = 0;
		     i < c->n_contact_phones && i < FL_AGENT_PHONES; i++)
			copy_text(s->lender_phones[i], FL_AGENT_PHONE_MAX,
			          c->contact_phones[i]);
		s->n_lender_phones = c->n_contact_phones < FL_AGENT_PHONES
		                             ? c->n_contact_phones
		                             : FL_AGENT_PHONES;
		copy_text(s->loan_ref, sizeof(s->loan_ref), c->loan_ref);
		s->amount_due = c->amount_due;
		memcpy(s->currency, c->currency, sizeof(s->currency));
		for (size_t i = 0; i < c->n_allow_apps && i < FL_AGENT_APPS;
		     i++)
			copy_text(s->allow_apps[i], FL_AGENT_APP_MAX,
			          c->allow_apps[i]);
		s->n_allow_apps = c->n_allow_apps < FL_AGENT_APPS
		                          ? c->n_allow_apps
		                          : FL_AGENT_APPS;
		s->lock_at = c->lock_at;
		s->stolen = c->stolen;
		/* the newest reminder due within the last day */
		for (size_t i = 0; i < c->n_reminders; i++) {
			const struct fl_reminder *r = &c->reminders[i];
			if (r->at <= eff && eff - r->at < FL_DAY)
				copy_text(s->reminder, sizeof(s->reminder),
				          r->text);
		}
	}

	if ((a->unverified || a->st.distrust ||
	     (a->st.phase == FL_AGENT_PAIRING && c == NULL)) &&
	    !(a->st.phase == FL_AGENT_RELEASED &&
	      fl_agent_released_proven(a)) &&
	    !code_unlocked(a, eff)) {
		/* The saved state failed its checks, or an older copy was
		 * put back: nothing in it is trusted to loosen the lock.
		 * The lender's contact from a genuine token still shows. */
		s->locked = true;
		s->lock_reason = FL_AGENT_LOCK_UNVERIFIED;
		s->lock_at = 0;
		s->reminder[0] = '\0';
		msg = unverified_message;
	} else if (c != NULL && c->stolen) {
		s->locked = true;
		s->lock_reason = FL_AGENT_LOCK_STOLEN;
		msg = stolen_message;
	} else if (a->st.phase == FL_AGENT_RELEASED ||
	           a->code.action == FL_OCODE_RELEASE ||
	           (c != NULL && c->state == FL_ST_RELEASED)) {
		s->locked = false;
		s->lock_at = 0;
		s->reminder[0] = '\0';
	} else if (!code_unlocked(a, eff)) {
		pay_lock =
		        c != NULL && (c->state == FL_ST_LOCKED ||
		                      (c->lock_at != 0 && eff >= c->lock_at));
		if (pay_lock) {
			s->locked = true;
			s->lock_reason = token_lock_reason(c);
			msg = token_lock_message(c, s->lock_reason, lender_msg,
			                         sizeof(lender_msg));
		} else if (a->st.react_lock & FL_REACT_TAMPER) {
			s->locked = true;
			s->lock_reason = FL_AGENT_LOCK_TAMPER;
			msg = tamper_message;
		} else if (a->st.react_lock & FL_REACT_SIM) {
			s->locked = true;
			s->lock_reason = FL_AGENT_LOCK_SIM;
			msg = sim_message;
		}
	}
	/* what is owed is shown only on a lock for an overdue payment */
	if (s->locked && s->lock_reason != FL_AGENT_LOCK_PAYMENT)
		s->amount_due = 0;
	if (s->locked) {
		s->state = FL_ST_LOCKED;
		s->restrict_mask = c != NULL && c->restrict_mask != 0
		                           ? c->restrict_mask
		                           : FL_R_DEFAULT_LOCK;
		copy_text(s->message, sizeof(s->message), msg);
	}
}

const char *fl_agent_lock_reason_name(enum fl_agent_lock_reason r)
{
	static const char *const names[] = {
	        [FL_AGENT_LOCK_NONE] = "none",
	        [FL_AGENT_LOCK_PAYMENT] = "payment",
	        [FL_AGENT_LOCK_STOLEN] = "stolen",
	        [FL_AGENT_LOCK_SIM] = "sim",
	        [FL_AGENT_LOCK_TAMPER] = "tamper",
	        [FL_AGENT_LOCK_UNVERIFIED] = "unverified",
	        [FL_AGENT_LOCK_LENDER] = "lender",
	        [FL_AGENT_LOCK_OFFLINE] = "offline",
	};

	if ((unsigned)r >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[r];
}

/* Shows reminders whose time came (once each, online or not). */
static void reminders(struct fl_agent *a)
{
	fl_time eff = fl_agent_effective(a), mark = a->reminder_mark;

	if (!a->has_claims || a->st.phase == FL_AGENT_RELEASED)
		return;
	for (size_t i = 0; i < a->claims.n_reminders; i++) {
		const struct fl_reminder *r = &a->claims.reminders[i];
		if (r->at > a->reminder_mark && r->at <= eff &&
		    eff - r->at < FL_DAY) {
			if (a->hal.reminder != NULL)
				a->hal.reminder(a->hal.ctx, r->text);
			if (r->at > mark)
				mark = r->at;
		}
	}
	if (mark != a->reminder_mark) {
		a->reminder_mark = mark;
		ui_save(a);
	}
}

/* Decides, then applies and shows what changed. */
void fl_agent_enforce(struct fl_agent *a)
{
	struct fl_hal_policy p = {0};
	const char *apps[FL_AGENT_APPS], *phones[FL_AGENT_PHONES];

	decide(a);
	reminders(a);
	decide(a); /* the reminder text may have changed the screen */
	if (!a->applied || a->applied_mask != a->screen.restrict_mask) {
		p.restrict_mask = a->screen.restrict_mask;
		p.guaranteed = FL_G_ALL;
		for (size_t i = 0; i < a->screen.n_allow_apps; i++)
			apps[i] = a->screen.allow_apps[i];
		p.allow_apps = apps;
		p.n_allow_apps = a->screen.n_allow_apps;
		for (size_t i = 0; i < a->screen.n_lender_phones; i++)
			phones[i] = a->screen.lender_phones[i];
		p.lender_phones = phones;
		p.n_lender_phones = a->screen.n_lender_phones;
		if (a->hal.apply(a->hal.ctx, &p) == FL_OK) {
			a->applied = true;
			a->applied_mask = a->screen.restrict_mask;
		} else {
			a->applied = false; /* retried at the next tick */
		}
	}
	if (!a->shown_valid ||
	    memcmp(&a->shown, &a->screen, sizeof(a->screen)) != 0) {
		a->shown = a->screen;
		a->shown_valid = true;
		if (a->hal.show != NULL)
			a->hal.show(a->hal.ctx, &a->screen);
	}
}

/* --- network bookkeeping
 * --------------------------------------------------------- */

void fl_agent_net_result(struct fl_agent *a, fl_err err)
{
	if (err == FL_OK || err == FL_E_AGENT_PENDING) {
		a->failures = 0;
		return;
	}
	if (a->failures < 64)
		a->failures++;
}

int64_t fl_agent_next_delay(const struct fl_agent *a)
{
	int64_t base;

	if (a->st.phase == FL_AGENT_RELEASED && a->st.receipt != NULL)
		return -1;
	if (a->st.phase == FL_AGENT_IDLE)
		return -1; /* waits for a clerk's code, not for time */
	if (a->failures > 0) {
		base = FL_AGENT_BACKOFF_MIN;
		for (uint32_t i = 1;
		     i < a->failures && base < FL_AGENT_BACKOFF_MAX; i++)
			base *= 2;
		if (base > FL_AGENT_BACKOFF_MAX)
			base = FL_AGENT_BACKOFF_MAX;
		/* jitter: between half and all of it, so phones that lost the
		 * network together do not come back together */
		return base / 2 + (int64_t)fl_random_uniform(
		                          (uint32_t)(base - base / 2 + 1));
	}
	if (a->st.phase == FL_AGENT_SETUP)
		return 0;
	if (a->st.phase == FL_AGENT_PAIRING)
		return a->pairing_wait ? FL_AGENT_PAIRING_POLL : 0;
	return a->next_hint != 0 ? a->next_hint : FL_AGENT_CHECKIN_DEFAULT;
}

/* --- platform signals
 * ------------------------------------------------------------ */

static fl_err on_tamper(struct fl_agent *a, uint32_t flags)
{
	struct fl_pstate snap;
	enum fl_reaction r;
	uint32_t fresh;
	fl_err err;

	flags &= FL_DP_TAMPER_ALL;
	fresh = flags & ~a->st.tamper_seen;
	if (fresh == 0)
		return FL_OK;
	err = fl_agent_txn_begin(a, &snap);
	if (err)
		return err;
	a->st.tamper_seen |= fresh;
	a->st.tamper_pending |= fresh;
	r = a->has_claims && a->st.phase != FL_AGENT_RELEASED
	            ? a->claims.tamper_policy
	            : FL_REACT_NONE;
	if (r == FL_REACT_LOCK) {
		a->st.react_lock |= FL_REACT_TAMPER;
		a->st.react_at = fl_agent_trusted(a);
	}
	err = fl_agent_txn_end(a, &snap, FL_OK);
	if (!err && r != FL_REACT_NONE)
		fl_agent_notice(a, "This phone's software was modified. This "
		                   "has been reported to the lender.");
	return err;
}

static bool iccid_ok(const char *s)
{
	size_t n = strnlen(s, FL_DP_ICCID_MAX + 1);

	if (n != 0 && (n < 18 || n > FL_DP_ICCID_MAX))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static fl_err on_sim(struct fl_agent *a, const char *iccid)
{
	struct fl_pstate snap;
	enum fl_reaction r = FL_REACT_NONE;
	bool changed;
	fl_err err;

	if (!iccid_ok(iccid))
		return FL_E_INVALID;
	/* no SIM is not a change; the same SIM as before is not either */
	if (iccid[0] == '\0' || strcmp(iccid, a->st.iccid_now) == 0)
		return FL_OK;
	err = fl_agent_txn_begin(a, &snap);
	if (err)
		return err;
	strcpy(a->st.iccid_now, iccid);
	changed = false;
	if (a->st.iccid_known[0] == '\0' || a->st.phase != FL_AGENT_ENROLLED) {
		/* the first SIM seen (or before enrollment) is the known one */
		strcpy(a->st.iccid_known, iccid);
	} else if (strcmp(iccid, a->st.iccid_known) != 0) {
		changed = true;
		a->st.sim_pending = true;
		r = a->has_claims ? a->claims.sim_policy : FL_REACT_NONE;
		if (r == FL_REACT_LOCK) {
			a->st.react_lock |= FL_REACT_SIM;
			a->st.react_at = fl_agent_trusted(a);
		}
	} else {
		a->st.sim_pending = false; /* back to the known SIM */
	}
	err = fl_agent_txn_end(a, &snap, FL_OK);
	if (!err && changed && r != FL_REACT_NONE)
		fl_agent_notice(a, "The SIM card was changed. This has been "
		                   "reported to the lender.");
	return err;
}

static fl_err poll_platform(struct fl_agent *a)
{
	char iccid[FL_HAL_ICCID_MAX + 1];
	uint32_t flags = 0;
	fl_err err = FL_OK;

	if (a->st.phase == FL_AGENT_RELEASED)
		return FL_OK;
	if (a->hal.tamper != NULL && a->hal.tamper(a->hal.ctx, &flags) == FL_OK)
		err = on_tamper(a, flags);
	if (!err && a->hal.sim_iccid != NULL) {
		memset(iccid, 0, sizeof(iccid));
		if (a->hal.sim_iccid(a->hal.ctx, iccid) == FL_OK) {
			iccid[FL_HAL_ICCID_MAX] = '\0';
			err = on_sim(a, iccid);
			if (err == FL_E_INVALID)
				err = FL_OK; /* a SIM we cannot read: ignore */
		}
	}
	return err;
}

fl_err fl_agent_report_tamper(struct fl_agent *a, uint32_t flags)
{
	fl_err err = fl_agent_read_clocks(a);

	if (!err && a->st.phase != FL_AGENT_RELEASED)
		err = on_tamper(a, flags);
	fl_agent_enforce(a);
	return err;
}

fl_err fl_agent_report_sim(struct fl_agent *a, const char *iccid)
{
	fl_err err;

	if (iccid == NULL)
		return FL_E_INVALID;
	err = fl_agent_read_clocks(a);
	if (!err && a->st.phase != FL_AGENT_RELEASED)
		err = on_sim(a, iccid);
	fl_agent_enforce(a);
	return err;
}

/* --- open, close, tick
 * ----------------------------------------------------------- */

static bool hal_complete(const struct fl_hal *h)
{
	return h->persist_read && h->persist_write && h->userdata_read &&
	       h->userdata_write && h->tee_factory_pk && h->tee_factory_sign &&
	       h->tee_keygen && h->tee_pending && h->tee_sign &&
	       h->tee_enroll && h->tee_mac && h->tee_code &&
	       h->tee_code_state && h->tee_seal && h->tee_unseal &&
	       h->tee_counter && h->tee_counter_raise && h->apply &&
	       h->device && h->wall && h->mono && h->http;
}

fl_err fl_agent_open(struct fl_agent **out, const struct fl_hal *hal,
                     const uint8_t root_pk[32])
{
	struct fl_agent *a = NULL;
	char canon[FL_IMEI_LEN + 1];
	bool rolled_back = false, must_store = false;
	fl_err err;

	*out = NULL;
	if (hal == NULL || root_pk == NULL || !hal_complete(hal))
		return FL_E_INVALID;
	err = fl_crypto_init();
	if (err)
		return err;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return FL_E_NOMEM;
	a->hal = *hal;
	memcpy(a->root_pk, root_pk, FL_SIGN_PK_LEN);
	err = a->hal.device(a->hal.ctx, &a->dev);
	if (err) {
		err = FL_E_IO;
		goto out;
	}
	if (a->dev.n_imei < 1 || a->dev.n_imei > 2) {
		err = FL_E_INVALID;
		goto out;
	}
	for (size_t i = 0; i < a->dev.n_imei; i++) {
		a->dev.imei[i][FL_IMEI_LEN] = '\0';
		if (fl_imei_parse(a->dev.imei[i], strlen(a->dev.imei[i]),
		                  canon) != FL_OK ||
		    strcmp(canon, a->dev.imei[i]) != 0) {
			err = FL_E_INVALID;
			goto out;
		}
	}
	a->dev.serial[FL_HAL_SERIAL_MAX] = '\0';
	err = fl_agent_read_clocks(a);
	if (err)
		goto out;

	if (a->hal.tee_code_state(a->hal.ctx, &a->code) != FL_OK) {
		err = FL_E_IO;
		goto out;
	}
	err = fl_persist_load(&a->hal, &a->st, &a->pos, &rolled_back);
	if (err == FL_E_NOT_FOUND) {
		/* New from the factory, reflashed, or storage that is gone,
		 * edited or another phone's: nothing in it is this phone's
		 * proven state. Setup looks the phone up, signed by its
		 * factory key, before anything else: a locked phone stays
		 * locked. The counter stays where it is (pos.gen). */
		memset(&a->st, 0, sizeof(a->st));
		a->st.phase = FL_AGENT_SETUP;
		a->pos.slot = -1;
		err = FL_OK;
	}
	if (err)
		goto out;
	if (rolled_back) {
		if (a->st.phase == FL_AGENT_ENROLLED ||
		    a->st.phase == FL_AGENT_RELEASED) {
			/* An older copy put back: keep who the phone is, trust
			 * none of what it says until the server answers. Every
			 * counter sent was persisted by a store of its own, so
			 * none is above the secure hardware's count of stores:
			 * counting on from there never repeats one. */
			a->st.distrust = true;
			if (a->st.counter < a->pos.gen)
				a->st.counter = a->pos.gen;
		} else {
			struct fl_pstate fresh = {0};
			fresh.phase = FL_AGENT_SETUP;
			fl_pstate_clear(&a->st);
			a->st = fresh;
		}
	}
	if (a->code.action == FL_OCODE_RELEASE &&
	    a->st.phase == FL_AGENT_ENROLLED) {
		/* a release code the secure hardware accepted, whose state
		 * write the power cut */
		a->st.phase = FL_AGENT_RELEASED;
		a->st.react_lock = 0;
		must_store = true;
	}
	err = rebuild_trust(a);
	if (!err)
		err = rebuild_claims(a);
	if (err)
		goto out;
	if (a->st.tt_known && a->st.tt_boot != a->boot) {
		must_store = true;
		/* A reboot: trusted time goes on from the last anchor, plus
		 * the interval it is saved at (time the phone ran unsaved and
		 * then rebooted), so reboots at any rate never stop it. */
		struct fl_ttime t = tt_get(&a->st);
		fl_ttime_reboot(&t, FL_AGENT_TIME_PERSIST, a->wall, a->mono,
		                a->boot);
		tt_put(&a->st, &t);
	}
	if (must_store || rolled_back) {
		err = store_now(a);
		if (err)
			goto out;
	}
	ui_load(a);
	/* whatever the platform lost at boot or factory reset is applied
	 * again before anything else happens */
	fl_agent_enforce(a);
	*out = a;
	a = NULL;
out:
	fl_agent_close(a);
	return err;
}

void fl_agent_close(struct fl_agent *a)
{
	if (a == NULL)
		return;
	fl_trust_free(a->trust);
	fl_claims_clear(&a->claims);
	fl_pstate_clear(&a->st);
	fl_wipe(a, sizeof(*a));
	free(a);
}

fl_err fl_agent_tick(struct fl_agent *a)
{
	struct fl_ttime t;
	fl_err err, err2 = FL_OK;

	err = fl_agent_read_clocks(a);
	if (err)
		return err;
	t = tt_get(&a->st);
	if (fl_ttime_stale(&t, a->mono, a->boot, FL_AGENT_TIME_PERSIST))
		err2 = store_now(a);
	err = poll_platform(a);
	fl_agent_enforce(a);
	return err ? err : err2;
}

/* --- offline codes
 * --------------------------------------------------------------- */

fl_err fl_agent_enter_code(struct fl_agent *a, const char *code)
{
	struct fl_hal_code before = a->code, res;
	struct fl_pstate snap;
	fl_err err;

	if (code == NULL)
		return FL_E_CODE_FORMAT;
	if (a->st.phase != FL_AGENT_ENROLLED)
		return FL_E_STATE;
	err = fl_agent_read_clocks(a);
	if (err)
		return err;
	/* The secure hardware counts the try, checks the code with a secret
	 * that never leaves it and records what the code granted. */
	err = a->hal.tee_code(a->hal.ctx, code, fl_agent_trusted(a), &res);
	if (err == FL_E_IO || err == FL_E_NOT_FOUND)
		return FL_E_IO;
	a->code = res;
	if (err)
		return err;
	if (res.last == before.last)
		return FL_E_INTERNAL; /* accepted, yet nothing recorded */
	if (res.action == FL_OCODE_RELEASE) {
		/* The release stands in the secure hardware's record even if
		 * this write is lost: the phone enforces it from there, and
		 * open records it again. */
		err = fl_agent_txn_begin(a, &snap);
		if (!err) {
			a->st.phase = FL_AGENT_RELEASED;
			a->st.react_lock = 0;
			err = fl_agent_txn_end(a, &snap, FL_OK);
		}
	}
	if (!err) {
		char msg[128], ts[FL_TIME_STR_LEN];
		if (res.action == FL_OCODE_RELEASE) {
			fl_agent_notice(a, "This phone is released. Every "
			                   "restriction has been removed.");
		} else {
			fl_time_format(res.until, ts);
			snprintf(msg, sizeof(msg), "Unlocked by code until %s",
			         ts);
			fl_agent_notice(a, msg);
		}
	}
	fl_agent_enforce(a);
	return err;
}

/* --- reading
 * --------------------------------------------------------------------- */

void fl_agent_screen(const struct fl_agent *a, struct fl_agent_screen *out)
{
	*out = a->screen;
}

void fl_agent_status(const struct fl_agent *a, struct fl_agent_status *out)
{
	memset(out, 0, sizeof(*out));
	out->phase = (enum fl_agent_phase)a->st.phase;
	copy_text(out->device_id, sizeof(out->device_id), a->st.device_id);
	out->seq = a->st.seq;
	out->counter = a->st.counter;
	out->trusted_time = fl_agent_trusted(a);
	out->effective_time = fl_agent_effective(a);
	out->code_tries = a->code.tries;
	out->code_counter = a->code.last;
	out->failures = a->failures;
	out->http_status = a->http_status;
}

fl_err fl_agent_receipt(const struct fl_agent *a, char **out)
{
	*out = NULL;
	if (a->st.receipt == NULL)
		return FL_E_NOT_FOUND;
	*out = strdup(a->st.receipt);
	return *out != NULL ? FL_OK : FL_E_NOMEM;
}

/* --- the network entry points (net.c does the work)
 * ------------------------------ */

fl_err fl_agent_setup(struct fl_agent *a)
{
	fl_err err;

	if (a->st.phase != FL_AGENT_SETUP)
		return FL_OK;
	err = fl_agent_do_setup(a);
	fl_agent_net_result(a, err);
	fl_agent_enforce(a);
	return err;
}

fl_err fl_agent_enroll(struct fl_agent *a, const char *code)
{
	fl_err err;

	if (a->st.phase == FL_AGENT_ENROLLED ||
	    a->st.phase == FL_AGENT_RELEASED)
		return FL_E_STATE;
	if ((code == NULL || code[0] == '\0') &&
	    a->st.phase != FL_AGENT_PAIRING)
		return FL_E_STATE;
	err = fl_agent_do_enroll(a, code != NULL ? code : "");
	fl_agent_net_result(a, err);
	fl_agent_enforce(a);
	return err;
}

fl_err fl_agent_checkin(struct fl_agent *a)
{
	fl_err err;

	switch (a->st.phase) {
	case FL_AGENT_SETUP:
		return fl_agent_setup(a);
	case FL_AGENT_PAIRING:
		return fl_agent_enroll(a, "");
	case FL_AGENT_IDLE:
		return FL_E_STATE;
	case FL_AGENT_RELEASED:
		if (a->st.receipt != NULL)
			return FL_E_STATE;
		break;
	default:
		break;
	}
	err = fl_agent_do_checkin(a);
	fl_agent_net_result(a, err);
	fl_agent_enforce(a);
	return err;
}

fl_err fl_agent_wait(struct fl_agent *a, uint32_t timeout_s)
{
	fl_err err;

	if (a->st.phase != FL_AGENT_ENROLLED || a->st.sim_pending ||
	    a->st.tamper_pending)
		return fl_agent_checkin(a);
	err = fl_agent_do_wait(a, timeout_s);
	fl_agent_net_result(a, err);
	fl_agent_enforce(a);
	return err;
}
