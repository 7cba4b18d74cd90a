/* guard.c - connection deadlines, the per-address cap, the reaper. */
#include "server/guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server/log.h"
#include "server/netaddr.h"

#define PENDING_BUCKETS 4096 /* hash buckets of per-address counts */
#define REAPER_TICK_MS  100  /* how often deadlines are checked */
#define LINGER_MS       1000 /* a 408's time to reach the client before
                              * the connection is closed */
#define ROOM_BATCH      32   /* connections closed for room at a time: one
                              * pass over the list serves this many
                              * accepts */

enum state {
	ST_FRESH, /* accepted, first headers not complete */
	ST_BODY,  /* headers complete, body being read */
	ST_BUSY,  /* handler, parked long-poll or answer being sent */
	ST_IDLE,  /* kept alive between requests */
	ST_LINGER, /* answered 408, our side shut: the client reads it */
	ST_SHUT,  /* closed by the reaper, waiting for libmicrohttpd */
};

/* FRESH connections of one client address. */
struct pending {
	uint8_t net[16];
	unsigned count;
	struct pending *next;
};

/* Locks: the guard's mu guards the list and the pending counts; a
 * connection's own mu guards its state, so the calls of every request take
 * no lock shared by all connections (the reaper takes both, guard's first).
 * `counted` changes under both. */
struct fl_guard_conn {
	struct fl_guard *g;
	struct fl_guard_conn *prev, *next; /* all connections */
	int fd;                            /* libmicrohttpd's socket */
	pthread_mutex_t mu;                /* guards what follows */
	enum state st;
	int64_t deadline_ms;   /* FRESH, IDLE, BODY: when the reaper acts */
	bool counted;          /* counted in its address's pending entry */
	bool timed_out;        /* the reaper answered 408 */
	bool nul; /* "%00" in the request being read; its thread only */
	uint8_t net[16];       /* rate-limit key of the peer */
	uint64_t req_id;       /* the request in BODY, for the log */
	char client[48];       /* its client address, for the log */
};

struct fl_guard {
	struct fl_guard_opts o;
	struct fl_cidr trusted[FL_NET_MAX_CIDRS]; /* copied from o */
	pthread_mutex_t mu;               /* guards everything below */
	struct fl_guard_conn *head;       /* every open connection */
	struct pending *buckets[PENDING_BUCKETS];
	pthread_cond_t cv;                /* wakes the reaper to stop */
	bool stop;
	pthread_t reaper;
	int64_t refused_logged_ms; /* last "cap reached" log line */
	unsigned refused;          /* refusals since that line */
	size_t n_open;             /* connections in the list not SHUT */
	int64_t room_logged_ms;    /* last "closed for room" log line */
	unsigned roomed;           /* closed for room since that line */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t bucket_of(const uint8_t net[16])
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < 16; i++)
		h = (h ^ net[i]) * 1099511628211ULL;
	return (size_t)(h % PENDING_BUCKETS);
}

static struct pending **find_pending(struct fl_guard *g, const uint8_t net[16])
{
	struct pending **pp = &g->buckets[bucket_of(net)];

	while (*pp != NULL && memcmp((*pp)->net, net, 16) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* The peer's rate-limit key and whether it is a trusted proxy. */
static bool peer_of(const struct fl_guard *g, const struct sockaddr *sa,
                    uint8_t net[16])
{
	uint8_t addr[16];
	char text[48];

	fl_net_client(sa, text, sizeof(text), net);
	return fl_net_from_sockaddr(sa, addr) &&
	       fl_net_in(g->trusted, g->o.n_trusted, addr);
}

/* Takes gc out of its address's pending count (under both locks). */
static void uncount(struct fl_guard_conn *gc)
{
	struct pending **pp, *p;

	if (!gc->counted)
		return;
	gc->counted = false;
	pp = find_pending(gc->g, gc->net);
	p = *pp;
	if (p != NULL && --p->count == 0) {
		*pp = p->next;
		free(p);
	}
}

/* A connection leaves the open count for good (under both locks). */
static void shut(struct fl_guard *g, struct fl_guard_conn *gc)
{
	/* libmicrohttpd reads end-of-stream and closes it */
	shutdown(gc->fd, SHUT_RDWR);
	gc->st = ST_SHUT;
	uncount(gc);
	g->n_open--;
}

/* The conn_cap-th connection is open and one more is coming (under g's
 * lock): closes up to ROOM_BATCH of the FRESH and IDLE connections with
 * the earliest header deadlines, those silent the longest (both deadlines
 * are the same header_timeout after the silence began). Returns how many.
 * Candidates are kept in a max-heap on the deadline, so one pass costs
 * O(n log ROOM_BATCH). */
static unsigned make_room(struct fl_guard *g)
{
	struct {
		struct fl_guard_conn *gc;
		int64_t d; /* its deadline when it was read */
	} heap[ROOM_BATCH], x;
	size_t n = 0, want = (size_t)g->o.conn_cap / 64;
	unsigned closed = 0;

	/* a batch of 1/64 of the cap, 1 to ROOM_BATCH, and at least what
	 * the open count is over it */
	if (want < 1)
		want = 1;
	if (want < g->n_open + 1 - (size_t)g->o.conn_cap)
		want = g->n_open + 1 - (size_t)g->o.conn_cap;
	if (want > ROOM_BATCH)
		want = ROOM_BATCH;
	for (struct fl_guard_conn *gc = g->head; gc != NULL; gc = gc->next) {
		bool silent;
		size_t i;

		pthread_mutex_lock(&gc->mu);
		silent = gc->st == ST_FRESH || gc->st == ST_IDLE;
		x.gc = gc;
		x.d = gc->deadline_ms;
		pthread_mutex_unlock(&gc->mu);
		if (!silent)
			continue;
		if (n < want) {
			/* sift up */
			i = n++;
			while (i > 0 && heap[(i - 1) / 2].d < x.d) {
				heap[i] = heap[(i - 1) / 2];
				i = (i - 1) / 2;
			}
			heap[i] = x;
		} else if (x.d < heap[0].d) {
			/* replaces the latest deadline kept: sift down */
			i = 0;
			for (;;) {
				size_t l = 2 * i + 1, m = i;
				int64_t dm = x.d;

				if (l < n && heap[l].d > dm)
					m = l, dm = heap[l].d;
				if (l + 1 < n && heap[l + 1].d > dm)
					m = l + 1;
				if (m == i)
					break;
				heap[i] = heap[m];
				i = m;
			}
			heap[i] = x;
		}
	}
	/* Deadlines were read under each connection's lock, which was let go:
	 * its thread may have taken it on (headers in) since. Only what is
	 * still silent is closed. */
	for (size_t i = 0; i < n; i++) {
		struct fl_guard_conn *gc = heap[i].gc;

		pthread_mutex_lock(&gc->mu);
		if (gc->st == ST_FRESH || gc->st == ST_IDLE) {
			shut(g, gc);
			closed++;
		}
		pthread_mutex_unlock(&gc->mu);
	}
	return closed;
}

bool fl_guard_admit(struct fl_guard *g, const struct sockaddr *sa)
{
	uint8_t net[16];
	struct pending *p;
	bool ok = true, capped;
	unsigned refused = 0, roomed = 0;

	capped = g->o.pending_cap > 0 && !peer_of(g, sa, net);
	if (!capped && g->o.conn_cap <= 0)
		return true;
	pthread_mutex_lock(&g->mu);
	if (capped) {
		p = *find_pending(g, net);
		ok = p == NULL || p->count < (unsigned)g->o.pending_cap;
	}
	if (ok && g->o.conn_cap > 0 && g->n_open >= (size_t)g->o.conn_cap) {
		int64_t now = now_ms();

		g->roomed += make_room(g);
		if (now - g->room_logged_ms >= 1000) {
			roomed = g->roomed;
			g->roomed = 0;
			g->room_logged_ms = now;
		}
	}
	if (!ok) {
		int64_t now = now_ms();

		g->refused++;
		/* one line a second at most, however hard the flood */
		if (now - g->refused_logged_ms >= 1000) {
			refused = g->refused;
			g->refused = 0;
			g->refused_logged_ms = now;
		}
	}
	pthread_mutex_unlock(&g->mu);
	if (roomed > 0)
		fl_log(FL_LOG_WARN,
		       "connections closed for room: silent the longest",
		       json_pack("{s:i,s:i}", "closed", (int)roomed,
		                 "open_cap", g->o.conn_cap));
	if (refused > 0) {
		char text[48];

		fl_net_client(sa, text, sizeof(text), net);
		fl_log(FL_LOG_WARN, "connections refused: too many waiting "
		                    "for their headers",
		       json_pack("{s:s,s:i,s:i}", "client", text, "refused",
		                 (int)refused, "cap", g->o.pending_cap));
	}
	return ok;
}

struct fl_guard_conn *fl_guard_open(struct fl_guard *g, int fd,
                                    const struct sockaddr *sa)
{
	struct fl_guard_conn *gc = calloc(1, sizeof(*gc));
	bool trusted;

	if (gc == NULL)
		return NULL;
	gc->g = g;
	gc->fd = fd;
	gc->st = ST_FRESH;
	pthread_mutex_init(&gc->mu, NULL);
	trusted = peer_of(g, sa, gc->net);
	pthread_mutex_lock(&g->mu);
	gc->deadline_ms = now_ms() + (int64_t)g->o.header_timeout * 1000;
	g->n_open++;
	if (g->o.pending_cap > 0 && !trusted) {
		struct pending **pp = find_pending(g, gc->net);

		if (*pp == NULL)
			*pp = calloc(1, sizeof(**pp));
		if (*pp != NULL) {
			memcpy((*pp)->net, gc->net, 16);
			(*pp)->count++;
			gc->counted = true;
		}
	}
	gc->next = g->head;
	if (g->head != NULL)
		g->head->prev = gc;
	g->head = gc;
	pthread_mutex_unlock(&g->mu);
	return gc;
}

void fl_guard_headers(struct fl_guard_conn *gc, uint64_t id,
                      const char *client)
{
	bool counted;

	if (gc == NULL)
		return;
	pthread_mutex_lock(&gc->mu);
	counted = gc->counted;
	pthread_mutex_unlock(&gc->mu);
	if (counted) {
		/* its first headers: it leaves its address's count */
		pthread_mutex_lock(&gc->g->mu);
		pthread_mutex_lock(&gc->mu);
		uncount(gc);
		pthread_mutex_unlock(&gc->mu);
		pthread_mutex_unlock(&gc->g->mu);
	}
	pthread_mutex_lock(&gc->mu);
	if (gc->st != ST_SHUT && gc->st != ST_LINGER) {
		gc->st = ST_BODY;
		gc->deadline_ms =
		        now_ms() + (int64_t)gc->g->o.body_timeout * 1000;
	}
	gc->req_id = id;
	snprintf(gc->client, sizeof(gc->client), "%s", client);
	pthread_mutex_unlock(&gc->mu);
}

enum fl_guard_step fl_guard_body(struct fl_guard_conn *gc, bool done)
{
	enum fl_guard_step r = FL_GUARD_GO;

	if (gc == NULL)
		return FL_GUARD_GO;
	pthread_mutex_lock(&gc->mu);
	if (gc->st == ST_SHUT || gc->st == ST_LINGER) {
		r = FL_GUARD_GONE;
	} else if (gc->st == ST_BODY) {
		if (now_ms() >= gc->deadline_ms)
			r = FL_GUARD_LATE;
		if (done || r == FL_GUARD_LATE)
			gc->st = ST_BUSY;
	}
	pthread_mutex_unlock(&gc->mu);
	return r;
}

bool fl_guard_timed_out(struct fl_guard_conn *gc)
{
	bool t;

	if (gc == NULL)
		return false;
	pthread_mutex_lock(&gc->mu);
	t = gc->timed_out;
	pthread_mutex_unlock(&gc->mu);
	return t;
}

void fl_guard_idle(struct fl_guard_conn *gc)
{
	if (gc == NULL)
		return;
	pthread_mutex_lock(&gc->mu);
	if (gc->st != ST_SHUT && gc->st != ST_LINGER) {
		gc->st = ST_IDLE;
		gc->deadline_ms =
		        now_ms() + (int64_t)gc->g->o.header_timeout * 1000;
	}
	pthread_mutex_unlock(&gc->mu);
}

void fl_guard_note_nul(struct fl_guard_conn *gc)
{
	if (gc != NULL)
		gc->nul = true;
}

bool fl_guard_take_nul(struct fl_guard_conn *gc)
{
	bool nul;

	if (gc == NULL)
		return false;
	nul = gc->nul;
	gc->nul = false;
	return nul;
}

void fl_guard_close(struct fl_guard_conn *gc)
{
	struct fl_guard *g;

	if (gc == NULL)
		return;
	g = gc->g;
	pthread_mutex_lock(&g->mu);
	pthread_mutex_lock(&gc->mu);
	uncount(gc);
	if (gc->st != ST_SHUT)
		g->n_open--;
	pthread_mutex_unlock(&gc->mu);
	if (gc->prev != NULL)
		gc->prev->next = gc->next;
	else
		g->head = gc->next;
	if (gc->next != NULL)
		gc->next->prev = gc->prev;
	pthread_mutex_unlock(&g->mu);
	pthread_mutex_destroy(&gc->mu);
	free(gc);
}

/* --- the reaper ----------------------------------------------------------- */

/* The 408 the reaper writes itself: libmicrohttpd calls no handler on a
 * connection that stays silent, so nothing else could answer it. */
static size_t timeout_answer(const struct fl_guard *g, char *buf, size_t cap)
{
	char body[256];
	int bl, n;

	bl = snprintf(body, sizeof(body),
	              "{\"error\":{\"code\":\"request_timeout\",\"message\":"
	              "\"request body not received within %d s\"}}",
	              g->o.body_timeout);
	n = snprintf(buf, cap,
	             "HTTP/1.1 408 Request Timeout\r\n"
	             "Connection: close\r\n"
	             "Content-Type: application/json\r\n"
	             "Cache-Control: no-store\r\n"
	             "Content-Length: %d\r\n\r\n%s",
	             bl, body);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

struct timed_out {
	uint64_t id;
	char client[48];
};

/* Acts on gc, past its deadline (under both locks): 1 when it was a
 * connection whose first headers never came. */
static unsigned expire(struct fl_guard *g, struct fl_guard_conn *gc,
                       int64_t now, const char *answer, size_t alen,
                       struct timed_out *late, size_t cap, size_t *n_late)
{
	unsigned slow = gc->st == ST_FRESH;

	if (gc->st == ST_BODY) {
		/* the socket is libmicrohttpd's, but nothing else writes to
		 * it while a body is being read */
		if (!g->o.tls && alen > 0)
			(void)send(gc->fd, answer, alen,
			           MSG_NOSIGNAL | MSG_DONTWAIT);
		gc->timed_out = true;
		if (*n_late < cap) {
			late[*n_late].id = gc->req_id;
			memcpy(late[*n_late].client, gc->client,
			       sizeof(gc->client));
			(*n_late)++;
		}
		/* the answer, then end-of-stream; closing at once could reset
		 * the connection before the client has read it (a byte it
		 * sends meanwhile is unread) */
		shutdown(gc->fd, SHUT_WR);
		gc->st = ST_LINGER;
		gc->deadline_ms = now + LINGER_MS;
		return 0;
	}
	shut(g, gc);
	return slow;
}

/* One pass over every connection: closes those past their deadline.
 * Returns how many slow-header connections it closed and fills late[]
 * (up to cap) with the requests answered 408, *n_late their number. */
static unsigned reap(struct fl_guard *g, struct timed_out *late, size_t cap,
                     size_t *n_late)
{
	char answer[512];
	size_t alen = timeout_answer(g, answer, sizeof(answer));
	int64_t now = now_ms();
	unsigned slow = 0;

	*n_late = 0;
	pthread_mutex_lock(&g->mu);
	for (struct fl_guard_conn *gc = g->head; gc != NULL; gc = gc->next) {
		pthread_mutex_lock(&gc->mu);
		if ((gc->st == ST_FRESH || gc->st == ST_IDLE ||
		     gc->st == ST_BODY || gc->st == ST_LINGER) &&
		    now >= gc->deadline_ms)
			slow += expire(g, gc, now, answer, alen, late, cap,
			               n_late);
		pthread_mutex_unlock(&gc->mu);
	}
	pthread_mutex_unlock(&g->mu);
	return slow;
}

static void *reaper_main(void *arg)
{
	struct fl_guard *g = arg;
	struct timed_out late[16];

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		struct timespec ts;
		unsigned slow;
		size_t n_late = 0;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += REAPER_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!g->stop &&
		       pthread_cond_timedwait(&g->cv, &g->mu, &ts) != ETIMEDOUT)
			;
		if (g->stop)
			break;
		pthread_mutex_unlock(&g->mu);
		slow = reap(g, late, sizeof(late) / sizeof(late[0]), &n_late);
		if (slow > 0)
			fl_log(FL_LOG_WARN,
			       "connections closed: headers not complete in "
			       "time",
			       json_pack("{s:i,s:i}", "closed", (int)slow,
			                 "header_timeout", g->o.header_timeout));
		for (size_t i = 0; i < n_late; i++)
			fl_log(FL_LOG_WARN, "request body too slow",
			       json_pack("{s:I,s:s,s:i}", "id",
			                 (json_int_t)late[i].id, "client",
			                 late[i].client, "status", 408));
		pthread_mutex_lock(&g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

fl_err fl_guard_new(struct fl_guard **out, const struct fl_guard_opts *o)
{
	struct fl_guard *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (g == NULL)
		return FL_E_NOMEM;
	g->o = *o;
	if (g->o.n_trusted > FL_NET_MAX_CIDRS)
		g->o.n_trusted = FL_NET_MAX_CIDRS;
	if (g->o.n_trusted > 0)
		memcpy(g->trusted, o->trusted,
		       g->o.n_trusted * sizeof(g->trusted[0]));
	g->o.trusted = g->trusted;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	if (pthread_create(&g->reaper, NULL, reaper_main, g) != 0) {
		pthread_cond_destroy(&g->cv);
		pthread_mutex_destroy(&g->mu);
		free(g);
		return FL_E_NOMEM;
	}
	*out = g;
	return FL_OK;
}

void fl_guard_free(struct fl_guard *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->reaper, NULL);
	/* connections left (the server was not stopped): forget them */
	while (g->head != NULL) {
		struct fl_guard_conn *gc = g->head;

		g->head = gc->next;
		pthread_mutex_destroy(&gc->mu);
		free(gc);
	}
	for (size_t i = 0; i < PENDING_BUCKETS; i++) {
		while (g->buckets[i] != NULL) {
			struct pending *p = g->buckets[i];

			g->buckets[i] = p->next;
			free(p);
		}
	}
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}
