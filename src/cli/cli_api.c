/*
 * cli_api.c - finlockd's HTTP API from the command line (cli_api.h).
 */
#include <curl/curl.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_conf.h"
#include "core/crypto.h"

#define CONNECT_TIMEOUT 10 /* seconds to open a connection */
#define DEFAULT_TIMEOUT 60 /* seconds for a whole request */

struct cli_api {
	CURL *curl;              /* one handle, reused (keep-alive) */
	struct curl_slist *auth; /* "Authorization: Bearer ..." or NULL */
	char server[CLI_CONF_VALUE_MAX]; /* base URL, no trailing slash */
	char cacert[CLI_CONF_VALUE_MAX]; /* CA file, "" for the system's */
	bool json;                       /* --json */
	char errbuf[CURL_ERROR_SIZE];    /* curl's last message */
	struct cli_api_info info;        /* where the settings came from */
	long timeout;                    /* seconds per request */
};

/* What one transfer is collecting. */
struct sink {
	struct cli_api *api;
	struct cli_resp *r;
	FILE *out;      /* 2xx bodies go here when not NULL */
	size_t cap;     /* allocated bytes of r->body */
	bool too_large; /* the body went over CLI_BODY_MAX */
	bool write_err; /* writing to out failed */
};

/* --- paths ---------------------------------------------------------------- */

bool cli_url_append(char *buf, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(buf);

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = isalnum(ch) || ch == '-' || ch == '.' ||
		             ch == '_' || ch == '~';

		if (n + (plain ? 1 : 3) >= cap)
			return false;
		if (plain) {
			buf[n++] = (char)ch;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[ch >> 4];
			buf[n++] = hex[ch & 15];
		}
	}
	buf[n] = '\0';
	return true;
}

bool cli_path(char *buf, size_t cap, const char *base, const char *seg,
              const char *rest)
{
	int n = snprintf(buf, cap, "%s/", base);

	if (n < 0 || (size_t)n >= cap || !cli_url_append(buf, cap, seg) ||
	    strlen(buf) + (rest != NULL ? strlen(rest) : 0) >= cap) {
		cli_err("argument too long: '%.40s...'", seg);
		return false;
	}
	if (rest != NULL)
		strcat(buf, rest);
	return true;
}

bool cli_query(char *buf, size_t cap, const char *name, const char *value)
{
	size_t n = strlen(buf);
	int k = snprintf(buf + n, cap - n,
	                 "%c%s=", strchr(buf, '?') != NULL ? '&' : '?', name);

	if (k < 0 || (size_t)k >= cap - n || !cli_url_append(buf, cap, value)) {
		buf[n] = '\0';
		cli_err("--%s is too long", name);
		return false;
	}
	return true;
}

/* --- setup ---------------------------------------------------------------- */

/* True when the URL's host is a loopback address. */
static bool loopback_host(const char *url)
{
	const char *h = strstr(url, "://");
	char host[256];
	size_t n;

	if (h == NULL)
		return false;
	h += 3;
	if (*h == '[') {
		n = strcspn(h, "]");
		snprintf(host, sizeof(host), "%.*s", (int)n + 1, h);
		return strcmp(host, "[::1]") == 0;
	}
	n = strcspn(h, ":/?#");
	if (n >= sizeof(host))
		return false;
	snprintf(host, sizeof(host), "%.*s", (int)n, h);
	return strcasecmp(host, "localhost") == 0 ||
	       strncmp(host, "127.", 4) == 0;
}

/* Copies url into dst[CLI_CONF_VALUE_MAX] without trailing slashes. */
static void base_url(char *dst, const char *url)
{
	size_t n;

	snprintf(dst, CLI_CONF_VALUE_MAX, "%s", url);
	n = strlen(dst);
	while (n > 0 && dst[n - 1] == '/')
		dst[--n] = '\0';
}

/* The first non-empty of an option and an environment variable. */
static const char *pick(const char *opt, const char *env, const char **from)
{
	const char *e;

	if (opt != NULL) {
		*from = "command line";
		return opt;
	}
	e = env[0] != '\0' ? getenv(env) : NULL;
	if (e != NULL && e[0] != '\0') {
		*from = env;
		return e;
	}
	return NULL;
}

static int parse_timeout(const char *s, long *out)
{
	char *end;
	long v;

	*out = DEFAULT_TIMEOUT;
	if (s == NULL)
		return CLI_OK;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || v < 1 || v > 3600) {
		cli_err("--timeout must be a number of seconds in 1..3600");
		return CLI_USAGE;
	}
	*out = v;
	return CLI_OK;
}

/* Resolves server, key and cacert (cli_conf.h); key[cap] gets the key or
 * "" (caller wipes it). */
static int resolve(struct cli_api *api, const struct cli_args *a, bool need_key,
                   char *key, size_t cap)
{
	struct cli_api_info *in = &api->info;
	/* --profile on the command line beats the environment's settings;
	 * FINLOCK_PROFILE only chooses the file's profile. */
	const char *profile = a->profile;
	bool from_env = profile == NULL;
	const char *server = pick(a->server, from_env ? "FINLOCK_SERVER" : "",
	                          &in->server_from);
	const char *k =
	        need_key ? pick(a->key, from_env ? "FINLOCK_API_KEY" : "",
	                        &in->key_from)
	                 : NULL;
	const char *ca = pick(a->cacert, from_env ? "FINLOCK_CACERT" : "",
	                      &in->cacert_from);
	struct cli_conf *conf = NULL;
	char path[4096], cfg_server[CLI_CONF_VALUE_MAX];
	int rc = CLI_OK;

	key[0] = '\0';
	if (profile == NULL && getenv("FINLOCK_PROFILE") != NULL &&
	    getenv("FINLOCK_PROFILE")[0] != '\0')
		profile = getenv("FINLOCK_PROFILE");
	if (profile != NULL && !cli_profile_ok(profile)) {
		cli_err("bad profile name '%.64s' (letters, digits, '.', '_', "
		        "'-')",
		        profile);
		return CLI_USAGE;
	}
	snprintf(in->profile, sizeof(in->profile), "%s",
	         profile != NULL ? profile : "default");
	if (server == NULL || (need_key && k == NULL) || a->profile != NULL) {
		conf = calloc(1, sizeof(*conf));
		if (conf == NULL) {
			cli_err("out of memory");
			return CLI_REFUSED;
		}
		rc = cli_conf_path(path, sizeof(path));
		if (rc == CLI_OK)
			rc = cli_conf_load(path, profile, conf);
		if (rc != CLI_OK)
			goto out;
		snprintf(in->config, sizeof(in->config), "%s", path);
		if (!conf->found && profile != NULL) {
			cli_err("no profile '%s' in %s (run 'finlock login "
			        "--profile %s')",
			        profile, path, profile);
			rc = CLI_USAGE;
			goto out;
		}
	}
	if (server == NULL && conf != NULL && conf->server[0] != '\0') {
		server = conf->server;
		in->server_from = "config file";
	}
	if (server == NULL) {
		cli_err("no server: give --server URL, set FINLOCK_SERVER or "
		        "run 'finlock login'");
		rc = CLI_USAGE;
		goto out;
	}
	if (strncmp(server, "http://", 7) != 0 &&
	    strncmp(server, "https://", 8) != 0) {
		cli_err("the server must be an http:// or https:// URL, not "
		        "'%.64s'",
		        server);
		rc = CLI_USAGE;
		goto out;
	}
	if (!cli_conf_value_ok(server)) {
		cli_err("the server URL is not valid");
		rc = CLI_USAGE;
		goto out;
	}
	base_url(api->server, server);
	/* The file's key and CA belong to the file's server only. */
	cfg_server[0] = '\0';
	if (conf != NULL && conf->server[0] != '\0')
		base_url(cfg_server, conf->server);
	if (cfg_server[0] != '\0' && strcmp(cfg_server, api->server) == 0) {
		if (need_key && k == NULL && conf->key[0] != '\0') {
			k = conf->key;
			in->key_from = "config file";
		}
		if (ca == NULL && conf->cacert[0] != '\0') {
			ca = conf->cacert;
			in->cacert_from = "config file";
		}
	}
	if (need_key && k == NULL) {
		if (conf != NULL && conf->key[0] != '\0')
			cli_err("no API key for %s (the config file's key is "
			        "for %s): give --key or set FINLOCK_API_KEY",
			        api->server, cfg_server);
		else
			cli_err("no API key: give --key, set FINLOCK_API_KEY "
			        "or run 'finlock login'");
		rc = CLI_USAGE;
		goto out;
	}
	if (k != NULL) {
		if (!cli_conf_value_ok(k) || strlen(k) >= cap) {
			cli_err("the API key is not valid");
			rc = CLI_USAGE;
			goto out;
		}
		snprintf(key, cap, "%s", k);
		cli_key_hint(k, in->key_hint);
	}
	if (ca != NULL)
		snprintf(api->cacert, sizeof(api->cacert), "%s", ca);
	if (k != NULL && strncmp(api->server, "http://", 7) == 0 &&
	    !loopback_host(api->server) && !a->insecure) {
		cli_err("refusing to send the API key over plain http to %s: "
		        "use https (or --insecure if you really mean it)",
		        api->server);
		rc = CLI_REFUSED;
		goto out;
	}
out:
	if (conf != NULL) {
		cli_conf_wipe(conf);
		free(conf);
	}
	return rc;
}

int cli_api_open(struct cli_api **out, const struct cli_args *a, bool need_key)
{
	static bool curl_ready;
	char key[CLI_CONF_VALUE_MAX], hdr[CLI_CONF_VALUE_MAX + 32];
	struct cli_api *api;
	long timeout;
	int rc;

	*out = NULL;
	if ((rc = parse_timeout(a->timeout, &timeout)) != CLI_OK)
		return rc;
	api = calloc(1, sizeof(*api));
	if (api == NULL) {
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	api->json = a->json;
	rc = resolve(api, a, need_key, key, sizeof(key));
	if (rc != CLI_OK)
		goto fail;
	rc = CLI_REFUSED;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			cli_err("cannot initialise libcurl");
			goto fail;
		}
		curl_ready = true;
	}
	api->curl = curl_easy_init();
	if (api->curl == NULL) {
		cli_err("cannot initialise libcurl");
		goto fail;
	}
	if (key[0] != '\0') {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", key);
		api->auth = curl_slist_append(NULL, hdr);
		fl_wipe(hdr, sizeof(hdr));
		if (api->auth == NULL) {
			cli_err("out of memory");
			goto fail;
		}
	}
	curl_easy_setopt(api->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(api->curl, CURLOPT_ERRORBUFFER, api->errbuf);
	curl_easy_setopt(api->curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(api->curl, CURLOPT_TIMEOUT, timeout);
	api->timeout = timeout;
	curl_easy_setopt(api->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(api->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(api->curl, CURLOPT_USERAGENT, "finlock/1");
	curl_easy_setopt(api->curl, CURLOPT_SSL_VERIFYPEER,
	                 a->insecure ? 0L : 1L);
	curl_easy_setopt(api->curl, CURLOPT_SSL_VERIFYHOST,
	                 a->insecure ? 0L : 2L);
	if (api->cacert[0] != '\0')
		curl_easy_setopt(api->curl, CURLOPT_CAINFO, api->cacert);
	fl_wipe(key, sizeof(key));
	*out = api;
	return CLI_OK;
fail:
	fl_wipe(key, sizeof(key));
	cli_api_free(api);
	return rc;
}

void cli_api_free(struct cli_api *api)
{
	if (api == NULL)
		return;
	for (struct curl_slist *s = api->auth; s != NULL; s = s->next)
		fl_wipe(s->data, strlen(s->data));
	curl_slist_free_all(api->auth);
	if (api->curl != NULL)
		curl_easy_cleanup(api->curl);
	free(api);
}

void cli_api_min_timeout(struct cli_api *api, long secs)
{
	if (secs > api->timeout) {
		api->timeout = secs;
		curl_easy_setopt(api->curl, CURLOPT_TIMEOUT, secs);
	}
}

const char *cli_api_server(const struct cli_api *api)
{
	return api->server;
}

bool cli_api_json(const struct cli_api *api)
{
	return api->json;
}

const struct cli_api_info *cli_api_info(const struct cli_api *api)
{
	return &api->info;
}

const char *cli_api_cacert(const struct cli_api *api)
{
	return api->cacert;
}

/* --- one request ---------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	struct cli_resp *r = s->r;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(s->api->curl, CURLINFO_RESPONSE_CODE, &status);
	if (s->out != NULL && status >= 200 && status < 300) {
		if (fwrite(data, 1, n, s->out) != n) {
			s->write_err = true;
			return 0;
		}
		return n;
	}
	if (r->len + n + 1 > CLI_BODY_MAX) {
		s->too_large = true;
		return 0;
	}
	if (r->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16384;
		char *nb;

		while (cap < r->len + n + 1)
			cap *= 2;
		nb = realloc(r->body, cap);
		if (nb == NULL) {
			s->too_large = true;
			return 0;
		}
		r->body = nb;
		s->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t n = size * nmemb, k;
	const char *v;

	if (n > 14 && strncasecmp(data, "X-Next-Cursor:", 14) == 0) {
		v = data + 14;
		k = n - 14;
		while (k > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			k--;
		}
		while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n' ||
		                 v[k - 1] == ' '))
			k--;
		if (k < sizeof(s->r->next_cursor))
			snprintf(s->r->next_cursor, sizeof(s->r->next_cursor),
			         "%.*s", (int)k, v);
	} else if (n > 20 &&
	           strncasecmp(data, "Idempotent-Replayed:", 20) == 0) {
		s->r->replayed = strstr(data + 20, "true") != NULL;
	} else if (n > 12 && n < 40 &&
	           strncasecmp(data, "Retry-After:", 12) == 0) {
		char num[32];
		long secs;

		snprintf(num, sizeof(num), "%.*s", (int)(n - 12), data + 12);
		secs = strtol(num, NULL, 10);
		s->r->retry_after = secs > 0 && secs <= 3600 ? (int)secs : 0;
	}
	return n;
}

void cli_resp_free(struct cli_resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

int cli_api_send(struct cli_api *api, const char *method, const char *path,
                 const char *body, const char *idem, FILE *sink,
                 struct cli_resp *r)
{
	char url[CLI_CONF_VALUE_MAX + CLI_PATH_MAX], idem_hdr[256];
	struct curl_slist *hdrs = NULL, *tail;
	struct sink s = {api, r, sink, 0, false, false};
	CURLcode cc;
	int rc = CLI_REFUSED, n;

	memset(r, 0, sizeof(*r));
	if (idem != NULL) {
		size_t k = strlen(idem);
		bool ok = k > 0 && k <= 200;

		for (size_t i = 0; ok && i < k; i++)
			ok = idem[i] > 0x20 && idem[i] < 0x7f;
		if (!ok) {
			cli_err("an idempotency key is 1..200 visible ASCII "
			        "characters (no spaces)");
			return CLI_REFUSED;
		}
	}
	n = snprintf(url, sizeof(url), "%s%s", api->server, path);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		cli_err("request path too long");
		return CLI_REFUSED;
	}
	/* Our own list, then the shared Authorization line appended by
	 * pointer so the key is not copied once per request. */
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (hdrs != NULL && body != NULL)
		hdrs = curl_slist_append(hdrs,
		                         "Content-Type: application/json");
	if (hdrs != NULL && idem != NULL) {
		snprintf(idem_hdr, sizeof(idem_hdr), "Idempotency-Key: %s",
		         idem);
		hdrs = curl_slist_append(hdrs, idem_hdr);
	}
	if (hdrs == NULL) {
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	for (tail = hdrs; tail->next != NULL; tail = tail->next)
		;
	tail->next = api->auth;

	api->errbuf[0] = '\0';
	curl_easy_setopt(api->curl, CURLOPT_URL, url);
	curl_easy_setopt(api->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(api->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(api->curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(api->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(api->curl, CURLOPT_HEADERDATA, &s);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(api->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(api->curl, CURLOPT_CUSTOMREQUEST, NULL);
	} else {
		curl_easy_setopt(api->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(api->curl, CURLOPT_POSTFIELDS,
		                 body != NULL ? body : "");
		curl_easy_setopt(api->curl, CURLOPT_POSTFIELDSIZE,
		                 (long)(body != NULL ? strlen(body) : 0));
		curl_easy_setopt(api->curl, CURLOPT_CUSTOMREQUEST,
		                 strcmp(method, "POST") == 0 ? NULL : method);
	}
	cc = curl_easy_perform(api->curl);
	tail->next = NULL;
	curl_easy_setopt(api->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (cc != CURLE_OK) {
		if (s.too_large)
			cli_err("the server's answer is larger than %u MiB",
			        CLI_BODY_MAX >> 20);
		else if (s.write_err)
			cli_err("cannot write the output");
		else {
			cli_err("cannot reach %s: %s", api->server,
			        api->errbuf[0] != '\0'
			                ? api->errbuf
			                : curl_easy_strerror(cc));
			rc = CLI_UNREACHABLE;
		}
		cli_resp_free(r);
		return rc;
	}
	curl_easy_getinfo(api->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->body == NULL) {
		r->body = calloc(1, 1);
		if (r->body == NULL) {
			cli_err("out of memory");
			cli_resp_free(r);
			return CLI_REFUSED;
		}
	}
	r->json = json_loadb(r->body, r->len, 0, NULL);
	return CLI_OK;
}

static const char *reason_phrase(long status)
{
	switch (status) {
	case 400:
		return "bad request";
	case 401:
		return "unauthorized";
	case 403:
		return "forbidden";
	case 404:
		return "not found";
	case 405:
		return "method not allowed";
	case 409:
		return "conflict";
	case 413:
		return "too large";
	case 429:
		return "too many requests";
	case 431:
		return "headers too large";
	case 500:
		return "server error";
	case 502:
		return "bad gateway";
	case 503:
		return "unavailable";
	case 504:
		return "gateway timeout";
	default:
		return "error";
	}
}

/* Copies s into out[cap] on one line: control characters become '?'. */
static void one_line(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n + 1 < cap; s++)
		out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	out[n] = '\0';
}

void cli_api_print_error(const struct cli_resp *r)
{
	json_t *e = json_object_get(r->json, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	char line[512];

	if (msg == NULL && r->body != NULL && r->body[0] != '\0') {
		char first[200];

		snprintf(first, sizeof(first), "%.*s",
		         (int)strcspn(r->body, "\r\n"), r->body);
		one_line(line, sizeof(line), first);
	} else {
		one_line(line, sizeof(line), msg);
	}
	if (line[0] != '\0')
		cli_err("%ld %s: %s", r->status, reason_phrase(r->status),
		        line);
	else
		cli_err("%ld %s", r->status, reason_phrase(r->status));
}

int cli_api_call(struct cli_api *api, const char *method, const char *path,
                 const json_t *body, const char *idem, struct cli_resp *r)
{
	char *text = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL) {
			cli_err("out of memory");
			return CLI_REFUSED;
		}
	}
	rc = cli_api_send(api, method, path, text, idem, NULL, r);
	free(text);
	if (rc != CLI_OK)
		return rc;
	if (r->status >= 200 && r->status < 300)
		return CLI_OK;
	if (api->json && json_is_object(json_object_get(r->json, "error"))) {
		json_dumpf(r->json, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		cli_json_error_printed();
	}
	cli_api_print_error(r);
	/* A lender's key on an operator's route says what is needed. */
	if (r->status == 403 && (strncmp(path, "/v1/tenants", 11) == 0 ||
	                         strncmp(path, "/v1/operator/", 13) == 0 ||
	                         strcmp(path, "/metrics") == 0))
		cli_err("this needs an operator key (the key in use is a "
		        "lender's); give one with --key or --profile");
	cli_resp_free(r);
	return CLI_REFUSED;
}
