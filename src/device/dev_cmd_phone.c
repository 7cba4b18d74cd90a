/*
 * dev_cmd_phone.c - commands that make a phone or change its world:
 * create, factory-reset, reflash, set-clock, swap-sim, root, offline,
 * reboot.
 *
 * Each change is made under the phone's lock (a running `run` yields),
 * then the agent is opened on the changed phone and given a tick, so it
 * sees the new clock, SIM or tamper signal at once, and the status
 * snapshot shows the result when the command returns.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fltime.h"
#include "core/imei.h"
#include "core/paserk.h"
#include "device/dev_files.h"
#include "device/dev_hal.h"
#include "device/dev_lock.h"
#include "device/dev_phone.h"
#include "device/device.h"

#define OPT_DIR                                                                \
	{                                                                      \
		"dir", required_argument, NULL, 'd'                            \
	}
#define OPT_HELP                                                               \
	{                                                                      \
		"help", no_argument, NULL, 'h'                                 \
	}
#define OPT_END                                                                \
	{                                                                      \
		NULL, 0, NULL, 0                                               \
	}

/* Parses the options every world command has (--dir, --help) and no
 * others; *help is set for --help. Returns DEV_OK or DEV_USAGE. */
static int common_opts(const char *cmd, int argc, char **argv, bool *help)
{
	static const struct option opts[] = {OPT_DIR, OPT_HELP, OPT_END};
	int c;

	*help = false;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dev_set_dir(optarg);
			break;
		case 'h':
			*help = true;
			break;
		default:
			return dev_bad_option(cmd, argv);
		}
	}
	return DEV_OK;
}

/* A change to the phone, made under its lock before the agent opens. */
typedef fl_err (*change_fn)(struct dev_phone *p, const void *arg);

/* Applies fn to the phone, then lets the agent see it (open, tick,
 * snapshot). Returns the exit code; what: words for messages. */
static int apply_change(const char *what, change_fn fn, const void *arg)
{
	const char *dir = dev_dir();
	struct dev_session s = {.lock_fd = -1};
	struct dev_phone *p = NULL;
	fl_err err;
	int rc;

	if (!dev_phone_exists(dir))
		return dev_open_failed(dir, FL_E_NOT_FOUND);
	err = dev_lock_acquire(dir, DEV_LOCK_WAIT_MS, &s.lock_fd);
	if (err)
		return dev_open_failed(dir, err);
	err = dev_phone_open(&p, dir);
	if (err) {
		rc = dev_open_failed(dir, err);
		goto out;
	}
	err = fn(p, arg);
	dev_phone_close(p);
	if (err) {
		dev_err("%s: %s", what, fl_strerror(err));
		rc = DEV_REFUSED;
		goto out;
	}
	rc = dev_session_attach(&s, dir, NULL);
	if (rc != DEV_OK)
		goto out;
	err = fl_agent_tick(s.agent);
	if (err) {
		dev_err("%s: the agent could not take it in: %s", what,
		        fl_strerror(err));
		rc = DEV_REFUSED;
	}
out:
	dev_session_close(&s);
	return rc;
}

/* --- create --------------------------------------------------------------- */

static const char create_usage[] =
        "usage: finlock-device create --trust K4PUBLIC --imei IMEI "
        "[--imei2 IMEI]\n"
        "                             --serial SERIAL [--server URL] "
        "[--iccid ICCID]\n"
        "                             [--force] [--dir DIR]\n"
        "\n"
        "Makes a new phone, as the factory would: its image holds the "
        "operator's\n"
        "root public key (K4PUBLIC: a k4.public string, or a file whose "
        "first line\n"
        "is one), the IMEIs and the serial number, and optionally the "
        "server it\n"
        "looks itself up on at setup. ICCID is the SIM it comes with "
        "(default: one\n"
        "made from the IMEI; 'none' for no SIM). An existing phone in DIR "
        "is\n"
        "refused unless --force, which wipes it first.\n";

/* The Luhn check digit for digits[n]. */
static char luhn(const char *digits, size_t n)
{
	int sum = 0;

	for (size_t i = 0; i < n; i++) {
		int d = digits[n - 1 - i] - '0';
		if (i % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

/* A plausible ICCID for a phone's first SIM: "8901", the IMEI, a Luhn
 * digit (20 digits). */
static void default_iccid(const char *imei, char out[FL_HAL_ICCID_MAX + 1])
{
	snprintf(out, FL_HAL_ICCID_MAX + 1, "8901%s", imei);
	out[19] = luhn(out, 19);
	out[20] = '\0';
}

/* Reads a k4.public from the argument or from the first line of the file
 * it names. */
static fl_err parse_trust(const char *arg, uint8_t pk[FL_SIGN_PK_LEN])
{
	char line[512];
	FILE *f;
	size_t n;

	if (strncmp(arg, "k4.", 3) == 0)
		return fl_paserk_public_decode(pk, arg, strlen(arg));
	f = fopen(arg, "r");
	if (f == NULL)
		return FL_E_NOT_FOUND;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	return fl_paserk_public_decode(pk, line, n);
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < ' ' || *s > '~')
			return false;
	return true;
}

int dev_cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"trust", required_argument, NULL, 't'},
	        {"imei", required_argument, NULL, 'i'},
	        {"imei2", required_argument, NULL, 'j'},
	        {"serial", required_argument, NULL, 's'},
	        {"server", required_argument, NULL, 'u'},
	        {"iccid", required_argument, NULL, 'c'},
	        {"force", no_argument, NULL, 'f'},
	        OPT_DIR,
	        OPT_HELP,
	        OPT_END};
	const char *trust = NULL, *imei = NULL, *imei2 = NULL, *serial = NULL;
	const char *server = NULL, *iccid = NULL, *dir;
	struct dev_factory f = {0};
	char sim[FL_HAL_ICCID_MAX + 1];
	struct dev_session s = {.lock_fd = -1};
	bool force = false;
	fl_err err;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			trust = optarg;
			break;
		case 'i':
			imei = optarg;
			break;
		case 'j':
			imei2 = optarg;
			break;
		case 's':
			serial = optarg;
			break;
		case 'u':
			server = optarg;
			break;
		case 'c':
			iccid = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'd':
			dev_set_dir(optarg);
			break;
		case 'h':
			fputs(create_usage, stdout);
			return DEV_OK;
		default:
			return dev_bad_option("create", argv);
		}
	}
	if (optind < argc) {
		dev_err("create: unexpected argument '%s'", argv[optind]);
		return DEV_USAGE;
	}
	if (trust == NULL || imei == NULL || serial == NULL) {
		dev_err("create: --trust, --imei and --serial are required "
		        "(try 'finlock-device create --help')");
		return DEV_USAGE;
	}
	dir = dev_dir();

	/* Everything is checked before anything is written. */
	err = parse_trust(trust, f.root_pk);
	if (err) {
		dev_err("create: --trust is not a k4.public root key: %s",
		        fl_strerror(err));
		return DEV_REFUSED;
	}
	err = fl_imei_parse(imei, strlen(imei), f.dev.imei[0]);
	if (err) {
		dev_err("create: invalid IMEI '%s': %s", imei,
		        fl_strerror(err));
		return DEV_REFUSED;
	}
	f.dev.n_imei = 1;
	if (imei2 != NULL) {
		err = fl_imei_parse(imei2, strlen(imei2), f.dev.imei[1]);
		if (err) {
			dev_err("create: invalid second IMEI '%s': %s", imei2,
			        fl_strerror(err));
			return DEV_REFUSED;
		}
		if (strcmp(f.dev.imei[0], f.dev.imei[1]) == 0) {
			dev_err("create: the two IMEIs are the same");
			return DEV_REFUSED;
		}
		f.dev.n_imei = 2;
	}
	if (strlen(serial) > FL_HAL_SERIAL_MAX || !printable(serial)) {
		dev_err("create: the serial number must be at most %d "
		        "printable characters",
		        FL_HAL_SERIAL_MAX);
		return DEV_REFUSED;
	}
	strcpy(f.dev.serial, serial);
	if (server != NULL) {
		if (dev_url_check(server) != FL_OK) {
			dev_err("create: --server must be an http:// or "
			        "https:// URL");
			return DEV_REFUSED;
		}
		strcpy(f.server, server);
	}
	if (iccid == NULL)
		default_iccid(f.dev.imei[0], sim);
	else if (strcmp(iccid, "none") == 0)
		sim[0] = '\0';
	else if (strlen(iccid) <= FL_HAL_ICCID_MAX &&
	         dev_iccid_check(iccid) == FL_OK)
		strcpy(sim, iccid);
	else {
		dev_err("create: an ICCID is 18 to 22 digits (or 'none')");
		return DEV_REFUSED;
	}
	if (dev_phone_exists(dir) && !force) {
		dev_err("create: %s already holds a phone (--force replaces "
		        "it)",
		        dir);
		return DEV_REFUSED;
	}

	if (dev_dir_make_all(dir) != FL_OK) {
		dev_err("create: cannot make the directory %s", dir);
		return DEV_REFUSED;
	}
	err = dev_lock_acquire(dir, DEV_LOCK_WAIT_MS, &s.lock_fd);
	if (err)
		return dev_open_failed(dir, err);
	err = dev_phone_create(dir, &f, sim, force);
	if (err == FL_E_CONFLICT) {
		dev_err("create: %s already holds a phone (--force replaces "
		        "it)",
		        dir);
		rc = DEV_REFUSED;
		goto out;
	}
	if (err) {
		dev_err("create: cannot write the phone in %s: %s", dir,
		        fl_strerror(err));
		rc = DEV_REFUSED;
		goto out;
	}
	/* The first boot: the agent finds an empty partition and shows the
	 * setup screen. */
	rc = dev_session_attach(&s, dir, NULL);
	if (rc != DEV_OK)
		goto out;
	printf("created phone in %s: IMEI %s%s%s, serial %s, SIM %s\n", dir,
	       f.dev.imei[0], f.dev.n_imei > 1 ? " / " : "",
	       f.dev.n_imei > 1 ? f.dev.imei[1] : "", f.dev.serial,
	       sim[0] ? sim : "none");
out:
	dev_session_close(&s);
	return rc;
}

/* --- factory-reset, reflash, reboot --------------------------------------- */

static fl_err do_factory_reset(struct dev_phone *p, const void *arg)
{
	(void)arg;
	return dev_phone_factory_reset(p);
}

static fl_err do_reflash(struct dev_phone *p, const void *arg)
{
	(void)arg;
	return dev_phone_reflash(p);
}

static fl_err do_reboot(struct dev_phone *p, const void *arg)
{
	(void)arg;
	return dev_phone_reboot(p);
}

static int no_args_cmd(const char *cmd, const char *usage, int argc,
                       char **argv, change_fn fn, const char *done)
{
	bool help;
	int rc = common_opts(cmd, argc, argv, &help);

	if (rc != DEV_OK)
		return rc;
	if (help) {
		fputs(usage, stdout);
		return DEV_OK;
	}
	if (optind < argc) {
		dev_err("%s: unexpected argument '%s'", cmd, argv[optind]);
		return DEV_USAGE;
	}
	rc = apply_change(cmd, fn, NULL);
	if (rc == DEV_OK)
		printf("%s\n", done);
	return rc;
}

int dev_cmd_factory_reset(int argc, char **argv)
{
	static const char usage[] =
	        "usage: finlock-device factory-reset [--dir DIR]\n"
	        "\n"
	        "Factory reset from the phone's settings: wipes the user-data "
	        "partition\n"
	        "and reboots. The persistent partition and the keystore stay, "
	        "so a lock\n"
	        "stays too.\n";

	return no_args_cmd("factory-reset", usage, argc, argv, do_factory_reset,
	                   "factory reset: user data wiped, phone rebooted");
}

int dev_cmd_reflash(int argc, char **argv)
{
	static const char usage[] =
	        "usage: finlock-device reflash [--dir DIR]\n"
	        "\n"
	        "Installs a fresh OS image: wipes the persistent partition, "
	        "the keystore\n"
	        "and user data, clears root, and reboots. Only the factory "
	        "image stays:\n"
	        "at the next start the phone looks itself up on the server "
	        "before it\n"
	        "finishes setup, so a locked phone stays locked.\n";

	return no_args_cmd("reflash", usage, argc, argv, do_reflash,
	                   "reflashed: only the factory image remains, phone "
	                   "rebooted");
}

int dev_cmd_reboot(int argc, char **argv)
{
	static const char usage[] =
	        "usage: finlock-device reboot [--dir DIR]\n"
	        "\n"
	        "Restarts the phone: a new boot id, so the monotonic clock the "
	        "agent\n"
	        "measures trusted time with starts over.\n";

	return no_args_cmd("reboot", usage, argc, argv, do_reboot, "rebooted");
}

/* --- set-clock ------------------------------------------------------------ */

static fl_err do_set_clock(struct dev_phone *p, const void *arg)
{
	return dev_phone_set_clock_offset(p, *(const int64_t *)arg);
}

int dev_cmd_set_clock(int argc, char **argv)
{
	static const char usage[] =
	        "usage: finlock-device set-clock TIME|reset [--dir DIR]\n"
	        "\n"
	        "Sets the phone's wall clock to TIME (RFC 3339, e.g. "
	        "2026-12-01T09:00:00Z);\n"
	        "it keeps running from there. 'reset' makes it follow the "
	        "system clock\n"
	        "again. The agent locks on the later of this clock and its "
	        "trusted time,\n"
	        "so setting the clock back never postpones a lock.\n";
	char when[FL_TIME_STR_LEN];
	int64_t offset = 0;
	fl_time t = 0;
	bool help;
	int rc = common_opts("set-clock", argc, argv, &help);

	if (rc != DEV_OK)
		return rc;
	if (help) {
		fputs(usage, stdout);
		return DEV_OK;
	}
	if (argc - optind != 1) {
		dev_err("set-clock: give one TIME (RFC 3339) or 'reset'");
		return DEV_USAGE;
	}
	if (strcmp(argv[optind], "reset") != 0) {
		fl_err err =
		        fl_time_parse(argv[optind], strlen(argv[optind]), &t);
		if (err || t < 0) {
			dev_err("set-clock: '%s' is not an RFC 3339 time: %s",
			        argv[optind],
			        fl_strerror(err ? err : FL_E_TIME_INVALID));
			return DEV_REFUSED;
		}
		offset = t - (int64_t)dev_host_time();
	}
	rc = apply_change("set-clock", do_set_clock, &offset);
	if (rc != DEV_OK)
		return rc;
	if (offset == 0 && t == 0) {
		printf("clock follows the system clock\n");
	} else {
		fl_time_format(t, when);
		printf("clock set to %s (%+" PRId64 " s from the system "
		       "clock)\n",
		       when, offset);
	}
	return DEV_OK;
}

/* --- swap-sim ------------------------------------------------------------- */

static fl_err do_swap_sim(struct dev_phone *p, const void *arg)
{
	return dev_phone_set_iccid(p, arg);
}

int dev_cmd_swap_sim(int argc, char **argv)
{
	static const char usage[] =
	        "usage: finlock-device swap-sim ICCID|none [--dir DIR]\n"
	        "\n"
	        "Takes the SIM out and puts the SIM with ICCID (18 to 22 "
	        "digits) in, or\n"
	        "leaves the slot empty ('none'). The agent reports the change "
	        "at its next\n"
	        "check-in and reacts as the lender's SIM policy says.\n";
	char iccid[FL_HAL_ICCID_MAX + 1] = "";
	const char *arg;
	bool help;
	int rc = common_opts("swap-sim", argc, argv, &help);

	if (rc != DEV_OK)
		return rc;
	if (help) {
		fputs(usage, stdout);
		return DEV_OK;
	}
	if (argc - optind != 1) {
		dev_err("swap-sim: give one ICCID or 'none'");
		return DEV_USAGE;
	}
	arg = argv[optind];
	if (strcmp(arg, "none") != 0) {
		if (strlen(arg) > FL_HAL_ICCID_MAX || arg[0] == '\0' ||
		    dev_iccid_check(arg) != FL_OK) {
			dev_err("swap-sim: an ICCID is 18 to 22 digits (or "
			        "'none')");
			return DEV_REFUSED;
		}
		strcpy(iccid, arg);
	}
	rc = apply_change("swap-sim", do_swap_sim, iccid);
	if (rc == DEV_OK) {
		if (iccid[0] != '\0')
			printf("SIM %s inserted\n", iccid);
		else
			printf("SIM removed\n");
	}
	return rc;
}

/* --- root ----------------------------------------------------------------- */

static fl_err do_root(struct dev_phone *p, const void *arg)
{
	uint32_t flags = 0;
	fl_err err = dev_phone_tamper(p, &flags);

	if (err == FL_E_CORRUPT)
		flags = 0;
	else if (err)
		return err;
	return dev_phone_set_tamper(p, flags | *(const uint32_t *)arg);
}

int dev_cmd_root(int argc, char **argv)
{
	static const char usage[] =
	        "usage: finlock-device root [--bootloader] [--dir DIR]\n"
	        "\n"
	        "Roots the phone: the platform reports the 'rooted' tamper "
	        "signal from now\n"
	        "on (until a reflash). --bootloader also unlocks the "
	        "bootloader\n"
	        "('bootloader_unlocked').\n";
	static const struct option opts[] = {
	        {"bootloader", no_argument, NULL, 'b'},
	        OPT_DIR,
	        OPT_HELP,
	        OPT_END};
	uint32_t flags = FL_HAL_TAMPER_ROOTED;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			flags |= FL_HAL_TAMPER_BOOTLOADER;
			break;
		case 'd':
			dev_set_dir(optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return DEV_OK;
		default:
			return dev_bad_option("root", argv);
		}
	}
	if (optind < argc) {
		dev_err("root: unexpected argument '%s'", argv[optind]);
		return DEV_USAGE;
	}
	rc = apply_change("root", do_root, &flags);
	if (rc == DEV_OK)
		printf("phone rooted%s\n", (flags & FL_HAL_TAMPER_BOOTLOADER)
		                                   ? ", bootloader unlocked"
		                                   : "");
	return rc;
}

/* --- offline -------------------------------------------------------------- */

static fl_err do_offline(struct dev_phone *p, const void *arg)
{
	return dev_phone_set_offline(p, *(const bool *)arg);
}

int dev_cmd_offline(int argc, char **argv)
{
	static const char usage[] =
	        "usage: finlock-device offline on|off [--dir DIR]\n"
	        "\n"
	        "Cuts the phone's network off (on) or restores it (off). While "
	        "offline\n"
	        "every request fails at once without touching the network; "
	        "the agent\n"
	        "keeps enforcing its token's lock_at on its own.\n";
	bool help, on;
	int rc = common_opts("offline", argc, argv, &help);

	if (rc != DEV_OK)
		return rc;
	if (help) {
		fputs(usage, stdout);
		return DEV_OK;
	}
	if (argc - optind != 1 || (strcmp(argv[optind], "on") != 0 &&
	                           strcmp(argv[optind], "off") != 0)) {
		dev_err("offline: say 'on' or 'off'");
		return DEV_USAGE;
	}
	on = strcmp(argv[optind], "on") == 0;
	rc = apply_change("offline", do_offline, &on);
	if (rc == DEV_OK)
		printf("%s\n", on ? "offline: the network is cut off"
		                  : "online: the network is back");
	return rc;
}
