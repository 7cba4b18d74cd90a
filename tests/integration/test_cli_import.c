/*
 * `finlock devices import` and the public IMEI commands against a real
 * finlockd: a file with bad rows registers nothing and names every bad
 * line; a dry run registers nothing; a good file registers every row; a
 * stopped import continues with --skip-registered; the rate-limited public
 * check is waited for. `imei check --server`, `imei certificate` and
 * `imei verify-cert` against the server's own root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/crypto.h"
#include "core/paserk.h"
#include "core/token.h"
#include "support/cli_run.h"
#include "support/server_harness.h"

static struct srv *S;
static char TENANT_A[64], KEY_A[64], TENANT_B[64], KEY_B[64];
static const char *DIR_;
static unsigned long imei_seq = 5000;

static int setup(void **state)
{
	static const char *const args[] = {"--public-burst", "100000", NULL};
	const struct srv_opts o = {.args = args};

	(void)state;
	if (fl_crypto_init() != FL_OK || srv_start(&S, &o) != 0)
		return -1;
	if (srv_tenant(S, "Acme Credit", TENANT_A, KEY_A) != 0 ||
	    srv_tenant(S, "Beta Finance", TENANT_B, KEY_B) != 0)
		return -1;
	DIR_ = cli_isolate();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

static void next_imei(char out[16])
{
	cli_imei(imei_seq++, out);
}

static const char *csv(const char *name, const char *text)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", DIR_, name);
	cli_write_file(path, text, 0600);
	return path;
}

/* Number of lender A's devices. */
static size_t devices_of(const char *key)
{
	struct proc_result r;
	size_t n;
	json_t *j;

	cli_env(srv_url(S), key);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "list", "--all", "--json", NULL),
	        0);
	j = cli_json(&r);
	n = json_array_size(json_object_get(j, "items"));
	json_decref(j);
	proc_result_free(&r);
	return n;
}

/* True when stderr names path:line. */
static bool names_line(const char *err, const char *path, unsigned line)
{
	char want[320];

	snprintf(want, sizeof(want), "%s:%u: ", path, line);
	return strstr(err, want) != NULL;
}

static void register_one(const char *key, const char *imei, const char *serial)
{
	struct proc_result r;

	cli_env(srv_url(S), key);
	assert_int_equal(cli_run(&r, NULL, "devices", "register", "--imei",
	                         imei, "--serial", serial, NULL),
	                 0);
	proc_result_free(&r);
}

static void test_bad_rows(void **state)
{
	char good1[16], good2[16], dup[16], mine[16], theirs[16], quoted[16];
	char text[2048];
	const char *path;
	struct proc_result r;
	size_t before;

	(void)state;
	next_imei(good1);
	next_imei(good2);
	next_imei(dup);
	next_imei(mine);
	next_imei(theirs);
	next_imei(quoted);
	register_one(KEY_A, mine, "SN-MINE");
	register_one(KEY_B, theirs, "SN-THEIRS");
	before = devices_of(KEY_A);
	snprintf(text, sizeof(text),
	         "%s,,SN-1,Spark\n"         /* 1 good */
	         "352099001761482,,SN-2,\n" /* 2 check digit */
	         "%s,,,Spark\n"             /* 3 no serial */
	         "%s,,SN-4,Spark\n"         /* 4 first of a duplicate */
	         "\n"                       /* 5 blank: skipped */
	         "%s,%s,SN-6,Spark\n"       /* 6 duplicate (IMEI 2) */
	         "%s,,SN-7,Spark\n"         /* 7 already mine */
	         "%s,,SN-8,Spark\n"         /* 8 in B's program */
	         "%s,%s,SN-9,x\n"           /* 9 IMEI 2 == IMEI */
	         "1,2,3,4,5\n"              /* 10 too many columns */
	         "\"%s\",\"\",\"SN, 11\",\"A \"\"quoted\"\" model\"\n"
	         /* 11 good, quoted */,
	         good1, good2, dup, good2, dup, mine, theirs, good2, good2,
	         quoted);
	path = csv("bad.csv", text);
	cli_env(srv_url(S), KEY_A);
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path, NULL), 1);
	assert_string_equal(r.out, "");
	/* every bad line, by number; the good ones are not named */
	assert_false(names_line(r.err, path, 1));
	assert_true(names_line(r.err, path, 2));
	assert_non_null(strstr(r.err, "check digit"));
	assert_true(names_line(r.err, path, 3));
	assert_non_null(strstr(r.err, "missing serial"));
	assert_true(names_line(r.err, path, 6));
	assert_non_null(strstr(r.err, "also on line 4"));
	assert_true(names_line(r.err, path, 7));
	assert_non_null(strstr(r.err, "already registered as your device"));
	assert_true(names_line(r.err, path, 8));
	assert_non_null(strstr(r.err, "already in a financing program"));
	assert_true(names_line(r.err, path, 9));
	assert_true(names_line(r.err, path, 10));
	assert_false(names_line(r.err, path, 11));
	assert_true(cli_last_line(r.err, "finlock: 7 bad rows in "));
	assert_non_null(strstr(r.err, "nothing was registered"));
	proc_result_free(&r);
	/* the same for scripts */
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "import", path, "--json", NULL),
	        1);
	{
		json_t *j = cli_json(&r), *errs = json_object_get(j, "errors");

		assert_true(json_array_size(errs) >= 7);
		assert_int_equal(json_integer_value(json_object_get(
		                         json_array_get(errs, 0), "line")),
		                 2);
		assert_int_equal(
		        json_array_size(json_object_get(j, "registered")), 0);
		json_decref(j);
	}
	proc_result_free(&r);
	/* nothing registered, not even the good rows */
	assert_int_equal(devices_of(KEY_A), before);
	assert_int_equal(cli_run(&r, NULL, "devices", "show", good1, NULL), 1);
	proc_result_free(&r);
	/* a header that names an unknown column */
	path = csv("hdr.csv", "IMEI,colour,serial\n");
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path, NULL), 1);
	assert_non_null(strstr(r.err, "unknown column 'colour'"));
	proc_result_free(&r);
	/* no such file, an empty file */
	assert_int_equal(cli_run(&r, NULL, "devices", "import",
	                         "/nonexistent.csv", NULL),
	                 1);
	proc_result_free(&r);
	path = csv("empty.csv", "IMEI,IMEI 2,serial,model\n\n");
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path, NULL), 1);
	assert_non_null(strstr(r.err, "no rows"));
	proc_result_free(&r);
}

static void test_good_file(void **state)
{
	char a[16], b[16], b2[16], c[16], text[1024];
	const char *path;
	struct proc_result r;
	size_t before;
	json_t *j, *reg;

	(void)state;
	next_imei(a);
	next_imei(b);
	next_imei(b2);
	next_imei(c);
	/* a header with the columns in another order, CRLF, a BOM */
	snprintf(text, sizeof(text),
	         "\xef\xbb\xbfSerial,Model,IMEI,IMEI 2\r\n"
	         "SN-A,Spark 10,%s,\r\n"
	         "SN-B,\"Hot 30, blue\",%s,%s\r\n"
	         "SN-C,,%s,\r\n",
	         a, b, b2, c);
	path = csv("good.csv", text);
	cli_env(srv_url(S), KEY_A);
	before = devices_of(KEY_A);

	/* a dry run checks everything and registers nothing */
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "import", path, "--dry-run", NULL),
	        0);
	assert_non_null(strstr(r.out, a));
	assert_non_null(strstr(r.out, "SN-B"));
	assert_non_null(strstr(r.err, "dry run: 3 devices would be "
	                              "registered"));
	proc_result_free(&r);
	assert_int_equal(devices_of(KEY_A), before);
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path,
	                         "--dry-run", "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_true(json_is_true(json_object_get(j, "dry_run")));
	assert_int_equal(json_array_size(json_object_get(j, "would_register")),
	                 3);
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(devices_of(KEY_A), before);

	/* the import itself */
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "import", path, "--json", NULL),
	        0);
	j = cli_json(&r);
	reg = json_object_get(j, "registered");
	assert_int_equal(json_array_size(reg), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *ans = json_object_get(json_array_get(reg, i), "answer");

		assert_true(strlen(json_string_value(json_object_get(
		                    ans, "enrollment_code"))) > 0);
		assert_int_equal(json_integer_value(json_object_get(
		                         json_array_get(reg, i), "line")),
		                 (json_int_t)i + 2);
	}
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_object_get(json_object_get(json_array_get(reg, 1),
	                                                "answer"),
	                                "device"),
	                "imei2")),
	        b2);
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_object_get(json_object_get(json_array_get(reg, 1),
	                                                "answer"),
	                                "device"),
	                "model")),
	        "Hot 30, blue");
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(devices_of(KEY_A), before + 3);

	/* the same file again: every row is now a bad row */
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path, NULL), 1);
	assert_true(names_line(r.err, path, 2));
	assert_true(names_line(r.err, path, 3));
	assert_true(names_line(r.err, path, 4));
	proc_result_free(&r);
	/* unless skipping what is already registered */
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path,
	                         "--skip-registered", NULL),
	                 0);
	assert_non_null(strstr(r.err, "skipped"));
	assert_non_null(strstr(r.err, "registered 0 devices"));
	proc_result_free(&r);
	assert_int_equal(devices_of(KEY_A), before + 3);

	/* human output: one line per device with its code */
	{
		char d[16];

		next_imei(d);
		snprintf(text, sizeof(text), "%s,,SN-D,Spark\n", d);
		path = csv("one.csv", text);
		assert_int_equal(
		        cli_run(&r, NULL, "devices", "import", path, NULL), 0);
		assert_non_null(strstr(r.out, "LINE"));
		assert_non_null(strstr(r.out, d));
		assert_non_null(strstr(r.out, "dv_"));
		proc_result_free(&r);
	}
}

/* The request that registers a row is JSON, so a field must be UTF-8: a
 * file saved as Latin-1 is refused whole, before anything is registered,
 * every such row named (not registered without its model, or stopped
 * half-way as out of memory); a bad row whose message quotes non-UTF-8
 * bytes is still listed for scripts. UTF-8 text is registered as written.
 * (Found by fuzz/fuzz_csv.) */
static void test_not_utf8(void **state)
{
	char a[16], b[16], c[16], d[16], text[1024];
	const char *path;
	struct proc_result r;
	size_t before;
	json_t *j, *errs;
	bool seen[5] = {false};

	(void)state;
	next_imei(a);
	next_imei(b);
	next_imei(c);
	next_imei(d);
	snprintf(text, sizeof(text),
	         "%s,,SN-\xc3\x89"
	         "1,Caf\xc3\xa9 \xce\xa9\n" /* 1 UTF-8 */
	         "%s,,SN-2,Caf\xe9\n"       /* 2 Latin-1 model */
	         "%s,,SN-\xc9"
	         "3,Spark\n" /* 3 Latin-1 serial */
	         "352099001\xb1"
	         "61481,,SN-4,Spark\n", /* 4 IMEI, not UTF-8 */
	         a, b, c);
	path = csv("latin1.csv", text);
	cli_env(srv_url(S), KEY_A);
	before = devices_of(KEY_A);
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path, NULL), 1);
	assert_false(names_line(r.err, path, 1));
	assert_true(names_line(r.err, path, 2));
	assert_non_null(strstr(r.err, "the model is not UTF-8 text"));
	assert_true(names_line(r.err, path, 3));
	assert_non_null(strstr(r.err, "the serial is not UTF-8 text"));
	assert_true(names_line(r.err, path, 4));
	assert_true(cli_last_line(r.err, "finlock: 3 bad rows in "));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "import", path, "--json", NULL),
	        1);
	j = cli_json(&r);
	errs = json_object_get(j, "errors");
	assert_int_equal(json_array_size(errs), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *e = json_array_get(errs, i);
		json_int_t line =
		        json_integer_value(json_object_get(e, "line"));

		assert_true(line >= 2 && line <= 4);
		assert_non_null(
		        json_string_value(json_object_get(e, "message")));
		seen[line] = true;
	}
	assert_true(seen[2] && seen[3] && seen[4]);
	assert_non_null(strstr(json_string_value(json_object_get(
	                               json_array_get(errs, 2), "message")),
	                       "352099001?61481"));
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(devices_of(KEY_A), before);

	/* the UTF-8 row on its own registers, its text as written */
	snprintf(text, sizeof(text),
	         "%s,,SN-\xc3\x89"
	         "1,Caf\xc3\xa9 \xce\xa9\n",
	         d);
	path = csv("utf8.csv", text);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "import", path, "--json", NULL),
	        0);
	j = cli_json(&r);
	{
		json_t *dev = json_object_get(
		        json_object_get(
		                json_array_get(json_object_get(j, "registered"),
		                               0),
		                "answer"),
		        "device");

		assert_string_equal(
		        json_string_value(json_object_get(dev, "model")),
		        "Caf\xc3\xa9 \xce\xa9");
		assert_string_equal(
		        json_string_value(json_object_get(dev, "serial")),
		        "SN-\xc3\x89"
		        "1");
	}
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(devices_of(KEY_A), before + 1);
}

/* An import that continues where a refused one stopped. */
static void test_skip_registered(void **state)
{
	char a[16], b[16], text[512];
	const char *path;
	struct proc_result r;
	size_t before;

	(void)state;
	next_imei(a);
	next_imei(b);
	register_one(KEY_A, a, "SN-K1");
	snprintf(text, sizeof(text), "%s,,SN-K1,\n%s,,SN-K2,\n", a, b);
	path = csv("resume.csv", text);
	cli_env(srv_url(S), KEY_A);
	before = devices_of(KEY_A);
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path,
	                         "--skip-registered", NULL),
	                 0);
	assert_true(names_line(r.err, path, 1));
	assert_non_null(strstr(r.err, "skipped"));
	assert_non_null(strstr(r.out, b));
	proc_result_free(&r);
	assert_int_equal(devices_of(KEY_A), before + 1);
	/* a row whose serial differs is not the same phone: still bad */
	snprintf(text, sizeof(text), "%s,,SN-OTHER,\n", a);
	path = csv("resume2.csv", text);
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path,
	                         "--skip-registered", NULL),
	                 1);
	assert_non_null(strstr(r.err, "already registered as your device"));
	proc_result_free(&r);
}

/* Without the public check, a row in another lender's program is only
 * refused while registering: the import stops there, and continues with
 * --skip-registered once the row is fixed. */
static void test_refused_midway(void **state)
{
	char a[16], theirs[16], c[16], text[512];
	const char *path;
	struct proc_result r;
	size_t before;
	json_t *j;

	(void)state;
	next_imei(a);
	next_imei(theirs);
	next_imei(c);
	register_one(KEY_B, theirs, "SN-B");
	snprintf(text, sizeof(text), "%s,,SN-M1,\n%s,,SN-M2,\n%s,,SN-M3,\n", a,
	         theirs, c);
	path = csv("midway.csv", text);
	cli_env(srv_url(S), KEY_A);
	before = devices_of(KEY_A);
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path,
	                         "--no-public-check", "--json", NULL),
	                 1);
	j = cli_json(&r);
	assert_int_equal(json_array_size(json_object_get(j, "registered")), 1);
	assert_int_equal(json_integer_value(json_object_get(
	                         json_object_get(j, "failed"), "line")),
	                 2);
	json_decref(j);
	assert_non_null(strstr(r.err, "409 conflict"));
	assert_true(names_line(r.err, path, 2));
	assert_non_null(strstr(r.err, "registered 1 of 3 rows"));
	proc_result_free(&r);
	assert_int_equal(devices_of(KEY_A), before + 1);
	/* the fixed file continues where it stopped */
	snprintf(text, sizeof(text), "%s,,SN-M1,\n%s,,SN-M3,\n", a, c);
	path = csv("midway.csv", text);
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path,
	                         "--skip-registered", NULL),
	                 0);
	assert_non_null(strstr(r.err, "skipped"));
	assert_non_null(strstr(r.err, "registered 1 device\n"));
	proc_result_free(&r);
	assert_int_equal(devices_of(KEY_A), before + 2);
}

/* The public check's rate limit is waited for, not failed on. */
static void test_rate_limited(void **state)
{
	static const char *const args[] = {"--public-burst", "1",
	                                   "--public-rate", "2", NULL};
	const struct srv_opts o = {.args = args};
	char tid[64], key[64], text[512], a[16], b[16], c[16];
	struct proc_result r;
	const char *path;
	struct srv *t;

	(void)state;
	assert_int_equal(srv_start(&t, &o), 0);
	assert_int_equal(srv_tenant(t, "Slow", tid, key), 0);
	next_imei(a);
	next_imei(b);
	next_imei(c);
	snprintf(text, sizeof(text), "%s,,S1,\n%s,,S2,\n%s,,S3,\n", a, b, c);
	path = csv("slow.csv", text);
	cli_env(srv_url(t), key);
	assert_int_equal(cli_run(&r, NULL, "devices", "import", path, NULL), 0);
	assert_non_null(strstr(r.err, "limits IMEI checks"));
	assert_non_null(strstr(r.err, "registered 3 devices"));
	proc_result_free(&r);
	srv_free(t);
}

/* --- public IMEI check ---------------------------------------------------- */

/* The server's root public key, read from its data directory as the
 * operator would (never from the certificate). */
static void server_root(char out[FL_PASERK_PUBLIC_SIZE])
{
	char path[600], line[256];
	struct fl_signer root;
	FILE *f;

	snprintf(path, sizeof(path), "%s/dev-root.k4secret", srv_data_dir(S));
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	assert_int_equal(fl_signer_from_paserk(&root, line), FL_OK);
	assert_int_equal(fl_paserk_public_encode(out, root.pk), FL_OK);
	fl_signer_wipe(&root);
	fl_wipe(line, sizeof(line));
}

static void test_imei_public(void **state)
{
	char imei[16], fresh[16], root[FL_PASERK_PUBLIC_SIZE], cert[300];
	struct proc_result r;
	json_t *j;

	(void)state;
	next_imei(imei);
	next_imei(fresh);
	register_one(KEY_A, imei, "SN-PUB");
	cli_env(NULL, NULL); /* nothing configured: the buyer's machine */

	/* offline validation first: a bad IMEI never reaches the server */
	assert_int_equal(cli_run(&r, NULL, "imei", "check", "352099001761482",
	                         "--server", "http://127.0.0.1:1", NULL),
	                 1);
	assert_non_null(strstr(r.err, "check digit"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "imei", "check", imei, "--server",
	                         srv_url(S), NULL),
	                 0);
	assert_non_null(strstr(r.out, "valid"));
	assert_non_null(strstr(r.out, "status: financed"));
	assert_null(strstr(r.out, "Acme"));
	proc_result_free(&r);
	/* with the serial, the lender */
	assert_int_equal(cli_run(&r, NULL, "imei", "check", imei, "--server",
	                         srv_url(S), "--serial", "SN-PUB", NULL),
	                 0);
	assert_non_null(strstr(r.out, "lender: Acme Credit"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "imei", "check", fresh, "--server",
	                         srv_url(S), "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "status")),
	                    "no_record");
	json_decref(j);
	proc_result_free(&r);
	/* the check is public but --serial alone is a usage error */
	assert_int_equal(
	        cli_run(&r, NULL, "imei", "check", imei, "--serial", "X", NULL),
	        2);
	proc_result_free(&r);

	/* a certificate, verified offline against the server's root */
	assert_int_equal(cli_run(&r, NULL, "imei", "certificate", imei,
	                         "--server", srv_url(S), NULL),
	                 0);
	snprintf(cert, sizeof(cert), "%s/cert.json", DIR_);
	cli_write_file(cert, r.out, 0600);
	proc_result_free(&r);
	server_root(root);
	assert_int_equal(cli_run(&r, NULL, "imei", "verify-cert", cert,
	                         "--root", root, "--imei", imei, NULL),
	                 0);
	assert_non_null(strstr(r.out, "valid certificate"));
	assert_non_null(strstr(r.out, "status: financed"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "imei", "verify-cert", "-", "--root",
	                         root, "--json", NULL),
	                 1); /* nothing on stdin */
	proc_result_free(&r);
	/* another root: refused */
	{
		struct fl_signer other;
		char opub[FL_PASERK_PUBLIC_SIZE];

		assert_int_equal(fl_signer_generate(&other), FL_OK);
		assert_int_equal(fl_paserk_public_encode(opub, other.pk),
		                 FL_OK);
		fl_signer_wipe(&other);
		assert_int_equal(cli_run(&r, NULL, "imei", "verify-cert", cert,
		                         "--root", opub, NULL),
		                 1);
		assert_true(
		        cli_one_line(r.err, "finlock: invalid certificate"));
		proc_result_free(&r);
	}
	/* another IMEI: refused */
	assert_int_equal(cli_run(&r, NULL, "imei", "verify-cert", cert,
	                         "--root", root, "--imei", fresh, NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: invalid certificate: it is "
	                                "about IMEI"));
	proc_result_free(&r);
	/* a tampered certificate: refused */
	{
		char *text = NULL, *p;
		size_t n;
		FILE *f = fopen(cert, "r");

		assert_non_null(f);
		text = calloc(1, 65536);
		assert_non_null(text);
		n = fread(text, 1, 65535, f);
		fclose(f);
		text[n] = '\0';
		p = strstr(text, "v4.public.");
		assert_non_null(p);
		p[30] = p[30] == 'A' ? 'B' : 'A';
		cli_write_file(cert, text, 0600);
		free(text);
		assert_int_equal(cli_run(&r, NULL, "imei", "verify-cert", cert,
		                         "--root", root, NULL),
		                 1);
		assert_true(
		        cli_one_line(r.err, "finlock: invalid certificate"));
		proc_result_free(&r);
	}
	/* the stdin form */
	assert_int_equal(cli_run(&r, NULL, "imei", "certificate", fresh,
	                         "--server", srv_url(S), NULL),
	                 0);
	{
		struct proc_result v;
		char *doc = strdup(r.out);

		proc_result_free(&r);
		assert_int_equal(cli_run(&v, doc, "imei", "verify-cert", "-",
		                         "--root", root, "--json", NULL),
		                 0);
		j = cli_json(&v);
		assert_string_equal(
		        json_string_value(json_object_get(j, "status")),
		        "no_record");
		assert_string_equal(
		        json_string_value(json_object_get(j, "imei")), fresh);
		json_decref(j);
		proc_result_free(&v);
		free(doc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bad_rows),
	        cmocka_unit_test(test_good_file),
	        cmocka_unit_test(test_not_utf8),
	        cmocka_unit_test(test_skip_registered),
	        cmocka_unit_test(test_refused_midway),
	        cmocka_unit_test(test_rate_limited),
	        cmocka_unit_test(test_imei_public),
	};
	return cmocka_run_group_tests_name("cli_import", tests, setup,
	                                   teardown);
}
