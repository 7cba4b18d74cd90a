/* config.c - defaults, and one parser for file, environment and flags. */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/netaddr.h"

enum kind { K_STR, K_BOOL, K_INT, K_SIZE, K_DOUBLE, K_LEVEL, K_LISTEN,
            K_CIDRS };

struct setting {
	const char *key; /* canonical, with '_' */
	enum kind kind;
	size_t off;      /* offset in struct fl_config */
	size_t cap;      /* K_STR: array size */
	double min, max; /* numeric bounds */
};

#define S(k, f)                                                                \
	{                                                                      \
#k, K_STR, offsetof(struct fl_config, f),                      \
		        sizeof(((struct fl_config *)0)->f), 0, 0               \
	}
#define N(k, t, f, lo, hi)                                                     \
	{                                                                      \
#k, t, offsetof(struct fl_config, f), 0, lo, hi                \
	}

static const struct setting settings[] = {
        S(data, data_dir),
        S(database, database),
        {"listen", K_LISTEN, offsetof(struct fl_config, listen),
         sizeof(((struct fl_config *)0)->listen), 0, 0},
        S(tls_cert, tls_cert),
        S(tls_key, tls_key),
        {"behind_tls_proxy", K_BOOL,
         offsetof(struct fl_config, behind_tls_proxy), 0, 0, 0},
        {"log_level", K_LEVEL, offsetof(struct fl_config, log_level),
         sizeof(((struct fl_config *)0)->log_level), 0, 0},
        N(threads, K_INT, threads, 2, 256),
        N(max_connections, K_INT, max_connections, 16, 1000000),
        N(max_body, K_SIZE, max_body, 1024, 64 * 1024 * 1024),
        N(max_header, K_SIZE, max_header, 1024, 1024 * 1024),
        N(max_json_depth, K_INT, max_json_depth, 2, 256),
        N(request_timeout, K_INT, request_timeout, 1, 3600),
        N(header_timeout, K_INT, header_timeout, 1, 3600),
        N(max_pending_per_client, K_INT, max_pending_per_client, 0, 1000000),
        {"trusted_proxies", K_CIDRS,
         offsetof(struct fl_config, trusted_proxies),
         sizeof(((struct fl_config *)0)->trusted_proxies), 0, 0},
        N(shutdown_grace, K_INT, shutdown_grace, 0, 600),
        N(db_pool, K_INT, db_pool, 2, 256),
        N(db_cache_mb, K_INT, db_cache_mb, 1, 65536),
        N(db_mmap_mb, K_INT, db_mmap_mb, 0, 1048576),
        N(enroll_code_ttl, K_INT, enroll_code_ttl, 60, 365 * 86400),
        N(idempotency_ttl, K_INT, idempotency_ttl, 60, 365 * 86400),
        N(audit_head_interval, K_INT, audit_head_interval, 1, 86400),
        N(sweep_interval_ms, K_INT, sweep_interval_ms, 10, 60000),
        N(public_rate, K_DOUBLE, public_rate, 0.001, 1e6),
        N(public_burst, K_INT, public_burst, 1, 1000000),
        N(public_global_rate, K_DOUBLE, public_global_rate, 0.001, 1e7),
        N(public_global_burst, K_INT, public_global_burst, 1, 10000000),
        N(ratelimit_clients, K_INT, ratelimit_clients, 16, 10000000),
        N(token_ttl, K_INT, token_ttl, 60, 365 * 86400),
        N(key_cert_days, K_INT, key_cert_days, 1, 36500),
        N(wait_timeout, K_INT, wait_timeout, 1, 60),
        N(checkin_interval, K_INT, checkin_interval, 60, 7 * 86400),
        N(device_cache, K_INT, device_cache, 16, 10000000),
        N(token_cache, K_INT, token_cache, 16, 10000000),
        N(session_idle, K_INT, session_idle, 1, 7 * 86400),
        N(session_max, K_INT, session_max, 1, 30 * 86400),
        N(signin_rate, K_DOUBLE, signin_rate, 0.0001, 1e6),
        N(signin_burst, K_INT, signin_burst, 1, 1000000),
        {"webhook_allow_private", K_BOOL,
         offsetof(struct fl_config, webhook_allow_private), 0, 0, 0},
        N(webhook_senders, K_INT, webhook_senders, 1, 64),
        N(webhook_timeout, K_INT, webhook_timeout, 1, 120),
        N(webhook_retry_ms, K_INT, webhook_retry_ms, 10, 3600000),
        N(webhook_secret_overlap, K_INT, webhook_secret_overlap, 0,
          30 * 86400),
        N(webhook_retention_days, K_INT, webhook_retention_days, 1, 3650),
        {"webhook_key_create", K_BOOL,
         offsetof(struct fl_config, webhook_key_create), 0, 0, 0},
        S(test_clock, test_clock),
};

void fl_config_defaults(struct fl_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->data_dir, sizeof(c->data_dir), "data");
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8080");
	snprintf(c->log_level, sizeof(c->log_level), "info");
	c->threads = 4;
	c->max_connections = 8192;
	c->max_body = 256 * 1024;
	c->max_header = 16 * 1024;
	c->max_json_depth = 16;
	c->request_timeout = 30;
	c->header_timeout = 10;
	c->max_pending_per_client = 128;
	c->shutdown_grace = 10;
	c->db_pool = 16;
	c->db_cache_mb = 4;
	c->db_mmap_mb = 0;
	c->enroll_code_ttl = 7 * 86400;
	c->idempotency_ttl = 7 * 86400;
	c->audit_head_interval = 3600;
	c->sweep_interval_ms = 500;
	c->public_rate = 1.0;
	c->public_burst = 30;
	c->session_idle = 30 * 60;
	c->session_max = 12 * 3600;
	c->signin_rate = 0.1;
	c->signin_burst = 10;
	c->webhook_senders = 2;
	c->webhook_timeout = 10;
	c->webhook_retry_ms = 5000;
	c->webhook_secret_overlap = 86400;
	c->webhook_retention_days = 30;
	c->public_global_rate = 200.0;
	c->public_global_burst = 1000;
	c->ratelimit_clients = 65536;
	c->token_ttl = 30 * 86400;
	c->key_cert_days = 365;
	c->wait_timeout = 60;
	c->checkin_interval = 3600;
	c->device_cache = 1000000;
	c->token_cache = 200000;
}

static const struct setting *find(const char *key)
{
	char norm[64];
	size_t n = strlen(key);

	if (n >= sizeof(norm))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		norm[i] = key[i] == '-' ? '_'
		                        : (char)tolower((unsigned char)key[i]);
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (strcmp(norm, settings[i].key) == 0)
			return &settings[i];
	return NULL;
}

fl_err fl_config_set(struct fl_config *c, const char *key, const char *value,
                     char err[FL_CONFIG_ERR_MAX])
{
	const struct setting *s = find(key);
	char *p = (char *)c;
	char *end = NULL;

	err[0] = '\0';
	if (s == NULL) {
		snprintf(err, FL_CONFIG_ERR_MAX, "unknown setting '%s'", key);
		return FL_E_CONFIG;
	}
	switch (s->kind) {
	case K_STR:
	case K_LISTEN:
	case K_CIDRS: {
		size_t n = 0;

		if (strlen(value) >= s->cap) {
			snprintf(err, FL_CONFIG_ERR_MAX, "%s: value too long",
			         s->key);
			return FL_E_CONFIG;
		}
		if (s->kind == K_LISTEN &&
		    fl_config_listen_split(value, NULL, 0, NULL) != FL_OK) {
			snprintf(err, FL_CONFIG_ERR_MAX,
			         "%s: expected HOST:PORT or [V6]:PORT with a port "
			         "in 0..65535 (0: any free port), got '%.64s'",
			         s->key, value);
			return FL_E_CONFIG;
		}
		if (s->kind == K_CIDRS &&
		    fl_net_parse_cidrs(value, NULL, FL_NET_MAX_CIDRS, &n) !=
		            FL_OK) {
			snprintf(err, FL_CONFIG_ERR_MAX,
			         "%s: expected up to %d addresses or networks "
			         "(10.0.0.1, 10.0.0.0/8, ::1/128) separated by "
			         "commas",
			         s->key, FL_NET_MAX_CIDRS);
			return FL_E_CONFIG;
		}
		strcpy(p + s->off, value);
		return FL_OK;
	}
	case K_LEVEL: {
		enum fl_log_level lvl;

		if (fl_log_level_parse(value, &lvl) != FL_OK) {
			snprintf(err, FL_CONFIG_ERR_MAX,
			         "%s: expected debug, info, warn or error",
			         s->key);
			return FL_E_CONFIG;
		}
		snprintf(p + s->off, s->cap, "%s", fl_log_level_name(lvl));
		return FL_OK;
	}
	case K_BOOL:
		if (strcmp(value, "1") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "yes") == 0 || strcmp(value, "on") == 0) {
			*(bool *)(void *)(p + s->off) = true;
			return FL_OK;
		}
		if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0 ||
		    strcmp(value, "no") == 0 || strcmp(value, "off") == 0) {
			*(bool *)(void *)(p + s->off) = false;
			return FL_OK;
		}
		snprintf(err, FL_CONFIG_ERR_MAX, "%s: expected true or false",
		         s->key);
		return FL_E_CONFIG;
	case K_INT:
	case K_SIZE: {
		long long v;

		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' ||
		    (double)v < s->min || (double)v > s->max) {
			snprintf(err, FL_CONFIG_ERR_MAX,
			         "%s: expected an integer in %.0f..%.0f",
			         s->key, s->min, s->max);
			return FL_E_CONFIG;
		}
		if (s->kind == K_INT)
			*(int *)(void *)(p + s->off) = (int)v;
		else
			*(size_t *)(void *)(p + s->off) = (size_t)v;
		return FL_OK;
	}
	case K_DOUBLE: {
		double v;

		errno = 0;
		v = strtod(value, &end);
		if (errno != 0 || end == value || *end != '\0' || isnan(v) ||
		    v < s->min || v > s->max) {
			snprintf(err, FL_CONFIG_ERR_MAX,
			         "%s: expected a number in %g..%g", s->key,
			         s->min, s->max);
			return FL_E_CONFIG;
		}
		*(double *)(void *)(p + s->off) = v;
		return FL_OK;
	}
	}
	return FL_E_CONFIG;
}

fl_err fl_config_listen_split(const char *s, char *host, size_t cap,
                              unsigned *port)
{
	const char *colon;
	size_t hl;
	unsigned long v = 0;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return FL_E_CONFIG;
		hl = (size_t)(close - s - 1);
		colon = close + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return FL_E_CONFIG;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= 128 || (host != NULL && hl >= cap))
		return FL_E_CONFIG;
	/* digits only, and no wrap: 65536 is not port 0 */
	if (colon[1] == '\0' || strlen(colon + 1) > 5 ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return FL_E_CONFIG;
	v = strtoul(colon + 1, NULL, 10);
	if (v > 65535)
		return FL_E_CONFIG;
	if (host != NULL) {
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (port != NULL)
		*port = (unsigned)v;
	return FL_OK;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

fl_err fl_config_load_file(struct fl_config *c, const char *path,
                           char err[FL_CONFIG_ERR_MAX])
{
	char line[FL_CONFIG_PATH_MAX + 128];
	char inner[FL_CONFIG_ERR_MAX];
	struct fl_config tmp = *c;
	FILE *f = fopen(path, "r");
	int lineno = 0;
	fl_err rc = FL_OK;

	err[0] = '\0';
	if (f == NULL) {
		snprintf(err, FL_CONFIG_ERR_MAX, "%s: %s", path,
		         strerror(errno));
		return FL_E_IO;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq, *k, *v;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, FL_CONFIG_ERR_MAX, "line %d: too long",
			         lineno);
			rc = FL_E_CONFIG;
			goto out;
		}
		k = trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		eq = strchr(k, '=');
		if (eq == NULL) {
			snprintf(err, FL_CONFIG_ERR_MAX,
			         "line %d: expected key = value", lineno);
			rc = FL_E_CONFIG;
			goto out;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		if (fl_config_set(&tmp, k, v, inner) != FL_OK) {
			snprintf(err, FL_CONFIG_ERR_MAX, "line %d: %.200s",
			         lineno, inner);
			rc = FL_E_CONFIG;
			goto out;
		}
	}
	*c = tmp;
out:
	fclose(f);
	return rc;
}

fl_err fl_config_load_env(struct fl_config *c, char *const *env,
                          char err[FL_CONFIG_ERR_MAX])
{
	static const char prefix[] = "FINLOCKD_";
	char key[64];

	err[0] = '\0';
	for (; env != NULL && *env != NULL; env++) {
		const char *e = *env, *eq = strchr(e, '=');
		size_t n;

		if (strncmp(e, prefix, sizeof(prefix) - 1) != 0 || eq == NULL)
			continue;
		n = (size_t)(eq - e) - (sizeof(prefix) - 1);
		if (n == 0 || n >= sizeof(key))
			continue;
		memcpy(key, e + sizeof(prefix) - 1, n);
		key[n] = '\0';
		if (find(key) == NULL)
			continue; /* not ours (FINLOCKD_BIN, ...) */
		if (fl_config_set(c, key, eq + 1, err) != FL_OK)
			return FL_E_CONFIG;
	}
	return FL_OK;
}

fl_err fl_config_check(const struct fl_config *c, char err[FL_CONFIG_ERR_MAX])
{
	err[0] = '\0';
	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0')) {
		snprintf(err, FL_CONFIG_ERR_MAX,
		         "tls_cert and tls_key go together");
		return FL_E_CONFIG;
	}
	if (c->data_dir[0] == '\0') {
		snprintf(err, FL_CONFIG_ERR_MAX, "data directory is empty");
		return FL_E_CONFIG;
	}
	if (c->database[0] != '\0' &&
	    strncmp(c->database, "postgresql://", 13) != 0 &&
	    strncmp(c->database, "postgres://", 11) != 0) {
		snprintf(err, FL_CONFIG_ERR_MAX,
		         "database must be a PostgreSQL URI "
		         "(postgresql://USER@HOST:PORT/DB)");
		return FL_E_CONFIG;
	}
	if (c->test_clock[0] != '\0' &&
	    (getenv("FINLOCKD_TEST_CLOCK_ENABLE") == NULL ||
	     strcmp(getenv("FINLOCKD_TEST_CLOCK_ENABLE"), "1") != 0)) {
		snprintf(err, FL_CONFIG_ERR_MAX,
		         "test_clock is for tests only: it needs "
		         "FINLOCKD_TEST_CLOCK_ENABLE=1 in the environment");
		return FL_E_CONFIG;
	}
	return FL_OK;
}
