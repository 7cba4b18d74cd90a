/*
 * Unit tests for server/guard: the per-address cap on connections without
 * headers, the header and body deadlines enforced by the reaper (a 408
 * written on a silent body), trusted proxies spared, room made for new
 * connections by closing the ones silent the longest. Connections are
 * socket pairs: the test holds the client end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/guard.h"

static struct sockaddr_in from(const char *ip)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

#define SA(x) ((const struct sockaddr *)&(x))

/* Waits up to ms for the server end to be shut down: reads what came. */
static bool shut_within(int client, int ms, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int waited = 0; waited < ms; waited += 20) {
		struct pollfd p = {client, POLLIN, 0};
		ssize_t k;

		if (poll(&p, 1, 20) <= 0)
			continue;
		k = recv(client, buf + n, cap - 1 - n, MSG_DONTWAIT);
		if (k == 0)
			return true;
		if (k > 0) {
			n += (size_t)k;
			buf[n] = '\0';
		}
	}
	return false;
}

static void test_cap(void **state)
{
	struct fl_cidr trusted[1];
	size_t nt;
	struct fl_guard_opts o = {.header_timeout = 60, .body_timeout = 60,
	                          .pending_cap = 2};
	struct fl_guard *g;
	struct fl_guard_conn *c[4];
	struct sockaddr_in a = from("192.0.2.1"), b = from("192.0.2.2"),
	                   p = from("10.0.0.1");

	(void)state;
	assert_int_equal(fl_net_parse_cidrs("10.0.0.0/8", trusted, 1, &nt),
	                 FL_OK);
	o.trusted = trusted;
	o.n_trusted = nt;
	assert_int_equal(fl_guard_new(&g, &o), FL_OK);
	assert_true(fl_guard_admit(g, SA(a)));
	c[0] = fl_guard_open(g, -1, SA(a));
	c[1] = fl_guard_open(g, -1, SA(a));
	assert_false(fl_guard_admit(g, SA(a))); /* two waiting: full */
	assert_true(fl_guard_admit(g, SA(b)));  /* another address */
	/* headers in: it no longer counts, through its whole life */
	fl_guard_headers(c[0], 1, "192.0.2.1");
	assert_true(fl_guard_admit(g, SA(a)));
	assert_int_equal(fl_guard_body(c[0], true), FL_GUARD_GO);
	fl_guard_idle(c[0]);
	c[2] = fl_guard_open(g, -1, SA(a));
	assert_false(fl_guard_admit(g, SA(a)));
	fl_guard_close(c[1]);
	assert_true(fl_guard_admit(g, SA(a)));
	/* a trusted proxy is never capped */
	for (int i = 0; i < 3; i++)
		c[3] = fl_guard_open(g, -1, SA(p)), fl_guard_close(c[3]);
	c[3] = fl_guard_open(g, -1, SA(p));
	struct fl_guard_conn *more = fl_guard_open(g, -1, SA(p));
	struct fl_guard_conn *more2 = fl_guard_open(g, -1, SA(p));
	assert_true(fl_guard_admit(g, SA(p)));
	fl_guard_close(more);
	fl_guard_close(more2);
	fl_guard_close(c[3]);
	fl_guard_close(c[2]);
	fl_guard_close(c[0]);
	fl_guard_free(g);

	/* a cap of 0 is no cap */
	o.pending_cap = 0;
	assert_int_equal(fl_guard_new(&g, &o), FL_OK);
	c[0] = fl_guard_open(g, -1, SA(a));
	assert_true(fl_guard_admit(g, SA(a)));
	fl_guard_close(c[0]);
	fl_guard_free(g);
}

static void test_deadlines(void **state)
{
	struct fl_guard_opts o = {.header_timeout = 1, .body_timeout = 1,
	                          .pending_cap = 8};
	struct fl_guard *g;
	struct fl_guard_conn *slow, *body, *busy, *idle;
	struct sockaddr_in a = from("192.0.2.1");
	int sp[4][2];
	char buf[1024];

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp[i]), 0);
	assert_int_equal(fl_guard_new(&g, &o), FL_OK);
	slow = fl_guard_open(g, sp[0][0], SA(a));
	body = fl_guard_open(g, sp[1][0], SA(a));
	busy = fl_guard_open(g, sp[2][0], SA(a));
	idle = fl_guard_open(g, sp[3][0], SA(a));
	fl_guard_headers(body, 42, "192.0.2.1");
	assert_int_equal(fl_guard_body(body, false), FL_GUARD_GO);
	fl_guard_headers(busy, 43, "192.0.2.1");
	assert_int_equal(fl_guard_body(busy, true), FL_GUARD_GO);
	fl_guard_headers(idle, 44, "192.0.2.1");
	assert_int_equal(fl_guard_body(idle, true), FL_GUARD_GO);
	fl_guard_idle(idle);
	/* not before the deadline */
	usleep(300 * 1000);
	assert_false(shut_within(sp[0][1], 0, buf, sizeof(buf)));
	/* headers not in: closed without a word */
	assert_true(shut_within(sp[0][1], 3000, buf, sizeof(buf)));
	assert_string_equal(buf, "");
	/* a body that stopped short: a 408 with a JSON error, then closed */
	assert_true(shut_within(sp[1][1], 3000, buf, sizeof(buf)));
	assert_int_equal(strncmp(buf, "HTTP/1.1 408 ", 13), 0);
	assert_non_null(strstr(buf, "\"code\":\"request_timeout\""));
	assert_true(fl_guard_timed_out(body));
	assert_int_equal(fl_guard_body(body, false), FL_GUARD_GONE);
	/* kept alive, idle past the header deadline: closed */
	assert_true(shut_within(sp[3][1], 3000, buf, sizeof(buf)));
	assert_string_equal(buf, "");
	/* a request being served (a parked long-poll) has no deadline */
	assert_false(shut_within(sp[2][1], 500, buf, sizeof(buf)));
	assert_false(fl_guard_timed_out(busy));
	fl_guard_close(slow);
	fl_guard_close(body);
	fl_guard_close(busy);
	fl_guard_close(idle);
	fl_guard_free(g);
	for (int i = 0; i < 4; i++) {
		close(sp[i][0]);
		close(sp[i][1]);
	}
}

static void test_nul_and_null(void **state)
{
	struct fl_guard_opts o = {.header_timeout = 60, .body_timeout = 60,
	                          .pending_cap = 8};
	struct fl_guard *g;
	struct fl_guard_conn *c;
	struct sockaddr_in a = from("192.0.2.1");

	(void)state;
	assert_int_equal(fl_guard_new(&g, &o), FL_OK);
	c = fl_guard_open(g, -1, SA(a));
	/* a %00 is remembered for the request being read, once */
	assert_false(fl_guard_take_nul(c));
	fl_guard_note_nul(c);
	assert_true(fl_guard_take_nul(c));
	assert_false(fl_guard_take_nul(c));
	fl_guard_close(c);
	fl_guard_free(g);
	/* NULL entries (out of memory at accept) are let through */
	assert_int_equal(fl_guard_body(NULL, true), FL_GUARD_GO);
	assert_false(fl_guard_timed_out(NULL));
	assert_false(fl_guard_take_nul(NULL));
	fl_guard_headers(NULL, 1, "x");
	fl_guard_idle(NULL);
	fl_guard_close(NULL);
	fl_guard_free(NULL);
}

/* With conn_cap connections open, admitting one more closes the
 * connection silent the longest (no headers yet, or idle between
 * requests), never one whose request is being read or served. */
static void test_room(void **state)
{
	struct fl_guard_opts o = {.header_timeout = 60, .body_timeout = 60,
	                          .pending_cap = 0, .conn_cap = 3};
	struct fl_guard *g;
	struct fl_guard_conn *c[6];
	struct sockaddr_in a = from("192.0.2.1"), b = from("192.0.2.2");
	int sp[6][2];
	char buf[64];

	(void)state;
	for (int i = 0; i < 6; i++)
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp[i]), 0);
	assert_int_equal(fl_guard_new(&g, &o), FL_OK);
	/* c0 silent since it was accepted; c1 served one request and then
	 * idle (later); c2 being served (a parked long-poll) */
	c[0] = fl_guard_open(g, sp[0][0], SA(a));
	usleep(20 * 1000);
	c[1] = fl_guard_open(g, sp[1][0], SA(b));
	c[2] = fl_guard_open(g, sp[2][0], SA(b));
	fl_guard_headers(c[2], 2, "192.0.2.2");
	assert_int_equal(fl_guard_body(c[2], true), FL_GUARD_GO);
	usleep(20 * 1000);
	fl_guard_headers(c[1], 1, "192.0.2.2");
	assert_int_equal(fl_guard_body(c[1], true), FL_GUARD_GO);
	fl_guard_idle(c[1]);
	/* below the cap nothing is closed */
	assert_true(fl_guard_admit(g, SA(a)));
	/* three open: one more closes c0, the oldest silence */
	assert_true(fl_guard_admit(g, SA(a)));
	assert_true(shut_within(sp[0][1], 1000, buf, sizeof(buf)));
	assert_false(shut_within(sp[1][1], 100, buf, sizeof(buf)));
	assert_false(shut_within(sp[2][1], 0, buf, sizeof(buf)));
	c[3] = fl_guard_open(g, sp[3][0], SA(a));
	/* c1 idle since before c3 was accepted: c1 goes */
	assert_true(fl_guard_admit(g, SA(b)));
	assert_true(shut_within(sp[1][1], 1000, buf, sizeof(buf)));
	assert_false(shut_within(sp[3][1], 100, buf, sizeof(buf)));
	/* c3 reads a body and c4 is served: nothing silent, nothing closed */
	fl_guard_headers(c[3], 3, "192.0.2.1");
	c[4] = fl_guard_open(g, sp[4][0], SA(b));
	fl_guard_headers(c[4], 4, "192.0.2.2");
	assert_int_equal(fl_guard_body(c[4], true), FL_GUARD_GO);
	assert_true(fl_guard_admit(g, SA(a)));
	assert_false(shut_within(sp[2][1], 100, buf, sizeof(buf)));
	assert_false(shut_within(sp[3][1], 0, buf, sizeof(buf)));
	assert_false(shut_within(sp[4][1], 0, buf, sizeof(buf)));
	/* closed-for-room connections left the count: their own closes
	 * later do not free more places (c5 makes four open) */
	fl_guard_close(c[0]);
	fl_guard_close(c[1]);
	c[5] = fl_guard_open(g, sp[5][0], SA(a));
	assert_true(fl_guard_admit(g, SA(a)));
	assert_true(shut_within(sp[5][1], 1000, buf, sizeof(buf)));
	for (int i = 2; i < 6; i++)
		fl_guard_close(c[i]);
	fl_guard_free(g);
	for (int i = 0; i < 6; i++) {
		close(sp[i][0]);
		close(sp[i][1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cap),
	        cmocka_unit_test(test_deadlines),
	        cmocka_unit_test(test_nul_and_null),
	        cmocka_unit_test(test_room),
	};
	return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}
