/*
 * dev_tee.c - the simulated secure hardware (dev_tee.h).
 */
#include "device/dev_tee.h"

#include <string.h>

#include "core/le.h"

#include "core/devproto.h"

static const uint8_t magic_rom[4] = {'F', 'T', 'R', '1'};
static const uint8_t magic_rpmb[4] = {'F', 'T', 'C', '1'};
static const uint8_t magic_keys[4] = {'F', 'T', 'K', '1'};

#define ROM_LEN  (4 + 1 + FL_SIGN_SK_LEN)
#define RPMB_LEN (4 + 8)
#define CODE_LEN (4 + 8 + 8 + 1 + 8 + 8)
#define KEYS_LEN                                                               \
	(4 + 1 + FL_AEAD_KEY_LEN + FL_SIGN_SK_LEN + FL_KX_PK_LEN +             \
	 FL_KX_SK_LEN + FL_MAC_KEY_LEN + FL_OCODE_SECRET_LEN + CODE_LEN)
_Static_assert(KEYS_LEN <= DEV_TEE_PART_MAX, "parts fit");

void dev_tee_provision(struct dev_tee *t)
{
	uint8_t pk[FL_SIGN_PK_LEN];

	fl_sign_keypair(pk, t->factory_sk);
	t->has_factory = true;
}

void dev_tee_wipe_keys(struct dev_tee *t)
{
	t->has_seal = t->has_pending = t->has_mac = false;
	fl_wipe(t->seal_key, sizeof(t->seal_key));
	fl_wipe(t->pend_sign_sk, sizeof(t->pend_sign_sk));
	fl_wipe(t->pend_kx_pk, sizeof(t->pend_kx_pk));
	fl_wipe(t->pend_kx_sk, sizeof(t->pend_kx_sk));
	fl_wipe(t->mac_key, sizeof(t->mac_key));
	fl_wipe(t->ocode, sizeof(t->ocode));
	memset(&t->code, 0, sizeof(t->code));
}

void dev_tee_wipe(struct dev_tee *t)
{
	fl_wipe(t, sizeof(*t));
}

/* --- parts ------------------------------------------------------------------
 */

/* Appends n bytes of src at *p. */
static void out(uint8_t **p, const void *src, size_t n)
{
	memcpy(*p, src, n);
	*p += n;
}

static void in(const uint8_t **p, void *dst, size_t n)
{
	memcpy(dst, *p, n);
	*p += n;
}

fl_err dev_tee_encode(const struct dev_tee *t, enum dev_tee_part part,
                      uint8_t buf[DEV_TEE_PART_MAX], size_t *len)
{
	uint8_t *p = buf, flags;

	switch (part) {
	case DEV_TEE_ROM:
		out(&p, magic_rom, 4);
		*p++ = t->has_factory;
		out(&p, t->factory_sk, FL_SIGN_SK_LEN);
		break;
	case DEV_TEE_RPMB:
		out(&p, magic_rpmb, 4);
		fl_le_put(p, t->counter, 8);
		p += 8;
		break;
	case DEV_TEE_KEYS:
		out(&p, magic_keys, 4);
		flags = (uint8_t)(t->has_seal | t->has_pending << 1 |
		                  t->has_mac << 2);
		*p++ = flags;
		out(&p, t->seal_key, FL_AEAD_KEY_LEN);
		out(&p, t->pend_sign_sk, FL_SIGN_SK_LEN);
		out(&p, t->pend_kx_pk, FL_KX_PK_LEN);
		out(&p, t->pend_kx_sk, FL_KX_SK_LEN);
		out(&p, t->mac_key, FL_MAC_KEY_LEN);
		out(&p, t->ocode, FL_OCODE_SECRET_LEN);
		fl_le_put(p, t->code.tries, 4);
		fl_le_put(p + 4, (uint64_t)t->code.day, 8);
		fl_le_put(p + 12, t->code.last, 8);
		p[20] = t->code.action;
		fl_le_put(p + 21, (uint64_t)t->code.at, 8);
		fl_le_put(p + 29, (uint64_t)t->code.until, 8);
		p += CODE_LEN;
		break;
	default:
		*len = 0;
		return FL_E_INVALID;
	}
	*len = (size_t)(p - buf);
	return FL_OK;
}

fl_err dev_tee_decode(struct dev_tee *t, enum dev_tee_part part,
                      const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf + 4;

	switch (part) {
	case DEV_TEE_ROM:
		if (len != ROM_LEN || memcmp(buf, magic_rom, 4) != 0 ||
		    buf[4] > 1)
			goto bad_rom;
		t->has_factory = buf[4];
		p++;
		in(&p, t->factory_sk, FL_SIGN_SK_LEN);
		return FL_OK;
	case DEV_TEE_RPMB:
		if (len != RPMB_LEN || memcmp(buf, magic_rpmb, 4) != 0) {
			t->counter = 0;
			return FL_E_CORRUPT;
		}
		t->counter = fl_le_get(p, 8);
		return FL_OK;
	case DEV_TEE_KEYS:
		if (len != KEYS_LEN || memcmp(buf, magic_keys, 4) != 0 ||
		    buf[4] > 7)
			goto bad_keys;
		t->has_seal = buf[4] & 1;
		t->has_pending = (buf[4] >> 1) & 1;
		t->has_mac = (buf[4] >> 2) & 1;
		p++;
		in(&p, t->seal_key, FL_AEAD_KEY_LEN);
		in(&p, t->pend_sign_sk, FL_SIGN_SK_LEN);
		in(&p, t->pend_kx_pk, FL_KX_PK_LEN);
		in(&p, t->pend_kx_sk, FL_KX_SK_LEN);
		in(&p, t->mac_key, FL_MAC_KEY_LEN);
		in(&p, t->ocode, FL_OCODE_SECRET_LEN);
		t->code.tries = (uint32_t)fl_le_get(p, 4);
		t->code.day = (int64_t)fl_le_get(p + 4, 8);
		t->code.last = fl_le_get(p + 12, 8);
		t->code.action = p[20];
		t->code.at = (fl_time)fl_le_get(p + 21, 8);
		t->code.until = (fl_time)fl_le_get(p + 29, 8);
		return FL_OK;
	default:
		return FL_E_INVALID;
	}
bad_rom:
	t->has_factory = false;
	fl_wipe(t->factory_sk, sizeof(t->factory_sk));
	return FL_E_CORRUPT;
bad_keys:
	dev_tee_wipe_keys(t);
	return FL_E_CORRUPT;
}

/* --- operations -------------------------------------------------------------
 */

fl_err dev_tee_factory_pk(const struct dev_tee *t, uint8_t pk[32])
{
	if (!t->has_factory)
		return FL_E_NOT_FOUND;
	fl_sign_sk_to_pk(pk, t->factory_sk);
	return FL_OK;
}

fl_err dev_tee_factory_sign(const struct dev_tee *t, const uint8_t *msg,
                            size_t len, uint8_t sig[64])
{
	if (!t->has_factory)
		return FL_E_NOT_FOUND;
	fl_sign_detached(sig, msg, len, t->factory_sk);
	return FL_OK;
}

fl_err dev_tee_keygen(struct dev_tee *t, const struct dev_tee_io *io,
                      uint8_t sign_pk[32], uint8_t kx_pk[32])
{
	struct dev_tee next = *t;
	fl_err err;

	fl_sign_keypair(sign_pk, next.pend_sign_sk);
	fl_kx_keypair(next.pend_kx_pk, next.pend_kx_sk);
	next.has_pending = true;
	memcpy(kx_pk, next.pend_kx_pk, FL_KX_PK_LEN);
	err = io->save(io->ctx, &next, DEV_TEE_KEYS);
	if (err == FL_OK)
		*t = next;
	dev_tee_wipe(&next);
	return err;
}

fl_err dev_tee_pending(const struct dev_tee *t, uint8_t sign_pk[32],
                       uint8_t kx_pk[32])
{
	if (!t->has_pending)
		return FL_E_NOT_FOUND;
	fl_sign_sk_to_pk(sign_pk, t->pend_sign_sk);
	memcpy(kx_pk, t->pend_kx_pk, FL_KX_PK_LEN);
	return FL_OK;
}

fl_err dev_tee_sign(const struct dev_tee *t, const uint8_t *msg, size_t len,
                    uint8_t sig[64])
{
	if (!t->has_pending)
		return FL_E_NOT_FOUND;
	fl_sign_detached(sig, msg, len, t->pend_sign_sk);
	return FL_OK;
}

fl_err dev_tee_enroll(struct dev_tee *t, const struct dev_tee_io *io,
                      const uint8_t server_kx_pk[32])
{
	uint8_t shared[FL_KX_SESSION_LEN];
	struct dev_tee next = *t;
	fl_err err;

	if (!t->has_pending)
		return FL_E_NOT_FOUND;
	err = fl_kx_shared(shared, 0, t->pend_kx_pk, t->pend_kx_sk,
	                   server_kx_pk);
	if (!err)
		err = fl_dp_derive(shared, next.mac_key, next.ocode);
	fl_wipe(shared, sizeof(shared));
	if (err)
		goto out;
	next.has_mac = true;
	/* The pending pair stays until the next keygen replaces it: if the
	 * phone loses its state write, it sends the same enrollment again,
	 * gets the same answer, and derives the same keys. A new secret
	 * makes codes of the old one meaningless: the record restarts. */
	if (memcmp(next.ocode, t->ocode, sizeof(next.ocode)) != 0 ||
	    !t->has_mac)
		memset(&next.code, 0, sizeof(next.code));
	err = io->save(io->ctx, &next, DEV_TEE_KEYS);
	if (err == FL_OK)
		*t = next;
out:
	dev_tee_wipe(&next);
	return err;
}

fl_err dev_tee_mac(const struct dev_tee *t, const uint8_t *msg, size_t len,
                   uint8_t mac[32])
{
	if (!t->has_mac)
		return FL_E_NOT_FOUND;
	return fl_blake2b(mac, 32, t->mac_key, sizeof(t->mac_key), msg, len);
}

/* Saves next and, once it is durable, makes it the state. */
static fl_err commit(struct dev_tee *t, const struct dev_tee_io *io,
                     const struct dev_tee *next, unsigned parts)
{
	fl_err err = io->save(io->ctx, next, parts);

	if (err == FL_OK)
		*t = *next;
	return err;
}

fl_err dev_tee_code(struct dev_tee *t, const struct dev_tee_io *io,
                    const char *code, fl_time now, struct fl_hal_code *res)
{
	struct dev_tee next = *t;
	struct fl_hal_code *c = &next.code;
	enum fl_ocode_action act = 0;
	uint64_t counter = 0;
	fl_err err;

	memset(res, 0, sizeof(*res));
	if (!t->has_mac) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	err = fl_ocode_tries_check(c->tries, c->day, fl_time_day(now, 0));
	if (err)
		goto out;
	/* the try is durable before the code is looked at */
	fl_ocode_tries_record(&c->tries, &c->day, fl_time_day(now, 0));
	err = commit(t, io, &next, DEV_TEE_KEYS);
	if (err)
		goto out;
	err = fl_ocode_check(next.ocode, code, strlen(code), c->last, c->day,
	                     &counter, &act);
	if (err)
		goto out;
	c->last = counter;
	c->action = (uint8_t)act;
	c->at = now;
	c->until = act == FL_OCODE_RELEASE
	                   ? 0
	                   : now + (fl_time)fl_ocode_action_days(act) * FL_DAY;
	if (c->tries > 0)
		c->tries--; /* only wrong tries count against the day */
	err = commit(t, io, &next, DEV_TEE_KEYS);
out:
	*res = t->code;
	dev_tee_wipe(&next);
	return err;
}

fl_err dev_tee_seal(struct dev_tee *t, const struct dev_tee_io *io,
                    const uint8_t *ad, size_t ad_len, const uint8_t *in_buf,
                    size_t len, uint8_t *out_buf)
{
	if (!t->has_seal) {
		struct dev_tee next = *t;
		fl_err err;

		fl_random(next.seal_key, sizeof(next.seal_key));
		next.has_seal = true;
		err = commit(t, io, &next, DEV_TEE_KEYS);
		dev_tee_wipe(&next);
		if (err)
			return err;
	}
	fl_aead_seal(out_buf, in_buf, len, ad, ad_len, t->seal_key);
	return FL_OK;
}

fl_err dev_tee_unseal(const struct dev_tee *t, const uint8_t *ad, size_t ad_len,
                      const uint8_t *in_buf, size_t len, uint8_t *out_buf)
{
	if (!t->has_seal)
		return FL_E_CORRUPT;
	return fl_aead_open(out_buf, in_buf, len, ad, ad_len, t->seal_key);
}

fl_err dev_tee_counter_raise(struct dev_tee *t, const struct dev_tee_io *io,
                             uint64_t to)
{
	struct dev_tee next;
	fl_err err;

	if (to <= t->counter)
		return FL_OK;
	next = *t;
	next.counter = to;
	err = commit(t, io, &next, DEV_TEE_RPMB);
	dev_tee_wipe(&next);
	return err;
}
