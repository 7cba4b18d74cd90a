/* The fake lender server over HTTP (device_lender.h). */
#define _GNU_SOURCE
#include "support/device_lender.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_CAP (FL_DP_MAX_BODY + 1)

struct devt_lender {
	struct MHD_Daemon *d;
	struct fl_fakesrv *srv; /* guarded by mu */
	pthread_mutex_t mu;
	pthread_cond_t changed; /* broadcast by devt_lender_end */
	bool stopping;
	int hold_ms;
	char url[64];
	char root[FL_PASERK_PUBLIC_SIZE];
};

struct req {
	char *uri; /* request target as sent */
	char *body;
	size_t len;
	bool too_big;
	bool started;
};

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *r = calloc(1, sizeof(*r));

	(void)cls;
	(void)c;
	if (r != NULL)
		r->uri = strdup(uri);
	return r;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode code)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)code;
	if (r != NULL) {
		free(r->uri);
		free(r->body);
		free(r);
	}
	*con_cls = NULL;
}

/* Holds a wait until the device's seq differs from the one asked about. */
static void hold_wait(struct devt_lender *l, const char *uri)
{
	static const char pre[] = FL_DP_PATH_WAIT "?seq=";
	struct timespec until;
	unsigned long long seq;

	if (strncmp(uri, pre, sizeof(pre) - 1) != 0 ||
	    sscanf(uri + sizeof(pre) - 1, "%llu", &seq) != 1)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += l->hold_ms / 1000;
	until.tv_nsec += (long)(l->hold_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!l->stopping && l->srv->seq == seq &&
	       l->srv->force_status == 0 && !l->srv->garbage)
		if (pthread_cond_timedwait(&l->changed, &l->mu, &until) ==
		    ETIMEDOUT)
			break;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct devt_lender *l = cls;
	struct req *r = *con_cls;
	struct fl_hal_header h[3];
	struct fl_hal_request req = {0};
	struct fl_hal_response resp = {0};
	struct MHD_Response *mr;
	const char *names[3] = {FL_DP_HDR_DEVICE, FL_DP_HDR_COUNTER,
	                        FL_DP_HDR_MAC};
	enum MHD_Result ret;
	fl_err err;

	(void)url;
	(void)version;
	if (r == NULL)
		return MHD_NO;
	if (!r->started) {
		r->started = true;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (r->len + *upload_size > BODY_CAP) {
			r->too_big = true;
		} else {
			char *nb = realloc(r->body, r->len + *upload_size + 1);
			if (nb == NULL)
				return MHD_NO;
			memcpy(nb + r->len, upload, *upload_size);
			r->body = nb;
			r->len += *upload_size;
			r->body[r->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	for (int i = 0; i < 3; i++) {
		h[req.n_headers].name = names[i];
		h[req.n_headers].value = MHD_lookup_connection_value(
		        c, MHD_HEADER_KIND, names[i]);
		if (h[req.n_headers].value != NULL)
			req.n_headers++;
	}
	req.method = method;
	req.path = r->uri;
	req.headers = h;
	req.body = r->body;
	req.body_len = r->len;
	pthread_mutex_lock(&l->mu);
	if (strcmp(method, "GET") == 0)
		hold_wait(l, r->uri);
	l->srv->now = (fl_time)time(NULL);
	err = r->too_big ? FL_E_TOO_LARGE
	                 : fl_fakesrv_handle(l->srv, &req, &resp);
	pthread_mutex_unlock(&l->mu);
	if (err) {
		free(resp.body);
		resp.status = r->too_big ? 413 : 500;
		resp.body = strdup("{\"error\":{\"code\":\"internal\","
		                   "\"message\":\"fake server\"}}");
		resp.body_len = resp.body ? strlen(resp.body) : 0;
	}
	mr = MHD_create_response_from_buffer(resp.body_len,
	                                     resp.body ? resp.body : "",
	                                     MHD_RESPMEM_MUST_COPY);
	free(resp.body);
	if (mr == NULL)
		return MHD_NO;
	MHD_add_response_header(mr, "Content-Type", "application/json");
	ret = MHD_queue_response(c, (unsigned)resp.status, mr);
	MHD_destroy_response(mr);
	return ret;
}

struct devt_lender *devt_lender_start(void)
{
	struct devt_lender *l = calloc(1, sizeof(*l));
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;

	if (l == NULL)
		return NULL;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->changed, NULL);
	l->hold_ms = 5000;
	l->srv = fl_fakesrv_new((fl_time)time(NULL));
	if (l->srv == NULL ||
	    fl_paserk_public_encode(l->root, l->srv->root.pk) != FL_OK)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->d = MHD_start_daemon(
	        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
	        0, NULL, NULL, on_request, l, MHD_OPTION_SOCK_ADDR,
	        (struct sockaddr *)&sa, MHD_OPTION_URI_LOG_CALLBACK, on_uri, l,
	        MHD_OPTION_NOTIFY_COMPLETED, on_done, l,
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
	if (l->d == NULL)
		goto fail;
	info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0)
		goto fail;
	snprintf(l->url, sizeof(l->url), "http://127.0.0.1:%u",
	         (unsigned)info->port);
	return l;
fail:
	devt_lender_stop(l);
	return NULL;
}

void devt_lender_stop(struct devt_lender *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stopping = true;
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->mu);
	if (l->d != NULL)
		MHD_stop_daemon(l->d);
	fl_fakesrv_free(l->srv);
	pthread_cond_destroy(&l->changed);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

const char *devt_lender_url(const struct devt_lender *l)
{
	return l->url;
}

const char *devt_lender_root(const struct devt_lender *l)
{
	return l->root;
}

struct fl_fakesrv *devt_lender_begin(struct devt_lender *l)
{
	pthread_mutex_lock(&l->mu);
	l->srv->now = (fl_time)time(NULL);
	return l->srv;
}

void devt_lender_end(struct devt_lender *l)
{
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->mu);
}

void devt_lender_set_hold(struct devt_lender *l, int hold_ms)
{
	pthread_mutex_lock(&l->mu);
	l->hold_ms = hold_ms;
	pthread_mutex_unlock(&l->mu);
}
