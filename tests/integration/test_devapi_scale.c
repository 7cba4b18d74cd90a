/*
 * Long-polls at scale against a real finlockd: 10,000 phones' waits
 * parked at once hold no thread and little memory, a change to another
 * device still reaches its phone within a second while they wait, and
 * every one of them is answered (200, no token) when wait_timeout passes.
 * Also: a wait longer than request_timeout is not cut by the connection
 * timeout, and a stopping server answers its parked waits at once.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/devproto.h"
#include "server/devauth.h"
#include "server/secrets.h"
#include "store/store.h"
#include "support/devapi_phone.h"
#include "support/server_harness.h"

static int connect_to(unsigned port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Enrolled phones written straight into the server's database (the
 * store allows a second process), with their MAC keys derived from the
 * server's kx.secret as the server derives them: many phones without
 * many enrollments. */
static void many_phones(struct srv *s, struct devapi_raw *p, int n)
{
	struct fl_secrets sec;
	struct fl_store *st = NULL;
	struct fl_tx *tx = NULL;
	char db[700];
	uint8_t ocode[32];

	assert_int_equal(fl_secrets_load(&sec, srv_data_dir(s)), FL_OK);
	snprintf(db, sizeof(db), "%s/finlock.db", srv_data_dir(s));
	assert_int_equal(fl_store_open_sqlite(&st, db, NULL), FL_OK);
	assert_int_equal(fl_store_begin(st, true, &tx), FL_OK);
	for (int i = 0; i < n; i++) {
		struct fl_device d;
		char imei[16];

		devapi_imei(100000 + (unsigned)i, imei);
		devapi_raw_new(&p[i], imei, NULL);
		memset(&d, 0, sizeof(d));
		snprintf(d.id, sizeof(d.id), "dv_scale%05d", i);
		snprintf(d.tenant_id, sizeof(d.tenant_id), "tn_scale");
		snprintf(d.imei, sizeof(d.imei), "%s", imei);
		snprintf(d.serial, sizeof(d.serial), "SN");
		assert_int_equal(fl_store_device_insert(tx, &d), FL_OK);
		assert_int_equal(fl_store_dp_enroll(tx, d.id, p[i].sign_pk,
		                                    p[i].kx_pk, 1),
		                 FL_OK);
		assert_int_equal(fl_devauth_derive(sec.kx_pk, sec.kx_sk,
		                                   p[i].kx_pk, p[i].mac_key,
		                                   ocode),
		                 FL_OK);
		snprintf(p[i].device_id, sizeof(p[i].device_id), "%s", d.id);
	}
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	fl_store_close(st);
	fl_secrets_wipe(&sec);
}

/* Writes a MAC'd wait of phone r with counter on fd. */
static int send_wait(int fd, const struct devapi_raw *r, uint64_t seq,
                     uint64_t counter)
{
	char target[FL_DP_WAIT_PATH_MAX], hex[65], req[512];
	uint8_t mac[32];
	int n;

	fl_dp_wait_path(target, seq);
	if (fl_dp_request_mac(mac, r->mac_key, "GET", target, "", 0, counter) !=
	    FL_OK)
		return -1;
	fl_hex_encode(hex, mac, sizeof(mac));
	n = snprintf(req, sizeof(req),
	             "GET %s HTTP/1.1\r\nHost: x\r\n" FL_DP_HDR_DEVICE
	             ": %s\r\n" FL_DP_HDR_COUNTER ": %llu\r\n" FL_DP_HDR_MAC
	             ": %s\r\n\r\n",
	             target, r->device_id, (unsigned long long)counter, hex);
	return write(fd, req, (size_t)n) == n ? 0 : -1;
}

/* Reads an answer's status line from fd within timeout_ms; 0 if none. */
/* The status of the answer on fd within timeout_ms: 0 when none came
 * yet, -1 when the connection was closed without one. */
static int read_status(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[4096];
	ssize_t n;
	int status = 0;

	if (poll(&p, 1, timeout_ms) != 1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		return 0;
	return status;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* CPU ticks the process used so far. */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2,
	                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	                        "%lu %lu",
	                        &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

/* Waits until the server has used no CPU for 300 ms (up to 30 s). */
static void settle(pid_t pid)
{
	long last = cpu_ticks(pid);

	for (int i = 0; i < 100; i++) {
		struct timespec ts = {0, 300 * 1000 * 1000};
		long now;

		nanosleep(&ts, NULL);
		now = cpu_ticks(pid);
		if (now == last)
			return;
		last = now;
	}
}

#define WAITERS 10000

static void test_ten_thousand_idle_waiters(void **state)
{
	/* 10,000 phones connect from one address as fast as loopback
	 * allows, faster than two threads read their headers: no cap on
	 * connections waiting for their headers (test_server_hostile shows
	 * that parked waits never count against it) */
	const char *args[] = {"--max-connections",
	                      "12000",
	                      "--wait-timeout",
	                      "8",
	                      "--threads",
	                      "2",
	                      "--max-pending-per-client",
	                      "0",
	                      NULL};
	struct srv_opts o = {.args = args, .clock = (long long)time(NULL)};
	struct devapi_lender l;
	struct devapi_raw b;
	struct srv_res r;
	struct rlimit rl;
	struct srv *s;
	char ib[16], id_b[64], code_b[64], path[128];
	static int fds[WAITERS];
	static struct devapi_raw phones[WAITERS];
	long rss0, rss1;
	int fd_b, opened = 0, ok = 0;
	int64_t t0;

	(void)state;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < WAITERS + 500) {
		rl.rlim_cur = rl.rlim_max < WAITERS + 500 ? rl.rlim_max
		                                          : WAITERS + 500;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	assert_true(rl.rlim_cur >= WAITERS + 100);
	assert_int_equal(srv_start(&s, &o), 0);
	assert_int_equal(devapi_lender_setup(s, &l), 0);
	devapi_imei(901, ib);
	assert_int_equal(devapi_register(s, &l, ib, NULL, id_b, code_b), 0);
	devapi_raw_new(&b, ib, NULL);
	assert_int_equal(devapi_raw_enroll(s, &b, code_b, false, l.root, &r),
	                 200);
	srv_res_free(&r);
	many_phones(s, phones, WAITERS);

	settle(srv_pid(s));
	rss0 = rss_kib(srv_pid(s));
	t0 = devapi_ms();
	for (int i = 0; i < WAITERS; i++) {
		fds[i] = connect_to(srv_port(s));
		if (fds[i] < 0)
			break;
		assert_int_equal(send_wait(fds[i], &phones[i], 0, 1), 0);
		opened++;
	}
	assert_int_equal(opened, WAITERS);
	settle(srv_pid(s));
	rss1 = rss_kib(srv_pid(s));
	fprintf(stderr,
	        "%d waits parked in %lld ms; server RSS %ld -> %ld KiB "
	        "(%ld bytes per wait)\n",
	        WAITERS, (long long)(devapi_ms() - t0), rss0, rss1,
	        (rss1 - rss0) * 1024 / WAITERS);
	/* none answered yet: they are all parked */
	for (int i = 0; i < WAITERS; i += 97)
		assert_int_equal(read_status(fds[i], 0), 0);

	/* another phone's wait is woken by a change within a second */
	fd_b = connect_to(srv_port(s));
	assert_true(fd_b >= 0);
	assert_int_equal(send_wait(fd_b, &b, b.seq, 1), 0);
	{
		struct timespec ts = {0, 300 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	assert_int_equal(read_status(fd_b, 0), 0);
	snprintf(path, sizeof(path), "/v1/devices/%s/sync", id_b);
	assert_int_equal(srv_req(s, "POST", path, l.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	/* answered while the clock stands still: woken, not timed out */
	assert_int_equal(read_status(fd_b, 10000), 200);
	close(fd_b);

	/* every parked wait is answered once its timeout has passed */
	srv_clock_run(s, 9);
	for (int i = 0; i < WAITERS; i++) {
		int st = read_status(fds[i], 15000);

		if (st == 200)
			ok++;
		else if (ok == i)
			fprintf(stderr, "wait %d: status %d\n", i, st);
		close(fds[i]);
	}
	srv_clock_stop(s);
	assert_int_equal(ok, WAITERS);
	/* each phone's counter was taken: it goes on above it */
	assert_int_equal(devapi_raw_checkin(s, &phones[7], 1, &r), 409);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(s, &phones[7], 2, &r), 200);
	srv_res_free(&r);
	assert_int_equal(srv_stop(s), 0);
	srv_free(s);
}

/* A wait is held past request_timeout (the connection's idle limit) to
 * its own timeout, not cut by the connection timeout; and SIGTERM answers
 * parked waits at once (a wait left parked would hold the stop for the
 * whole shutdown_grace and its connection would close unanswered). */
static void test_long_wait_and_shutdown(void **state)
{
	const char *args[] = {"--request-timeout",
	                      "1",
	                      "--wait-timeout",
	                      "5",
	                      "--shutdown-grace",
	                      "20",
	                      NULL};
	struct srv_opts o = {.args = args, .clock = (long long)time(NULL)};
	struct devapi_lender l;
	struct devapi_raw a;
	struct srv_res r;
	struct srv *s;
	char ia[16], id[64], code[64];
	int fd, st;

	(void)state;
	assert_int_equal(srv_start(&s, &o), 0);
	assert_int_equal(devapi_lender_setup(s, &l), 0);
	devapi_imei(910, ia);
	assert_int_equal(devapi_register(s, &l, ia, NULL, id, code), 0);
	devapi_raw_new(&a, ia, NULL);
	assert_int_equal(devapi_raw_enroll(s, &a, code, false, l.root, &r),
	                 200);
	srv_res_free(&r);

	/* the connection's idle limit passes (real time: it is the HTTP
	 * library's) and the parked wait is still open, unanswered */
	fd = connect_to(srv_port(s));
	assert_true(fd >= 0);
	assert_int_equal(send_wait(fd, &a, a.seq, 1), 0);
	assert_int_equal(read_status(fd, 2500), 0);
	/* its own timeout passes on the server's clock: answered */
	srv_clock_advance(s, 6);
	st = read_status(fd, 10000);
	assert_int_equal(st, 200);
	close(fd);

	/* parked, then the server is told to stop */
	fd = connect_to(srv_port(s));
	assert_true(fd >= 0);
	assert_int_equal(send_wait(fd, &a, a.seq, 2), 0);
	{
		struct timespec ts = {0, 200 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	assert_int_equal(read_status(fd, 0), 0);
	assert_int_equal(srv_stop(s), 0);
	st = read_status(fd, 1000);
	assert_int_equal(st, 200);
	close(fd);
	srv_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_long_wait_and_shutdown),
	        cmocka_unit_test(test_ten_thousand_idle_waiters),
	};

	if (fl_crypto_init() != FL_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
