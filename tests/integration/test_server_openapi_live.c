/*
 * docs/openapi.yaml against a running finlockd: every route of the router
 * is called with every role's key and with none, with an unknown query
 * parameter, with a malformed body and with ids that do not exist, and
 * every answer's status must be one the document lists for that
 * operation. A path with an empty segment ("/v1/devices//contract") is a
 * 404 and never reaches another route.
 *
 * Every JSON answer seen (those calls, and the successful ones that set up
 * the world) must also fit the schema the document gives for its status:
 * each field listed as `required` present, and each field the schema
 * describes of its `type` (object, array with its `items`, string,
 * integer, number, boolean; null only where `nullable`), through $ref,
 * allOf and oneOf. And the document itself gives every JSON answer a
 * schema whose objects list their `required` fields and whose arrays type
 * their items.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <yaml.h>

#include "core/crypto.h"
#include "server/router.h"
#include "support/devapi_phone.h"
#include "support/server_harness.h"

#define MAX_OPS    128
#define MAX_STATUS 24

struct op {
	char method[8];
	char path[160];
	int status[MAX_STATUS];
	int n;
};

static struct op ops[MAX_OPS];
static int n_ops;

/* The whole document as JSON (libyaml's tree, aliases resolved; every
 * scalar a string but true and false). */
static json_t *DOC;

static json_t *yaml_node_json(yaml_document_t *d, yaml_node_t *n, int depth)
{
	json_t *out = NULL;

	assert_true(depth < 64);
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *v = (const char *)n->data.scalar.value;
		bool plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

		if (plain && strcmp(v, "true") == 0)
			out = json_true();
		else if (plain && strcmp(v, "false") == 0)
			out = json_false();
		else
			out = json_stringn(v, n->data.scalar.length);
		break;
	}
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++)
			json_array_append_new(
			        out,
			        yaml_node_json(d, yaml_document_get_node(d, *i),
			                       depth + 1));
		break;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(d, p->key);

			assert_int_equal(k->type, YAML_SCALAR_NODE);
			json_object_set_new(
			        out, (const char *)k->data.scalar.value,
			        yaml_node_json(
			                d, yaml_document_get_node(d, p->value),
			                depth + 1));
		}
		break;
	default:
		fail_msg("docs/openapi.yaml: an empty YAML node");
	}
	assert_non_null(out);
	return out;
}

static void load_doc_tree(void)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *f = fopen("docs/openapi.yaml", "rb");

	assert_non_null(f);
	assert_true(yaml_parser_initialize(&parser));
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc))
		fail_msg("docs/openapi.yaml: line %zu: %s",
		         parser.problem_mark.line + 1, parser.problem);
	assert_non_null(yaml_document_get_root_node(&doc));
	DOC = yaml_node_json(&doc, yaml_document_get_root_node(&doc), 0);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
}

/* What a "$ref" ("#/components/schemas/Device") points at, or the node
 * itself when it is not one. A reference that leads nowhere fails. */
static const json_t *deref(const json_t *n)
{
	for (int hops = 0; hops < 16; hops++) {
		const char *ref = json_string_value(json_object_get(n, "$ref"));
		char part[128];

		if (ref == NULL)
			return n;
		if (strncmp(ref, "#/", 2) != 0)
			fail_msg("docs/openapi.yaml: $ref '%s' is not local",
			         ref);
		n = DOC;
		for (const char *p = ref + 2; n != NULL && *p != '\0';) {
			size_t k = strcspn(p, "/");

			snprintf(part, sizeof(part), "%.*s", (int)k, p);
			n = json_object_get(n, part);
			p += k + (p[k] == '/');
		}
		if (n == NULL)
			fail_msg("docs/openapi.yaml: $ref '%s' leads nowhere",
			         ref);
	}
	fail_msg("docs/openapi.yaml: a $ref loop");
	return NULL;
}

/* The schema of an operation's JSON answer for a status (or its
 * "default"), NULL when the document gives none. */
static const json_t *answer_schema(const char *method, const char *pattern,
                                   long status)
{
	char m[8], st[8];
	const json_t *op, *resp;

	for (size_t i = 0; i < sizeof(m) - 1 && method[i] != '\0'; i++) {
		m[i] = (char)(method[i] - 'A' + 'a');
		m[i + 1] = '\0';
	}
	snprintf(st, sizeof(st), "%ld", status);
	op = json_object_get(
	        json_object_get(json_object_get(DOC, "paths"), pattern), m);
	resp = json_object_get(json_object_get(op, "responses"), st);
	if (resp == NULL)
		return NULL;
	resp = deref(resp);
	return json_object_get(json_object_get(json_object_get(resp, "content"),
	                                       "application/json"),
	                       "schema");
}

static const char *jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

/* Whether value fits schema; the first misfit is described in why (at
 * where, a JSON path like "$.items[0].state"). */
static bool fits(const json_t *schema, const json_t *value, const char *where,
                 char *why, size_t cap)
{
	const json_t *all, *one, *props;
	const char *type;
	char sub[512];

	schema = deref(schema);
	if ((all = json_object_get(schema, "allOf")) != NULL) {
		size_t i;
		const json_t *s;

		json_array_foreach(all, i, s) if (!fits(s, value, where, why,
		                                        cap)) return false;
	}
	if ((one = json_object_get(schema, "oneOf")) != NULL) {
		size_t i, n = 0;
		const json_t *s;
		char first[512] = "";

		json_array_foreach(one, i, s)
		{
			if (fits(s, value, where, why, cap))
				n++;
			else if (first[0] == '\0')
				snprintf(first, sizeof(first), "%s", why);
		}
		if (n != 1) {
			snprintf(why, cap,
			         "%s: fits %zu of the oneOf schemas%s%s", where,
			         n, n == 0 ? "; the first: " : "", first);
			return false;
		}
	}
	if (json_is_null(value)) {
		if (json_is_true(json_object_get(schema, "nullable")) ||
		    json_object_get(schema, "type") == NULL)
			return true;
		snprintf(why, cap,
		         "%s: null, and the document does not say "
		         "nullable",
		         where);
		return false;
	}
	type = json_string_value(json_object_get(schema, "type"));
	if (type == NULL)
		return true; /* any value (allOf/oneOf checked above) */
	if (strcmp(type, jtype(value)) != 0 &&
	    !(strcmp(type, "number") == 0 && json_is_integer(value))) {
		snprintf(why, cap, "%s: a JSON %s where the document says %s",
		         where, jtype(value), type);
		return false;
	}
	if (strcmp(type, "object") == 0) {
		const json_t *req = json_object_get(schema, "required"), *r, *v;
		const json_t *extra =
		        json_object_get(schema, "additionalProperties");
		const char *k;
		size_t i;

		props = json_object_get(schema, "properties");
		json_array_foreach(req, i, r)
		{
			if (json_object_get(value, json_string_value(r)) ==
			    NULL) {
				snprintf(why, cap,
				         "%s: the required field '%s' is "
				         "missing",
				         where, json_string_value(r));
				return false;
			}
		}
		json_object_foreach((json_t *)value, k, v)
		{
			const json_t *ps = json_object_get(props, k);

			snprintf(sub, sizeof(sub), "%s.%s", where, k);
			if (ps == NULL && json_is_object(extra))
				ps = extra;
			if (ps != NULL && !fits(ps, v, sub, why, cap))
				return false;
		}
	} else if (strcmp(type, "array") == 0) {
		const json_t *items = json_object_get(schema, "items"), *v;
		size_t i;

		json_array_foreach(value, i, v)
		{
			snprintf(sub, sizeof(sub), "%s[%zu]", where, i);
			if (!fits(items, v, sub, why, cap))
				return false;
		}
	}
	return true;
}

static int misfits; /* answers that did not fit their schema */

/* A JSON answer against the document's schema for its status. */
static void check_answer(const char *method, const char *pattern,
                         const char *path, const struct srv_res *r)
{
	const json_t *schema;
	char why[1024];

	if (r->json == NULL)
		return;
	schema = answer_schema(method, pattern, r->status);
	if (schema == NULL) {
		fprintf(stderr,
		        "%s %s: %ld answered JSON, docs/openapi.yaml "
		        "gives no JSON schema for it\n",
		        method, path, r->status);
		misfits++;
		return;
	}
	if (!fits(schema, r->json, "$", why, sizeof(why))) {
		fprintf(stderr,
		        "%s %s: the %ld answer does not fit docs/openapi.yaml "
		        "(%s %s): %s\n  answer: %.600s\n",
		        method, path, r->status, method, pattern, why, r->body);
		misfits++;
	}
}

/* Reads every operation's response statuses from the document's block
 * layout: "  /path:", "    get:", "      responses:", '        "200":'. */
static void read_doc(void)
{
	char line[1024], path[160] = "";
	struct op *cur = NULL;
	bool in_resp = false;
	FILE *f = fopen("docs/openapi.yaml", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t ind = strspn(line, " ");

		line[strcspn(line, "\r\n")] = '\0';
		if (ind == 0 && strcmp(line, "paths:") != 0 && n_ops > 0)
			break;
		if (ind == 2 && line[2] == '/') {
			cur = NULL;
			snprintf(path, sizeof(path), "%.*s",
			         (int)(strlen(line + 2) - 1), line + 2);
			continue;
		}
		if (ind == 4 && line[strlen(line) - 1] == ':' &&
		    strchr(line + 4, ' ') == NULL) {
			assert_true(n_ops < MAX_OPS - 1);
			cur = &ops[n_ops];
			snprintf(cur->method, sizeof(cur->method), "%.*s",
			         (int)(strlen(line + 4) - 1), line + 4);
			snprintf(cur->path, sizeof(cur->path), "%s", path);
			for (char *p = cur->method; *p != '\0'; p++)
				*p = (char)(*p - 'a' + 'A');
			n_ops++;
			in_resp = false;
			continue;
		}
		if (cur == NULL)
			continue;
		if (ind == 6)
			in_resp = strcmp(line + 6, "responses:") == 0;
		else if (in_resp && ind == 8 && line[8] == '"') {
			assert_true(cur->n < MAX_STATUS);
			cur->status[cur->n++] = atoi(line + 9);
		}
	}
	fclose(f);
	assert_true(n_ops > 40);
}

static const struct op *find_op(const char *method, const char *pattern)
{
	for (int i = 0; i < n_ops; i++)
		if (strcmp(ops[i].method, method) == 0 &&
		    strcmp(ops[i].path, pattern) == 0)
			return &ops[i];
	return NULL;
}

/* --- the world the routes are called in --------------------------------- */

static struct srv *S;
static char TENANT[64], ADMIN[64], CLERK[64], SUPPORT[64], AUDITOR[64];
static char DEVICE[64], PAYMENT[64], SPARE_KEY[64], SPARE_ADMIN[64],
        SPARE_OP[64];
static const char IMEI[] = "352099001761481";
static int failures;

static void json_id(const struct srv_res *r, const char *obj, char out[64])
{
	json_t *o = obj != NULL ? json_object_get(r->json, obj) : r->json;
	const char *id = json_string_value(json_object_get(o, "id"));

	assert_non_null(id);
	snprintf(out, 64, "%s", id);
}

static int setup(void **state)
{
	struct srv_res r;
	char path[160], key[64];

	(void)state;
	if (fl_crypto_init() != FL_OK || srv_start(&S, NULL) != 0 ||
	    srv_tenant(S, "Acme Credit", TENANT, ADMIN) != 0 ||
	    srv_key(S, ADMIN, "clerk", CLERK) != 0 ||
	    srv_key(S, ADMIN, "support", SUPPORT) != 0 ||
	    srv_key(S, ADMIN, "auditor", AUDITOR) != 0)
		return -1;
	read_doc();
	load_doc_tree();
	assert_int_equal(srv_req(S, "POST", "/v1/devices", ADMIN,
	                         "{\"imei\":\"352099001761481\",\"serial\":"
	                         "\"SN1\"}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 201);
	json_id(&r, "device", DEVICE);
	check_answer("POST", "/v1/devices", "/v1/devices", &r);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", DEVICE);
	assert_int_equal(srv_req(S, "POST", path, ADMIN,
	                         "{\"currency\":\"KES\",\"schedule\":[{\"due\":"
	                         "\"2099-01-01\",\"amount\":1000}]}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 201);
	check_answer("POST", "/v1/devices/{device_id}/contract", path, &r);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/payments", DEVICE);
	assert_int_equal(
	        srv_req(S, "POST", path, ADMIN, "{\"amount\":100}", &r), 0);
	assert_int_equal(r.status, 201);
	json_id(&r, "payment", PAYMENT);
	check_answer("POST", "/v1/devices/{device_id}/payments", path, &r);
	srv_res_free(&r);
	/* keys the revoke routes may revoke */
	assert_int_equal(srv_req(S, "POST", "/v1/keys", ADMIN,
	                         "{\"role\":\"clerk\"}", &r),
	                 0);
	json_id(&r, NULL, SPARE_KEY);
	check_answer("POST", "/v1/keys", "/v1/keys", &r);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/tenants/%s/keys", TENANT);
	assert_int_equal(
	        srv_req(S, "POST", path, srv_operator_key(S), "{}", &r), 0);
	json_id(&r, NULL, SPARE_ADMIN);
	check_answer("POST", "/v1/tenants/{tenant_id}/keys", path, &r);
	srv_res_free(&r);
	assert_int_equal(srv_req(S, "POST", "/v1/operator/keys",
	                         srv_operator_key(S), "{}", &r),
	                 0);
	json_id(&r, NULL, SPARE_OP);
	check_answer("POST", "/v1/operator/keys", "/v1/operator/keys", &r);
	srv_res_free(&r);
	(void)key;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	json_decref(DOC);
	return 0;
}

/* The value of a placeholder, real or (missing) one that does not exist;
 * "" for an empty segment. */
static const char *param(const char *pattern, const char *name, int how)
{
	if (how == 2)
		return "";
	if (strcmp(name, "imei") == 0)
		return how == 0 ? IMEI : "490154203237518";
	if (strcmp(name, "file") == 0)
		return how == 0 ? "console.js" : "xx_AAAAAAAAAAAAAAAAAAAAAA";
	if (how == 1)
		return strcmp(name, "device_id") == 0
		               ? "dv_AAAAAAAAAAAAAAAAAAAAAA"
		               : "xx_AAAAAAAAAAAAAAAAAAAAAA";
	if (strcmp(name, "device_id") == 0)
		return DEVICE;
	if (strcmp(name, "tenant_id") == 0)
		return TENANT;
	if (strcmp(name, "payment_id") == 0)
		return PAYMENT;
	if (strcmp(name, "source_id") == 0)
		return "ps_AAAAAAAAAAAAAAAAAAAAAA"; /* none: callbacks 404 */
	if (strcmp(name, "secret") == 0)
		return "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	if (strcmp(name, "hold_id") == 0)
		return "lh_AAAAAAAAAAAAAAAAAAAAAA";
	if (strcmp(name, "unmatched_id") == 0)
		return "um_AAAAAAAAAAAAAAAAAAAAAA";
	if (strcmp(name, "command_id") == 0)
		return "cm_AAAAAAAAAAAAAAAAAAAAAA"; /* none pending here */
	if (strcmp(name, "key_id") == 0) {
		if (strncmp(pattern, "/v1/tenants/", 12) == 0)
			return SPARE_ADMIN;
		if (strncmp(pattern, "/v1/operator/", 13) == 0)
			return SPARE_OP;
		return SPARE_KEY;
	}
	/* webhook endpoints and deliveries: none exists in this run, so
	 * these routes answer 404 (tests/integration/test_webhooks.c calls
	 * them with real ones) */
	if (strcmp(name, "webhook_id") == 0)
		return "we_AAAAAAAAAAAAAAAAAAAAAA";
	if (strcmp(name, "delivery_id") == 0)
		return "1";
	fail_msg("no value for {%s} in %s", name, pattern);
	return "";
}

/* pattern with its placeholders filled (how: 0 real, 1 missing, 2 empty),
 * then query. */
static void fill(char *out, size_t cap, const char *pattern, int how,
                 const char *query)
{
	size_t n = 0;

	for (const char *p = pattern; *p != '\0' && n + 1 < cap;) {
		if (*p == '{') {
			char name[64];
			size_t k = strcspn(p + 1, "}");

			snprintf(name, sizeof(name), "%.*s", (int)k, p + 1);
			n += (size_t)snprintf(out + n, cap - n, "%s",
			                      param(pattern, name, how));
			p += k + 2;
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	if (query != NULL)
		snprintf(out + n, cap - n, "%s", query);
}

static void check(const struct fl_route *rt, const char *key, const char *who,
                  int how, const char *query, const char *body)
{
	const char *const hdrs[] = {"Content-Type: application/json", NULL};
	const struct op *op = find_op(rt->method, rt->pattern);
	char path[512];
	struct srv_res r;
	bool listed = false;

	fill(path, sizeof(path), rt->pattern, how, query);
	assert_non_null(op);
	assert_int_equal(srv_reqx(S, rt->method, path, key, hdrs, body,
	                          body != NULL ? strlen(body) : 0, &r),
	                 0);
	for (int i = 0; i < op->n; i++)
		listed = listed || op->status[i] == r.status;
	if (!listed) {
		fprintf(stderr,
		        "%s %s (as %s, %s): %ld is not in docs/openapi.yaml "
		        "for %s %s: %s\n",
		        rt->method, path, who, body != NULL ? body : "no body",
		        r.status, rt->method, rt->pattern,
		        r.body != NULL ? r.body : "");
		failures++;
	} else {
		check_answer(rt->method, rt->pattern, path, &r);
	}
	srv_res_free(&r);
}

static void call_route(void *ctx, const struct fl_route *rt)
{
	const char *const who[] = {"nobody", "operator", "admin",
	                           "clerk",  "support",  "auditor"};
	const char *keys[] = {
	        NULL, srv_operator_key(S), ADMIN, CLERK, SUPPORT, AUDITOR};
	bool post = strcmp(rt->method, "POST") == 0;
	const char *body = post ? "{}" : NULL;

	(void)ctx;
	/* the long-polls with a seq would be held: never given one */
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		check(rt, keys[k], who[k], 0, NULL, body);
		check(rt, keys[k], who[k], 0, "?zz=1", body);
		if (post) {
			check(rt, keys[k], who[k], 0, NULL, "{");
			check(rt, keys[k], who[k], 0, NULL, "{\"zz\":1}");
		}
		if (strchr(rt->pattern, '{') != NULL)
			check(rt, keys[k], who[k], 1, NULL, body);
	}
}

static void test_every_status_is_documented(void **state)
{
	(void)state;
	failures = 0;
	/* misfits: the set-up's answers too */
	fl_router_each(call_route, NULL);
	assert_int_equal(failures, 0);
	assert_int_equal(misfits, 0);
}

/* --- answers of calls that succeed ---------------------------------------- */

/* method path (pattern's placeholders filled by the caller) with key and
 * body must succeed (2xx, a status the document lists) with an answer
 * that fits the document; the answer is returned (caller frees). */
static void ok_call(const char *method, const char *pattern, const char *path,
                    const char *key, const char *body, struct srv_res *r)
{
	const struct op *op = find_op(method, pattern);
	bool listed = false;

	assert_non_null(op);
	assert_int_equal(srv_req(S, method, path, key, body, r), 0);
	for (int i = 0; i < op->n; i++)
		listed = listed || op->status[i] == r->status;
	if (r->status < 200 || r->status > 299 || !listed) {
		fprintf(stderr, "%s %s %s: %ld %s\n", method, path,
		        body != NULL ? body : "", r->status,
		        r->body != NULL ? r->body : "");
		fail_msg("%s %s did not succeed with a documented status",
		         method, pattern);
	}
	check_answer(method, pattern, path, r);
}

/* The lender's day on a second phone: the answers successes give, each
 * checked against its schema. (Offline codes need an enrolled phone: the
 * README's guide asks for one through the CLI.) */
static void test_successful_answers_fit(void **state)
{
	const char *op_key = srv_operator_key(S);
	char dev[64], path[256], cmd[32], pay[64];
	struct srv_res r;
	json_t *pend;

	(void)state;
	misfits = 0;
	ok_call("POST", "/v1/devices", "/v1/devices", ADMIN,
	        "{\"imei\":\"490154203237518\",\"serial\":\"SN2\","
	        "\"model\":\"A05\"}",
	        &r);
	json_id(&r, "device", dev);
	srv_res_free(&r);
#define DEV_PATH(tail)                                                         \
	(snprintf(path, sizeof(path), "/v1/devices/%s%s", dev, tail), path)
	ok_call("POST", "/v1/devices/{device_id}/contract",
	        DEV_PATH("/contract"), ADMIN,
	        "{\"currency\":\"KES\",\"loan_ref\":\"L-2\",\"schedule\":["
	        "{\"due\":\"2099-01-01\",\"amount\":1000},"
	        "{\"due\":\"2099-02-01\",\"amount\":1000}]}",
	        &r);
	srv_res_free(&r);
	ok_call("POST", "/v1/devices/{device_id}/enrollment-code",
	        DEV_PATH("/enrollment-code"), CLERK, "{}", &r);
	srv_res_free(&r);
	ok_call("POST", "/v1/devices/{device_id}/lock", DEV_PATH("/lock"),
	        ADMIN, "{\"reason\":\"check\",\"at\":\"2098-01-01T00:00:00Z\"}",
	        &r);
	srv_res_free(&r);
	ok_call("GET", "/v1/devices/{device_id}", DEV_PATH(""), ADMIN, NULL,
	        &r);
	pend = json_object_get(r.json, "pending_commands");
	assert_true(json_array_size(pend) == 1);
	snprintf(cmd, sizeof(cmd), "%lld",
	         (long long)json_integer_value(
	                 json_object_get(json_array_get(pend, 0), "id")));
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/commands/%s/cancel", dev,
	         cmd);
	ok_call("POST", "/v1/devices/{device_id}/commands/{command_id}/cancel",
	        path, ADMIN, "{\"reason\":\"paid\"}", &r);
	srv_res_free(&r);
	ok_call("POST", "/v1/devices/{device_id}/unlock", DEV_PATH("/unlock"),
	        ADMIN, "{\"until\":\"2098-01-01T00:00:00Z\",\"reason\":\"r\"}",
	        &r);
	srv_res_free(&r);
	ok_call("POST", "/v1/devices/{device_id}/sync", DEV_PATH("/sync"),
	        SUPPORT, "{}", &r);
	srv_res_free(&r);
	ok_call("POST", "/v1/devices/{device_id}/payments",
	        DEV_PATH("/payments"), ADMIN,
	        "{\"amount\":500,\"reference\":\"MPESA-1\"}", &r);
	json_id(&r, "payment", pay);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/payments/%s/reverse", pay);
	ok_call("POST", "/v1/payments/{payment_id}/reverse", path, ADMIN,
	        "{\"reason\":\"bounced\"}", &r);
	srv_res_free(&r);
	ok_call("GET", "/v1/devices/{device_id}/payments",
	        DEV_PATH("/payments"), ADMIN, NULL, &r);
	srv_res_free(&r);
	ok_call("POST", "/v1/devices/{device_id}/stolen", DEV_PATH("/stolen"),
	        ADMIN, "{\"reason\":\"police report 1/26\"}", &r);
	srv_res_free(&r);
	ok_call("POST", "/v1/devices/{device_id}/stolen/clear",
	        DEV_PATH("/stolen/clear"), ADMIN, "{\"reason\":\"found\"}", &r);
	srv_res_free(&r);
	ok_call("POST", "/v1/devices/{device_id}/release", DEV_PATH("/release"),
	        ADMIN, "{\"reason\":\"paid in cash\"}", &r);
	srv_res_free(&r);
	ok_call("GET", "/v1/devices/{device_id}", DEV_PATH(""), ADMIN, NULL,
	        &r);
	srv_res_free(&r);
	ok_call("GET", "/v1/devices", "/v1/devices", ADMIN, NULL, &r);
	srv_res_free(&r);
	/* the public check's limit is per network: the calls above spent
	 * loopback's */
	srv_set_source(S, "127.0.9.1");
	ok_call("GET", "/v1/imei/{imei}", "/v1/imei/490154203237518", NULL,
	        NULL, &r);
	srv_res_free(&r);
	ok_call("GET", "/v1/imei/{imei}", "/v1/imei/490154203237518?serial=SN2",
	        NULL, NULL, &r);
	srv_res_free(&r);
	ok_call("GET", "/v1/imei/{imei}/certificate",
	        "/v1/imei/490154203237518/certificate", NULL, NULL, &r);
	srv_res_free(&r);
	srv_set_source(S, NULL);
	ok_call("POST", "/v1/audit/head", "/v1/audit/head", ADMIN, "{}", &r);
	srv_res_free(&r);
	ok_call("GET", "/v1/audit/head", "/v1/audit/head", AUDITOR, NULL, &r);
	srv_res_free(&r);
	ok_call("GET", "/v1/audit/verify", "/v1/audit/verify", AUDITOR, NULL,
	        &r);
	srv_res_free(&r);
	ok_call("GET", "/v1/audit", "/v1/audit", AUDITOR, NULL, &r);
	srv_res_free(&r);
	ok_call("POST", "/v1/operator/audit/head", "/v1/operator/audit/head",
	        op_key, "{}", &r);
	srv_res_free(&r);
	ok_call("GET", "/v1/reports/portfolio", "/v1/reports/portfolio", ADMIN,
	        NULL, &r);
	srv_res_free(&r);
	/* with the collections and the trends */
	ok_call("GET", "/v1/reports/portfolio",
	        "/v1/reports/portfolio?history=true", ADMIN, NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "trends")),
	                 12);
	srv_res_free(&r);
	ok_call("GET", "/v1/keys", "/v1/keys", ADMIN, NULL, &r);
	srv_res_free(&r);
	ok_call("GET", "/v1/whoami", "/v1/whoami", CLERK, NULL, &r);
	srv_res_free(&r);
#undef DEV_PATH
	assert_int_equal(misfits, 0);
}

/* The device protocol's answers, spoken by hand (devapi_raw): a lookup,
 * an enrollment, check-ins (one with a used counter), and the offline codes
 * an enrolled phone can be given. */
static void test_device_answers_fit(void **state)
{
	struct devapi_lender l;
	struct fl_dp_lookup_payload lp;
	struct fl_device_claims claims;
	struct devapi_raw ph;
	struct srv_res r;
	char imei[16], id[64], code[64], path[256];

	(void)state;
	misfits = 0;
	memset(&lp, 0, sizeof(lp));
	memset(&claims, 0, sizeof(claims));
	assert_int_equal(devapi_lender_setup(S, &l), 0);
	devapi_imei(777, imei);
	assert_int_equal(devapi_register(S, &l, imei, NULL, id, code), 0);
	assert_int_equal(devapi_contract(S, &l, id, "2099-01-01", 150000, 0,
	                                 "notify", "notify"),
	                 0);
	devapi_raw_new(&ph, imei, NULL);
	devapi_raw_factory(&ph);
	srv_set_source(S, "127.0.8.1");
	assert_int_equal(devapi_raw_lookup(S, &ph, false, l.root, &lp, &claims,
	                                   NULL, &r),
	                 200);
	check_answer("POST", "/v1/device/lookup", "/v1/device/lookup", &r);
	srv_res_free(&r);
	fl_dp_lookup_payload_clear(&lp);
	fl_claims_clear(&claims);
	assert_int_equal(devapi_raw_enroll(S, &ph, code, false, l.root, &r),
	                 200);
	check_answer("POST", "/v1/device/enroll", "/v1/device/enroll", &r);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(S, &ph, 1, &r), 200);
	check_answer("POST", "/v1/device/checkin", "/v1/device/checkin", &r);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(S, &ph, 1, &r), 409);
	check_answer("POST", "/v1/device/checkin", "/v1/device/checkin", &r);
	srv_res_free(&r);
	srv_set_source(S, NULL);
	snprintf(path, sizeof(path), "/v1/devices/%s/offline-code", id);
	ok_call("POST", "/v1/devices/{device_id}/offline-code", path, l.admin,
	        "{\"days\":3}", &r);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
	ok_call("POST", "/v1/devices/{device_id}/offline-code", path, l.admin,
	        "{\"days\":3}", &r);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s", id);
	ok_call("GET", "/v1/devices/{device_id}", path, l.admin, NULL, &r);
	srv_res_free(&r);

	/* reflashed: new keys under the same factory key, paired again */
	{
		struct devapi_raw q;
		char pairing[FL_DP_PAIRING_LEN + 1], body[96];

		devapi_raw_new(&q, imei, NULL);
		q.has_factory = true;
		memcpy(q.factory_pk, ph.factory_pk, sizeof(q.factory_pk));
		memcpy(q.factory_sk, ph.factory_sk, sizeof(q.factory_sk));
		srv_set_source(S, "127.0.8.1");
		assert_int_equal(
		        devapi_raw_enroll(S, &q, "", false, l.root, &r), 202);
		check_answer("POST", "/v1/device/enroll", "/v1/device/enroll",
		             &r);
		srv_res_free(&r);
		srv_set_source(S, NULL);
		snprintf(path, sizeof(path), "/v1/devices/%s/pairing-requests",
		         id);
		ok_call("GET", "/v1/devices/{device_id}/pairing-requests", path,
		        l.admin, NULL, &r);
		srv_res_free(&r);
		fl_dp_pairing_code(q.sign_pk, q.kx_pk, pairing);
		snprintf(body, sizeof(body), "{\"pairing_code\":\"%s\"}",
		         pairing);
		snprintf(path, sizeof(path), "/v1/devices/%s/approve-pairing",
		         id);
		ok_call("POST", "/v1/devices/{device_id}/approve-pairing", path,
		        l.admin, body, &r);
		srv_res_free(&r);
		srv_set_source(S, "127.0.8.1");
		assert_int_equal(
		        devapi_raw_enroll(S, &q, "", false, l.root, &r), 200);
		check_answer("POST", "/v1/device/enroll", "/v1/device/enroll",
		             &r);
		srv_res_free(&r);
		srv_set_source(S, NULL);
	}
	snprintf(path, sizeof(path), "/v1/devices/by-imei/%s", imei);
	ok_call("GET", "/v1/devices/by-imei/{imei}", path, l.admin, NULL, &r);
	srv_res_free(&r);
	assert_int_equal(misfits, 0);
}

/* --- the document's answer schemas -------------------------------------- */

static int lint_faults;

/* Every object with properties lists its required fields, every array
 * types its items, every schema has a type (or is made of others). */
static void lint(const json_t *schema, const char *where, int depth)
{
	const json_t *s = deref(schema), *v;
	const char *ref = json_string_value(json_object_get(schema, "$ref"));
	const char *type = json_string_value(json_object_get(s, "type"));
	const char *k;
	char sub[512];
	size_t i;

	if (depth > 12)
		return; /* a schema that contains itself: seen once is enough */
	if (ref != NULL)
		where = strrchr(ref, '/') + 1;
	json_array_foreach(json_object_get(s, "allOf"), i, v)
	{
		snprintf(sub, sizeof(sub), "%s.allOf[%zu]", where, i);
		lint(v, sub, depth + 1);
	}
	json_array_foreach(json_object_get(s, "oneOf"), i, v)
	{
		snprintf(sub, sizeof(sub), "%s.oneOf[%zu]", where, i);
		lint(v, sub, depth + 1);
	}
	if (type == NULL && json_object_get(s, "allOf") == NULL &&
	    json_object_get(s, "oneOf") == NULL) {
		fprintf(stderr, "docs/openapi.yaml: %s has no type\n", where);
		lint_faults++;
	}
	if (json_object_get(s, "properties") != NULL &&
	    !json_is_array(json_object_get(s, "required"))) {
		fprintf(stderr,
		        "docs/openapi.yaml: %s lists no required "
		        "fields\n",
		        where);
		lint_faults++;
	}
	json_array_foreach(json_object_get(s, "required"), i, v)
	{
		if (json_object_get(json_object_get(s, "properties"),
		                    json_string_value(v)) == NULL) {
			fprintf(stderr,
			        "docs/openapi.yaml: %s requires '%s', "
			        "which it does not describe\n",
			        where, json_string_value(v));
			lint_faults++;
		}
	}
	json_object_foreach(json_object_get(s, "properties"), k, v)
	{
		snprintf(sub, sizeof(sub), "%s.%s", where, k);
		lint(v, sub, depth + 1);
	}
	if (json_is_object(json_object_get(s, "additionalProperties"))) {
		snprintf(sub, sizeof(sub), "%s.*", where);
		lint(json_object_get(s, "additionalProperties"), sub,
		     depth + 1);
	}
	if (type != NULL && strcmp(type, "array") == 0) {
		snprintf(sub, sizeof(sub), "%s[]", where);
		if (json_object_get(s, "items") == NULL) {
			fprintf(stderr,
			        "docs/openapi.yaml: %s: an array with "
			        "no items\n",
			        where);
			lint_faults++;
		} else {
			lint(json_object_get(s, "items"), sub, depth + 1);
		}
	}
}

static void test_answer_schemas_are_complete(void **state)
{
	const json_t *ops_of, *op, *resp, *schema;
	const char *path, *method, *st;
	char where[512];

	(void)state;
	lint_faults = 0;
	json_object_foreach(json_object_get(DOC, "paths"), path, ops_of)
	{
		json_object_foreach((json_t *)ops_of, method, op)
		{
			json_object_foreach(json_object_get(op, "responses"),
			                    st, resp)
			{
				schema = json_object_get(
				        json_object_get(
				                json_object_get(deref(resp),
				                                "content"),
				                "application/json"),
				        "schema");
				if (schema == NULL)
					continue;
				snprintf(where, sizeof(where), "%s %s %s",
				         method, path, st);
				lint(schema, where, 0);
			}
		}
	}
	assert_int_equal(lint_faults, 0);
}

/* An empty path segment matches no placeholder: 404 not_found. */
static void empty_segment(void *ctx, const struct fl_route *rt)
{
	char path[512];
	struct srv_res r;

	(void)ctx;
	if (strchr(rt->pattern, '{') == NULL)
		return;
	fill(path, sizeof(path), rt->pattern, 2, NULL);
	assert_int_equal(srv_req(S, rt->method, path, ADMIN,
	                         strcmp(rt->method, "POST") == 0 ? "{}" : NULL,
	                         &r),
	                 0);
	if (r.status != 404)
		fprintf(stderr, "%s %s: %ld\n", rt->method, path, r.status);
	assert_int_equal(r.status, 404);
	assert_string_equal(srv_err_code(&r), "not_found");
	srv_res_free(&r);
}

static void test_empty_segment_is_404(void **state)
{
	(void)state;
	fl_router_each(empty_segment, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_empty_segment_is_404),
	        cmocka_unit_test(test_every_status_is_documented),
	        cmocka_unit_test(test_answer_schemas_are_complete),
	        cmocka_unit_test(test_successful_answers_fit),
	        cmocka_unit_test(test_device_answers_fit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
