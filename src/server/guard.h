/*
 * guard.h - deadlines and caps against slow and hostile clients.
 *
 * libmicrohttpd bounds a connection's silence, not its slowness: a client
 * that sends one header byte every few seconds holds its connection for
 * ever, and enough of them hold every connection the server has. The guard
 * follows every connection from accept to close and enforces:
 *
 *   - a deadline for a request's complete headers (header_timeout), from
 *     the connection's accept or, on a kept-alive connection, from the end
 *     of its previous request; past it the connection is closed;
 *   - a deadline for its body (body_timeout, from the end of its headers);
 *     past it the client is answered 408 (a JSON error; over TLS the
 *     connection is only closed) and the connection closed;
 *   - a cap on the connections of one client address (IPv4 address or
 *     IPv6 /64) that have not yet sent their first complete headers,
 *     checked at accept. Requests being served, parked long-polls and
 *     kept-alive connections between requests do not count, so thousands
 *     of phones behind one carrier NAT address are never refused for
 *     being many. Trusted proxies are not capped (they have many clients);
 *   - room for a new connection when conn_cap connections are open: the
 *     connections silent the longest (no headers yet, or kept alive
 *     between requests; the earliest header deadlines first) are closed,
 *     a batch at a time, so that idle connections from many addresses
 *     never fill the server's connection limit and leave the next client
 *     waiting in the listen queue until their deadlines pass. Requests
 *     being read or served and parked long-polls are never closed for
 *     room.
 *
 * Connection states and the calls that move them:
 *
 *   accept --fl_guard_open--> FRESH --fl_guard_headers--> BODY
 *   BODY --fl_guard_body(done)--> BUSY --fl_guard_idle--> IDLE
 *   IDLE --fl_guard_headers--> BODY
 *   FRESH, IDLE past the header deadline: closed by the reaper
 *   FRESH, IDLE, silent the longest, when conn_cap are open and one more
 *     is admitted: closed for room
 *   BODY past the body deadline: answered 408 by the reaper, closed a
 *     second later (or answered by the caller, when fl_guard_body says
 *     FL_GUARD_LATE)
 *   any --fl_guard_close--> freed
 *
 * Only FRESH counts against the per-address cap. The reaper is a thread
 * that wakes every 100 ms; it closes a connection with shutdown(2), which
 * libmicrohttpd sees as the client leaving, so the connection's file
 * descriptor stays libmicrohttpd's to close (fl_guard_close runs before
 * it does, and the reaper holds the guard's lock while it touches one).
 *
 * THREAD SAFETY: every function may be called from any thread; one
 * connection's calls come from the thread serving it.
 */
#ifndef FL_SERVER_GUARD_H
#define FL_SERVER_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "server/netaddr.h"

struct sockaddr;
struct fl_guard;
struct fl_guard_conn;

struct fl_guard_opts {
	int header_timeout;     /* seconds for complete headers */
	int body_timeout;       /* seconds for the body after them */
	int pending_cap;        /* FRESH connections per address; 0: none */
	int conn_cap;           /* open connections at which the longest
	                         * silent ones are closed for new ones; 0:
	                         * none */
	bool tls;               /* connections speak TLS: no raw 408 */
	const struct fl_cidr *trusted; /* proxies: not capped (borrowed) */
	size_t n_trusted;
};

/* Starts the guard and its reaper thread; *out is freed with
 * fl_guard_free(). */
fl_err fl_guard_new(struct fl_guard **out,
                    const struct fl_guard_opts *o) FL_MUST_USE;
/* Stops the reaper and frees g; every connection must be closed (or g's
 * server stopped). NULL is a no-op. */
void fl_guard_free(struct fl_guard *g);

/* At accept: false when sa already has pending_cap FRESH connections.
 * When it admits one with conn_cap connections open, it first closes the
 * longest silent FRESH and IDLE ones (shutdown(2), as the reaper does). */
bool fl_guard_admit(struct fl_guard *g, const struct sockaddr *sa);

/* A connection on socket fd from sa was accepted: it is FRESH. NULL when
 * out of memory (the connection then goes unguarded). */
struct fl_guard_conn *fl_guard_open(struct fl_guard *g, int fd,
                                    const struct sockaddr *sa);
/* Its request's headers are complete: BODY until the body deadline. id and
 * client name the request in the log line of a 408. NULL gc is a no-op. */
void fl_guard_headers(struct fl_guard_conn *gc, uint64_t id,
                      const char *client);

enum fl_guard_step {
	FL_GUARD_GO,   /* carry on */
	FL_GUARD_LATE, /* past the body deadline: answer 408 now */
	FL_GUARD_GONE, /* the reaper already answered it: drop it */
};

/* Body bytes arrived (done false), or the body is complete (done true:
 * the connection is BUSY unless the answer is LATE or GONE). A LATE
 * connection is BUSY too: its caller answers. NULL gc is FL_GUARD_GO. */
enum fl_guard_step fl_guard_body(struct fl_guard_conn *gc, bool done);
/* True when the reaper answered 408 on this connection. */
bool fl_guard_timed_out(struct fl_guard_conn *gc);
/* The request was answered and the connection stays open: IDLE until
 * the header deadline. */
void fl_guard_idle(struct fl_guard_conn *gc);
/* Marks that the request being read had "%00" in its path or query. */
void fl_guard_note_nul(struct fl_guard_conn *gc);
/* Whether the request being read had "%00", and forgets it. */
bool fl_guard_take_nul(struct fl_guard_conn *gc);
/* The connection is closing; frees gc. NULL is a no-op. */
void fl_guard_close(struct fl_guard_conn *gc);

#endif
