/*
 * The README's lender's guide ("## Using finlock: a lender's guide") is
 * run as written: every ```console block's commands run, in order, in one
 * shell working directory, against a real finlockd started on a test clock
 * and real finlock-device phones, and what each prints must be what the
 * README shows under it.
 *
 * How the guide is read:
 *   - A "$ " line is a command; a line ending in a backslash goes on with
 *     the next. It runs in `sh -c` (stdout and stderr both captured, in
 *     the order written) with the programs of $FINLOCK_BIN first on PATH.
 *     Every command must exit 0. A command ending in " &" is started in
 *     the background (the phone's firmware); the lines shown under it are
 *     the first lines of its output.
 *   - The lines after a command, up to the next, are its output. A line
 *     that is only "..." stands for any number of lines.
 *   - What the run makes afresh each time is matched, not compared: ids
 *     ("dv_" and 22 characters), API keys and their shown prefix
 *     ("fl_WiI5..."), PASERK keys and key ids ("k4.public." ...),
 *     enrollment codes, idempotency keys, offline codes, pairing codes and
 *     hashes (64 hex digits: the audit chain's).
 *     The first time the README shows one, its value is bound to the real
 *     one; the same README value must then always be that real value (and
 *     no other README value may stand for it), and commands that use it get
 *     the real value. The server's address, its data directory, the home
 *     directory and the phone's network are shown as
 *     https://finlock.example.com, /var/lib/finlockd, /home/acme and
 *     192.0.2.0/24 (the
 *     same width, so tables keep their columns).
 *   - Times are not masked: the server, the CLI and the phones all read the
 *     test clock (finlockd's test_clock, FINLOCK_TEST_CLOCK of finlock and
 *     finlock-device), which only the guide moves.
 *   - HTML comments "<!-- guide: ... -->" before a block say what the
 *     story needs that a reader does not (each applies once, before the
 *     next block):
 *         clock TIME                 the test clock reads TIME (RFC 3339)
 *         operator                   the block's commands carry the
 *                                    operator's key (FINLOCK_SERVER and
 *                                    FINLOCK_API_KEY)
 *         file NAME TEXT             writes TEXT and a newline to NAME
 *         phone DIR KEY=VALUE ...    waits (30 s at most) until
 *                                    `finlock-device --dir DIR status
 *                                    --json` shows those values (KEY may
 *                                    be a dotted path, a.b)
 *         device REF KEY=VALUE ...   the same with `finlock devices show
 *                                    REF --json`
 *
 * A difference fails the test naming the step (the "###" heading), the
 * command, the README line and what was printed instead.
 *
 * FINLOCK_GUIDE_UPDATE=1 rewrites README.md instead: the output of every
 * command that differs is replaced by what the command printed (README
 * values put back for the run's values it knows, with no "..." elision),
 * and the test passes; the README's other lines are kept as they are.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fltime.h"
#include "support/proc.h"
#include "support/server_harness.h"

#define MAX_LINES   4096
#define MAX_BINDS   256
#define MAX_BG      8
#define MAX_SUBST   8
#define TOKEN_MAX   128
#define OUT_CAP     (1u << 20)
#define CMD_TIMEOUT 60000 /* ms, one command */
#define WAIT_MS     30000 /* ms, a phone or device directive */

#define SHOWN_URL  "https://finlock.example.com"
#define SHOWN_DATA "/var/lib/finlockd"
#define SHOWN_HOME "/home/acme"
#define SHOWN_NET  "192.0.2.0/24"

/* ---- the README ---------------------------------------------------------- */

static char *readme_path;
static char *lines[MAX_LINES]; /* README.md, one entry a line (owned) */
static int n_lines;
static bool lines_changed; /* FINLOCK_GUIDE_UPDATE rewrote some */

static void readme_load(void)
{
	char buf[8192];
	FILE *f;

	if (asprintf(&readme_path, "%s/README.md", proc_source_root()) < 0)
		fail();
	f = fopen(readme_path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", readme_path);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		assert_true(n_lines < MAX_LINES);
		buf[strcspn(buf, "\n")] = '\0';
		lines[n_lines++] = strdup(buf);
	}
	fclose(f);
}

static void readme_save(void)
{
	char *tmp;
	FILE *f;

	if (asprintf(&tmp, "%s.new", readme_path) < 0)
		fail();
	f = fopen(tmp, "w");
	assert_non_null(f);
	for (int i = 0; i < n_lines; i++)
		fprintf(f, "%s\n", lines[i]);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, readme_path), 0);
	free(tmp);
}

/* Replaces README lines [from, to) with the n lines of with. */
static void readme_splice(int from, int to, char **with, int n)
{
	int grow = n - (to - from);

	assert_true(n_lines + grow < MAX_LINES);
	for (int i = from; i < to; i++)
		free(lines[i]);
	memmove(&lines[to + grow], &lines[to],
	        (size_t)(n_lines - to) * sizeof(lines[0]));
	for (int i = 0; i < n; i++)
		lines[from + i] = strdup(with[i]);
	n_lines += grow;
	lines_changed = true;
}

/* ---- values that change from run to run ---------------------------------- */

enum tok {
	TOK_NONE,
	TOK_ID,     /* "dv_" + 22, "fl_" + 43: prefix, '_', base64url */
	TOK_SHORT,  /* a key's shown prefix: "fl_" + 4 + U+2026 */
	TOK_PASERK, /* "k4.public." + 43, "k4.pid." + 43 */
	TOK_ECODE,  /* enrollment code XXXX-XXXX-XXXX */
	TOK_IDEM,   /* idempotency key "pay-" + 32 hex */
	TOK_HASH,   /* a hash in hex: 64 lowercase hex digits */
	TOK_DIGITS, /* offline code (10 digits, 3-3-4) or pairing code (16,
	               4-4-4-4); kept without spaces */
};

struct bind {
	enum tok type;
	char shown[TOKEN_MAX]; /* as the README shows it */
	char real[TOKEN_MAX];  /* as this run printed it */
};

static struct bind binds[MAX_BINDS];
static int n_binds;

/* Literal stand-ins: the run's value and the README's. */
struct subst {
	char real[512];
	char shown[64];
};
static struct subst substs[MAX_SUBST];
static int n_substs;

static bool b64url(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static size_t run_of(const char *s, bool (*cls)(char))
{
	size_t n = 0;

	while (s[n] != '\0' && cls(s[n]))
		n++;
	return n;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool is_code_char(char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'Z');
}

/* Digit groups of the given sizes separated by single spaces, or the same
 * digits unbroken; the length matched, 0 if none. */
static size_t digit_groups(const char *s, const int *sizes, int n)
{
	size_t i = 0;
	int total = 0;

	for (int k = 0; k < n; k++)
		total += sizes[k];
	if (run_of(s, is_digit) == (size_t)total)
		return (size_t)total;
	for (int k = 0; k < n; k++) {
		if (k > 0) {
			if (s[i] != ' ')
				return 0;
			i++;
		}
		if (run_of(s + i, is_digit) != (size_t)sizes[k])
			return 0;
		i += (size_t)sizes[k];
	}
	return i;
}

/* The run-to-run value starting at s (at a word's start), its type in
 * *type; 0 when none starts there. */
static size_t token_at(const char *s, enum tok *type)
{
	static const int ocode[] = {3, 3, 4}, pcode[] = {4, 4, 4, 4};
	size_t n;

	*type = TOK_NONE;
	if (islower((unsigned char)s[0]) && islower((unsigned char)s[1]) &&
	    s[2] == '_') {
		n = run_of(s + 3, b64url);
		if (n == 22 || n == 43) {
			*type = TOK_ID;
			return 3 + n;
		}
		if (n == 4 && strncmp(s + 7, "\xe2\x80\xa6", 3) == 0) {
			*type = TOK_SHORT;
			return 10;
		}
	}
	if (strncmp(s, "k4.", 3) == 0) {
		const char *dot = strchr(s + 3, '.');

		if (dot != NULL && dot - s < 16 &&
		    run_of(dot + 1, b64url) >= 32) {
			*type = TOK_PASERK;
			return (size_t)(dot + 1 - s) + run_of(dot + 1, b64url);
		}
	}
	if (strncmp(s, "pay-", 4) == 0 && run_of(s + 4, is_hex) == 32 &&
	    !b64url(s[36])) {
		*type = TOK_IDEM;
		return 36;
	}
	if (run_of(s, is_hex) == 64 && !b64url(s[64])) {
		*type = TOK_HASH;
		return 64;
	}
	if (run_of(s, is_code_char) == 4 && s[4] == '-' &&
	    run_of(s + 5, is_code_char) == 4 && s[9] == '-' &&
	    run_of(s + 10, is_code_char) == 4 && !b64url(s[14])) {
		*type = TOK_ECODE;
		return 14;
	}
	if (is_digit(s[0])) {
		n = digit_groups(s, pcode, 4);
		if (n == 0)
			n = digit_groups(s, ocode, 3);
		if (n > 0 && !is_digit(s[n])) {
			*type = TOK_DIGITS;
			return n;
		}
	}
	return 0;
}

/* A token's value as bound: digits lose their spaces. */
static void token_norm(char out[TOKEN_MAX], const char *s, size_t n,
                       enum tok type)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < TOKEN_MAX; i++)
		if (type != TOK_DIGITS || s[i] != ' ')
			out[k++] = s[i];
	out[k] = '\0';
}

/* The part of an id or PASERK before its random part ("dv_", "k4.pid."). */
static size_t token_kind(const char *s, enum tok type)
{
	if (type == TOK_ID || type == TOK_SHORT)
		return 3;
	if (type == TOK_PASERK)
		return (size_t)(strchr(s + 3, '.') + 1 - s);
	return 0;
}

/* Binds shown to real, or checks that an earlier binding agrees. */
static bool bind_ok(enum tok type, const char *shown, const char *real)
{
	size_t k = token_kind(shown, type);

	if (k != token_kind(real, type) || strncmp(shown, real, k) != 0 ||
	    strlen(shown) != strlen(real))
		return false;
	/* a key's shown prefix ("fl_WiI5" and an ellipsis) stands for the
	 * prefix of the key the README shows whole, before or after */
	for (int i = 0; i < n_binds; i++)
		if (((type == TOK_SHORT && binds[i].type == TOK_ID) ||
		     (type == TOK_ID && binds[i].type == TOK_SHORT)) &&
		    (strncmp(binds[i].shown, shown, 7) == 0) !=
		            (strncmp(binds[i].real, real, 7) == 0))
			return false;
	for (int i = 0; i < n_binds; i++) {
		if (binds[i].type != type)
			continue;
		if (strcmp(binds[i].shown, shown) == 0)
			return strcmp(binds[i].real, real) == 0;
		if (strcmp(binds[i].real, real) == 0)
			return false;
	}
	assert_true(n_binds < MAX_BINDS);
	binds[n_binds].type = type;
	snprintf(binds[n_binds].shown, TOKEN_MAX, "%s", shown);
	snprintf(binds[n_binds].real, TOKEN_MAX, "%s", real);
	n_binds++;
	return true;
}

static bool word_start(const char *line, size_t i)
{
	return i == 0 || !(b64url(line[i - 1]) || line[i - 1] == '.');
}

/* One README line against one printed line. New bindings stay only when
 * the whole block matches (the caller trims n_binds back otherwise). */
static bool line_match(const char *exp, const char *act)
{
	size_t i = 0, j = 0;

	for (;;) {
		enum tok te, ta;
		size_t le = word_start(exp, i) ? token_at(exp + i, &te) : 0;

		if (le > 0) {
			size_t la =
			        word_start(act, j) ? token_at(act + j, &ta) : 0;
			char se[TOKEN_MAX], sa[TOKEN_MAX];

			if (la == 0 || ta != te)
				return false;
			token_norm(se, exp + i, le, te);
			token_norm(sa, act + j, la, ta);
			if (!bind_ok(te, se, sa))
				return false;
			i += le;
			j += la;
			continue;
		}
		if (exp[i] != act[j])
			return false;
		if (exp[i] == '\0')
			return true;
		i++;
		j++;
	}
}

static bool is_ellipsis(const char *s)
{
	s += strspn(s, " ");
	return strcmp(s, "...") == 0;
}

/* Where matching a block got furthest: for the message. */
struct progress {
	int exp; /* README line index into the block, -1 none */
	int act; /* printed line index, na when output ran out */
};

static bool block_match(char **exp, int ne, char **act, int na, int ie, int ia,
                        struct progress *pr)
{
	int saved = n_binds;

	if (ie == ne) {
		if (ia == na)
			return true;
		if (ie > pr->exp || (ie == pr->exp && ia > pr->act)) {
			pr->exp = ie;
			pr->act = ia;
		}
		return false;
	}
	if (is_ellipsis(exp[ie])) {
		for (int k = ia; k <= na; k++) {
			if (block_match(exp, ne, act, na, ie + 1, k, pr))
				return true;
			n_binds = saved;
		}
		return false;
	}
	if (ia < na && line_match(exp[ie], act[ia]) &&
	    block_match(exp, ne, act, na, ie + 1, ia + 1, pr))
		return true;
	n_binds = saved;
	if (ie > pr->exp || (ie == pr->exp && ia > pr->act)) {
		pr->exp = ie;
		pr->act = ia;
	}
	return false;
}

/* Replaces every occurrence of from in *s by to (reallocates). */
static void replace_all(char **s, const char *from, const char *to)
{
	size_t lf = strlen(from), lt = strlen(to);
	char *p, *out;
	size_t n = 0, cap;

	if (lf == 0 || strstr(*s, from) == NULL)
		return;
	cap = strlen(*s) + 1;
	for (p = strstr(*s, from); p != NULL; p = strstr(p + lf, from))
		cap += lt;
	out = malloc(cap);
	assert_non_null(out);
	for (p = *s;;) {
		char *hit = strstr(p, from);

		if (hit == NULL) {
			strcpy(out + n, p);
			break;
		}
		memcpy(out + n, p, (size_t)(hit - p));
		n += (size_t)(hit - p);
		memcpy(out + n, to, lt);
		n += lt;
		p = hit + lf;
	}
	free(*s);
	*s = out;
}

/* digits with spaces after the given group sizes, into out. */
static void spaced(char out[TOKEN_MAX], const char *d)
{
	static const int ocode[] = {3, 3, 4}, pcode[] = {4, 4, 4, 4};
	const int *g = strlen(d) == 16 ? pcode : ocode;
	int ng = strlen(d) == 16 ? 4 : 3;
	size_t k = 0;

	for (int i = 0; i < ng; i++) {
		if (i > 0)
			out[k++] = ' ';
		memcpy(out + k, d, (size_t)g[i]);
		k += (size_t)g[i];
		d += g[i];
	}
	out[k] = '\0';
}

/* A README command as it runs: README values replaced by this run's. */
static char *command_real(const char *cmd)
{
	char *s = strdup(cmd);

	assert_non_null(s);
	for (int i = 0; i < n_binds; i++) {
		if (binds[i].type == TOK_DIGITS) {
			char a[TOKEN_MAX], b[TOKEN_MAX];

			spaced(a, binds[i].shown);
			spaced(b, binds[i].real);
			replace_all(&s, a, b);
		}
		replace_all(&s, binds[i].shown, binds[i].real);
	}
	for (int i = 0; i < n_substs; i++)
		replace_all(&s, substs[i].shown, substs[i].real);
	return s;
}

/* Printed output as the README would show it, for FINLOCK_GUIDE_UPDATE:
 * the run's values the README already has put back. */
static char *output_shown(const char *out)
{
	char *s = strdup(out);

	assert_non_null(s);
	for (int i = 0; i < n_binds; i++) {
		if (binds[i].type == TOK_DIGITS) {
			char a[TOKEN_MAX], b[TOKEN_MAX];

			spaced(a, binds[i].real);
			spaced(b, binds[i].shown);
			replace_all(&s, a, b);
		}
		replace_all(&s, binds[i].real, binds[i].shown);
		if (binds[i].type == TOK_ID) {
			/* the key's shown prefix: "fl_WiI5" and an ellipsis */
			char a[16], b[16];

			snprintf(a, sizeof(a), "%.7s\xe2\x80\xa6",
			         binds[i].real);
			snprintf(b, sizeof(b), "%.7s\xe2\x80\xa6",
			         binds[i].shown);
			replace_all(&s, a, b);
		}
	}
	return s;
}

/* ---- running commands ---------------------------------------------------- */

static struct srv *S;
static char root[256];   /* the test's temporary directory */
static char work[512];   /* the shell's working directory */
static pid_t bg[MAX_BG]; /* background commands */
static char bg_log[MAX_BG][600];
static int n_bg;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Runs cmd in sh in the working directory; its stdout and stderr in
 * *out (owned), its exit status returned (-1: did not end in time). */
static int sh_run(const char *cmd, char **out)
{
	int fd[2], status = 0;
	size_t len = 0, cap = 8192;
	int64_t end = mono_ms() + CMD_TIMEOUT;
	pid_t pid;

	*out = malloc(cap);
	assert_non_null(*out);
	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (chdir(work) != 0)
			_exit(127);
		dup2(null, 0);
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		close(fd[0]);
		close(fd[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		struct pollfd p = {fd[0], POLLIN, 0};
		int64_t left = end - mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			kill(pid, SIGKILL);
			status = -1;
			break;
		}
		if (len + 4096 + 1 > cap) {
			assert_true(cap < OUT_CAP);
			cap *= 2;
			*out = realloc(*out, cap);
			assert_non_null(*out);
		}
		n = read(fd[0], *out + len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	(*out)[len] = '\0';
	close(fd[0]);
	{
		int ws;

		if (waitpid(pid, &ws, 0) == pid && status == 0)
			status = WIFEXITED(ws) ? WEXITSTATUS(ws)
			                       : 128 + WTERMSIG(ws);
	}
	return status;
}

/* Starts cmd in the background, its output into a log file; returns the
 * log's path (static). */
static const char *sh_start(const char *cmd)
{
	pid_t pid;
	char *log = bg_log[n_bg];

	assert_true(n_bg < MAX_BG);
	snprintf(log, sizeof(bg_log[0]), "%s/../background-%d.log", work, n_bg);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		char *exec_cmd;

		if (chdir(work) != 0 || fd < 0 ||
		    asprintf(&exec_cmd, "exec %s", cmd) < 0)
			_exit(127);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		execl("/bin/sh", "sh", "-c", exec_cmd, (char *)NULL);
		_exit(127);
	}
	bg[n_bg++] = pid;
	return log;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, OUT_CAP + 1);
	size_t n;

	assert_non_null(buf);
	if (f == NULL)
		return buf;
	n = fread(buf, 1, OUT_CAP, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Splits s in place into lines (a last newline ends the last line). */
static int split_lines(char *s, char **out, int max)
{
	int n = 0;

	while (*s != '\0' && n < max) {
		char *nl = strchr(s, '\n');

		out[n++] = s;
		if (nl == NULL)
			break;
		*nl = '\0';
		s = nl + 1;
	}
	return n;
}

/* ---- directives ---------------------------------------------------------- */

static bool operator_env; /* the next block runs with the operator's key */
static char *cur_cmd;     /* the command being run (freed on failure too) */

/* The JSON value as text: a string itself, a number or boolean printed. */
static void json_text(const json_t *v, char *out, size_t cap)
{
	if (json_is_string(v))
		snprintf(out, cap, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_true(v))
		snprintf(out, cap, "true");
	else if (json_is_false(v))
		snprintf(out, cap, "false");
	else if (json_is_null(v))
		snprintf(out, cap, "null");
	else
		snprintf(out, cap, "?");
}

/* The member at a dotted path ("offline_code.used"), or NULL. */
static const json_t *json_path(const json_t *j, const char *path)
{
	char key[128];

	while (j != NULL) {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		j = json_object_get(j, key);
		if (path[n] == '\0')
			break;
		path += n + 1;
	}
	return j;
}

/* Waits until the JSON object cmd prints has every KEY=VALUE of want
 * (space separated). */
static void wait_json(const char *step, const char *cmd, const char *want)
{
	int64_t end = mono_ms() + WAIT_MS;
	char *out = NULL;

	for (;;) {
		json_t *j;
		bool ok = false;
		char *pairs = command_real(want), *save = NULL, *kv;

		free(out);
		if (sh_run(cmd, &out) == 0 &&
		    (j = json_loads(out, 0, NULL)) != NULL) {
			ok = true;
			for (kv = strtok_r(pairs, " ", &save); kv != NULL;
			     kv = strtok_r(NULL, " ", &save)) {
				char *eq = strchr(kv, '='), have[256];

				assert_non_null(eq);
				*eq = '\0';
				json_text(json_path(j, kv), have, sizeof(have));
				if (strcmp(have, eq + 1) != 0)
					ok = false;
			}
			json_decref(j);
		}
		free(pairs);
		if (ok)
			break;
		if (mono_ms() >= end)
			fail_msg("README.md, step \"%s\": waited %d s for `%s` "
			         "to show %s; it printed:\n%s",
			         step, WAIT_MS / 1000, cmd, want, out);
		sleep_ms(50);
	}
	free(out);
}

static void directive(const char *step, const char *d)
{
	char word[32], rest[1024] = "";

	if (sscanf(d, "%31s %1023[^\n]", word, rest) < 1)
		fail_msg("README.md: empty guide directive");
	if (strcmp(word, "clock") == 0) {
		fl_time t;

		if (fl_time_parse(rest, strlen(rest), &t) != FL_OK)
			fail_msg("README.md: bad clock directive '%s'", rest);
		srv_clock_set(S, t);
	} else if (strcmp(word, "operator") == 0) {
		operator_env = true;
	} else if (strcmp(word, "file") == 0) {
		char name[256], text[768] = "", path[1024];
		char *real;
		FILE *f;

		if (sscanf(rest, "%255s %767[^\n]", name, text) != 2)
			fail_msg("README.md: bad file directive '%s'", rest);
		real = command_real(text);
		snprintf(path, sizeof(path), "%s/%s", work, name);
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, "%s\n", real);
		assert_int_equal(fclose(f), 0);
		free(real);
	} else if (strcmp(word, "phone") == 0 || strcmp(word, "device") == 0) {
		char ref[256], want[768], cmd[1024], *real;

		if (sscanf(rest, "%255s %767[^\n]", ref, want) != 2)
			fail_msg("README.md: bad %s directive '%s'", word,
			         rest);
		if (strcmp(word, "phone") == 0)
			snprintf(cmd, sizeof(cmd),
			         "finlock-device --dir %s status --json", ref);
		else
			snprintf(cmd, sizeof(cmd),
			         "finlock devices show %s --json", ref);
		real = command_real(cmd);
		wait_json(step, real, want);
		free(real);
	} else {
		fail_msg("README.md: unknown guide directive '%s'", word);
	}
}

/* ---- the guide ----------------------------------------------------------- */

/* One command of a block: README lines [first, out) hold the command,
 * [out, end) its output. */
struct cmd {
	int first, out, end;
	char *text; /* the command joined (backslash-newlines kept) */
};

static void print_block_diff(const char *step, const struct cmd *c, char **exp,
                             int ne, char **act, int na,
                             const struct progress *pr)
{
	fprintf(stderr, "README.md, step \"%s\", command at line %d:\n  $ %s\n",
	        step, c->first + 1, c->text);
	if (pr->exp >= 0 && pr->exp < ne)
		fprintf(stderr, "  README line %d: %s\n", c->out + pr->exp + 1,
		        exp[pr->exp]);
	else
		fprintf(stderr, "  README shows no more lines (line %d)\n",
		        c->end + 1);
	if (pr->act < na)
		fprintf(stderr, "  printed line %d: %s\n", pr->act + 1,
		        act[pr->act]);
	else
		fprintf(stderr, "  printed no more lines\n");
	fprintf(stderr, "  the whole output:\n");
	for (int i = 0; i < na; i++)
		fprintf(stderr, "  | %s\n", act[i]);
}

/* The n-th run-to-run value of a kind in lines, n from 0; its length, 0
 * when there are fewer. */
static size_t nth_token(char **l, int nl, enum tok type, const char *kind,
                        int n, char out[TOKEN_MAX])
{
	for (int i = 0; i < nl; i++) {
		for (size_t j = 0; l[i][j] != '\0'; j++) {
			enum tok t;
			size_t len = word_start(l[i], j)
			                     ? token_at(l[i] + j, &t)
			                     : 0;

			if (len == 0)
				continue;
			if (t == type &&
			    strncmp(l[i] + j, kind, strlen(kind)) == 0 &&
			    n-- == 0) {
				token_norm(out, l[i] + j, len, t);
				return len;
			}
			j += len - 1;
		}
	}
	return 0;
}

/* FINLOCK_GUIDE_UPDATE: binds the README's values to a differing output's
 * in the order they come, kind by kind, where that agrees with the
 * bindings so far. */
static void update_binds(char **exp, int ne, char **act, int na)
{
	static const char *const kinds[] = {
	        "tn_", "ak_", "dv_", "py_", "fl_", "k4.public.", "k4.pid.", ""};

	for (enum tok t = TOK_ID; t <= TOK_DIGITS; t++) {
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			char se[TOKEN_MAX], sa[TOKEN_MAX];

			for (int n = 0;
			     nth_token(exp, ne, t, kinds[k], n, se) > 0 &&
			     nth_token(act, na, t, kinds[k], n, sa) > 0;
			     n++)
				(void)bind_ok(t, se, sa);
		}
	}
}

/* How many lines the README shows that are not "...". */
static int shown_lines(char **exp, int ne)
{
	int n = 0;

	for (int i = 0; i < ne; i++)
		n += !is_ellipsis(exp[i]);
	return n;
}

/* Starts cmd in the background and returns what it printed (caller
 * frees) as soon as that is want lines, or what it had after WAIT_MS. */
static char *background_lines(const char *cmd, int want)
{
	const char *log = sh_start(cmd);
	int64_t end = mono_ms() + WAIT_MS;
	char *out = NULL;

	for (;;) {
		int n = 0;

		free(out);
		out = read_file(log);
		for (char *p = out; *p != '\0'; p++)
			n += *p == '\n';
		if (n >= want || mono_ms() >= end)
			return out;
		sleep_ms(20);
	}
}

/* FINLOCK_GUIDE_UPDATE: the README's output of c becomes the na printed
 * lines, its own values put back (the README's values are bound to the
 * printed ones in the order they come, kind by kind: "dv_", "k4.pid."...).
 * Returns how many lines the README gained (negative: lost). */
static int rewrite_output(const char *step, const struct cmd *c, char **act,
                          int na)
{
	char **exp = &lines[c->out], *joined, *shown, *with[MAX_LINES];
	int ne = c->end - c->out, n;
	size_t cap = 1;

	update_binds(exp, ne, act, na);
	for (int i = 0; i < na; i++)
		cap += strlen(act[i]) + 1;
	joined = calloc(1, cap);
	assert_non_null(joined);
	for (int i = 0; i < na; i++) {
		strcat(joined, act[i]);
		strcat(joined, "\n");
	}
	shown = output_shown(joined);
	n = split_lines(shown, with, MAX_LINES);
	readme_splice(c->out, c->end, with, n);
	fprintf(stderr, "README.md: rewrote the output of `%s` (step \"%s\")\n",
	        c->text, step);
	free(shown);
	free(joined);
	return n - ne;
}

/* Runs one command and checks (or, updating, rewrites) its output.
 * Returns how many README lines were added (negative: removed). */
static int run_command(const char *step, struct cmd *c, bool update)
{
	char *real, *out, *act[MAX_LINES], **exp = &lines[c->out];
	int ne = c->end - c->out, na, status = 0, skip = 0;
	struct progress pr = {-1, -1};
	size_t len = strlen(c->text);
	bool background = len > 2 && strcmp(c->text + len - 2, " &") == 0;
	int saved = n_binds;

	real = command_real(c->text);
	if (background) {
		real[strlen(real) - 2] = '\0';
		out = background_lines(real, shown_lines(exp, ne));
	} else {
		status = sh_run(real, &out);
	}
	for (int i = 0; i < n_substs; i++)
		replace_all(&out, substs[i].real, substs[i].shown);
	na = split_lines(out, act, MAX_LINES);
	/* a background command goes on printing: its first lines count */
	if (background && na > shown_lines(exp, ne))
		na = shown_lines(exp, ne);
	if (status != 0) {
		fprintf(stderr,
		        "README.md, step \"%s\", line %d: `%s` exited "
		        "with %d:\n%s\n",
		        step, c->first + 1, real, status, out);
		free(real);
		free(out);
		fail();
	}
	if (!block_match(exp, ne, act, na, 0, 0, &pr)) {
		n_binds = saved;
		print_block_diff(step, c, exp, ne, act, na, &pr);
		if (!update) {
			free(real);
			free(out);
			fail_msg("README.md: the guide's output differs at "
			         "step \"%s\" (FINLOCK_GUIDE_UPDATE=1 rewrites "
			         "it)",
			         step);
		}
		skip = rewrite_output(step, c, act, na);
	}
	free(real);
	free(out);
	return skip;
}

/* Runs the console block whose fence opens at README line open; returns
 * the line of its closing fence (after any rewrite). */
static int run_block(const char *step, int open, bool update)
{
	int i = open + 1;

	if (operator_env) {
		setenv("FINLOCK_SERVER", srv_url(S), 1);
		setenv("FINLOCK_API_KEY", srv_operator_key(S), 1);
	}
	while (i < n_lines && strcmp(lines[i], "```") != 0) {
		struct cmd c = {i, 0, 0, NULL};
		size_t cap = 1;

		cur_cmd = NULL;

		if (strncmp(lines[i], "$ ", 2) != 0)
			fail_msg("README.md line %d: a console block's lines "
			         "begin with a command (\"$ \")",
			         i + 1);
		/* the command, with its continuation lines */
		for (;;) {
			size_t l = strlen(lines[i]);

			cap += l + 1;
			c.text = realloc(c.text, cap);
			assert_non_null(c.text);
			cur_cmd = c.text;
			if (c.first == i)
				strcpy(c.text, lines[i] + 2);
			else
				strcat(strcat(c.text, "\n"), lines[i]);
			i++;
			if (l == 0 || lines[i - 1][l - 1] != '\\' ||
			    i >= n_lines)
				break;
		}
		c.out = i;
		while (i < n_lines && strcmp(lines[i], "```") != 0 &&
		       strncmp(lines[i], "$ ", 2) != 0)
			i++;
		c.end = i;
		i += run_command(step, &c, update);
		free(c.text);
		cur_cmd = NULL;
	}
	if (i >= n_lines)
		fail_msg("README.md line %d: a console block is not closed",
		         open + 1);
	if (operator_env) {
		unsetenv("FINLOCK_SERVER");
		unsetenv("FINLOCK_API_KEY");
		operator_env = false;
	}
	return i;
}

/* The first clock directive's time: the server starts on it. */
static fl_time first_clock(int from, int to)
{
	for (int i = from; i < to; i++) {
		const char *d = strstr(lines[i], "<!-- guide: clock ");
		fl_time t;

		if (d != NULL) {
			char when[64];

			if (sscanf(d + 18, "%63s", when) == 1 &&
			    fl_time_parse(when, strlen(when), &t) == FL_OK)
				return t;
		}
	}
	fail_msg("README.md: the guide sets no clock");
	return 0;
}

static void add_subst(const char *real, const char *shown)
{
	assert_true(n_substs < MAX_SUBST);
	snprintf(substs[n_substs].real, sizeof(substs[0].real), "%s", real);
	snprintf(substs[n_substs].shown, sizeof(substs[0].shown), "%s", shown);
	n_substs++;
}

static void the_guide_runs_as_written(void **state)
{
	bool update = getenv("FINLOCK_GUIDE_UPDATE") != NULL &&
	              strcmp(getenv("FINLOCK_GUIDE_UPDATE"), "1") == 0;
	int start = -1, end, blocks = 0, commands_before;
	char step[256] = "", home[600], path[8192], bindir[4096];
	const char *bin = getenv("FINLOCK_BIN");
	struct srv_opts o = {0};

	(void)state;
	readme_load();
	for (int i = 0; i < n_lines; i++)
		if (strcmp(lines[i], "## Using finlock: a lender's guide") == 0)
			start = i;
	if (start < 0)
		fail_msg("README.md has no \"## Using finlock: a lender's "
		         "guide\"");
	for (end = start + 1; end < n_lines; end++)
		if (strncmp(lines[end], "## ", 3) == 0)
			break;

	/* the world: a server on the test clock, a working directory */
	o.clock = first_clock(start, end);
	assert_int_equal(srv_start(&S, &o), 0);
	snprintf(root, sizeof(root), "%s/guide-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(root));
	snprintf(work, sizeof(work), "%s/work", root);
	snprintf(home, sizeof(home), "%s/home", root);
	assert_int_equal(mkdir(work, 0700), 0);
	assert_int_equal(mkdir(home, 0700), 0);
	/* commands run in the working directory: the programs' directory
	 * must not be relative */
	if (realpath(bin != NULL ? bin : "build/san/bin", bindir) == NULL)
		fail_msg("no programs in %s",
		         bin != NULL ? bin : "build/san/bin");
	snprintf(path, sizeof(path), "%s:%s", bindir,
	         getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	setenv("HOME", home, 1);
	setenv("TZ", "UTC", 1);
	setenv("FINLOCK_TEST_CLOCK", srv_clock_path(S), 1);
	unsetenv("FINLOCK_CONFIG");
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("FINLOCK_SERVER");
	unsetenv("FINLOCK_API_KEY");
	unsetenv("FINLOCK_CACERT");
	unsetenv("FINLOCK_PROFILE");
	unsetenv("FINLOCK_DEVICE_DIR");
	add_subst(srv_url(S), SHOWN_URL);
	add_subst(srv_data_dir(S), SHOWN_DATA);
	add_subst(home, SHOWN_HOME);
	/* the phone's requests come from loopback */
	add_subst("127.0.0.0/24", SHOWN_NET);

	/* the blocks, in order */
	for (int i = start; i < end; i++) {
		const char *d;

		if (strncmp(lines[i], "### ", 4) == 0) {
			snprintf(step, sizeof(step), "%s", lines[i] + 4);
		} else if ((d = strstr(lines[i], "<!-- guide: ")) != NULL) {
			char text[1024];
			const char *close = strstr(d, "-->");

			assert_non_null(close);
			snprintf(text, sizeof(text), "%.*s",
			         (int)(close - d - 12), d + 12);
			for (size_t k = strlen(text);
			     k > 0 && text[k - 1] == ' '; k--)
				text[k - 1] = '\0';
			directive(step, text);
		} else if (strcmp(lines[i], "```console") == 0) {
			commands_before = n_lines;
			i = run_block(step, i, update);
			end += n_lines - commands_before;
			blocks++;
		}
	}
	assert_true(blocks >= 8);

	for (int i = 0; i < n_bg; i++) {
		int ws;

		kill(bg[i], SIGTERM);
		waitpid(bg[i], &ws, 0);
	}
	n_bg = 0;
	if (update && lines_changed)
		readme_save();
	srv_free(S);
	S = NULL;
	proc_rm_tree(root);
	root[0] = '\0';
	printf("the guide's %d blocks ran as written\n", blocks);
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < n_bg; i++) {
		int ws;

		kill(bg[i], SIGKILL);
		waitpid(bg[i], &ws, 0);
	}
	if (S != NULL)
		srv_free(S);
	free(cur_cmd);
	if (root[0] != '\0')
		proc_rm_tree(root);
	for (int i = 0; i < n_lines; i++)
		free(lines[i]);
	free(readme_path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(the_guide_runs_as_written, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
