/*
 * loadgen.c - the check-in load generator of `make bench` (benchmark 1).
 *
 *   loadgen --port P --devices FILE [--host 127.0.0.1] [--conns 256]
 *           [--threads 2] [--warmup 2] [--duration 10] [--save]
 *           [--verify N] [--full-answers]
 *
 * Sends MAC-authenticated check-ins (docs/protocol.md "Check-in") for the
 * enrolled devices in FILE (bench.h) over keep-alive HTTP/1.1 connections,
 * one request in flight per connection (no pipelining). Connection c owns
 * the devices i with i % conns == c and takes them in turn, so each
 * device's request counter reaches the server in order. Every request is
 * built the way a phone builds it: counter + 1, the check-in body, the
 * keyed BLAKE2b request MAC (src/core/devproto.h).
 *
 * --rounds R: instead of running for a duration, every connection sends
 * R check-ins for each of its devices and stops (so with R = 1 every
 * device checks in exactly once); the figure is 2xx answers over the time
 * from the start to the last answer, --duration being only a cap.
 *
 * Only 2xx answers count. Answers that arrive during the warm-up are not
 * counted; the figure is 2xx answers completed inside the measured window
 * divided by its length. --verify N decodes every Nth 2xx answer and checks
 * its answer MAC against the device's key and the request's counter (a
 * check that the server really authenticated and answered that device).
 * --save writes the counters used back to FILE (and the seq of the newest
 * token seen) so a later run continues above them.
 *
 * Each phone says, as the agent does, that it holds the token of its seq
 * (token_held): the answer then leaves the token out while that seq is the
 * newest, and a token that does come (a seq that moved) is read for its
 * seq, which the phone's next check-ins report. --full-answers sends bodies
 * without token_held (phones of a version before it): every answer carries
 * the token.
 *
 * The same program, connections and request bytes drive the nginx
 * baseline, which answers a fixed body of the size finlockd's check-in
 * answer has (bench/run.sh).
 *
 * `loadgen --free-port` prints a free loopback port (for the baseline's
 * nginx). `loadgen --fake-devices N FILE` writes N devices with random ids and
 * keys (for the baseline alone, when no finlockd enrolled real ones).
 *
 * Output: key=value lines (rps, ok, non2xx, errors, p50_us, p99_us,
 * body_bytes, ...) that bench/run.sh reads.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define RBUF_CAP  (64 * 1024)
#define WBUF_CAP  4096
#define BODY_MAX  1024
#define MAX_CONNS 20000

struct conn {
	int fd;
	size_t dev_first; /* owns devices dev_first, + conns, ... */
	size_t dev_next;  /* index of the device whose turn is next */
	size_t cur_dev;   /* device of the request in flight */
	uint64_t cur_ctr; /* its counter */
	uint64_t sent_ns; /* when its first byte was written */
	char wbuf[WBUF_CAP];
	size_t wlen, woff;
	char *rbuf; /* RBUF_CAP bytes */
	size_t rlen;
	bool connected;
	bool want_out;
	size_t left; /* --rounds: requests still to send */
	bool done;   /* --rounds: all sent and answered */
};

struct opts {
	const char *host;
	int port;
	const char *devfile;
	int conns;
	int threads;
	double warmup;
	double duration;
	bool save;
	unsigned verify;
	unsigned rounds; /* 0: run for the duration */
	bool full;       /* --full-answers: no token_held */
	fl_time now;     /* the phones' clocks in every body */
};

struct worker {
	const struct opts *o;
	struct bench_dev *devs;
	size_t n_devs;
	char **bodies; /* per device: the check-in body */
	struct conn *conns;
	int first_conn, n_conns;
	uint64_t start_ns, measure_ns, end_ns;
	uint64_t last_ns; /* --rounds: when the last answer arrived */
	int n_done;       /* --rounds: connections finished */
	/* results */
	uint64_t ok, non2xx, errors, reconnects, verified, verify_fail;
	uint64_t body_bytes, resp_bytes, answers;
	int last_bad_status;
	struct bench_hist hist;
	pthread_t th;
};

static struct sockaddr_in g_addr;

static void usage(void) __attribute__((noreturn));

static void conn_open(struct worker *w, int ep, struct conn *c)
{
	struct epoll_event ev = {0};
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		bench_die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) != 0 &&
	    errno != EINPROGRESS)
		bench_die("connect: %s", strerror(errno));
	c->connected = false;
	c->rlen = 0;
	c->wlen = c->woff = 0;
	c->want_out = true;
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		bench_die("epoll_ctl: %s", strerror(errno));
	(void)w;
}

static void conn_reopen(struct worker *w, int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	w->reconnects++;
	conn_open(w, ep, c);
}

/* Builds the next check-in of this connection's next device. */
static void build_request(struct worker *w, struct conn *c)
{
	struct bench_dev *d;
	const char *body;
	uint8_t mac[FL_MAC_LEN];
	char hex[2 * FL_MAC_LEN + 1];
	size_t blen;
	int n;

	c->cur_dev = c->dev_next;
	c->dev_next += (size_t)w->o->conns;
	if (c->dev_next >= w->n_devs)
		c->dev_next = c->dev_first;
	d = &w->devs[c->cur_dev];
	body = w->bodies[c->cur_dev];
	blen = strlen(body);
	c->cur_ctr = ++d->counter;
	if (fl_dp_request_mac(mac, d->mac_key, "POST", FL_DP_PATH_CHECKIN, body,
	                      blen, c->cur_ctr) != FL_OK)
		bench_die("request MAC failed");
	fl_hex_encode(hex, mac, sizeof(mac));
	n = snprintf(c->wbuf, sizeof(c->wbuf),
	             "POST " FL_DP_PATH_CHECKIN " HTTP/1.1\r\n"
	             "Host: %s:%d\r\n"
	             "Content-Type: application/json\r\n"
	             "Content-Length: %zu\r\n"
	             "X-Finlock-Device: %s\r\n"
	             "X-Finlock-Counter: %llu\r\n"
	             "X-Finlock-Mac: %s\r\n"
	             "\r\n%s",
	             w->o->host, w->o->port, blen, d->id,
	             (unsigned long long)c->cur_ctr, hex, body);
	if (n < 0 || (size_t)n >= sizeof(c->wbuf))
		bench_die("request too large");
	c->wlen = (size_t)n;
	c->woff = 0;
}

static void set_interest(int ep, struct conn *c, bool out)
{
	struct epoll_event ev = {0};

	if (c->want_out == out)
		return;
	ev.events = out ? (EPOLLOUT | EPOLLIN) : EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = out;
}

/* Writes what is pending; false when the connection failed. */
static bool flush_out(int ep, struct conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t k = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);

		if (k < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_interest(ep, c, true);
				return true;
			}
			if (errno == EINTR)
				continue;
			return false;
		}
		c->woff += (size_t)k;
	}
	set_interest(ep, c, false);
	return true;
}

static bool send_next(struct worker *w, int ep, struct conn *c)
{
	if (w->o->rounds) {
		if (c->left == 0) {
			if (!c->done) {
				c->done = true;
				w->n_done++;
			}
			return true;
		}
		c->left--;
	}
	build_request(w, c);
	c->sent_ns = bench_now_ns();
	return flush_out(ep, c);
}

/* A phone's check-in body (as the agent writes it) for device d. */
static char *body_of(const struct opts *o, const struct bench_dev *d)
{
	struct fl_dp_checkin_req r = {0};
	char *body = NULL;

	r.seq = d->seq;
	r.trusted_time = o->now;
	r.wall_time = o->now;
	strcpy(r.iccid, "8925402000000000001");
	r.token_held = !o->full && d->seq > 0;
	if (fl_dp_checkin_req_encode(&r, &body) != FL_OK ||
	    strlen(body) > BODY_MAX)
		bench_die("cannot encode a check-in body");
	return body;
}

/* Checks one answer as the phone would: decode, MAC over the request's
 * counter; a token is there unless the phone holds the newest. */
static void verify_answer(struct worker *w, struct conn *c, const char *body,
                          size_t len)
{
	struct fl_dp_checkin_answer a = {0};
	uint8_t mac[FL_MAC_LEN];
	const struct bench_dev *d = &w->devs[c->cur_dev];

	if (fl_dp_checkin_answer_decode(body, len, &a) != FL_OK ||
	    fl_dp_answer_mac(mac, d->mac_key, c->cur_ctr, a.time,
	                     a.next_checkin, a.token ? a.token : "") != FL_OK ||
	    fl_ct_memcmp(mac, a.mac, FL_MAC_LEN) != 0 ||
	    (a.token == NULL && w->o->full))
		w->verify_fail++;
	else
		w->verified++;
	fl_dp_checkin_answer_clear(&a);
}

/* A newer token in an answer: the phone holds it now, and says so. */
static void follow_seq(struct worker *w, struct conn *c, const char *body,
                       size_t len)
{
	struct bench_dev *d = &w->devs[c->cur_dev];
	uint64_t seq = bench_answer_seq(body, len);

	if (seq > d->seq) {
		d->seq = seq;
		free(w->bodies[c->cur_dev]);
		w->bodies[c->cur_dev] = body_of(w->o, d);
	}
}

static void on_readable(struct worker *w, int ep, struct conn *c, uint64_t now)
{
	for (;;) {
		ssize_t k =
		        read(c->fd, c->rbuf + c->rlen, RBUF_CAP - 1 - c->rlen);
		struct bench_answer an;
		bool counted;
		long total;

		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR &&
		               errno != EWOULDBLOCK)) {
			w->errors++;
			conn_reopen(w, ep, c);
			return;
		}
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		c->rlen += (size_t)k;
		total = bench_http_parse(c->rbuf, c->rlen, RBUF_CAP, &an);
		if (total < 0) {
			w->errors++;
			conn_reopen(w, ep, c);
			return;
		}
		if (total == 0)
			continue;
		counted = now >= w->measure_ns && now < w->end_ns;
		w->last_ns = now;
		if (an.status >= 200 && an.status <= 299) {
			if (counted) {
				w->ok++;
				bench_hist_add(&w->hist, now - c->sent_ns);
			}
			w->answers++;
			w->body_bytes += an.body_len;
			w->resp_bytes += (uint64_t)total;
			if (w->o->verify && w->answers % w->o->verify == 0)
				verify_answer(w, c, c->rbuf + an.hdr_len,
				              an.body_len);
			if (!w->o->full)
				follow_seq(w, c, c->rbuf + an.hdr_len,
				           an.body_len);
		} else {
			if (counted)
				w->non2xx++;
			w->last_bad_status = an.status;
		}
		c->rlen -= (size_t)total;
		if (c->rlen > 0)
			memmove(c->rbuf, c->rbuf + total, c->rlen);
		if (an.close_after) {
			conn_reopen(w, ep, c);
			return;
		}
		if (now < w->end_ns && !send_next(w, ep, c)) {
			w->errors++;
			conn_reopen(w, ep, c);
		}
		return;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	int ep = epoll_create1(0);

	if (ep < 0)
		bench_die("epoll_create1: %s", strerror(errno));
	for (int i = 0; i < w->n_conns; i++)
		conn_open(w, ep, &w->conns[i]);
	for (;;) {
		uint64_t now = bench_now_ns();
		int n;

		if (now >= w->end_ns ||
		    (w->o->rounds && w->n_done == w->n_conns))
			break;
		n = epoll_wait(ep, evs, 256, 50);
		now = bench_now_ns();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (!c->connected && (evs[i].events & EPOLLOUT)) {
				int err = 0;
				socklen_t len = sizeof(err);

				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err,
				           &len);
				if (err != 0) {
					w->errors++;
					conn_reopen(w, ep, c);
					continue;
				}
				c->connected = true;
				if (now < w->end_ns && !send_next(w, ep, c)) {
					w->errors++;
					conn_reopen(w, ep, c);
				}
				continue;
			}
			if (evs[i].events & EPOLLIN) {
				on_readable(w, ep, c, now);
				continue;
			}
			if (evs[i].events & EPOLLOUT) {
				if (!flush_out(ep, c)) {
					w->errors++;
					conn_reopen(w, ep, c);
				}
				continue;
			}
			if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
				w->errors++;
				conn_reopen(w, ep, c);
			}
		}
	}
	for (int i = 0; i < w->n_conns; i++)
		close(w->conns[i].fd);
	close(ep);
	return NULL;
}

/* Writes n devices with random ids and keys: the request bytes of a real
 * devices file, for a baseline run when no finlockd can enroll them. */
static void fake_devices(const char *path, long n)
{
	struct bench_dev *d;
	uint8_t raw[16];

	if (n <= 0)
		usage();
	if (fl_crypto_init() != FL_OK)
		bench_die("libsodium failed to start");
	d = bench_alloc((size_t)n * sizeof(*d));
	for (long i = 0; i < n; i++) {
		fl_random(raw, sizeof(raw));
		strcpy(d[i].id, "dv_");
		if (fl_b64url_encode(d[i].id + 3, sizeof(d[i].id) - 3, raw,
		                     sizeof(raw)) != FL_OK)
			bench_die("base64 failed");
		fl_random(d[i].mac_key, sizeof(d[i].mac_key));
		d[i].seq = 1;
	}
	bench_devs_save(path, d, (size_t)n);
	free(d);
}

/* A loopback port nobody listens on now (bound to port 0, then let go). */
static int free_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		bench_die("cannot find a free port: %s", strerror(errno));
	close(fd);
	return ntohs(a.sin_port);
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen --port P --devices FILE [--host ADDR] "
	                "[--conns N] [--threads N]\n"
	                "               [--warmup S] [--duration S] [--save] "
	                "[--verify N] [--full-answers]\n"
	                "       loadgen --fake-devices N FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {"127.0.0.1", 0, NULL, 256, 2, 2.0, 10.0, false,
	                 0,           0, false, 0};
	struct bench_dev *devs;
	size_t n_devs;
	char **bodies;
	struct conn *conns;
	struct worker *ws;
	struct bench_hist *all;
	uint64_t ok = 0, non2xx = 0, errors = 0, reconnects = 0, verified = 0,
	         verify_fail = 0, answers = 0, body_bytes = 0, resp_bytes = 0;
	int last_bad = 0;
	struct timespec rt;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--fake-devices") == 0 && i + 2 < argc) {
			fake_devices(argv[i + 2], atol(argv[i + 1]));
			return 0;
		}
		if (strcmp(a, "--free-port") == 0) {
			printf("%d\n", free_port());
			return 0;
		}
		if (strcmp(a, "--save") == 0) {
			o.save = true;
			continue;
		}
		if (strcmp(a, "--full-answers") == 0) {
			o.full = true;
			continue;
		}
		if (v == NULL)
			usage();
		if (strcmp(a, "--host") == 0)
			o.host = v;
		else if (strcmp(a, "--port") == 0)
			o.port = atoi(v);
		else if (strcmp(a, "--devices") == 0)
			o.devfile = v;
		else if (strcmp(a, "--conns") == 0)
			o.conns = atoi(v);
		else if (strcmp(a, "--threads") == 0)
			o.threads = atoi(v);
		else if (strcmp(a, "--warmup") == 0)
			o.warmup = atof(v);
		else if (strcmp(a, "--duration") == 0)
			o.duration = atof(v);
		else if (strcmp(a, "--verify") == 0)
			o.verify = (unsigned)atoi(v);
		else if (strcmp(a, "--rounds") == 0)
			o.rounds = (unsigned)atoi(v);
		else
			usage();
		i++;
	}
	if (o.port <= 0 || o.devfile == NULL || o.conns <= 0 ||
	    o.conns > MAX_CONNS || o.threads <= 0 || o.threads > o.conns ||
	    o.duration <= 0 || o.warmup < 0)
		usage();
	if (fl_crypto_init() != FL_OK)
		bench_die("libsodium failed to start");
	memset(&g_addr, 0, sizeof(g_addr));
	g_addr.sin_family = AF_INET;
	g_addr.sin_port = htons((uint16_t)o.port);
	if (inet_pton(AF_INET, o.host, &g_addr.sin_addr) != 1)
		bench_die("bad host %s", o.host);

	bench_devs_load(o.devfile, &devs, &n_devs);
	if (n_devs < (size_t)o.conns)
		bench_die("%zu devices for %d connections: each connection "
		          "needs its own",
		          n_devs, o.conns);
	/* The body a phone in good standing sends: the token it holds,
	 * its clocks, no events to report. */
	clock_gettime(CLOCK_REALTIME, &rt);
	o.now = (fl_time)rt.tv_sec;
	bodies = bench_alloc(n_devs * sizeof(*bodies));
	for (size_t i = 0; i < n_devs; i++)
		bodies[i] = body_of(&o, &devs[i]);

	conns = bench_alloc((size_t)o.conns * sizeof(*conns));
	for (int i = 0; i < o.conns; i++) {
		conns[i].dev_first = conns[i].dev_next = (size_t)i;
		conns[i].rbuf = bench_alloc(RBUF_CAP);
		/* its devices: i, i + conns, ... */
		conns[i].left =
		        o.rounds * ((n_devs - (size_t)i + (size_t)o.conns - 1) /
		                    (size_t)o.conns);
	}
	if (o.rounds)
		o.warmup = 0; /* every request counts; --duration is a cap */
	ws = bench_alloc((size_t)o.threads * sizeof(*ws));
	{
		uint64_t t0 = bench_now_ns();
		uint64_t m0 = t0 + (uint64_t)(o.warmup * 1e9);
		uint64_t e0 = m0 + (uint64_t)(o.duration * 1e9);

		for (int t = 0; t < o.threads; t++) {
			struct worker *w = &ws[t];

			w->o = &o;
			w->devs = devs;
			w->n_devs = n_devs;
			w->bodies = bodies;
			w->first_conn = t * o.conns / o.threads;
			w->n_conns =
			        (t + 1) * o.conns / o.threads - w->first_conn;
			w->conns = conns + w->first_conn;
			w->start_ns = t0;
			w->measure_ns = m0;
			w->end_ns = e0;
			if (pthread_create(&w->th, NULL, worker_main, w) != 0)
				bench_die("pthread_create failed");
		}
	}
	all = bench_alloc(sizeof(*all));
	uint64_t t_start = ws[0].start_ns, t_last = t_start;
	for (int t = 0; t < o.threads; t++) {
		struct worker *w = &ws[t];

		pthread_join(w->th, NULL);
		ok += w->ok;
		non2xx += w->non2xx;
		errors += w->errors;
		reconnects += w->reconnects;
		verified += w->verified;
		verify_fail += w->verify_fail;
		answers += w->answers;
		body_bytes += w->body_bytes;
		resp_bytes += w->resp_bytes;
		if (w->last_bad_status)
			last_bad = w->last_bad_status;
		if (w->last_ns > t_last)
			t_last = w->last_ns;
		bench_hist_merge(all, &w->hist);
	}
	if (o.save)
		bench_devs_save(o.devfile, devs, n_devs);

	if (o.rounds) {
		double el = (double)(t_last - t_start) / 1e9;

		printf("rps=%.0f\nelapsed=%.2f\n",
		       el > 0 ? (double)ok / el : 0.0, el);
	} else {
		printf("rps=%.0f\n", (double)ok / o.duration);
	}
	printf("ok=%llu\nnon2xx=%llu\nerrors=%llu\nreconnects=%llu\n",
	       (unsigned long long)ok, (unsigned long long)non2xx,
	       (unsigned long long)errors, (unsigned long long)reconnects);
	printf("last_bad_status=%d\n", last_bad);
	printf("p50_us=%.0f\np99_us=%.0f\n", bench_hist_pct(all, 50),
	       bench_hist_pct(all, 99));
	printf("body_bytes=%.0f\nresp_bytes=%.0f\n",
	       answers ? (double)body_bytes / (double)answers : 0.0,
	       answers ? (double)resp_bytes / (double)answers : 0.0);
	printf("verified=%llu\nverify_fail=%llu\n",
	       (unsigned long long)verified, (unsigned long long)verify_fail);
	printf("conns=%d\nthreads=%d\ndevices=%zu\nduration=%.1f\n", o.conns,
	       o.threads, n_devs, o.duration);
	return 0;
}
