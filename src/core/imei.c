/*
 * imei.c - IMEI validation (see imei.h).
 *
 * The input is scanned once: separators are skipped, any other non-digit is
 * an error at once, and digits are counted (but only the first 16 are kept,
 * so an arbitrarily long input needs no memory). Only then is the count
 * judged, so "a letter somewhere" wins over "too many digits", and the Luhn
 * digit is checked last.
 */
#include "core/imei.h"

#include <assert.h>
#include <string.h>

static int is_separator(char c)
{
	return c == ' ' || c == '-' || c == '/';
}

char fl_imei_check_digit(const char digits14[14])
{
	unsigned sum = 0;

	/* Luhn: counting from the right of the 14 digits, the first, third,
	 * ... digit is doubled (those are the odd 0-based indexes here), and
	 * a doubled value above 9 contributes its digit sum. */
	for (int i = 0; i < 14; i++) {
		unsigned d = (unsigned)(digits14[i] - '0');
		assert(d <= 9);
		if (i % 2 == 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

fl_err fl_imei_parse(const char *s, size_t len, char out[FL_IMEI_LEN + 1])
{
	char digits[FL_IMEI_LEN + 2]; /* room for an IMEISV's 16 digits */
	size_t n = 0;
	fl_err err = FL_OK;

	if (s == NULL && len != 0) {
		err = FL_E_INVALID;
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (is_separator(c))
			continue;
		if (c < '0' || c > '9') {
			err = FL_E_IMEI_DIGITS;
			goto out;
		}
		if (n < sizeof(digits))
			digits[n] = c;
		if (n <= FL_IMEI_LEN + 1)
			n++; /* saturates at 17: "more than 16" is all we need
			      */
	}
	if (n == FL_IMEI_LEN + 1) {
		err = FL_E_IMEI_IMEISV;
		goto out;
	}
	if (n != FL_IMEI_LEN) {
		err = FL_E_IMEI_LENGTH;
		goto out;
	}
	if (fl_imei_check_digit(digits) != digits[FL_IMEI_LEN - 1]) {
		err = FL_E_IMEI_CHECK;
		goto out;
	}
	memcpy(out, digits, FL_IMEI_LEN);
	out[FL_IMEI_LEN] = '\0';
out:
	if (err)
		memset(out, 0, FL_IMEI_LEN + 1);
	return err;
}

void fl_imei_tac(const char imei[FL_IMEI_LEN + 1], char tac[FL_TAC_LEN + 1])
{
	memcpy(tac, imei, FL_TAC_LEN);
	tac[FL_TAC_LEN] = '\0';
}
