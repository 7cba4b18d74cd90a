/*
 * web.h - the pages finlockd serves to browsers: the buyer's IMEI check
 * (/check) and the lender's console (/), built from the files under web/
 * that the build compiles into the binary (scripts/web-assets.sh).
 *
 * Pages are templates: `{{name}}` is replaced by a value written as HTML
 * text (every character that means something in HTML escaped), `{{{name}}}`
 * by a fragment the server built itself with fl_web_text() for every value
 * that came from a user or a phone. Every page and asset goes out with a
 * strict Content-Security-Policy (scripts, styles, images and requests to
 * this origin only, no inline script or style, no framing), nosniff and no
 * referrer; assets with an ETag and a cache lifetime, pages never cached.
 *
 * THREAD SAFETY: the assets are constant; every function is safe from any
 * thread.
 */
#ifndef FL_SERVER_WEB_H
#define FL_SERVER_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct fl_req;

/* One file of web/, compiled in. data is followed by a NUL (not counted in
 * len); etag is quoted, ready for the header. */
struct fl_web_asset {
	const char *name;
	const unsigned char *data;
	size_t len;
	const char *etag;
};

extern const struct fl_web_asset fl_web_assets[];
extern const size_t fl_web_n_assets;

/* The asset named name ("check.js"), or NULL. */
const struct fl_web_asset *fl_web_asset_find(const char *name);
/* The content type for a file name, by its extension. */
const char *fl_web_content_type(const char *name);

/* A growing text buffer for building pages. A failed allocation or going
 * past `cap` bytes sets failed; later writes are ignored. The caller frees
 * p (or takes it). */
struct fl_web_buf {
	char *p;
	size_t len, cap, max;
	bool failed;
};

/* Appends s as is. */
void fl_web_put(struct fl_web_buf *b, const char *s);
/* Appends s written as HTML text: & < > " ' escaped, so that it shows as
 * those characters in element content and in quoted attributes. */
void fl_web_text(struct fl_web_buf *b, const char *s);

/* Fills template (an asset's text) into b: vars is a NULL-ended list of
 * name, value pairs; {{name}} gets the value as text, {{{name}}} as is. A
 * name not in vars becomes "". */
void fl_web_fill(struct fl_web_buf *b, const char *tmpl,
                 const char *const *vars);

/* Answers status with the page built from the template asset `page` and
 * vars, and the page headers. */
void fl_web_page(struct fl_req *req, int status, const char *page,
                 const char *const *vars);

/* Adds the security headers every page and asset carries. */
void fl_web_security_headers(struct fl_req *req);

#endif
