/* tokensign.c - signing a device's token and release receipt (tokensign.h). */
#include "server/tokensign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/devproto.h"
#include "server/app.h"
#include "server/claims.h"
#include "server/signkeys.h"

/* The release receipt of device d whose token claims are c. */
static fl_err sign_receipt(struct fl_app *app, const struct fl_device *d,
                           const struct fl_device_claims *c, fl_time now,
                           char **out)
{
	struct fl_dp_receipt r;
	char *json = NULL;
	fl_err err;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	snprintf(r.device_id, sizeof(r.device_id), "%s", d->id);
	memcpy(r.imei, c->imei, sizeof(r.imei));
	r.n_imei = c->n_imei;
	r.loan_ref = c->loan_ref != NULL ? c->loan_ref : (char *)"";
	r.released_at = d->st.decided_at > 0 ? d->st.decided_at : now;
	err = fl_dp_receipt_encode(&r, &json);
	if (err == FL_OK)
		err = fl_signkeys_sign(app->keys, FL_MSG_RELEASE_RECEIPT, json,
		                       strlen(json), now, out, NULL);
	free(json);
	return err;
}

void fl_token_signed_clear(struct fl_token_signed *s)
{
	free(s->token);
	free(s->cert);
	free(s->receipt);
	memset(s, 0, sizeof(*s));
}

fl_err fl_token_sign(struct fl_app *app, const char *id, fl_time now,
                     struct fl_token_signed *out)
{
	struct fl_device_claims c;
	struct fl_device *d = NULL;
	struct fl_tx *tx = NULL;
	char kid[FL_KID_MAX];
	char *claims = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if ((err = fl_store_begin(app->store, false, &tx)) != FL_OK)
		goto out;
	err = fl_store_device_get_any(tx, id, d);
	if (err == FL_OK)
		err = fl_claims_build(tx, d, now,
		                      now + (fl_time)app->cfg.token_ttl, &c);
	fl_tx_rollback(tx);
	if (err == FL_OK)
		err = fl_claims_encode(&c, &claims);
	if (err == FL_OK)
		err = fl_signkeys_sign(app->keys, FL_MSG_DEVICE_TOKEN, claims,
		                       strlen(claims), now, &out->token, kid);
	if (err == FL_OK)
		err = fl_signkeys_cert(app->keys, kid, &out->cert);
	if (err == FL_OK && d->st.state == FL_ST_RELEASED && !d->st.stolen)
		err = sign_receipt(app, d, &c, now, &out->receipt);
	if (err != FL_OK)
		goto out;
	snprintf(out->device_id, sizeof(out->device_id), "%s", d->id);
	out->seq = d->st.token_seq;
	out->state = d->st.state;
	out->stolen = d->st.stolen;
out:
	if (err != FL_OK)
		fl_token_signed_clear(out);
	free(claims);
	fl_claims_clear(&c);
	free(d);
	return err;
}
