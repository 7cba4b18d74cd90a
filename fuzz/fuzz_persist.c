/* libFuzzer target: arbitrary bytes as the agent's state file. The sealed
 * copy is checked first (random bytes almost never pass the checksum, so the
 * same bytes are also decoded as a bare payload, and sealed then unsealed).
 * Whatever decodes must encode and decode again to the same bytes; nothing
 * may crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The fuzz build links the core library only; the state-file code is part
 * of the agent library, so it is compiled in here. */
#include "agent/persist.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const uint8_t *payload, size_t len)
{
	struct fl_pstate s, s2;
	uint8_t *enc = NULL, *enc2 = NULL;
	size_t n = 0, n2 = 0;

	if (fl_pstate_decode(payload, len, &s) != FL_OK)
		return;
	if (fl_pstate_encode(&s, &enc, &n) != FL_OK)
		abort();
	if (fl_pstate_decode(enc, n, &s2) != FL_OK)
		abort();
	if (fl_pstate_encode(&s2, &enc2, &n2) != FL_OK || n != n2 ||
	    memcmp(enc, enc2, n) != 0)
		abort();
	free(enc);
	free(enc2);
	fl_pstate_clear(&s);
	fl_pstate_clear(&s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *payload;
	uint8_t *sealed = NULL;
	size_t plen = 0, slen = 0;
	uint64_t gen = 0;

	if (fl_crypto_init() != FL_OK)
		abort();
	if (fl_persist_unseal(data, size, &gen, &payload, &plen) == FL_OK)
		roundtrip(payload, plen);
	roundtrip(data, size);
	if (size <= FL_PERSIST_MAX_PAYLOAD) {
		if (fl_persist_seal(size, data, size, &sealed, &slen) != FL_OK)
			abort();
		if (fl_persist_unseal(sealed, slen, &gen, &payload, &plen) !=
		            FL_OK ||
		    gen != size || plen != size ||
		    (size > 0 && memcmp(payload, data, size) != 0))
			abort();
		free(sealed);
	}
	return 0;
}
