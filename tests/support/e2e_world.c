/* e2e_world.c - finlockd, lenders and simulated phones for the end-to-end
 * journeys (e2e_world.h). */
#define _GNU_SOURCE
#include "support/e2e_world.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fltime.h"
#include "core/imei.h"

#define E2E_ARGS_MAX 60 /* proc.h runs at most 64 arguments */

struct e2e {
	struct srv *srv;
	char dir[256];    /* the world's temporary directory */
	char root[256];   /* k4.public of the operator's root */
	char config[320]; /* FINLOCK_CONFIG: a file never made */
	struct e2e_phone *phones[E2E_MAX_PHONES];
	int n_phones;
	unsigned next; /* numbers the next phone's IMEIs and serial */
};

static bool verbose(void)
{
	return getenv("E2E_VERBOSE") != NULL;
}

int64_t e2e_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t e2e_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void e2e_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void e2e_at(char out[32], long secs)
{
	char buf[FL_TIME_STR_LEN];

	fl_time_format((fl_time)time(NULL) + secs, buf);
	snprintf(out, 32, "%s", buf);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Drops the trailing newline of s in place. */
static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static void echo(const char *what, char *const argv[],
                 const struct proc_result *r)
{
	fprintf(stderr, "%s:", what);
	for (size_t i = 0; argv[i] != NULL; i++)
		fprintf(stderr, " %s", argv[i]);
	fprintf(stderr, "\n  -> exit %d\n", r->status);
	if (r->out != NULL && r->out[0] != '\0')
		fprintf(stderr, "  stdout: %s%s", r->out,
		        r->out[strlen(r->out) - 1] == '\n' ? "" : "\n");
	if (r->err != NULL && r->err[0] != '\0')
		fprintf(stderr, "  stderr: %s%s", r->err,
		        r->err[strlen(r->err) - 1] == '\n' ? "" : "\n");
}

int e2e_start(struct e2e **out, const char *tag, const char *const *extra_args)
{
	struct e2e *w = calloc(1, sizeof(*w));
	struct srv_opts opts = {.args = extra_args};
	struct proc_result r;

	*out = NULL;
	if (w == NULL)
		return -1;
	snprintf(w->dir, sizeof(w->dir), "/tmp/fl-e2e-%s-XXXXXX", tag);
	if (mkdtemp(w->dir) == NULL) {
		free(w);
		return -1;
	}
	/* The client reads no user configuration, and no phone directory
	 * comes from the environment. */
	snprintf(w->config, sizeof(w->config), "%s/finlock.conf", w->dir);
	setenv("FINLOCK_CONFIG", w->config, 1);
	unsetenv("FINLOCK_SERVER");
	unsetenv("FINLOCK_API_KEY");
	unsetenv("FINLOCK_CACERT");
	unsetenv("FINLOCK_DEVICE_DIR");
	w->next = 1;
	if (srv_start(&w->srv, &opts) != 0) {
		fprintf(stderr, "e2e: finlockd did not start\n");
		goto fail;
	}
	if (proc_runl(&r, NULL, "finlockd", "--data", srv_data_dir(w->srv),
	              "root-pubkey", NULL) != 0)
		goto fail;
	if (r.status != 0 || strncmp(r.out, "k4.public.", 10) != 0) {
		fprintf(stderr, "e2e: finlockd root-pubkey: %d %s%s\n",
		        r.status, r.out, r.err);
		proc_result_free(&r);
		goto fail;
	}
	chomp(r.out);
	snprintf(w->root, sizeof(w->root), "%s", r.out);
	proc_result_free(&r);
	if (verbose())
		fprintf(stderr, "e2e: world %s, finlockd at %s, root %s\n",
		        w->dir, srv_url(w->srv), w->root);
	*out = w;
	return 0;
fail:
	e2e_free(w);
	return -1;
}

void e2e_free(struct e2e *w)
{
	if (w == NULL)
		return;
	for (int i = 0; i < w->n_phones; i++) {
		e2e_phone_stop(w->phones[i]);
		free(w->phones[i]);
	}
	srv_free(w->srv);
	if (getenv("E2E_KEEP") != NULL)
		fprintf(stderr, "e2e: kept %s\n", w->dir);
	else
		nftw(w->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(w);
}

struct srv *e2e_srv(struct e2e *w)
{
	return w->srv;
}

const char *e2e_url(const struct e2e *w)
{
	return srv_url(w->srv);
}

const char *e2e_root(const struct e2e *w)
{
	return w->root;
}

const char *e2e_dir(const struct e2e *w)
{
	return w->dir;
}

int e2e_lender_new(struct e2e *w, const char *name, struct e2e_lender *l)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name);
	if (srv_tenant(w->srv, name, l->tenant, l->key) != 0) {
		fprintf(stderr, "e2e: could not create the lender %s\n", name);
		return -1;
	}
	return 0;
}

/* --- the finlock CLI ------------------------------------------------ */

/* Runs finlock with the arguments in ap, then --json if json, then the
 * server and l's key when l is not NULL. */
static int cli_va(struct e2e *w, const struct e2e_lender *l, bool json,
                  struct proc_result *r, va_list ap)
{
	char *argv[E2E_ARGS_MAX + 8];
	size_t n = 0;
	char *a;
	int rc;

	argv[n++] = "finlock";
	while ((a = va_arg(ap, char *)) != NULL && n < E2E_ARGS_MAX)
		argv[n++] = a;
	if (json)
		argv[n++] = "--json";
	if (l != NULL) {
		argv[n++] = "--server";
		argv[n++] = (char *)srv_url(w->srv);
		argv[n++] = "--key";
		argv[n++] = (char *)l->key;
	}
	argv[n] = NULL;
	if (proc_run("finlock", argv, NULL, r) != 0) {
		fprintf(stderr, "e2e: could not run %s\n", proc_bin("finlock"));
		return -1;
	}
	rc = r->status;
	if (verbose())
		echo("e2e", argv, r);
	return rc;
}

int e2e_cli(struct e2e *w, const struct e2e_lender *l, struct proc_result *r,
            ...)
{
	va_list ap;
	int rc;

	va_start(ap, r);
	rc = cli_va(w, l, false, r, ap);
	va_end(ap);
	return rc;
}

json_t *e2e_cli_json(struct e2e *w, const struct e2e_lender *l, ...)
{
	struct proc_result r;
	json_t *j = NULL;
	va_list ap;
	int rc;

	va_start(ap, l);
	rc = cli_va(w, l, true, &r, ap);
	va_end(ap);
	if (rc < 0)
		return NULL;
	if (rc == 0)
		j = json_loads(r.out, JSON_DECODE_ANY, NULL);
	if (j == NULL)
		fprintf(stderr,
		        "e2e: finlock exit %d\n  stdout: %s\n  stderr: %s\n",
		        rc, r.out, r.err);
	proc_result_free(&r);
	return j;
}

int e2e_cli_fail(struct e2e *w, const struct e2e_lender *l, char code[64], ...)
{
	struct proc_result r;
	json_t *j;
	va_list ap;
	int rc;

	if (code != NULL)
		code[0] = '\0';
	va_start(ap, code);
	rc = cli_va(w, l, true, &r, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	if (rc == 0)
		fprintf(stderr,
		        "e2e: finlock succeeded where it should not\n"
		        "  stdout: %s\n",
		        r.out);
	j = json_loads(r.out, 0, NULL);
	if (code != NULL && j != NULL) {
		const char *c = json_string_value(
		        json_object_get(json_object_get(j, "error"), "code"));
		snprintf(code, 64, "%s", c != NULL ? c : "");
	}
	json_decref(j);
	proc_result_free(&r);
	return rc;
}

json_t *e2e_device(struct e2e *w, const struct e2e_lender *l,
                   const struct e2e_phone *p)
{
	return e2e_cli_json(w, l, "devices", "show", p->id, NULL);
}

/* --- phones --------------------------------------------------------- */

/* A valid IMEI: the 14 digits "35209900" + six of n, and the check
 * digit. */
static void make_imei(unsigned n, char out[16])
{
	snprintf(out, 16, "35209900%06u", n % 1000000u);
	out[14] = fl_imei_check_digit(out);
	out[15] = '\0';
}

static struct e2e_phone *phone_add(struct e2e *w, const char *name,
                                   const char *imei, const char *imei2)
{
	struct e2e_phone *p;
	unsigned n = w->next++;

	if (w->n_phones >= E2E_MAX_PHONES)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->w = w;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->dir, sizeof(p->dir), "%s/phones/%02u-%s", w->dir, n, name);
	snprintf(p->log, sizeof(p->log), "%s/phones/%02u-%s.log", w->dir, n,
	         name);
	if (imei != NULL) {
		snprintf(p->imei, sizeof(p->imei), "%s", imei);
		snprintf(p->imei2, sizeof(p->imei2), "%s",
		         imei2 != NULL ? imei2 : "");
	} else {
		make_imei(2 * n, p->imei);
		make_imei(2 * n + 1, p->imei2);
	}
	snprintf(p->serial, sizeof(p->serial), "R58N%05uE2E", n);
	w->phones[w->n_phones++] = p;
	return p;
}

static struct e2e_phone *phone_create(struct e2e *w, struct e2e_phone *p)
{
	char sub[300];
	int rc;

	if (p == NULL)
		return NULL;
	snprintf(sub, sizeof(sub), "%s/phones", w->dir);
	mkdir(sub, 0700);
	if (p->imei2[0] != '\0')
		rc = e2e_dev_ok(p, "create", "--trust", w->root, "--imei",
		                p->imei, "--imei2", p->imei2, "--serial",
		                p->serial, "--server", srv_url(w->srv), NULL);
	else
		rc = e2e_dev_ok(p, "create", "--trust", w->root, "--imei",
		                p->imei, "--serial", p->serial, "--server",
		                srv_url(w->srv), NULL);
	return rc == 0 ? p : NULL;
}

struct e2e_phone *e2e_phone_new(struct e2e *w, const char *name)
{
	return phone_create(w, phone_add(w, name, NULL, NULL));
}

struct e2e_phone *e2e_phone_new_imei(struct e2e *w, const char *name,
                                     const char *imei, const char *imei2)
{
	return phone_create(w, phone_add(w, name, imei, imei2));
}

int e2e_register(struct e2e *w, const struct e2e_lender *l, struct e2e_phone *p)
{
	json_t *j;
	const char *id, *code;
	char model[64];

	snprintf(model, sizeof(model), "Simulated %s", p->name);
	if (p->imei2[0] != '\0')
		j = e2e_cli_json(w, l, "devices", "register", "--imei", p->imei,
		                 "--imei2", p->imei2, "--serial", p->serial,
		                 "--model", model, NULL);
	else
		j = e2e_cli_json(w, l, "devices", "register", "--imei", p->imei,
		                 "--serial", p->serial, "--model", model, NULL);
	if (j == NULL)
		return -1;
	id = e2e_jstr(json_object_get(j, "device"), "id");
	code = e2e_jstr(j, "enrollment_code");
	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->code, sizeof(p->code), "%s", code);
	json_decref(j);
	if (p->id[0] == '\0' || p->code[0] == '\0') {
		fprintf(stderr, "e2e: register gave no device id or code\n");
		return -1;
	}
	return 0;
}

static int dev_va(struct e2e_phone *p, struct proc_result *r, va_list ap)
{
	char *argv[E2E_ARGS_MAX + 4];
	size_t n = 0;
	char *a;

	argv[n++] = "finlock-device";
	argv[n++] = "--dir";
	argv[n++] = p->dir;
	while ((a = va_arg(ap, char *)) != NULL && n < E2E_ARGS_MAX)
		argv[n++] = a;
	argv[n] = NULL;
	if (proc_run("finlock-device", argv, NULL, r) != 0) {
		fprintf(stderr, "e2e: could not run %s\n",
		        proc_bin("finlock-device"));
		return -1;
	}
	if (verbose())
		echo("e2e", argv, r);
	return r->status;
}

int e2e_dev(struct e2e_phone *p, struct proc_result *r, ...)
{
	va_list ap;
	int rc;

	va_start(ap, r);
	rc = dev_va(p, r, ap);
	va_end(ap);
	return rc;
}

int e2e_dev_ok(struct e2e_phone *p, ...)
{
	struct proc_result r;
	va_list ap;
	int rc;

	va_start(ap, p);
	rc = dev_va(p, &r, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	if (rc != 0)
		fprintf(stderr,
		        "e2e: finlock-device (%s) exit %d\n  stdout: %s\n"
		        "  stderr: %s\n",
		        p->name, rc, r.out, r.err);
	proc_result_free(&r);
	return rc == 0 ? 0 : -1;
}

int e2e_phone_enroll(struct e2e *w, struct e2e_phone *p)
{
	return e2e_dev_ok(p, "enroll", "--server", srv_url(w->srv), "--code",
	                  p->code, NULL);
}

int e2e_phone_run(struct e2e_phone *p)
{
	char *argv[] = {"finlock-device", "--dir", p->dir, "run", NULL};
	pid_t pid;

	if (p->run > 0)
		return 0;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int log = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int null = open("/dev/null", O_RDONLY);

		if (log < 0 || null < 0)
			_exit(127);
		/* a test that dies leaves no phone running */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(null, 0);
		dup2(log, 1);
		dup2(log, 2);
		execv(proc_bin("finlock-device"), argv);
		_exit(127);
	}
	p->run = pid;
	return 0;
}

int e2e_phone_stop(struct e2e_phone *p)
{
	int wstatus = 0;
	int64_t deadline;

	if (p == NULL || p->run <= 0)
		return 0;
	kill(p->run, SIGTERM);
	deadline = e2e_ms() + 10000;
	for (;;) {
		pid_t r = waitpid(p->run, &wstatus, WNOHANG);

		if (r == p->run)
			break;
		if (r < 0) {
			p->run = 0;
			return -1;
		}
		if (e2e_ms() > deadline) {
			fprintf(stderr, "e2e: %s's run ignored SIGTERM\n",
			        p->name);
			kill(p->run, SIGKILL);
			waitpid(p->run, &wstatus, 0);
			p->run = 0;
			return -1;
		}
		e2e_sleep_ms(10);
	}
	p->run = 0;
	return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
	                          : 128 + WTERMSIG(wstatus);
}

json_t *e2e_status(struct e2e_phone *p)
{
	struct proc_result r;
	char *argv[] = {"finlock-device", "--dir",  p->dir,
	                "status",         "--json", NULL};
	json_t *j = NULL;

	if (proc_run("finlock-device", argv, NULL, &r) != 0)
		return NULL;
	if (r.status == 0)
		j = json_loads(r.out, 0, NULL);
	if (j == NULL)
		fprintf(stderr, "e2e: %s: status exit %d: %s%s\n", p->name,
		        r.status, r.out, r.err);
	proc_result_free(&r);
	return j;
}

/* --- waiting for the screen ----------------------------------------- */

void e2e_dump(struct e2e *w, const struct e2e_phone *p)
{
	char line[2048];
	FILE *f;
	long lines = 0, skip;

	if (p != NULL && (f = fopen(p->log, "r")) != NULL) {
		fprintf(stderr, "--- %s's run log\n", p->name);
		while (fgets(line, sizeof(line), f) != NULL)
			fputs(line, stderr);
		fclose(f);
	}
	if (w == NULL || (f = fopen(srv_log_path(w->srv), "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		lines++;
	skip = lines > 25 ? lines - 25 : 0;
	rewind(f);
	fprintf(stderr, "--- finlockd log (last %ld lines)\n", lines - skip);
	for (long i = 0; fgets(line, sizeof(line), f) != NULL; i++)
		if (i >= skip)
			fputs(line, stderr);
	fclose(f);
	fprintf(stderr, "---\n");
}

bool e2e_wait(struct e2e_phone *p, const char *what, e2e_pred pred,
              const void *arg, int timeout_ms, long *ms)
{
	int64_t start = e2e_ms(), deadline = start + timeout_ms;
	json_t *last = NULL;

	if (ms != NULL)
		*ms = -1;
	for (;;) {
		json_t *j = e2e_status(p);
		int64_t now = e2e_ms();

		if (j != NULL && pred(j, arg)) {
			if (ms != NULL)
				*ms = (long)(now - start);
			json_decref(j);
			json_decref(last);
			return true;
		}
		if (j != NULL) {
			json_decref(last);
			last = j;
		}
		if (now >= deadline)
			break;
		e2e_sleep_ms(40);
	}
	fprintf(stderr, "e2e: %s: waited %d ms for %s; last status:\n", p->name,
	        timeout_ms, what);
	if (last != NULL) {
		char *s = json_dumps(last, JSON_INDENT(1) | JSON_SORT_KEYS);

		fprintf(stderr, "%s\n", s != NULL ? s : "?");
		free(s);
	}
	json_decref(last);
	e2e_dump(p->w, p);
	return false;
}

struct field {
	const char *key;
	json_t *want;
};

static bool field_is(const json_t *st, const void *arg)
{
	const struct field *f = arg;

	return json_equal(json_object_get(st, f->key), f->want);
}

static bool wait_field(struct e2e_phone *p, const char *key, json_t *want,
                       int timeout_ms, long *ms)
{
	struct field f = {key, want};
	char what[256], *v = json_dumps(want, JSON_ENCODE_ANY);
	bool ok;

	snprintf(what, sizeof(what), "%s = %s", key, v != NULL ? v : "?");
	free(v);
	ok = e2e_wait(p, what, field_is, &f, timeout_ms, ms);
	json_decref(want);
	return ok;
}

bool e2e_wait_bool(struct e2e_phone *p, const char *key, bool want,
                   int timeout_ms, long *ms)
{
	return wait_field(p, key, json_boolean(want), timeout_ms, ms);
}

bool e2e_wait_str(struct e2e_phone *p, const char *key, const char *want,
                  int timeout_ms, long *ms)
{
	return wait_field(p, key, json_string(want), timeout_ms, ms);
}

bool e2e_wait_int(struct e2e_phone *p, const char *key, long long want,
                  int timeout_ms, long *ms)
{
	return wait_field(p, key, json_integer(want), timeout_ms, ms);
}

bool e2e_watch_bool(struct e2e_phone *const *ps, int n, const char *key,
                    bool want, int timeout_ms, int64_t *seen)
{
	int64_t deadline = e2e_ms() + timeout_ms;
	int left = n;

	for (int i = 0; i < n; i++)
		seen[i] = -1;
	while (left > 0) {
		for (int i = 0; i < n; i++) {
			json_t *j, *v;

			if (seen[i] >= 0)
				continue;
			j = e2e_status(ps[i]);
			v = json_object_get(j, key);
			if (json_is_boolean(v) && json_is_true(v) == want) {
				seen[i] = e2e_wall_ms();
				left--;
			}
			json_decref(j);
		}
		if (left == 0)
			break;
		if (e2e_ms() >= deadline) {
			for (int i = 0; i < n; i++) {
				if (seen[i] >= 0)
					continue;
				fprintf(stderr, "e2e: %s: %s never became %s\n",
				        ps[i]->name, key,
				        want ? "true" : "false");
				e2e_dump(ps[i]->w, ps[i]);
			}
			return false;
		}
		e2e_sleep_ms(20);
	}
	return true;
}

bool e2e_hold_bool(struct e2e_phone *p, const char *key, bool want, int hold_ms)
{
	int64_t end = e2e_ms() + hold_ms;

	for (;;) {
		json_t *j = e2e_status(p);
		bool ok = j != NULL &&
		          json_is_boolean(json_object_get(j, key)) &&
		          json_is_true(json_object_get(j, key)) == want;

		if (!ok) {
			char *s = j != NULL ? json_dumps(j,
			                                 JSON_INDENT(1) |
			                                         JSON_SORT_KEYS)
			                    : NULL;

			fprintf(stderr, "e2e: %s: %s stopped being %s:\n%s\n",
			        p->name, key, want ? "true" : "false",
			        s != NULL ? s : "(no status)");
			free(s);
			json_decref(j);
			e2e_dump(p->w, p);
			return false;
		}
		json_decref(j);
		if (e2e_ms() >= end)
			return true;
		e2e_sleep_ms(200);
	}
}

/* --- JSON shortcuts ------------------------------------------------- */

const char *e2e_jstr(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s != NULL ? s : "";
}

long long e2e_jint(const json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

bool e2e_jbool(const json_t *j, const char *key)
{
	return json_is_true(json_object_get(j, key));
}

bool e2e_jhas(const json_t *j, const char *key, const char *s)
{
	json_t *a = json_object_get(j, key), *v;
	size_t i;

	json_array_foreach(a, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}
