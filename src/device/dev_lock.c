/*
 * dev_lock.c - the lock protocol between a phone's processes (dev_lock.h).
 */
#include "device/dev_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "device/dev_files.h"

#define LOCK_MAIN "lock"
#define LOCK_GATE "lock.gate"
#define LOCK_RUN  "lock.run"
#define POLL_MS   20  /* between tries */
#define SIGNAL_MS 500 /* between two yield requests to run */
#define CLAIM_MS  1000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int open_lock(const char *dir, const char *name)
{
	char path[DEV_PATH_MAX];

	if (dev_path(path, dir, name) != FL_OK)
		return -1;
	return open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* One non-blocking try: 1 taken, 0 busy, -1 error. */
static int try_flock(int fd, int how)
{
	if (flock(fd, how | LOCK_NB) == 0)
		return 1;
	if (errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return -1;
}

bool dev_lock_running(const char *dir)
{
	int fd = open_lock(dir, LOCK_RUN);
	int r;

	if (fd < 0)
		return false;
	r = try_flock(fd, LOCK_SH);
	close(fd);
	return r == 0;
}

/* run's process id from lock.run, 0 if unreadable. */
static pid_t run_pid(const char *dir)
{
	char buf[32];
	size_t len = 0;
	long v;
	char *end;

	if (dev_file_read(dir, LOCK_RUN, (uint8_t *)buf, sizeof(buf) - 1,
	                  &len) != FL_OK)
		return 0;
	buf[len] = '\0';
	v = strtol(buf, &end, 10);
	if (end == buf || v <= 1 || v == (long)getpid())
		return 0;
	return (pid_t)v;
}

fl_err dev_lock_try(const char *dir, int *fd)
{
	int l = open_lock(dir, LOCK_MAIN);
	int r;

	*fd = -1;
	if (l < 0)
		return FL_E_IO;
	r = try_flock(l, LOCK_EX);
	if (r != 1) {
		close(l);
		return r == 0 ? FL_E_LIMIT : FL_E_IO;
	}
	*fd = l;
	return FL_OK;
}

fl_err dev_lock_acquire(const char *dir, int timeout_ms, int *fd)
{
	int64_t deadline = now_ms() + timeout_ms, signalled = 0;
	int gate, l = -1, r;
	fl_err err = FL_OK;

	*fd = -1;
	gate = open_lock(dir, LOCK_GATE);
	if (gate < 0)
		return FL_E_IO;
	while ((r = try_flock(gate, LOCK_EX)) == 0) {
		if (now_ms() >= deadline) {
			err = FL_E_LIMIT;
			goto out;
		}
		nap(POLL_MS);
	}
	if (r < 0) {
		err = FL_E_IO;
		goto out;
	}
	l = open_lock(dir, LOCK_MAIN);
	if (l < 0) {
		err = FL_E_IO;
		goto out;
	}
	while ((r = try_flock(l, LOCK_EX)) == 0) {
		int64_t t = now_ms();

		if (t >= deadline) {
			err = FL_E_LIMIT;
			goto out;
		}
		/* Only a live run is asked (lock.run held), so a stale pid
		 * never receives a signal. */
		if (t - signalled >= SIGNAL_MS && dev_lock_running(dir)) {
			pid_t pid = run_pid(dir);
			if (pid > 0)
				kill(pid, SIGUSR1);
			signalled = t;
		}
		nap(POLL_MS);
	}
	if (r < 0)
		err = FL_E_IO;
out:
	if (!err) {
		*fd = l;
		l = -1;
	}
	if (l >= 0)
		close(l);
	close(gate);
	return err;
}

fl_err dev_lock_reacquire(const char *dir, const volatile sig_atomic_t *stop,
                          int *fd)
{
	int gate, l = -1, r;
	fl_err err = FL_OK;

	*fd = -1;
	gate = open_lock(dir, LOCK_GATE);
	if (gate < 0)
		return FL_E_IO;
	while ((r = try_flock(gate, LOCK_EX)) == 0) {
		if (*stop) {
			err = FL_E_STATE;
			goto out;
		}
		nap(POLL_MS);
	}
	if (r < 0) {
		err = FL_E_IO;
		goto out;
	}
	l = open_lock(dir, LOCK_MAIN);
	if (l < 0) {
		err = FL_E_IO;
		goto out;
	}
	while ((r = try_flock(l, LOCK_EX)) == 0) {
		if (*stop) {
			err = FL_E_STATE;
			goto out;
		}
		nap(POLL_MS);
	}
	if (r < 0)
		err = FL_E_IO;
out:
	if (!err) {
		*fd = l;
		l = -1;
	}
	if (l >= 0)
		close(l);
	close(gate);
	return err;
}

void dev_lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}

fl_err dev_lock_run_claim(const char *dir, int *fd)
{
	int64_t deadline = now_ms() + CLAIM_MS;
	char buf[32];
	int l, r, n;

	*fd = -1;
	l = open_lock(dir, LOCK_RUN);
	if (l < 0)
		return FL_E_IO;
	/* dev_lock_running holds a shared lock for an instant; retry past
	 * it before concluding another run is alive. */
	while ((r = try_flock(l, LOCK_EX)) == 0 && now_ms() < deadline)
		nap(POLL_MS);
	if (r != 1) {
		close(l);
		return r == 0 ? FL_E_CONFLICT : FL_E_IO;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(l, 0) != 0 || pwrite(l, buf, (size_t)n, 0) != n) {
		close(l);
		return FL_E_IO;
	}
	*fd = l;
	return FL_OK;
}
