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

bool cli_profile_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < CLI_PROFILE_MAX &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
	                    "xyz0123456789._-") == n;
}

/* The profile a "[NAME]" line starts into name[CLI_PROFILE_MAX] (l is
 * trimmed). CLI_OK, or CLI_REFUSED with a message. */
static int section(const char *path, unsigned line, const char *l,
                   char name[CLI_PROFILE_MAX])
{
	size_t n = strlen(l);

	if (n < 3 || l[n - 1] != ']' || n - 2 >= CLI_PROFILE_MAX) {
		cli_err("%s:%u: expected '[PROFILE]'", path, line);
		return CLI_REFUSED;
	}
	snprintf(name, CLI_PROFILE_MAX, "%.*s", (int)(n - 2), l + 1);
	if (!cli_profile_ok(name) || strcmp(name, "default") == 0) {
		cli_err("%s:%u: bad profile name '%.64s' (letters, digits, "
		        "'.', '_', '-'; the default profile is the settings "
		        "before any [PROFILE] line)",
		        path, line, name);
		return CLI_REFUSED;
	}
	return CLI_OK;
}

/* Parses the file's text (NUL-terminated, modified in place) keeping the
 * settings of profile c->profile. */
static int parse(const char *path, char *text, struct cli_conf *c)
{
	char cur[CLI_PROFILE_MAX] = "";
	unsigned line = 0;
	char *save = NULL;

	c->found = c->profile[0] == '\0';
	for (char *l = text; l != NULL; l = save) {
		char *nl = strchr(l, '\n'), *eq, *name, *value, *dst;
		bool mine;

		save = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		line++;
		l = trim(l);
		if (l[0] == '\0' || l[0] == '#')
			continue;
		if (l[0] == '[') {
			if (section(path, line, l, cur) != CLI_OK)
				return CLI_REFUSED;
			if (strcmp(cur, c->profile) == 0)
				c->found = true;
			continue;
		}
		mine = strcmp(cur, c->profile) == 0;
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
		if (dst == c->key)
			c->any_key = true;
		if (mine)
			snprintf(dst, CLI_CONF_VALUE_MAX, "%s", value);
	}
	return CLI_OK;
}

/* Reads the file at path into a malloc'd, NUL-terminated *text (NULL
 * when the file does not exist) and its status into *st. CLI_OK, or
 * CLI_REFUSED with a message. */
static int read_text(const char *path, char **text, struct stat *st)
{
	ssize_t got;
	size_t len = 0, cap = 0;
	int fd, rc = CLI_REFUSED;

	*text = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return CLI_OK;
		cli_err("cannot read the config file %s: %s", path,
		        strerror(errno));
		return CLI_REFUSED;
	}
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		cli_err("the config file %s is not a regular file", path);
		goto out;
	}
	if (st->st_size > (off_t)CONF_FILE_MAX) {
		cli_err("the config file %s is larger than %u bytes", path,
		        CONF_FILE_MAX);
		goto out;
	}
	/* sized by the file: a config file is a few lines */
	cap = (size_t)st->st_size;
	*text = malloc(cap + 1);
	if (*text == NULL) {
		cli_err("out of memory");
		goto out;
	}
	while (len < cap && (got = read(fd, *text + len, cap - len)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			cli_err("cannot read the config file %s: %s", path,
			        strerror(errno));
			goto out;
		}
		len += (size_t)got;
	}
	(*text)[len] = '\0';
	if (strlen(*text) != len) {
		cli_err("the config file %s contains a NUL byte", path);
		goto out;
	}
	rc = CLI_OK;
out:
	if (rc != CLI_OK && *text != NULL) {
		fl_wipe(*text, cap + 1);
		free(*text);
		*text = NULL;
	}
	close(fd);
	return rc;
}

/* Wipes and frees what read_text read (no NUL inside: it checked). */
static void free_text(char *text)
{
	if (text != NULL) {
		fl_wipe(text, strlen(text) + 1);
		free(text);
	}
}

int cli_conf_load(const char *path, const char *profile, struct cli_conf *c)
{
	char *text = NULL;
	struct stat st;
	int rc;

	memset(c, 0, sizeof(*c));
	if (profile != NULL && strcmp(profile, "default") != 0)
		snprintf(c->profile, sizeof(c->profile), "%s", profile);
	c->found = c->profile[0] == '\0';
	rc = read_text(path, &text, &st);
	if (rc != CLI_OK || text == NULL)
		goto out;
	rc = parse(path, text, c);
	if (rc != CLI_OK)
		goto out;
	rc = CLI_REFUSED;
	/* A key in a file others can read is a key others have. */
	if (c->any_key && st.st_uid != geteuid()) {
		cli_err("the config file %s holds an API key but belongs to "
		        "another user; refusing to use it",
		        path);
		goto out;
	}
	if (c->any_key && (st.st_mode & 077) != 0) {
		cli_err("the config file %s holds an API key but is readable "
		        "by group or others (mode %04o); refusing to use it: "
		        "run 'chmod 600 %s'",
		        path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	rc = CLI_OK;
out:
	free_text(text);
	if (rc != CLI_OK) {
		cli_conf_wipe(c);
		memset(c, 0, sizeof(*c));
	}
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

#define WRITE_HEADER "# finlock client settings (written by finlock login)"

/* Appends the lines of old (the file's text) that are not profile's
 * settings, nor its [profile] line, nor the header, to out[cap]. */
static void keep_others(const char *old, const char *profile, char *out,
                        size_t cap)
{
	char cur[CLI_PROFILE_MAX] = "";
	size_t n = strlen(out);

	for (const char *l = old; l != NULL && *l != '\0';) {
		const char *nl = strchr(l, '\n');
		size_t len = nl != NULL ? (size_t)(nl - l) : strlen(l);
		const char *t = l;

		while (*t == ' ' || *t == '\t')
			t++;
		if (*t == '[') {
			/* already checked by parse */
			size_t k = strcspn(t + 1, "]");

			snprintf(cur, sizeof(cur), "%.*s",
			         (int)(k < CLI_PROFILE_MAX ? k : 0), t + 1);
		}
		if (strcmp(cur, profile) != 0 &&
		    strncmp(l, WRITE_HEADER, strlen(WRITE_HEADER)) != 0 &&
		    n + len + 2 < cap) {
			memcpy(out + n, l, len);
			n += len;
			out[n++] = '\n';
			out[n] = '\0';
		}
		l = nl != NULL ? nl + 1 : NULL;
	}
}

int cli_conf_write(const char *path, const char *profile, const char *server,
                   const char *key, const char *cacert)
{
	char tmp[4200], *text = NULL, *old = NULL, mine[1024];
	struct cli_conf *check = NULL;
	struct stat st;
	size_t len, cap = 0;
	int fd = -1, rc = CLI_REFUSED, n;

	if (profile == NULL || strcmp(profile, "default") == 0)
		profile = "";
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
	/* The other profiles are kept: the file must read as it is. */
	check = calloc(1, sizeof(*check));
	if (check == NULL) {
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	if (cli_conf_load(path, NULL, check) != CLI_OK ||
	    read_text(path, &old, &st) != CLI_OK) {
		cli_err("not writing %s: fix or remove it first", path);
		goto out;
	}
	snprintf(mine, sizeof(mine), "[%s]\n", profile);
	cap = strlen(server) + strlen(key) +
	      (cacert != NULL ? strlen(cacert) : 0) + 256 +
	      (old != NULL ? strlen(old) : 0);
	text = calloc(1, cap);
	if (text == NULL) {
		cli_err("out of memory");
		goto out;
	}
	len = (size_t)snprintf(text, cap, "%s\n", WRITE_HEADER);
	if (profile[0] != '\0' && old != NULL)
		keep_others(old, profile, text, cap);
	len = strlen(text);
	n = snprintf(text + len, cap - len, "%sserver = %s\nkey = %s\n%s%s%s",
	             profile[0] != '\0' ? mine : "", server, key,
	             cacert != NULL ? "cacert = " : "",
	             cacert != NULL ? cacert : "", cacert != NULL ? "\n" : "");
	len += (size_t)n;
	if (profile[0] == '\0' && old != NULL) {
		keep_others(old, profile, text, cap);
		len = strlen(text);
	}
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
	if (text != NULL) {
		fl_wipe(text, cap);
		free(text);
	}
	free_text(old);
	if (check != NULL) {
		cli_conf_wipe(check);
		free(check);
	}
	return rc;
}
