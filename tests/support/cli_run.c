/* cli_run.c - driving the finlock binary from tests (cli_run.h). */
#include "support/cli_run.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/imei.h"

#define ARGS_MAX 64

int cli_runv(struct proc_result *r, const char *input, char *const *args)
{
	char *argv[ARGS_MAX + 2];
	size_t n = 0;

	argv[n++] = "finlock";
	for (size_t i = 0; args[i] != NULL && n < ARGS_MAX + 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(proc_run("finlock", argv, input, r), 0);
	return r->status;
}

int cli_run(struct proc_result *r, const char *input, ...)
{
	char *args[ARGS_MAX + 1];
	size_t n = 0;
	va_list ap;
	char *a;

	va_start(ap, input);
	while ((a = va_arg(ap, char *)) != NULL && n < ARGS_MAX)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	return cli_runv(r, input, args);
}

json_t *cli_json(const struct proc_result *r)
{
	json_error_t e;
	json_t *j = json_loads(r->out, 0, &e);

	if (j == NULL)
		fprintf(stderr, "not JSON (%s): [%s] stderr [%s]\n", e.text,
		        r->out, r->err);
	assert_non_null(j);
	return j;
}

void cli_env(const char *server, const char *key)
{
	if (server != NULL)
		setenv("FINLOCK_SERVER", server, 1);
	else
		unsetenv("FINLOCK_SERVER");
	if (key != NULL)
		setenv("FINLOCK_API_KEY", key, 1);
	else
		unsetenv("FINLOCK_API_KEY");
}

const char *cli_isolate(void)
{
	static char dir[64];
	char path[128];

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/finlock-cli-XXXXXX");
		assert_non_null(mkdtemp(dir));
	}
	snprintf(path, sizeof(path), "%s/config", dir);
	setenv("FINLOCK_CONFIG", path, 1);
	unsetenv("FINLOCK_CACERT");
	return dir;
}

void cli_write_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

void cli_imei(unsigned long n, char out[16])
{
	snprintf(out, 16, "35%012lu", n % 1000000000000UL);
	out[14] = fl_imei_check_digit(out);
	out[15] = '\0';
}

size_t cli_count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

bool cli_one_line(const char *s, const char *prefix)
{
	size_t len = strlen(s);

	return len > 0 && s[len - 1] == '\n' && cli_count_lines(s) == 1 &&
	       strncmp(s, prefix, strlen(prefix)) == 0;
}

bool cli_last_line(const char *s, const char *prefix)
{
	size_t len = strlen(s);
	const char *last;

	if (len == 0 || s[len - 1] != '\n')
		return false;
	for (last = s + len - 1; last > s && last[-1] != '\n'; last--)
		;
	return strncmp(last, prefix, strlen(prefix)) == 0;
}

unsigned cli_closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd); /* bound, never listened: connecting is refused */
	return ntohs(a.sin_port);
}

int cli_silent_port(unsigned *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}
