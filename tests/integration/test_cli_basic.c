/*
 * The finlock commands that need no server, run as a user runs them:
 * keygen, key certify, token sign/verify against the PASETO specification's
 * published v4.public vectors, imei check, and --help everywhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/crypto.h"
#include "core/paserk.h"
#include "core/token.h"
#include "support/proc.h"

#define VECTORS "tests/vectors/paseto/v4.public.json"

static int setup(void **state)
{
	(void)state;
	return fl_crypto_init() == FL_OK ? 0 : -1;
}

/* Splits r->out into its lines (at most n); returns how many. */
static size_t lines(char *out, char **line, size_t n)
{
	size_t k = 0;

	for (char *save = NULL, *p = strtok_r(out, "\n", &save);
	     p != NULL && k < n; p = strtok_r(NULL, "\n", &save))
		line[k++] = p;
	return k;
}

static void test_keygen(void **state)
{
	(void)state;
	struct proc_result r;
	char *l[4];
	uint8_t sk[FL_SIGN_SK_LEN], pk[FL_SIGN_PK_LEN], pk2[FL_SIGN_PK_LEN];
	char pid[FL_PASERK_PID_SIZE];

	assert_int_equal(proc_runl(&r, NULL, "finlock", "keygen", NULL), 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(lines(r.out, l, 4), 3);
	assert_int_equal(fl_paserk_secret_decode(sk, l[0], strlen(l[0])),
	                 FL_OK);
	assert_int_equal(fl_paserk_public_decode(pk, l[1], strlen(l[1])),
	                 FL_OK);
	fl_sign_sk_to_pk(pk2, sk);
	assert_memory_equal(pk, pk2, sizeof(pk));
	assert_int_equal(fl_paserk_pid(pid, pk), FL_OK);
	assert_string_equal(l[2], pid);
	proc_result_free(&r);

	/* two runs never give the same key */
	{
		struct proc_result a, b;
		assert_int_equal(proc_runl(&a, NULL, "finlock", "keygen",
		                           "--root", NULL),
		                 0);
		assert_int_equal(proc_runl(&b, NULL, "finlock", "keygen",
		                           "--root", NULL),
		                 0);
		assert_int_equal(a.status, 0);
		assert_non_null(strstr(a.err, "offline"));
		assert_string_not_equal(a.out, b.out);
		proc_result_free(&a);
		proc_result_free(&b);
	}
	assert_int_equal(
	        proc_runl(&r, NULL, "finlock", "keygen", "extra", NULL), 0);
	assert_int_equal(r.status, 2);
	proc_result_free(&r);
}

static json_t *load_vectors(void)
{
	json_error_t e;
	json_t *v = json_load_file(VECTORS, 0, &e);

	assert_non_null(v);
	return v;
}

static void test_token_vectors(void **state)
{
	(void)state;
	json_t *v = load_vectors(), *t;
	size_t i, n_ok = 0, n_fail = 0;
	const char *last_pkhex = NULL;

	json_array_foreach(json_object_get(v, "tests"), i, t)
	{
		const char *name =
		        json_string_value(json_object_get(t, "name"));
		const char *skhex =
		        json_string_value(json_object_get(t, "secret-key"));
		const char *pkhex =
		        json_string_value(json_object_get(t, "public-key"));
		const char *token =
		        json_string_value(json_object_get(t, "token"));
		const char *payload =
		        json_string_value(json_object_get(t, "payload"));
		const char *footer =
		        json_string_value(json_object_get(t, "footer"));
		const char *implicit = json_string_value(
		        json_object_get(t, "implicit-assertion"));
		int fail = json_is_true(json_object_get(t, "expect-fail"));
		uint8_t sk[FL_SIGN_SK_LEN], pk[FL_SIGN_PK_LEN];
		char ksec[FL_PASERK_SECRET_SIZE], kpub[FL_PASERK_PUBLIC_SIZE];
		struct proc_result r;

		print_message("vector %s\n", name);
		/* the failing vectors for other versions carry no public key:
		 * any v4 public key must refuse them */
		if (pkhex == NULL)
			pkhex = last_pkhex;
		assert_non_null(pkhex);
		last_pkhex = pkhex;
		assert_int_equal(
		        fl_hex_decode(pk, sizeof(pk), pkhex, strlen(pkhex)),
		        FL_OK);
		assert_int_equal(fl_paserk_public_encode(kpub, pk), FL_OK);
		if (!fail) {
			assert_int_equal(fl_hex_decode(sk, sizeof(sk), skhex,
			                               strlen(skhex)),
			                 FL_OK);
			assert_int_equal(fl_paserk_secret_encode(ksec, sk),
			                 FL_OK);
			/* sign reproduces the published token byte for byte */
			assert_int_equal(proc_runl(&r, NULL, "finlock", "token",
			                           "sign", "--key", ksec,
			                           "--footer", footer,
			                           "--implicit", implicit,
			                           payload, NULL),
			                 0);
			assert_int_equal(r.status, 0);
			r.out[strcspn(r.out, "\n")] = '\0';
			assert_string_equal(r.out, token);
			proc_result_free(&r);
			/* and the key may come on stdin too */
			assert_int_equal(proc_runl(&r, ksec, "finlock", "token",
			                           "sign", "--key", "-",
			                           "--footer", footer,
			                           "--implicit", implicit,
			                           payload, NULL),
			                 0);
			r.out[strcspn(r.out, "\n")] = '\0';
			assert_string_equal(r.out, token);
			proc_result_free(&r);
			n_ok++;
		}
		assert_int_equal(proc_runl(&r, NULL, "finlock", "token",
		                           "verify", "--key", kpub,
		                           "--implicit", implicit,
		                           "--show-footer", token, NULL),
		                 0);
		if (fail) {
			assert_int_equal(r.status, 1);
			assert_non_null(strstr(r.err, "invalid token"));
			assert_string_equal(r.out, "");
			n_fail++;
		} else {
			char expect[4096];

			assert_int_equal(r.status, 0);
			snprintf(expect, sizeof(expect), "%s\n%s\n", payload,
			         footer);
			assert_string_equal(r.out, expect);
		}
		proc_result_free(&r);
	}
	assert_int_equal(n_ok, 3);
	assert_true(n_fail >= 3);
	json_decref(v);
}

static void test_token_refusals(void **state)
{
	(void)state;
	struct proc_result r, k;
	char *l[4], *tok, tampered[4096];

	assert_int_equal(proc_runl(&k, NULL, "finlock", "keygen", NULL), 0);
	assert_int_equal(lines(k.out, l, 4), 3);
	assert_int_equal(proc_runl(&r, NULL, "finlock", "token", "sign",
	                           "--key", l[0], "--implicit", "a",
	                           "{\"x\":1}", NULL),
	                 0);
	assert_int_equal(r.status, 0);
	tok = strtok(r.out, "\n");
	assert_non_null(tok);
	snprintf(tampered, sizeof(tampered), "%s", tok);
	/* wrong implicit assertion */
	{
		struct proc_result v;
		assert_int_equal(proc_runl(&v, NULL, "finlock", "token",
		                           "verify", "--key", l[1],
		                           "--implicit", "b", tok, NULL),
		                 0);
		assert_int_equal(v.status, 1);
		assert_non_null(strstr(v.err, "signature"));
		proc_result_free(&v);
	}
	/* a changed character */
	tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
	{
		struct proc_result v;
		assert_int_equal(proc_runl(&v, NULL, "finlock", "token",
		                           "verify", "--key", l[1],
		                           "--implicit", "a", tampered, NULL),
		                 0);
		assert_int_equal(v.status, 1);
		proc_result_free(&v);
	}
	/* a secret key given where a public one is expected */
	{
		struct proc_result v;
		assert_int_equal(proc_runl(&v, NULL, "finlock", "token",
		                           "verify", "--key", l[0], tok, NULL),
		                 0);
		assert_int_equal(v.status, 1);
		assert_non_null(strstr(v.err, "bad --key"));
		proc_result_free(&v);
	}
	/* usage errors exit 2 */
	{
		struct proc_result v;
		assert_int_equal(
		        proc_runl(&v, NULL, "finlock", "token", "verify", NULL),
		        0);
		assert_int_equal(v.status, 2);
		proc_result_free(&v);
	}
	proc_result_free(&r);
	proc_result_free(&k);
}

static void test_key_certify(void **state)
{
	(void)state;
	struct proc_result root, sig, cert;
	char *rl[4], *sl[4], *c;
	uint8_t root_pk[FL_SIGN_PK_LEN];
	struct fl_trust *trust = NULL;
	char kid[FL_KID_MAX];

	assert_int_equal(
	        proc_runl(&root, NULL, "finlock", "keygen", "--root", NULL), 0);
	assert_int_equal(proc_runl(&sig, NULL, "finlock", "keygen", NULL), 0);
	assert_int_equal(lines(root.out, rl, 4), 3);
	assert_int_equal(lines(sig.out, sl, 4), 3);
	assert_int_equal(proc_runl(&cert, rl[0], "finlock", "key", "certify",
	                           "--root", "-", "--key", sl[1], "--not-after",
	                           "2030-01-01T00:00:00Z", NULL),
	                 0);
	assert_int_equal(cert.status, 0);
	c = strtok(cert.out, "\n");
	assert_non_null(c);
	/* the certificate makes the signing key trusted under the root */
	assert_int_equal(fl_paserk_public_decode(root_pk, rl[1], strlen(rl[1])),
	                 FL_OK);
	assert_int_equal(fl_trust_new(&trust, root_pk), FL_OK);
	assert_int_equal(fl_trust_add_cert(trust, c, 1700000000, kid), FL_OK);
	assert_string_equal(kid, sl[2]);
	/* and is refused after its not-after */
	assert_int_equal(fl_trust_add_cert(trust, c, 1900000000, NULL),
	                 FL_E_KEY_EXPIRED);
	fl_trust_free(trust);
	proc_result_free(&cert);

	/* a bad time or a bad key is refused, nothing printed */
	assert_int_equal(proc_runl(&cert, NULL, "finlock", "key", "certify",
	                           "--root", rl[0], "--key", sl[1],
	                           "--not-after", "2030-02-30T00:00:00Z", NULL),
	                 0);
	assert_int_equal(cert.status, 1);
	assert_string_equal(cert.out, "");
	proc_result_free(&cert);
	assert_int_equal(proc_runl(&cert, NULL, "finlock", "key", "certify",
	                           "--root", sl[1], "--key", sl[1],
	                           "--not-after", "2030-01-01T00:00:00Z", NULL),
	                 0);
	assert_int_equal(cert.status, 1);
	proc_result_free(&cert);
	proc_result_free(&root);
	proc_result_free(&sig);
}

static void test_imei_check(void **state)
{
	(void)state;
	struct proc_result r;

	assert_int_equal(proc_runl(&r, NULL, "finlock", "imei", "check",
	                           "35-209900-176148-1", NULL),
	                 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "352099001761481"));
	assert_non_null(strstr(r.out, "35209900"));
	proc_result_free(&r);
	assert_int_equal(proc_runl(&r, NULL, "finlock", "imei", "check",
	                           "352099001761482", NULL),
	                 0);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "check digit"));
	proc_result_free(&r);
	/* offline with --json: a JSON answer, and a JSON error */
	assert_int_equal(proc_runl(&r, NULL, "finlock", "imei", "check",
	                           "352099001761481", "--json", NULL),
	                 0);
	assert_int_equal(r.status, 0);
	{
		json_t *j = json_loads(r.out, 0, NULL);

		assert_non_null(j);
		assert_string_equal(
		        json_string_value(json_object_get(j, "imei")),
		        "352099001761481");
		assert_true(json_is_true(json_object_get(j, "valid")));
		assert_string_equal(
		        json_string_value(json_object_get(j, "tac")),
		        "35209900");
		json_decref(j);
	}
	proc_result_free(&r);
	assert_int_equal(proc_runl(&r, NULL, "finlock", "imei", "check",
	                           "352099001761482", "--json", NULL),
	                 0);
	assert_int_equal(r.status, 1);
	{
		json_t *j = json_loads(r.out, 0, NULL);
		json_t *e = json_object_get(j, "error");

		assert_string_equal(
		        json_string_value(json_object_get(e, "code")),
		        "refused");
		assert_non_null(
		        strstr(json_string_value(json_object_get(e, "message")),
		               "check digit"));
		json_decref(j);
	}
	proc_result_free(&r);
	assert_int_equal(proc_runl(&r, NULL, "finlock", "imei", "check",
	                           "3520990017614812", NULL),
	                 0);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "IMEISV"));
	proc_result_free(&r);
	assert_int_equal(proc_runl(&r, NULL, "finlock", "imei", "check", NULL),
	                 0);
	assert_int_equal(r.status, 2);
	proc_result_free(&r);
}

static void test_help_everywhere(void **state)
{
	(void)state;
	static const char *const cmds[][3] = {
	        {"--help", NULL, NULL},        {"keygen", "--help", NULL},
	        {"key", "--help", NULL},       {"key", "certify", "--help"},
	        {"token", "--help", NULL},     {"token", "sign", "--help"},
	        {"token", "verify", "--help"}, {"imei", "--help", NULL},
	        {"imei", "check", "--help"},
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct proc_result r;
		char *argv[5] = {"finlock"};
		size_t n = 1;

		for (size_t j = 0; j < 3 && cmds[i][j]; j++)
			argv[n++] = (char *)cmds[i][j];
		argv[n] = NULL;
		assert_int_equal(proc_run("finlock", argv, NULL, &r), 0);
		assert_int_equal(r.status, 0);
		assert_non_null(strstr(r.out, "usage: finlock"));
		proc_result_free(&r);
	}
	{
		/* one "finlock: " before the message, never two */
		struct proc_result r;
		assert_int_equal(proc_runl(&r, NULL, "finlock", "nosuch", NULL),
		                 0);
		assert_int_equal(r.status, 2);
		assert_string_equal(r.err, "finlock: unknown command 'nosuch' "
		                           "(try 'finlock --help')\n");
		proc_result_free(&r);
		assert_int_equal(proc_runl(&r, NULL, "finlock", "devices",
		                           "nosuch", NULL),
		                 0);
		assert_int_equal(r.status, 2);
		assert_string_equal(
		        r.err, "finlock: devices: unknown command 'nosuch' "
		               "(try 'finlock devices --help')\n");
		proc_result_free(&r);
	}
}

/* `finlock help WORDS` is `finlock WORDS --help`; a group's help too. */
static void test_help_command(void **state)
{
	struct proc_result a, b;

	(void)state;
	assert_int_equal(
	        proc_runl(&a, NULL, "finlock", "help", "devices", "lock", NULL),
	        0);
	assert_int_equal(proc_runl(&b, NULL, "finlock", "devices", "lock",
	                           "--help", NULL),
	                 0);
	assert_int_equal(a.status, 0);
	assert_string_equal(a.out, b.out);
	assert_non_null(strstr(a.out, "usage: finlock devices lock"));
	proc_result_free(&a);
	proc_result_free(&b);
	assert_int_equal(
	        proc_runl(&a, NULL, "finlock", "help", "tenant", "keys", NULL),
	        0);
	assert_int_equal(a.status, 0);
	assert_non_null(strstr(a.out, "usage: finlock tenant keys <command>"));
	proc_result_free(&a);
	assert_int_equal(proc_runl(&a, NULL, "finlock", "help", NULL), 0);
	assert_int_equal(a.status, 0);
	assert_non_null(strstr(a.out, "completion"));
	proc_result_free(&a);
	assert_int_equal(proc_runl(&a, NULL, "finlock", "help", "devices",
	                           "nosuch", NULL),
	                 0);
	assert_int_equal(a.status, 2);
	assert_string_equal(a.err, "finlock: help: devices: unknown command "
	                           "'nosuch' (try 'finlock help devices')\n");
	proc_result_free(&a);
}

/* Runs bash with the completion script loaded and prints what it offers
 * for the words (the last one being completed). */
static char *complete_words(const char *words)
{
	struct proc_result r;
	char path[] = "/tmp/finlock-completion-XXXXXX", cmd[128];
	char *out = calloc(1, 4096);
	size_t n;
	FILE *f, *p;
	int fd;

	assert_non_null(out);
	assert_int_equal(
	        proc_runl(&r, NULL, "finlock", "completion", "bash", NULL), 0);
	assert_int_equal(r.status, 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f,
	        "%s\nCOMP_WORDS=(%s)\n"
	        "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
	        "_finlock\n"
	        "echo \"${COMPREPLY[*]}\"\n",
	        r.out, words);
	fclose(f);
	proc_result_free(&r);
	snprintf(cmd, sizeof(cmd), "bash %s", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, 4095, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	unlink(path);
	return out;
}

static void test_completion(void **state)
{
	char *c;

	(void)state;
	c = complete_words("finlock dev");
	assert_string_equal(c, "devices\n");
	free(c);
	c = complete_words("finlock devices lo");
	assert_string_equal(c, "lock\n");
	free(c);
	c = complete_words("finlock --json tenant keys c");
	assert_string_equal(c, "create\n");
	free(c);
	c = complete_words("finlock devices lock dv_1 --re");
	assert_string_equal(c, "--reason\n");
	free(c);
	c = complete_words("finlock imei check --pro");
	assert_string_equal(c, "--profile\n");
	free(c);
	c = complete_words("finlock login --no");
	assert_string_equal(c, "--no-check\n");
	free(c);
	c = complete_words("finlock webhooks r");
	assert_string_equal(c, "rotate redeliver\n");
	free(c);
	c = complete_words("finlock webhooks create http://x --ev");
	assert_string_equal(c, "--events\n");
	free(c);
	{
		struct proc_result r;

		assert_int_equal(proc_runl(&r, NULL, "finlock", "completion",
		                           "zsh", NULL),
		                 0);
		assert_int_equal(r.status, 2);
		proc_result_free(&r);
	}
}

/* Every command and group, as typed. */
static const char *const all_commands[] = {
        "login",
        "config",
        "health",
        "tenant",
        "tenant create",
        "tenant list",
        "tenant show",
        "tenant keys",
        "tenant keys create",
        "tenant keys list",
        "tenant keys revoke",
        "operator",
        "operator keys",
        "operator keys create",
        "operator keys list",
        "operator keys revoke",
        "keys",
        "keys create",
        "keys list",
        "keys show",
        "keys revoke",
        "devices",
        "devices register",
        "devices import",
        "devices list",
        "devices show",
        "devices lock",
        "devices unlock",
        "devices release",
        "devices stolen",
        "devices sync",
        "devices enrollment-code",
        "contracts",
        "contracts create",
        "contracts show",
        "contracts list",
        "contracts reschedule",
        "payments",
        "payments record",
        "payments reverse",
        "payments list",
        "payments show",
        "webhooks",
        "webhooks create",
        "webhooks list",
        "webhooks show",
        "webhooks disable",
        "webhooks enable",
        "webhooks rotate",
        "webhooks delete",
        "webhooks deliveries",
        "webhooks redeliver",
        "audit",
        "audit list",
        "audit export",
        "audit verify",
        "audit head",
        "imei",
        "imei check",
        "imei certificate",
        "imei verify-cert",
        "keygen",
        "key",
        "key certify",
        "token",
        "token sign",
        "token verify",
        "help",
        "completion",
};

/* The option lines of a help text ("  --name VALUE   what it does") all
 * start their description in the same column. */
static void check_aligned(const char *cmd, const char *help)
{
	int col = -1;

	for (const char *l = help; *l != '\0';) {
		const char *nl = strchr(l, '\n'), *p = l + 2;
		const char *end = nl != NULL ? nl : l + strlen(l);

		if (strncmp(l, "  -", 3) == 0) {
			while (p < end && !(p[0] == ' ' && p[1] == ' '))
				p++;
			while (p < end && *p == ' ')
				p++;
			if (p < end) {
				if (col < 0)
					col = (int)(p - l);
				if ((int)(p - l) != col)
					fprintf(stderr,
					        "%s: misaligned: %.*s\n", cmd,
					        (int)(end - l), l);
				assert_int_equal((int)(p - l), col);
			}
		}
		l = nl != NULL ? nl + 1 : end;
	}
}

/* --help on every command: exit 0, its usage on stdout, nothing on
 * stderr, and no server needed; docs/cli.md names every command. */
static void test_help_all(void **state)
{
	char *text;
	size_t n;
	FILE *f;

	(void)state;
	setenv("FINLOCK_CONFIG", "/nonexistent/finlock-config", 1);
	unsetenv("FINLOCK_SERVER");
	unsetenv("FINLOCK_API_KEY");
	f = fopen("docs/cli.md", "r");
	assert_non_null(f);
	text = calloc(1, 1 << 20);
	assert_non_null(text);
	n = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	text[n] = '\0';
	for (size_t i = 0; i < sizeof(all_commands) / sizeof(all_commands[0]);
	     i++) {
		char words[128], *argv[8] = {"finlock"}, want[160],
		                 *save = NULL;
		struct proc_result r;
		size_t k = 1;

		snprintf(words, sizeof(words), "%s", all_commands[i]);
		for (char *w = strtok_r(words, " ", &save); w != NULL;
		     w = strtok_r(NULL, " ", &save))
			argv[k++] = w;
		argv[k++] = "--help";
		argv[k] = NULL;
		assert_int_equal(proc_run("finlock", argv, NULL, &r), 0);
		snprintf(want, sizeof(want), "usage: finlock %s",
		         all_commands[i]);
		if (r.status != 0 || strncmp(r.out, want, strlen(want)) != 0)
			fprintf(stderr, "%s: %d [%s] [%s]\n", all_commands[i],
			        r.status, r.out, r.err);
		assert_int_equal(r.status, 0);
		assert_int_equal(strncmp(r.out, want, strlen(want)), 0);
		assert_string_equal(r.err, "");
		check_aligned(all_commands[i], r.out);
		proc_result_free(&r);
		/* the documentation has it, with an example */
		snprintf(want, sizeof(want), "finlock %s", all_commands[i]);
		if (strstr(text, want) == NULL)
			fprintf(stderr, "docs/cli.md lacks '%s'\n", want);
		assert_non_null(strstr(text, want));
	}
	/* the exit codes are documented */
	assert_non_null(strstr(text, "## Exit codes"));
	free(text);
}

/* The manual page holds every command's usage, as --help prints it. */
static void test_man_page(void **state)
{
	struct proc_result r, h;
	char want[160];

	(void)state;
	assert_int_equal(proc_runl(&r, NULL, "finlock", "help", "--man", NULL),
	                 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(strncmp(r.out, ".TH FINLOCK 1", 13), 0);
	assert_non_null(strstr(r.out, ".SH EXIT STATUS"));
	for (size_t i = 0; i < sizeof(all_commands) / sizeof(all_commands[0]);
	     i++) {
		snprintf(want, sizeof(want), ".SS finlock %s\n",
		         all_commands[i]);
		if (strstr(r.out, want) == NULL)
			fprintf(stderr, "no %s", want);
		assert_non_null(strstr(r.out, want));
	}
	/* a command's text, escaped for roff */
	assert_int_equal(
	        proc_runl(&h, NULL, "finlock", "imei", "check", "--help", NULL),
	        0);
	assert_non_null(
	        strstr(r.out, "usage: finlock imei check IMEI [\\-\\-server"));
	proc_result_free(&h);
	proc_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_keygen),
	        cmocka_unit_test(test_token_vectors),
	        cmocka_unit_test(test_token_refusals),
	        cmocka_unit_test(test_key_certify),
	        cmocka_unit_test(test_imei_check),
	        cmocka_unit_test(test_help_everywhere),
	        cmocka_unit_test(test_help_all),
	        cmocka_unit_test(test_help_command),
	        cmocka_unit_test(test_man_page),
	        cmocka_unit_test(test_completion),
	};
	return cmocka_run_group_tests_name("cli_basic", tests, setup, NULL);
}
