/*
 * http.c - libmicrohttpd in thread-pool mode with epoll.
 *
 * Request life (one struct conn per request, in MHD's con_cls):
 *
 *   1st access call   headers are in: check their size and Content-Length;
 *                     a request over a limit is answered here (and the
 *                     connection closed). Otherwise return MHD_YES WITHOUT
 *                     queueing: libmicrohttpd 0.9.75 answers every response
 *                     queued on the first call with Connection: close.
 *   body calls        append to the capped body buffer.
 *   last call         (*upload_data_size == 0) dispatch to the router and
 *                     queue the answer.
 *   completed         log one line, count metrics, free.
 *
 * Limits: total header bytes (max_header), body bytes (max_body), client
 * inactivity and the whole upload (request_timeout), complete headers
 * (header_timeout) and connections (max_connections). guard.h follows
 * every connection from accept to close for the deadlines and the cap on
 * connections per address that have not sent their headers yet.
 *
 * Errors libmicrohttpd answers itself, before any handler runs, have its
 * own HTML bodies (docs/server.md "Limits" lists them): headers or a URL
 * beyond the connection's memory pool (max_header + 8 KiB), a malformed
 * request line or Content-Length.
 */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "server/app.h"
#include "server/files.h"
#include "server/guard.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/netaddr.h"
#include "server/push.h"
#include "server/router.h"
#include "store/store.h"

struct fl_http {
	struct MHD_Daemon *d; /* the daemon */
	struct fl_app *app;   /* handed to every request */
	int listen_fd;        /* ours until quiesced */
	unsigned port;        /* bound port */
	char address[128];    /* "127.0.0.1:8080" */
	atomic_uint inflight; /* requests between 1st call and completion */
	atomic_uint_fast64_t next_id; /* request numbers */
	char *tls_cert;               /* PEM, owned */
	char *tls_key;                /* PEM, owned; wiped on stop */
	struct fl_guard *guard;       /* deadlines and the pending cap */
	struct fl_cidr trusted[FL_NET_MAX_CIDRS]; /* trusted_proxies */
	size_t n_trusted;
};

struct conn {
	struct fl_req req; /* what handlers see */
	struct fl_http *h;
	char *body; /* accumulated body, NUL-terminated */
	size_t len, cap;
	size_t discarded;      /* bytes dropped after the body overflowed */
	bool too_large;        /* body went over max_body */
	bool answered;         /* a response is queued */
	struct timespec start; /* headers complete */
	struct fl_guard_conn *gc; /* the connection's guard entry, or NULL */
};

/* --- what the layers above reach of a connection (req.h) ------------------ */

static const char *mhd_value(void *conn, enum fl_req_kind kind,
                             const char *name)
{
	enum MHD_ValueKind k = kind == FL_REQ_HEADER   ? MHD_HEADER_KIND
	                       : kind == FL_REQ_COOKIE ? MHD_COOKIE_KIND
	                                               : MHD_GET_ARGUMENT_KIND;

	return MHD_lookup_connection_value(conn, k, name);
}

struct query_each {
	bool (*fn)(void *ctx, const char *key);
	void *ctx;
};

static enum MHD_Result query_each_iter(void *cls, enum MHD_ValueKind kind,
                                       const char *key, const char *value)
{
	struct query_each *q = cls;

	(void)kind;
	(void)value;
	return q->fn(q->ctx, key) ? MHD_YES : MHD_NO;
}

static void mhd_each_query(void *conn, bool (*fn)(void *ctx, const char *key),
                           void *ctx)
{
	struct query_each q = {.fn = fn, .ctx = ctx};

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_each_iter,
	                          &q);
}

static void mhd_suspend(void *conn)
{
	MHD_suspend_connection(conn);
}

static void mhd_resume(void *conn)
{
	MHD_resume_connection(conn);
}

static const struct fl_req_io mhd_io = {
        .value = mhd_value,
        .each_query = mhd_each_query,
        .suspend = mhd_suspend,
        .resume = mhd_resume,
};

/* How paths are written to the request log (fl_http_set_log_path). */
static fl_http_log_path_fn *log_path_fn;

void fl_http_set_log_path(fl_http_log_path_fn *fn)
{
	log_path_fn = fn;
}

static void log_path(const char *path, char *out, size_t cap)
{
	if (log_path_fn != NULL)
		log_path_fn(path, out, cap);
	else
		snprintf(out, cap, "%s", path);
}

/* --- the access handler --------------------------------------------------- */

static enum MHD_Result header_size_iter(void *cls, enum MHD_ValueKind kind,
                                        const char *key, const char *value)
{
	size_t *total = cls;

	(void)kind;
	*total += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* Every X-Forwarded-For header, joined with commas in order. */
struct xff_join {
	char buf[4096];
	size_t len;
	bool over; /* did not fit: the header is not believed */
};

static enum MHD_Result xff_iter(void *cls, enum MHD_ValueKind kind,
                                const char *key, const char *value)
{
	struct xff_join *x = cls;
	size_t n = value != NULL ? strlen(value) : 0;

	(void)kind;
	if (strcasecmp(key, "X-Forwarded-For") != 0)
		return MHD_YES;
	if (x->len + n + 2 > sizeof(x->buf)) {
		x->over = true;
		return MHD_NO;
	}
	if (x->len > 0)
		x->buf[x->len++] = ',';
	memcpy(x->buf + x->len, value, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return MHD_YES;
}

/* The client: the TCP peer, or, when the peer is a trusted proxy, the
 * address its X-Forwarded-For names (netaddr.h). */
static void client_of(struct fl_http *h, struct MHD_Connection *mc,
                      struct fl_req *req)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
	uint8_t peer[16], client[16];
	struct sockaddr_in6 in6;
	struct xff_join *x;

	if (h->n_trusted == 0 || !fl_net_from_sockaddr(sa, peer) ||
	    !fl_net_in(h->trusted, h->n_trusted, peer) ||
	    (x = calloc(1, sizeof(*x))) == NULL) {
		fl_net_client(sa, req->client, sizeof(req->client),
		              req->client_net);
		return;
	}
	MHD_get_connection_values(mc, MHD_HEADER_KIND, xff_iter, x);
	fl_net_forwarded_client(peer, x->over ? NULL : x->buf, h->trusted,
	                        h->n_trusted, client);
	free(x);
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	memcpy(in6.sin6_addr.s6_addr, client, 16);
	fl_net_client((const struct sockaddr *)&in6, req->client,
	              sizeof(req->client), req->client_net);
	/* an IPv4 client reads as one, not as ::ffff:a.b.c.d */
	if (req->client_net[15] == 4)
		inet_ntop(AF_INET, client + 12, req->client,
		          sizeof(req->client));
}

/* The guard entry of a connection (its socket context). */
static struct fl_guard_conn *guard_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

static bool has_header(const struct fl_req *req, const char *name)
{
	for (size_t i = 0; i < req->n_hdrs; i++)
		if (strcasecmp(req->hdr_name[i], name) == 0)
			return true;
	return false;
}

static enum MHD_Result queue(struct MHD_Connection *mc, struct conn *c)
{
	struct fl_req *req = &c->req;
	struct MHD_Response *resp;
	enum MHD_Result rc;
	char rid[24];

	if (req->resp != NULL) {
		resp = MHD_create_response_from_buffer(req->resp_len, req->resp,
		                                       MHD_RESPMEM_MUST_FREE);
		if (resp != NULL)
			req->resp = NULL; /* MHD frees it now */
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"",
		                                       MHD_RESPMEM_PERSISTENT);
	}
	if (resp == NULL)
		return MHD_NO;
	if (req->ctype != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		                        req->ctype);
	if (!has_header(req, MHD_HTTP_HEADER_CACHE_CONTROL))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
		                        "no-store");
	snprintf(rid, sizeof(rid), "%llu", (unsigned long long)req->id);
	MHD_add_response_header(resp, "X-Request-Id", rid);
	for (size_t i = 0; i < req->n_hdrs; i++)
		MHD_add_response_header(resp, req->hdr_name[i],
		                        req->hdr_value[i]);
	/* Every 503 says when to come back (the database is away or busy,
	 * or too many phones wait), whichever route answered it. */
	if (req->status == 503 && !has_header(req, "Retry-After"))
		MHD_add_response_header(resp, "Retry-After",
		                        FL_HTTP_RETRY_AFTER);
	/* answering: the body deadline no longer applies (the result only
	 * matters to the callers that asked before) */
	(void)fl_guard_body(c->gc, true);
	rc = MHD_queue_response(mc, (unsigned)req->status, resp);
	MHD_destroy_response(resp);
	c->answered = true;
	return rc;
}

/* Answers a request whose body did not arrive within request_timeout. */
static enum MHD_Result late(struct MHD_Connection *mc, struct conn *c)
{
	fl_log(FL_LOG_WARN, "request body too slow",
	       json_pack("{s:I,s:s,s:i}", "id", (json_int_t)c->req.id,
	                 "client", c->req.client, "status", 408));
	fl_reply_error(&c->req, FL_E_REQUEST_TIMEOUT,
	               "request body not received within %d s",
	               c->h->app->cfg.request_timeout);
	return queue(mc, c);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *mc,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
	struct fl_http *h = cls;
	struct conn *c = *con_cls;
	const struct fl_config *cfg = &h->app->cfg;

	(void)version;
	if (c == NULL) {
		size_t hdr_total = strlen(url) + strlen(method);
		const char *cl;

		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return MHD_NO;
		*con_cls = c;
		atomic_fetch_add(&h->inflight, 1);
		clock_gettime(CLOCK_MONOTONIC, &c->start);
		c->h = h;
		c->gc = guard_of(mc);
		c->req.app = h->app;
		c->req.io = &mhd_io;
		c->req.conn = mc;
		c->req.method = method;
		c->req.path = url;
		c->req.now = fl_clock_now(&c->req.app->clock);
		c->req.id = atomic_fetch_add(&h->next_id, 1) + 1;
		client_of(h, mc, &c->req);
		fl_guard_headers(c->gc, c->req.id, c->req.client);
		/* libmicrohttpd decodes %00 to a NUL that would cut the
		 * value short without a word: refuse it */
		if (fl_guard_take_nul(c->gc)) {
			fl_reply_error(&c->req, FL_E_INVALID,
			               "the path or query contains an encoded "
			               "NUL (%%00)");
			return queue(mc, c);
		}

		MHD_get_connection_values(mc, MHD_HEADER_KIND, header_size_iter,
		                          &hdr_total);
		if (hdr_total > cfg->max_header) {
			fl_reply_error(&c->req, FL_E_HEADERS_TOO_LARGE,
			               "request headers exceed %zu bytes",
			               cfg->max_header);
			return queue(mc, c);
		}
		cl = MHD_lookup_connection_value(
		        mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		/* libmicrohttpd has already refused a Content-Length that is
		 * not decimal digits or overflows 64 bits */
		if (cl != NULL && strtoull(cl, NULL, 10) > cfg->max_body) {
			fl_reply_error(&c->req, FL_E_TOO_LARGE,
			               "request body exceeds %zu bytes",
			               cfg->max_body);
			return queue(mc, c);
		}
		return MHD_YES;
	}
	if (c->answered) {
		/* Answered early (over a limit): drop what still comes. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		enum fl_guard_step step = fl_guard_body(c->gc, false);

		*upload_data_size = 0;
		/* request_timeout bounds the whole upload from the end of
		 * the headers, so a body dripped a byte at a time cannot hold
		 * a connection for ever; one that stops short is answered by
		 * the guard's reaper. */
		if (step == FL_GUARD_GONE)
			return MHD_NO;
		if (step == FL_GUARD_LATE)
			return late(mc, c);
		if (c->too_large || c->len + n > cfg->max_body) {
			c->too_large = true;
			c->discarded += n;
			/* A client that keeps streaming far past the limit
			 * is cut off rather than read to the end. */
			return c->discarded > 4 * cfg->max_body ? MHD_NO
			                                        : MHD_YES;
		}
		if (c->len + n + 1 > c->cap) {
			size_t cap = c->cap ? c->cap : 1024;
			char *nb;

			while (cap < c->len + n + 1)
				cap *= 2;
			if (cap > cfg->max_body + 1)
				cap = cfg->max_body + 1;
			nb = realloc(c->body, cap);
			if (nb == NULL)
				return MHD_NO;
			c->body = nb;
			c->cap = cap;
		}
		memcpy(c->body + c->len, upload_data, n);
		c->len += n;
		c->body[c->len] = '\0';
		return MHD_YES;
	}
	/* A parked request was resumed: run its handler again. */
	if (c->req.parked) {
		c->req.parked = false;
		c->req.resumed = true;
		c->req.now = fl_clock_now(&c->req.app->clock);
		fl_reply_reset(&c->req);
		fl_router_dispatch(&c->req);
		return c->req.parked ? MHD_YES : queue(mc, c);
	}
	/* The whole request is in. */
	switch (fl_guard_body(c->gc, true)) {
	case FL_GUARD_GONE:
		return MHD_NO;
	case FL_GUARD_LATE:
		return late(mc, c);
	case FL_GUARD_GO:
		break;
	}
	if (c->too_large) {
		fl_reply_error(&c->req, FL_E_TOO_LARGE,
		               "request body exceeds %zu bytes", cfg->max_body);
	} else {
		c->req.body = c->body != NULL ? c->body : "";
		c->req.body_len = c->len;
		if (strlen(c->req.body) != c->req.body_len)
			fl_reply_error(&c->req, FL_E_JSON,
			               "request body contains a NUL byte");
		else
			fl_router_dispatch(&c->req);
	}
	/* A parked handler answers when it is resumed. */
	return c->req.parked ? MHD_YES : queue(mc, c);
}

static void completed_cb(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct fl_http *h = cls;
	struct conn *c = *con_cls;
	struct timespec end;
	double secs;
	const char *route;
	char logpath[FL_PARAM_MAX * 4];

	(void)mc;
	if (c == NULL)
		return;
	*con_cls = NULL;
	if (c->req.parked && h->app->push != NULL)
		fl_push_forget(h->app->push, &c->req);
	clock_gettime(CLOCK_MONOTONIC, &end);
	secs = (double)(end.tv_sec - c->start.tv_sec) +
	       (double)(end.tv_nsec - c->start.tv_nsec) / 1e9;
	route = c->req.route != NULL ? c->req.route->pattern : "unmatched";
	/* the connection stays open for its next request (or closes) */
	fl_guard_idle(c->gc);
	if (c->answered) {
		/* a failure of the server itself is an error line, with the
		 * store's own message when the store failed */
		enum fl_log_level lvl =
		        c->req.status >= 500 ? FL_LOG_ERROR : FL_LOG_INFO;

		fl_metrics_request(h->app->metrics, c->req.method, route,
		                   c->req.status, secs);
		/* a callback URL's secret never reaches a log */
		if (fl_log_enabled(lvl))
			log_path(c->req.path, logpath, sizeof(logpath));
		if (fl_log_enabled(lvl))
			fl_log(lvl, "request",
			       json_pack(
			               "{s:I,s:s,s:s,s:s,s:i,s:f,s:s,s:s,s:s*,"
			               "s:b,s:s*}",
			               "id", (json_int_t)c->req.id, "method",
			               c->req.method, "path", logpath,
			               "route", route, "status", c->req.status,
			               "ms", secs * 1000.0, "client",
			               c->req.client, "key", c->req.who.key_id,
			               "error", c->req.err_code, "completed",
			               toe == MHD_REQUEST_TERMINATED_COMPLETED_OK,
			               "store_error",
			               c->req.store_error != NULL
			                       ? c->req.store_error
			                       : NULL));
	} else if (fl_guard_timed_out(c->gc)) {
		/* answered 408 by the guard: counted like any answer (its
		 * "request body too slow" line was logged then) */
		fl_metrics_request(h->app->metrics, c->req.method, route, 408,
		                   secs);
	} else {
		fl_log(FL_LOG_DEBUG, "request abandoned",
		       json_pack("{s:I,s:s,s:i}", "id", (json_int_t)c->req.id,
		                 "client", c->req.client, "reason", (int)toe));
	}
	fl_reply_reset(&c->req);
	fl_req_release(&c->req);
	free(c->body);
	free(c);
	atomic_fetch_sub(&h->inflight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	/* A client that left, or a connection the guard closed, is routine:
	 * a flood of them must not flood the log. */
	fl_log(strstr(buf, "closed") != NULL ? FL_LOG_DEBUG : FL_LOG_WARN,
	       "http", json_pack("{s:s}", "detail", buf));
}

/* --- the guard's hooks ---------------------------------------------------- */

static enum MHD_Result accept_cb(void *cls, const struct sockaddr *addr,
                                 socklen_t addrlen)
{
	struct fl_http *h = cls;

	(void)addrlen;
	return fl_guard_admit(h->guard, addr) ? MHD_YES : MHD_NO;
}

static void connection_cb(void *cls, struct MHD_Connection *mc,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct fl_http *h = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(
		        mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ca = MHD_get_connection_info(
		        mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		*socket_context =
		        fd != NULL && ca != NULL
		                ? fl_guard_open(h->guard, fd->connect_fd,
		                                ca->client_addr)
		                : NULL;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		fl_guard_close(*socket_context);
		*socket_context = NULL;
	}
}

/* libmicrohttpd's own decoding of the path and of every query key and
 * value, noting a "%00" first: decoded, it would end the string early. */
static size_t unescape_cb(void *cls, struct MHD_Connection *mc, char *s)
{
	(void)cls;
	if (strstr(s, "%00") != NULL)
		fl_guard_note_nul(guard_of(mc));
	return MHD_http_unescape(s);
}

/* --- listening ------------------------------------------------------------ */

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

static fl_err open_listener(struct fl_http *h, bool tls, bool proxy, bool *ipv6)
{
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	char host[128], port[16], text[INET6_ADDRSTRLEN];
	unsigned portnum = 0;
	int one = 1, fd = -1;
	fl_err err;

	if (fl_config_listen_split(h->app->cfg.listen, host, sizeof(host),
	                           &portnum) != FL_OK) {
		fl_logf(FL_LOG_ERROR, "bad listen address",
		        "expected HOST:PORT or [V6]:PORT with a port in "
		        "0..65535, got '%s'",
		        h->app->cfg.listen);
		return FL_E_CONFIG;
	}
	snprintf(port, sizeof(port), "%u", portnum);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL) {
		fl_logf(FL_LOG_ERROR, "bad listen address",
		        "cannot resolve '%s'", host);
		return FL_E_CONFIG;
	}
	if (!tls && !proxy && !is_loopback(ai->ai_addr)) {
		err = FL_E_TLS_REQUIRED;
		fl_logf(FL_LOG_ERROR, "refusing to start",
		        "%s is not a loopback address: give tls_cert and "
		        "tls_key, or --behind-tls-proxy if a TLS proxy "
		        "stands in front",
		        h->app->cfg.listen);
		goto out;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	            ai->ai_protocol);
	if (fd < 0) {
		err = FL_E_NET;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, 4096) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		fl_logf(FL_LOG_ERROR, "cannot listen", "%s: %s",
		        h->app->cfg.listen, strerror(errno));
		err = FL_E_NET;
		goto out;
	}
	if (bound.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (void *)&bound;

		h->port = ntohs(in6->sin6_port);
		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
		snprintf(h->address, sizeof(h->address), "[%s]:%u", text,
		         h->port);
		*ipv6 = true;
	} else {
		struct sockaddr_in *in = (void *)&bound;

		h->port = ntohs(in->sin_port);
		inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
		snprintf(h->address, sizeof(h->address), "%s:%u", text,
		         h->port);
		*ipv6 = false;
	}
	h->listen_fd = fd;
	fd = -1;
	err = FL_OK;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

static fl_err read_pem(const char *path, char **out)
{
	size_t cap = 1024 * 1024, n = 0;
	char *buf = malloc(cap + 1);
	fl_err err;

	*out = NULL;
	if (buf == NULL)
		return FL_E_NOMEM;
	err = fl_files_read(path, buf, cap, &n);
	if (err != FL_OK) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	return FL_OK;
}

fl_err fl_http_start(struct fl_http **out, struct fl_app *app)
{
	const struct fl_config *cfg = &app->cfg;
	struct fl_http *h = NULL;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
	                 MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	bool tls = cfg->tls_cert[0] != '\0', ipv6 = false;
	fl_err err;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return FL_E_NOMEM;
	h->app = app;
	h->listen_fd = -1;
	if (tls) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			fl_logf(FL_LOG_ERROR, "refusing to start",
			        "this libmicrohttpd has no TLS support");
			err = FL_E_CONFIG;
			goto out;
		}
		if ((err = read_pem(cfg->tls_cert, &h->tls_cert)) != FL_OK ||
		    (err = read_pem(cfg->tls_key, &h->tls_key)) != FL_OK) {
			fl_logf(FL_LOG_ERROR, "cannot read TLS files",
			        "%s / %s: %s", cfg->tls_cert, cfg->tls_key,
			        fl_strerror(err));
			err = FL_E_CONFIG;
			goto out;
		}
		flags |= MHD_USE_TLS;
	}
	if ((err = open_listener(h, tls, cfg->behind_tls_proxy, &ipv6)) !=
	    FL_OK)
		goto out;
	if (fl_net_parse_cidrs(cfg->trusted_proxies, h->trusted,
	                       FL_NET_MAX_CIDRS, &h->n_trusted) != FL_OK) {
		/* fl_config_set checked it already */
		err = FL_E_CONFIG;
		goto out;
	}
	{
		struct fl_guard_opts go = {
		        .header_timeout = cfg->header_timeout,
		        .body_timeout = cfg->request_timeout,
		        .pending_cap = cfg->max_pending_per_client,
		        /* an eighth of max_connections kept free for new
		         * connections: libmicrohttpd stops accepting at its
		         * limit (each worker thread at its share of it), and
		         * a client then waits in the listen queue */
		        .conn_cap = cfg->max_connections -
		                    cfg->max_connections / 8,
		        .tls = tls,
		        .trusted = h->trusted,
		        .n_trusted = h->n_trusted,
		};

		if ((err = fl_guard_new(&h->guard, &go)) != FL_OK)
			goto out;
	}
	if (ipv6)
		flags |= MHD_USE_IPv6;
	/* The memory pool holds the request line and headers; it is larger
	 * than max_header (by room for libmicrohttpd's own records of them
	 * and of the answer's headers) so that our own check, with a JSON
	 * answer, is the one that fires; headers beyond the pool get
	 * libmicrohttpd's own 431. It is no larger: libmicrohttpd zeroes the
	 * whole pool before every request of a keep-alive connection. */
	/* libmicrohttpd's inactivity timeout stays behind the guard's
	 * deadlines, so theirs fire first (with a 408 where one is due); it
	 * still bounds an answer that a client does not read. */
	h->d = MHD_start_daemon(
	        flags, 0, accept_cb, h, access_cb, h, MHD_OPTION_EXTERNAL_LOGGER,
	        mhd_log, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->listen_fd,
	        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->threads,
	        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
	        MHD_OPTION_CONNECTION_TIMEOUT,
	        (unsigned int)(cfg->request_timeout > cfg->header_timeout
	                               ? cfg->request_timeout
	                               : cfg->header_timeout) +
	                2u,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	        (size_t)(cfg->max_header + 8 * 1024),
	        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h,
	        MHD_OPTION_NOTIFY_CONNECTION, connection_cb, h,
	        MHD_OPTION_UNESCAPE_CALLBACK, unescape_cb, h,
	        tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->tls_cert,
	        MHD_OPTION_HTTPS_MEM_KEY, h->tls_key, MHD_OPTION_END);
	if (h->d == NULL) {
		fl_logf(FL_LOG_ERROR, "cannot start HTTP server", "%s",
		        h->app->cfg.listen);
		err = FL_E_NET;
		goto out;
	}
	*out = h;
	h = NULL;
	err = FL_OK;
out:
	fl_http_stop(h);
	return err;
}

unsigned fl_http_port(const struct fl_http *h)
{
	return h->port;
}

const char *fl_http_address(const struct fl_http *h)
{
	return h->address;
}

void fl_http_quiesce(struct fl_http *h)
{
	MHD_socket fd;

	if (h == NULL || h->d == NULL || h->listen_fd < 0)
		return;
	/* After quiescing the listening socket is ours again; stopping the
	 * daemon will not close it. */
	fd = MHD_quiesce_daemon(h->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	h->listen_fd = -1;
}

uint64_t fl_http_requests(struct fl_http *h)
{
	return (uint64_t)atomic_load(&h->next_id);
}

unsigned fl_http_drain(struct fl_http *h, int seconds)
{
	struct timespec step = {0, 20 * 1000 * 1000};
	int rounds = seconds * 50;

	while (atomic_load(&h->inflight) > 0 && rounds-- > 0)
		nanosleep(&step, NULL);
	return atomic_load(&h->inflight);
}

void fl_http_stop(struct fl_http *h)
{
	if (h == NULL)
		return;
	if (h->d != NULL)
		MHD_stop_daemon(h->d); /* closes the listening socket */
	else if (h->listen_fd >= 0)
		close(h->listen_fd);
	/* after the daemon: its connections have left the guard */
	fl_guard_free(h->guard);
	free(h->tls_cert);
	if (h->tls_key != NULL) {
		fl_wipe(h->tls_key, strlen(h->tls_key));
		free(h->tls_key);
	}
	free(h);
}
