/*
 * jsonio.h - strict JSON request bodies in, JSON values out.
 *
 * A handler turns its body into a plain C struct with a struct fl_jin:
 *
 *     struct fl_jin j;
 *     if (fl_jin_parse(&j, req) != FL_OK)
 *             return;                      (already answered 4xx)
 *     fl_jin_only(&j, (const char *const[]){"name", "label", NULL});
 *     fl_jin_str(&j, "name", true, t.name, sizeof(t.name));
 *     if (fl_jin_end(&j) != FL_OK)
 *             return;                      (answered with the first error)
 *
 * Getters record the FIRST problem (missing field, wrong type, too long,
 * unknown field) with a message naming the field; fl_jin_end() answers it
 * and frees the document either way. The body must be one JSON object,
 * valid UTF-8, no duplicate keys, nested at most cfg.max_json_depth deep;
 * integers must be integers (1.0 is a wrong type) within int64.
 *
 * THREAD SAFETY: a struct fl_jin belongs to one request.
 */
#ifndef FL_SERVER_JSONIO_H
#define FL_SERVER_JSONIO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "server/jsonval.h"
#include "server/req.h"

struct fl_jin {
	json_t *root;       /* the object; owned until fl_jin_end */
	struct fl_req *req; /* answered on error */
	fl_err err;         /* first problem, FL_OK if none */
	char msg[256];      /* its message */
};

/* Parses req's body. An empty body reads as {} when allow_empty. On error
 * answers 400 (413 for depth is not used: depth is 400) and returns it. */
fl_err fl_jin_parse_opt(struct fl_jin *j, struct fl_req *req,
                        bool allow_empty) FL_MUST_USE;
#define fl_jin_parse(j, req) fl_jin_parse_opt((j), (req), false)

/* Records FL_E_FIELD_UNKNOWN for a member not in the NULL-terminated list. */
void fl_jin_only(struct fl_jin *j, const char *const *fields);
/* Records an error with a message (first one wins). */
void fl_jin_fail(struct fl_jin *j, fl_err err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Each getter returns true when the member is present and valid. A member
 * that is JSON null counts as absent. */
bool fl_jin_str(struct fl_jin *j, const char *name, bool required, char *buf,
                size_t cap);
bool fl_jin_int(struct fl_jin *j, const char *name, bool required,
                int64_t *out);
bool fl_jin_bool(struct fl_jin *j, const char *name, bool required, bool *out);
/* An RFC 3339 date-time. */
bool fl_jin_time(struct fl_jin *j, const char *name, bool required,
                 fl_time *out);
/* A member of the given JSON type, borrowed from the document. */
json_t *fl_jin_get(struct fl_jin *j, const char *name, json_type type,
                   bool required);

/* Answers the recorded problem if any, frees the document, returns the
 * problem (FL_OK if none). */
fl_err fl_jin_end(struct fl_jin *j) FL_MUST_USE;

/* Helpers for values nested inside the document: an element that must be a
 * string of at most cap - 1 bytes; `what` names it in the message. */
bool fl_jin_elem_str(struct fl_jin *j, json_t *v, const char *what, char *buf,
                     size_t cap);

/* Checks that a JSON text nests at most max_depth arrays/objects deep,
 * without parsing it. FL_E_JSON_DEPTH if deeper. */
fl_err fl_json_depth_check(const char *text, size_t len,
                           int max_depth) FL_MUST_USE;

/* Opaque list cursors. */
#define FL_CURSOR_MAX 24
void fl_cursor_encode(int64_t ord, char out[FL_CURSOR_MAX]);
fl_err fl_cursor_decode(const char *s, int64_t *ord) FL_MUST_USE;

/* Reads the `cursor` and `limit` query parameters (limit 1..500, default
 * 50). On bad input answers 400 and returns the error. */
fl_err fl_req_page(struct fl_req *req, int64_t *after, int *limit) FL_MUST_USE;

/* Answers 200 with {"items": items, "next_cursor": c or null}; takes items.
 * next is the ord of the last item when the page was full, else 0. */
void fl_reply_page(struct fl_req *req, json_t *items, int64_t next);

#endif
