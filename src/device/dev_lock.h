/*
 * dev_lock.h - who may touch a simulated phone's state, between processes.
 *
 * One process at a time opens the agent on a phone: `run` (the firmware,
 * for as long as it runs) or a short command (enroll, enter-code,
 * swap-sim, ...). Three flock(2) files in the phone's directory arrange it:
 *
 *   lock       held exclusively by whoever has the agent open;
 *   lock.gate  a turnstile: a command takes it before asking for `lock`,
 *              and `run`, after giving `lock` up, must pass it before
 *              taking `lock` back, so a waiting command is never starved;
 *   lock.run   held by `run` for its whole life (a second `run` is
 *              refused); it also holds run's process id.
 *
 * A command that finds `lock` held while `run` is alive sends run SIGUSR1
 * ("yield"): run abandons its network call (which changes nothing: the
 * agent guarantees it), closes the agent, releases `lock`, and queues at
 * the gate. The command does its work and releases; run takes `lock` back
 * and reopens the agent on the state the command left.
 *
 * Readers that only display (status, screen) do not take the lock while
 * `run` is alive: they read the status snapshot run keeps (run/status.json,
 * replaced atomically).
 *
 * flock locks are released by the kernel when their holder dies, so a
 * crashed process never wedges a phone.
 *
 * THREAD SAFETY: per process; signal-safe flags only.
 */
#ifndef FL_DEV_LOCK_H
#define FL_DEV_LOCK_H

#include <signal.h>
#include <stdbool.h>

#include "core/err.h"

#define DEV_LOCK_WAIT_MS 20000 /* how long a command waits for the phone */

/* Takes the phone's lock for a command, asking a running `run` to yield.
 * Waits up to timeout_ms; FL_E_LIMIT when the phone stayed busy. On FL_OK
 * *fd holds the lock (release with dev_lock_release). */
fl_err dev_lock_acquire(const char *dir, int timeout_ms, int *fd) FL_MUST_USE;

/* Takes the phone's lock without waiting and without disturbing anyone:
 * FL_E_LIMIT when someone holds it. */
fl_err dev_lock_try(const char *dir, int *fd) FL_MUST_USE;

/* Takes the lock for `run` after it yielded: through the gate, waiting as
 * long as it takes unless *stop becomes non-zero (FL_E_STATE then). */
fl_err dev_lock_reacquire(const char *dir, const volatile sig_atomic_t *stop,
                          int *fd) FL_MUST_USE;

/* Releases a lock taken by any function above (fd < 0: no-op). */
void dev_lock_release(int fd);

/* Claims the phone for `run`: FL_E_CONFLICT if another run holds it. On
 * FL_OK *fd holds lock.run (with this process id written in it) until
 * dev_lock_release. */
fl_err dev_lock_run_claim(const char *dir, int *fd) FL_MUST_USE;

/* True while a `run` process holds lock.run. */
bool dev_lock_running(const char *dir);

#endif
