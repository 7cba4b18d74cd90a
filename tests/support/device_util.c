/* Helpers for finlock-device tests (device_util.h). */
#define _XOPEN_SOURCE 700
#include "support/device_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/proc.h"

void devt_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int devt_tmpdir(char out[256], const char *tag)
{
	const char *base = getenv("TMPDIR");

	snprintf(out, 256, "%s/fl-%s-XXXXXX",
	         base != NULL && base[0] != '\0' ? base : "/tmp", tag);
	return mkdtemp(out) != NULL ? 0 : -1;
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

void devt_rmtree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

pid_t devt_spawn(const char *prog, char *const argv[], const char *log_path)
{
	char path[4096];
	pid_t pid;

	snprintf(path, sizeof(path), "%s", proc_bin(prog));
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int null = open("/dev/null", O_RDONLY);

		if (log < 0 || null < 0)
			_exit(127);
		dup2(null, 0);
		dup2(log, 1);
		dup2(log, 2);
		execv(path, argv);
		_exit(127);
	}
	return pid;
}

static int decode(int wstatus)
{
	return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
	                          : 128 + WTERMSIG(wstatus);
}

int devt_stop(pid_t pid, int sig, int timeout_ms)
{
	int wstatus = 0;

	if (sig != 0)
		kill(pid, sig);
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		pid_t r = waitpid(pid, &wstatus, WNOHANG);
		if (r == pid)
			return decode(wstatus);
		if (r < 0)
			return -1;
		devt_sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &wstatus, 0);
	return -1;
}

bool devt_alive(pid_t pid)
{
	int wstatus;

	return waitpid(pid, &wstatus, WNOHANG) == 0;
}

json_t *devt_status(const char *dir)
{
	struct proc_result r;
	json_t *j = NULL;

	if (proc_runl(&r, NULL, "finlock-device", "--dir", dir, "status",
	              "--json", NULL) != 0)
		return NULL;
	if (r.status == 0)
		j = json_loads(r.out, 0, NULL);
	else
		fprintf(stderr, "status failed (%d): %s", r.status, r.err);
	proc_result_free(&r);
	return j;
}

bool devt_wait_bool(const char *dir, const char *key, bool want, int timeout_ms)
{
	for (int waited = 0;; waited += 100) {
		json_t *j = devt_status(dir);
		json_t *v = json_object_get(j, key);
		bool ok = json_is_boolean(v) && json_is_true(v) == want;

		json_decref(j);
		if (ok)
			return true;
		if (waited >= timeout_ms)
			return false;
		devt_sleep_ms(100);
	}
}

bool devt_wait_str(const char *dir, const char *key, const char *want,
                   int timeout_ms)
{
	for (int waited = 0;; waited += 100) {
		json_t *j = devt_status(dir);
		const char *v = json_string_value(json_object_get(j, key));
		bool ok = v != NULL && strcmp(v, want) == 0;

		json_decref(j);
		if (ok)
			return true;
		if (waited >= timeout_ms)
			return false;
		devt_sleep_ms(100);
	}
}

char *devt_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)(n < 0 ? 0 : n) + 1);
	if (buf != NULL) {
		size_t got = fread(buf, 1, (size_t)(n < 0 ? 0 : n), f);
		buf[got] = '\0';
	}
	fclose(f);
	return buf;
}

int devt_count_lines(const char *path, const char *needle)
{
	char *text = devt_read_file(path), *line, *save = NULL;
	int n = 0;

	if (text == NULL)
		return 0;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		if (strstr(line, needle) != NULL)
			n++;
	free(text);
	return n;
}

int devt_cmd(struct proc_result *r, const char *dir, ...)
{
	char *argv[32];
	size_t n = 0;
	va_list ap;
	char *a;

	argv[n++] = "finlock-device";
	argv[n++] = "--dir";
	argv[n++] = (char *)dir;
	va_start(ap, dir);
	while ((a = va_arg(ap, char *)) != NULL && n < 31)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return proc_run("finlock-device", argv, NULL, r);
}

char *devt_ok(const char *dir, const char *a1, const char *a2, const char *a3,
              const char *a4, const char *a5)
{
	struct proc_result r;
	char *out;

	assert_int_equal(devt_cmd(&r, dir, a1, a2, a3, a4, a5, NULL), 0);
	if (r.status != 0)
		fprintf(stderr, "%s failed (%d): %s", a1, r.status, r.err);
	assert_int_equal(r.status, 0);
	out = r.out;
	r.out = NULL;
	proc_result_free(&r);
	return out;
}
