/*
 * Integration test of docs/deploy.md "Behind nginx (TLS)": the nginx
 * server block printed there, taken from the document itself, runs under
 * Debian's nginx on free loopback ports with a certificate openssl makes
 * now, in front of a finlockd started with --behind-tls-proxy. Requests
 * through it over TLS reach finlockd (health, an authenticated read, a
 * write), plain HTTP is redirected to https, and finlockd logged that it
 * runs behind a TLS proxy. nginx is stopped at the end.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/proc.h"
#include "support/server_harness.h"

#define NGINX "/usr/sbin/nginx"
#define HOST  "finlock.example.com"

static char tmp[64];     /* scratch: certificate, nginx files */
static pid_t nginx = -1; /* stopped by teardown whatever happened */

/* A loopback port nobody listens on (the kernel's pick). */
static unsigned free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool accepts(unsigned port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The ```nginx block of docs/deploy.md (caller frees). */
static char *doc_config(void)
{
	char path[4200], *text = NULL, *start, *end, *out = NULL;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/docs/deploy.md", proc_source_root());
	f = fopen(path, "r");
	assert_non_null(f);
	text = calloc(1, 1 << 20);
	assert_non_null(text);
	n = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	text[n] = '\0';
	start = strstr(text, "```nginx\n");
	assert_non_null(start);
	start += strlen("```nginx\n");
	end = strstr(start, "```");
	assert_non_null(end);
	out = strndup(start, (size_t)(end - start));
	free(text);
	return out;
}

/* Replaces the one occurrence of from in *s by to (it must be there). */
static void replace(char **s, const char *from, const char *to)
{
	char *at = strstr(*s, from), *n;

	if (at == NULL)
		fprintf(stderr, "docs/deploy.md's nginx block lacks: %s\n",
		        from);
	assert_non_null(at);
	assert_null(strstr(at + strlen(from), from));
	n = malloc(strlen(*s) - strlen(from) + strlen(to) + 1);
	assert_non_null(n);
	sprintf(n, "%.*s%s%s", (int)(at - *s), *s, to, at + strlen(from));
	free(*s);
	*s = n;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

struct got {
	long status;
	char body[4096];
	size_t len;
	char location[512];
};

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
	struct got *g = ctx;
	size_t k = sz * n, room = sizeof(g->body) - 1 - g->len;

	memcpy(g->body + g->len, p, k < room ? k : room);
	g->len += k < room ? k : room;
	g->body[g->len] = '\0';
	return k;
}

/* One request to https://HOST:port (or http) resolved to loopback. */
static void fetch(const char *scheme, unsigned port, const char *method,
                  const char *path, const char *key, const char *body,
                  struct got *g)
{
	char url[256], resolve[128], auth[160];
	struct curl_slist *res = NULL, *hdr = NULL;
	CURL *c = curl_easy_init();
	char *loc = NULL;
	CURLcode rc;

	memset(g, 0, sizeof(*g));
	assert_non_null(c);
	snprintf(url, sizeof(url), "%s://%s:%u%s", scheme, HOST, port, path);
	snprintf(resolve, sizeof(resolve), "%s:%u:127.0.0.1", HOST, port);
	res = curl_slist_append(res, resolve);
	if (key != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
		hdr = curl_slist_append(hdr, auth);
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, res);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	{
		char ca[128];

		snprintf(ca, sizeof(ca), "%s/cert.pem", tmp);
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fprintf(stderr, "%s: %s\n", url, curl_easy_strerror(rc));
	assert_int_equal(rc, CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
	if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
	    loc != NULL)
		snprintf(g->location, sizeof(g->location), "%s", loc);
	curl_slist_free_all(res);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
}

static void test_nginx_in_front(void **state)
{
	static const char *const args[] = {"--behind-tls-proxy", NULL};
	struct srv_opts o = {.args = args};
	char cmd[1024], path[256], upstream[64], tls[64], plain[64];
	char *conf = NULL, *log = NULL, *main_conf = NULL;
	unsigned tls_port, plain_port;
	struct srv *s;
	struct got g;
	int status;

	(void)state;
	assert_int_equal(access(NGINX, X_OK), 0); /* scripts/deps.sh */
	snprintf(tmp, sizeof(tmp), "/tmp/finlock-nginx-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt "
	         "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=%s' "
	         "-addext 'subjectAltName=DNS:%s' -keyout '%s/key.pem' "
	         "-out '%s/cert.pem' >/dev/null 2>&1",
	         HOST, HOST, tmp, tmp);
	assert_int_equal(system(cmd), 0);

	assert_int_equal(srv_start(&s, &o), 0);

	/* the document's block, pointed at this finlockd and these files */
	conf = doc_config();
	snprintf(upstream, sizeof(upstream), "server 127.0.0.1:%u;",
	         srv_port(s));
	replace(&conf, "server 127.0.0.1:8080;", upstream);
	tls_port = free_port();
	plain_port = free_port();
	assert_true(tls_port != 0 && plain_port != 0 && tls_port != plain_port);
	snprintf(tls, sizeof(tls), "listen 127.0.0.1:%u ssl;", tls_port);
	replace(&conf, "listen 443 ssl;", tls);
	snprintf(plain, sizeof(plain), "listen 127.0.0.1:%u;", plain_port);
	replace(&conf, "listen 80;", plain);
	snprintf(path, sizeof(path), "%s/cert.pem", tmp);
	replace(&conf, "/etc/ssl/finlock/fullchain.pem", path);
	snprintf(path, sizeof(path), "%s/key.pem", tmp);
	replace(&conf, "/etc/ssl/finlock/privkey.pem", path);
	snprintf(path, sizeof(path), "%s/finlock.conf", tmp);
	write_file(path, conf);

	/* nginx's own frame: one foreground process, files in tmp */
	assert_true(asprintf(&main_conf,
	                     "daemon off;\n"
	                     "master_process off;\n"
	                     "pid %s/nginx.pid;\n"
	                     "error_log %s/error.log;\n"
	                     "events { worker_connections 64; }\n"
	                     "http {\n"
	                     "  access_log %s/access.log;\n"
	                     "  client_body_temp_path %s/body;\n"
	                     "  proxy_temp_path %s/proxy;\n"
	                     "  fastcgi_temp_path %s/fastcgi;\n"
	                     "  uwsgi_temp_path %s/uwsgi;\n"
	                     "  scgi_temp_path %s/scgi;\n"
	                     "  include %s/finlock.conf;\n"
	                     "}\n",
	                     tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp) > 0);
	snprintf(path, sizeof(path), "%s/nginx.conf", tmp);
	write_file(path, main_conf);
	snprintf(cmd, sizeof(cmd), "%s -t -q -p '%s' -e '%s/error.log' -c '%s'",
	         NGINX, tmp, tmp, path);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s/error.log' >&2", tmp);
		(void)system(cmd);
		fail_msg("nginx -t refused the configuration");
	}
	nginx = fork();
	assert_true(nginx >= 0);
	if (nginx == 0) {
		char elog[128];

		snprintf(elog, sizeof(elog), "%s/error.log", tmp);
		execl(NGINX, "nginx", "-p", tmp, "-e", elog, "-c", path,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300 && !(accepts(tls_port) && accepts(plain_port));
	     i++) {
		struct timespec ts = {0, 20 * 1000 * 1000};

		if (waitpid(nginx, &status, WNOHANG) == nginx) {
			nginx = -1;
			fail_msg("nginx exited at start (see its error.log)");
		}
		nanosleep(&ts, NULL);
	}
	assert_true(accepts(tls_port));

	/* through nginx, over TLS, to finlockd */
	fetch("https", tls_port, "GET", "/healthz", NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_non_null(strstr(g.body, "\"status\""));
	fetch("https", tls_port, "GET", "/v1/tenants", srv_operator_key(s),
	      NULL, &g);
	assert_int_equal(g.status, 200);
	assert_non_null(strstr(g.body, "\"items\""));
	fetch("https", tls_port, "POST", "/v1/tenants", srv_operator_key(s),
	      "{\"name\":\"Proxied Credit\"}", &g);
	assert_int_equal(g.status, 201);
	/* finlockd's JSON errors pass through unchanged */
	fetch("https", tls_port, "GET", "/v1/tenants", NULL, NULL, &g);
	assert_int_equal(g.status, 401);
	assert_non_null(strstr(g.body, "\"error\""));
	/* plain HTTP goes to https */
	fetch("http", plain_port, "GET", "/healthz", NULL, NULL, &g);
	assert_int_equal(g.status, 301);
	assert_true(strncmp(g.location, "https://" HOST, 8 + strlen(HOST)) ==
	            0);

	/* finlockd saw the requests and runs in its behind-a-proxy mode */
	{
		FILE *f = fopen(srv_log_path(s), "r");
		size_t cap = 0;
		bool mode = false, seen = false;

		assert_non_null(f);
		while (getline(&log, &cap, f) > 0) {
			if (strstr(log, "\"msg\":\"listening\"") != NULL &&
			    strstr(log, "\"behind_tls_proxy\":true") != NULL)
				mode = true;
			if (strstr(log, "\"msg\":\"request\"") != NULL &&
			    strstr(log, "\"path\":\"/v1/tenants\"") != NULL &&
			    strstr(log, "\"status\":201") != NULL)
				seen = true;
		}
		fclose(f);
		assert_true(mode);
		assert_true(seen);
	}

	assert_int_equal(kill(nginx, SIGQUIT), 0);
	assert_int_equal(waitpid(nginx, &status, 0), nginx);
	nginx = -1;
	assert_false(accepts(tls_port));
	srv_free(s);
	free(log);
	free(conf);
	free(main_conf);
	proc_rm_tree(tmp);
}

/* nginx is not left running when an assertion stops the test. */
static int stop_nginx(void **state)
{
	(void)state;
	if (nginx > 0) {
		kill(nginx, SIGKILL);
		waitpid(nginx, NULL, 0);
		nginx = -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(test_nginx_in_front, stop_nginx),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
