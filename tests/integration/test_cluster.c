/*
 * The cluster journey: several finlockd nodes serving one fleet, with real
 * parts. A private PostgreSQL 15 cluster (tests/support/pg_cluster.h), two
 * finlockd nodes on it sharing the key files of one data directory (as
 * docs/deploy.md "Several nodes" says to copy them), and Debian's nginx in
 * front as the load balancer, configured by the nginx block of that same
 * section of docs/deploy.md.
 *
 * - Lender writes land on either node and are seen by the other.
 * - A payment recorded on node A wakes a phone long-polling on node B.
 * - Phones enroll and check in through nginx, whichever node answers.
 * - kill -9 of node A in the middle of payments sent through nginx: every
 *   payment answered 201 is there afterwards, node B keeps serving, the
 *   phones move over.
 * - PostgreSQL stopped: the nodes answer 503 with Retry-After; started
 *   again: they serve again by themselves, nothing acknowledged lost.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "finlock/agent.h"
#include "support/devapi_phone.h"
#include "support/pg_cluster.h"
#include "support/proc.h"
#include "support/server_harness.h"

#define NGINX "/usr/sbin/nginx"

static struct pg_cluster PG;
static char uri[256];
static struct srv *A, *B; /* the two nodes */
static struct srv *LB;    /* nginx in front of both */
static struct devapi_lender L;
static char tmp[64]; /* nginx's files, node B's data directory */
static pid_t nginx = -1;
static unsigned next_imei = 700;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static unsigned free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool accepts(unsigned port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1)))
		text[fread(text, 1, (size_t)n, f)] = '\0';
	fclose(f);
	return text;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Replaces every `from` in *s by `to`; fails when there is none. */
static void replace(char **s, const char *from, const char *to)
{
	size_t nf = strlen(from), nt = strlen(to);
	int found = 0;
	char *p;

	while ((p = strstr(*s, from)) != NULL) {
		size_t off = (size_t)(p - *s), len = strlen(*s);
		char *n = malloc(len - nf + nt + 1);

		assert_non_null(n);
		memcpy(n, *s, off);
		memcpy(n + off, to, nt);
		memcpy(n + off + nt, p + nf, len - off - nf + 1);
		free(*s);
		*s = n;
		found++;
		/* `to` never contains `from` here */
	}
	if (found == 0)
		fail_msg("docs/deploy.md's cluster nginx block lacks: %s", from);
}

/* The nginx block that follows "<!-- nginx-cluster -->" in
 * docs/deploy.md (caller frees). */
static char *doc_config(void)
{
	char path[1024];
	char *text, *start, *end, *out;

	snprintf(path, sizeof(path), "%s/docs/deploy.md", proc_source_root());
	text = read_all(path);
	assert_non_null(text);
	start = strstr(text, "<!-- nginx-cluster -->");
	assert_non_null(start);
	start = strstr(start, "```nginx\n");
	assert_non_null(start);
	start += strlen("```nginx\n");
	end = strstr(start, "```");
	assert_non_null(end);
	out = strndup(start, (size_t)(end - start));
	free(text);
	return out;
}

static void start_nginx(unsigned port)
{
	char path[256], elog[256], listen[64], up_a[64], up_b[64];
	char *conf = doc_config(), *frame;
	int status;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	snprintf(up_a, sizeof(up_a), "127.0.0.1:%u", srv_port(A));
	snprintf(up_b, sizeof(up_b), "127.0.0.1:%u", srv_port(B));
	replace(&conf, "127.0.0.1:8081", up_a);
	replace(&conf, "127.0.0.1:8082", up_b);
	replace(&conf, "listen 80;", "listen LISTEN;");
	replace(&conf, "LISTEN", listen);
	snprintf(elog, sizeof(elog), "%s/error.log", tmp);
	assert_int_not_equal(asprintf(&frame,
	                              "worker_processes 1;\n"
	                              "daemon off;\n"
	                              "pid %s/nginx.pid;\n"
	                              "error_log %s info;\n"
	                              "events { worker_connections 4096; }\n"
	                              "http {\n"
	                              "access_log off;\n"
	                              "client_body_temp_path %s;\n"
	                              "proxy_temp_path %s;\n"
	                              "%s\n}\n",
	                              tmp, elog, tmp, tmp, conf),
	                     -1);
	snprintf(path, sizeof(path), "%s/nginx.conf", tmp);
	write_file(path, frame);
	free(frame);
	free(conf);
	nginx = fork();
	assert_true(nginx >= 0);
	if (nginx == 0) {
		execl(NGINX, "nginx", "-p", tmp, "-e", elog, "-c", path,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && !accepts(port); i++) {
		if (waitpid(nginx, &status, WNOHANG) == nginx) {
			nginx = -1;
			fail_msg("nginx exited at start (see %s)", elog);
		}
		sleep_ms(10);
	}
	assert_true(accepts(port));
}

static int group_setup(void **state)
{
	char cmd[1024], url[64], bdata[128];
	/* static: srv_restart starts the nodes again with them */
	static const char *args[] = {"--database", uri, "--sweep-interval-ms",
	                             "100", "--wait-timeout", "30", NULL};
	struct srv_opts oa = {.args = args};
	struct srv_opts ob = {.args = args};

	(void)state;
	if (pg_cluster_start(&PG) != 0)
		return -1;
	if (pg_cluster_exec(&PG, "postgres", "CREATE DATABASE fleet") != 0)
		return -1;
	pg_cluster_uri(&PG, "fleet", uri, sizeof(uri));
	if (devapi_start_opts(&A, &L, &oa) != 0)
		return -1;
	/* node B: the key files of node A's data directory, copied as an
	 * operator would (docs/deploy.md) */
	snprintf(tmp, sizeof(tmp), "/tmp/finlock-cluster-XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -1;
	snprintf(bdata, sizeof(bdata), "%s/node-b", tmp);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", srv_data_dir(A), bdata);
	if (system(cmd) != 0)
		return -1;
	ob.data_dir = bdata;
	if (srv_start(&B, &ob) != 0)
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", free_port());
	if (srv_attach(&LB, url) != 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (nginx > 0) {
		kill(nginx, SIGKILL);
		waitpid(nginx, NULL, 0);
		nginx = -1;
	}
	srv_free(LB);
	srv_free(B);
	srv_free(A);
	pg_cluster_destroy(&PG);
	if (tmp[0] != '\0')
		proc_rm_tree(tmp);
	return 0;
}

/* nginx listens on the port in LB's url. */
static void ensure_nginx(void)
{
	unsigned port;

	if (nginx > 0)
		return;
	assert_int_equal(sscanf(srv_url(LB), "http://127.0.0.1:%u", &port),
	                 1);
	start_nginx(port);
}

/* A device with a contract whose first installment is long overdue (the
 * phone is locked) and whose second is far away. Registered through
 * `reg`, contract through `con`. */
static void overdue_device(struct srv *reg, struct srv *con, char id[64],
                           char code[64], char imei1[16], char imei2[16])
{
	struct srv_res r;
	char path[128];

	devapi_imei(next_imei++, imei1);
	devapi_imei(next_imei++, imei2);
	assert_int_equal(devapi_register(reg, &L, imei1, imei2, id, code), 0);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", id);
	assert_int_equal(
	        srv_req(con, "POST", path, L.admin,
	                "{\"loan_ref\":\"LN-C\",\"currency\":\"KES\","
	                "\"allow_overdue\":true,"
	                "\"schedule\":[{\"due\":\"2025-01-01\",\"amount\":"
	                "150000},{\"due\":\"2035-01-01\",\"amount\":150000}],"
	                "\"grace\":0,\"policy\":{\"contact\":{\"name\":"
	                "\"Acme Finance\",\"phones\":[\"+254700000001\"]}}}",
	                &r),
	        0);
	if (r.status != 201)
		fail_msg("contract: %ld %s", r.status, r.body);
	srv_res_free(&r);
}

static const char *state_of(struct srv *s, const char *id, char out[32])
{
	struct srv_res r;

	assert_int_equal(devapi_show(s, &L, id, &r), 0);
	assert_int_equal(r.status, 200);
	snprintf(out, 32, "%s", srv_jstr(&r, "state"));
	srv_res_free(&r);
	return out;
}

static long long due_of(struct srv *s, const char *id)
{
	struct srv_res r;
	long long due;

	assert_int_equal(devapi_show(s, &L, id, &r), 0);
	assert_int_equal(r.status, 200);
	due = srv_jint(&r, "amount_due");
	srv_res_free(&r);
	return due;
}

static void test_writes_on_both_nodes(void **state)
{
	char id[64], code[64], i1[16], i2[16], st[32], st2[32];
	struct srv_res r;

	(void)state;
	/* registered on A, its contract on B, read on both */
	overdue_device(A, B, id, code, i1, i2);
	assert_string_equal(state_of(A, id, st), state_of(B, id, st2));
	assert_int_equal(due_of(A, id), 150000);
	assert_int_equal(due_of(B, id), 150000);
	/* paid on B, nothing due as seen from A */
	assert_int_equal(devapi_pay(B, &L, id, 150000), 0);
	assert_int_equal(due_of(A, id), 0);
	/* both nodes are healthy */
	assert_int_equal(srv_req(A, "GET", "/healthz", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	assert_int_equal(srv_req(B, "GET", "/healthz", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
}

struct waiter {
	struct devapi_phone *p;
	fl_err err;
	_Atomic int64_t done_ms;
	pthread_t t;
};

static void *wait_main(void *arg)
{
	struct waiter *w = arg;

	devapi_phone_tick(w->p);
	w->err = fl_agent_wait(w->p->a, 20);
	w->done_ms = devapi_ms();
	return NULL;
}

static void test_payment_on_a_wakes_phone_on_b(void **state)
{
	char id[64], code[64], i1[16], i2[16];
	struct fl_agent_screen sc;
	struct devapi_phone p;
	struct waiter w;
	int64_t t0;

	(void)state;
	overdue_device(A, A, id, code, i1, i2);
	/* the phone talks to node B only */
	assert_int_equal(devapi_phone_open(&p, B, &L, i1, i2), 0);
	assert_int_equal(fl_agent_setup(p.a), FL_OK);
	assert_int_equal(fl_agent_enroll(p.a, code), FL_OK);
	fl_agent_screen(p.a, &sc);
	assert_true(sc.locked);

	memset(&w, 0, sizeof(w));
	w.p = &p;
	assert_int_equal(pthread_create(&w.t, NULL, wait_main, &w), 0);
	sleep_ms(300); /* parked on B */
	assert_int_equal(w.done_ms, 0);
	t0 = devapi_ms();
	assert_int_equal(devapi_pay(A, &L, id, 150000), 0);
	assert_int_equal(pthread_join(w.t, NULL), 0);
	assert_int_equal(w.err, FL_OK);
	/* woken by the payment on the other node, not by the timeout */
	assert_true(w.done_ms - t0 < 5000);
	devapi_phone_tick(&p);
	assert_int_equal(fl_agent_tick(p.a), FL_OK);
	fl_agent_screen(p.a, &sc);
	assert_false(sc.locked);
	devapi_phone_close(&p);
}

#define PHONES 4

static void test_phones_through_nginx(void **state)
{
	char id[PHONES][64], code[64], i1[PHONES][16], i2[PHONES][16];
	struct devapi_phone p[PHONES];
	struct fl_agent_screen sc;
	char st[32];

	(void)state;
	ensure_nginx();
	for (int i = 0; i < PHONES; i++) {
		overdue_device(i % 2 ? A : B, i % 2 ? B : A, id[i], code,
		               i1[i], i2[i]);
		assert_int_equal(devapi_phone_open(&p[i], A, &L, i1[i], i2[i]),
		                 0);
		snprintf(p[i].url, sizeof(p[i].url), "%s", srv_url(LB));
		assert_int_equal(fl_agent_setup(p[i].a), FL_OK);
		assert_int_equal(fl_agent_enroll(p[i].a, code), FL_OK);
		/* several check-ins: nginx spreads them over both nodes */
		for (int k = 0; k < 4; k++) {
			devapi_phone_tick(&p[i]);
			assert_int_equal(fl_agent_checkin(p[i].a), FL_OK);
		}
		fl_agent_screen(p[i].a, &sc);
		assert_true(sc.locked);
	}
	/* paid through nginx: every phone unlocks at its next check-in */
	for (int i = 0; i < PHONES; i++)
		assert_int_equal(devapi_pay(LB, &L, id[i], 150000), 0);
	for (int i = 0; i < PHONES; i++) {
		devapi_phone_tick(&p[i]);
		assert_int_equal(fl_agent_checkin(p[i].a), FL_OK);
		fl_agent_screen(p[i].a, &sc);
		assert_false(sc.locked);
		assert_string_equal(state_of(A, id[i], st), "active");
		devapi_phone_close(&p[i]);
	}
}

#define PAYMENTS 60

/* Payments of 1.00 through nginx, each with its own Idempotency-Key,
 * retried (same key) until answered: acked[i] when answered 201. */
struct payer {
	const char *id;
	bool acked[PAYMENTS];
	char pay_id[PAYMENTS][64];
	_Atomic int sent;
	pthread_t t;
};

static void *pay_main(void *arg)
{
	struct payer *py = arg;
	struct srv *lb;
	char path[128], body[128], key[96];

	if (srv_attach(&lb, srv_url(LB)) != 0)
		return NULL;
	snprintf(path, sizeof(path), "/v1/devices/%s/payments", py->id);
	for (int i = 0; i < PAYMENTS; i++) {
		snprintf(body, sizeof(body),
		         "{\"amount\":100,\"reference\":\"KILL-%s-%d\"}", py->id,
		         i);
		snprintf(key, sizeof(key), "Idempotency-Key: kill-%s-%d",
		         py->id, i);
		for (int tries = 0; tries < 200 && !py->acked[i]; tries++) {
			const char *hdr[] = {key, NULL};
			struct srv_res r;

			if (srv_reqx(lb, "POST", path, L.admin, hdr, body,
			             strlen(body), &r) == 0 &&
			    r.status == 201) {
				py->acked[i] = true;
				snprintf(py->pay_id[i], 64, "%s",
				         json_string_value(json_object_get(
				                 json_object_get(r.json, "payment"),
				                 "id")));
			}
			srv_res_free(&r);
			if (!py->acked[i])
				sleep_ms(50);
		}
		py->sent = i + 1;
	}
	srv_free(lb);
	return NULL;
}

static void test_kill9_node_during_payments(void **state)
{
	char id[64], code[64], i1[16], i2[16], path[160];
	struct devapi_phone p;
	struct fl_agent_screen sc;
	struct payer py;
	struct srv_res r;

	(void)state;
	ensure_nginx();
	overdue_device(A, B, id, code, i1, i2);
	assert_int_equal(devapi_phone_open(&p, A, &L, i1, i2), 0);
	snprintf(p.url, sizeof(p.url), "%s", srv_url(LB));
	assert_int_equal(fl_agent_setup(p.a), FL_OK);
	assert_int_equal(fl_agent_enroll(p.a, code), FL_OK);

	memset(&py, 0, sizeof(py));
	py.id = id;
	assert_int_equal(pthread_create(&py.t, NULL, pay_main, &py), 0);
	while (py.sent < PAYMENTS / 3)
		sleep_ms(5);
	srv_kill9(A);
	assert_int_equal(pthread_join(py.t, NULL), 0);
	for (int i = 0; i < PAYMENTS; i++)
		if (!py.acked[i])
			fail_msg("payment %d was never answered 201", i);

	/* every acknowledged payment is there, read from node B */
	for (int i = 0; i < PAYMENTS; i++) {
		snprintf(path, sizeof(path), "/v1/payments/%s", py.pay_id[i]);
		assert_int_equal(srv_req(B, "GET", path, L.admin, NULL, &r),
		                 0);
		if (r.status != 200)
			fail_msg("payment %s: %ld", py.pay_id[i], r.status);
		srv_res_free(&r);
	}
	/* the phone moved over to node B (through nginx) and still locked:
	 * 60.00 paid of 1,500.00 due */
	for (int k = 0; k < 3; k++) {
		devapi_phone_tick(&p);
		assert_int_equal(fl_agent_checkin(p.a), FL_OK);
	}
	fl_agent_screen(p.a, &sc);
	assert_true(sc.locked);
	assert_int_equal(sc.amount_due, 150000 - 100 * PAYMENTS);
	/* node A comes back and serves the same fleet */
	assert_int_equal(srv_restart(A), 0);
	snprintf(path, sizeof(path), "/v1/payments/%s",
	         py.pay_id[PAYMENTS - 1]);
	assert_int_equal(srv_req(A, "GET", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	devapi_phone_close(&p);
}

/* Polls /healthz of s until it answers want (up to 30 s). */
static void await_health(struct srv *s, long want)
{
	struct srv_res r;

	for (int i = 0; i < 600; i++) {
		long st = 0;

		if (srv_req(s, "GET", "/healthz", NULL, NULL, &r) == 0)
			st = r.status;
		srv_res_free(&r);
		if (st == want)
			return;
		sleep_ms(50);
	}
	fail_msg("%s/healthz never answered %ld", srv_url(s), want);
}

static void test_postgres_restart(void **state)
{
	char id[64], code[64], i1[16], i2[16], id2[64];
	struct srv_res r;

	(void)state;
	overdue_device(A, B, id, code, i1, i2);
	assert_int_equal(pg_cluster_stop(&PG), 0);
	/* both nodes say so, with Retry-After, and change nothing */
	await_health(A, 503);
	await_health(B, 503);
	assert_int_equal(devapi_show(A, &L, id, &r), 0);
	assert_int_equal(r.status, 503);
	assert_non_null(srv_res_header(&r, "Retry-After"));
	assert_non_null(r.json);
	srv_res_free(&r);
	{
		char path[128];

		snprintf(path, sizeof(path), "/v1/devices/%s/payments", id);
		assert_int_equal(srv_req(B, "POST", path, L.admin,
		                         "{\"amount\":150000,\"reference\":"
		                         "\"PG-DOWN\"}",
		                         &r),
		                 0);
		assert_int_equal(r.status, 503);
		assert_non_null(srv_res_header(&r, "Retry-After"));
		srv_res_free(&r);
	}
	sleep_ms(1500); /* fifteen sweeps fail meanwhile */
	assert_int_equal(pg_cluster_restart(&PG), 0);
	/* back by themselves */
	await_health(A, 200);
	await_health(B, 200);
	/* the outage is in the log once, and its end once, not a line per
	 * sweep */
	{
		char *log;
		int failed = 0;

		for (int i = 0; i < 100; i++) {
			log = read_all(srv_log_path(A));
			assert_non_null(log);
			if (strstr(log, "\"msg\":\"sweep works again\"") != NULL)
				break;
			free(log);
			log = NULL;
			sleep_ms(50);
		}
		assert_non_null(log);
		for (const char *p = log;
		     (p = strstr(p, "\"msg\":\"sweep failed\"")) != NULL; p++)
			failed++;
		assert_in_range(failed, 1, 2);
		free(log);
	}
	/* what was acknowledged before is there; the refused write is not */
	assert_int_equal(due_of(A, id), 150000);
	assert_int_equal(devapi_pay(B, &L, id, 150000), 0);
	assert_int_equal(due_of(A, id), 0);
	overdue_device(B, A, id2, code, i1, i2);
	assert_int_equal(due_of(B, id2), 150000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_writes_on_both_nodes),
	        cmocka_unit_test(test_payment_on_a_wakes_phone_on_b),
	        cmocka_unit_test(test_phones_through_nginx),
	        cmocka_unit_test(test_kill9_node_during_payments),
	        cmocka_unit_test(test_postgres_restart),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
