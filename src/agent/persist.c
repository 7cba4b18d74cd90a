/* The agent's state file: records, seal, A/B slots (persist.h). */
#include "agent/persist.h"

#include <stdlib.h>
#include <string.h>

#include "core/le.h"

static const uint8_t magic[4] = {'F', 'L', 'A', 'S'};

/* Record tags. Never renumber: they are the file format. */
enum tag {
	T_PHASE = 1,
	T_DEVICE_ID = 2,
	T_COUNTER = 3,
	T_SEQ = 4,
	T_CLAIMS_V1 = 5, /* retired: claims as plain JSON */
	T_CLAIMS_LOOKUP = 6,
	T_ENROLL_PENDING = 7,
	T_PEND_SIGN_PK = 8,
	T_PEND_KX_PK = 9,
	T_CERT = 10, /* repeats */
	T_REV = 11,  /* repeats */
	T_RESET_IAT = 12,
	T_TT_KNOWN = 13,
	T_TT_BASE = 14,
	T_TT_MONO = 15,
	T_TT_BOOT = 16,
	/* 17..20 retired: the offline-code record is the secure hardware's */
	T_ICCID_KNOWN = 21,
	T_ICCID_NOW = 22,
	T_SIM_PENDING = 23,
	T_TAMPER_SEEN = 24,
	T_TAMPER_PENDING = 25,
	T_REACT_LOCK = 26,
	T_REACT_AT = 27,
	T_RECEIPT = 28,
	T_TOKEN = 29,       /* the signed token enforced, as received */
	T_DISTRUST = 30,    /* an older copy was restored: locked until the
	                     * server's answer is verified */
	T__SCALAR_MAX = 64, /* scalar tags below this are tracked for dups */
	T_CRITICAL = 0x8000,
};

/* --- little-endian helpers ---------------------------------------------------
 */

/* --- writer ------------------------------------------------------------------
 */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	fl_err err; /* first error; later writes are no-ops */
};

static void w_raw(struct wbuf *w, const void *b, size_t n)
{
	if (w->err)
		return;
	if (n > FL_PERSIST_MAX_PAYLOAD - w->len) {
		w->err = FL_E_TOO_LARGE;
		return;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 1024;
		uint8_t *np;
		while (cap < w->len + n)
			cap *= 2;
		np = realloc(w->p, cap);
		if (np == NULL) {
			w->err = FL_E_NOMEM;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	if (n > 0)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void w_rec(struct wbuf *w, uint16_t tag, const void *v, size_t n)
{
	uint8_t h[6];

	if (n > UINT32_MAX) {
		w->err = FL_E_TOO_LARGE;
		return;
	}
	fl_le_put(h, tag, 2);
	fl_le_put(h + 2, n, 4);
	w_raw(w, h, 6);
	w_raw(w, v, n);
}

static void w_int(struct wbuf *w, uint16_t tag, uint64_t v, size_t n)
{
	uint8_t b[8];

	fl_le_put(b, v, n);
	w_rec(w, tag, b, n);
}

static void w_str(struct wbuf *w, uint16_t tag, const char *s)
{
	size_t n;

	if (s == NULL)
		return;
	n = strlen(s);
	if (n > FL_PERSIST_TEXT_MAX) {
		w->err = FL_E_TOO_LARGE;
		return;
	}
	w_rec(w, tag, s, n);
}

fl_err fl_pstate_encode(const struct fl_pstate *s, uint8_t **out, size_t *len)
{
	struct wbuf w = {0};

	*out = NULL;
	*len = 0;
	if (s->n_certs > FL_PERSIST_MAX_CERTS ||
	    s->n_revs > FL_PERSIST_MAX_REVS)
		return FL_E_TOO_LARGE;
	w_int(&w, T_PHASE, s->phase, 1);
	if (s->device_id[0] != '\0')
		w_str(&w, T_DEVICE_ID, s->device_id);
	w_int(&w, T_COUNTER, s->counter, 8);
	w_int(&w, T_SEQ, s->seq, 8);
	w_str(&w, T_TOKEN, s->token);
	w_int(&w, T_CLAIMS_LOOKUP, s->claims_from_lookup, 1);
	w_int(&w, T_ENROLL_PENDING, s->enroll_pending, 1);
	if (s->enroll_pending) {
		w_rec(&w, T_PEND_SIGN_PK, s->pend_sign_pk, FL_SIGN_PK_LEN);
		w_rec(&w, T_PEND_KX_PK, s->pend_kx_pk, FL_KX_PK_LEN);
	}
	for (size_t i = 0; i < s->n_certs; i++)
		w_str(&w, T_CERT, s->certs[i]);
	for (size_t i = 0; i < s->n_revs; i++)
		w_str(&w, T_REV, s->revs[i]);
	w_int(&w, T_RESET_IAT, (uint64_t)s->reset_iat, 8);
	w_int(&w, T_TT_KNOWN, s->tt_known, 1);
	w_int(&w, T_TT_BASE, (uint64_t)s->tt_base, 8);
	w_int(&w, T_TT_MONO, s->tt_mono, 8);
	w_int(&w, T_TT_BOOT, s->tt_boot, 8);
	w_str(&w, T_ICCID_KNOWN, s->iccid_known);
	w_str(&w, T_ICCID_NOW, s->iccid_now);
	w_int(&w, T_SIM_PENDING, s->sim_pending, 1);
	w_int(&w, T_TAMPER_SEEN, s->tamper_seen, 4);
	w_int(&w, T_TAMPER_PENDING, s->tamper_pending, 4);
	w_int(&w, T_REACT_LOCK, s->react_lock, 1);
	w_int(&w, T_REACT_AT, (uint64_t)s->react_at, 8);
	w_str(&w, T_RECEIPT, s->receipt);
	w_int(&w, T_DISTRUST, s->distrust, 1);
	if (w.err) {
		free(w.p);
		return w.err;
	}
	if (w.p == NULL) /* cannot happen: T_PHASE is always written */
		return FL_E_INTERNAL;
	*out = w.p;
	*len = w.len;
	return FL_OK;
}

/* --- reader
 * -------------------------------------------------------------------- */

static bool is_bool(const uint8_t *v, size_t n)
{
	return n == 1 && v[0] <= 1;
}

/* A string value: no NUL, at most max bytes, into a fixed buffer. */
static fl_err r_strbuf(char *out, size_t cap, const uint8_t *v, size_t n)
{
	if (n >= cap || memchr(v, '\0', n) != NULL)
		return FL_E_CORRUPT;
	memcpy(out, v, n);
	out[n] = '\0';
	return FL_OK;
}

static fl_err r_strdup(char **out, const uint8_t *v, size_t n)
{
	if (*out != NULL || n > FL_PERSIST_TEXT_MAX ||
	    memchr(v, '\0', n) != NULL)
		return FL_E_CORRUPT;
	*out = malloc(n + 1);
	if (*out == NULL)
		return FL_E_NOMEM;
	memcpy(*out, v, n);
	(*out)[n] = '\0';
	return FL_OK;
}

static fl_err r_digits(char *out, size_t cap, const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return FL_E_CORRUPT;
	return r_strbuf(out, cap, v, n);
}

/* One record into s; FL_E_CORRUPT if its value is not what its tag needs. */
static fl_err r_rec(struct fl_pstate *s, uint16_t tag, const uint8_t *v,
                    size_t n)
{
	fl_err err;

	switch (tag) {
	case T_PHASE:
		if (n != 1 || v[0] > FL_AGENT_RELEASED)
			return FL_E_CORRUPT;
		s->phase = v[0];
		return FL_OK;
	case T_DEVICE_ID:
		if (r_strbuf(s->device_id, sizeof(s->device_id), v, n) ||
		    fl_dp_device_id_check(s->device_id) != FL_OK)
			return FL_E_CORRUPT;
		return FL_OK;
	case T_TOKEN:
		return r_strdup(&s->token, v, n);
	case T_CERT:
		if (s->n_certs == FL_PERSIST_MAX_CERTS)
			return FL_E_CORRUPT;
		/* NOMEM stays NOMEM: a copy is never judged corrupt (and an
		 * older one loaded instead) for want of memory */
		if ((err = r_strdup(&s->certs[s->n_certs], v, n)) != FL_OK)
			return err;
		s->n_certs++;
		return FL_OK;
	case T_REV:
		if (s->n_revs == FL_PERSIST_MAX_REVS)
			return FL_E_CORRUPT;
		if ((err = r_strdup(&s->revs[s->n_revs], v, n)) != FL_OK)
			return err;
		s->n_revs++;
		return FL_OK;
	case T_RECEIPT:
		return r_strdup(&s->receipt, v, n);
	case T_ICCID_KNOWN:
		return r_digits(s->iccid_known, sizeof(s->iccid_known), v, n);
	case T_ICCID_NOW:
		return r_digits(s->iccid_now, sizeof(s->iccid_now), v, n);
	case T_PEND_SIGN_PK:
		if (n != FL_SIGN_PK_LEN)
			return FL_E_CORRUPT;
		memcpy(s->pend_sign_pk, v, n);
		return FL_OK;
	case T_PEND_KX_PK:
		if (n != FL_KX_PK_LEN)
			return FL_E_CORRUPT;
		memcpy(s->pend_kx_pk, v, n);
		return FL_OK;
	case T_CLAIMS_LOOKUP:
	case T_ENROLL_PENDING:
	case T_TT_KNOWN:
	case T_SIM_PENDING:
	case T_DISTRUST:
		if (!is_bool(v, n))
			return FL_E_CORRUPT;
		if (tag == T_DISTRUST)
			s->distrust = v[0];
		else if (tag == T_CLAIMS_LOOKUP)
			s->claims_from_lookup = v[0];
		else if (tag == T_ENROLL_PENDING)
			s->enroll_pending = v[0];
		else if (tag == T_TT_KNOWN)
			s->tt_known = v[0];
		else
			s->sim_pending = v[0];
		return FL_OK;
	case T_REACT_LOCK:
		if (n != 1 || (v[0] & ~(FL_REACT_SIM | FL_REACT_TAMPER)))
			return FL_E_CORRUPT;
		s->react_lock = v[0];
		return FL_OK;
	case T_TAMPER_SEEN:
	case T_TAMPER_PENDING: {
		uint32_t f;
		if (n != 4)
			return FL_E_CORRUPT;
		f = (uint32_t)fl_le_get(v, 4);
		if (f & ~FL_DP_TAMPER_ALL)
			return FL_E_CORRUPT;
		if (tag == T_TAMPER_SEEN)
			s->tamper_seen = f;
		else
			s->tamper_pending = f;
		return FL_OK;
	}
	case T_COUNTER:
	case T_SEQ:
	case T_RESET_IAT:
	case T_TT_BASE:
	case T_TT_MONO:
	case T_TT_BOOT:
	case T_REACT_AT: {
		uint64_t x;
		if (n != 8)
			return FL_E_CORRUPT;
		x = fl_le_get(v, 8);
		switch (tag) {
		case T_COUNTER:
			s->counter = x;
			break;
		case T_SEQ:
			s->seq = x;
			break;
		case T_RESET_IAT:
			s->reset_iat = (fl_time)x;
			break;
		case T_TT_BASE:
			s->tt_base = (fl_time)x;
			break;
		case T_TT_MONO:
			s->tt_mono = x;
			break;
		case T_TT_BOOT:
			s->tt_boot = x;
			break;
		default:
			s->react_at = (fl_time)x;
			break;
		}
		return FL_OK;
	}
	default:
		return (tag & T_CRITICAL) ? FL_E_CORRUPT : FL_OK;
	}
}

/* Times must be within what fl_time can format, or arithmetic on them
 * could overflow. */
static bool time_ok(fl_time t)
{
	return t == 0 || (t >= FL_TIME_MIN && t <= FL_TIME_MAX);
}

fl_err fl_pstate_decode(const uint8_t *buf, size_t len, struct fl_pstate *s)
{
	uint64_t seen = 0; /* scalar tags seen, bit per tag below 64 */
	size_t off = 0;
	fl_err err = FL_OK;

	memset(s, 0, sizeof(*s));
	if (buf == NULL || len > FL_PERSIST_MAX_PAYLOAD)
		return FL_E_CORRUPT;
	while (off < len) {
		uint16_t tag;
		size_t n;

		if (len - off < 6) {
			err = FL_E_CORRUPT;
			break;
		}
		tag = (uint16_t)fl_le_get(buf + off, 2);
		n = (size_t)fl_le_get(buf + off + 2, 4);
		off += 6;
		if (n > len - off) {
			err = FL_E_CORRUPT;
			break;
		}
		if (tag != T_CERT && tag != T_REV && tag < T__SCALAR_MAX) {
			if (seen & (1ULL << tag)) {
				err = FL_E_CORRUPT;
				break;
			}
			seen |= 1ULL << tag;
		}
		err = r_rec(s, tag, buf + off, n);
		if (err)
			break;
		off += n;
	}
	if (!err && !(seen & (1ULL << T_PHASE)))
		err = FL_E_CORRUPT;
	if (!err && (!time_ok(s->reset_iat) || !time_ok(s->tt_base) ||
	             !time_ok(s->react_at)))
		err = FL_E_CORRUPT;
	if (!err && s->enroll_pending &&
	    (!(seen & (1ULL << T_PEND_SIGN_PK)) ||
	     !(seen & (1ULL << T_PEND_KX_PK))))
		err = FL_E_CORRUPT;
	if (err) {
		fl_pstate_clear(s);
		return err == FL_E_NOMEM ? err : FL_E_CORRUPT;
	}
	return FL_OK;
}

void fl_pstate_clear(struct fl_pstate *s)
{
	if (s == NULL)
		return;
	free(s->token);
	for (size_t i = 0; i < s->n_certs && i < FL_PERSIST_MAX_CERTS; i++)
		free(s->certs[i]);
	for (size_t i = 0; i < s->n_revs && i < FL_PERSIST_MAX_REVS; i++)
		free(s->revs[i]);
	free(s->receipt);
	memset(s, 0, sizeof(*s));
}

fl_err fl_pstate_copy(struct fl_pstate *dst, const struct fl_pstate *src)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	fl_err err;

	memset(dst, 0, sizeof(*dst));
	err = fl_pstate_encode(src, &buf, &len);
	if (err)
		return err;
	err = fl_pstate_decode(buf, len, dst);
	free(buf);
	return err;
}

/* --- seal
 * ------------------------------------------------------------------------ */

static void header(uint8_t h[FL_PERSIST_HDR_LEN], uint64_t gen, size_t len)
{
	memcpy(h, magic, 4);
	fl_le_put(h + 4, FL_PERSIST_VERSION, 2);
	fl_le_put(h + 6, 0, 2);
	fl_le_put(h + 8, gen, 8);
	fl_le_put(h + 16, len, 4);
}

fl_err fl_persist_seal(const struct fl_hal *hal, uint64_t gen,
                       const uint8_t *payload, size_t len, uint8_t **out,
                       size_t *outlen)
{
	uint8_t *b;
	size_t total;

	*out = NULL;
	*outlen = 0;
	if (len > FL_PERSIST_MAX_PAYLOAD)
		return FL_E_TOO_LARGE;
	total = FL_PERSIST_HDR_LEN + len + FL_HAL_SEAL_OVERHEAD;
	b = malloc(total);
	if (b == NULL)
		return FL_E_NOMEM;
	header(b, gen, len);
	/* the header is sealed as associated data: its generation cannot be
	 * changed without the seal failing */
	if (hal->tee_seal(hal->ctx, b, FL_PERSIST_HDR_LEN, payload, len,
	                  b + FL_PERSIST_HDR_LEN) != FL_OK) {
		free(b);
		return FL_E_IO;
	}
	*out = b;
	*outlen = total;
	return FL_OK;
}

fl_err fl_persist_unseal(const struct fl_hal *hal, const uint8_t *buf,
                         size_t len, uint64_t *gen, uint8_t **payload,
                         size_t *plen)
{
	uint8_t *p;
	size_t n;
	fl_err err;

	*gen = 0;
	*payload = NULL;
	*plen = 0;
	if (buf == NULL || len < FL_PERSIST_HDR_LEN + FL_HAL_SEAL_OVERHEAD)
		return FL_E_CORRUPT;
	if (memcmp(buf, magic, 4) != 0 ||
	    fl_le_get(buf + 4, 2) != FL_PERSIST_VERSION ||
	    fl_le_get(buf + 6, 2) != 0)
		return FL_E_CORRUPT;
	n = (size_t)fl_le_get(buf + 16, 4);
	if (n > FL_PERSIST_MAX_PAYLOAD ||
	    len != FL_PERSIST_HDR_LEN + n + FL_HAL_SEAL_OVERHEAD)
		return FL_E_CORRUPT;
	p = malloc(n ? n : 1);
	if (p == NULL)
		return FL_E_NOMEM;
	err = hal->tee_unseal(hal->ctx, buf, FL_PERSIST_HDR_LEN,
	                      buf + FL_PERSIST_HDR_LEN,
	                      n + FL_HAL_SEAL_OVERHEAD, p);
	if (err) {
		free(p);
		return err == FL_E_NOMEM ? err : FL_E_CORRUPT;
	}
	*gen = fl_le_get(buf + 8, 8);
	*payload = p;
	*plen = n;
	return FL_OK;
}

/* --- slots
 * ---------------------------------------------------------------------- */

static const char *const slot_names[2] = {FL_PERSIST_SLOT_A, FL_PERSIST_SLOT_B};

/* Reads one slot. *buf NULL (FL_OK) when the slot holds nothing. */
static fl_err read_slot(const struct fl_hal *hal, int slot, uint8_t **buf,
                        size_t *len)
{
	uint8_t *b;
	fl_err err;

	*buf = NULL;
	*len = 0;
	b = malloc(FL_PERSIST_MAX_BLOB);
	if (b == NULL)
		return FL_E_NOMEM;
	err = hal->persist_read(hal->ctx, slot_names[slot], b,
	                        FL_PERSIST_MAX_BLOB, len);
	if (err == FL_E_NOT_FOUND || err == FL_E_TOO_LARGE ||
	    (err == FL_OK && *len > FL_PERSIST_MAX_BLOB)) {
		/* absent, or too big to be one of ours: an invalid copy */
		free(b);
		*len = 0;
		return FL_OK;
	}
	if (err) {
		free(b);
		*len = 0;
		return FL_E_IO;
	}
	*buf = b;
	return FL_OK;
}

fl_err fl_persist_load(const struct fl_hal *hal, struct fl_pstate *s,
                       struct fl_persist_pos *pos, bool *rolled_back)
{
	uint8_t *buf[2] = {NULL, NULL}, *pl[2] = {NULL, NULL};
	size_t len[2] = {0, 0}, plen[2] = {0, 0};
	uint64_t gen[2] = {0, 0}, counter = 0;
	bool ok[2] = {false, false};
	int best = -1;
	fl_err err = FL_OK;

	memset(s, 0, sizeof(*s));
	pos->gen = 0;
	pos->slot = -1;
	*rolled_back = false;
	if (hal->tee_counter(hal->ctx, &counter) != FL_OK)
		return FL_E_IO;
	pos->gen = counter;
	for (int i = 0; i < 2 && !err; i++)
		err = read_slot(hal, i, &buf[i], &len[i]);
	for (int i = 0; i < 2 && !err; i++) {
		if (buf[i] == NULL)
			continue;
		err = fl_persist_unseal(hal, buf[i], len[i], &gen[i], &pl[i],
		                        &plen[i]);
		ok[i] = err == FL_OK;
		if (err == FL_E_CORRUPT)
			err = FL_OK; /* not ours, edited, or cut short */
	}
	if (err)
		goto out;
	/* Newest first; a copy that unseals but does not decode (only a bug
	 * or a newer critical record could do that) yields to the other. */
	if (ok[0] && ok[1])
		best = gen[1] > gen[0] ? 1 : 0;
	else if (ok[0] || ok[1])
		best = ok[0] ? 0 : 1;
	for (int tries = 0; best >= 0 && tries < 2; tries++) {
		err = fl_pstate_decode(pl[best], plen[best], s);
		if (err == FL_OK || err == FL_E_NOMEM)
			break;
		ok[best] = false;
		best = ok[1 - best] ? 1 - best : -1;
	}
	if (err == FL_E_NOMEM)
		goto out;
	if (best < 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	err = FL_OK;
	/* The counter names the newest copy ever stored. A copy below it is
	 * an older one put back: it is loaded (it was this phone's, so its
	 * identity holds) but marked, and the caller trusts none of it. A
	 * copy one above it was stored by a write the power cut before the
	 * counter moved: it is the newest, and the counter catches up. */
	if (gen[best] < counter) {
		*rolled_back = true;
	} else if (gen[best] > counter) {
		if (hal->tee_counter_raise(hal->ctx, gen[best]) != FL_OK) {
			err = FL_E_IO;
			goto out;
		}
		pos->gen = gen[best];
	}
	pos->slot = best;
out:
	for (int i = 0; i < 2; i++) {
		free(buf[i]);
		if (pl[i] != NULL)
			fl_wipe(pl[i], plen[i]);
		free(pl[i]);
	}
	if (err)
		fl_pstate_clear(s);
	return err;
}

fl_err fl_persist_store(const struct fl_hal *hal, const struct fl_pstate *s,
                        struct fl_persist_pos *pos)
{
	uint8_t *payload = NULL, *sealed = NULL;
	size_t plen = 0, slen = 0;
	int slot = pos->slot == 0 ? 1 : 0;
	fl_err err;

	if (pos->gen == UINT64_MAX)
		return FL_E_RANGE;
	err = fl_pstate_encode(s, &payload, &plen);
	if (err)
		goto out;
	err = fl_persist_seal(hal, pos->gen + 1, payload, plen, &sealed, &slen);
	if (err)
		goto out;
	/* Write order: the new copy into the slot that does not hold the
	 * newest, then the counter. A cut anywhere leaves the newest copy
	 * (generation == counter) or the new one (counter + 1) to load. */
	err = hal->persist_write(hal->ctx, slot_names[slot], sealed, slen);
	if (err) {
		err = FL_E_IO;
		goto out;
	}
	pos->gen++;
	pos->slot = slot;
	if (hal->tee_counter_raise(hal->ctx, pos->gen) != FL_OK)
		err = FL_E_IO; /* the copy is written: pos stays on it */
out:
	if (payload != NULL)
		fl_wipe(payload, plen);
	free(payload);
	free(sealed);
	return err;
}
