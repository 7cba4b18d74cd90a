/*
 * dev_view.c - status object, snapshot, and the terminal screens
 * (dev_view.h).
 */
#include "device/dev_view.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fltime.h"
#include "core/restrict.h"
#include "core/state.h"
#include "device/dev_files.h"
#include "device/dev_hal.h"
#include "device/dev_phone.h"

#define BOX_INNER  60 /* columns inside the box */
#define LABEL_COLS 16 /* "Loan reference: " */
#define TEXT_MAX   2048
#define SNAP_MAX   (512 * 1024)

const char *dev_view_phase_name(enum fl_agent_phase p)
{
	switch (p) {
	case FL_AGENT_SETUP:
		return "setup";
	case FL_AGENT_IDLE:
		return "idle";
	case FL_AGENT_PAIRING:
		return "pairing";
	case FL_AGENT_ENROLLED:
		return "enrolled";
	case FL_AGENT_RELEASED:
		return "released";
	}
	return "unknown";
}

/* --- building the objects ------------------------------------------------- */

static json_t *time_or_null(fl_time t)
{
	char buf[FL_TIME_STR_LEN];

	if (t == 0)
		return json_null();
	fl_time_format(t, buf);
	return json_string(buf);
}

static json_t *rows(const char *base, size_t stride, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(base + i * stride));
	return a;
}

static void add_restriction(const char *name, void *ctx)
{
	json_array_append_new(ctx, json_string(name));
}

static json_t *restriction_names(uint64_t mask)
{
	json_t *a = json_array();

	if (a != NULL)
		fl_restrict_each(mask, add_restriction, a);
	return a;
}

static json_t *guaranteed_names(uint32_t mask)
{
	json_t *a = json_array();

	for (uint32_t bit = 1; a != NULL && bit != 0 && bit <= FL_G_ALL;
	     bit <<= 1) {
		const char *n = fl_guaranteed_name(bit);
		if ((mask & bit) && n != NULL)
			json_array_append_new(a, json_string(n));
	}
	return a;
}

/* jansson refuses strings that are not UTF-8; text cut at a buffer's end
 * may be, so anything refused is shown with the bad bytes replaced. */
static json_t *text(const char *s)
{
	json_t *j = json_string(s);
	char buf[TEXT_MAX];
	size_t i;

	if (j != NULL)
		return j;
	for (i = 0; s[i] != '\0' && i + 1 < sizeof(buf); i++)
		buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	buf[i] = '\0';
	return json_string(buf);
}

/* The pairing code as its digits alone ("1234 5678 9012 3456" is drawn,
 * "1234567890123456" is what the lender types). */
static json_t *digits(const char *s)
{
	char buf[32];
	size_t n = 0;

	for (; *s != '\0' && n + 1 < sizeof(buf); s++)
		if (*s >= '0' && *s <= '9')
			buf[n++] = *s;
	buf[n] = '\0';
	return json_string(buf);
}

json_t *dev_view_screen_json(const struct fl_agent_screen *s)
{
	json_t *o = json_object();
	const char *state = fl_state_name(s->state);
	json_t *notices = json_array();

	if (o == NULL || notices == NULL) {
		json_decref(o);
		json_decref(notices);
		return NULL;
	}
	for (size_t i = 0; i < s->n_notices && i < FL_AGENT_NOTICES; i++)
		json_array_append_new(notices, text(s->notices[i]));
	json_object_set_new(o, "phase",
	                    json_string(dev_view_phase_name(s->phase)));
	json_object_set_new(o, "setup_pending", json_boolean(s->setup_pending));
	json_object_set_new(o, "locked", json_boolean(s->locked));
	json_object_set_new(
	        o, "lock_reason",
	        json_string(fl_agent_lock_reason_name(s->lock_reason)));
	json_object_set_new(o, "state", json_string(state ? state : ""));
	json_object_set_new(o, "stolen", json_boolean(s->stolen));
	json_object_set_new(o, "message", text(s->message));
	json_object_set_new(o, "amount_due", json_integer(s->amount_due));
	json_object_set_new(o, "currency", text(s->currency));
	json_object_set_new(o, "lender_name", text(s->lender_name));
	json_object_set_new(
	        o, "lender_phones",
	        rows(s->lender_phones[0], sizeof(s->lender_phones[0]),
	             s->n_lender_phones < FL_AGENT_PHONES ? s->n_lender_phones
	                                                  : FL_AGENT_PHONES));
	json_object_set_new(o, "loan_ref", text(s->loan_ref));
	json_object_set_new(o, "reminder", text(s->reminder));
	json_object_set_new(o, "notices", notices);
	json_object_set_new(o, "pairing_code", digits(s->pairing_code));
	json_object_set_new(o, "restrictions",
	                    restriction_names(s->restrict_mask));
	json_object_set_new(o, "guaranteed", guaranteed_names(s->guaranteed));
	json_object_set_new(o, "allow_apps",
	                    rows(s->allow_apps[0], sizeof(s->allow_apps[0]),
	                         s->n_allow_apps < FL_AGENT_APPS
	                                 ? s->n_allow_apps
	                                 : FL_AGENT_APPS));
	json_object_set_new(o, "lock_at", time_or_null(s->lock_at));
	json_object_set_new(o, "unlock_until", time_or_null(s->unlock_until));
	json_object_set_new(o, "has_receipt", json_boolean(s->has_receipt));
	return o;
}

static json_t *notifications(struct dev_phone *p)
{
	char *buf = NULL;
	json_t *o, *list;

	if (dev_file_slurp(dev_phone_part(p, DEV_PART_USERDATA),
	                   DEV_NOTIFY_RECORD, SNAP_MAX, &buf, NULL) != FL_OK)
		return json_array();
	o = json_loads(buf, 0, NULL);
	free(buf);
	list = json_object_get(o, "notifications");
	if (!json_is_array(list)) {
		json_decref(o);
		return json_array();
	}
	json_incref(list);
	json_decref(o);
	return list;
}

static json_t *tamper_names(uint32_t flags)
{
	json_t *a = json_array();

	if (a == NULL)
		return NULL;
	if (flags & FL_HAL_TAMPER_ROOTED)
		json_array_append_new(a, json_string("rooted"));
	if (flags & FL_HAL_TAMPER_BOOTLOADER)
		json_array_append_new(a, json_string("bootloader_unlocked"));
	return a;
}

json_t *dev_view_status(struct dev_phone *p, const struct dev_hal *h,
                        const struct fl_agent_screen *s,
                        const struct fl_agent_status *st)
{
	const struct dev_applied *ap = dev_hal_applied(h);
	const struct dev_factory *f = dev_phone_factory(p);
	char iccid[FL_HAL_ICCID_MAX + 1], url[DEV_URL_MAX + 1];
	uint32_t tamper = 0;
	int64_t offset = 0;
	uint64_t boots = 0;
	fl_time wall = 0;
	json_t *o = dev_view_screen_json(s);

	if (o == NULL)
		return NULL;
	/* What the platform enforces: the restrictions and apps it was told
	 * to apply (the screen's own copy if nothing was applied yet). */
	if (ap->valid) {
		json_object_set_new(o, "restrictions",
		                    restriction_names(ap->mask));
		json_object_set_new(o, "guaranteed",
		                    guaranteed_names(ap->guaranteed));
		json_object_set_new(
		        o, "allow_apps",
		        rows(ap->apps[0], sizeof(ap->apps[0]), ap->n_apps));
	}
	json_object_set_new(o, "device_id", text(st->device_id));
	json_object_set_new(o, "seq", json_integer((json_int_t)st->seq));
	json_object_set_new(o, "counter",
	                    json_integer((json_int_t)st->counter));
	json_object_set_new(o, "trusted_time", time_or_null(st->trusted_time));
	json_object_set_new(o, "effective_time",
	                    time_or_null(st->effective_time));
	json_object_set_new(o, "code_tries", json_integer(st->code_tries));
	json_object_set_new(o, "code_counter",
	                    json_integer((json_int_t)st->code_counter));
	json_object_set_new(o, "failures", json_integer(st->failures));
	json_object_set_new(o, "notifications", notifications(p));

	json_object_set_new(
	        o, "imei",
	        rows(f->dev.imei[0], sizeof(f->dev.imei[0]), f->dev.n_imei));
	json_object_set_new(o, "serial", text(f->dev.serial));
	if (dev_phone_iccid(p, iccid) != FL_OK)
		iccid[0] = '\0';
	json_object_set_new(o, "iccid", json_string(iccid));
	if (dev_phone_tamper(p, &tamper) != FL_OK)
		tamper = 0;
	json_object_set_new(o, "tamper", tamper_names(tamper));
	json_object_set_new(o, "offline", json_boolean(dev_phone_offline(p)));
	if (dev_phone_clock_offset(p, &offset) != FL_OK)
		offset = 0;
	json_object_set_new(o, "clock_offset", json_integer(offset));
	if (dev_hal_wall(h, &wall) != FL_OK)
		wall = 0;
	json_object_set_new(o, "wall_time", time_or_null(wall));
	if (dev_phone_boots(p, &boots) != FL_OK)
		boots = 0;
	json_object_set_new(o, "boots", json_integer((json_int_t)boots));
	dev_hal_server(h, url);
	json_object_set_new(o, "server", json_string(url));
	json_object_set_new(o, "updated_at", time_or_null(dev_host_time()));
	return o;
}

fl_err dev_view_snapshot_write(struct dev_phone *p, const json_t *status)
{
	char *buf = json_dumps(status, JSON_COMPACT);
	fl_err err;

	if (buf == NULL)
		return FL_E_NOMEM;
	err = dev_file_write(dev_phone_part(p, DEV_PART_RUN), DEV_STATUS_RECORD,
	                     buf, strlen(buf), 0644, false);
	free(buf);
	return err;
}

fl_err dev_view_snapshot_read(const char *dir, json_t **out)
{
	char path[DEV_PATH_MAX], *buf = NULL;
	size_t len = 0;
	fl_err err;

	*out = NULL;
	err = dev_path(path, dir, "run");
	if (err)
		return err;
	err = dev_file_slurp(path, DEV_STATUS_RECORD, SNAP_MAX, &buf, &len);
	if (err)
		return err;
	*out = json_loadb(buf, len, 0, NULL);
	free(buf);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return FL_E_CORRUPT;
	}
	return FL_OK;
}

/* --- formatting ------------------------------------------------------------
 */

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static long long jint(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static bool jbool(const json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* Digits after the decimal point (ISO 4217 minor units). */
static int currency_decimals(const char *c)
{
	static const char *const zero[] = {
	        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
	        "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
	};
	static const char *const three[] = {
	        "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND",
	};

	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		if (strcmp(c, zero[i]) == 0)
			return 0;
	for (size_t i = 0; i < sizeof(three) / sizeof(three[0]); i++)
		if (strcmp(c, three[i]) == 0)
			return 3;
	return 2;
}

void dev_view_amount(char *out, size_t cap, long long minor,
                     const char *currency)
{
	int dec = currency_decimals(currency);
	unsigned long long v, unit = 1, whole, frac;
	char digits[32], grouped[48];
	size_t n, g = 0;

	for (int i = 0; i < dec; i++)
		unit *= 10;
	v = minor < 0 ? 0ULL - (unsigned long long)minor
	              : (unsigned long long)minor;
	whole = v / unit;
	frac = v % unit;
	n = (size_t)snprintf(digits, sizeof(digits), "%llu", whole);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			grouped[g++] = ',';
		grouped[g++] = digits[i];
	}
	grouped[g] = '\0';
	if (dec > 0)
		snprintf(out, cap, "%s%s%s%s.%0*llu", currency,
		         currency[0] ? " " : "", minor < 0 ? "-" : "", grouped,
		         dec, frac);
	else
		snprintf(out, cap, "%s%s%s%s", currency, currency[0] ? " " : "",
		         minor < 0 ? "-" : "", grouped);
}

/* Copies s with control characters replaced by '?'. */
static void clean(char *dst, size_t cap, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

/* Display columns of s[0..n): one per UTF-8 code point. */
static size_t cols(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* How many bytes of s fit in width columns, breaking at a space when one
 * is there; *skip receives the spaces to drop after the break. */
static size_t fit(const char *s, size_t width, size_t *skip)
{
	size_t i = 0, c = 0, space = 0;
	bool have_space = false;

	*skip = 0;
	while (s[i] != '\0') {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (c == width)
				break;
			c++;
			if (s[i] == ' ') {
				space = i;
				have_space = true;
			}
		}
		i++;
	}
	if (s[i] == '\0')
		return i;
	if (s[i] == ' ') {
		*skip = 1;
		return i;
	}
	if (have_space && space > 0) {
		*skip = 1;
		return space;
	}
	return i;
}

static void box_rule(FILE *out)
{
	fputc('+', out);
	for (int i = 0; i < BOX_INNER + 2; i++)
		fputc('-', out);
	fputs("+\n", out);
}

static void box_raw(FILE *out, const char *s, size_t n)
{
	size_t c = cols(s, n);

	fputs("| ", out);
	fwrite(s, 1, n, out);
	for (size_t i = c; i < BOX_INNER; i++)
		fputc(' ', out);
	fputs(" |\n", out);
}

static void box_blank(FILE *out)
{
	box_raw(out, "", 0);
}

static void box_center(FILE *out, const char *s)
{
	char line[BOX_INNER * 4 + 1];
	size_t n = strlen(s), c = cols(s, n), pad;

	if (c >= BOX_INNER || n + BOX_INNER >= sizeof(line)) {
		box_raw(out, s, n);
		return;
	}
	pad = (BOX_INNER - c) / 2;
	memset(line, ' ', pad);
	memcpy(line + pad, s, n);
	box_raw(out, line, pad + n);
}

/* A labelled field: label in its column, text wrapped beside it. */
static void box_field(FILE *out, const char *label, const char *value)
{
	char buf[TEXT_MAX], line[BOX_INNER * 4 + 1];
	const char *s = buf;
	bool first = true;

	clean(buf, sizeof(buf), value);
	do {
		size_t skip, n = fit(s, BOX_INNER - LABEL_COLS, &skip);
		size_t lab = first ? strlen(label) : 0;

		memset(line, ' ', LABEL_COLS);
		memcpy(line, label, lab < LABEL_COLS ? lab : LABEL_COLS);
		memcpy(line + LABEL_COLS, s, n);
		box_raw(out, line, LABEL_COLS + n);
		s += n + skip;
		first = false;
	} while (*s != '\0');
}

/* Free text wrapped over the whole width. */
static void box_text(FILE *out, const char *value)
{
	char buf[TEXT_MAX];
	const char *s = buf;

	clean(buf, sizeof(buf), value);
	do {
		size_t skip, n = fit(s, BOX_INNER, &skip);
		box_raw(out, s, n);
		s += n + skip;
	} while (*s != '\0');
}

/* Items of a string array joined with ", " (cleaned) into out. */
static void join(char *out, size_t cap, const json_t *a, const char *none)
{
	size_t pos = 0;

	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		int n;
		if (s == NULL)
			continue;
		n = snprintf(out + pos, cap - pos, "%s%s", pos ? ", " : "", s);
		if (n < 0 || (size_t)n >= cap - pos)
			break;
		pos += (size_t)n;
	}
	if (pos == 0)
		snprintf(out, cap, "%s", none);
	clean(out, cap, out);
}

/* Digits in groups of four, as the customer reads them out. */
static void pairing_text(char *out, size_t cap, const char *code)
{
	size_t n = 0;

	for (size_t i = 0; code[i] != '\0' && n + 2 < cap; i++) {
		if (i > 0 && i % 4 == 0)
			out[n++] = ' ';
		out[n++] = code[i];
	}
	out[n] = '\0';
}

static void draw_lock(FILE *out, const json_t *st)
{
	const json_t *phones = json_object_get(st, "lender_phones");
	const char *msg = jstr(st, "message");
	char buf[TEXT_MAX];
	bool setup = jbool(st, "setup_pending") && !jbool(st, "locked");
	bool overdue = strcmp(jstr(st, "lock_reason"), "payment") == 0;

	box_blank(out);
	box_center(out, setup ? "[ SETTING UP ]" : "[ LOCKED ]");
	box_blank(out);
	/* An overdue lock always carries the overdue headline, with the
	 * lender's own text (if any) under it, and the amount due; other
	 * locks (the lender's, stolen, offline, a SIM change, modified
	 * software) show the agent's message naming the true cause, and no
	 * amount. The lender's contact is always there. */
	if (!setup && overdue && strcmp(msg, FL_AGENT_LOCK_MESSAGE) != 0)
		box_text(out, FL_AGENT_LOCK_MESSAGE);
	if (msg[0] != '\0')
		box_text(out, msg);
	else if (!setup && overdue)
		box_text(out, FL_AGENT_LOCK_MESSAGE);
	box_blank(out);
	if (overdue &&
	    (jint(st, "amount_due") > 0 || jstr(st, "currency")[0] != '\0')) {
		dev_view_amount(buf, sizeof(buf), jint(st, "amount_due"),
		                jstr(st, "currency"));
		box_field(out, "Amount due:", buf);
	}
	if (jstr(st, "lender_name")[0] != '\0')
		box_field(out, "Lender:", jstr(st, "lender_name"));
	for (size_t i = 0; i < json_array_size(phones); i++) {
		const char *p = json_string_value(json_array_get(phones, i));
		if (p != NULL)
			box_field(out, i == 0 ? "Call:" : "", p);
	}
	if (jstr(st, "loan_ref")[0] != '\0')
		box_field(out, "Loan reference:", jstr(st, "loan_ref"));
	if (json_array_size(json_object_get(st, "allow_apps")) > 0) {
		join(buf, sizeof(buf), json_object_get(st, "allow_apps"), "");
		box_field(out, "Allowed apps:", buf);
	}
	if (jstr(st, "pairing_code")[0] != '\0') {
		pairing_text(buf, sizeof(buf), jstr(st, "pairing_code"));
		box_field(out, "Pairing code:", buf);
	}
	box_blank(out);
	box_text(out, "Emergency calls are always available");
	box_blank(out);
}

static void draw_home(FILE *out, const json_t *st)
{
	const json_t *notices = json_object_get(st, "notices");
	const char *when = jstr(st, "effective_time");
	char buf[TEXT_MAX], clock[32];

	if (when[0] == '\0')
		when = jstr(st, "wall_time");
	/* "2026-11-23 14:08 UTC": the home screen's clock, to the minute */
	if (strlen(when) >= 16)
		snprintf(clock, sizeof(clock), "%.10s %.5s UTC", when,
		         when + 11);
	else
		snprintf(clock, sizeof(clock), "%s", when);
	snprintf(buf, sizeof(buf), "Home%*s", BOX_INNER - 4, clock);
	box_raw(out, buf, strlen(buf));
	box_blank(out);
	if (strcmp(jstr(st, "phase"), "released") == 0) {
		box_text(out, "Paid off: this phone is yours. No restriction "
		              "remains.");
		box_blank(out);
	}
	if (jstr(st, "reminder")[0] != '\0') {
		box_field(out, "Reminder:", jstr(st, "reminder"));
		box_blank(out);
	}
	for (size_t i = 0; i < json_array_size(notices); i++) {
		const char *n = json_string_value(json_array_get(notices, i));
		if (n != NULL)
			box_field(out, i == 0 ? "Notices:" : "", n);
	}
	if (json_array_size(notices) > 0)
		box_blank(out);
	if (jstr(st, "pairing_code")[0] != '\0') {
		pairing_text(buf, sizeof(buf), jstr(st, "pairing_code"));
		box_field(out, "Pairing code:", buf);
		box_text(out, "Read this code to your lender to finish setup.");
		box_blank(out);
	}
	if (jstr(st, "loan_ref")[0] != '\0')
		box_field(out, "Loan:", jstr(st, "loan_ref"));
	if (jstr(st, "lender_name")[0] != '\0')
		box_field(out, "Lender:", jstr(st, "lender_name"));
	if (json_is_string(json_object_get(st, "lock_at")))
		box_field(out, "Locks at:", jstr(st, "lock_at"));
	if (json_is_string(json_object_get(st, "unlock_until")))
		box_field(out, "Unlocked until:", jstr(st, "unlock_until"));
	if (json_array_size(json_object_get(st, "restrictions")) > 0) {
		join(buf, sizeof(buf), json_object_get(st, "restrictions"), "");
		box_field(out, "Restricted:", buf);
	}
}

void dev_view_draw(FILE *out, const json_t *st)
{
	char line[512];
	bool lock = jbool(st, "locked") || jbool(st, "setup_pending");
	const char *iccid = jstr(st, "iccid");

	box_rule(out);
	if (lock)
		draw_lock(out, st);
	else
		draw_home(out, st);
	box_rule(out);
	snprintf(line, sizeof(line),
	         "phase %s | state %s | seq %lld | SIM %s | %s%s%s",
	         jstr(st, "phase"), jstr(st, "state"), jint(st, "seq"),
	         iccid[0] ? iccid : "none",
	         jbool(st, "offline") ? "offline" : "online",
	         json_array_size(json_object_get(st, "tamper")) ? " | rooted"
	                                                        : "",
	         jbool(st, "running") ? " | running" : "");
	clean(line, sizeof(line), line);
	fprintf(out, "%s\n", line);
}

void dev_view_print(FILE *out, const json_t *st)
{
	char buf[TEXT_MAX];
	const json_t *notices = json_object_get(st, "notices");
	const char *v;

#define LINE(label, value)                                                     \
	do {                                                                   \
		clean(buf, sizeof(buf), (value));                              \
		fprintf(out, "%-15s %s\n", label, buf);                        \
	} while (0)

	LINE("phase:", jstr(st, "phase"));
	snprintf(buf, sizeof(buf), "%s%s",
	         jbool(st, "locked")          ? "LOCKED"
	         : jbool(st, "setup_pending") ? "setting up"
	                                      : "unlocked",
	         jbool(st, "stolen") ? ", reported stolen" : "");
	LINE("screen:", buf);
	LINE("state:", jstr(st, "state"));
	if (jbool(st, "locked") || jbool(st, "setup_pending"))
		LINE("message:", jstr(st, "message"));
	if ((!jbool(st, "locked") ||
	     strcmp(jstr(st, "lock_reason"), "payment") == 0) &&
	    (jint(st, "amount_due") > 0 || jstr(st, "currency")[0] != '\0')) {
		dev_view_amount(buf, sizeof(buf), jint(st, "amount_due"),
		                jstr(st, "currency"));
		/* an unlocked phone's token carries what will be due when its
		 * lock comes, not a debt of today */
		LINE(jbool(st, "locked") ? "amount due:" : "due by lock:", buf);
	}
	if (jstr(st, "lender_name")[0] != '\0')
		LINE("lender:", jstr(st, "lender_name"));
	if (json_array_size(json_object_get(st, "lender_phones")) > 0) {
		join(buf, sizeof(buf), json_object_get(st, "lender_phones"),
		     "");
		fprintf(out, "%-15s %s\n", "lender phones:", buf);
	}
	if (jstr(st, "loan_ref")[0] != '\0')
		LINE("loan:", jstr(st, "loan_ref"));
	if (jstr(st, "reminder")[0] != '\0')
		LINE("reminder:", jstr(st, "reminder"));
	for (size_t i = 0; i < json_array_size(notices); i++) {
		v = json_string_value(json_array_get(notices, i));
		if (v != NULL)
			LINE(i == 0 ? "notices:" : "", v);
	}
	if (jstr(st, "pairing_code")[0] != '\0')
		LINE("pairing code:", jstr(st, "pairing_code"));
	join(buf, sizeof(buf), json_object_get(st, "restrictions"), "none");
	fprintf(out, "%-15s %s\n", "restrictions:", buf);
	join(buf, sizeof(buf), json_object_get(st, "allow_apps"), "none");
	fprintf(out, "%-15s %s\n", "allowed apps:", buf);
	join(buf, sizeof(buf), json_object_get(st, "guaranteed"), "none");
	fprintf(out, "%-15s %s\n", "always allowed:", buf);
	LINE("lock at:", json_is_string(json_object_get(st, "lock_at"))
	                         ? jstr(st, "lock_at")
	                         : "none");
	if (json_is_string(json_object_get(st, "unlock_until")))
		LINE("unlock until:", jstr(st, "unlock_until"));
	LINE("device id:", jstr(st, "device_id")[0] ? jstr(st, "device_id")
	                                            : "(not enrolled)");
	fprintf(out, "%-15s %lld\n", "seq:", jint(st, "seq"));
	fprintf(out, "%-15s %lld\n", "counter:", jint(st, "counter"));
	LINE("trusted time:",
	     json_is_string(json_object_get(st, "trusted_time"))
	             ? jstr(st, "trusted_time")
	             : "unknown");
	LINE("wall clock:", jstr(st, "wall_time"));
	if (jint(st, "clock_offset") != 0)
		fprintf(out, "%-15s %+lld s\n",
		        "clock offset:", jint(st, "clock_offset"));
	join(buf, sizeof(buf), json_object_get(st, "imei"), "");
	fprintf(out, "%-15s %s\n", "imei:", buf);
	LINE("serial:", jstr(st, "serial"));
	LINE("sim:", jstr(st, "iccid")[0] ? jstr(st, "iccid") : "none");
	join(buf, sizeof(buf), json_object_get(st, "tamper"), "none");
	fprintf(out, "%-15s %s\n", "tamper:", buf);
	snprintf(buf, sizeof(buf), "%s%s%s",
	         jbool(st, "offline") ? "offline" : "online",
	         jstr(st, "server")[0] ? ", server " : ", no server",
	         jstr(st, "server"));
	LINE("network:", buf);
	if (jint(st, "failures") > 0)
		fprintf(out, "%-15s %lld in a row\n",
		        "failures:", jint(st, "failures"));
	LINE("firmware:", jbool(st, "running") ? "running" : "not running");
#undef LINE
}
