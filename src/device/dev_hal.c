/*
 * dev_hal.c - the simulated phone's platform interface (dev_hal.h).
 */
#include "device/dev_hal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/devproto.h"
#include "device/dev_files.h"
#include "device/dev_tee.h"
#include "device/dev_view.h"

#define KERNEL_BOOT_ID "/proc/sys/kernel/random/boot_id"
#define RECORD_MAX     (256 * 1024)

struct dev_hal {
	struct dev_phone *phone;      /* borrowed */
	char server[DEV_URL_MAX + 1]; /* override, "" none */
	char kernel_boot[64];         /* the kernel's boot id */
	struct dev_http *http;        /* kept: its connection is reused */
	struct dev_applied applied;   /* as last applied */
	struct dev_net_result net;    /* last request */
};

/* --- partitions ----------------------------------------------------------- */

static fl_err blob_read(struct dev_hal *h, enum dev_part part, const char *name,
                        uint8_t *buf, size_t cap, size_t *len)
{
	fl_err err = dev_file_read(dev_phone_part(h->phone, part), name, buf,
	                           cap, len);

	if (err == FL_OK || err == FL_E_NOT_FOUND || err == FL_E_TOO_LARGE ||
	    err == FL_E_INVALID)
		return err;
	return FL_E_IO;
}

static fl_err blob_write(struct dev_hal *h, enum dev_part part,
                         const char *name, const uint8_t *buf, size_t len)
{
	fl_err err;

	if (len > DEV_BLOB_MAX)
		return FL_E_TOO_LARGE;
	err = dev_file_write(dev_phone_part(h->phone, part), name, buf, len,
	                     0600, true);
	if (err == FL_OK || err == FL_E_INVALID)
		return err;
	return FL_E_IO;
}

static fl_err hal_persist_read(void *ctx, const char *name, uint8_t *buf,
                               size_t cap, size_t *len)
{
	return blob_read(ctx, DEV_PART_PERSIST, name, buf, cap, len);
}

static fl_err hal_persist_write(void *ctx, const char *name, const uint8_t *buf,
                                size_t len)
{
	return blob_write(ctx, DEV_PART_PERSIST, name, buf, len);
}

static fl_err hal_userdata_read(void *ctx, const char *name, uint8_t *buf,
                                size_t cap, size_t *len)
{
	return blob_read(ctx, DEV_PART_USERDATA, name, buf, cap, len);
}

static fl_err hal_userdata_write(void *ctx, const char *name,
                                 const uint8_t *buf, size_t len)
{
	return blob_write(ctx, DEV_PART_USERDATA, name, buf, len);
}

/* --- the secure hardware (tee/) ---------------------------------------------
 *
 * Every call reads the trusted application's parts from tee/, runs the
 * operation (device/dev_tee.h) and writes back what it changed, each part
 * durably (temporary file, fsync, rename, fsync of tee/). */

static const char *const tee_files[3] = {DEV_TEE_FILE_ROM, DEV_TEE_FILE_RPMB,
                                         DEV_TEE_FILE_KEYS};

static fl_err tee_load(struct dev_hal *h, struct dev_tee *t)
{
	const char *dir = dev_phone_part(h->phone, DEV_PART_TEE);
	uint8_t buf[DEV_TEE_PART_MAX];
	fl_err err = FL_OK;

	memset(t, 0, sizeof(*t));
	for (int i = 0; i < 3 && !err; i++) {
		size_t len = 0;
		err = dev_file_read(dir, tee_files[i], buf, sizeof(buf), &len);
		if (err == FL_E_NOT_FOUND) {
			err = FL_OK; /* never written: empty */
			continue;
		}
		if (err == FL_OK)
			err = dev_tee_decode(t, (enum dev_tee_part)(1u << i),
			                     buf, len);
	}
	fl_wipe(buf, sizeof(buf));
	if (err)
		dev_tee_wipe(t);
	return err == FL_OK ? FL_OK : FL_E_IO;
}

static fl_err tee_save(void *ctx, const struct dev_tee *t, unsigned parts)
{
	struct dev_hal *h = ctx;
	const char *dir = dev_phone_part(h->phone, DEV_PART_TEE);
	uint8_t buf[DEV_TEE_PART_MAX];
	fl_err err = FL_OK;

	for (int i = 0; i < 3 && !err; i++) {
		size_t len = 0;
		if (!(parts & (1u << i)))
			continue;
		err = dev_tee_encode(t, (enum dev_tee_part)(1u << i), buf,
		                     &len);
		if (!err)
			err = dev_file_write(dir, tee_files[i], buf, len, 0600,
			                     true);
	}
	fl_wipe(buf, sizeof(buf));
	return err == FL_OK ? FL_OK : FL_E_IO;
}

/* Opens the trusted application for one call: *t and *io for the op. */
#define TEE_OPEN(h, t, io)                                                     \
	struct dev_tee t;                                                      \
	struct dev_tee_io io = {tee_save, h};                                  \
	(void)io;                                                              \
	if (tee_load(h, &t) != FL_OK)                                          \
	return FL_E_IO

static fl_err tee_done(struct dev_tee *t, fl_err err)
{
	dev_tee_wipe(t);
	return err;
}

static fl_err hal_tee_factory_pk(void *ctx, uint8_t pk[32])
{
	TEE_OPEN(ctx, t, io);
	return tee_done(&t, dev_tee_factory_pk(&t, pk));
}

static fl_err hal_tee_factory_sign(void *ctx, const uint8_t *msg, size_t len,
                                   uint8_t sig[64])
{
	TEE_OPEN(ctx, t, io);
	return tee_done(&t, dev_tee_factory_sign(&t, msg, len, sig));
}

static fl_err hal_tee_keygen(void *ctx, uint8_t sign_pk[32], uint8_t kx_pk[32])
{
	TEE_OPEN(ctx, t, io);
	return tee_done(&t, dev_tee_keygen(&t, &io, sign_pk, kx_pk));
}

static fl_err hal_tee_pending(void *ctx, uint8_t sign_pk[32], uint8_t kx_pk[32])
{
	TEE_OPEN(ctx, t, io);
	return tee_done(&t, dev_tee_pending(&t, sign_pk, kx_pk));
}

static fl_err hal_tee_sign(void *ctx, const uint8_t *msg, size_t len,
                           uint8_t sig[64])
{
	TEE_OPEN(ctx, t, io);
	return tee_done(&t, dev_tee_sign(&t, msg, len, sig));
}

static fl_err hal_tee_enroll(void *ctx, const uint8_t server_kx_pk[32])
{
	TEE_OPEN(ctx, t, io);
	return tee_done(&t, dev_tee_enroll(&t, &io, server_kx_pk));
}

static fl_err hal_tee_mac(void *ctx, const uint8_t *msg, size_t len,
                          uint8_t mac[32])
{
	TEE_OPEN(ctx, t, io);
	return tee_done(&t, dev_tee_mac(&t, msg, len, mac));
}

static fl_err hal_tee_code(void *ctx, const char *code, fl_time now,
                           struct fl_hal_code *out)
{
	TEE_OPEN(ctx, t, io);
	return tee_done(&t, dev_tee_code(&t, &io, code, now, out));
}

static fl_err hal_tee_code_state(void *ctx, struct fl_hal_code *out)
{
	TEE_OPEN(ctx, t, io);
	*out = t.code;
	return tee_done(&t, FL_OK);
}

static fl_err hal_tee_seal(void *ctx, const uint8_t *ad, size_t ad_len,
                           const uint8_t *in, size_t len, uint8_t *out)
{
	TEE_OPEN(ctx, t, io);
	return tee_done(&t, dev_tee_seal(&t, &io, ad, ad_len, in, len, out));
}

static fl_err hal_tee_unseal(void *ctx, const uint8_t *ad, size_t ad_len,
                             const uint8_t *in, size_t len, uint8_t *out)
{
	TEE_OPEN(ctx, t, io);
	return tee_done(&t, dev_tee_unseal(&t, ad, ad_len, in, len, out));
}

static fl_err hal_tee_counter(void *ctx, uint64_t *value)
{
	TEE_OPEN(ctx, t, io);
	*value = t.counter;
	return tee_done(&t, FL_OK);
}

static fl_err hal_tee_counter_raise(void *ctx, uint64_t to)
{
	TEE_OPEN(ctx, t, io);
	return tee_done(&t, dev_tee_counter_raise(&t, &io, to));
}

/* --- enforcement records --------------------------------------------------
 */

static json_t *str_array(const char *base, size_t stride, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(base + i * stride));
	return a;
}

/* Writes a JSON record under run/ or userdata/ (compact, one line). */
static fl_err record_write(struct dev_hal *h, enum dev_part part,
                           const char *name, json_t *o, bool durable)
{
	char *text = json_dumps(o, JSON_COMPACT);
	fl_err err;

	if (text == NULL)
		return FL_E_NOMEM;
	err = dev_file_write(dev_phone_part(h->phone, part), name, text,
	                     strlen(text), part == DEV_PART_RUN ? 0644 : 0600,
	                     durable);
	free(text);
	return err;
}

static json_t *applied_json(const struct dev_applied *ap)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "mask", json_integer((json_int_t)ap->mask));
	json_object_set_new(o, "guaranteed", json_integer(ap->guaranteed));
	json_object_set_new(
	        o, "allow_apps",
	        str_array(ap->apps[0], sizeof(ap->apps[0]), ap->n_apps));
	json_object_set_new(
	        o, "lender_phones",
	        str_array(ap->phones[0], sizeof(ap->phones[0]), ap->n_phones));
	return o;
}

/* Copies up to max strings of a JSON array into rows of stride bytes. */
static size_t str_rows(const json_t *a, char *base, size_t stride, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < json_array_size(a) && n < max; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (s != NULL)
			snprintf(base + (n++) * stride, stride, "%s", s);
	}
	return n;
}

/* Loads run/policy.json (written by this boot's earlier processes). */
static void applied_load(struct dev_hal *h)
{
	struct dev_applied *ap = &h->applied;
	char *text = NULL;
	json_t *o;

	memset(ap, 0, sizeof(*ap));
	if (dev_file_slurp(dev_phone_part(h->phone, DEV_PART_RUN),
	                   DEV_POLICY_RECORD, RECORD_MAX, &text, NULL) != FL_OK)
		return;
	o = json_loads(text, 0, NULL);
	free(text);
	if (!json_is_object(o)) {
		json_decref(o);
		return;
	}
	ap->mask = (uint64_t)json_integer_value(json_object_get(o, "mask"));
	ap->guaranteed =
	        (uint32_t)json_integer_value(json_object_get(o, "guaranteed"));
	ap->n_apps = str_rows(json_object_get(o, "allow_apps"), ap->apps[0],
	                      sizeof(ap->apps[0]), FL_AGENT_APPS);
	ap->n_phones =
	        str_rows(json_object_get(o, "lender_phones"), ap->phones[0],
	                 sizeof(ap->phones[0]), FL_AGENT_PHONES);
	ap->valid = true;
	json_decref(o);
}

static fl_err hal_apply(void *ctx, const struct fl_hal_policy *p)
{
	struct dev_hal *h = ctx;
	struct dev_applied ap = {0};
	json_t *o;
	fl_err err;

	ap.valid = true;
	ap.mask = p->restrict_mask;
	ap.guaranteed = p->guaranteed;
	for (size_t i = 0; i < p->n_allow_apps && ap.n_apps < FL_AGENT_APPS;
	     i++)
		snprintf(ap.apps[ap.n_apps++], sizeof(ap.apps[0]), "%s",
		         p->allow_apps[i]);
	for (size_t i = 0;
	     i < p->n_lender_phones && ap.n_phones < FL_AGENT_PHONES; i++)
		snprintf(ap.phones[ap.n_phones++], sizeof(ap.phones[0]), "%s",
		         p->lender_phones[i]);
	o = applied_json(&ap);
	if (o == NULL)
		return FL_E_NOMEM;
	err = record_write(h, DEV_PART_RUN, DEV_POLICY_RECORD, o, false);
	json_decref(o);
	if (err)
		return FL_E_IO;
	h->applied = ap;
	return FL_OK;
}

static void hal_show(void *ctx, const struct fl_agent_screen *s)
{
	struct dev_hal *h = ctx;
	json_t *o = dev_view_screen_json(s);

	/* A screen that cannot be recorded is drawn again at the next
	 * change; the status snapshot carries it meanwhile. */
	if (o != NULL &&
	    record_write(h, DEV_PART_RUN, DEV_SCREEN_RECORD, o, false) != FL_OK)
		fprintf(stderr, "finlock-device: cannot record the screen\n");
	json_decref(o);
}

static void notify(struct dev_hal *h, const char *kind, const char *text)
{
	char *old = NULL, when[FL_TIME_STR_LEN];
	json_t *o = NULL, *list, *item;
	fl_time now = 0;

	if (dev_file_slurp(dev_phone_part(h->phone, DEV_PART_USERDATA),
	                   DEV_NOTIFY_RECORD, RECORD_MAX, &old, NULL) == FL_OK)
		o = json_loads(old, 0, NULL);
	free(old);
	if (!json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	list = json_object_get(o, "notifications");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(o, "notifications", list);
	}
	if (dev_hal_wall(h, &now) != FL_OK)
		now = 0;
	fl_time_format(now, when);
	item = json_object();
	json_object_set_new(item, "at", json_string(when));
	json_object_set_new(item, "kind", json_string(kind));
	json_object_set_new(item, "text", json_string(text));
	json_array_append_new(list, item);
	while (json_array_size(list) > DEV_HAL_NOTIFICATIONS)
		json_array_remove(list, 0);
	if (record_write(h, DEV_PART_USERDATA, DEV_NOTIFY_RECORD, o, true) !=
	    FL_OK)
		fprintf(stderr, "finlock-device: cannot record a %s\n", kind);
	json_decref(o);
}

static void hal_reminder(void *ctx, const char *text)
{
	notify(ctx, "reminder", text);
}

static void hal_notice(void *ctx, const char *text)
{
	notify(ctx, "notice", text);
}

/* --- identity, signals, clocks ------------------------------------------- */

static fl_err hal_device(void *ctx, struct fl_hal_device *out)
{
	struct dev_hal *h = ctx;

	*out = dev_phone_factory(h->phone)->dev;
	return FL_OK;
}

static fl_err hal_sim_iccid(void *ctx, char *out)
{
	struct dev_hal *h = ctx;

	return dev_phone_iccid(h->phone, out) == FL_OK ? FL_OK : FL_E_IO;
}

static fl_err hal_tamper(void *ctx, uint32_t *flags)
{
	struct dev_hal *h = ctx;

	return dev_phone_tamper(h->phone, flags) == FL_OK ? FL_OK : FL_E_IO;
}

fl_time dev_host_time(void)
{
	const char *path = getenv("FINLOCK_TEST_CLOCK");
	char buf[32], *end;
	long long v;
	size_t n;
	FILE *f;

	if (path == NULL || path[0] == '\0')
		return (fl_time)time(NULL);
	f = fopen(path, "re");
	if (f == NULL)
		return (fl_time)time(NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	v = strtoll(buf, &end, 10);
	if (end == buf || (*end != '\0' && *end != '\n') || v < 0 ||
	    v > FL_TIME_MAX)
		return (fl_time)time(NULL);
	return (fl_time)v;
}

fl_err dev_hal_wall(const struct dev_hal *h, fl_time *now)
{
	fl_time host = dev_host_time();
	int64_t off = 0;

	*now = 0;
	if (dev_phone_clock_offset(h->phone, &off) != FL_OK)
		return FL_E_IO;
	*now = host + off;
	if (*now < 0 || *now > FL_TIME_MAX)
		*now = host;
	return FL_OK;
}

static fl_err hal_wall(void *ctx, fl_time *now)
{
	return dev_hal_wall(ctx, now);
}

static fl_err hal_mono(void *ctx, uint64_t *ms, uint64_t *boot_id)
{
	struct dev_hal *h = ctx;
	struct timespec ts;
	uint64_t boots = 0;
	uint8_t id[16]; /* BLAKE2b's shortest output; 8 bytes are used */
	char in[96];
	int n;

	*ms = 0;
	*boot_id = 0;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0 ||
	    dev_phone_boots(h->phone, &boots) != FL_OK)
		return FL_E_IO;
	*ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	/* On a test clock the phone's time since boot moves with it (a
	 * test only ever moves it forward), so trusted time, which the
	 * agent carries forward on this clock, reads the test's time too. */
	if (getenv("FINLOCK_TEST_CLOCK") != NULL &&
	    getenv("FINLOCK_TEST_CLOCK")[0] != '\0')
		*ms = (uint64_t)dev_host_time() * 1000u;
	n = snprintf(in, sizeof(in), "%s:%llu", h->kernel_boot,
	             (unsigned long long)boots);
	if (fl_blake2b(id, sizeof(id), NULL, 0, in, (size_t)n) != FL_OK)
		return FL_E_IO;
	for (int i = 7; i >= 0; i--)
		*boot_id = (*boot_id << 8) | id[i];
	return FL_OK;
}

/* --- transport ------------------------------------------------------------ */

void dev_hal_server(const struct dev_hal *h, char out[DEV_URL_MAX + 1])
{
	if (h->server[0] != '\0')
		strcpy(out, h->server);
	else
		dev_phone_server(h->phone, out);
}

static fl_err hal_http(void *ctx, const struct fl_hal_request *req,
                       struct fl_hal_response *resp)
{
	struct dev_hal *h = ctx;
	char url[DEV_URL_MAX + 1], *code = NULL;
	bool aborted = false;
	fl_err err;

	memset(resp, 0, sizeof(*resp));
	memset(&h->net, 0, sizeof(h->net));
	h->net.attempted = true;
	dev_hal_server(h, url);
	if (dev_phone_offline(h->phone) || url[0] == '\0') {
		h->net.offline = true;
		h->net.err = FL_E_NET;
		return FL_E_NET;
	}
	err = dev_http_send(h->http, url, req, resp, &aborted);
	h->net.err = err;
	h->net.aborted = aborted;
	if (err)
		return err == FL_E_TOO_LARGE ? err : FL_E_NET;
	h->net.status = resp->status;
	if ((resp->status < 200 || resp->status > 299) && resp->body != NULL &&
	    fl_dp_error_decode(resp->body, resp->body_len, &code) == FL_OK) {
		snprintf(h->net.error_code, sizeof(h->net.error_code), "%s",
		         code);
		free(code);
	}
	return FL_OK;
}

/* --- the platform --------------------------------------------------------- */

static void read_kernel_boot(char out[64])
{
	FILE *f = fopen(KERNEL_BOOT_ID, "r");
	size_t n = 0;

	out[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(out, 64, f) != NULL)
		n = strcspn(out, "\r\n");
	out[n] = '\0';
	fclose(f);
}

fl_err dev_hal_new(struct dev_hal **out, struct dev_phone *phone,
                   const char *server)
{
	struct dev_hal *h;
	fl_err err;

	*out = NULL;
	if (server != NULL && server[0] != '\0' &&
	    dev_url_check(server) != FL_OK)
		return FL_E_INVALID;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return FL_E_NOMEM;
	err = dev_http_new(&h->http);
	if (err) {
		free(h);
		return err;
	}
	if (server != NULL)
		strcpy(h->server, server);
	read_kernel_boot(h->kernel_boot);
	dev_hal_set_phone(h, phone);
	*out = h;
	return FL_OK;
}

void dev_hal_free(struct dev_hal *h)
{
	if (h == NULL)
		return;
	dev_http_free(h->http);
	free(h);
}

void dev_hal_set_phone(struct dev_hal *h, struct dev_phone *phone)
{
	h->phone = phone;
	applied_load(h);
}

void dev_hal_fill(struct dev_hal *h, struct fl_hal *hal)
{
	memset(hal, 0, sizeof(*hal));
	hal->ctx = h;
	hal->persist_read = hal_persist_read;
	hal->persist_write = hal_persist_write;
	hal->userdata_read = hal_userdata_read;
	hal->userdata_write = hal_userdata_write;
	hal->tee_factory_pk = hal_tee_factory_pk;
	hal->tee_factory_sign = hal_tee_factory_sign;
	hal->tee_keygen = hal_tee_keygen;
	hal->tee_pending = hal_tee_pending;
	hal->tee_sign = hal_tee_sign;
	hal->tee_enroll = hal_tee_enroll;
	hal->tee_mac = hal_tee_mac;
	hal->tee_code = hal_tee_code;
	hal->tee_code_state = hal_tee_code_state;
	hal->tee_seal = hal_tee_seal;
	hal->tee_unseal = hal_tee_unseal;
	hal->tee_counter = hal_tee_counter;
	hal->tee_counter_raise = hal_tee_counter_raise;
	hal->apply = hal_apply;
	hal->show = hal_show;
	hal->reminder = hal_reminder;
	hal->notice = hal_notice;
	hal->device = hal_device;
	hal->sim_iccid = hal_sim_iccid;
	hal->tamper = hal_tamper;
	hal->wall = hal_wall;
	hal->mono = hal_mono;
	hal->http = hal_http;
}

void dev_hal_set_abort(struct dev_hal *h, dev_http_abort_fn fn, void *ctx)
{
	dev_http_set_abort(h->http, fn, ctx);
}

const struct dev_applied *dev_hal_applied(const struct dev_hal *h)
{
	return &h->applied;
}

const struct dev_net_result *dev_hal_net(const struct dev_hal *h)
{
	return &h->net;
}

void dev_hal_net_reset(struct dev_hal *h)
{
	memset(&h->net, 0, sizeof(h->net));
}
