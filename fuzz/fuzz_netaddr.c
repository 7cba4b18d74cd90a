/* libFuzzer target for server/netaddr: the bytes are a trusted_proxies list
 * and an X-Forwarded-For value (split at the first newline). Nothing may
 * crash or read out of bounds; a list is accepted or refused whole; every
 * network contains its own address; without a header the client is the
 * peer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/netaddr.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_cidr list[FL_NET_MAX_CIDRS];
	char *buf = malloc(size + 1), *xff;
	uint8_t peer[16], got[16];
	size_t n = 0;
	fl_err err;

	CHECK(buf != NULL);
	memcpy(buf, data, size);
	buf[size] = '\0';
	xff = strchr(buf, '\n');
	if (xff != NULL)
		*xff++ = '\0';
	err = fl_net_parse_cidrs(buf, list, FL_NET_MAX_CIDRS, &n);
	CHECK(err == FL_OK || n == 0);
	CHECK(n <= FL_NET_MAX_CIDRS);
	for (size_t i = 0; i < n; i++) {
		CHECK(list[i].bits <= 128);
		/* a network contains its own address */
		CHECK(fl_net_in(&list[i], 1, list[i].addr));
	}
	CHECK(fl_net_addr_parse("10.0.0.1", 8, peer) == FL_OK);
	fl_net_forwarded_client(peer, xff, list, n, got);
	/* the client is the peer unless the header named it */
	if (xff == NULL || xff[0] == '\0')
		CHECK(memcmp(got, peer, 16) == 0);
	free(buf);
	return 0;
}
