/*
 * admin.h - finlockd's administrative subcommands, run against a data
 * directory while the server is stopped or running:
 *
 *   keys list                 kid, k4.public, status and certificate end
 *   keys rotate               new signing key
 *   keys accept-cert CERT [--root K4PUBLIC]
 *                             install a root certificate ("-": stdin)
 *   keys retire KID           stop signing with a key
 *   root-pubkey               the trust anchor phones carry (creates a
 *                             development root when none is installed)
 *   operator-key              another operator API key, printed once
 *   check                     the full integrity check of the database,
 *                             every audit chain, the secrets and keys
 *                             (exit 1 when anything is wrong)
 *   backup FILE               everything the directory needs, in one
 *                             file (backup.h); the server may be running
 *   restore FILE              rebuild the (new or empty) directory
 *
 * A running finlockd picks up key changes on SIGHUP.
 *
 * THREAD SAFETY: called once, from main.
 */
#ifndef FL_SERVER_ADMIN_H
#define FL_SERVER_ADMIN_H

#include "server/config.h"

/* Runs argv[0..argc) as a subcommand; returns the exit status. */
int fl_admin_main(const struct fl_config *cfg, int argc, char **argv);

#endif
