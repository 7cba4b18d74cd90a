/*
 * money.h - amounts as a person reads them: on the lock screen's
 * reminders ("Installment of KES 1,500.00 due ...").
 *
 * THREAD SAFETY: pure functions.
 */
#ifndef FL_SERVER_MONEY_H
#define FL_SERVER_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Money as a person reads it: "KES 1,500.00" for 150000 minor units,
 * with the currency's number of decimals (0 for JPY, 3 for KWD, else 2).
 * FL_E_TOO_LARGE if cap is too small. */
fl_err fl_money_format(char *out, size_t cap, const char *currency,
                       int64_t minor) FL_MUST_USE;

#endif
