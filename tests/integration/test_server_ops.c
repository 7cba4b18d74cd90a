/*
 * Integration tests of running finlockd: TLS with a certificate and key,
 * refusing plain HTTP on a non-loopback address unless a TLS proxy is
 * declared, settings from a config file and the environment, a SIGTERM that
 * lets a request in flight finish and exits 0, keep-alive answers, and
 * concurrency: hundreds of keep-alive clients at once and more than 1024
 * open connections.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/proc.h"
#include "support/server_harness.h"

static int connect_to(unsigned port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_tls(void **state)
{
	struct srv_opts o = {.tls = true};
	struct srv *s;
	struct srv_res r;
	char url[128];

	(void)state;
	assert_int_equal(srv_start(&s, &o), 0);
	assert_int_equal(strncmp(srv_url(s), "https://", 8), 0);
	assert_int_equal(srv_req(s, "GET", "/healthz", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	assert_int_equal(
	        srv_req(s, "GET", "/v1/tenants", srv_operator_key(s), NULL, &r),
	        0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	/* plain HTTP to the TLS port gets no answer */
	CURL *c = curl_easy_init();
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", srv_port(s));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	long code = 0;
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	assert_true(rc != CURLE_OK || code != 200);
	curl_easy_cleanup(c);
	assert_int_equal(srv_stop(s), 0);
	srv_free(s);
}

static void test_non_loopback_needs_tls(void **state)
{
	char dir[64], data[96];
	struct proc_result r;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/finlock-nl-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	assert_int_equal(proc_runl(&r, NULL, "finlockd", "--data", data,
	                           "--listen", "0.0.0.0:0", NULL),
	                 0);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "behind-tls-proxy"));
	proc_result_free(&r);
	/* a config that names only one TLS file is refused too */
	assert_int_equal(proc_runl(&r, NULL, "finlockd", "--data", data,
	                           "--tls-cert", "/nonexistent.pem", NULL),
	                 0);
	assert_int_equal(r.status, 2);
	proc_result_free(&r);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);

	/* declared behind a TLS proxy, it serves */
	const char *args[] = {"--behind-tls-proxy", NULL};
	struct srv_opts o = {.args = args};
	struct srv *s;
	assert_int_equal(srv_start(&s, &o), 0);
	srv_free(s);
}

static void test_config_file_and_env(void **state)
{
	char path[64], body[4096];
	const char *env[] = {"FINLOCKD_LOG_LEVEL=warn", NULL};
	struct srv *s;
	struct srv_res r;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/finlock-cfg-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "# test settings\nmax_body = 2048\nlog_level = debug\n"
	           "threads = 3\n");
	fclose(f);
	const char *args[] = {"--config", path, NULL};
	struct srv_opts o = {.args = args, .env = env};
	assert_int_equal(srv_start(&s, &o), 0);
	/* max_body from the file */
	memset(body, ' ', sizeof(body) - 1);
	body[0] = '{';
	body[sizeof(body) - 2] = '}';
	body[sizeof(body) - 1] = '\0';
	assert_int_equal(srv_req(s, "POST", "/v1/tenants", srv_operator_key(s),
	                         body, &r),
	                 0);
	assert_int_equal(r.status, 413);
	srv_res_free(&r);
	assert_int_equal(srv_req(s, "GET", "/healthz", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	assert_int_equal(srv_stop(s), 0);
	/* log level from the environment beats the file: no info lines */
	char log[65536];
	f = fopen(srv_log_path(s), "r");
	size_t n = fread(log, 1, sizeof(log) - 1, f);
	log[n] = '\0';
	fclose(f);
	assert_null(strstr(log, "\"level\":\"info\""));
	assert_null(strstr(log, "\"level\":\"debug\""));
	/* every line of the log is one JSON object */
	for (char *line = strtok(log, "\n"); line != NULL;
	     line = strtok(NULL, "\n")) {
		json_t *j = json_loads(line, 0, NULL);
		assert_non_null(j);
		assert_non_null(json_object_get(j, "ts"));
		assert_non_null(json_object_get(j, "msg"));
		json_decref(j);
	}
	srv_free(s);
	unlink(path);
}

static void test_sigterm_finishes_in_flight(void **state)
{
	struct srv *s;
	char req[512], resp[2048];
	const char *tail = "\"late\"}";
	int fd;
	ssize_t n;

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	fd = connect_to(srv_port(s));
	assert_true(fd >= 0);
	/* a request whose body is only half there */
	snprintf(
	        req, sizeof(req),
	        "POST /v1/tenants HTTP/1.1\r\nHost: x\r\n"
	        "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	        "Content-Length: %zu\r\n\r\n{\"name\":",
	        srv_operator_key(s), strlen("{\"name\":") + strlen(tail));
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	usleep(200 * 1000);
	kill(srv_pid(s), SIGTERM);
	usleep(300 * 1000);
	/* no new connections once stopping */
	int fd2 = connect_to(srv_port(s));
	assert_true(fd2 < 0);
	/* the request in flight completes */
	assert_int_equal(write(fd, tail, strlen(tail)), (ssize_t)strlen(tail));
	n = read(fd, resp, sizeof(resp) - 1);
	assert_true(n > 0);
	resp[n] = '\0';
	assert_non_null(strstr(resp, "HTTP/1.1 201"));
	close(fd);
	assert_int_equal(srv_wait(s), 0);
	/* it was stored: the tenant is there after a restart */
	assert_int_equal(srv_restart(s), 0);
	struct srv_res r;
	assert_int_equal(
	        srv_req(s, "GET", "/v1/tenants", srv_operator_key(s), NULL, &r),
	        0);
	assert_non_null(strstr(r.body, "\"late\""));
	srv_res_free(&r);
	srv_free(s);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static void test_keep_alive_and_concurrency(void **state)
{
	enum { CLIENTS = 256, PER_CLIENT = 8 };
	struct srv *s;
	char url[128];
	CURLM *m;
	CURL *h[CLIENTS];
	int done[CLIENTS] = {0}, ok = 0, running = 0;

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	/* answers keep the connection open (the second-call queueing) */
	{
		int fd = connect_to(srv_port(s));
		char buf[4096];
		const char *get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

		assert_int_equal(write(fd, get, strlen(get)),
		                 (ssize_t)strlen(get));
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		assert_true(n > 0);
		buf[n] = '\0';
		assert_non_null(strstr(buf, "200 OK"));
		assert_null(strcasestr(buf, "Connection: close"));
		/* and the same connection answers again */
		assert_int_equal(write(fd, get, strlen(get)),
		                 (ssize_t)strlen(get));
		n = read(fd, buf, sizeof(buf) - 1);
		assert_true(n > 0);
		close(fd);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", srv_port(s));
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)CLIENTS);
	for (int i = 0; i < CLIENTS; i++) {
		h[i] = curl_easy_init();
		curl_easy_setopt(h[i], CURLOPT_URL, url);
		curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h[i], CURLOPT_PRIVATE, (void *)(intptr_t)i);
		curl_multi_add_handle(m, h[i]);
	}
	do {
		CURLMsg *msg;
		int left;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			intptr_t i;
			long code = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			                  (char **)&i);
			curl_easy_getinfo(msg->easy_handle,
			                  CURLINFO_RESPONSE_CODE, &code);
			ok += msg->data.result == CURLE_OK && code == 200;
			curl_multi_remove_handle(m, msg->easy_handle);
			if (++done[i] < PER_CLIENT) {
				curl_multi_add_handle(m, msg->easy_handle);
				running++;
			}
		}
		if (running > 0)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	} while (running > 0);
	assert_int_equal(ok, CLIENTS * PER_CLIENT);
	for (int i = 0; i < CLIENTS; i++)
		curl_easy_cleanup(h[i]);
	curl_multi_cleanup(m);

	/* more than 1024 connections open at once, and still serving */
	enum { MANY = 1100 };
	static int fds[MANY];
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < MANY + 200 && rl.rlim_max >= MANY + 200) {
		rl.rlim_cur = MANY + 200;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int opened = 0;
	for (int i = 0; i < MANY; i++) {
		fds[i] = connect_to(srv_port(s));
		if (fds[i] < 0)
			break;
		/* the start of a request, so each is a live connection */
		assert_int_equal(write(fds[i], "GET /healthz HTTP/1.1\r\n", 23),
		                 23);
		opened++;
	}
	assert_int_equal(opened, MANY);
	usleep(500 * 1000);
	struct srv_res r;
	assert_int_equal(srv_req(s, "GET", "/healthz", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	/* the last of them is served too */
	char buf[1024];
	assert_int_equal(write(fds[MANY - 1], "Host: x\r\n\r\n", 11), 11);
	ssize_t n = read(fds[MANY - 1], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "200 OK"));
	for (int i = 0; i < opened; i++)
		close(fds[i]);
	assert_int_equal(srv_stop(s), 0);
	srv_free(s);
}

static void test_slow_body_is_cut(void **state)
{
	const char *args[] = {"--request-timeout", "2", NULL};
	struct srv_opts o = {.args = args};
	const char *head = "POST /v1/tenants HTTP/1.1\r\nHost: x\r\n"
	                   "Content-Length: 100\r\n\r\n{";
	struct srv *s;
	char buf[256];
	bool cut = false;
	int fd;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(srv_start(&s, &o), 0);
	fd = connect_to(srv_port(s));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, head, strlen(head)), (ssize_t)strlen(head));
	/* one byte every 0.4 s: never silent for long, but never done */
	for (int i = 0; i < 20 && !cut; i++) {
		usleep(400 * 1000);
		if (write(fd, " ", 1) != 1)
			cut = true;
		struct timeval tv = {0, 1000};
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(fd, &rd);
		if (select(fd + 1, &rd, NULL, NULL, &tv) > 0 &&
		    read(fd, buf, sizeof(buf)) <= 0)
			cut = true;
	}
	assert_true(cut);
	close(fd);
	/* the server is fine */
	struct srv_res r;
	assert_int_equal(srv_req(s, "GET", "/healthz", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	srv_free(s);
}

struct waiter {
	char url[256];
	char key[64];
	long status;
	long long seq;
	double secs;
};

static size_t collect_body(char *p, size_t size, size_t n, void *ctx)
{
	char *buf = ctx;
	size_t have = strlen(buf), add = size * n;

	if (have + add < 8192) {
		memcpy(buf + have, p, add);
		buf[have + add] = '\0';
	}
	return size * n;
}

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct curl_slist *h = NULL;
	char auth[128], *body = calloc(1, 8192);
	struct timespec a, b;
	CURL *c = curl_easy_init();

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w->key);
	h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, w->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &w->status);
	clock_gettime(CLOCK_MONOTONIC, &b);
	w->secs = (double)(b.tv_sec - a.tv_sec) +
	          (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	json_t *j = json_loads(body, 0, NULL);
	w->seq = json_integer_value(json_object_get(j, "token_seq"));
	json_decref(j);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(body);
	return NULL;
}

static void start_wait(struct srv *s, const char *key, const char *dev,
                       long long seq, int timeout, struct waiter *w,
                       pthread_t *t)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->url, sizeof(w->url),
	         "%s/v1/devices/%s/wait?seq=%lld&timeout=%d", srv_url(s), dev,
	         seq, timeout);
	snprintf(w->key, sizeof(w->key), "%s", key);
	assert_int_equal(pthread_create(t, NULL, wait_thread, w), 0);
}

static void test_long_poll(void **state)
{
	char tid[64], admin[64], support[64], dev[64], path[160];
	struct srv *s;
	struct srv_res r;
	struct waiter w;
	pthread_t t;
	long long seq;

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	assert_int_equal(srv_tenant(s, "Watcher", tid, admin), 0);
	assert_int_equal(srv_key(s, admin, "support", support), 0);
	assert_int_equal(srv_req(s, "POST", "/v1/devices", admin,
	                         "{\"imei\":\"490154203237518\",\"serial\":"
	                         "\"W\"}",
	                         &r),
	                 0);
	snprintf(dev, sizeof(dev), "%s",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "device"), "id")));
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", dev);
	assert_int_equal(srv_req(s, "POST", path, admin,
	                         "{\"currency\":\"USD\",\"allow_overdue\":true,"
	                         "\"schedule\":[{\"due\":"
	                         "\"2021-01-01\",\"amount\":1000},{\"due\":"
	                         "\"2040-01-01\",\"amount\":1000}]}",
	                         &r),
	                 0);
	seq = json_integer_value(json_object_get(
	        json_object_get(r.json, "device"), "token_seq"));
	srv_res_free(&r);
	assert_true(seq > 0);

	/* parked until a payment moves the seq (the amount due changes),
	 * then answered at once */
	start_wait(s, support, dev, seq, 30, &w, &t);
	usleep(500 * 1000);
	snprintf(path, sizeof(path), "/v1/devices/%s/payments", dev);
	assert_int_equal(
	        srv_req(s, "POST", path, admin, "{\"amount\":100}", &r), 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
	pthread_join(t, NULL);
	assert_int_equal(w.status, 200);
	assert_true(w.seq > seq);
	assert_true(w.secs < 5.0);
	seq = w.seq;

	/* already newer: at once */
	start_wait(s, support, dev, seq - 1, 30, &w, &t);
	pthread_join(t, NULL);
	assert_int_equal(w.status, 200);
	assert_true(w.secs < 2.0);

	/* nothing happens: the device as it is, after the timeout */
	start_wait(s, support, dev, seq, 1, &w, &t);
	pthread_join(t, NULL);
	assert_int_equal(w.status, 200);
	assert_int_equal(w.seq, seq);
	assert_true(w.secs >= 1.0 && w.secs < 5.0);

	/* bad parameters */
	snprintf(path, sizeof(path), "/v1/devices/%s/wait", dev);
	assert_int_equal(srv_req(s, "GET", path, support, NULL, &r), 0);
	assert_int_equal(r.status, 400);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/wait?seq=1&timeout=0",
	         dev);
	assert_int_equal(srv_req(s, "GET", path, support, NULL, &r), 0);
	assert_int_equal(r.status, 400);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/wait?seq=-4", dev);
	assert_int_equal(srv_req(s, "GET", path, support, NULL, &r), 0);
	assert_int_equal(r.status, 400);
	srv_res_free(&r);

	/* shutting down answers the parked and exits cleanly */
	start_wait(s, support, dev, seq, 60, &w, &t);
	usleep(500 * 1000);
	assert_int_equal(srv_stop(s), 0);
	pthread_join(t, NULL);
	assert_int_equal(w.status, 200);
	assert_true(w.secs < 10.0);
	srv_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tls),
	        cmocka_unit_test(test_non_loopback_needs_tls),
	        cmocka_unit_test(test_config_file_and_env),
	        cmocka_unit_test(test_sigterm_finishes_in_flight),
	        cmocka_unit_test(test_keep_alive_and_concurrency),
	        cmocka_unit_test(test_slow_body_is_cut),
	        cmocka_unit_test(test_long_poll),
	};
	return cmocka_run_group_tests_name("server_ops", tests, NULL, NULL);
}
