/* proc.c - running finlock's programs from tests. */
#define _GNU_SOURCE
#include "support/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROC_MAX_ARGS 64
#define PROC_OUT_CAP  (8u << 20)

const char *proc_bin(const char *prog)
{
	static char path[4096];
	const char *dir = getenv("FINLOCK_BIN");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "build/san/bin",
	         prog);
	return path;
}

const char *proc_source_root(void)
{
	static char root[4096];
	const char *dir = getenv("FINLOCK_BIN");
	const char *tail = "/build/san/bin";
	size_t n = dir != NULL ? strlen(dir) : 0, k = strlen(tail);

	if (n > k && n - k < sizeof(root) && strcmp(dir + n - k, tail) == 0)
		snprintf(root, sizeof(root), "%.*s", (int)(n - k), dir);
	else
		snprintf(root, sizeof(root), ".");
	return root;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

void proc_rm_tree(const char *dir)
{
	if (getenv("FINLOCK_KEEP_TEST_DIRS") == NULL)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct sink {
	char *buf;
	size_t len, cap;
};

static int sink_read(struct sink *s, int fd)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n <= 0)
		return (int)n;
	if (s->len + (size_t)n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8192;
		char *nb;

		while (cap < s->len + (size_t)n + 1)
			cap *= 2;
		if (cap > PROC_OUT_CAP)
			return -1;
		nb = realloc(s->buf, cap);
		if (nb == NULL)
			return -1;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, tmp, (size_t)n);
	s->len += (size_t)n;
	s->buf[s->len] = '\0';
	return (int)n;
}

static char *sink_take(struct sink *s)
{
	if (s->buf == NULL)
		return strdup("");
	return s->buf;
}

int proc_run(const char *prog, char *const argv[], const char *input,
             struct proc_result *r)
{
	int in[2], out[2], err[2], wstatus = 0;
	struct sink so = {0}, se = {0};
	size_t in_len = input ? strlen(input) : 0, in_off = 0;
	time_t deadline = time(NULL) + 60;
	pid_t pid;
	const char *path = proc_bin(prog);

	memset(r, 0, sizeof(*r));
	if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		execv(path, argv);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	signal(SIGPIPE, SIG_IGN);
	if (in_len == 0) {
		close(in[1]);
		in[1] = -1;
	}
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd p[3] = {{out[0], POLLIN, 0},
		                      {err[0], POLLIN, 0},
		                      {in[1], POLLOUT, 0}};
		int np = in[1] >= 0 ? 3 : 2;

		if (time(NULL) > deadline) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, (nfds_t)np, 1000) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd >= 0 &&
			    (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
				if (sink_read(i == 0 ? &so : &se, p[i].fd) <=
				    0) {
					close(p[i].fd);
					if (i == 0)
						out[0] = -1;
					else
						err[0] = -1;
					open_fds--;
				}
			}
		}
		if (np == 3 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w =
			        write(in[1], input + in_off, in_len - in_off);
			if (w > 0)
				in_off += (size_t)w;
			if (w <= 0 || in_off == in_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	if (out[0] >= 0)
		close(out[0]);
	if (err[0] >= 0)
		close(err[0]);
	waitpid(pid, &wstatus, 0);
	r->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
	                               : 128 + WTERMSIG(wstatus);
	r->out = sink_take(&so);
	r->err = sink_take(&se);
	return 0;
}

int proc_runl(struct proc_result *r, const char *input, const char *prog, ...)
{
	char *argv[PROC_MAX_ARGS + 2];
	va_list ap;
	size_t n = 0;
	char *a;

	argv[n++] = (char *)prog;
	va_start(ap, prog);
	while ((a = va_arg(ap, char *)) != NULL && n < PROC_MAX_ARGS)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return proc_run(prog, argv, input, r);
}

void proc_result_free(struct proc_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}
