/*
 * imei.h - IMEI validation.
 *
 * An IMEI is 15 decimal digits, the last one a Luhn check digit over the
 * first 14. People write them with spaces, dashes or slashes
 * ("35-209900-176148-1"); those separators are accepted and dropped. The
 * first 8 digits are the TAC (type allocation code: maker and model).
 *
 * THREAD SAFETY: pure; safe from any thread.
 */
#ifndef FL_IMEI_H
#define FL_IMEI_H

#include <stddef.h>

#include "core/err.h"

#define FL_IMEI_LEN 15
#define FL_TAC_LEN  8

/* Validates s[len] and writes the 15 digits and a NUL into out. Errors:
 * FL_E_IMEI_DIGITS (a character that is neither a digit nor a separator),
 * FL_E_IMEI_IMEISV (16 digits), FL_E_IMEI_LENGTH (any other count),
 * FL_E_IMEI_CHECK (Luhn digit wrong). On error out is the empty string. */
fl_err fl_imei_parse(const char *s, size_t len,
                     char out[FL_IMEI_LEN + 1]) FL_MUST_USE;

/* The Luhn check digit ('0'..'9') for 14 digits. */
char fl_imei_check_digit(const char digits14[14]);

/* Copies the TAC of a valid IMEI into tac (8 digits and a NUL). */
void fl_imei_tac(const char imei[FL_IMEI_LEN + 1], char tac[FL_TAC_LEN + 1]);

#endif
