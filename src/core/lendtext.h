/*
 * lendtext.h - what a lender types that a customer later reads: currency
 * codes and contact telephone numbers, checked against what they claim to
 * be.
 *
 * A currency is an ISO 4217 alphabetic code of a currency in circulation
 * (the standard's list, without its precious metals, fund units, testing
 * and "no currency" codes: nobody repays a phone in troy ounces of gold).
 * A contact telephone number is an E.164 number as written for
 * international dialling: "+", a country code not starting with 0, and 7
 * to 15 digits in all, with nothing else ("+254700000001").
 *
 * THREAD SAFETY: pure; safe from any thread.
 */
#ifndef FL_LENDTEXT_H
#define FL_LENDTEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True if s (NUL-terminated) is exactly an ISO 4217 currency code. */
bool fl_currency_known(const char *s);

/* True if s (NUL-terminated) is an E.164 number: "+" then 7..15 digits,
 * the first not 0. */
bool fl_phone_e164(const char *s);

#endif
