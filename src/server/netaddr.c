/* netaddr.c - CIDR lists and the X-Forwarded-For walk. */
#include "server/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

fl_err fl_net_addr_parse(const char *s, size_t len, uint8_t out[16])
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in_addr a4;

	memset(out, 0, 16);
	if (len == 0 || len >= sizeof(buf))
		return FL_E_INVALID;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		memcpy(out, v4_mapped, sizeof(v4_mapped));
		memcpy(out + 12, &a4, 4);
		return FL_OK;
	}
	if (inet_pton(AF_INET6, buf, out) == 1)
		return FL_OK;
	memset(out, 0, 16);
	return FL_E_INVALID;
}

static bool is_v4(const uint8_t a[16])
{
	return memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0;
}

/* Parses one "ADDR" or "ADDR/BITS" of len bytes. */
static fl_err parse_cidr(const char *s, size_t len, struct fl_cidr *out)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	unsigned bits, max;

	if (fl_net_addr_parse(s, alen, out->addr) != FL_OK)
		return FL_E_INVALID;
	max = is_v4(out->addr) ? 32 : 128;
	bits = max;
	if (slash != NULL) {
		size_t dlen = len - alen - 1;

		if (dlen == 0 || dlen > 3)
			return FL_E_INVALID;
		bits = 0;
		for (size_t i = 0; i < dlen; i++) {
			char c = slash[1 + i];

			if (c < '0' || c > '9')
				return FL_E_INVALID;
			bits = bits * 10 + (unsigned)(c - '0');
		}
		if (bits > max)
			return FL_E_INVALID;
	}
	out->bits = bits + (max == 32 ? 96 : 0);
	/* the network address: host bits cleared */
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = out->bits > i * 8 ? out->bits - i * 8 : 0;

		if (keep < 8)
			out->addr[i] &= (uint8_t)(0xff00u >> keep);
	}
	return FL_OK;
}

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

fl_err fl_net_parse_cidrs(const char *list, struct fl_cidr *out, size_t cap,
                          size_t *n)
{
	const char *p = list;
	size_t count = 0;

	*n = 0;
	while (*p != '\0') {
		const char *start;
		struct fl_cidr c;

		while (is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && !is_sep(*p))
			p++;
		if (parse_cidr(start, (size_t)(p - start), &c) != FL_OK)
			return FL_E_INVALID;
		if (count == cap)
			return FL_E_TOO_LARGE;
		if (out != NULL)
			out[count] = c;
		count++;
	}
	*n = count;
	return FL_OK;
}

bool fl_net_in(const struct fl_cidr *list, size_t n, const uint8_t addr[16])
{
	for (size_t k = 0; k < n; k++) {
		unsigned bits = list[k].bits, full = bits / 8, rest = bits % 8;

		if (memcmp(list[k].addr, addr, full) != 0)
			continue;
		if (rest != 0 &&
		    ((addr[full] ^ list[k].addr[full]) & (0xff00u >> rest)) != 0)
			continue;
		return true;
	}
	return false;
}

bool fl_net_from_sockaddr(const struct sockaddr *sa, uint8_t out[16])
{
	memset(out, 0, 16);
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		memcpy(out, v4_mapped, sizeof(v4_mapped));
		memcpy(out + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		memcpy(out, in6->sin6_addr.s6_addr, 16);
		return true;
	}
	return false;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

void fl_net_forwarded_client(const uint8_t peer[16], const char *xff,
                             const struct fl_cidr *list, size_t n,
                             uint8_t out[16])
{
	size_t end;

	memcpy(out, peer, 16);
	if (xff == NULL)
		return;
	end = strlen(xff);
	/* out is trusted here: one more hop to the left */
	while (end > 0) {
		size_t start = end, a, b;
		uint8_t hop[16];

		while (start > 0 && xff[start - 1] != ',')
			start--;
		a = start;
		b = end;
		while (a < b && is_space(xff[a]))
			a++;
		while (b > a && is_space(xff[b - 1]))
			b--;
		end = start > 0 ? start - 1 : 0;
		if (a == b && start > 0)
			continue; /* an empty element ("a,,b") */
		if (fl_net_addr_parse(xff + a, b - a, hop) != FL_OK)
			return; /* the last trusted hop it is */
		memcpy(out, hop, 16);
		if (!fl_net_in(list, n, hop))
			return;
		if (start == 0)
			break;
	}
}

void fl_net_client(const struct sockaddr *sa, char *text, size_t cap,
                   uint8_t net[16])
{
	snprintf(text, cap, "unknown");
	memset(net, 0, 16);
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)cap);
		memcpy(net, &in->sin_addr, 4);
		net[15] = 4; /* tag: an IPv4 address */
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
		                                   0, 0, 0, 0, 0xff, 0xff};

		inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)cap);
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memcpy(net, a + 12, 4);
			net[15] = 4;
		} else {
			/* One /64 is one customer line: limit it as one. */
			memcpy(net, a, 8);
			net[15] = 6;
		}
	}
}
