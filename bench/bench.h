/*
 * bench.h - what every finlock benchmark program shares: a monotonic clock,
 * a latency histogram, the devices file the load tools read and write, and
 * the one-line result format bench/run.sh gathers into its report.
 *
 * Each benchmark prints, besides its own detail lines, one line per
 * measurement:
 *
 *   RESULT|<id>|<name>|<figure>|<baseline>|<ratio>|<target>|<met>
 *
 * figure and baseline carry their units ("41,200 req/s"); ratio is
 * figure/baseline as the measurement defines it ("-" when there is no
 * baseline); met is "yes", "no" or "-" (no target, or not measured). A
 * measurement that could not be made prints met "-" and says why in the
 * figure field, never a made-up number.
 *
 * The devices file (written by the setup tools, read and updated by the
 * load generators) has one line per enrolled device:
 *
 *   <device id> <check-in MAC key, 64 hex digits> <last counter used> <seq>
 *   <first IMEI, or "-">
 *
 * Everything here is header-only (static inline) because the Makefile
 * builds each bench/bench_*.c as one translation unit.
 *
 * THREAD SAFETY: the histogram and devices arrays belong to one thread;
 * bench_result is called from the main thread.
 */
#ifndef FL_BENCH_H
#define FL_BENCH_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/crypto.h"
#include "core/devproto.h"

/* Nanoseconds on the monotonic clock. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Prints a message and exits 1 (benchmark programs are not libraries). */
static inline void bench_die(const char *fmt, ...)
        __attribute__((format(printf, 1, 2), noreturn));
static inline void bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* Allocation that dies on failure (benchmark main programs only). */
static inline void *bench_alloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL)
		bench_die("out of memory (%zu bytes)", n);
	return p;
}

/* --- latency histogram --------------------------------------------------
 * Buckets of 1 us below 1 ms, 10 us below 10 ms, 100 us below 100 ms, 1 ms
 * below 10 s; the last bucket holds everything slower. A percentile is
 * reported as its bucket's upper edge, so it is never optimistic by more
 * than one bucket width. */

#define BENCH_HIST_N (1000 + 900 + 900 + 9900 + 1)

struct bench_hist {
	uint64_t n[BENCH_HIST_N];
	uint64_t count;
	uint64_t max_ns;
	double sum_ns;
};

static inline size_t bench_hist_bucket(uint64_t us)
{
	if (us < 1000)
		return (size_t)us;
	if (us < 10000)
		return 1000 + (size_t)((us - 1000) / 10);
	if (us < 100000)
		return 1900 + (size_t)((us - 10000) / 100);
	if (us < 10000000)
		return 2800 + (size_t)((us - 100000) / 1000);
	return BENCH_HIST_N - 1;
}

/* The upper edge of bucket b, in microseconds. */
static inline double bench_hist_edge(size_t b)
{
	if (b < 1000)
		return (double)b + 1;
	if (b < 1900)
		return 1000.0 + (double)(b - 1000 + 1) * 10;
	if (b < 2800)
		return 10000.0 + (double)(b - 1900 + 1) * 100;
	if (b < BENCH_HIST_N - 1)
		return 100000.0 + (double)(b - 2800 + 1) * 1000;
	return INFINITY;
}

static inline void bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	h->n[bench_hist_bucket(ns / 1000)]++;
	h->count++;
	h->sum_ns += (double)ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

static inline void bench_hist_merge(struct bench_hist *into,
                                    const struct bench_hist *from)
{
	for (size_t i = 0; i < BENCH_HIST_N; i++)
		into->n[i] += from->n[i];
	into->count += from->count;
	into->sum_ns += from->sum_ns;
	if (from->max_ns > into->max_ns)
		into->max_ns = from->max_ns;
}

/* The p-th percentile (0 < p <= 100) in microseconds; NAN when empty. */
static inline double bench_hist_pct(const struct bench_hist *h, double p)
{
	uint64_t want, seen = 0;

	if (h->count == 0)
		return NAN;
	want = (uint64_t)ceil((double)h->count * p / 100.0);
	if (want == 0)
		want = 1;
	for (size_t i = 0; i < BENCH_HIST_N; i++) {
		seen += h->n[i];
		if (seen >= want)
			return i == BENCH_HIST_N - 1 ? (double)h->max_ns / 1e3
			                             : bench_hist_edge(i);
	}
	return (double)h->max_ns / 1e3;
}

/* --- devices file -------------------------------------------------------- */

struct bench_dev {
	char id[FL_DP_DEVICE_ID_MAX + 1];
	uint8_t mac_key[FL_MAC_KEY_LEN];
	uint64_t counter; /* last request counter used */
	uint64_t seq;     /* seq of the newest token seen */
	char imei[16];    /* first IMEI, "" if unknown */
};

/* The seq of the device token in a check-in or wait answer body[len],
 * read from the start of its claims without checking anything (0 when
 * the answer has no token): what the phone reports next. */
static inline uint64_t bench_answer_seq(const char *body, size_t len)
{
	static const char pre[] = "\"token\":\"v4.public.";
	const char *p = NULL, *q;
	uint8_t bin[192];
	size_t n = 0;

	for (size_t i = 0; i + sizeof(pre) - 1 <= len; i++)
		if (body[i] == '"' &&
		    memcmp(body + i, pre, sizeof(pre) - 1) == 0) {
			p = body + i + sizeof(pre) - 1;
			break;
		}
	/* 256 base64url characters: the claims' first 192 bytes */
	if (p == NULL || (size_t)(body + len - p) < 256 ||
	    fl_b64url_decode(bin, sizeof(bin), &n, p, 256) != FL_OK)
		return 0;
	for (size_t i = 0; i + 6 < n; i++)
		if (memcmp(bin + i, "\"seq\":", 6) == 0) {
			uint64_t v = 0;

			for (q = (const char *)bin + i + 6;
			     q < (const char *)bin + n && *q >= '0' && *q <= '9';
			     q++)
				v = v * 10 + (uint64_t)(*q - '0');
			return v;
		}
	return 0;
}

/* Reads the devices file; *out (caller frees) holds *n devices. */
static inline void bench_devs_load(const char *path, struct bench_dev **out,
                                   size_t *n)
{
	FILE *f = fopen(path, "r");
	char id[128], hex[128], imei[32];
	unsigned long long ctr, seq;
	size_t cap = 1024, k = 0;
	struct bench_dev *d;

	if (f == NULL)
		bench_die("%s: %s", path, strerror(errno));
	d = bench_alloc(cap * sizeof(*d));
	while (fscanf(f, "%127s %127s %llu %llu %31s", id, hex, &ctr, &seq,
	              imei) == 5) {
		if (k == cap) {
			cap *= 2;
			d = realloc(d, cap * sizeof(*d));
			if (d == NULL)
				bench_die("out of memory");
		}
		if (strlen(id) > FL_DP_DEVICE_ID_MAX || strlen(imei) > 15 ||
		    fl_hex_decode(d[k].mac_key, FL_MAC_KEY_LEN, hex,
		                  strlen(hex)) != FL_OK)
			bench_die("%s: bad line %zu", path, k + 1);
		strcpy(d[k].id, id);
		d[k].counter = ctr;
		d[k].seq = seq;
		strcpy(d[k].imei, strcmp(imei, "-") == 0 ? "" : imei);
		k++;
	}
	fclose(f);
	*out = d;
	*n = k;
}

/* Writes the devices file (through a temp file renamed over it). */
static inline void bench_devs_save(const char *path, const struct bench_dev *d,
                                   size_t n)
{
	char tmp[4096], hex[2 * FL_MAC_KEY_LEN + 1];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		bench_die("%s: %s", tmp, strerror(errno));
	for (size_t i = 0; i < n; i++) {
		fl_hex_encode(hex, d[i].mac_key, FL_MAC_KEY_LEN);
		fprintf(f, "%s %s %llu %llu %s\n", d[i].id, hex,
		        (unsigned long long)d[i].counter,
		        (unsigned long long)d[i].seq,
		        d[i].imei[0] ? d[i].imei : "-");
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		bench_die("%s: %s", path, strerror(errno));
}

/* --- HTTP answers ----------------------------------------------------------
 * The load tools speak HTTP/1.1 with keep-alive themselves (epoll, one
 * request in flight per connection); finlockd and nginx answer with a
 * Content-Length. */

struct bench_answer {
	int status;       /* HTTP status */
	size_t hdr_len;   /* bytes of status line and headers */
	size_t body_len;  /* bytes of body */
	bool close_after; /* the server closes the connection */
};

/* Parses the answer at the start of buf[len] (buf[len] must be writable:
 * it is set to NUL). Returns the answer's total length, 0 if more bytes
 * are needed, -1 if it is malformed or longer than cap. */
static inline long bench_http_parse(char *buf, size_t len, size_t cap,
                                    struct bench_answer *a)
{
	char *end, *line;
	size_t clen = 0;
	bool have_len = false;

	memset(a, 0, sizeof(*a));
	buf[len] = '\0';
	end = strstr(buf, "\r\n\r\n");
	if (end == NULL)
		return len + 1 >= cap ? -1 : 0;
	a->hdr_len = (size_t)(end - buf) + 4;
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
		return -1;
	a->status = atoi(buf + 9);
	a->close_after = strncmp(buf, "HTTP/1.0", 8) == 0;
	line = strstr(buf, "\r\n");
	while (line != NULL && line < end) {
		line += 2;
		if (strncasecmp(line, "Content-Length:", 15) == 0) {
			clen = strtoul(line + 15, NULL, 10);
			have_len = true;
		} else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
			return -1;
		} else if (strncasecmp(line, "Connection:", 11) == 0) {
			const char *v = line + 11;

			while (*v == ' ')
				v++;
			a->close_after = strncasecmp(v, "close", 5) == 0;
		}
		line = strstr(line, "\r\n");
	}
	if (!have_len || a->hdr_len + clen + 1 >= cap)
		return -1;
	a->body_len = clen;
	if (len < a->hdr_len + clen)
		return 0;
	return (long)(a->hdr_len + clen);
}

/* --- results ------------------------------------------------------------- */

/* "1,234,567" for n into buf[32]. */
static inline const char *bench_commas(char buf[32], double v)
{
	char tmp[32];
	long long n = llround(v);
	int len, j = 0, neg = n < 0;

	snprintf(tmp, sizeof(tmp), "%lld", neg ? -n : n);
	len = (int)strlen(tmp);
	if (neg)
		buf[j++] = '-';
	for (int i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = tmp[i];
	}
	buf[j] = '\0';
	return buf;
}

/* One result line (see the header comment). ratio NAN prints "-". */
static inline void bench_result(const char *id, const char *name,
                                const char *figure, const char *baseline,
                                double ratio, const char *target,
                                const char *met)
{
	char r[32] = "-";

	if (!isnan(ratio))
		snprintf(r, sizeof(r), "%.2f", ratio);
	printf("RESULT|%s|%s|%s|%s|%s|%s|%s\n", id, name, figure,
	       baseline ? baseline : "-", r, target ? target : "-",
	       met ? met : "-");
	fflush(stdout);
}

#endif
