/*
 * dev_phone.c - the simulated phone's data directory (dev_phone.h).
 */
#include "device/dev_phone.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/imei.h"
#include "core/paserk.h"
#include "device/dev_files.h"
#include "device/dev_tee.h"

#define ROOT_FILE   "root.pub"
#define DEVICE_FILE "device.json"
#define HW_SIM      "sim"
#define HW_TAMPER   "tamper"
#define HW_CLOCK    "clock"
#define HW_OFFLINE  "offline"
#define HW_BOOT     "boot"
#define SMALL_MAX   4096 /* cap on a hw/ file and the factory image */

static const char *const part_names[DEV_PART_COUNT] = {
        "factory", "persist", "userdata", "hw", "run", "tee",
};

struct dev_phone {
	char dir[DEV_PATH_MAX];
	char part[DEV_PART_COUNT][DEV_PATH_MAX]; /* each part's directory */
	struct dev_factory f;
};

fl_err dev_url_check(const char *url)
{
	size_t n;

	if (url == NULL)
		return FL_E_INVALID;
	n = strlen(url);
	if (n > DEV_URL_MAX)
		return FL_E_INVALID;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return FL_E_INVALID;
	if (n <= (url[4] == 's' ? 8u : 7u))
		return FL_E_INVALID;
	for (size_t i = 0; i < n; i++)
		if (url[i] <= ' ' || url[i] > '~')
			return FL_E_INVALID;
	return FL_OK;
}

fl_err dev_iccid_check(const char *iccid)
{
	size_t n = strlen(iccid);

	if (n == 0)
		return FL_OK;
	if (n < 18 || n > FL_HAL_ICCID_MAX)
		return FL_E_INVALID;
	for (size_t i = 0; i < n; i++)
		if (iccid[i] < '0' || iccid[i] > '9')
			return FL_E_INVALID;
	return FL_OK;
}

static void fill_paths(struct dev_phone *p, const char *dir)
{
	snprintf(p->dir, sizeof(p->dir), "%s", dir);
	for (int i = 0; i < DEV_PART_COUNT; i++)
		snprintf(p->part[i], sizeof(p->part[i]), "%s/%s", dir,
		         part_names[i]);
}

bool dev_phone_exists(const char *dir)
{
	char path[DEV_PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/factory/" DEVICE_FILE, dir) >=
	    (int)sizeof(path))
		return false;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* --- the factory image ---------------------------------------------------- */

static fl_err factory_write(struct dev_phone *p, const struct dev_factory *f)
{
	char pub[FL_PASERK_PUBLIC_SIZE + 1];
	json_t *o = NULL, *imeis = NULL;
	char *text = NULL;
	fl_err err;

	err = fl_paserk_public_encode(pub, f->root_pk);
	if (err)
		return err;
	strcat(pub, "\n");
	o = json_object();
	imeis = json_array();
	if (o == NULL || imeis == NULL) {
		json_decref(imeis);
		err = FL_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < f->dev.n_imei; i++)
		json_array_append_new(imeis, json_string(f->dev.imei[i]));
	json_object_set_new(o, "imei", imeis);
	json_object_set_new(o, "serial", json_string(f->dev.serial));
	json_object_set_new(o, "server", json_string(f->server));
	text = json_dumps(o, JSON_INDENT(2));
	if (text == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	err = dev_file_write(p->part[DEV_PART_FACTORY], ROOT_FILE, pub,
	                     strlen(pub), 0644, true);
	if (!err)
		err = dev_file_write(p->part[DEV_PART_FACTORY], DEVICE_FILE,
		                     text, strlen(text), 0644, true);
out:
	free(text);
	json_decref(o);
	return err;
}

static fl_err factory_read(struct dev_phone *p)
{
	struct dev_factory *f = &p->f;
	char *pub = NULL, *text = NULL;
	size_t len = 0;
	json_t *o = NULL, *imeis, *serial, *server;
	fl_err err;

	memset(f, 0, sizeof(*f));
	err = dev_file_slurp(p->part[DEV_PART_FACTORY], ROOT_FILE, SMALL_MAX,
	                     &pub, &len);
	if (err)
		goto out;
	while (len > 0 && (pub[len - 1] == '\n' || pub[len - 1] == '\r'))
		pub[--len] = '\0';
	if (fl_paserk_public_decode(f->root_pk, pub, len) != FL_OK) {
		err = FL_E_CORRUPT;
		goto out;
	}
	err = dev_file_slurp(p->part[DEV_PART_FACTORY], DEVICE_FILE, SMALL_MAX,
	                     &text, &len);
	if (err)
		goto out;
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	imeis = json_object_get(o, "imei");
	serial = json_object_get(o, "serial");
	server = json_object_get(o, "server");
	err = FL_E_CORRUPT;
	if (!json_is_array(imeis) || json_array_size(imeis) < 1 ||
	    json_array_size(imeis) > 2 || !json_is_string(serial) ||
	    json_string_length(serial) > FL_HAL_SERIAL_MAX ||
	    (server != NULL && !json_is_string(server)))
		goto out;
	for (size_t i = 0; i < json_array_size(imeis); i++) {
		const char *s = json_string_value(json_array_get(imeis, i));
		if (s == NULL ||
		    fl_imei_parse(s, strlen(s), f->dev.imei[i]) != FL_OK)
			goto out;
	}
	f->dev.n_imei = json_array_size(imeis);
	strcpy(f->dev.serial, json_string_value(serial));
	if (server != NULL && json_string_length(server) > 0) {
		if (dev_url_check(json_string_value(server)) != FL_OK)
			goto out;
		strcpy(f->server, json_string_value(server));
	}
	err = FL_OK;
out:
	json_decref(o);
	free(pub);
	free(text);
	if (err)
		memset(f, 0, sizeof(*f));
	return err;
}

/* --- open, create ----------------------------------------------------------
 */

fl_err dev_phone_open(struct dev_phone **out, const char *dir)
{
	struct dev_phone *p = NULL;
	fl_err err;

	*out = NULL;
	if (strlen(dir) + 16 >= DEV_PATH_MAX)
		return FL_E_TOO_LARGE;
	if (!dev_phone_exists(dir))
		return FL_E_NOT_FOUND;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return FL_E_NOMEM;
	fill_paths(p, dir);
	err = factory_read(p);
	if (err == FL_E_NOT_FOUND)
		err = FL_E_CORRUPT;
	if (err)
		goto out;
	/* Partitions a crash or a hand may have removed come back empty. */
	for (int i = DEV_PART_PERSIST; i < DEV_PART_COUNT; i++) {
		err = dev_dir_make(p->part[i]);
		if (err)
			goto out;
	}
	*out = p;
	p = NULL;
out:
	free(p);
	return err;
}

void dev_phone_close(struct dev_phone *p)
{
	free(p);
}

static fl_err wipe_all(struct dev_phone *p)
{
	fl_err err = FL_OK;

	for (int i = 0; i < DEV_PART_COUNT && !err; i++)
		err = dev_dir_wipe(p->part[i]);
	return err;
}

/* Manufacture: the factory key pair, made inside the secure hardware. */
static fl_err provision(struct dev_phone *p)
{
	struct dev_tee t = {0};
	uint8_t buf[DEV_TEE_PART_MAX];
	size_t len = 0;
	fl_err err;

	dev_tee_provision(&t);
	err = dev_tee_encode(&t, DEV_TEE_ROM, buf, &len);
	if (!err)
		err = dev_file_write(p->part[DEV_PART_TEE], DEV_TEE_FILE_ROM,
		                     buf, len, 0600, true);
	fl_wipe(buf, sizeof(buf));
	dev_tee_wipe(&t);
	return err;
}

fl_err dev_phone_create(const char *dir, const struct dev_factory *f,
                        const char *iccid, bool force)
{
	struct dev_phone *p;
	uint64_t boots = 0;
	fl_err err;

	if (strlen(dir) + 16 >= DEV_PATH_MAX)
		return FL_E_TOO_LARGE;
	if (dev_iccid_check(iccid) != FL_OK)
		return FL_E_INVALID;
	if (dev_phone_exists(dir) && !force)
		return FL_E_CONFLICT;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return FL_E_NOMEM;
	fill_paths(p, dir);
	err = dev_dir_make_all(dir);
	if (err)
		goto out;
	/* A phone made again keeps counting boots, so its boot ids never
	 * repeat ones an old agent state might have recorded. */
	if (dev_phone_boots(p, &boots) != FL_OK)
		boots = 0;
	/* The image goes first so a crash mid-way leaves no half phone. */
	err = dev_file_remove(p->part[DEV_PART_FACTORY], DEVICE_FILE, true);
	if (!err)
		err = wipe_all(p);
	for (int i = 0; i < DEV_PART_COUNT && !err; i++)
		err = dev_dir_make(p->part[i]);
	if (err)
		goto out;
	memcpy(&p->f, f, sizeof(*f));
	err = dev_phone_set_iccid(p, iccid);
	if (!err) {
		char b[24];
		snprintf(b, sizeof(b), "%" PRIu64 "\n", boots + 1);
		err = dev_file_write(p->part[DEV_PART_HW], HW_BOOT, b,
		                     strlen(b), 0644, true);
	}
	if (!err)
		err = provision(p);
	if (!err)
		err = factory_write(p, f);
out:
	free(p);
	return err;
}

const char *dev_phone_dir(const struct dev_phone *p)
{
	return p->dir;
}

const char *dev_phone_part(const struct dev_phone *p, enum dev_part part)
{
	return p->part[part];
}

const struct dev_factory *dev_phone_factory(const struct dev_phone *p)
{
	return &p->f;
}

/* --- the world ------------------------------------------------------------ */

/* Reads hw/<name> as one line (trailing newline dropped) into out[cap];
 * a missing file is "". */
static fl_err hw_read(const struct dev_phone *p, const char *name, char *out,
                      size_t cap)
{
	size_t len = 0;
	fl_err err;

	out[0] = '\0';
	err = dev_file_read(p->part[DEV_PART_HW], name, (uint8_t *)out, cap - 1,
	                    &len);
	if (err == FL_E_NOT_FOUND)
		return FL_OK;
	if (err)
		return err == FL_E_TOO_LARGE ? FL_E_CORRUPT : err;
	out[len] = '\0';
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = '\0';
	return FL_OK;
}

static fl_err hw_write(struct dev_phone *p, const char *name, const char *line)
{
	char buf[SMALL_MAX];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);

	if (n < 0 || n >= (int)sizeof(buf))
		return FL_E_TOO_LARGE;
	return dev_file_write(p->part[DEV_PART_HW], name, buf, (size_t)n, 0644,
	                      true);
}

fl_err dev_phone_iccid(const struct dev_phone *p, char *out)
{
	char buf[64];
	fl_err err = hw_read(p, HW_SIM, buf, sizeof(buf));

	out[0] = '\0';
	if (err)
		return err;
	if (dev_iccid_check(buf) != FL_OK)
		return FL_E_CORRUPT;
	strcpy(out, buf);
	return FL_OK;
}

fl_err dev_phone_set_iccid(struct dev_phone *p, const char *iccid)
{
	if (dev_iccid_check(iccid) != FL_OK)
		return FL_E_INVALID;
	return hw_write(p, HW_SIM, iccid);
}

static const struct {
	uint32_t flag;
	const char *name;
} tamper_names[] = {
        {FL_HAL_TAMPER_ROOTED, "rooted"},
        {FL_HAL_TAMPER_BOOTLOADER, "bootloader_unlocked"},
};

fl_err dev_phone_tamper(const struct dev_phone *p, uint32_t *flags)
{
	char buf[256], *line, *save = NULL;
	fl_err err = hw_read(p, HW_TAMPER, buf, sizeof(buf));

	*flags = 0;
	if (err)
		return err;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		bool known = false;
		for (size_t i = 0;
		     i < sizeof(tamper_names) / sizeof(tamper_names[0]); i++) {
			if (strcmp(line, tamper_names[i].name) == 0) {
				*flags |= tamper_names[i].flag;
				known = true;
			}
		}
		if (!known) {
			*flags = 0;
			return FL_E_CORRUPT;
		}
	}
	return FL_OK;
}

fl_err dev_phone_set_tamper(struct dev_phone *p, uint32_t flags)
{
	char buf[256] = "";

	for (size_t i = 0; i < sizeof(tamper_names) / sizeof(tamper_names[0]);
	     i++) {
		if (flags & tamper_names[i].flag) {
			if (buf[0] != '\0')
				strcat(buf, "\n");
			strcat(buf, tamper_names[i].name);
		}
	}
	if (buf[0] == '\0')
		return dev_file_remove(p->part[DEV_PART_HW], HW_TAMPER, true);
	return hw_write(p, HW_TAMPER, buf);
}

/* Parses a decimal int64 that fills s exactly. */
static fl_err parse_i64(const char *s, int64_t *out)
{
	char *end = NULL;
	long long v;

	*out = 0;
	if (s[0] == '\0')
		return FL_E_INVALID;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == NULL || *end != '\0')
		return FL_E_INVALID;
	*out = (int64_t)v;
	return FL_OK;
}

fl_err dev_phone_clock_offset(const struct dev_phone *p, int64_t *secs)
{
	char buf[64];
	fl_err err = hw_read(p, HW_CLOCK, buf, sizeof(buf));

	*secs = 0;
	if (err || buf[0] == '\0')
		return err;
	return parse_i64(buf, secs) == FL_OK ? FL_OK : FL_E_CORRUPT;
}

fl_err dev_phone_set_clock_offset(struct dev_phone *p, int64_t secs)
{
	char buf[32];

	if (secs == 0)
		return dev_file_remove(p->part[DEV_PART_HW], HW_CLOCK, true);
	snprintf(buf, sizeof(buf), "%" PRId64, secs);
	return hw_write(p, HW_CLOCK, buf);
}

bool dev_phone_offline(const struct dev_phone *p)
{
	char path[DEV_PATH_MAX];
	struct stat st;

	if (dev_path(path, p->part[DEV_PART_HW], HW_OFFLINE) != FL_OK)
		return true;
	return stat(path, &st) == 0;
}

fl_err dev_phone_set_offline(struct dev_phone *p, bool on)
{
	if (!on)
		return dev_file_remove(p->part[DEV_PART_HW], HW_OFFLINE, true);
	return hw_write(p, HW_OFFLINE, "on");
}

fl_err dev_phone_boots(const struct dev_phone *p, uint64_t *n)
{
	char buf[64];
	int64_t v = 0;
	fl_err err = hw_read(p, HW_BOOT, buf, sizeof(buf));

	*n = 0;
	if (err || buf[0] == '\0')
		return err;
	if (parse_i64(buf, &v) != FL_OK || v < 0)
		return FL_E_CORRUPT;
	*n = (uint64_t)v;
	return FL_OK;
}

void dev_phone_server(const struct dev_phone *p, char out[DEV_URL_MAX + 1])
{
	size_t len = 0;

	if (dev_file_read(p->part[DEV_PART_PERSIST], DEV_SERVER_BLOB,
	                  (uint8_t *)out, DEV_URL_MAX, &len) == FL_OK) {
		out[len] = '\0';
		if (dev_url_check(out) == FL_OK)
			return;
	}
	strcpy(out, p->f.server);
}

fl_err dev_phone_set_server(struct dev_phone *p, const char *url)
{
	if (dev_url_check(url) != FL_OK)
		return FL_E_INVALID;
	return dev_file_write(p->part[DEV_PART_PERSIST], DEV_SERVER_BLOB, url,
	                      strlen(url), 0600, true);
}

/* --- life events ---------------------------------------------------------- */

fl_err dev_phone_reboot(struct dev_phone *p)
{
	uint64_t n = 0;
	char buf[32];
	fl_err err;

	err = dev_phone_boots(p, &n);
	if (err == FL_E_CORRUPT)
		n = 0;
	else if (err)
		return err;
	snprintf(buf, sizeof(buf), "%" PRIu64, n + 1);
	err = hw_write(p, HW_BOOT, buf);
	if (!err)
		err = dev_dir_wipe(p->part[DEV_PART_RUN]);
	return err;
}

fl_err dev_phone_factory_reset(struct dev_phone *p)
{
	fl_err err = dev_dir_wipe(p->part[DEV_PART_USERDATA]);

	return err ? err : dev_phone_reboot(p);
}

fl_err dev_phone_reflash(struct dev_phone *p)
{
	fl_err err;

	if ((err = dev_dir_wipe(p->part[DEV_PART_PERSIST])) ||
	    (err = dev_file_remove(p->part[DEV_PART_TEE], DEV_TEE_FILE_KEYS,
	                           true)) ||
	    (err = dev_dir_wipe(p->part[DEV_PART_USERDATA])) ||
	    (err = dev_phone_set_tamper(p, 0)))
		return err;
	return dev_phone_reboot(p);
}
