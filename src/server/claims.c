/* claims.c - what a device's token says (claims.h). */
#include "server/claims.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/restrict.h"
#include "server/decide.h"
#include "server/money.h"

/* A heap copy of a list of fixed-size strings, empty ones left out. */
static fl_err dup_list(const char *items, size_t stride, size_t n, char ***out,
                       size_t *count)
{
	*out = NULL;
	*count = 0;
	if (n == 0)
		return FL_OK;
	*out = calloc(n, sizeof(char *));
	if (*out == NULL)
		return FL_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *s = items + i * stride;

		if (s[0] == '\0')
			continue;
		(*out)[*count] = strdup(s);
		if ((*out)[*count] == NULL)
			return FL_E_NOMEM;
		(*count)++;
	}
	return FL_OK;
}

/* strdup of s, or NULL (and FL_OK) for an empty s. */
static fl_err dup_text(const char *s, char **out)
{
	*out = NULL;
	if (s[0] == '\0')
		return FL_OK;
	*out = strdup(s);
	return *out != NULL ? FL_OK : FL_E_NOMEM;
}

/* The contract's terms and the coming reminders into c. */
static fl_err contract_claims(const struct fl_device_inputs *in,
                              const struct fl_decision *dec, bool released,
                              struct fl_device_claims *c)
{
	const struct fl_contract_rec *r = &in->contract;
	fl_err err;

	c->restrict_mask = r->restrict_mask;
	memcpy(c->currency, r->currency, sizeof(c->currency));
	c->sim_policy = r->sim_policy;
	c->tamper_policy = r->tamper_policy;
	if ((err = dup_list(&r->allow_apps[0][0], sizeof(r->allow_apps[0]),
	                    r->n_allow_apps, &c->allow_apps,
	                    &c->n_allow_apps)) != FL_OK ||
	    (err = dup_list(&r->contact_phones[0][0],
	                    sizeof(r->contact_phones[0]), r->n_contact_phones,
	                    &c->contact_phones, &c->n_contact_phones)) !=
	            FL_OK ||
	    (err = dup_text(r->message, &c->message)) != FL_OK ||
	    (err = dup_text(r->contact_name, &c->contact_name)) != FL_OK ||
	    (err = dup_text(r->loan_ref, &c->loan_ref)) != FL_OK)
		return err;
	if (released || dec->n_reminders == 0)
		return FL_OK;
	c->reminders = calloc(dec->n_reminders, sizeof(*c->reminders));
	if (c->reminders == NULL)
		return FL_E_NOMEM;
	for (size_t i = 0; i < dec->n_reminders; i++) {
		const struct fl_policy_reminder *pr = &dec->reminders[i];
		char money[64], text[160];
		int y, mo, d, h, mi, s;

		if ((err = fl_money_format(money, sizeof(money), r->currency,
		                           pr->amount)) != FL_OK)
			return err;
		/* the due date as the contract's calendar shows it */
		fl_time_to_civil(pr->due_at + r->utc_offset, &y, &mo, &d, &h,
		                 &mi, &s);
		snprintf(text, sizeof(text),
		         "Installment of %s due %04d-%02d-%02d", money, y, mo,
		         d);
		c->reminders[i].at = pr->at;
		c->reminders[i].text = strdup(text);
		if (c->reminders[i].text == NULL)
			return FL_E_NOMEM;
		c->n_reminders++;
	}
	return FL_OK;
}

/* The lock_cause claim for the stored cause of lock_at. */
static enum fl_claim_cause claim_cause(enum fl_lock_cause c)
{
	switch (c) {
	case FL_LOCK_OVERDUE:
		return FL_CLAIM_CAUSE_OVERDUE;
	case FL_LOCK_OFFLINE:
		return FL_CLAIM_CAUSE_OFFLINE;
	case FL_LOCK_MANUAL:
	case FL_LOCK_SCHEDULED:
		return FL_CLAIM_CAUSE_LENDER;
	case FL_LOCK_STOLEN:
		return FL_CLAIM_CAUSE_STOLEN;
	default:
		return FL_CLAIM_CAUSE_NONE;
	}
}

/* The claims of d from its inputs in (NULL: d has no contract), as
 * fl_claims_build and fl_claims_of say. */
static fl_err claims_from(const struct fl_device *d,
                          const struct fl_device_inputs *in, fl_time iat,
                          fl_time exp, struct fl_device_claims *c)
{
	const struct fl_device_status *st = &d->st;
	bool released = st->state == FL_ST_RELEASED && !st->stolen;
	fl_time decided = st->decided_at > 0 ? st->decided_at : iat;
	struct fl_decision *dec = NULL;
	fl_err err;

	fl_claims_clear(c);
	c->sub = strdup(d->id);
	if (c->sub == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	memcpy(c->imei[0], d->imei, sizeof(c->imei[0]));
	c->n_imei = 1;
	if (d->imei2[0] != '\0') {
		memcpy(c->imei[1], d->imei2, sizeof(c->imei[1]));
		c->n_imei = 2;
	}
	c->seq = st->token_seq;
	c->iat = iat;
	c->exp = exp;
	/* a phone that has not enrolled has nothing to enforce but lock_at */
	c->state = st->state == FL_ST_PENDING ? FL_ST_ACTIVE : st->state;
	c->stolen = st->stolen;
	c->lock_at = released ? 0 : st->lock_at;
	c->amount_due = released ? 0 : st->amount_due;
	c->lock_cause = released || st->lock_at == 0
	                        ? FL_CLAIM_CAUSE_NONE
	                        : claim_cause(st->lock_cause);
	c->restrict_mask = FL_R_DEFAULT_LOCK;
	err = FL_OK;
	if (in == NULL || !in->has_contract)
		goto out;
	dec = calloc(1, sizeof(*dec));
	if (dec == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	/* the stored decision replayed from its inputs at its instant */
	err = fl_decide_policy(d, in, decided, dec);
	/* a phone that locks on its own at lock_at shows what is due then */
	if (err == FL_OK && !released)
		err = fl_decide_token_due(in, d, decided, dec, &c->amount_due);
	if (err == FL_OK)
		err = contract_claims(in, dec, released, c);
	/* the lender's reason, when the lender chose to show it */
	if (err == FL_OK && c->lock_cause == FL_CLAIM_CAUSE_LENDER &&
	    fl_decide_lock_text(in, dec) != NULL &&
	    (c->lock_reason_text = strdup(fl_decide_lock_text(in, dec))) ==
	            NULL)
		err = FL_E_NOMEM;
out:
	free(dec);
	if (err != FL_OK)
		fl_claims_clear(c);
	return err;
}

fl_err fl_claims_build(struct fl_tx *tx, const struct fl_device *d, fl_time iat,
                       fl_time exp, struct fl_device_claims *c)
{
	struct fl_device_inputs in;
	fl_err err = FL_OK;

	memset(&in, 0, sizeof(in));
	fl_claims_clear(c);
	if (d->has_contract)
		err = fl_store_device_inputs(tx, d->tenant_id, d->id, &in);
	if (err == FL_OK)
		err = claims_from(d, d->has_contract ? &in : NULL, iat, exp, c);
	fl_device_inputs_clear(&in);
	return err;
}

fl_err fl_claims_of(const struct fl_device *d,
                    const struct fl_device_inputs *in, fl_time iat,
                    fl_time exp, struct fl_device_claims *c)
{
	fl_claims_clear(c);
	return claims_from(d, d->has_contract ? in : NULL, iat, exp, c);
}
