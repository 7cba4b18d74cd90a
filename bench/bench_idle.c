/*
 * bench_idle.c - many idle connections from many addresses, and what a
 * normal client sees meanwhile (bench/run.sh, part "idle").
 *
 *   bench_idle --port P [--conns 10000] [--addrs 100] [--mode fresh|kept]
 *              [--probe 10] [--rate 50] [--hold 0] [--ready FILE]
 *              [--retry-ms 1000] [--open-timeout 30]
 *
 * Opens --conns connections to 127.0.0.1:P, spread round robin over
 * --addrs loopback source addresses 127.3.x.y (phones behind a few carrier
 * NATs: --addrs 4; behind many: 100 and more), and leaves them idle:
 *
 *   fresh  the connection sends nothing (a phone that connected and went
 *          quiet, or a client holding sockets open on purpose);
 *   kept   the connection sends one GET /healthz, reads the answer and
 *          then stays open (keep-alive) without a second request.
 *
 * Whenever the server closes one (its header deadline, its caps), it is
 * opened again --retry-ms later, as the phone or the attacker would: the
 * server never gets rid of them for long.
 *
 * Once every connection has been opened (or no more opened for 2 s, or
 * --open-timeout passed), a
 * normal client on 127.0.0.1 asks GET /healthz --rate times a second for
 * --probe seconds, each on a new connection (as a monitoring probe does),
 * and the answer times from connect to the end of the answer go into a
 * histogram. Then FILE (--ready) is created, so that bench/run.sh can
 * start its check-in load while the connections are held, and they are
 * held for --hold more seconds.
 *
 * With --conns 0 the same probes run against the server alone (the
 * baseline of the same run).
 *
 * Output: key=value lines: opened (connections whose connect completed),
 * open_s (time to open them all), probes, probe_fail, probe_p50_us,
 * probe_p99_us, probe_max_us, closed_by_server (idle connections the
 * server closed), reopened, open_min/open_end (how many were open at the
 * lowest point and at the end of the probes and the hold), cpu_pct (this
 * program's own CPU time over its run: it shares the cores with the
 * server).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

enum cstate {
	C_CONNECTING, /* connect in progress */
	C_OPEN,       /* connected (kept: the request sent, answer pending) */
	C_IDLE,       /* kept: answered, now idle */
	C_WAIT,       /* closed, to be opened again at retry_ns */
};

struct iconn {
	int fd;
	uint32_t src; /* 127.3.x.y */
	enum cstate st;
	uint64_t retry_ns;
	size_t got; /* kept: answer bytes read */
};

static struct sockaddr_in g_addr;
static int g_ep;
static bool g_kept;
static atomic_bool g_probing;
static atomic_uint_fast64_t g_open; /* connections open now */

static const char REQ[] = "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n";

static void iconn_open(struct iconn *c)
{
	struct sockaddr_in from = {.sin_family = AF_INET};
	struct epoll_event ev = {0};
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		bench_die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	from.sin_addr.s_addr = htonl(c->src);
	if (bind(c->fd, (const struct sockaddr *)&from, sizeof(from)) != 0)
		bench_die("bind 127.3.x.y: %s", strerror(errno));
	if (connect(c->fd, (const struct sockaddr *)&g_addr, sizeof(g_addr)) !=
	            0 &&
	    errno != EINPROGRESS)
		bench_die("connect: %s", strerror(errno));
	c->st = C_CONNECTING;
	c->got = 0;
	ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = c;
	if (epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		bench_die("epoll_ctl: %s", strerror(errno));
}

/* The server closed c (or refused it): opened again retry later. */
static void iconn_lost(struct iconn *c, uint64_t now, uint64_t retry_ns,
                       uint64_t *closed)
{
	if (c->st == C_OPEN || c->st == C_IDLE)
		atomic_fetch_sub(&g_open, 1);
	epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->st = C_WAIT;
	c->retry_ns = now + retry_ns;
	(*closed)++;
}

static void iconn_event(struct iconn *c, uint32_t ev, uint64_t now,
                        uint64_t retry_ns, uint64_t *closed)
{
	char buf[4096];

	if (c->st == C_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		struct epoll_event e = {0};

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
			iconn_lost(c, now, retry_ns, closed);
			return;
		}
		c->st = C_OPEN;
		atomic_fetch_add(&g_open, 1);
		if (g_kept &&
		    write(c->fd, REQ, sizeof(REQ) - 1) != (ssize_t)sizeof(REQ) - 1) {
			iconn_lost(c, now, retry_ns, closed);
			return;
		}
		e.events = EPOLLIN | EPOLLRDHUP;
		e.data.ptr = c;
		epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &e);
		return;
	}
	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));

		if (n > 0) {
			/* kept: the /healthz answer (its end is not parsed: the
			 * connection only has to stay open after it) */
			c->got += (size_t)n;
			if (c->st == C_OPEN && g_kept)
				c->st = C_IDLE;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    !(ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
			return;
		iconn_lost(c, now, retry_ns, closed);
		return;
	}
}

/* --- the normal client ---------------------------------------------------- */

struct probe {
	double seconds, rate;
	struct bench_hist hist;
	uint64_t ok, fail;
};

/* One GET /healthz on a new connection; its time in ns, 0 on failure. */
static uint64_t probe_once(void)
{
	uint64_t t0 = bench_now_ns();
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	char buf[2048];
	size_t got = 0;
	bool ok = false;

	if (fd < 0)
		return 0;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&g_addr, sizeof(g_addr)) != 0 ||
	    write(fd, REQ, sizeof(REQ) - 1) != (ssize_t)sizeof(REQ) - 1) {
		close(fd);
		return 0;
	}
	/* up to 60 s for the whole answer (headers and a short body) */
	while (bench_now_ns() - t0 < 60ull * 1000000000ull) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		const char *end;

		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL) {
			const char *cl = NULL;

			for (const char *q = buf; q < end && cl == NULL; q++)
				if (strncasecmp(q, "\r\nContent-Length:", 17) == 0)
					cl = q + 2;
			size_t want = (size_t)(end + 4 - buf) +
			              (cl != NULL ? (size_t)atol(cl + 15) : 0);

			if (got >= want) {
				ok = strncmp(buf, "HTTP/1.1 200", 12) == 0;
				break;
			}
		}
		if (got >= sizeof(buf) - 1)
			break;
	}
	close(fd);
	return ok ? bench_now_ns() - t0 : 0;
}

static void *probe_main(void *arg)
{
	struct probe *p = arg;
	uint64_t start = bench_now_ns();
	uint64_t step = (uint64_t)(1e9 / p->rate), next = start;

	while (bench_now_ns() - start < (uint64_t)(p->seconds * 1e9)) {
		uint64_t ns = probe_once(), now;

		if (ns > 0) {
			bench_hist_add(&p->hist, ns);
			p->ok++;
		} else {
			p->fail++;
		}
		next += step;
		now = bench_now_ns();
		if (next > now) {
			struct timespec ts = {(time_t)((next - now) / 1000000000u),
			                      (long)((next - now) % 1000000000u)};
			nanosleep(&ts, NULL);
		} else {
			next = now; /* behind: no burst to catch up */
		}
	}
	atomic_store(&g_probing, false);
	return NULL;
}

/* --- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	long conns = 10000, addrs = 100, retry_ms = 1000;
	double hold = 0, open_timeout = 30;
	const char *ready = NULL;
	struct probe *pr = bench_alloc(sizeof(*pr));
	struct iconn *cs;
	struct rlimit rl;
	struct epoll_event evs[256];
	uint64_t t0, t_open = 0, closed = 0, reopened = 0, open_min = UINT64_MAX;
	uint64_t retry_ns, opened_ever = 0;
	pthread_t th;
	int phase = 0; /* 0 opening, 1 probing, 2 holding */
	uint64_t phase_t = 0, last_sample = 0, grew = 0;

	pr->seconds = 10;
	pr->rate = 50;
	g_addr.sin_family = AF_INET;
	g_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "--port") == 0)
			g_addr.sin_port = htons((uint16_t)atoi(v));
		else if (strcmp(k, "--conns") == 0)
			conns = atol(v);
		else if (strcmp(k, "--addrs") == 0)
			addrs = atol(v);
		else if (strcmp(k, "--mode") == 0)
			g_kept = strcmp(v, "kept") == 0;
		else if (strcmp(k, "--probe") == 0)
			pr->seconds = atof(v);
		else if (strcmp(k, "--rate") == 0)
			pr->rate = atof(v);
		else if (strcmp(k, "--hold") == 0)
			hold = atof(v);
		else if (strcmp(k, "--ready") == 0)
			ready = v;
		else if (strcmp(k, "--retry-ms") == 0)
			retry_ms = atol(v);
		else if (strcmp(k, "--open-timeout") == 0)
			open_timeout = atof(v);
		else
			bench_die("unknown option %s", k);
	}
	if (g_addr.sin_port == 0 || conns < 0 || addrs < 1 || addrs > 65000 ||
	    pr->rate <= 0)
		bench_die("usage: bench_idle --port P [--conns N] [--addrs A] "
		          "[--mode fresh|kept] [--probe S] [--rate R] "
		          "[--hold S] [--ready FILE]");
	retry_ns = (uint64_t)retry_ms * 1000000u;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)conns + 256) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)conns + 256)
			bench_die("%ld connections need more than %ld files", conns,
			          (long)rl.rlim_cur);
	}
	g_ep = epoll_create1(0);
	if (g_ep < 0)
		bench_die("epoll_create1: %s", strerror(errno));
	cs = bench_alloc((size_t)(conns ? conns : 1) * sizeof(*cs));
	t0 = bench_now_ns();
	for (long i = 0; i < conns; i++) {
		/* 127.3.0.1, 127.3.0.2, ...: address i % addrs */
		cs[i].src = 0x7f030000u + 1u + (uint32_t)(i % addrs);
		iconn_open(&cs[i]);
	}
	for (;;) {
		int n = epoll_wait(g_ep, evs, 256, 20);
		uint64_t now = bench_now_ns();

		for (int i = 0; i < n; i++)
			iconn_event(evs[i].data.ptr, evs[i].events, now, retry_ns,
			            &closed);
		for (long i = 0; i < conns; i++) {
			if (cs[i].st == C_WAIT && cs[i].retry_ns <= now) {
				iconn_open(&cs[i]);
				reopened++;
			}
		}
		if (phase == 0) {
			uint64_t open = atomic_load(&g_open);

			if (open > opened_ever) {
				opened_ever = open;
				grew = now;
			}
			/* all open, or no more for 2 s (the server keeps the
			 * rest out), or the time is up */
			if ((long)open >= conns ||
			    (now - grew > 2000000000u && now - t0 > 2000000000u) ||
			    now - t0 > (uint64_t)(open_timeout * 1e9)) {
				t_open = now - t0;
				printf("  %lu of %ld idle connections (%s) open from "
				       "%ld addresses after %.1f s\n",
				       (unsigned long)open, conns,
				       g_kept ? "kept alive after a request"
				              : "nothing sent",
				       addrs, (double)t_open / 1e9);
				fflush(stdout);
				atomic_store(&g_probing, true);
				if (pthread_create(&th, NULL, probe_main, pr) != 0)
					bench_die("pthread_create");
				phase = 1;
				phase_t = now;
			}
			continue;
		}
		if (now - last_sample > 200000000u) {
			uint64_t open = atomic_load(&g_open);

			if (open < open_min)
				open_min = open;
			last_sample = now;
		}
		if (phase == 1 && !atomic_load(&g_probing)) {
			pthread_join(th, NULL);
			if (ready != NULL) {
				FILE *f = fopen(ready, "w");

				if (f != NULL)
					fclose(f);
			}
			phase = 2;
			phase_t = now;
		}
		if (phase == 2 && now - phase_t >= (uint64_t)(hold * 1e9))
			break;
	}
	printf("  /healthz from 127.0.0.1, a new connection each, %.0f/s for "
	       "%.0f s: p50 %.0f us, p99 %.0f us, max %.0f us, %lu failed\n",
	       pr->rate, pr->seconds, bench_hist_pct(&pr->hist, 50),
	       bench_hist_pct(&pr->hist, 99), (double)pr->hist.max_ns / 1e3,
	       (unsigned long)pr->fail);
	printf("  idle connections: %lu closed by the server and %lu opened "
	       "again; at least %lu open at any time after the first %.1f s, "
	       "%lu at the end\n",
	       (unsigned long)closed, (unsigned long)reopened,
	       (unsigned long)(open_min == UINT64_MAX ? 0 : open_min),
	       (double)t_open / 1e9, (unsigned long)atomic_load(&g_open));
	{
		struct rusage ru;
		double cpu = 0, wall = (double)(bench_now_ns() - t0) / 1e9;

		if (getrusage(RUSAGE_SELF, &ru) == 0)
			cpu = (double)ru.ru_utime.tv_sec +
			      (double)ru.ru_utime.tv_usec / 1e6 +
			      (double)ru.ru_stime.tv_sec +
			      (double)ru.ru_stime.tv_usec / 1e6;
		/* the machine's cores are shared with the server */
		printf("  this client's own CPU: %.1f s in %.1f s (%.0f%% of "
		       "a core)\n",
		       cpu, wall, 100.0 * cpu / wall);
		printf("cpu_pct=%.0f\n", 100.0 * cpu / wall);
	}
	printf("opened=%lu\nopen_s=%.1f\nprobes=%lu\nprobe_fail=%lu\n"
	       "probe_p50_us=%.0f\nprobe_p99_us=%.0f\nprobe_max_us=%.0f\n"
	       "closed_by_server=%lu\nreopened=%lu\nopen_min=%lu\n"
	       "open_end=%lu\n",
	       (unsigned long)opened_ever, (double)t_open / 1e9,
	       (unsigned long)pr->ok, (unsigned long)pr->fail,
	       bench_hist_pct(&pr->hist, 50), bench_hist_pct(&pr->hist, 99),
	       (double)pr->hist.max_ns / 1e3, (unsigned long)closed,
	       (unsigned long)reopened,
	       (unsigned long)(open_min == UINT64_MAX ? 0 : open_min),
	       (unsigned long)atomic_load(&g_open));
	for (long i = 0; i < conns; i++)
		if (cs[i].fd >= 0 && cs[i].st != C_WAIT)
			close(cs[i].fd);
	free(cs);
	free(pr);
	return 0;
}
