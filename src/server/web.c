/*
 * web.c - the buyer's IMEI check page and the compiled-in assets.
 *
 * GET /check answers the whole page; with ?imei= it also answers the
 * check, rendered by the server, so the page works with JavaScript off.
 * The result is one element carrying data-status: the public check's word
 * (no_record, financed, released, stolen), or invalid for an IMEI that
 * fails validation, rate_limited when the public limiter refused, error
 * when the store failed. With JavaScript on, web/check.js validates as the
 * buyer types and fetches this same page to show the answer without
 * reloading, so the words live in one place: here.
 */
#include "server/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/fltime.h"
#include "core/paserk.h"
#include "server/api.h"
#include "server/app.h"
#include "server/req.h"
#include "server/route.h"
#include "server/sessions.h"
#include "server/signkeys.h"

#define PAGE_MAX (256u * 1024) /* no page is larger */

static const char csp[] =
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "img-src 'self'; connect-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'";

/* --- assets and buffers --------------------------------------------------- */

const struct fl_web_asset *fl_web_asset_find(const char *name)
{
	for (size_t i = 0; i < fl_web_n_assets; i++)
		if (strcmp(fl_web_assets[i].name, name) == 0)
			return &fl_web_assets[i];
	return NULL;
}

const char *fl_web_content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	        {".html", "text/html; charset=utf-8"},
	        {".css", "text/css; charset=utf-8"},
	        {".js", "text/javascript; charset=utf-8"},
	        {".svg", "image/svg+xml"},
	};
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t e = strlen(types[i].ext);

		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

static void put_n(struct fl_web_buf *b, const char *s, size_t n)
{
	if (b->failed || n == 0)
		return;
	if (b->len + n + 1 > b->max) {
		b->failed = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void fl_web_put(struct fl_web_buf *b, const char *s)
{
	put_n(b, s, strlen(s));
}

void fl_web_text(struct fl_web_buf *b, const char *s)
{
	while (*s != '\0') {
		size_t plain = strcspn(s, "&<>\"'");

		put_n(b, s, plain);
		s += plain;
		switch (*s) {
		case '&':
			fl_web_put(b, "&amp;");
			break;
		case '<':
			fl_web_put(b, "&lt;");
			break;
		case '>':
			fl_web_put(b, "&gt;");
			break;
		case '"':
			fl_web_put(b, "&quot;");
			break;
		case '\'':
			fl_web_put(b, "&#39;");
			break;
		default:
			return;
		}
		s++;
	}
}

static const char *var(const char *const *vars, const char *name, size_t n)
{
	for (size_t i = 0; vars != NULL && vars[i] != NULL; i += 2)
		if (strlen(vars[i]) == n && strncmp(vars[i], name, n) == 0)
			return vars[i + 1] != NULL ? vars[i + 1] : "";
	return "";
}

void fl_web_fill(struct fl_web_buf *b, const char *tmpl,
                 const char *const *vars)
{
	const char *s = tmpl;

	for (;;) {
		const char *open = strstr(s, "{{"), *close;
		bool raw;

		if (open == NULL) {
			fl_web_put(b, s);
			return;
		}
		put_n(b, s, (size_t)(open - s));
		raw = open[2] == '{';
		close = strstr(open, raw ? "}}}" : "}}");
		if (close == NULL) {
			fl_web_put(b, open);
			return;
		}
		const char *name = open + (raw ? 3 : 2);
		const char *value = var(vars, name, (size_t)(close - name));

		if (raw)
			fl_web_put(b, value);
		else
			fl_web_text(b, value);
		s = close + (raw ? 3 : 2);
	}
}

void fl_web_security_headers(struct fl_req *req)
{
	fl_reply_header(req, "Content-Security-Policy", csp);
	fl_reply_header(req, "X-Content-Type-Options", "nosniff");
	fl_reply_header(req, "Referrer-Policy", "no-referrer");
}

void fl_web_page(struct fl_req *req, int status, const char *page,
                 const char *const *vars)
{
	const struct fl_web_asset *a = fl_web_asset_find(page);
	struct fl_web_buf b = {.max = PAGE_MAX};

	if (a == NULL) {
		fl_reply_error(req, FL_E_INTERNAL, "page %s is missing", page);
		return;
	}
	fl_web_fill(&b, (const char *)a->data, vars);
	if (b.failed || b.p == NULL) {
		free(b.p);
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	fl_web_security_headers(req);
	fl_reply_raw(req, status, fl_web_content_type(page), b.p, b.len);
}

/* GET /assets/{file}: the scripts, styles and images (never the page
 * templates), revalidated by ETag after an hour. */
static void asset(struct fl_req *req)
{
	const char *name = fl_req_param(req, "file");
	const struct fl_web_asset *a = fl_web_asset_find(name);
	const char *inm = fl_req_header(req, "If-None-Match");
	char *body;

	if (a == NULL || strcmp(fl_web_content_type(name),
	                        fl_web_content_type("x.html")) == 0) {
		fl_reply_error(req, FL_E_NOT_FOUND, "no such asset: %s", name);
		return;
	}
	fl_web_security_headers(req);
	fl_reply_header(req, "Cache-Control", "public, max-age=3600");
	fl_reply_header(req, "ETag", a->etag);
	if (inm != NULL && strstr(inm, a->etag) != NULL) {
		fl_reply_raw(req, 304, NULL, NULL, 0);
		return;
	}
	body = malloc(a->len + 1);
	if (body == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	memcpy(body, a->data, a->len + 1);
	fl_reply_raw(req, 200, fl_web_content_type(name), body, a->len);
}

/* --- the buyer's page ----------------------------------------------------- */

struct verdict {
	const char *status, *title, *advice;
};

static const struct verdict verdicts[] = {
        {"no_record", "No financing on record",
         "This phone is not in any financing plan known here. Check that "
         "the IMEI you typed is the one the phone shows when you dial "
         "*#06#."},
        {"financed", "This phone is still being paid for",
         "It is part of a financing plan that is not settled yet, and it "
         "can be locked if payments stop. Do not buy it until the seller "
         "settles with the lender; once the plan is paid off, this page "
         "will say \"released\"."},
        {"released", "Paid off and released",
         "This phone's financing is complete and the lender has released "
         "it: it will not be locked for this plan."},
        {"stolen", "Reported stolen",
         "This phone has been reported stolen. Do not buy it."},
};

static void answer_open(struct fl_web_buf *b, const char *status,
                        const char *title)
{
	fl_web_put(b, "<div class=\"answer answer-");
	fl_web_put(b, status);
	fl_web_put(b, "\" data-status=\"");
	fl_web_put(b, status);
	fl_web_put(b, "\"><h2>");
	fl_web_text(b, title);
	fl_web_put(b, "</h2>");
}

static void para(struct fl_web_buf *b, const char *cls, const char *text)
{
	fl_web_put(b, cls != NULL ? "<p class=\"" : "<p>");
	if (cls != NULL) {
		fl_web_put(b, cls);
		fl_web_put(b, "\">");
	}
	fl_web_text(b, text);
	fl_web_put(b, "</p>");
}

static void render_status(struct fl_web_buf *b, const struct fl_imei_status *s,
                          fl_time now)
{
	char at[FL_TIME_STR_LEN], line[160];
	const struct verdict *v = &verdicts[0];

	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		if (strcmp(verdicts[i].status, s->status) == 0)
			v = &verdicts[i];
	answer_open(b, v->status, v->title);
	para(b, NULL, v->advice);
	if (s->lender) {
		fl_web_put(b, "<dl class=\"lender\"><dt>Lender</dt><dd>");
		fl_web_text(b, s->lender_name);
		fl_web_put(b, "</dd>");
		if (s->contact_name[0] != '\0') {
			fl_web_put(b, "<dt>Contact</dt><dd>");
			fl_web_text(b, s->contact_name);
			fl_web_put(b, "</dd>");
		}
		for (size_t i = 0; i < s->n_phones; i++) {
			fl_web_put(b, "<dt>Phone</dt><dd>");
			fl_web_text(b, s->phones[i]);
			fl_web_put(b, "</dd>");
		}
		fl_web_put(b, "</dl>");
	}
	fl_time_format(now, at);
	snprintf(line, sizeof(line), "IMEI %s, checked %s", s->imei, at);
	para(b, "meta", line);
	fl_web_put(b, "<p><a class=\"button\" href=\"/v1/imei/");
	fl_web_put(b, s->imei);
	fl_web_put(b, "/certificate\" download=\"finlock-certificate-");
	fl_web_put(b, s->imei);
	fl_web_put(b, ".json\">Download the signed certificate</a></p></div>");
}

static bool is_imei_error(fl_err err)
{
	return err == FL_E_IMEI_LENGTH || err == FL_E_IMEI_DIGITS ||
	       err == FL_E_IMEI_CHECK || err == FL_E_IMEI_IMEISV;
}

/* GET /check[?imei=...&serial=...] */
static void check_page(struct fl_req *req)
{
	const char *imei = fl_req_query(req, "imei");
	const char *serial = fl_req_query(req, "serial");
	char root[FL_PASERK_PUBLIC_SIZE] = "";
	struct fl_web_buf b = {.max = PAGE_MAX};
	struct fl_imei_status s;
	int status = 200, retry = 0;
	fl_err err;

	if (serial != NULL && serial[0] == '\0')
		serial = NULL;
	if (fl_signkeys_root(req->app->keys, root) != FL_OK)
		snprintf(root, sizeof(root), "(none yet)");
	if (imei == NULL || imei[0] == '\0') {
		imei = "";
	} else if (!fl_api_rate_take(req, req->app->public_rl, &retry)) {
		char text[160], secs[16];

		status = 429;
		snprintf(secs, sizeof(secs), "%d", retry);
		fl_reply_header(req, "Retry-After", secs);
		snprintf(text, sizeof(text),
		         "Many checks have come from your network just now. "
		         "Please wait %d second%s and try again.",
		         retry, retry == 1 ? "" : "s");
		answer_open(&b, "rate_limited", "Please wait a moment");
		para(&b, NULL, text);
		fl_web_put(&b, "</div>");
	} else if ((err = fl_api_imei_status(req->app, imei, serial, &s)) ==
	           FL_OK) {
		render_status(&b, &s, req->now);
	} else if (is_imei_error(err)) {
		status = 400;
		answer_open(&b, "invalid", "This is not a valid IMEI");
		para(&b, NULL, fl_strerror(err));
		para(&b, NULL,
		     "Dial *#06# on the phone: it shows its IMEI (15 digits).");
		fl_web_put(&b, "</div>");
	} else {
		status = 503;
		answer_open(&b, "error", "The check is not available now");
		para(&b, NULL, "Please try again in a few minutes.");
		fl_web_put(&b, "</div>");
	}
	if (b.failed) {
		free(b.p);
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	const char *vars[] = {"imei",   imei,
	                      "serial", serial != NULL ? serial : "",
	                      "result", b.p != NULL ? b.p : "",
	                      "root",   root,
	                      NULL};
	fl_web_page(req, status, "check.html", vars);
	free(b.p);
}

/* --- the console ---------------------------------------------------------- */

/* GET /: the console's page. It holds no data: web/console.js signs in
 * and fills it from the /v1 API with the session. */
static void console_page(struct fl_req *req)
{
	const char *vars[] = {"session",
	                      fl_session_active(req) ? "yes" : "no", NULL};

	fl_web_page(req, 200, "console.html", vars);
}

static const struct fl_route routes[] = {
        {"GET", "/", console_page, FL_AUTH_NONE},
        {"GET", "/check", check_page, FL_AUTH_NONE},
        {"GET", "/assets/{file}", asset, FL_AUTH_NONE},
};

const struct fl_route_table fl_routes_web = FL_ROUTE_TABLE(routes);
