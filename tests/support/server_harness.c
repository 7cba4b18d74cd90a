/* server_harness.c - a real finlockd on a free loopback port, and curl. */
#define _GNU_SOURCE
#include "support/server_harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct srv {
	char root[256]; /* temp directory ("" when data_dir was given) */
	char data[512]; /* data directory */
	char log[512];  /* stderr of the server */
	char url[128];
	char key[128];  /* first operator key */
	char out[4096]; /* stdout up to "listening on" */
	char ca[512];   /* TLS certificate, "" without TLS */
	char tls_key[512];
	unsigned port;
	pid_t pid; /* 0 when not running */
	struct srv_opts opts;
	CURL *curl;
	char source[64];       /* local address for requests, "" default */
	char clock[512];       /* the test clock's file, "" for none */
	_Atomic long long now; /* the time in it */
	pthread_t runner;      /* srv_clock_run's thread */
	_Atomic bool running;  /* ... until this is false */
	long long step;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
}

static const char *bin_path(void)
{
	static char path[1024];
	const char *dir = getenv("FINLOCK_BIN");

	snprintf(path, sizeof(path), "%s/finlockd",
	         dir != NULL ? dir : "build/san/bin");
	return path;
}

static int make_cert(struct srv *s)
{
	char cmd[2048];

	snprintf(s->ca, sizeof(s->ca), "%s/cert.pem", s->root);
	snprintf(s->tls_key, sizeof(s->tls_key), "%s/key.pem", s->root);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt "
	         "ec_paramgen_curve:prime256v1 -nodes -keyout '%s' -out '%s' "
	         "-days 2 -subj /CN=localhost -addext "
	         "subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1",
	         s->tls_key, s->ca);
	return system(cmd) == 0 ? 0 : -1;
}

/* Starts the process and reads stdout up to "listening on". */
static int launch(struct srv *s)
{
	char listen[64], port_arg[32];
	const char *argv[64];
	int out_pipe[2], logfd, n = 0;
	struct timespec t0, now;
	size_t used = 0;
	pid_t pid;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", s->port);
	(void)port_arg;
	argv[n++] = "finlockd";
	argv[n++] = "--data";
	argv[n++] = s->data;
	argv[n++] = "--listen";
	argv[n++] = listen;
	if (s->opts.tls) {
		argv[n++] = "--tls-cert";
		argv[n++] = s->ca;
		argv[n++] = "--tls-key";
		argv[n++] = s->tls_key;
	}
	if (s->clock[0] != '\0') {
		argv[n++] = "--test-clock";
		argv[n++] = s->clock;
	}
	for (size_t i = 0;
	     s->opts.args != NULL && s->opts.args[i] != NULL && n < 62; i++)
		argv[n++] = s->opts.args[i];
	argv[n] = NULL;

	if (pipe(out_pipe) != 0)
		return -1;
	logfd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		close(out_pipe[0]);
		close(out_pipe[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(out_pipe[1], 1);
		dup2(logfd, 2);
		close(out_pipe[0]);
		if (s->clock[0] != '\0')
			putenv("FINLOCKD_TEST_CLOCK_ENABLE=1");
		for (size_t i = 0;
		     s->opts.env != NULL && s->opts.env[i] != NULL; i++)
			putenv((char *)s->opts.env[i]);
		execv(bin_path(), (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", bin_path(), strerror(errno));
		_exit(127);
	}
	close(out_pipe[1]);
	close(logfd);
	s->pid = pid;
	s->out[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = {out_pipe[0], POLLIN, 0};
		char *line;
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 30)
			break;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		r = read(out_pipe[0], s->out + used, sizeof(s->out) - 1 - used);
		if (r <= 0)
			break;
		used += (size_t)r;
		s->out[used] = '\0';
		if ((line = strstr(s->out, "operator key: ")) != NULL &&
		    strchr(line, '\n') != NULL)
			sscanf(line, "operator key: %127s", s->key);
		if ((line = strstr(s->out, "listening on ")) != NULL &&
		    strchr(line, '\n') != NULL) {
			char *colon = strrchr(strtok(line, "\n"), ':');

			if (colon != NULL)
				s->port = (unsigned)atoi(colon + 1);
			close(out_pipe[0]);
			snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%u",
			         s->opts.tls ? "https" : "http", s->port);
			return 0;
		}
	}
	close(out_pipe[0]);
	fprintf(stderr, "finlockd did not start; its log is %s\n", s->log);
	srv_kill9(s);
	return -1;
}

int srv_start(struct srv **out, const struct srv_opts *opts)
{
	struct srv *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return -1;
	pthread_once(&curl_once, curl_init);
	if (opts != NULL)
		s->opts = *opts;
	snprintf(s->root, sizeof(s->root), "/tmp/finlock-srv-XXXXXX");
	if (mkdtemp(s->root) == NULL) {
		free(s);
		return -1;
	}
	if (s->opts.data_dir != NULL)
		snprintf(s->data, sizeof(s->data), "%s", s->opts.data_dir);
	else
		snprintf(s->data, sizeof(s->data), "%s/data", s->root);
	snprintf(s->log, sizeof(s->log), "%s/finlockd.log", s->root);
	if (s->opts.clock > 0) {
		snprintf(s->clock, sizeof(s->clock), "%s/clock", s->root);
		srv_clock_set(s, s->opts.clock);
	}
	if ((s->opts.tls && make_cert(s) != 0) || launch(s) != 0) {
		srv_free(s);
		return -1;
	}
	s->curl = curl_easy_init();
	*out = s;
	return 0;
}

long long srv_clock(const struct srv *s)
{
	return s->now;
}

void srv_clock_set(struct srv *s, long long t)
{
	char tmp[600], text[32];
	int fd, n;

	/* written aside and renamed: the server never reads half a time */
	snprintf(tmp, sizeof(tmp), "%s.new", s->clock);
	n = snprintf(text, sizeof(text), "%lld\n", t);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, (size_t)n) != n || close(fd) != 0 ||
	    rename(tmp, s->clock) != 0) {
		fprintf(stderr, "cannot set the test clock %s\n", s->clock);
		abort();
	}
	s->now = t;
}

const char *srv_clock_path(const struct srv *s)
{
	return s->clock;
}

void srv_clock_advance(struct srv *s, long long secs)
{
	srv_clock_set(s, s->now + secs);
}

static void *clock_runner(void *arg)
{
	struct srv *s = arg;
	struct timespec ts = {0, 10 * 1000000L};

	while (s->running) {
		srv_clock_advance(s, s->step);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

void srv_clock_run(struct srv *s, long long step)
{
	s->step = step;
	s->running = true;
	if (pthread_create(&s->runner, NULL, clock_runner, s) != 0)
		abort();
}

void srv_clock_stop(struct srv *s)
{
	if (!s->running)
		return;
	s->running = false;
	pthread_join(s->runner, NULL);
}

const char *srv_url(const struct srv *s)
{
	return s->url;
}

unsigned srv_port(const struct srv *s)
{
	return s->port;
}

const char *srv_operator_key(const struct srv *s)
{
	return s->key;
}

const char *srv_data_dir(const struct srv *s)
{
	return s->data;
}

const char *srv_log_path(const struct srv *s)
{
	return s->log;
}

const char *srv_stdout(const struct srv *s)
{
	return s->out;
}

pid_t srv_pid(const struct srv *s)
{
	return s->pid;
}

const char *srv_ca_file(const struct srv *s)
{
	return s->ca[0] ? s->ca : NULL;
}

int srv_wait(struct srv *s)
{
	int status = 0;

	if (s->pid == 0)
		return -1;
	for (int i = 0; i < 3000; i++) {
		pid_t r = waitpid(s->pid, &status, WNOHANG);

		if (r == s->pid) {
			s->pid = 0;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
		usleep(10000);
	}
	srv_kill9(s);
	return -1;
}

int srv_stop(struct srv *s)
{
	if (s->pid == 0)
		return -1;
	kill(s->pid, SIGTERM);
	return srv_wait(s);
}

void srv_kill9(struct srv *s)
{
	if (s->pid == 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

int srv_restart(struct srv *s)
{
	if (s->pid != 0)
		srv_stop(s);

	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	s->curl = curl_easy_init();
	return launch(s);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int srv_attach(struct srv **out, const char *url)
{
	struct srv *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return -1;
	pthread_once(&curl_once, curl_init);
	snprintf(s->url, sizeof(s->url), "%s", url);
	s->curl = curl_easy_init();
	if (s->curl == NULL) {
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void srv_free(struct srv *s)
{
	if (s == NULL)
		return;
	srv_clock_stop(s);
	if (s->pid != 0 && srv_stop(s) != 0)
		fprintf(stderr, "finlockd did not stop cleanly; log: %s\n",
		        s->log);
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	if (s->root[0] != '\0' && getenv("FINLOCK_KEEP_TEST_DIRS") == NULL)
		nftw(s->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(s);
}

/* --- requests ------------------------------------------------------------- */

struct buf {
	char *p;
	size_t len;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t n = size * nmemb;
	char *np = realloc(b->p, b->len + n + 1);

	if (np == NULL)
		return 0;
	memcpy(np + b->len, data, n);
	b->p = np;
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

int srv_reqx(struct srv *s, const char *method, const char *path,
             const char *key, const char *const *headers, const char *body,
             size_t body_len, struct srv_res *res)
{
	struct curl_slist *hl = NULL;
	struct buf b = {0}, h = {0};
	char url[2048], auth[256];
	CURLcode rc;

	memset(res, 0, sizeof(*res));
	snprintf(url, sizeof(url), "%s%s", s->url, path);
	curl_easy_reset(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_URL, url);
	curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	if (s->ca[0] != '\0')
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, s->ca);
	if (s->source[0] != '\0')
		curl_easy_setopt(s->curl, CURLOPT_INTERFACE, s->source);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(s->curl, CURLOPT_NOBODY, 1L);
	if (key != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
		hl = curl_slist_append(hl, auth);
	}
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
		hl = curl_slist_append(hl, headers[i]);
	if (body != NULL) {
		hl = curl_slist_append(hl, "Content-Type: application/json");
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)body_len);
	}
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hl);
	rc = curl_easy_perform(s->curl);
	curl_slist_free_all(hl);
	if (rc != CURLE_OK) {
		free(b.p);
		free(h.p);
		return -1;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &res->status);
	res->body = b.p != NULL ? b.p : calloc(1, 1);
	res->len = b.len;
	res->headers = h.p != NULL ? h.p : calloc(1, 1);
	if (res->len > 0)
		res->json = json_loadb(res->body, res->len, 0, NULL);
	return 0;
}

int srv_req(struct srv *s, const char *method, const char *path,
            const char *key, const char *body, struct srv_res *res)
{
	return srv_reqx(s, method, path, key, NULL, body,
	                body != NULL ? strlen(body) : 0, res);
}

void srv_set_source(struct srv *s, const char *ip)
{
	snprintf(s->source, sizeof(s->source), "%s", ip != NULL ? ip : "");
}

void srv_res_free(struct srv_res *r)
{
	free(r->body);
	free(r->headers);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

const char *srv_res_header(const struct srv_res *r, const char *name)
{
	static char value[512];
	size_t n = strlen(name);
	const char *p = r->headers;

	while (p != NULL && *p != '\0') {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);

		if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;

			while (*v == ' ')
				v++;
			snprintf(value, sizeof(value), "%.*s",
			         (int)(len - (size_t)(v - p)), v);
			return value;
		}
		p = eol != NULL ? eol + 2 : NULL;
	}
	return NULL;
}

const char *srv_jstr(const struct srv_res *r, const char *name)
{
	const char *v = json_string_value(json_object_get(r->json, name));

	return v != NULL ? v : "";
}

long long srv_jint(const struct srv_res *r, const char *name)
{
	json_t *v = json_object_get(r->json, name);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

const char *srv_err_code(const struct srv_res *r)
{
	const char *v = json_string_value(
	        json_object_get(json_object_get(r->json, "error"), "code"));

	return v != NULL ? v : "";
}

int srv_tenant(struct srv *s, const char *name, char tenant_id[64],
               char admin_key[64])
{
	struct srv_res r;
	char body[512], path[128];
	json_t *j = json_pack("{s:s}", "name", name);
	char *text = json_dumps(j, JSON_COMPACT);
	int rc = -1;

	json_decref(j);
	snprintf(body, sizeof(body), "%s", text);
	free(text);
	if (srv_req(s, "POST", "/v1/tenants", s->key, body, &r) != 0)
		return -1;
	if (r.status == 201) {
		snprintf(tenant_id, 64, "%s", srv_jstr(&r, "id"));
		rc = 0;
	}
	srv_res_free(&r);
	if (rc != 0)
		return -1;
	snprintf(path, sizeof(path), "/v1/tenants/%s/keys", tenant_id);
	if (srv_req(s, "POST", path, s->key, "{\"label\":\"admin\"}", &r) != 0)
		return -1;
	rc = r.status == 201 ? 0 : -1;
	if (rc == 0)
		snprintf(admin_key, 64, "%s", srv_jstr(&r, "key"));
	srv_res_free(&r);
	return rc;
}

int srv_key(struct srv *s, const char *admin_key, const char *role,
            char key[64])
{
	struct srv_res r;
	char body[128];
	int rc;

	snprintf(body, sizeof(body), "{\"role\":\"%s\"}", role);
	if (srv_req(s, "POST", "/v1/keys", admin_key, body, &r) != 0)
		return -1;
	rc = r.status == 201 ? 0 : -1;
	if (rc == 0)
		snprintf(key, 64, "%s", srv_jstr(&r, "key"));
	srv_res_free(&r);
	return rc;
}
