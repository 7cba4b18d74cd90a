/* money.c - amounts as a person reads them (money.h). */
#include "server/money.h"

#include <stdio.h>
#include <string.h>

/* Decimals of a currency's minor unit (ISO 4217). */
static int decimals_of(const char *currency)
{
	static const char *const zero[] = {
	        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
	        "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF", NULL};
	static const char *const three[] = {"BHD", "IQD", "JOD", "KWD",
	                                    "LYD", "OMR", "TND", NULL};

	for (size_t i = 0; zero[i] != NULL; i++)
		if (strcmp(currency, zero[i]) == 0)
			return 0;
	for (size_t i = 0; three[i] != NULL; i++)
		if (strcmp(currency, three[i]) == 0)
			return 3;
	return 2;
}

fl_err fl_money_format(char *out, size_t cap, const char *currency,
                       int64_t minor)
{
	char digits[32], grouped[48];
	int dec = decimals_of(currency);
	uint64_t v =
	        minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
	uint64_t unit = dec == 0 ? 1 : dec == 3 ? 1000 : 100;
	size_t n, g = 0;
	int w;

	snprintf(digits, sizeof(digits), "%llu",
	         (unsigned long long)(v / unit));
	n = strlen(digits);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			grouped[g++] = ',';
		grouped[g++] = digits[i];
	}
	grouped[g] = '\0';
	if (dec == 0)
		w = snprintf(out, cap, "%s%s%s%s", currency,
		             currency[0] ? " " : "", minor < 0 ? "-" : "",
		             grouped);
	else
		w = snprintf(out, cap, "%s%s%s%s.%0*llu", currency,
		             currency[0] ? " " : "", minor < 0 ? "-" : "",
		             grouped, dec, (unsigned long long)(v % unit));
	if (w < 0 || (size_t)w >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return FL_E_TOO_LARGE;
	}
	return FL_OK;
}
