/*
 * restrict.h - the names of what a lock may restrict on a phone.
 *
 * A restriction is a bit in a uint64_t mask. Names are the strings used in
 * tokens, the API and the policy ("camera", "install_apps", ...). Some
 * capabilities are guaranteed to the customer and can never be restricted
 * (docs/server.md "Guarantees to the customer"): emergency calls, calls to the
 * lender's numbers, the dialer, Wi-Fi and mobile-data settings and the
 * lender's payment app. Naming one of those where a restriction is expected is
 * FL_E_RESTRICT_GUARANTEED, never silently ignored.
 *
 * THREAD SAFETY: pure functions over constant tables; safe from any thread.
 */
#ifndef FL_RESTRICT_H
#define FL_RESTRICT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum fl_restriction {
	FL_R_APPS = 1u << 0,           /* launching apps not in allow_apps */
	FL_R_CAMERA = 1u << 1,         /* camera */
	FL_R_INSTALL_APPS = 1u << 2,   /* installing apps */
	FL_R_UNINSTALL_APPS = 1u << 3, /* uninstalling apps */
	FL_R_OUTGOING_CALLS = 1u
	                      << 4,   /* calls other than the guaranteed ones */
	FL_R_SMS = 1u << 5,           /* sending SMS */
	FL_R_USB_TRANSFER = 1u << 6,  /* USB file transfer */
	FL_R_USB_DEBUGGING = 1u << 7, /* adb / developer options */
	FL_R_SAFE_BOOT = 1u << 8,     /* booting into safe mode */
	FL_R_FACTORY_RESET = 1u << 9, /* factory reset from settings */
	FL_R_ADD_USER = 1u << 10,     /* adding users or profiles */
	FL_R_BLUETOOTH = 1u << 11,    /* bluetooth */
	FL_R_HOTSPOT = 1u << 12,      /* tethering and hotspot */
	FL_R_SETTINGS = 1u << 13,     /* settings other than Wi-Fi and data */
	FL_R_NOTIFICATIONS = 1u << 14, /* notifications from other apps */
	FL_R_STATUS_BAR = 1u << 15,    /* pulling down the status bar */
};

/* Every defined restriction bit. */
#define FL_R_ALL ((uint64_t)0xffff)

/* The restrictions a lock applies when the policy names none. */
#define FL_R_DEFAULT_LOCK                                                      \
	((uint64_t)(FL_R_APPS | FL_R_CAMERA | FL_R_INSTALL_APPS |              \
	            FL_R_UNINSTALL_APPS | FL_R_OUTGOING_CALLS | FL_R_SMS |     \
	            FL_R_USB_TRANSFER | FL_R_USB_DEBUGGING | FL_R_SAFE_BOOT |  \
	            FL_R_FACTORY_RESET | FL_R_ADD_USER | FL_R_HOTSPOT |        \
	            FL_R_SETTINGS | FL_R_NOTIFICATIONS | FL_R_STATUS_BAR))

/* Names of the guaranteed capabilities, as they appear in requests. */
enum fl_guaranteed {
	FL_G_EMERGENCY_CALLS = 1u << 0, /* "emergency_calls" */
	FL_G_LENDER_CALLS = 1u << 1,    /* "lender_calls" */
	FL_G_DIALER = 1u << 2,          /* "dialer" */
	FL_G_WIFI_SETTINGS = 1u << 3,   /* "wifi_settings" */
	FL_G_DATA_SETTINGS = 1u << 4,   /* "mobile_data_settings" */
	FL_G_PAYMENT_APP = 1u << 5,     /* "payment_app" */
};
#define FL_G_ALL ((uint32_t)0x3f)

/* The name of one restriction bit, or NULL if bit is not exactly one
 * defined restriction. */
const char *fl_restrict_name(uint64_t bit);

/* Parses one name into its bit. FL_E_RESTRICT_GUARANTEED for a guaranteed
 * capability, FL_E_RESTRICT_UNKNOWN for anything else unknown. */
fl_err fl_restrict_parse(const char *name, size_t len,
                         uint64_t *bit) FL_MUST_USE;

/* Parses n names into a mask (duplicates allowed). On error *mask is 0 and
 * *bad_index (if not NULL) is the index of the offending name. */
fl_err fl_restrict_parse_list(const char *const *names, size_t n,
                              uint64_t *mask, size_t *bad_index) FL_MUST_USE;

/* Calls fn(name, ctx) for each bit set in mask, in bit order. Bits outside
 * FL_R_ALL are skipped. */
void fl_restrict_each(uint64_t mask, void (*fn)(const char *name, void *ctx),
                      void *ctx);

/* FL_E_RESTRICT_UNKNOWN if mask has a bit outside FL_R_ALL. */
fl_err fl_restrict_check_mask(uint64_t mask) FL_MUST_USE;

/* The name of a guaranteed capability bit, NULL if not exactly one. */
const char *fl_guaranteed_name(uint32_t bit);

#endif
