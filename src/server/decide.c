/* decide.c - inputs from the store -> fl_policy_decide -> status stored. */
#include "server/decide.h"

#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "server/app.h"
#include "server/changes.h"
#include "server/events.h"
#include "server/gates.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/push.h"
#include "server/run.h"

fl_time fl_decide_now(const struct fl_device *dev, fl_time now)
{
	return now > dev->st.decided_at ? now : dev->st.decided_at;
}

bool fl_decide_contact_due(enum fl_dev_state state, enum fl_lock_cause cause,
                           fl_time lock_at, fl_time decided_at, fl_time now)
{
	fl_time half;

	if (cause != FL_LOCK_OFFLINE || lock_at == 0)
		return false;
	if (state == FL_ST_LOCKED)
		return true;
	half = (lock_at - decided_at) / 2;
	if (half > FL_DECIDE_CONTACT_REFRESH)
		half = FL_DECIDE_CONTACT_REFRESH;
	return now - decided_at >= half;
}

static void put_i64(fl_blake2b_state *st, int64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	fl_blake2b_update(st, b, sizeof(b));
}

/* A hash of everything a device token carries that the decision or the
 * contract determines; the token seq moves exactly when it changes. */
static void outcome_hash(const struct fl_device *d,
                         const struct fl_device_inputs *in,
                         const struct fl_decision *dec, int64_t token_due,
                         uint8_t out[FL_HASH_LEN])
{
	static const char domain[] = "finlock-outcome-v1";
	fl_blake2b_state st;

	if (fl_blake2b_init(&st, NULL, 0, FL_HASH_LEN) != FL_OK) {
		memset(out, 0, FL_HASH_LEN);
		return;
	}
	fl_blake2b_update(&st, domain, sizeof(domain) - 1);
	put_i64(&st, (int64_t)dec->state);
	put_i64(&st, dec->stolen);
	put_i64(&st, dec->lock_at);
	put_i64(&st, (int64_t)dec->lock_cause);
	{
		const char *text = fl_decide_lock_text(in, dec);
		size_t n = text != NULL ? strlen(text) : 0;

		put_i64(&st, (int64_t)n);
		fl_blake2b_update(&st, text != NULL ? text : "", n);
	}
	put_i64(&st, token_due);
	put_i64(&st, d->enrolled_at != 0);
	/* A contract never changes once made; its ord names its terms. */
	put_i64(&st, in->has_contract ? in->contract.ord : 0);
	put_i64(&st, (int64_t)dec->n_reminders);
	for (size_t i = 0; i < dec->n_reminders; i++) {
		put_i64(&st, dec->reminders[i].at);
		put_i64(&st, dec->reminders[i].due_at);
		put_i64(&st, dec->reminders[i].amount);
	}
	fl_blake2b_final(&st, out, FL_HASH_LEN);
}

const char *fl_decide_lock_text(const struct fl_device_inputs *in,
                                const struct fl_decision *dec)
{
	size_t i;

	if (dec->lock_command == 0 || dec->lock_command > in->n_commands ||
	    in->cmd_show == NULL)
		return NULL;
	i = dec->lock_command - 1;
	if (!in->cmd_show[i] || in->reasons == NULL || in->reasons[i][0] == '\0')
		return NULL;
	return in->reasons[i];
}

/* Whether a and b store the same decision: every field but decided_at
 * (a re-decision that changes nothing else is not written). */
static bool same_status(const struct fl_device_status *a,
                        const struct fl_device_status *b)
{
	return a->state == b->state && a->stolen == b->stolen &&
	       a->stolen_reported == b->stolen_reported &&
	       a->credit == b->credit &&
	       a->released_by_command == b->released_by_command &&
	       a->lock_cause == b->lock_cause && a->lock_at == b->lock_at &&
	       a->unlock_until == b->unlock_until &&
	       a->paid_through == b->paid_through &&
	       a->amount_due == b->amount_due &&
	       a->amount_remaining == b->amount_remaining &&
	       a->next_due_at == b->next_due_at &&
	       a->next_due_amount == b->next_due_amount &&
	       a->next_change == b->next_change &&
	       a->token_seq == b->token_seq &&
	       memcmp(a->outcome, b->outcome, FL_HASH_LEN) == 0;
}

static void contract_of(const struct fl_contract_rec *r, struct fl_contract *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->currency, r->currency, sizeof(c->currency));
	c->utc_offset = r->utc_offset;
	c->schedule = r->schedule;
	c->n_schedule = r->n_schedule;
	c->grace = r->grace;
	c->max_offline = r->max_offline;
	memcpy(c->remind, r->remind, sizeof(c->remind));
	c->n_remind = r->n_remind;
}

/* The policy's input for dev from its stored inputs, deciding at now;
 * pin and contract borrow from in. */
static void policy_input(struct fl_policy_input *pin,
                         struct fl_contract *contract,
                         const struct fl_device_inputs *in,
                         const struct fl_device *dev, fl_time now)
{
	contract_of(&in->contract, contract);
	memset(pin, 0, sizeof(*pin));
	pin->contract = contract;
	pin->reschedules = in->reschedules;
	pin->n_reschedules = in->n_reschedules;
	pin->payments = in->payments;
	pin->n_payments = in->n_payments;
	pin->commands = in->commands;
	pin->n_commands = in->n_commands;
	pin->enrolled = dev->enrolled_at != 0;
	pin->last_contact = dev->last_contact;
	pin->now = now;
}

fl_err fl_decide_replay(struct fl_tx *tx, const struct fl_device *dev,
                        fl_time at, struct fl_device_inputs *in,
                        struct fl_decision *dec)
{
	struct fl_policy_input pin;
	struct fl_contract contract;
	fl_err err;

	memset(dec, 0, sizeof(*dec));
	memset(in, 0, sizeof(*in));
	err = fl_store_device_inputs(tx, dev->tenant_id, dev->id, in);
	if (err == FL_OK && in->has_contract) {
		policy_input(&pin, &contract, in, dev, at);
		err = fl_policy_decide(&pin, dec, NULL);
	}
	if (err != FL_OK) {
		fl_device_inputs_clear(in);
		memset(dec, 0, sizeof(*dec));
	}
	return err;
}

fl_err fl_decide_token_due(const struct fl_device_inputs *in,
                           const struct fl_device *dev, fl_time at,
                           const struct fl_decision *dec, int64_t *out)
{
	struct fl_policy_input pin;
	struct fl_contract contract;
	struct fl_decision then;
	fl_err err;

	*out = dec->amount_due_now;
	if (!in->has_contract || dec->state == FL_ST_RELEASED || dec->stolen ||
	    dec->amount_due_now != 0 || dec->lock_at <= at ||
	    dec->lock_at > FL_TIME_MAX)
		return FL_OK;
	policy_input(&pin, &contract, in, dev, dec->lock_at);
	err = fl_policy_decide(&pin, &then, NULL);
	*out = err == FL_OK ? then.amount_due_now : 0;
	return err;
}

/* Whether the new decision st (from dec) differs from the stored one only
 * by an offline-driven lock_at that contact moved later, before
 * fl_decide_contact_due says it is time to move it: then st becomes the
 * stored decision (the token the phone holds stays right: the same
 * outcome, with the earlier lock_at, which the sweep re-decides when it
 * comes). dec then holds the stored lock_at and next_change too. */
static fl_err keep_offline_lock_at(const struct fl_device_inputs *in,
                                   const struct fl_device *dev, fl_time eff,
                                   struct fl_decision *dec,
                                   struct fl_device_status *st)
{
	const struct fl_device_status *old = &dev->st;
	struct fl_device_status same = *st;
	fl_time new_lock_at = dec->lock_at, new_next = dec->next_change;
	int64_t token_due;
	fl_err err;

	if (old->token_seq == 0 || st->lock_cause != FL_LOCK_OFFLINE ||
	    old->lock_cause != FL_LOCK_OFFLINE || st->state != old->state ||
	    old->lock_at == 0 || st->lock_at <= old->lock_at ||
	    /* the stored schedule must stay one the sweep can keep: still
	     * to come, and no later than the new one */
	    old->next_change <= eff || st->next_change < old->next_change ||
	    fl_decide_contact_due(old->state, old->lock_cause, old->lock_at,
	                          old->decided_at, eff))
		return FL_OK;
	/* the outcome with the stored lock_at, and what it then owes */
	dec->lock_at = old->lock_at;
	dec->next_change = old->next_change;
	if ((err = fl_decide_token_due(in, dev, eff, dec, &token_due)) != FL_OK)
		goto undo;
	outcome_hash(dev, in, dec, token_due, same.outcome);
	same.lock_at = old->lock_at;
	same.next_change = old->next_change;
	same.decided_at = old->decided_at;
	if (same_status(&same, old)) {
		*st = same;
		return FL_OK;
	}
undo:
	dec->lock_at = new_lock_at;
	dec->next_change = new_next;
	return err;
}

fl_err fl_decide_device(struct fl_tx *tx, const char *tenant_id,
                        const char *device_id, fl_time now, bool force_bump,
                        struct fl_device *dev_out, struct fl_decided *what)
{
	struct fl_device *dev = calloc(1, sizeof(*dev));
	struct fl_device_inputs in;
	fl_err err;

	memset(&in, 0, sizeof(in));
	if (dev == NULL)
		return FL_E_NOMEM;
	/* the callers lock before their own reads; this covers any that
	 * read nothing first (a lock held already costs nothing) */
	err = fl_store_lock_device(tx, device_id);
	if (err == FL_OK)
		err = fl_store_device_load(tx, tenant_id, device_id, dev, &in);
	if (err == FL_OK)
		err = fl_decide_loaded(tx, dev, &in, now, force_bump, dev_out,
		                       what);
	fl_device_inputs_clear(&in);
	free(dev);
	return err;
}

fl_err fl_decide_policy(const struct fl_device *dev,
                        const struct fl_device_inputs *in, fl_time at,
                        struct fl_decision *dec)
{
	struct fl_policy_input pin;
	struct fl_contract contract;
	fl_err err = FL_OK;

	memset(dec, 0, sizeof(*dec));
	if (in->has_contract) {
		policy_input(&pin, &contract, in, dev, at);
		err = fl_policy_decide(&pin, dec, NULL);
	}
	if (err != FL_OK)
		memset(dec, 0, sizeof(*dec));
	return err;
}

/* The webhook events of a decision that changed the device's state
 * (events.h), in the decision's transaction. */
static fl_err emit_changes(struct fl_tx *tx, const struct fl_device *dev,
                           const struct fl_decided *w, fl_time at)
{
	fl_err err = FL_OK;

	if (dev->st.stolen_reported && !w->before.stolen_reported)
		err = fl_event_device(tx, dev, "device.stolen", NULL, at);
	if (err == FL_OK && w->locked)
		err = fl_event_device(tx, dev, "device.locked", NULL, at);
	if (err == FL_OK && w->unlocked)
		err = fl_event_device(tx, dev, "device.unlocked", NULL, at);
	if (err == FL_OK && w->released)
		err = fl_event_device(
		        tx, dev, "device.released",
		        json_pack("{s:b}", "by_command",
		                  dev->st.released_by_command),
		        at);
	return err;
}

/* fl_decide_loaded's decision, made without storing it: *dev (a copy of
 * *loaded) gets the status to store (decided_at as stored), *what what
 * changed, *write whether the status is to be stored. Reads through tx
 * only what the gates need (memo: see fl_hold_gate_memo, may be NULL). */
static fl_err decide_in_memory(struct fl_tx *tx,
                               const struct fl_device *loaded,
                               const struct fl_device_inputs *inp,
                               fl_time now, bool force_bump,
                               struct fl_hold_memo *memo,
                               struct fl_device *dev,
                               struct fl_decided *what, bool *write)
{
	const struct fl_device_inputs in = *inp; /* borrowed arrays */
	const char *device_id = loaded->id;
	struct fl_decision *dec = NULL;
	struct fl_policy_input pin;
	struct fl_contract contract;
	struct fl_device_status st;
	struct fl_decided w;
	int64_t token_due;
	fl_time eff;
	fl_err err;

	memset(&w, 0, sizeof(w));
	*write = false;
	dec = calloc(1, sizeof(*dec));
	if (dec == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if (dev != loaded)
		*dev = *loaded;
	w.before = dev->st;
	eff = fl_decide_now(dev, now);
	if (in.has_contract) {
		policy_input(&pin, &contract, &in, dev, eff);
		if ((err = fl_policy_decide(&pin, dec, NULL)) != FL_OK) {
			fl_log(FL_LOG_ERROR, "policy refused stored inputs",
			       json_pack("{s:s,s:s}", "device", device_id,
			                 "error", fl_strerror(err)));
			goto out;
		}
		/* what the policy cannot know: a release by a provider's
		 * payment waits for the lender (sources.h) */
		if ((err = fl_src_release_gate(tx, dev, dec)) != FL_OK)
			goto out;
		/* and a tenant-wide hold on automatic locks (holds.h) */
		if ((err = fl_hold_gate_memo(tx, memo, dev, dec, eff)) != FL_OK)
			goto out;
	} else {
		/* No contract yet: nothing to decide but whether the phone
		 * has enrolled. */
		memset(dec, 0, sizeof(*dec));
		dec->state =
		        dev->enrolled_at != 0 ? FL_ST_ACTIVE : FL_ST_PENDING;
	}

	memset(&st, 0, sizeof(st));
	st.state = dec->state;
	st.stolen = dec->stolen;
	st.stolen_reported = dec->stolen_reported;
	st.credit = dec->amount_paid > dec->amount_total
	                    ? dec->amount_paid - dec->amount_total
	                    : 0;
	st.released_by_command = dec->released_by_command;
	st.lock_cause = dec->lock_cause;
	st.lock_at = dec->lock_at;
	st.unlock_until = dec->unlock_until;
	st.paid_through = dec->paid_through;
	st.amount_due = dec->amount_due_now;
	st.amount_remaining = dec->amount_remaining;
	st.next_due_at = dec->next_due_at;
	st.next_due_amount = dec->next_due_amount;
	st.next_change = dec->next_change;
	st.decided_at = eff;
	if ((err = fl_decide_token_due(&in, dev, eff, dec, &token_due)) !=
	    FL_OK)
		goto out;
	outcome_hash(dev, &in, dec, token_due, st.outcome);
	st.token_seq = dev->st.token_seq;
	if (!force_bump &&
	    (err = keep_offline_lock_at(&in, dev, eff, dec, &st)) != FL_OK)
		goto out;
	if (force_bump || st.token_seq == 0 ||
	    memcmp(st.outcome, dev->st.outcome, FL_HASH_LEN) != 0) {
		st.token_seq++;
		w.bumped = true;
	}
	if (w.bumped || !same_status(&st, &dev->st)) {
		*write = true;
	} else {
		/* Nothing to store: the stored decision stands, decided_at
		 * included (it is when the status last changed). */
		st.decided_at = dev->st.decided_at;
	}
	w.locked = st.state == FL_ST_LOCKED && w.before.state != FL_ST_LOCKED;
	w.unlocked = st.state != FL_ST_LOCKED && w.before.state == FL_ST_LOCKED;
	w.released =
	        st.state == FL_ST_RELEASED && w.before.state != FL_ST_RELEASED;
	dev->st = st;
	*what = w;
out:
	free(dec);
	return err;
}

/* What follows a decision's status once it is stored (or, write false,
 * found unchanged): the IMEI claims of a device released by command, the
 * webhook events of the change and the history of its state (changes.h).
 * at: the decision instant. */
static fl_err after_status(struct fl_tx *tx, const struct fl_device *dev,
                           const struct fl_decided *w, bool write,
                           fl_time at)
{
	fl_err err;

	if (write && dev->st.released_by_command &&
	    (err = fl_store_device_unclaim(tx, dev->id)) != FL_OK)
		return err;
	if ((err = emit_changes(tx, dev, w, at)) != FL_OK)
		return err;
	return fl_change_note(tx, dev, &w->before, at);
}

fl_err fl_decide_loaded(struct fl_tx *tx, const struct fl_device *loaded,
                        const struct fl_device_inputs *inp, fl_time now,
                        bool force_bump, struct fl_device *dev_out,
                        struct fl_decided *what)
{
	struct fl_device *dev = malloc(sizeof(*dev));
	struct fl_decided w;
	bool write = false;
	fl_err err;

	memset(&w, 0, sizeof(w));
	if (dev == NULL)
		return FL_E_NOMEM;
	err = decide_in_memory(tx, loaded, inp, now, force_bump, NULL, dev, &w,
	                       &write);
	if (err == FL_OK && write)
		err = fl_store_device_set_status(tx, dev->id, &dev->st);
	if (err == FL_OK)
		err = after_status(tx, dev, &w, write,
		                   fl_decide_now(loaded, now));
	if (err == FL_OK && dev_out != NULL)
		*dev_out = *dev;
	if (err == FL_OK && what != NULL)
		*what = w;
	free(dev);
	return err;
}

void fl_decide_committed(struct fl_app *app, const char *device_id,
                         const struct fl_decided *what)
{
	if (what->bumped && app->push != NULL)
		fl_push_publish(app->push, device_id);
	if (what->locked)
		fl_metrics_lock(app->metrics);
	if (what->unlocked)
		fl_metrics_unlock(app->metrics);
}

/* The sweep's groups: a group is one write transaction that claims the
 * sweep job, then loads its due devices and their inputs in one call
 * (fl_store_device_due_load: each device locked, then read), decides
 * them in memory and stores the decisions in one call
 * (fl_store_device_set_status_many): a fixed number of statements per
 * group, not per device, and one flush (fsync) per group. SQLite, with one
 * writer at a time, keeps groups small so a payment recorded meanwhile
 * is not kept waiting long; on PostgreSQL a group blocks only payments of
 * its own devices. The first phones are woken after the first group's
 * commit rather than the last. */
#define SWEEP_GROUP_SQLITE 256
#define SWEEP_GROUP_PG     1024
#define SWEEP_SKIP_MAX     16 /* devices set aside in one group */

/* What one group's transaction works on (group_fn). */
struct group_io {
	int limit;                    /* devices to load at most */
	struct fl_device *devs;       /* limit entries: as loaded, then after */
	struct fl_device_inputs *ins; /* limit entries */
	struct fl_decided *what;      /* limit entries */
	bool *done;                   /* limit entries: decided */
	struct fl_status_write *w;    /* limit entries */
	struct fl_state_change *chg;  /* limit entries */
	int loaded;                   /* out: devices loaded */
	bool mine;                    /* out: this process holds the job */
	char skip[SWEEP_SKIP_MAX][FL_ID_MAX]; /* devices left out */
	int n_skip;
	int bad; /* out: a device that could not be decided, or -1 */
};

static void group_clear(struct group_io *io)
{
	for (int i = 0; i < io->loaded; i++)
		fl_device_inputs_clear(&io->ins[i]);
	io->loaded = 0;
}

static bool skipped(const struct group_io *io, const char *id)
{
	for (int i = 0; i < io->n_skip; i++)
		if (strcmp(io->skip[i], id) == 0)
			return true;
	return false;
}

/* One attempt of a group: claims the sweep job (another process sweeping
 * now makes this one skip), and only then reads what is due. */
static fl_err group_fn(struct fl_tx *tx, void *arg, fl_time now)
{
	struct group_io *io = arg;
	struct fl_hold_memo memo;
	int n_w = 0, n_c = 0;
	fl_err err;

	group_clear(io);
	io->bad = -1;
	memset(&memo, 0, sizeof(memo));
	if ((err = fl_store_job_claim(tx, FL_DECIDE_JOB_SWEEP, &io->mine)) !=
	            FL_OK ||
	    !io->mine)
		return err;
	if ((err = fl_store_device_due_load(tx, now, io->limit, io->devs,
	                                    io->ins, &io->loaded)) != FL_OK)
		return err;
	for (int i = 0; i < io->loaded; i++) {
		bool write = false;

		io->done[i] = false;
		memset(&io->what[i], 0, sizeof(io->what[i]));
		if (skipped(io, io->devs[i].id))
			continue;
		/* in place: devs[i] becomes the device after */
		err = decide_in_memory(tx, &io->devs[i], &io->ins[i], now,
		                       false, &memo, &io->devs[i],
		                       &io->what[i], &write);
		if (err != FL_OK) {
			if (fl_run_unavailable(err) || err == FL_E_STORE_RETRY)
				return err; /* the transaction's */
			io->bad = i;
			return FL_E_STATE;
		}
		io->done[i] = true;
		if (write) {
			io->w[n_w].id = io->devs[i].id;
			io->w[n_w].st = &io->devs[i].st;
			io->w[n_w].ord = io->devs[i].ord;
			io->w[n_w].before = &io->what[i].before;
			n_w++;
		}
	}
	if ((err = fl_store_device_set_status_many(tx, io->w, n_w)) != FL_OK)
		return err;
	for (int i = 0, k = 0; i < io->loaded; i++) {
		const struct fl_device *dev = &io->devs[i];
		const struct fl_decided *w = &io->what[i];
		/* the decision instant, max(now, decided_at before) */
		fl_time at = w->before.decided_at > now ? w->before.decided_at
		                                        : now;
		bool write, any = false;

		if (!io->done[i])
			continue;
		write = k < n_w && io->w[k].id == dev->id;
		if (write)
			k++;
		/* as after_status, the state changes stored together */
		if (write && dev->st.released_by_command &&
		    (err = fl_store_device_unclaim(tx, dev->id)) != FL_OK)
			return err;
		if ((err = emit_changes(tx, dev, w, at)) != FL_OK ||
		    (err = fl_change_make(tx, dev, &w->before, at,
		                          &io->chg[n_c], &any)) != FL_OK)
			return err;
		if (any)
			n_c++;
	}
	return fl_store_state_change_add_many(tx, io->chg, n_c);
}

fl_err fl_decide_sweep(struct fl_app *app, fl_time now, int batch, int *n)
{
	return fl_decide_sweep_with(app, now, batch, NULL, NULL, n);
}

fl_err fl_decide_sweep_with(struct fl_app *app, fl_time now, int batch,
                            fl_decide_moved_fn moved, void *arg, int *n)
{
	bool pg = strcmp(fl_store_backend(app->store), "sqlite") != 0;
	int group = pg ? SWEEP_GROUP_PG : SWEEP_GROUP_SQLITE;
	struct group_io io;
	int total = 0;
	fl_err err = FL_OK;

	if (n != NULL)
		*n = 0;
	memset(&io, 0, sizeof(io));
	if (batch < group)
		group = batch;
	if (group <= 0)
		return FL_OK;
	io.devs = calloc((size_t)group, sizeof(*io.devs));
	io.ins = calloc((size_t)group, sizeof(*io.ins));
	io.what = calloc((size_t)group, sizeof(*io.what));
	io.done = calloc((size_t)group, sizeof(*io.done));
	io.w = calloc((size_t)group, sizeof(*io.w));
	io.chg = calloc((size_t)group, sizeof(*io.chg));
	if (io.devs == NULL || io.ins == NULL || io.what == NULL ||
	    io.done == NULL || io.w == NULL || io.chg == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	while (total < batch) {
		int decided = 0;

		io.limit = batch - total < group ? batch - total : group;
		io.n_skip = 0;
		for (;;) {
			err = fl_run(app->store, now, 0, group_fn, &io, NULL);
			if (io.bad < 0 || err != FL_E_STATE ||
			    io.n_skip == SWEEP_SKIP_MAX)
				break;
			/* one device's bad inputs hold back no other: the
			 * group again without it (it stays due) */
			fl_log(FL_LOG_ERROR, "sweep could not decide a device",
			       json_pack("{s:s}", "device",
			                 io.devs[io.bad].id));
			memcpy(io.skip[io.n_skip++], io.devs[io.bad].id,
			       FL_ID_MAX);
		}
		if (err != FL_OK || !io.mine)
			break; /* another process sweeps this round */
		/* waiters wake only once their change is durable */
		for (int i = 0; i < io.loaded; i++) {
			if (!io.done[i])
				continue;
			if (moved != NULL && io.what[i].bumped)
				moved(arg, &io.devs[i], &io.ins[i], now);
			fl_decide_committed(app, io.devs[i].id, &io.what[i]);
			decided++;
		}
		total += decided;
		if (n != NULL)
			*n += decided;
		/* fewer than asked: nothing more is due now (or the rest is
		 * locked by other transactions, or undecidable) */
		if (io.loaded < io.limit || decided == 0)
			break;
	}
out:
	group_clear(&io);
	free(io.devs);
	free(io.ins);
	free(io.what);
	free(io.done);
	free(io.w);
	free(io.chg);
	return err;
}

fl_err fl_decide_ahead(struct fl_app *app, fl_time at, int limit,
                       bool (*want)(void *arg, const char *id),
                       fl_decide_moved_fn moved, void *arg, int *n)
{
	char(*tids)[FL_ID_MAX] = NULL, (*ids)[FL_ID_MAX] = NULL;
	struct fl_device *dev = NULL, *after = NULL;
	struct fl_hold_memo memo;
	struct fl_tx *tx = NULL;
	int k = 0;
	fl_err err;

	if (n != NULL)
		*n = 0;
	if (limit <= 0)
		return FL_OK;
	memset(&memo, 0, sizeof(memo));
	tids = calloc((size_t)limit, sizeof(*tids));
	ids = calloc((size_t)limit, sizeof(*ids));
	dev = calloc(1, sizeof(*dev));
	after = calloc(1, sizeof(*after));
	if (tids == NULL || ids == NULL || dev == NULL || after == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if ((err = fl_store_begin(app->store, false, &tx)) != FL_OK)
		goto out;
	err = fl_store_device_due(tx, at, limit, tids, ids, &k);
	for (int i = 0; i < k && err == FL_OK; i++) {
		struct fl_device_inputs in;
		struct fl_decided what;
		bool write = false;
		fl_err e;

		if (want != NULL && !want(arg, ids[i]))
			continue;
		e = fl_store_device_load(tx, tids[i], ids[i], dev, &in);
		if (e != FL_OK) {
			if (fl_run_unavailable(e))
				err = e;
			continue; /* gone, or its own trouble: the sweep's */
		}
		/* only what changes at `at` itself: a change already past
		 * is one the sweep could not make */
		if (dev->st.next_change == at &&
		    decide_in_memory(tx, dev, &in, at, false, &memo, after,
		                     &what, &write) == FL_OK &&
		    what.bumped) {
			moved(arg, after, &in, at);
			if (n != NULL)
				(*n)++;
		}
		fl_device_inputs_clear(&in);
	}
	fl_tx_rollback(tx);
out:
	free(tids);
	free(ids);
	free(dev);
	free(after);
	return err;
}
