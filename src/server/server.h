/*
 * server.h - running finlockd: set up the data directory, the store, the
 * secrets and keys, serve HTTP until SIGTERM or SIGINT, then shut down
 * cleanly (stop accepting, finish requests in flight, flush, exit 0).
 *
 * On the first start in an empty data directory it creates everything and
 * prints the first operator API key on stdout, once, as the line
 * `operator key: fl_...`. Every start prints `listening on ADDR:PORT` on
 * stdout once it accepts connections (useful with port 0).
 *
 * THREAD SAFETY: fl_server_run() is called once, from main.
 */
#ifndef FL_SERVER_SERVER_H
#define FL_SERVER_SERVER_H

#include "core/err.h"
#include "server/config.h"

/* The exit status of a start refused because the data directory cannot
 * be trusted (datadir.h); a stop after serving is 0, other failures 1. */
#define FL_SERVER_EXIT_REFUSED 3

/* Serves until asked to stop. Returns the process exit status. */
int fl_server_run(const struct fl_config *cfg);

/* Opens the data directory's store (creating the directory and database if
 * needed) without the start-up checks of datadir.h: for tools that fill a
 * stopped server's database (bench/). */
struct fl_store;
fl_err fl_server_open_store(const struct fl_config *cfg,
                            struct fl_store **out) FL_MUST_USE;

/* Creates the data directory (0700) if needed. */
fl_err fl_server_data_dir(const char *dir) FL_MUST_USE;

#endif
