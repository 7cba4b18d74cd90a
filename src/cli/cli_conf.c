/*
 * cli_conf.c - the config file: finding it, reading it strictly, refusing
 * one that leaks its key, and writing it for `finlock login`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_conf.h"
#include "core/crypto.h"

#define CONF_FILE_MAX (64u * 1024) /* a config file is a few lines */

int cli_conf_path(char *out, size_t cap)
{
	const char *p = getenv("FINLOCK_CONFIG");
	int n;

	if (p != NULL && p[0] != '\0')
		n = snprintf(out, cap, "%s", p);
	else if ((p = getenv("XDG_CONFIG_HOME")) != NULL && p[0] == '/')
		n = snprintf(out, cap, "%s/finlock/config", p);
	else if ((p = getenv("HOME")) != NULL && p[0] != '\0')
		n = snprintf(out, cap, "%s/.config/finlock/config", p);
	else {
		cli_err("no config file: set $FINLOCK_CONFIG or $HOME");
		return CLI_USAGE;
	}
	if (n < 0 || (size_t)n >= cap) {
		cli_err("the config file's path is too long");
		return CLI_USAGE;
	}
	return CLI_OK;
}

bool cli_conf_value_ok(const char *value)
{
	size_t n = strlen(value);

	if (n == 0 || n >= CLI_CONF_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
			return false;
	return true;
}

void cli_key_hint(const char *key, char out[16])
{
	size_t n = strlen(key) / 4;

	if (n > 7)
		n = 7;
	snprintf(out, 16, "%.*s\xe2\x80\xa6", (int)n, key);
}

void cli_conf_wipe(struct cli_conf *c)
{
	fl_wipe(c->key, sizeof(c->key));
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

/* Parses the file's text (NUL-terminated, modified in place). */
static int parse(const char *path, char *text, struct cli_conf *c)
{
	unsigned line = 0;
	char *save = NULL;

	for (char *l = text; l != NULL; l = save) {
		char *nl = strchr(l, '\n'), *eq, *name, *value, *dst;

		save = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		line++;
		l = trim(l);
		if (l[0] == '\0' || l[0] == '#')
			continue;
		eq = strchr(l, '=');
		if (eq == NULL) {
			cli_err("%s:%u: expected 'name = value'", path, line);
			return CLI_REFUSED;
		}
		*eq = '\0';
		name = trim(l);
		value = trim(eq + 1);
		if (strcmp(name, "server") == 0)
			dst = c->server;
		else if (strcmp(name, "key") == 0)
			dst = c->key;
		else if (strcmp(name, "cacert") == 0)
			dst = c->cacert;
		else {
			cli_err("%s:%u: unknown setting '%.32s' (server, key "
			        "and cacert are known)",
			        path, line, name);
			return CLI_REFUSED;
		}
		if (!cli_conf_value_ok(value)) {
			cli_err("%s:%u: bad value for '%s'", path, line, name);
			return CLI_REFUSED;
		}
		snprintf(dst, CLI_CONF_VALUE_MAX, "%s", value);
	}
	return CLI_OK;
}

int cli_conf_load(const char *path, struct cli_conf *c)
{
	char *text = NULL;
	struct stat st;
	ssize_t got;
	size_t len = 0;
	int fd, rc = CLI_REFUSED;

	memset(c, 0, sizeof(*c));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return CLI_OK;
		cli_err("cannot read the config file %s: %s", path,
		        strerror(errno));
		return CLI_REFUSED;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cli_err("the config file %s is not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)CONF_FILE_MAX) {
		cli_err("the config file %s is larger than %u bytes", path,
		        CONF_FILE_MAX);
		goto out;
	}
	text = malloc(CONF_FILE_MAX + 1);
	if (text == NULL) {
		cli_err("out of memory");
		goto out;
	}
	while (len < CONF_FILE_MAX &&
	       (got = read(fd, text + len, CONF_FILE_MAX - len)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			cli_err("cannot read the config file %s: %s", path,
			        strerror(errno));
			goto out;
		}
		len += (size_t)got;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		cli_err("the config file %s contains a NUL byte", path);
		goto out;
	}
	if (parse(path, text, c) != CLI_OK)
		goto out;
	/* A key in a file others can read is a key others have. */
	if (c->key[0] != '\0' && st.st_uid != geteuid()) {
		cli_err("the config file %s holds an API key but belongs to "
		        "another user; refusing to use it",
		        path);
		goto out;
	}
	if (c->key[0] != '\0' && (st.st_mode & 077) != 0) {
		cli_err("the config file %s holds an API key but is readable "
		        "by group or others (mode %04o); refusing to use it: "
		        "run 'chmod 600 %s'",
		        path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	rc = CLI_OK;
out:
	if (text != NULL) {
		fl_wipe(text, CONF_FILE_MAX + 1);
		free(text);
	}
	if (rc != CLI_OK) {
		cli_conf_wipe(c);
		memset(c, 0, sizeof(*c));
	}
	close(fd);
	return rc;
}

/* mkdir -p for the directory part of path, new directories mode 0700. */
static int make_dirs(const char *path)
{
	char dir[4096];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -1;
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int cli_conf_write(const char *path, const char *server, const char *key,
                   const char *cacert)
{
	char tmp[4200], *text = NULL;
	size_t len;
	int fd = -1, rc = CLI_REFUSED, n;

	if (make_dirs(path) != 0) {
		cli_err("cannot create the directory of %s: %s", path,
		        strerror(errno));
		return CLI_REFUSED;
	}
	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		cli_err("the config file's path is too long");
		return CLI_REFUSED;
	}
	len = strlen(server) + strlen(key) +
	      (cacert != NULL ? strlen(cacert) : 0) + 128;
	text = malloc(len);
	if (text == NULL) {
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	n = snprintf(text, len,
	             "# finlock client settings (written by finlock login)\n"
	             "server = %s\nkey = %s\n%s%s%s",
	             server, key, cacert != NULL ? "cacert = " : "",
	             cacert != NULL ? cacert : "", cacert != NULL ? "\n" : "");
	len = (size_t)n;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd < 0) {
		cli_err("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || write(fd, text, len) != (ssize_t)len ||
	    fsync(fd) != 0) {
		cli_err("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		cli_err("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		cli_err("cannot replace %s: %s", path, strerror(errno));
		goto out;
	}
	rc = CLI_OK;
out:
	if (fd >= 0)
		close(fd);
	if (rc != CLI_OK)
		unlink(tmp);
	fl_wipe(text, strlen(text));
	free(text);
	return rc;
}
