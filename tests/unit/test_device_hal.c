/* Unit tests for the simulated phone's platform (device/dev_hal.h) and its
 * data directory (device/dev_phone.h): blobs, keystore, wipes, clocks,
 * signals, records, offline mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/restrict.h"
#include "device/dev_files.h"
#include "device/dev_hal.h"
#include "device/dev_http.h"
#include "core/devproto.h"
#include "device/dev_phone.h"
#include "support/device_util.h"

#define IMEI1 "352099001761481"
#define IMEI2 "352099001761499"

struct fx {
	char dir[256];
	struct dev_phone *phone;
	struct dev_hal *h;
	struct fl_hal hal;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct dev_factory fac = {0};

	if (f == NULL || fl_crypto_init() != FL_OK ||
	    dev_http_global_init() != FL_OK || devt_tmpdir(f->dir, "hal"))
		return -1;
	for (int i = 0; i < 32; i++)
		fac.root_pk[i] = (uint8_t)(i + 1);
	strcpy(fac.dev.imei[0], IMEI1);
	strcpy(fac.dev.imei[1], IMEI2);
	fac.dev.n_imei = 2;
	strcpy(fac.dev.serial, "R58N12ABCDE");
	if (dev_phone_create(f->dir, &fac, "8925402000000000001", false) !=
	            FL_OK ||
	    dev_phone_open(&f->phone, f->dir) != FL_OK ||
	    dev_hal_new(&f->h, f->phone, NULL) != FL_OK)
		return -1;
	dev_hal_fill(f->h, &f->hal);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	dev_hal_free(f->h);
	dev_phone_close(f->phone);
	devt_rmtree(f->dir);
	free(f);
	return 0;
}

/* Reopens the phone after a wipe (as a reboot would) and repoints h. */
static void reopen(struct fx *f)
{
	dev_phone_close(f->phone);
	assert_int_equal(dev_phone_open(&f->phone, f->dir), FL_OK);
	dev_hal_set_phone(f->h, f->phone);
}

static void path_of(char out[512], const struct fx *f, const char *rel)
{
	snprintf(out, 512, "%s/%s", f->dir, rel);
}

static bool exists(const struct fx *f, const char *rel)
{
	char p[512];
	struct stat st;

	path_of(p, f, rel);
	return stat(p, &st) == 0;
}

static void test_blobs_round_trip(void **state)
{
	struct fx *f = *state;
	uint8_t data[3000], back[3000];
	char p[512];
	struct stat st;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	assert_int_equal(f->hal.persist_write(f->hal.ctx, "agent.state.a", data,
	                                      sizeof(data)),
	                 FL_OK);
	assert_int_equal(f->hal.persist_read(f->hal.ctx, "agent.state.a", back,
	                                     sizeof(back), &len),
	                 FL_OK);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(back, data, sizeof(data));

	/* one file per blob, private to the owner */
	path_of(p, f, "persist/agent.state.a");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, sizeof(data));
	assert_int_equal(st.st_mode & 0777, 0600);

	/* a short buffer: FL_E_TOO_LARGE with the blob's size */
	assert_int_equal(f->hal.persist_read(f->hal.ctx, "agent.state.a", back,
	                                     100, &len),
	                 FL_E_TOO_LARGE);
	assert_int_equal(len, sizeof(data));

	/* replaced by a shorter one, and an empty one */
	assert_int_equal(
	        f->hal.persist_write(f->hal.ctx, "agent.state.a", data, 10),
	        FL_OK);
	assert_int_equal(f->hal.persist_read(f->hal.ctx, "agent.state.a", back,
	                                     sizeof(back), &len),
	                 FL_OK);
	assert_int_equal(len, 10);
	assert_memory_equal(back, data, 10);
	assert_int_equal(
	        f->hal.persist_write(f->hal.ctx, "agent.state.a", data, 0),
	        FL_OK);
	assert_int_equal(f->hal.persist_read(f->hal.ctx, "agent.state.a", back,
	                                     sizeof(back), &len),
	                 FL_OK);
	assert_int_equal(len, 0);

	/* user data is its own partition */
	assert_int_equal(
	        f->hal.userdata_write(f->hal.ctx, "agent.ui", data, 77), FL_OK);
	assert_true(exists(f, "userdata/agent.ui"));
	assert_false(exists(f, "persist/agent.ui"));
	assert_int_equal(f->hal.userdata_read(f->hal.ctx, "agent.ui", back,
	                                      sizeof(back), &len),
	                 FL_OK);
	assert_int_equal(len, 77);
	assert_memory_equal(back, data, 77);
	/* no temporary file is left behind */
	path_of(p, f, "persist/.agent.state.a.tmp");
	assert_int_not_equal(stat(p, &st), 0);
}

static void test_missing_blob(void **state)
{
	struct fx *f = *state;
	uint8_t buf[16];
	size_t len = 99;

	assert_int_equal(f->hal.persist_read(f->hal.ctx, "agent.state.b", buf,
	                                     sizeof(buf), &len),
	                 FL_E_NOT_FOUND);
	assert_int_equal(len, 0);
	len = 99;
	assert_int_equal(f->hal.userdata_read(f->hal.ctx, "nothing", buf,
	                                      sizeof(buf), &len),
	                 FL_E_NOT_FOUND);
	assert_int_equal(len, 0);
}

static void test_blob_names_stay_inside(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {"../escape",
	                                  "a/b",
	                                  ".hidden",
	                                  "",
	                                  "x y",
	                                  "0123456789012345678901234567890123"
	                                  "4567890123456789012345678901234"};
	uint8_t b = 1;
	size_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		        f->hal.persist_write(f->hal.ctx, bad[i], &b, 1),
		        FL_E_INVALID);
		assert_int_equal(
		        f->hal.persist_read(f->hal.ctx, bad[i], &b, 1, &len),
		        FL_E_INVALID);
	}
	assert_false(exists(f, "escape"));
}

/* True when the file at path holds the bytes of key anywhere. */
static bool file_holds(const char *path, const uint8_t *key, size_t n)
{
	uint8_t buf[4096];
	size_t len;
	FILE *fp = fopen(path, "rb");

	if (fp == NULL)
		return false;
	len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(buf + i, key, n) == 0)
			return true;
	return false;
}

static void test_secure_hardware(void **state)
{
	struct fx *f = *state;
	uint8_t fpk[32], fpk2[32], spk[32], kxpk[32], spk2[32], kxpk2[32];
	uint8_t sig[64], mac[32], server_pk[32], server_sk[32];
	uint8_t sealed[64 + FL_HAL_SEAL_OVERHEAD], opened[64];
	uint64_t ctr = 7;
	struct stat st;
	char p[512];

	/* the factory key was made at create: it signs, its secret stays */
	assert_int_equal(f->hal.tee_factory_pk(f->hal.ctx, fpk), FL_OK);
	assert_int_equal(f->hal.tee_factory_sign(
	                         f->hal.ctx, (const uint8_t *)"abc", 3, sig),
	                 FL_OK);
	assert_int_equal(fl_sign_verify(sig, "abc", 3, fpk), FL_OK);
	path_of(p, f, "tee/rom");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* before enrollment: no MAC key, no pending pair */
	assert_int_equal(
	        f->hal.tee_mac(f->hal.ctx, (const uint8_t *)"x", 1, mac),
	        FL_E_NOT_FOUND);
	assert_int_equal(f->hal.tee_pending(f->hal.ctx, spk, kxpk),
	                 FL_E_NOT_FOUND);
	assert_int_equal(f->hal.tee_keygen(f->hal.ctx, spk, kxpk), FL_OK);
	assert_int_equal(f->hal.tee_pending(f->hal.ctx, spk2, kxpk2), FL_OK);
	assert_memory_equal(spk, spk2, 32);
	assert_memory_equal(kxpk, kxpk2, 32);
	assert_int_equal(
	        f->hal.tee_sign(f->hal.ctx, (const uint8_t *)"abc", 3, sig),
	        FL_OK);
	assert_int_equal(fl_sign_verify(sig, "abc", 3, spk), FL_OK);

	/* enrollment: the phone's MAC key equals the one the server derives
	 * from its side of the key exchange */
	fl_kx_keypair(server_pk, server_sk);
	assert_int_equal(f->hal.tee_enroll(f->hal.ctx, server_pk), FL_OK);
	{
		uint8_t shared[32], mk[32], oc[32], want[32];
		assert_int_equal(
		        fl_kx_shared(shared, 1, server_pk, server_sk, kxpk),
		        FL_OK);
		assert_int_equal(fl_dp_derive(shared, mk, oc), FL_OK);
		assert_int_equal(
		        fl_blake2b(want, 32, mk, 32, (const uint8_t *)"abc", 3),
		        FL_OK);
		assert_int_equal(f->hal.tee_mac(f->hal.ctx,
		                                (const uint8_t *)"abc", 3, mac),
		                 FL_OK);
		assert_memory_equal(mac, want, 32);
		/* nothing outside the secure hardware holds the key */
		path_of(p, f, "persist/agent.state.a");
		assert_false(file_holds(p, mk, 32));
	}

	/* sealing: the phone opens what it sealed, and nothing else */
	assert_int_equal(f->hal.tee_seal(f->hal.ctx, (const uint8_t *)"ad", 2,
	                                 (const uint8_t *)"secret state", 12,
	                                 sealed),
	                 FL_OK);
	assert_int_equal(f->hal.tee_unseal(f->hal.ctx, (const uint8_t *)"ad", 2,
	                                   sealed, 12 + FL_HAL_SEAL_OVERHEAD,
	                                   opened),
	                 FL_OK);
	assert_memory_equal(opened, "secret state", 12);
	assert_int_equal(f->hal.tee_unseal(f->hal.ctx, (const uint8_t *)"AD", 2,
	                                   sealed, 12 + FL_HAL_SEAL_OVERHEAD,
	                                   opened),
	                 FL_E_CORRUPT);
	sealed[30] ^= 1;
	assert_int_equal(f->hal.tee_unseal(f->hal.ctx, (const uint8_t *)"ad", 2,
	                                   sealed, 12 + FL_HAL_SEAL_OVERHEAD,
	                                   opened),
	                 FL_E_CORRUPT);

	/* the counter only goes up */
	assert_int_equal(f->hal.tee_counter(f->hal.ctx, &ctr), FL_OK);
	assert_int_equal(ctr, 0);
	assert_int_equal(f->hal.tee_counter_raise(f->hal.ctx, 5), FL_OK);
	assert_int_equal(f->hal.tee_counter_raise(f->hal.ctx, 3), FL_OK);
	assert_int_equal(f->hal.tee_counter(f->hal.ctx, &ctr), FL_OK);
	assert_int_equal(ctr, 5);

	/* a reopened phone is the same secure hardware */
	reopen(f);
	assert_int_equal(f->hal.tee_factory_pk(f->hal.ctx, fpk2), FL_OK);
	assert_memory_equal(fpk, fpk2, 32);
	assert_int_equal(f->hal.tee_counter(f->hal.ctx, &ctr), FL_OK);
	assert_int_equal(ctr, 5);
}

static void test_secure_hardware_damaged(void **state)
{
	struct fx *f = *state;
	uint8_t mac[32];
	char p[512];
	FILE *fp;

	path_of(p, f, "tee/keys");
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("garbage", fp);
	fclose(fp);
	assert_int_equal(
	        f->hal.tee_mac(f->hal.ctx, (const uint8_t *)"x", 1, mac),
	        FL_E_IO);
}

/* Fills persist, userdata and the secure hardware with one item each. */
static void fill(struct fx *f)
{
	uint8_t spk[32], kxpk[32];

	assert_int_equal(
	        f->hal.persist_write(f->hal.ctx, "p1", (const uint8_t *)"P", 1),
	        FL_OK);
	assert_int_equal(f->hal.userdata_write(f->hal.ctx, "u1",
	                                       (const uint8_t *)"U", 1),
	                 FL_OK);
	assert_int_equal(f->hal.tee_keygen(f->hal.ctx, spk, kxpk), FL_OK);
	assert_int_equal(f->hal.tee_counter_raise(f->hal.ctx, 9), FL_OK);
	assert_int_equal(dev_phone_set_tamper(f->phone, FL_HAL_TAMPER_ROOTED),
	                 FL_OK);
}

static void test_factory_reset_wipes_userdata_only(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64];
	size_t len;
	uint64_t ms, boot1, boot2;
	uint32_t tamper = 0;

	fill(f);
	assert_int_equal(f->hal.mono(f->hal.ctx, &ms, &boot1), FL_OK);
	assert_int_equal(dev_phone_factory_reset(f->phone), FL_OK);
	reopen(f);
	assert_int_equal(
	        f->hal.userdata_read(f->hal.ctx, "u1", buf, sizeof(buf), &len),
	        FL_E_NOT_FOUND);
	assert_int_equal(
	        f->hal.persist_read(f->hal.ctx, "p1", buf, sizeof(buf), &len),
	        FL_OK);
	assert_int_equal(f->hal.tee_pending(f->hal.ctx, buf, buf + 32), FL_OK);
	assert_int_equal(f->hal.tamper(f->hal.ctx, &tamper), FL_OK);
	assert_int_equal(tamper, FL_HAL_TAMPER_ROOTED);
	/* it rebooted: a new boot id */
	assert_int_equal(f->hal.mono(f->hal.ctx, &ms, &boot2), FL_OK);
	assert_true(boot1 != boot2);
}

static void test_reflash_wipes_persist_and_agent_keys(void **state)
{
	struct fx *f = *state;
	struct fl_hal_device dev;
	char iccid[FL_HAL_ICCID_MAX + 1];
	uint8_t buf[64];
	uint32_t tamper = 1;
	size_t len;

	fill(f);
	assert_int_equal(dev_phone_set_server(f->phone, "http://lender:1"),
	                 FL_OK);
	assert_int_equal(dev_phone_reflash(f->phone), FL_OK);
	reopen(f);
	assert_int_equal(
	        f->hal.persist_read(f->hal.ctx, "p1", buf, sizeof(buf), &len),
	        FL_E_NOT_FOUND);
	/* the agent's keys are gone; the factory key and the counter stay */
	assert_int_equal(f->hal.tee_pending(f->hal.ctx, buf, buf + 32),
	                 FL_E_NOT_FOUND);
	assert_false(exists(f, "tee/keys"));
	assert_int_equal(f->hal.tee_factory_pk(f->hal.ctx, buf), FL_OK);
	{
		uint64_t ctr = 0;
		assert_int_equal(f->hal.tee_counter(f->hal.ctx, &ctr), FL_OK);
		assert_int_equal(ctr, 9);
	}
	assert_int_equal(
	        f->hal.userdata_read(f->hal.ctx, "u1", buf, sizeof(buf), &len),
	        FL_E_NOT_FOUND);
	/* a fresh image is not rooted; the factory image and SIM stay */
	assert_int_equal(f->hal.tamper(f->hal.ctx, &tamper), FL_OK);
	assert_int_equal(tamper, 0);
	assert_int_equal(f->hal.device(f->hal.ctx, &dev), FL_OK);
	assert_int_equal(dev.n_imei, 2);
	assert_string_equal(dev.imei[0], IMEI1);
	assert_string_equal(dev.imei[1], IMEI2);
	assert_string_equal(dev.serial, "R58N12ABCDE");
	assert_int_equal(f->hal.sim_iccid(f->hal.ctx, iccid), FL_OK);
	assert_string_equal(iccid, "8925402000000000001");
	/* the enrolled server was on the wiped partition */
	{
		char url[DEV_URL_MAX + 1];
		dev_hal_server(f->h, url);
		assert_string_equal(url, "");
	}
}

static void test_clock_offset(void **state)
{
	struct fx *f = *state;
	fl_time now = 0;
	time_t sys;

	sys = time(NULL);
	assert_int_equal(f->hal.wall(f->hal.ctx, &now), FL_OK);
	assert_true(now >= sys && now <= sys + 2);

	assert_int_equal(dev_phone_set_clock_offset(f->phone, 40 * FL_DAY),
	                 FL_OK);
	sys = time(NULL);
	assert_int_equal(f->hal.wall(f->hal.ctx, &now), FL_OK);
	assert_true(now >= sys + 40 * FL_DAY && now <= sys + 40 * FL_DAY + 2);

	assert_int_equal(dev_phone_set_clock_offset(f->phone, -3600), FL_OK);
	sys = time(NULL);
	assert_int_equal(f->hal.wall(f->hal.ctx, &now), FL_OK);
	assert_true(now >= sys - 3600 && now <= sys - 3600 + 2);

	assert_int_equal(dev_phone_set_clock_offset(f->phone, 0), FL_OK);
	sys = time(NULL);
	assert_int_equal(f->hal.wall(f->hal.ctx, &now), FL_OK);
	assert_true(now >= sys && now <= sys + 2);
}

static void test_mono_and_boot_id(void **state)
{
	struct fx *f = *state;
	uint64_t ms1, ms2, b1, b2, b3;

	assert_int_equal(f->hal.mono(f->hal.ctx, &ms1, &b1), FL_OK);
	devt_sleep_ms(30);
	assert_int_equal(f->hal.mono(f->hal.ctx, &ms2, &b2), FL_OK);
	assert_true(ms2 >= ms1 + 25);
	assert_true(b1 == b2); /* the same boot across calls and processes */
	assert_int_equal(dev_phone_reboot(f->phone), FL_OK);
	assert_int_equal(f->hal.mono(f->hal.ctx, &ms2, &b3), FL_OK);
	assert_true(b3 != b1);
}

static void test_signals(void **state)
{
	struct fx *f = *state;
	char iccid[FL_HAL_ICCID_MAX + 1];
	uint32_t t = 9;

	assert_int_equal(f->hal.sim_iccid(f->hal.ctx, iccid), FL_OK);
	assert_string_equal(iccid, "8925402000000000001");
	assert_int_equal(dev_phone_set_iccid(f->phone, "89254020000000000099"),
	                 FL_OK);
	assert_int_equal(f->hal.sim_iccid(f->hal.ctx, iccid), FL_OK);
	assert_string_equal(iccid, "89254020000000000099");
	assert_int_equal(dev_phone_set_iccid(f->phone, ""), FL_OK);
	assert_int_equal(f->hal.sim_iccid(f->hal.ctx, iccid), FL_OK);
	assert_string_equal(iccid, "");
	assert_int_equal(dev_phone_set_iccid(f->phone, "12ab"), FL_E_INVALID);

	assert_int_equal(f->hal.tamper(f->hal.ctx, &t), FL_OK);
	assert_int_equal(t, 0);
	assert_int_equal(dev_phone_set_tamper(f->phone,
	                                      FL_HAL_TAMPER_ROOTED |
	                                              FL_HAL_TAMPER_BOOTLOADER),
	                 FL_OK);
	assert_int_equal(f->hal.tamper(f->hal.ctx, &t), FL_OK);
	assert_int_equal(t, FL_HAL_TAMPER_ROOTED | FL_HAL_TAMPER_BOOTLOADER);
}

static json_t *load_json(const struct fx *f, const char *rel)
{
	char p[512];
	char *text;
	json_t *j;

	path_of(p, f, rel);
	text = devt_read_file(p);
	if (text == NULL)
		return NULL;
	j = json_loads(text, 0, NULL);
	free(text);
	return j;
}

static void test_records(void **state)
{
	struct fx *f = *state;
	const char *apps[] = {"com.acme.pay", "com.acme.help"};
	const char *phones[] = {"+254700000001"};
	struct fl_hal_policy p = {0};
	struct fl_agent_screen scr = {0};
	const struct dev_applied *ap;
	json_t *j, *list;

	p.restrict_mask = FL_R_CAMERA | FL_R_SMS;
	p.guaranteed = FL_G_ALL;
	p.allow_apps = apps;
	p.n_allow_apps = 2;
	p.lender_phones = phones;
	p.n_lender_phones = 1;
	assert_int_equal(f->hal.apply(f->hal.ctx, &p), FL_OK);
	ap = dev_hal_applied(f->h);
	assert_true(ap->valid);
	assert_int_equal(ap->mask, FL_R_CAMERA | FL_R_SMS);
	assert_int_equal(ap->n_apps, 2);
	assert_string_equal(ap->apps[1], "com.acme.help");
	j = load_json(f, "run/" DEV_POLICY_RECORD);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "mask")),
	                 FL_R_CAMERA | FL_R_SMS);
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(j, "lender_phones"), 0)),
	                    "+254700000001");
	json_decref(j);
	/* a new process on the same boot knows what is enforced */
	reopen(f);
	assert_true(dev_hal_applied(f->h)->valid);
	assert_int_equal(dev_hal_applied(f->h)->mask, FL_R_CAMERA | FL_R_SMS);

	scr.locked = true;
	scr.amount_due = 1500;
	strcpy(scr.currency, "KES");
	strcpy(scr.message, "locked for a test");
	f->hal.show(f->hal.ctx, &scr);
	j = load_json(f, "run/" DEV_SCREEN_RECORD);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "locked")));
	assert_int_equal(json_integer_value(json_object_get(j, "amount_due")),
	                 1500);
	assert_string_equal(json_string_value(json_object_get(j, "message")),
	                    "locked for a test");
	json_decref(j);

	f->hal.reminder(f->hal.ctx, "pay by Friday");
	f->hal.notice(f->hal.ctx, "SIM changed");
	j = load_json(f, "userdata/" DEV_NOTIFY_RECORD);
	list = json_object_get(j, "notifications");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(list, 0), "kind")),
	                    "reminder");
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(list, 1), "text")),
	                    "SIM changed");
	json_decref(j);
	for (int i = 0; i < DEV_HAL_NOTIFICATIONS + 5; i++)
		f->hal.notice(f->hal.ctx, "again");
	j = load_json(f, "userdata/" DEV_NOTIFY_RECORD);
	assert_int_equal(json_array_size(json_object_get(j, "notifications")),
	                 DEV_HAL_NOTIFICATIONS);
	json_decref(j);

	/* a reboot clears what the running phone enforced */
	assert_int_equal(dev_phone_reboot(f->phone), FL_OK);
	reopen(f);
	assert_false(dev_hal_applied(f->h)->valid);
}

/* A listening socket nobody answers on: a request that reaches it shows
 * up as a pending connection. */
static int listener(unsigned *port)
{
	struct sockaddr_in sa = {0};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, 4) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_offline_refuses_network(void **state)
{
	struct fx *f = *state;
	struct fl_hal_request req = {0};
	struct fl_hal_response resp;
	const struct dev_net_result *n;
	char url[64];
	unsigned port = 0;
	int lfd = listener(&port), c;

	assert_true(lfd >= 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	assert_int_equal(dev_phone_set_server(f->phone, url), FL_OK);
	req.method = "GET";
	req.path = "/v1/device/wait?seq=1";
	req.timeout_s = 1;
	req.max_body = 1024;

	assert_int_equal(dev_phone_set_offline(f->phone, true), FL_OK);
	assert_int_equal(f->hal.http(f->hal.ctx, &req, &resp), FL_E_NET);
	assert_null(resp.body);
	n = dev_hal_net(f->h);
	assert_true(n->attempted);
	assert_true(n->offline);
	devt_sleep_ms(100);
	c = accept(lfd, NULL, NULL);
	assert_int_equal(c, -1); /* nothing touched the network */

	/* online, the same request reaches the socket (and times out) */
	assert_int_equal(dev_phone_set_offline(f->phone, false), FL_OK);
	assert_int_equal(f->hal.http(f->hal.ctx, &req, &resp), FL_E_NET);
	assert_false(dev_hal_net(f->h)->offline);
	c = accept(lfd, NULL, NULL);
	assert_true(c >= 0);
	close(c);
	close(lfd);
}

static void test_no_server_is_offline(void **state)
{
	struct fx *f = *state;
	struct fl_hal_request req = {0};
	struct fl_hal_response resp;

	req.method = "POST";
	req.path = "/v1/device/lookup";
	req.body = "{}";
	req.body_len = 2;
	req.timeout_s = 1;
	assert_int_equal(f->hal.http(f->hal.ctx, &req, &resp), FL_E_NET);
	assert_true(dev_hal_net(f->h)->offline);
}

static void test_factory_image_refuses_overwrite(void **state)
{
	struct fx *f = *state;
	struct dev_factory fac = *dev_phone_factory(f->phone);

	assert_int_equal(dev_phone_create(f->dir, &fac, "", false),
	                 FL_E_CONFLICT);
	fac.dev.n_imei = 1;
	assert_int_equal(dev_phone_create(f->dir, &fac, "", true), FL_OK);
	reopen(f);
	assert_int_equal(dev_phone_factory(f->phone)->dev.n_imei, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_blobs_round_trip, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_missing_blob, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_blob_names_stay_inside,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_secure_hardware, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_secure_hardware_damaged,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_factory_reset_wipes_userdata_only, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                test_reflash_wipes_persist_and_agent_keys, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_clock_offset, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_mono_and_boot_id, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_signals, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_offline_refuses_network,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_server_is_offline,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_factory_image_refuses_overwrite, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
