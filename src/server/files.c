/* files.c - atomic, private file writes and small reads. */
#include "server/files.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

fl_err fl_files_join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return FL_E_TOO_LARGE;
	}
	return FL_OK;
}

fl_err fl_files_mkdirs(const char *dir, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return FL_E_INVALID;
	memcpy(buf, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return FL_E_IO;
		buf[i] = i == n ? '\0' : '/';
	}
	struct stat stt;
	if (stat(dir, &stt) != 0 || !S_ISDIR(stt.st_mode))
		return FL_E_IO;
	return FL_OK;
}

fl_err fl_files_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fl_err err = FL_OK;

	if (fd < 0)
		return FL_E_IO;
	if (fsync(fd) != 0)
		err = FL_E_IO;
	close(fd);
	return err;
}

static fl_err write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return FL_E_IO;
		}
		p += w;
		len -= (size_t)w;
	}
	return FL_OK;
}

fl_err fl_files_write(const char *path, const void *data, size_t len,
                      mode_t mode, bool exclusive)
{
	char tmp[4096 + 16], dir[4096];
	int fd = -1;
	fl_err err;

	if (strlen(path) >= sizeof(dir))
		return FL_E_TOO_LARGE;
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	strcpy(dir, path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	          mode);
	if (fd < 0)
		return FL_E_IO;
	if (fchmod(fd, mode) != 0 ||
	    (err = write_all(fd, data, len)) != FL_OK || fsync(fd) != 0) {
		err = FL_E_IO;
		goto out;
	}
	close(fd);
	fd = -1;
	if (exclusive) {
		/* link() fails if the name exists: no window where a second
		 * writer could replace the first one's file. */
		if (link(tmp, path) != 0) {
			err = errno == EEXIST ? FL_E_CONFLICT : FL_E_IO;
			goto out;
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		err = FL_E_IO;
		goto out;
	}
	err = fl_files_sync_dir(dirname(dir));
out:
	if (fd >= 0)
		close(fd);
	if (err != FL_OK)
		unlink(tmp);
	return err;
}

fl_err fl_files_read(const char *path, void *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	fl_err err = FL_OK;

	*len = 0;
	if (fd < 0)
		return errno == ENOENT ? FL_E_NOT_FOUND : FL_E_IO;
	for (;;) {
		char extra;
		ssize_t r;

		if (got == cap) {
			r = read(fd, &extra, 1);
			if (r > 0)
				err = FL_E_TOO_LARGE;
			else if (r < 0 && errno == EINTR)
				continue;
			else if (r < 0)
				err = FL_E_IO;
			break;
		}
		r = read(fd, (char *)buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = FL_E_IO;
			break;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (err != FL_OK)
		return err;
	if (got < cap)
		((char *)buf)[got] = '\0';
	*len = got;
	return FL_OK;
}

bool fl_files_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}
