/* tokensign.c - signing a device's token and release receipt (tokensign.h). */
#include "server/tokensign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/devproto.h"
#include "server/app.h"
#include "server/claims.h"
#include "server/signkeys.h"

/* The release receipt of the device of draft dr. */
static fl_err sign_receipt(struct fl_app *app, const struct fl_token_draft *dr,
                           fl_time now, char **out)
{
	const struct fl_device_claims *c = &dr->c;
	struct fl_dp_receipt r;
	char *json = NULL;
	fl_err err;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	snprintf(r.device_id, sizeof(r.device_id), "%s", dr->device_id);
	memcpy(r.imei, c->imei, sizeof(r.imei));
	r.n_imei = c->n_imei;
	r.loan_ref = c->loan_ref != NULL ? c->loan_ref : (char *)"";
	r.released_at = dr->decided_at > 0 ? dr->decided_at : now;
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

void fl_token_draft_clear(struct fl_token_draft *dr)
{
	fl_claims_clear(&dr->c);
	memset(dr, 0, sizeof(*dr));
}

/* The fields of dr that come from d (its claims aside). */
static void draft_head(const struct fl_device *d, struct fl_token_draft *dr)
{
	snprintf(dr->device_id, sizeof(dr->device_id), "%s", d->id);
	dr->seq = d->st.token_seq;
	dr->state = d->st.state;
	dr->stolen = d->st.stolen;
	dr->decided_at = d->st.decided_at;
}

fl_err fl_token_draft_of(const struct fl_device *d,
                         const struct fl_device_inputs *in, fl_time iat,
                         fl_time exp, struct fl_token_draft *out)
{
	fl_err err;

	memset(out, 0, sizeof(*out));
	draft_head(d, out);
	if ((err = fl_claims_of(d, in, iat, exp, &out->c)) != FL_OK)
		fl_token_draft_clear(out);
	return err;
}

fl_err fl_token_sign_draft(struct fl_app *app, const struct fl_token_draft *dr,
                           fl_time now, struct fl_token_signed *out)
{
	char kid[FL_KID_MAX];
	char *claims = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	err = fl_claims_encode(&dr->c, &claims);
	if (err == FL_OK)
		err = fl_signkeys_sign(app->keys, FL_MSG_DEVICE_TOKEN, claims,
		                       strlen(claims), now, &out->token, kid);
	if (err == FL_OK)
		err = fl_signkeys_cert(app->keys, kid, &out->cert);
	if (err == FL_OK && dr->state == FL_ST_RELEASED && !dr->stolen)
		err = sign_receipt(app, dr, now, &out->receipt);
	if (err == FL_OK) {
		snprintf(out->device_id, sizeof(out->device_id), "%s",
		         dr->device_id);
		out->seq = dr->seq;
		out->iat = dr->c.iat;
		out->state = dr->state;
		out->stolen = dr->stolen;
	} else {
		fl_token_signed_clear(out);
	}
	free(claims);
	return err;
}

fl_err fl_token_sign(struct fl_app *app, const char *id, fl_time now,
                     struct fl_token_signed *out)
{
	struct fl_token_draft dr;
	struct fl_device *d = NULL;
	struct fl_tx *tx = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	memset(&dr, 0, sizeof(dr));
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if ((err = fl_store_begin(app->store, false, &tx)) != FL_OK)
		goto out;
	err = fl_store_device_get_any(tx, id, d);
	if (err == FL_OK) {
		draft_head(d, &dr);
		err = fl_claims_build(tx, d, now,
		                      now + (fl_time)app->cfg.token_ttl, &dr.c);
	}
	fl_tx_rollback(tx);
	if (err == FL_OK)
		err = fl_token_sign_draft(app, &dr, now, out);
out:
	fl_token_draft_clear(&dr);
	free(d);
	return err;
}
