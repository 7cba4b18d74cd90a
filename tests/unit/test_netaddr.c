/* Unit tests for server/netaddr: CIDR lists and the X-Forwarded-For walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "server/netaddr.h"

static void addr(const char *s, uint8_t out[16])
{
	assert_int_equal(fl_net_addr_parse(s, strlen(s), out), FL_OK);
}

static void test_parse_and_match(void **state)
{
	struct fl_cidr l[8];
	uint8_t a[16];
	size_t n = 99;

	(void)state;
	assert_int_equal(fl_net_parse_cidrs("", l, 8, &n), FL_OK);
	assert_int_equal(n, 0);
	assert_int_equal(fl_net_parse_cidrs(" , ", l, 8, &n), FL_OK);
	assert_int_equal(n, 0);
	assert_int_equal(fl_net_parse_cidrs("10.0.0.0/8, 192.168.1.7  "
	                                    "2001:db8::/32,::1",
	                                    l, 8, &n),
	                 FL_OK);
	assert_int_equal(n, 4);
	addr("10.200.3.4", a);
	assert_true(fl_net_in(l, n, a));
	addr("11.0.0.1", a);
	assert_false(fl_net_in(l, n, a));
	addr("192.168.1.7", a);
	assert_true(fl_net_in(l, n, a));
	addr("192.168.1.8", a);
	assert_false(fl_net_in(l, n, a));
	addr("2001:db8:ffff::1", a);
	assert_true(fl_net_in(l, n, a));
	addr("2001:db9::1", a);
	assert_false(fl_net_in(l, n, a));
	addr("::1", a);
	assert_true(fl_net_in(l, n, a));
	/* an IPv4 network matches the IPv4-mapped form only */
	addr("::a00:1", a);
	assert_false(fl_net_in(l, n, a));
	addr("::ffff:10.0.0.1", a);
	assert_true(fl_net_in(l, n, a));
	/* a prefix that is not on a byte boundary; host bits ignored */
	assert_int_equal(fl_net_parse_cidrs("172.16.5.9/12", l, 8, &n), FL_OK);
	addr("172.31.255.255", a);
	assert_true(fl_net_in(l, n, a));
	addr("172.32.0.0", a);
	assert_false(fl_net_in(l, n, a));
	assert_int_equal(fl_net_parse_cidrs("0.0.0.0/0", l, 8, &n), FL_OK);
	addr("8.8.8.8", a);
	assert_true(fl_net_in(l, n, a));
	addr("2001:db8::1", a);
	assert_false(fl_net_in(l, n, a));
	/* bad lists */
	static const char *const bad[] = {"10.0.0.0/33", "::/129", "10.0.0.1/",
	                                  "10.0.0.1/x", "example.com",
	                                  "10.0.0.256", "10.0.0.0/8/8",
	                                  "10.0.0.0/0008", NULL};
	for (int i = 0; bad[i] != NULL; i++)
		assert_int_equal(fl_net_parse_cidrs(bad[i], l, 8, &n),
		                 FL_E_INVALID);
	assert_int_equal(fl_net_parse_cidrs("1.1.1.1 2.2.2.2 3.3.3.3", l, 2,
	                                    &n),
	                 FL_E_TOO_LARGE);
	assert_int_equal(fl_net_parse_cidrs("1.1.1.1 2.2.2.2", NULL, 2, &n),
	                 FL_OK);
	assert_int_equal(n, 2);
}

static void test_sockaddr(void **state)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	uint8_t a[16], b[16];

	(void)state;
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.2", &in.sin_addr);
	assert_true(fl_net_from_sockaddr((struct sockaddr *)&in, a));
	addr("127.0.0.2", b);
	assert_memory_equal(a, b, 16);
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::7", &in6.sin6_addr);
	assert_true(fl_net_from_sockaddr((struct sockaddr *)&in6, a));
	addr("2001:db8::7", b);
	assert_memory_equal(a, b, 16);
	assert_false(fl_net_from_sockaddr(NULL, a));
}

/* The client named by xff when the peer is 10.0.0.1, trusting 10/8. */
static void client(const char *xff, const char *want)
{
	struct fl_cidr l[4];
	uint8_t peer[16], got[16], exp[16];
	size_t n;

	assert_int_equal(fl_net_parse_cidrs("10.0.0.0/8", l, 4, &n), FL_OK);
	addr("10.0.0.1", peer);
	addr(want, exp);
	fl_net_forwarded_client(peer, xff, l, n, got);
	assert_memory_equal(got, exp, 16);
}

static void test_forwarded(void **state)
{
	(void)state;
	client(NULL, "10.0.0.1");
	client("", "10.0.0.1");
	client("203.0.113.5", "203.0.113.5");
	client(" 203.0.113.5 ", "203.0.113.5");
	/* the right-most untrusted one: what the client wrote itself is to
	 * its left and does not count */
	client("1.2.3.4, 203.0.113.5", "203.0.113.5");
	client("1.2.3.4,203.0.113.5,10.9.9.9", "203.0.113.5");
	client("1.2.3.4, 203.0.113.5, 10.9.9.9, 10.8.8.8", "203.0.113.5");
	/* every hop trusted: the left-most */
	client("10.1.1.1, 10.2.2.2", "10.1.1.1");
	/* garbage stops the walk at the last trusted hop */
	client("203.0.113.5, junk", "10.0.0.1");
	client("203.0.113.5, junk, 10.7.7.7", "10.7.7.7");
	client("junk, 203.0.113.5", "203.0.113.5");
	client("203.0.113.5:1234", "10.0.0.1");
	client("1.2.3.4,,203.0.113.5", "203.0.113.5");
	client(",10.3.3.3", "10.3.3.3");
	client("2001:db8::5", "2001:db8::5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_and_match),
	        cmocka_unit_test(test_sockaddr),
	        cmocka_unit_test(test_forwarded),
	};
	return cmocka_run_group_tests_name("netaddr", tests, NULL, NULL);
}
