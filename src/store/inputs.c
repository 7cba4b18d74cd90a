/* inputs.c - a device's inputs (fl_device_inputs) assembled from the rows
 * any backend reads (store_int.h "Device inputs"). */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

/* Grows *arr (of elem bytes) so it holds at least n + 1 entries. */
static fl_err grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t nc;
	void *na;

	if (n < *cap)
		return FL_OK;
	nc = *cap ? *cap * 2 : 16;
	na = realloc(*arr, nc * elem);
	if (na == NULL)
		return FL_E_NOMEM;
	*arr = na;
	*cap = nc;
	return FL_OK;
}

/* Applies a cancellation at `cancelled` (0: none) to command c: true if
 * the command is left out (a scheduled lock cancelled before its time);
 * an unlock cancelled before its end ends at the cancellation. */
static bool cancel_left_out(struct fl_command *c, fl_time cancelled)
{
	if (cancelled == 0 || cancelled >= c->at)
		return false;
	if (c->kind == FL_CMD_LOCK_AT)
		return true;
	if (c->kind == FL_CMD_UNLOCK_UNTIL)
		c->at = cancelled > c->issued_at ? cancelled : c->issued_at;
	return false;
}

static fl_err add_installment(struct fl_store_extras *x,
                              struct fl_device_inputs *in,
                              const struct fl_store_extra *e)
{
	size_t n;
	fl_err err;

	if (e->a == 0) {
		n = in->contract.n_schedule;
		if (!in->has_contract)
			return FL_OK;
		if (n == FL_POLICY_MAX_INSTALLMENTS)
			return FL_E_TOO_LARGE;
		if ((err = grow((void **)&in->contract.schedule, &x->cap_sched,
		                n, sizeof(*in->contract.schedule))) != FL_OK)
			return err;
		in->contract.schedule[n].due_at = e->c;
		in->contract.schedule[n].amount = e->d;
		in->contract.n_schedule++;
		return FL_OK;
	}
	n = x->n_items;
	if (n == (size_t)FL_POLICY_MAX_INSTALLMENTS * FL_POLICY_MAX_RESCHEDULES)
		return FL_E_TOO_LARGE;
	if ((err = grow((void **)&in->resched_items, &x->cap_items, n,
	                sizeof(*in->resched_items))) != FL_OK ||
	    (err = grow((void **)&x->item_of, &x->cap_of, n,
	                sizeof(*x->item_of))) != FL_OK)
		return err;
	in->resched_items[n].due_at = e->c;
	in->resched_items[n].amount = e->d;
	x->item_of[n] = e->a;
	x->n_items++;
	return FL_OK;
}

static fl_err add_command(struct fl_store_extras *x,
                          struct fl_device_inputs *in,
                          const struct fl_store_extra *e, char **reason)
{
	size_t n = in->n_commands;
	fl_err err;

	if (n == FL_POLICY_MAX_COMMANDS)
		return FL_E_TOO_LARGE;
	if ((err = grow((void **)&in->commands, &x->cap_cmd, n,
	                sizeof(*in->commands))) != FL_OK ||
	    (err = grow((void **)&in->reasons, &x->cap_why, n,
	                sizeof(*in->reasons))) != FL_OK ||
	    (err = grow((void **)&in->cmd_ord, &x->cap_cord, n,
	                sizeof(*in->cmd_ord))) != FL_OK ||
	    (err = grow((void **)&in->cmd_show, &x->cap_show, n,
	                sizeof(*in->cmd_show))) != FL_OK)
		return err;
	in->commands[n].kind = (enum fl_cmd_kind)e->cmd_kind;
	in->commands[n].issued_at = e->c;
	in->commands[n].at = e->d;
	in->cmd_ord[n] = e->a;
	in->cmd_show[n] = e->cmd_show;
	if (cancel_left_out(&in->commands[n], e->cancelled))
		return FL_OK;
	in->reasons[n][0] = '\0';
	*reason = in->reasons[n];
	in->last_command_at = e->c;
	in->n_commands++;
	return FL_OK;
}

fl_err fl_store_extras_add(struct fl_store_extras *x,
                           struct fl_device_inputs *in,
                           const struct fl_store_extra *e, char **reason)
{
	size_t n;
	fl_err err;

	*reason = NULL;
	switch (e->kind) {
	case 0:
		return add_installment(x, in, e);
	case 1:
		n = in->n_reschedules;
		if (n == FL_POLICY_MAX_RESCHEDULES)
			return FL_E_TOO_LARGE;
		if ((err = grow((void **)&in->reschedules, &x->cap_resched, n,
		                sizeof(*in->reschedules))) != FL_OK ||
		    (err = grow((void **)&x->ord, &x->cap_ord, n,
		                sizeof(*x->ord))) != FL_OK)
			return err;
		memset(&in->reschedules[n], 0, sizeof(in->reschedules[0]));
		in->reschedules[n].from = e->c;
		x->ord[n] = e->a;
		in->n_reschedules++;
		return FL_OK;
	case 2:
		n = in->n_payments;
		if (n == FL_POLICY_MAX_PAYMENTS)
			return FL_E_TOO_LARGE;
		if ((err = grow((void **)&in->payments, &x->cap_pay, n,
		                sizeof(*in->payments))) != FL_OK)
			return err;
		in->payments[n].id = e->b;
		in->payments[n].amount = e->c;
		in->payments[n].paid_at = e->a;
		in->payments[n].reversed = e->d != 0;
		in->n_payments++;
		return FL_OK;
	case 3:
		return add_command(x, in, e, reason);
	default:
		return FL_E_CORRUPT;
	}
}

void fl_store_extras_end(struct fl_store_extras *x, struct fl_device_inputs *in,
                         bool ok)
{
	size_t i = 0;

	/* Items come by reschedule ord, as the reschedules do: walk both.
	 * Items of no reschedule are never read (as a join would drop
	 * them); a reschedule without items waives the rest. */
	for (size_t r = 0; ok && r < in->n_reschedules; r++) {
		while (i < x->n_items && x->item_of[i] < x->ord[r])
			i++;
		if (i < x->n_items && x->item_of[i] == x->ord[r])
			in->reschedules[r].schedule = in->resched_items + i;
		while (i < x->n_items && x->item_of[i] == x->ord[r]) {
			in->reschedules[r].n_schedule++;
			i++;
		}
	}
	for (size_t k = 0; ok && k < in->n_commands; k++)
		in->commands[k].reason = in->reasons[k];
	free(x->item_of);
	free(x->ord);
	memset(x, 0, sizeof(*x));
}
