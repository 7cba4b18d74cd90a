/* A fake phone platform for agent tests (agent_fakehal.h). */
#include "agent_fakehal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"

static struct fh_blob *find(struct fh_blob *set, const char *name)
{
	for (size_t i = 0; i < FH_BLOBS; i++)
		if (set[i].used && strcmp(set[i].name, name) == 0)
			return &set[i];
	return NULL;
}

static fl_err put(struct fh_blob *set, const char *name, const uint8_t *d,
                  size_t len)
{
	struct fh_blob *b = find(set, name);
	uint8_t *copy;

	if (strlen(name) >= sizeof(b->name))
		return FL_E_INVALID;
	copy = malloc(len ? len : 1);
	if (copy == NULL)
		return FL_E_NOMEM;
	if (len > 0)
		memcpy(copy, d, len);
	if (b == NULL) {
		for (size_t i = 0; i < FH_BLOBS && b == NULL; i++)
			if (!set[i].used)
				b = &set[i];
		if (b == NULL) {
			free(copy);
			return FL_E_TOO_LARGE;
		}
		memset(b, 0, sizeof(*b));
		strcpy(b->name, name);
		b->used = true;
	}
	free(b->data);
	b->data = copy;
	b->len = len;
	return FL_OK;
}

static fl_err get(struct fh_blob *set, const char *name, uint8_t *buf,
                  size_t cap, size_t *len)
{
	struct fh_blob *b = find(set, name);

	*len = 0;
	if (b == NULL)
		return FL_E_NOT_FOUND;
	*len = b->len;
	if (b->len > cap)
		return FL_E_TOO_LARGE;
	if (b->len > 0)
		memcpy(buf, b->data, b->len);
	return FL_OK;
}

static void wipe_set(struct fh_blob *set)
{
	for (size_t i = 0; i < FH_BLOBS; i++) {
		if (set[i].data != NULL)
			fl_wipe(set[i].data, set[i].len);
		free(set[i].data);
		memset(&set[i], 0, sizeof(set[i]));
	}
}

static fl_err hp_read(void *ctx, const char *name, uint8_t *buf, size_t cap,
                      size_t *len)
{
	struct fl_fakehal *fh = ctx;

	if (fh->fail_reads) {
		*len = 0;
		return FL_E_IO;
	}
	return get(fh->persist, name, buf, cap, len);
}

static fl_err hp_write(void *ctx, const char *name, const uint8_t *buf,
                       size_t len)
{
	struct fl_fakehal *fh = ctx;
	struct fh_blob *old;
	fl_err err;

	if (fh->crashed)
		return FL_E_IO;
	if (fh->cut_after >= 0 && fh->cut_skip > 0) {
		fh->cut_skip--;
	} else if (fh->cut_after >= 0) {
		size_t n = (size_t)fh->cut_after < len ? (size_t)fh->cut_after
		                                       : len;
		fh->cut_after = -1;
		fh->crashed = true;
		old = find(fh->persist, name);
		if (fh->cut_mode == FH_CUT_OVERWRITE && old != NULL &&
		    old->len >= n) {
			memcpy(old->data, buf, n);
			return FL_E_IO;
		}
		err = put(fh->persist, name, buf, n);
		return err ? err : FL_E_IO;
	}
	err = put(fh->persist, name, buf, len);
	if (!err)
		fh->persist_writes++;
	return err;
}

static fl_err hu_read(void *ctx, const char *name, uint8_t *buf, size_t cap,
                      size_t *len)
{
	struct fl_fakehal *fh = ctx;
	return get(fh->userdata, name, buf, cap, len);
}

static fl_err hu_write(void *ctx, const char *name, const uint8_t *buf,
                       size_t len)
{
	struct fl_fakehal *fh = ctx;
	if (fh->crashed)
		return FL_E_IO;
	return put(fh->userdata, name, buf, len);
}

/* --- the secure hardware ---------------------------------------------------
 */

static fl_err tee_save(void *ctx, const struct dev_tee *t, unsigned parts)
{
	struct fl_fakehal *fh = ctx;

	(void)t;
	if (fh->crashed || fh->tee_fail)
		return FL_E_IO;
	if (fh->tee_cut == 0) {
		fh->tee_cut = -1;
		fh->crashed = true;
		return FL_E_IO;
	}
	if (fh->tee_cut > 0)
		fh->tee_cut--;
	if ((parts & DEV_TEE_RPMB) && fh->counter_fail) {
		/* the power goes before the counter moves */
		fh->counter_fail = false;
		fh->crashed = true;
		return FL_E_IO;
	}
	if (parts & DEV_TEE_RPMB)
		fh->counter_raises++;
	return FL_OK;
}

static struct dev_tee_io tee_io(struct fl_fakehal *fh)
{
	struct dev_tee_io io = {tee_save, fh};
	return io;
}

static fl_err ht_factory_pk(void *ctx, uint8_t pk[32])
{
	struct fl_fakehal *fh = ctx;
	return dev_tee_factory_pk(&fh->tee, pk);
}

static fl_err ht_factory_sign(void *ctx, const uint8_t *msg, size_t len,
                              uint8_t sig[64])
{
	struct fl_fakehal *fh = ctx;
	return dev_tee_factory_sign(&fh->tee, msg, len, sig);
}

static fl_err ht_keygen(void *ctx, uint8_t sign_pk[32], uint8_t kx_pk[32])
{
	struct fl_fakehal *fh = ctx;
	struct dev_tee_io io = tee_io(fh);
	return dev_tee_keygen(&fh->tee, &io, sign_pk, kx_pk);
}

static fl_err ht_pending(void *ctx, uint8_t sign_pk[32], uint8_t kx_pk[32])
{
	struct fl_fakehal *fh = ctx;
	return dev_tee_pending(&fh->tee, sign_pk, kx_pk);
}

static fl_err ht_sign(void *ctx, const uint8_t *msg, size_t len,
                      uint8_t sig[64])
{
	struct fl_fakehal *fh = ctx;
	return dev_tee_sign(&fh->tee, msg, len, sig);
}

static fl_err ht_enroll(void *ctx, const uint8_t server_kx_pk[32])
{
	struct fl_fakehal *fh = ctx;
	struct dev_tee_io io = tee_io(fh);
	return dev_tee_enroll(&fh->tee, &io, server_kx_pk);
}

static fl_err ht_mac(void *ctx, const uint8_t *msg, size_t len, uint8_t mac[32])
{
	struct fl_fakehal *fh = ctx;
	return dev_tee_mac(&fh->tee, msg, len, mac);
}

static fl_err ht_code(void *ctx, const char *code, fl_time now,
                      struct fl_hal_code *out)
{
	struct fl_fakehal *fh = ctx;
	struct dev_tee_io io = tee_io(fh);
	return dev_tee_code(&fh->tee, &io, code, now, out);
}

static fl_err ht_code_state(void *ctx, struct fl_hal_code *out)
{
	struct fl_fakehal *fh = ctx;
	*out = fh->tee.code;
	return FL_OK;
}

static fl_err ht_seal(void *ctx, const uint8_t *ad, size_t ad_len,
                      const uint8_t *in, size_t len, uint8_t *out)
{
	struct fl_fakehal *fh = ctx;
	struct dev_tee_io io = tee_io(fh);
	return dev_tee_seal(&fh->tee, &io, ad, ad_len, in, len, out);
}

static fl_err ht_unseal(void *ctx, const uint8_t *ad, size_t ad_len,
                        const uint8_t *in, size_t len, uint8_t *out)
{
	struct fl_fakehal *fh = ctx;
	return dev_tee_unseal(&fh->tee, ad, ad_len, in, len, out);
}

static fl_err ht_counter(void *ctx, uint64_t *value)
{
	struct fl_fakehal *fh = ctx;
	*value = fh->tee.counter;
	return FL_OK;
}

static fl_err ht_counter_raise(void *ctx, uint64_t to)
{
	struct fl_fakehal *fh = ctx;
	struct dev_tee_io io = tee_io(fh);
	return dev_tee_counter_raise(&fh->tee, &io, to);
}

static fl_err h_apply(void *ctx, const struct fl_hal_policy *p)
{
	struct fl_fakehal *fh = ctx;

	fh->applied_mask = p->restrict_mask;
	fh->applied_guaranteed = p->guaranteed;
	fh->applied_n_apps = p->n_allow_apps;
	fh->applied_n_phones = p->n_lender_phones;
	fh->n_apply++;
	return FL_OK;
}

static void h_show(void *ctx, const struct fl_agent_screen *s)
{
	struct fl_fakehal *fh = ctx;

	fh->screen = *s;
	fh->n_show++;
}

static void add_text(char **list, size_t *n, const char *text)
{
	if (*n < FH_TEXTS) {
		list[*n] = strdup(text);
		if (list[*n] != NULL)
			(*n)++;
	}
}

static void h_reminder(void *ctx, const char *text)
{
	struct fl_fakehal *fh = ctx;
	add_text(fh->reminders, &fh->n_reminders, text);
}

static void h_notice(void *ctx, const char *text)
{
	struct fl_fakehal *fh = ctx;
	add_text(fh->notices, &fh->n_notices, text);
}

static fl_err h_device(void *ctx, struct fl_hal_device *out)
{
	struct fl_fakehal *fh = ctx;
	*out = fh->dev;
	return FL_OK;
}

static fl_err h_iccid(void *ctx, char *out)
{
	struct fl_fakehal *fh = ctx;
	memcpy(out, fh->iccid, sizeof(fh->iccid));
	return FL_OK;
}

static fl_err h_tamper(void *ctx, uint32_t *flags)
{
	struct fl_fakehal *fh = ctx;
	*flags = fh->tamper;
	return FL_OK;
}

static fl_err h_wall(void *ctx, fl_time *now)
{
	struct fl_fakehal *fh = ctx;
	*now = fh->wall;
	return FL_OK;
}

static fl_err h_mono(void *ctx, uint64_t *ms, uint64_t *boot_id)
{
	struct fl_fakehal *fh = ctx;
	*ms = fh->mono_ms;
	*boot_id = fh->boot_id;
	return FL_OK;
}

static fl_err h_http(void *ctx, const struct fl_hal_request *req,
                     struct fl_hal_response *resp)
{
	struct fl_fakehal *fh = ctx;
	fl_err err;

	memset(resp, 0, sizeof(*resp));
	fh->n_requests++;
	snprintf(fh->last_path, sizeof(fh->last_path), "%s", req->path);
	snprintf(fh->last_method, sizeof(fh->last_method), "%s", req->method);
	if (fh->offline || fh->server == NULL)
		return FL_E_NET;
	err = fh->server(fh->server_ctx, req, resp);
	if (err == FL_OK && resp->body_len > req->max_body) {
		free(resp->body);
		memset(resp, 0, sizeof(*resp));
		return FL_E_NET;
	}
	return err;
}

struct fl_fakehal *fl_fakehal_new(void)
{
	struct fl_fakehal *fh = calloc(1, sizeof(*fh));

	if (fh == NULL)
		return NULL;
	fh->cut_after = -1;
	fh->tee_cut = -1;
	strcpy(fh->dev.imei[0], "352099001761481");
	strcpy(fh->dev.imei[1], "356938035643809");
	fh->dev.n_imei = 2;
	strcpy(fh->dev.serial, "SN-TEST-1");
	strcpy(fh->iccid, "8925402000000000001");
	fh->wall = 1795435200; /* 2026-11-23T12:00:00Z */
	fh->mono_ms = 5000;
	fh->boot_id = 1;
	dev_tee_provision(&fh->tee);
	return fh;
}

static void clear_texts(struct fl_fakehal *fh)
{
	for (size_t i = 0; i < fh->n_reminders; i++)
		free(fh->reminders[i]);
	for (size_t i = 0; i < fh->n_notices; i++)
		free(fh->notices[i]);
	fh->n_reminders = fh->n_notices = 0;
}

void fl_fakehal_free(struct fl_fakehal *fh)
{
	if (fh == NULL)
		return;
	wipe_set(fh->persist);
	wipe_set(fh->userdata);
	dev_tee_wipe(&fh->tee);
	clear_texts(fh);
	free(fh);
}

void fl_fakehal_hal(struct fl_fakehal *fh, struct fl_hal *hal)
{
	memset(hal, 0, sizeof(*hal));
	hal->ctx = fh;
	hal->persist_read = hp_read;
	hal->persist_write = hp_write;
	hal->userdata_read = hu_read;
	hal->userdata_write = hu_write;
	hal->tee_factory_pk = ht_factory_pk;
	hal->tee_factory_sign = ht_factory_sign;
	hal->tee_keygen = ht_keygen;
	hal->tee_pending = ht_pending;
	hal->tee_sign = ht_sign;
	hal->tee_enroll = ht_enroll;
	hal->tee_mac = ht_mac;
	hal->tee_code = ht_code;
	hal->tee_code_state = ht_code_state;
	hal->tee_seal = ht_seal;
	hal->tee_unseal = ht_unseal;
	hal->tee_counter = ht_counter;
	hal->tee_counter_raise = ht_counter_raise;
	hal->apply = h_apply;
	hal->show = h_show;
	hal->reminder = h_reminder;
	hal->notice = h_notice;
	hal->device = h_device;
	hal->sim_iccid = h_iccid;
	hal->tamper = h_tamper;
	hal->wall = h_wall;
	hal->mono = h_mono;
	hal->http = h_http;
}

void fl_fakehal_advance(struct fl_fakehal *fh, int64_t secs)
{
	fh->wall += secs;
	fh->mono_ms += (uint64_t)secs * 1000;
}

void fl_fakehal_power_on(struct fl_fakehal *fh)
{
	fh->boot_id++;
	fh->mono_ms = 3000;
	fh->crashed = false;
	fh->cut_after = -1;
	fh->cut_skip = 0;
	fh->tee_cut = -1;
	/* a fresh boot has nothing enforced until the agent applies it */
	fh->applied_mask = 0;
	fh->applied_guaranteed = 0;
	memset(&fh->screen, 0, sizeof(fh->screen));
}

void fl_fakehal_factory_reset(struct fl_fakehal *fh)
{
	wipe_set(fh->userdata);
	clear_texts(fh);
	fl_fakehal_power_on(fh);
}

void fl_fakehal_reflash(struct fl_fakehal *fh)
{
	wipe_set(fh->persist);
	dev_tee_wipe_keys(&fh->tee);
	wipe_set(fh->userdata);
	clear_texts(fh);
	fl_fakehal_power_on(fh);
}

const struct fh_blob *fl_fakehal_blob(const struct fl_fakehal *fh,
                                      const char *name)
{
	return find((struct fh_blob *)fh->persist, name);
}

int fl_fakehal_blob_set(struct fl_fakehal *fh, const char *name,
                        const uint8_t *data, size_t len)
{
	return put(fh->persist, name, data, len) == FL_OK ? 0 : -1;
}

fl_err fl_fakehal_respond(struct fl_hal_response *resp, int status,
                          const char *body)
{
	size_t n = body != NULL ? strlen(body) : 0;

	memset(resp, 0, sizeof(*resp));
	resp->status = status;
	resp->body = malloc(n + 1);
	if (resp->body == NULL)
		return FL_E_NOMEM;
	if (n > 0)
		memcpy(resp->body, body, n);
	resp->body[n] = '\0';
	resp->body_len = n;
	return FL_OK;
}
