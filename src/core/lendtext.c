/* lendtext.c - currency codes and contact numbers (see lendtext.h). */
#include "core/lendtext.h"

#include <stdlib.h>
#include <string.h>

/* ISO 4217 currency codes in circulation, sorted for bsearch. Codes a
 * country withdrew stay a while (a lender's books outlive a reform). */
static const char currencies[][4] = {
        "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN",
        "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL",
        "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY",
        "COP", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
        "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
        "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
        "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR",
        "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD",
        "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
        "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
        "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG",
        "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
        "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
        "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS",
        "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES", "VND", "VUV", "WST",
        "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
};

static int cmp_code(const void *a, const void *b)
{
	return memcmp(a, b, 3);
}

bool fl_currency_known(const char *s)
{
	if (s == NULL || strlen(s) != 3)
		return false;
	return bsearch(s, currencies, sizeof(currencies) / sizeof(currencies[0]),
	               sizeof(currencies[0]), cmp_code) != NULL;
}

bool fl_phone_e164(const char *s)
{
	size_t n;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	for (n = 1; s[n] != '\0'; n++)
		if (s[n] < '0' || s[n] > '9')
			return false;
	n--; /* digits after the '+' */
	return n >= 7 && n <= 15;
}
