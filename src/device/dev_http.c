/*
 * dev_http.c - libcurl transport for the simulated phone (dev_http.h).
 */
#include "device/dev_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_S 30
#define CONNECT_TIMEOUT_S 10
#define HEADER_MAX        1024 /* one request header line */

struct dev_http {
	CURL *curl; /* kept between requests: its connection is reused */
	dev_http_abort_fn abort_fn;
	void *abort_ctx;
};

/* The answer body as it arrives. */
struct body {
	char *buf;
	size_t len, cap, max;
	bool too_large;
};

fl_err dev_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK
	               ? FL_OK
	               : FL_E_INTERNAL;
}

fl_err dev_http_new(struct dev_http **out)
{
	struct dev_http *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return FL_E_NOMEM;
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		free(c);
		return FL_E_NOMEM;
	}
	*out = c;
	return FL_OK;
}

void dev_http_free(struct dev_http *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

void dev_http_set_abort(struct dev_http *c, dev_http_abort_fn fn, void *ctx)
{
	c->abort_fn = fn;
	c->abort_ctx = ctx;
}

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t len = size * n;

	if (len > b->max - b->len) {
		b->too_large = true;
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *nb;

		while (cap < b->len + len + 1)
			cap *= 2;
		nb = realloc(b->buf, cap);
		if (nb == NULL)
			return 0;
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->buf[b->len] = '\0';
	return len;
}

struct progress {
	struct dev_http *c;
	bool aborted;
};

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
	struct progress *p = ctx;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (p->c->abort_fn != NULL && p->c->abort_fn(p->c->abort_ctx)) {
		p->aborted = true;
		return 1;
	}
	return 0;
}

/* Adds "name: value" to *list; FL_E_INVALID for a line break inside. */
static fl_err add_header(struct curl_slist **list, const char *name,
                         const char *value)
{
	char line[HEADER_MAX];
	struct curl_slist *n;
	int len = snprintf(line, sizeof(line), "%s: %s", name, value);

	if (len < 0 || len >= (int)sizeof(line) || strpbrk(line, "\r\n"))
		return FL_E_INVALID;
	n = curl_slist_append(*list, line);
	if (n == NULL)
		return FL_E_NOMEM;
	*list = n;
	return FL_OK;
}

static fl_err build_url(char **out, const char *base, const char *path)
{
	size_t blen = strlen(base);
	char *url;

	*out = NULL;
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	if (path[0] != '/')
		return FL_E_INVALID;
	url = malloc(blen + strlen(path) + 1);
	if (url == NULL)
		return FL_E_NOMEM;
	memcpy(url, base, blen);
	strcpy(url + blen, path);
	*out = url;
	return FL_OK;
}

fl_err dev_http_send(struct dev_http *c, const char *base_url,
                     const struct fl_hal_request *req,
                     struct fl_hal_response *resp, bool *aborted)
{
	struct curl_slist *hdrs = NULL;
	struct body b = {0};
	struct progress prog = {c, false};
	long timeout =
	        req->timeout_s ? (long)req->timeout_s : DEFAULT_TIMEOUT_S;
	long status = 0;
	char *url = NULL;
	bool post;
	CURL *h = c->curl;
	CURLcode rc;
	fl_err err;

	memset(resp, 0, sizeof(*resp));
	*aborted = false;
	post = strcmp(req->method, "POST") == 0;
	if (!post && strcmp(req->method, "GET") != 0)
		return FL_E_INVALID;
	b.max = req->max_body ? req->max_body : (size_t)1 << 20;
	err = build_url(&url, base_url, req->path);
	if (err)
		goto out;
	for (size_t i = 0; i < req->n_headers && !err; i++)
		err = add_header(&hdrs, req->headers[i].name,
		                 req->headers[i].value);
	if (!err)
		err = add_header(&hdrs, "Accept", "application/json");
	if (!err)
		err = add_header(&hdrs, "User-Agent", "finlock-device");
	if (!err && post)
		err = add_header(&hdrs, "Content-Type", "application/json");
	if (!err) {
		/* no "Expect: 100-continue" round trip */
		struct curl_slist *n = curl_slist_append(hdrs, "Expect:");
		if (n == NULL)
			err = FL_E_NOMEM;
		else
			hdrs = n;
	}
	if (err)
		goto out;

	/* reset keeps the live connection, so the next request reuses it */
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
	                 timeout < CONNECT_TIMEOUT_S ? timeout
	                                             : (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b.max);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &prog);
	if (post) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)req->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
		                 req->body != NULL ? req->body : "");
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	rc = curl_easy_perform(h);
	/* the handle must not keep pointers to this call's memory */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	if (rc != CURLE_OK) {
		if (prog.aborted) {
			*aborted = true;
			err = FL_E_STATE;
		} else if (b.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
			err = FL_E_TOO_LARGE;
		} else {
			err = FL_E_NET;
		}
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 100 || status > 599) {
		err = FL_E_NET;
		goto out;
	}
	resp->status = (int)status;
	if (b.buf == NULL) {
		b.buf = malloc(1);
		if (b.buf == NULL) {
			err = FL_E_NOMEM;
			goto out;
		}
		b.buf[0] = '\0';
	}
	resp->body = b.buf;
	resp->body_len = b.len;
	b.buf = NULL;
out:
	if (err)
		memset(resp, 0, sizeof(*resp));
	free(b.buf);
	curl_slist_free_all(hdrs);
	free(url);
	return err;
}
