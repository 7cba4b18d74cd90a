/* libFuzzer target for core/imei: fl_imei_parse never crashes on any bytes,
 * and what it accepts is 15 digits with a right check digit that parse to
 * themselves again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/imei.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[FL_IMEI_LEN + 1], again[FL_IMEI_LEN + 1];
	char tac[FL_TAC_LEN + 1];

	fl_err err = fl_imei_parse((const char *)data, size, out);
	if (err) {
		if (out[0] != '\0')
			abort();
		return 0;
	}
	if (strlen(out) != FL_IMEI_LEN)
		abort();
	for (int i = 0; i < FL_IMEI_LEN; i++)
		if (out[i] < '0' || out[i] > '9')
			abort();
	if (fl_imei_check_digit(out) != out[FL_IMEI_LEN - 1])
		abort();
	if (fl_imei_parse(out, FL_IMEI_LEN, again) != FL_OK ||
	    memcmp(out, again, sizeof(out)) != 0)
		abort();
	fl_imei_tac(out, tac);
	if (strlen(tac) != FL_TAC_LEN || memcmp(tac, out, FL_TAC_LEN) != 0)
		abort();
	return 0;
}
