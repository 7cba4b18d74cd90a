/* Unit tests for the simulated phone's HTTP transport (device/dev_http.h)
 * against a small libmicrohttpd server: answers, headers and bodies, the
 * answer size cap, time-outs, the abort test, and connection reuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "device/dev_http.h"
#include "support/device_util.h"

struct web {
	struct MHD_Daemon *d;
	char url[64];
	int connections; /* connections opened so far */
	char last_header[128];
	char last_body[256];
	size_t body_len;
};

static void on_conn(void *cls, struct MHD_Connection *c, void **socket_ctx,
                    enum MHD_ConnectionNotificationCode code)
{
	struct web *w = cls;

	(void)c;
	(void)socket_ctx;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_add_fetch(&w->connections, 1, __ATOMIC_SEQ_CST);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status,
                              const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	        len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret = MHD_queue_response(c, status, r);

	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
	struct web *w = cls;
	static char big[4096];
	const char *h;

	(void)method;
	(void)version;
	if (*con_cls == NULL) {
		*con_cls = w;
		w->body_len = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		if (w->body_len + n >= sizeof(w->last_body))
			n = sizeof(w->last_body) - 1 - w->body_len;
		memcpy(w->last_body + w->body_len, upload, n);
		w->body_len += n;
		w->last_body[w->body_len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Finlock-Device");
	snprintf(w->last_header, sizeof(w->last_header), "%s", h ? h : "");
	if (strcmp(url, "/big") == 0) {
		memset(big, 'x', sizeof(big));
		return answer(c, 200, big, sizeof(big));
	}
	if (strcmp(url, "/slow") == 0) {
		sleep(3);
		return answer(c, 200, "late", 4);
	}
	if (strcmp(url, "/teapot") == 0)
		return answer(c, 418, "{\"error\":{}}", 11);
	return answer(c, 200, "hello", 5);
}

static int setup(void **state)
{
	struct web *w = calloc(1, sizeof(*w));
	struct sockaddr_in sa = {0};
	const union MHD_DaemonInfo *info;

	if (w == NULL || dev_http_global_init() != FL_OK)
		return -1;
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	w->d = MHD_start_daemon(
	        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
	        0, NULL, NULL, on_req, w, MHD_OPTION_SOCK_ADDR,
	        (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_CONNECTION, on_conn,
	        w, MHD_OPTION_END);
	if (w->d == NULL)
		return -1;
	info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(w->url, sizeof(w->url), "http://127.0.0.1:%u/",
	         (unsigned)info->port);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct web *w = *state;

	MHD_stop_daemon(w->d);
	free(w);
	return 0;
}

static fl_err get(struct dev_http *c, const struct web *w, const char *path,
                  uint32_t timeout, size_t max, struct fl_hal_response *r,
                  bool *aborted)
{
	struct fl_hal_request req = {0};

	req.method = "GET";
	req.path = path;
	req.timeout_s = timeout;
	req.max_body = max;
	return dev_http_send(c, w->url, &req, r, aborted);
}

static void test_answer_and_reuse(void **state)
{
	struct web *w = *state;
	struct dev_http *c;
	struct fl_hal_response r;
	bool ab;

	assert_int_equal(dev_http_new(&c), FL_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(get(c, w, "/v1/x", 5, 1024, &r, &ab), FL_OK);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, 5);
		assert_string_equal(r.body, "hello");
		free(r.body);
	}
	/* keep-alive: one connection served the three requests */
	assert_int_equal(w->connections, 1);
	/* a status that is not 2xx is an answer, not a transport failure */
	assert_int_equal(get(c, w, "/teapot", 5, 1024, &r, &ab), FL_OK);
	assert_int_equal(r.status, 418);
	free(r.body);
	dev_http_free(c);
}

static void test_post_body_and_headers(void **state)
{
	struct web *w = *state;
	struct dev_http *c;
	struct fl_hal_header h[1] = {{"X-Finlock-Device", "dev_abc"}};
	struct fl_hal_request req = {0};
	struct fl_hal_response r;
	bool ab;

	assert_int_equal(dev_http_new(&c), FL_OK);
	req.method = "POST";
	req.path = "/v1/device/checkin";
	req.headers = h;
	req.n_headers = 1;
	req.body = "{\"seq\":1}";
	req.body_len = 9;
	req.timeout_s = 5;
	req.max_body = 1024;
	assert_int_equal(dev_http_send(c, w->url, &req, &r, &ab), FL_OK);
	assert_int_equal(r.status, 200);
	free(r.body);
	assert_string_equal(w->last_header, "dev_abc");
	assert_string_equal(w->last_body, "{\"seq\":1}");

	/* a header value cannot smuggle another header in */
	h[0].value = "dev\r\nX-Evil: 1";
	assert_int_equal(dev_http_send(c, w->url, &req, &r, &ab), FL_E_INVALID);
	assert_null(r.body);
	dev_http_free(c);
}

static void test_body_cap(void **state)
{
	struct web *w = *state;
	struct dev_http *c;
	struct fl_hal_response r;
	bool ab;

	assert_int_equal(dev_http_new(&c), FL_OK);
	assert_int_equal(get(c, w, "/big", 5, 1000, &r, &ab), FL_E_TOO_LARGE);
	assert_null(r.body);
	assert_int_equal(get(c, w, "/big", 5, 4096, &r, &ab), FL_OK);
	assert_int_equal(r.body_len, 4096);
	free(r.body);
	dev_http_free(c);
}

static void test_timeout(void **state)
{
	struct web *w = *state;
	struct dev_http *c;
	struct fl_hal_response r;
	time_t t0 = time(NULL);
	bool ab = true;

	assert_int_equal(dev_http_new(&c), FL_OK);
	assert_int_equal(get(c, w, "/slow", 1, 1024, &r, &ab), FL_E_NET);
	assert_false(ab);
	assert_true(time(NULL) - t0 <= 2);
	dev_http_free(c);
}

static int abort_calls;

static bool abort_soon(void *ctx)
{
	(void)ctx;
	return ++abort_calls > 3;
}

static void test_abort(void **state)
{
	struct web *w = *state;
	struct dev_http *c;
	struct fl_hal_response r;
	time_t t0 = time(NULL);
	bool ab = false;

	assert_int_equal(dev_http_new(&c), FL_OK);
	dev_http_set_abort(c, abort_soon, NULL);
	assert_int_equal(get(c, w, "/slow", 30, 1024, &r, &ab), FL_E_STATE);
	assert_true(ab);
	assert_true(time(NULL) - t0 <= 2);
	dev_http_free(c);
}

static void test_unreachable(void **state)
{
	struct dev_http *c;
	struct fl_hal_request req = {0};
	struct fl_hal_response r;
	bool ab;

	(void)state;
	assert_int_equal(dev_http_new(&c), FL_OK);
	req.method = "GET";
	req.path = "/v1/x";
	req.timeout_s = 2;
	/* port 1 on loopback: nothing listens there */
	assert_int_equal(dev_http_send(c, "http://127.0.0.1:1", &req, &r, &ab),
	                 FL_E_NET);
	/* only http and https are spoken */
	assert_int_equal(dev_http_send(c, "file:///etc", &req, &r, &ab),
	                 FL_E_NET);
	dev_http_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_answer_and_reuse, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_post_body_and_headers,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
	        cmocka_unit_test(test_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
