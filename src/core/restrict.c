/*
 * restrict.c - restriction and guaranteed-capability names (see restrict.h).
 *
 * Both tables are indexed by bit position, so a name is one array access from
 * its bit and a parse is a scan of 16 (or 6) short strings. Names match
 * exactly: case matters and nothing is trimmed, because they are protocol
 * words, not prose.
 */
#include "core/restrict.h"

#include <string.h>

#define N_RESTRICTIONS 16
#define N_GUARANTEED   6

_Static_assert(FL_R_ALL == (UINT64_C(1) << N_RESTRICTIONS) - 1,
               "restriction table and FL_R_ALL disagree");
_Static_assert(FL_G_ALL == (UINT32_C(1) << N_GUARANTEED) - 1,
               "guaranteed table and FL_G_ALL disagree");

static const char *const restriction_names[N_RESTRICTIONS] = {
        "apps",           /* FL_R_APPS */
        "camera",         /* FL_R_CAMERA */
        "install_apps",   /* FL_R_INSTALL_APPS */
        "uninstall_apps", /* FL_R_UNINSTALL_APPS */
        "outgoing_calls", /* FL_R_OUTGOING_CALLS */
        "sms",            /* FL_R_SMS */
        "usb_transfer",   /* FL_R_USB_TRANSFER */
        "usb_debugging",  /* FL_R_USB_DEBUGGING */
        "safe_boot",      /* FL_R_SAFE_BOOT */
        "factory_reset",  /* FL_R_FACTORY_RESET */
        "add_user",       /* FL_R_ADD_USER */
        "bluetooth",      /* FL_R_BLUETOOTH */
        "hotspot",        /* FL_R_HOTSPOT */
        "settings",       /* FL_R_SETTINGS */
        "notifications",  /* FL_R_NOTIFICATIONS */
        "status_bar",     /* FL_R_STATUS_BAR */
};

static const char *const guaranteed_names[N_GUARANTEED] = {
        "emergency_calls",      /* FL_G_EMERGENCY_CALLS */
        "lender_calls",         /* FL_G_LENDER_CALLS */
        "dialer",               /* FL_G_DIALER */
        "wifi_settings",        /* FL_G_WIFI_SETTINGS */
        "mobile_data_settings", /* FL_G_DATA_SETTINGS */
        "payment_app",          /* FL_G_PAYMENT_APP */
};

/* The position of the single set bit of v below limit, or -1 if v is zero,
 * has several bits, or its bit is at or above limit. */
static int single_bit_index(uint64_t v, int limit)
{
	if (v == 0 || (v & (v - 1)) != 0)
		return -1;
	for (int i = 0; i < limit; i++)
		if (v == UINT64_C(1) << i)
			return i;
	return -1;
}

/* Index of name[len] in table[n], or -1. */
static int find(const char *const *table, int n, const char *name, size_t len)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < n; i++)
		if (strlen(table[i]) == len && memcmp(table[i], name, len) == 0)
			return i;
	return -1;
}

const char *fl_restrict_name(uint64_t bit)
{
	int i = single_bit_index(bit, N_RESTRICTIONS);
	return i < 0 ? NULL : restriction_names[i];
}

const char *fl_guaranteed_name(uint32_t bit)
{
	int i = single_bit_index(bit, N_GUARANTEED);
	return i < 0 ? NULL : guaranteed_names[i];
}

fl_err fl_restrict_parse(const char *name, size_t len, uint64_t *bit)
{
	int i;

	*bit = 0;
	i = find(restriction_names, N_RESTRICTIONS, name, len);
	if (i >= 0) {
		*bit = UINT64_C(1) << i;
		return FL_OK;
	}
	if (find(guaranteed_names, N_GUARANTEED, name, len) >= 0)
		return FL_E_RESTRICT_GUARANTEED;
	return FL_E_RESTRICT_UNKNOWN;
}

fl_err fl_restrict_parse_list(const char *const *names, size_t n,
                              uint64_t *mask, size_t *bad_index)
{
	uint64_t m = 0, bit;
	fl_err err = FL_OK;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *name = names[i];
		err = fl_restrict_parse(name, name ? strlen(name) : 0, &bit);
		if (err)
			goto out;
		m |= bit;
	}
out:
	*mask = err ? 0 : m;
	if (err && bad_index != NULL)
		*bad_index = i;
	return err;
}

void fl_restrict_each(uint64_t mask, void (*fn)(const char *name, void *ctx),
                      void *ctx)
{
	for (int i = 0; i < N_RESTRICTIONS; i++)
		if (mask & (UINT64_C(1) << i))
			fn(restriction_names[i], ctx);
}

fl_err fl_restrict_check_mask(uint64_t mask)
{
	return (mask & ~FL_R_ALL) ? FL_E_RESTRICT_UNKNOWN : FL_OK;
}
