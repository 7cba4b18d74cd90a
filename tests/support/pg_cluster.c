/* pg_cluster.c - a private PostgreSQL cluster for a test program. */
#include "support/pg_cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/proc.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"
#define PG_MAX 4 /* clusters one program may run */

static struct pg_cluster *all[PG_MAX];
static bool atexit_set;

/* Runs argv (as the postgres user when we are root), its output
 * appended to the cluster's log; returns its exit status or -1. */
static int run(const struct pg_cluster *c, char *const argv[])
{
	char log[128];
	pid_t pid;
	int status;

	snprintf(log, sizeof(log), "%s/setup.log", c->dir);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *args[24];
		int n = 0, fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* the postgres user may not enter the test's directory */
		if (chdir(c->dir) != 0)
			_exit(126);
		if (geteuid() == 0) {
			args[n++] = "runuser";
			args[n++] = "-u";
			args[n++] = "postgres";
			args[n++] = "--";
		}
		for (int i = 0; argv[i] != NULL && n < 23; i++)
			args[n++] = argv[i];
		args[n] = NULL;
		execvp(args[0], args);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Copies the end of the cluster's file `name` to stderr. */
static void show_log(const struct pg_cluster *c, const char *name)
{
	char path[128], buf[2048];
	FILE *fp;
	long size;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	fp = fopen(path, "r");
	if (fp == NULL)
		return;
	if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) > 0)
		(void)fseek(fp,
		            size > (long)sizeof(buf) - 1
		                    ? size - (long)sizeof(buf) + 1
		                    : 0,
		            SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	fprintf(stderr, "--- %s\n%s\n", path, buf);
}

static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int pg_ctl_start(struct pg_cluster *c)
{
	char data[96], log[96], opts[256];
	char *argv[] = {PG_BIN "/pg_ctl",
	                "-D",
	                data,
	                "-l",
	                log,
	                "-w",
	                "-t",
	                "30",
	                "-o",
	                opts,
	                "start",
	                NULL};

	snprintf(data, sizeof(data), "%s/data", c->dir);
	snprintf(log, sizeof(log), "%s/server.log", c->dir);
	snprintf(opts, sizeof(opts),
	         "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=on "
	         "-c deadlock_timeout=100ms -c max_connections=300 "
	         "-c shared_buffers=32MB",
	         c->port, c->dir);
	if (run(c, argv) != 0)
		return -1;
	c->running = true;
	return 0;
}

static void stop_now(struct pg_cluster *c, const char *mode)
{
	char data[96];
	char *argv[] = {PG_BIN "/pg_ctl", "-D", data,   "-m",
	                (char *)mode,     "-w", "stop", NULL};

	snprintf(data, sizeof(data), "%s/data", c->dir);
	(void)run(c, argv);
	c->running = false;
}

static void destroy_all(void)
{
	for (int i = 0; i < PG_MAX; i++)
		if (all[i] != NULL)
			pg_cluster_destroy(all[i]);
}

/* A process that waits for this program to end, however it ends (its end
 * of the pipe closes), then stops the cluster and removes it. */
static void start_watchdog(struct pg_cluster *c)
{
	int fds[2];
	pid_t pid;

	c->watch_fd = -1;
	if (pipe(fds) != 0)
		return;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		char b;

		close(fds[1]);
		/* holds no pipe of whoever reads the test's output */
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			close(null);
		}
		/* its own process group: a ^C to the test leaves it to
		 * clean up */
		setpgid(0, 0);
		while (read(fds[0], &b, 1) > 0 || errno == EINTR) {
		}
		if (access(c->dir, F_OK) == 0) {
			stop_now(c, "immediate");
			proc_rm_tree(c->dir);
		}
		_exit(0);
	}
	close(fds[0]);
	(void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	c->watch_fd = fds[1];
}

int pg_cluster_start(struct pg_cluster *c)
{
	char data[96];
	char *initdb[] = {PG_BIN "/initdb", "-D",         data,        "-A",
	                  "trust",          "-U",         "postgres",  "-E",
	                  "UTF8",           "--locale=C", "--no-sync", NULL};
	struct passwd *pw = NULL;
	int slot = -1;

	memset(c, 0, sizeof(*c));
	c->watch_fd = -1;
	if (access(PG_BIN "/initdb", X_OK) != 0) {
		fprintf(stderr,
		        "pg_cluster: %s/initdb missing (postgresql-15)\n",
		        PG_BIN);
		return -1;
	}
	for (int i = 0; i < PG_MAX && slot < 0; i++)
		if (all[i] == NULL)
			slot = i;
	if (slot < 0)
		return -1;
	snprintf(c->dir, sizeof(c->dir), "/tmp/finlock-pg-XXXXXX");
	if (mkdtemp(c->dir) == NULL)
		return -1;
	if (geteuid() == 0) {
		pw = getpwnam("postgres");
		if (pw == NULL || chown(c->dir, pw->pw_uid, pw->pw_gid) != 0) {
			fprintf(stderr, "pg_cluster: no postgres user\n");
			proc_rm_tree(c->dir);
			return -1;
		}
	}
	all[slot] = c;
	if (!atexit_set) {
		atexit(destroy_all);
		atexit_set = true;
	}
	start_watchdog(c);
	snprintf(data, sizeof(data), "%s/data", c->dir);
	if (run(c, initdb) != 0) {
		fprintf(stderr, "pg_cluster: initdb failed\n");
		show_log(c, "setup.log");
		return -1;
	}
	/* a port taken between the probe and the start: another one */
	for (int attempt = 0; attempt < 5; attempt++) {
		c->port = free_port();
		if (c->port > 0 && pg_ctl_start(c) == 0)
			return 0;
	}
	fprintf(stderr, "pg_cluster: the server did not start\n");
	show_log(c, "setup.log");
	show_log(c, "server.log");
	return -1;
}

int pg_cluster_stop(struct pg_cluster *c)
{
	if (!c->running)
		return 0;
	stop_now(c, "fast");
	return 0;
}

int pg_cluster_restart(struct pg_cluster *c)
{
	return c->running ? 0 : pg_ctl_start(c);
}

void pg_cluster_destroy(struct pg_cluster *c)
{
	if (c == NULL || c->dir[0] == '\0')
		return;
	if (c->running)
		stop_now(c, "immediate");
	proc_rm_tree(c->dir);
	c->dir[0] = '\0';
	if (c->watch_fd >= 0)
		close(c->watch_fd);
	c->watch_fd = -1;
	for (int i = 0; i < PG_MAX; i++)
		if (all[i] == c)
			all[i] = NULL;
}

void pg_cluster_uri(const struct pg_cluster *c, const char *db, char *out,
                    size_t cap)
{
	snprintf(out, cap, "postgresql://postgres@127.0.0.1:%d/%s", c->port,
	         db);
}

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

int pg_cluster_exec(const struct pg_cluster *c, const char *db, const char *sql)
{
	char uri[160];
	PGconn *conn;
	PGresult *r;
	int rc = 0;

	pg_cluster_uri(c, db, uri, sizeof(uri));
	conn = PQconnectdb(uri);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "pg_cluster: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	PQsetNoticeProcessor(conn, quiet, NULL);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "pg_cluster: %s", PQerrorMessage(conn));
		rc = -1;
	}
	PQclear(r);
	PQfinish(conn);
	return rc;
}
