/*
 * netaddr.h - client addresses: CIDR lists and X-Forwarded-For.
 *
 * Behind a reverse proxy every connection comes from the proxy; the client
 * is named in X-Forwarded-For, which anyone can also send. finlockd
 * believes that header only from a peer in `trusted_proxies`, and then
 * only as far as the chain of trusted hops goes: reading the header from
 * the right, the client is the first address that is not itself a trusted
 * proxy (a client cannot forge what its own proxy appended).
 *
 * Addresses are 16 bytes: IPv6 as is, IPv4 as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d), so one comparison covers both.
 *
 * THREAD SAFETY: pure functions; a parsed list is only read.
 */
#ifndef FL_SERVER_NETADDR_H
#define FL_SERVER_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define FL_NET_MAX_CIDRS 32 /* networks in one trusted_proxies list */

struct sockaddr;

struct fl_cidr {
	uint8_t addr[16]; /* network address, host bits zero */
	unsigned bits;    /* prefix length, 0..128 (IPv4: 96 + its length) */
};

/* Parses an address ("10.1.2.3", "2001:db8::1") into out[16]. */
fl_err fl_net_addr_parse(const char *s, size_t len,
                         uint8_t out[16]) FL_MUST_USE;

/* Parses a list of networks separated by commas and/or spaces
 * ("10.0.0.0/8, 192.168.1.7 ::1/128"); an address without a prefix is one
 * host. Writes up to cap entries and their number to *n. FL_E_INVALID for
 * a bad entry or a prefix longer than the address, FL_E_TOO_LARGE beyond
 * cap. An empty list is valid (no entry). out may be NULL to only check. */
fl_err fl_net_parse_cidrs(const char *list, struct fl_cidr *out, size_t cap,
                          size_t *n) FL_MUST_USE;

/* True when addr lies in one of the n networks of list. */
bool fl_net_in(const struct fl_cidr *list, size_t n, const uint8_t addr[16]);

/* The 16-byte form of a socket address (AF_INET or AF_INET6); false for
 * another family. */
bool fl_net_from_sockaddr(const struct sockaddr *sa, uint8_t out[16]);

/* The client of a request that reached finlockd from the trusted proxy
 * `peer` with the X-Forwarded-For value xff (every such header joined with
 * commas, in order; NULL if none). Walks xff from the right: each trusted
 * address is one more proxy, the first untrusted one is the client. When
 * every address is trusted the left-most one is the client; when an entry
 * is not an address the walk stops and the last trusted hop is the client.
 * Writes the client to out[16]. */
void fl_net_forwarded_client(const uint8_t peer[16], const char *xff,
                             const struct fl_cidr *list, size_t n,
                             uint8_t out[16]);

/* The text form of a client address into text[cap], and its rate-limit
 * key into net: an IPv4 address (also when IPv4-mapped), or the /64 prefix
 * of an IPv6 address, so every address of one customer line is one
 * client. */
void fl_net_client(const struct sockaddr *sa, char *text, size_t cap,
                   uint8_t net[16]);

#endif
