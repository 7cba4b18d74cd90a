/* audit.c - hash-chained audit entries: append, hash, verify. */
#include "server/audit.h"
#include "server/run.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/files.h"
#include "server/jsonval.h"
#include "server/signkeys.h"

static void put_u64(fl_blake2b_state *st, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	fl_blake2b_update(st, b, sizeof(b));
}

static void put_lp(fl_blake2b_state *st, const char *s)
{
	size_t n = strlen(s);
	uint8_t b[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16),
	                (uint8_t)(n >> 8), (uint8_t)n};

	fl_blake2b_update(st, b, sizeof(b));
	fl_blake2b_update(st, s, n);
}

void fl_audit_hash(const struct fl_audit_entry *e, uint8_t out[FL_HASH_LEN])
{
	static const char domain[] = "finlock-audit-v1";
	fl_blake2b_state st;

	/* Unkeyed BLAKE2b-256 with a fixed output length cannot fail. */
	if (fl_blake2b_init(&st, NULL, 0, FL_HASH_LEN) != FL_OK) {
		memset(out, 0, FL_HASH_LEN);
		return;
	}
	fl_blake2b_update(&st, domain, sizeof(domain) - 1);
	put_u64(&st, (uint64_t)e->seq);
	put_lp(&st, e->chain);
	put_u64(&st, (uint64_t)e->at);
	put_lp(&st, e->actor);
	put_lp(&st, e->action);
	put_lp(&st, e->target);
	put_lp(&st, e->before);
	put_lp(&st, e->after);
	fl_blake2b_update(&st, e->prev_hash, FL_HASH_LEN);
	fl_blake2b_final(&st, out, FL_HASH_LEN);
}

static void snapshot(char *dst, size_t cap, json_t *v)
{
	char *text;

	dst[0] = '\0';
	if (v == NULL)
		return;
	text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII |
	                             JSON_ENCODE_ANY);
	if (text == NULL || strlen(text) >= cap)
		snprintf(dst, cap, "{\"truncated\":true}");
	else
		strcpy(dst, text);
	free(text);
}

fl_err fl_audit_append(struct fl_tx *tx, const char *chain, const char *actor,
                       fl_time at, const char *action, const char *target,
                       json_t *before, json_t *after)
{
	struct fl_audit_entry *e = NULL;
	int64_t seq = 0;
	fl_err err;

	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if (strlen(chain) >= sizeof(e->chain) ||
	    strlen(actor) >= sizeof(e->actor) ||
	    strlen(action) >= sizeof(e->action) ||
	    strlen(target) >= sizeof(e->target)) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	/* the head read decides the next entry: one appender per chain at
	 * a time, whichever process it runs in (store.h) */
	if ((err = fl_store_lock_chain(tx, chain)) != FL_OK ||
	    (err = fl_store_audit_head(tx, chain, &seq, e->prev_hash)) != FL_OK)
		goto out;
	strcpy(e->chain, chain);
	strcpy(e->actor, actor);
	strcpy(e->action, action);
	strcpy(e->target, target);
	e->seq = seq + 1;
	e->at = at;
	snapshot(e->before, sizeof(e->before), before);
	snapshot(e->after, sizeof(e->after), after);
	fl_audit_hash(e, e->hash);
	err = fl_store_audit_append(tx, e);
out:
	free(e);
	json_decref(before);
	json_decref(after);
	return err;
}

fl_err fl_audit_by(struct fl_tx *tx, const struct fl_principal *who, fl_time at,
                   const char *action, const char *target, json_t *before,
                   json_t *after)
{
	const char *chain = who->tenant_id[0] != '\0' ? who->tenant_id
	                                              : FL_AUDIT_CHAIN_OPERATOR;

	return fl_audit_append(
	        tx, chain, who->key_id[0] ? who->key_id : "system", at, action,
	        target != NULL ? target : "", before, after);
}

struct verify_ctx {
	struct fl_audit_verdict *v;
	uint8_t prev[FL_HASH_LEN];
	int64_t expect;
};

static fl_err verify_one(void *ctx, const struct fl_audit_entry *e)
{
	struct verify_ctx *vc = ctx;
	struct fl_audit_verdict *v = vc->v;
	uint8_t h[FL_HASH_LEN];

	v->entries++;
	if (!v->ok)
		return FL_OK;
	if (e->seq != vc->expect) {
		v->ok = false;
		v->bad_seq = vc->expect;
		snprintf(v->problem, sizeof(v->problem),
		         "entry %lld is missing (found %lld next)",
		         (long long)vc->expect, (long long)e->seq);
		return FL_OK;
	}
	if (fl_ct_memcmp(e->prev_hash, vc->prev, FL_HASH_LEN) != 0) {
		v->ok = false;
		v->bad_seq = e->seq;
		snprintf(v->problem, sizeof(v->problem),
		         "entry %lld does not follow the entry before it",
		         (long long)e->seq);
		return FL_OK;
	}
	fl_audit_hash(e, h);
	if (fl_ct_memcmp(h, e->hash, FL_HASH_LEN) != 0) {
		v->ok = false;
		v->bad_seq = e->seq;
		snprintf(v->problem, sizeof(v->problem),
		         "entry %lld was changed (its hash does not match)",
		         (long long)e->seq);
		return FL_OK;
	}
	memcpy(vc->prev, e->hash, FL_HASH_LEN);
	v->head_seq = e->seq;
	memcpy(v->head_hash, e->hash, FL_HASH_LEN);
	vc->expect++;
	return FL_OK;
}

fl_err fl_audit_verify(struct fl_tx *tx, const char *chain,
                       struct fl_audit_verdict *v)
{
	struct verify_ctx vc;
	struct fl_audit_signed_head *sh = NULL;
	fl_err err;

	memset(v, 0, sizeof(*v));
	memset(&vc, 0, sizeof(vc));
	v->ok = true;
	vc.v = v;
	vc.expect = 1;
	err = fl_store_audit_list(tx, chain, 0, -1, NULL, verify_one, &vc);
	if (err != FL_OK)
		goto out;
	sh = calloc(1, sizeof(*sh));
	if (sh == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	err = fl_store_audit_head_latest(tx, chain, sh);
	if (err == FL_E_NOT_FOUND) {
		err = FL_OK;
		goto out;
	}
	if (err != FL_OK)
		goto out;
	v->signed_seq = sh->seq;
	if (!v->ok)
		goto out;
	if (v->head_seq < sh->seq) {
		v->ok = false;
		v->bad_seq = v->head_seq + 1;
		snprintf(v->problem, sizeof(v->problem),
		         "entries after %lld are missing: a signed head "
		         "covers %lld",
		         (long long)v->head_seq, (long long)sh->seq);
		goto out;
	}
	/* The entry the signed head names must still carry that hash. Walk
	 * again only up to it when the chain has grown since. */
	if (v->head_seq == sh->seq) {
		if (fl_ct_memcmp(v->head_hash, sh->hash, FL_HASH_LEN) != 0) {
			v->ok = false;
			v->bad_seq = sh->seq;
			snprintf(v->problem, sizeof(v->problem),
			         "entry %lld differs from the signed head",
			         (long long)sh->seq);
		}
	} else {
		struct verify_ctx one = {0};
		struct fl_audit_verdict tmp;

		memset(&tmp, 0, sizeof(tmp));
		tmp.ok = true;
		one.v = &tmp;
		one.expect = 1;
		err = fl_store_audit_list(tx, chain, 0, (int)sh->seq, NULL,
		                          verify_one, &one);
		if (err != FL_OK)
			goto out;
		if (fl_ct_memcmp(tmp.head_hash, sh->hash, FL_HASH_LEN) != 0) {
			v->ok = false;
			v->bad_seq = sh->seq;
			snprintf(v->problem, sizeof(v->problem),
			         "entry %lld differs from the signed head",
			         (long long)sh->seq);
		}
	}
out:
	free(sh);
	return err;
}

json_t *fl_audit_entry_json(const struct fl_audit_entry *e)
{
	char prev[2 * FL_HASH_LEN + 1], hash[2 * FL_HASH_LEN + 1];
	json_t *before = NULL, *after = NULL;

	fl_hex_encode(prev, e->prev_hash, FL_HASH_LEN);
	fl_hex_encode(hash, e->hash, FL_HASH_LEN);
	if (e->before[0] != '\0')
		before = json_loads(e->before, JSON_DECODE_ANY, NULL);
	if (e->after[0] != '\0')
		after = json_loads(e->after, JSON_DECODE_ANY, NULL);
	if (before == NULL && e->before[0] != '\0')
		before = json_string(e->before);
	if (after == NULL && e->after[0] != '\0')
		after = json_string(e->after);
	return json_pack("{s:s,s:I,s:o,s:s,s:s,s:s,s:o,s:o,s:s,s:s}", "chain",
	                 e->chain, "seq", (json_int_t)e->seq, "at",
	                 fl_json_time(e->at), "actor", e->actor, "action",
	                 e->action, "target", e->target, "before",
	                 before != NULL ? before : json_null(), "after",
	                 after != NULL ? after : json_null(), "prev_hash", prev,
	                 "hash", hash);
}

json_t *fl_audit_head_json(const struct fl_audit_signed_head *h)
{
	char hash[2 * FL_HASH_LEN + 1];

	fl_hex_encode(hash, h->hash, FL_HASH_LEN);
	return json_pack("{s:s,s:I,s:s,s:o,s:s}", "chain", h->chain, "seq",
	                 (json_int_t)h->seq, "hash", hash, "signed_at",
	                 fl_json_time(h->signed_at), "token", h->token);
}

/* Appends one line to DATA/audit-heads.jsonl and fsyncs it. */
static fl_err export_head(const char *dir, const struct fl_audit_signed_head *h)
{
	char path[4200];
	json_t *j = fl_audit_head_json(h);
	char *line = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	fl_err err = FL_OK;
	int fd = -1;

	json_decref(j);
	if (line == NULL)
		return FL_E_NOMEM;
	if ((err = fl_files_join(path, sizeof(path), dir,
	                         "audit-heads.jsonl")) != FL_OK)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line) ||
	    write(fd, "\n", 1) != 1 || fsync(fd) != 0)
		err = FL_E_IO;
out:
	if (fd >= 0)
		close(fd);
	free(line);
	return err;
}

/* Signs chain's head inside tx (the chain locked first) and exports it. */
static fl_err sign_in(struct fl_tx *tx, struct fl_app *app, const char *chain,
                      fl_time now, struct fl_audit_signed_head *out)
{
	char hash[2 * FL_HASH_LEN + 1];
	json_t *payload = NULL;
	char *text = NULL, *token = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	if (strlen(chain) >= sizeof(out->chain))
		return FL_E_TOO_LARGE;
	if ((err = fl_store_lock_chain(tx, chain)) != FL_OK ||
	    (err = fl_store_audit_head(tx, chain, &out->seq, out->hash)) !=
	            FL_OK)
		goto out;
	strcpy(out->chain, chain);
	out->signed_at = now;
	fl_hex_encode(hash, out->hash, FL_HASH_LEN);
	payload = json_pack("{s:s,s:I,s:s,s:o}", "chain", chain, "seq",
	                    (json_int_t)out->seq, "hash", hash, "at",
	                    fl_json_time(now));
	text = payload != NULL ? json_dumps(payload, JSON_COMPACT) : NULL;
	if (text == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	err = fl_signkeys_sign(app->keys, FL_MSG_AUDIT_HEAD, text, strlen(text),
	                       now, &token, NULL);
	if (err != FL_OK)
		goto out;
	if (strlen(token) >= sizeof(out->token)) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	strcpy(out->token, token);
	if ((err = fl_store_audit_head_save(tx, out)) != FL_OK)
		goto out;
	/* Exported before the commit: a head in the file that the store
	 * lost would still be caught by comparing the two. (An attempt
	 * the store gives up leaves its line too: a true head, signed.) */
	err = export_head(app->cfg.data_dir, out);
out:
	free(token);
	free(text);
	json_decref(payload);
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	return err;
}

struct sign_io {
	struct fl_app *app;
	const char *chain;
	struct fl_audit_signed_head *out;
};

static fl_err sign_fn(struct fl_tx *tx, void *arg, fl_time now)
{
	struct sign_io *io = arg;

	return sign_in(tx, io->app, io->chain, now, io->out);
}

fl_err fl_audit_sign_head(struct fl_app *app, const char *chain, fl_time now,
                          struct fl_audit_signed_head *out)
{
	struct sign_io io = {app, chain, out};
	fl_err err = fl_run(app->store, now, 0, sign_fn, &io, NULL);

	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	return err;
}

struct chain_list {
	char (*names)[FL_ID_MAX];
	size_t n, cap;
};

static fl_err add_chain(void *ctx, const char *chain)
{
	struct chain_list *cl = ctx;

	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 16;
		void *nn = realloc(cl->names, cap * sizeof(*cl->names));

		if (nn == NULL)
			return FL_E_NOMEM;
		cl->names = nn;
		cl->cap = cap;
	}
	snprintf(cl->names[cl->n++], FL_ID_MAX, "%s", chain);
	return FL_OK;
}

fl_err fl_audit_chain_names(struct fl_tx *tx, char (**names)[FL_ID_MAX],
                            size_t *n)
{
	struct chain_list cl = {0};
	fl_err err = fl_store_audit_chains(tx, add_chain, &cl);

	if (err != FL_OK) {
		free(cl.names);
		cl.names = NULL;
		cl.n = 0;
	}
	*names = cl.names;
	*n = cl.n;
	return err;
}

struct sign_all_io {
	struct fl_app *app;
	struct fl_audit_signed_head *last, *h;
	int n;    /* heads signed */
	bool mine; /* this process holds the job */
};

/* Signs every chain that grew, in one transaction that holds the job
 * FL_AUDIT_JOB_HEADS: another process signing meanwhile makes this one
 * skip the round. */
static fl_err sign_all_fn(struct fl_tx *tx, void *arg, fl_time now)
{
	struct sign_all_io *io = arg;
	struct chain_list cl = {0};
	uint8_t hash[FL_HASH_LEN];
	int64_t seq;
	fl_err err;

	io->n = 0;
	if ((err = fl_store_job_claim(tx, FL_AUDIT_JOB_HEADS, &io->mine)) !=
	            FL_OK ||
	    !io->mine)
		return err;
	if ((err = fl_audit_chain_names(tx, &cl.names, &cl.n)) != FL_OK)
		return err;
	for (size_t i = 0; i < cl.n; i++) {
		err = fl_store_audit_head(tx, cl.names[i], &seq, hash);
		if (err == FL_OK) {
			err = fl_store_audit_head_latest(tx, cl.names[i],
			                                 io->last);
			if (err == FL_E_NOT_FOUND) {
				io->last->seq = 0;
				err = FL_OK;
			}
		}
		if (err != FL_OK)
			break;
		if (seq <= io->last->seq)
			continue;
		if ((err = sign_in(tx, io->app, cl.names[i], now, io->h)) !=
		    FL_OK)
			break;
		io->n++;
	}
	free(cl.names);
	return err;
}

fl_err fl_audit_sign_all(struct fl_app *app, fl_time now, int *n)
{
	struct sign_all_io io = {app, NULL, NULL, 0, false};
	fl_err err;

	if (n != NULL)
		*n = 0;
	io.last = calloc(1, sizeof(*io.last));
	io.h = calloc(1, sizeof(*io.h));
	if (io.last == NULL || io.h == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	err = fl_run(app->store, now, 0, sign_all_fn, &io, NULL);
	if (err == FL_OK && n != NULL)
		*n = io.n;
out:
	free(io.last);
	free(io.h);
	return err;
}
