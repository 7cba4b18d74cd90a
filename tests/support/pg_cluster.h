/*
 * pg_cluster.h - a private PostgreSQL 15 cluster for one test program.
 *
 * pg_cluster_start() runs Debian's initdb into a fresh temporary directory
 * (trust authentication, superuser "postgres"; as root the server's
 * programs run as the postgres user through runuser, since PostgreSQL
 * refuses to run as root) and starts the server with pg_ctl on a free
 * loopback port, its socket in that directory and fsync on. The cluster
 * is stopped and its directory removed by pg_cluster_destroy(), at exit
 * (atexit), and - should the test program die without running its exit
 * handlers (a sanitizer abort, a signal) - by a watchdog process that
 * notices the program is gone. pg_cluster_stop()/pg_cluster_restart()
 * take the server away and bring it back on the same port mid-test.
 *
 * Start one cluster per test program (initdb takes a second or two) and
 * one database per test (pg_cluster_exec "CREATE DATABASE ...").
 *
 * THREAD SAFETY: not thread-safe (uses fork and waitpid).
 */
#ifndef FL_TEST_PG_CLUSTER_H
#define FL_TEST_PG_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

struct pg_cluster {
	char dir[64]; /* the cluster's directory: data/, the socket, log */
	int port;     /* its loopback TCP port */
	bool running; /* the server is up */
	int watch_fd; /* write end of the watchdog's pipe, -1 none */
};

/* Makes and starts a cluster: 0, or -1 with the reason on stderr (the
 * PostgreSQL binaries missing, initdb or the start failing). */
int pg_cluster_start(struct pg_cluster *c);
/* Stops the server (fast shutdown); its data stays. 0 or -1. */
int pg_cluster_stop(struct pg_cluster *c);
/* Starts a stopped server again on the same port. 0 or -1. */
int pg_cluster_restart(struct pg_cluster *c);
/* Stops the server and removes the directory. NULL-safe, idempotent. */
void pg_cluster_destroy(struct pg_cluster *c);

/* The libpq URI of database db as the superuser, into out[cap]. */
void pg_cluster_uri(const struct pg_cluster *c, const char *db, char *out,
                    size_t cap);
/* Runs sql (several statements may be ';'-separated) on database db:
 * 0, or -1 with PostgreSQL's message on stderr. */
int pg_cluster_exec(const struct pg_cluster *c, const char *db,
                    const char *sql);

#endif
