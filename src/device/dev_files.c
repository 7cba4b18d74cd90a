/*
 * dev_files.c - atomic, fsync'd file writes and capped reads for the
 * simulated phone (dev_files.h).
 */
#include "device/dev_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

fl_err dev_name_check(const char *name)
{
	size_t n = 0;

	if (name == NULL || name[0] == '.' || name[0] == '\0')
		return FL_E_INVALID;
	for (; name[n] != '\0'; n++) {
		char c = name[n];
		if (n >= DEV_NAME_MAX)
			return FL_E_INVALID;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return FL_E_INVALID;
	}
	return FL_OK;
}

fl_err dev_path(char out[DEV_PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(out, DEV_PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= DEV_PATH_MAX) {
		out[0] = '\0';
		return FL_E_TOO_LARGE;
	}
	return FL_OK;
}

fl_err dev_dir_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fl_err err = FL_OK;

	if (fd < 0)
		return errno == ENOENT ? FL_E_NOT_FOUND : FL_E_IO;
	if (fsync(fd) != 0)
		err = FL_E_IO;
	close(fd);
	return err;
}

static fl_err write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return FL_E_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return FL_OK;
}

fl_err dev_file_write(const char *dir, const char *name, const void *data,
                      size_t len, unsigned mode, bool durable)
{
	char path[DEV_PATH_MAX], tmp[DEV_PATH_MAX], tname[DEV_NAME_MAX + 32];
	int fd = -1;
	fl_err err;

	err = dev_name_check(name);
	if (err)
		return err;
	snprintf(tname, sizeof(tname), ".%s.%ld.tmp", name, (long)getpid());
	if ((err = dev_path(path, dir, name)) ||
	    (err = dev_path(tmp, dir, tname)))
		return err;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	          mode & 0777);
	if (fd < 0) {
		err = FL_E_IO;
		goto out;
	}
	if (fchmod(fd, mode & 0777) != 0) {
		err = FL_E_IO;
		goto out;
	}
	err = write_all(fd, data, len);
	if (err)
		goto out;
	if (durable && fsync(fd) != 0) {
		err = FL_E_IO;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		err = FL_E_IO;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		err = FL_E_IO;
		goto out;
	}
	if (durable)
		err = dev_dir_sync(dir);
	return err;
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return err;
}

static fl_err read_fd(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	struct stat st;
	size_t got = 0;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return FL_E_IO;
	*len = (size_t)st.st_size;
	if ((uint64_t)st.st_size > cap)
		return FL_E_TOO_LARGE;
	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return FL_E_IO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	/* The file may have changed size between fstat and read; what was
	 * read is what counts, and a file still growing past cap is too big.
	 */
	if (got == cap && cap > 0) {
		uint8_t extra;
		ssize_t n = read(fd, &extra, 1);
		if (n > 0) {
			*len = cap + 1;
			return FL_E_TOO_LARGE;
		}
	}
	*len = got;
	return FL_OK;
}

fl_err dev_file_read(const char *dir, const char *name, uint8_t *buf,
                     size_t cap, size_t *len)
{
	char path[DEV_PATH_MAX];
	int fd;
	fl_err err;

	*len = 0;
	err = dev_name_check(name);
	if (err)
		return err;
	err = dev_path(path, dir, name);
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? FL_E_NOT_FOUND : FL_E_IO;
	err = read_fd(fd, buf, cap, len);
	close(fd);
	if (err && err != FL_E_TOO_LARGE)
		*len = 0;
	return err;
}

fl_err dev_file_slurp(const char *dir, const char *name, size_t cap, char **out,
                      size_t *len)
{
	char path[DEV_PATH_MAX];
	struct stat st;
	uint8_t *buf = NULL;
	size_t n = 0;
	int fd = -1;
	fl_err err;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if ((err = dev_name_check(name)) || (err = dev_path(path, dir, name)))
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? FL_E_NOT_FOUND : FL_E_IO;
	if (fstat(fd, &st) != 0) {
		err = FL_E_IO;
		goto out;
	}
	if ((uint64_t)st.st_size > cap) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	buf = malloc(cap + 1);
	if (buf == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	err = read_fd(fd, buf, cap, &n);
	if (err)
		goto out;
	buf[n] = '\0';
	*out = (char *)buf;
	buf = NULL;
	if (len != NULL)
		*len = n;
out:
	free(buf);
	close(fd);
	return err;
}

fl_err dev_file_remove(const char *dir, const char *name, bool durable)
{
	char path[DEV_PATH_MAX];
	fl_err err;

	if ((err = dev_name_check(name)) || (err = dev_path(path, dir, name)))
		return err;
	if (unlink(path) != 0)
		return errno == ENOENT ? FL_OK : FL_E_IO;
	return durable ? dev_dir_sync(dir) : FL_OK;
}

fl_err dev_dir_wipe(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	fl_err err = FL_OK;

	if (d == NULL)
		return errno == ENOENT ? FL_OK : FL_E_IO;
	while ((e = readdir(d)) != NULL) {
		char path[DEV_PATH_MAX];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (dev_path(path, dir, e->d_name) != FL_OK ||
		    lstat(path, &st) != 0) {
			err = FL_E_IO;
			continue;
		}
		if (S_ISDIR(st.st_mode))
			continue;
		if (unlink(path) != 0 && errno != ENOENT)
			err = FL_E_IO;
	}
	closedir(d);
	if (!err)
		err = dev_dir_sync(dir);
	return err;
}

fl_err dev_dir_make(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return FL_OK;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return FL_OK;
	return FL_E_IO;
}

fl_err dev_dir_make_all(const char *dir)
{
	char tmp[DEV_PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return FL_E_INVALID;
	memcpy(tmp, dir, n + 1);
	for (size_t i = 1; i < n; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = '\0';
		if (dev_dir_make(tmp) != FL_OK)
			return FL_E_IO;
		tmp[i] = '/';
	}
	return dev_dir_make(tmp);
}
