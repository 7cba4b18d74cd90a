/* libFuzzer target: arbitrary bytes as the agent's state file. The sealed
 * copy is checked first, through a platform whose secure hardware seals
 * with a fixed key (random bytes almost never pass the seal, so the same
 * bytes are also decoded as a bare payload, and sealed then unsealed).
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
	free(encstatic const uint8_t seal_key[FL_AEAD_KEY_LEN] = {0x42};

static fl_err f_seal(void *ctx, const uint8_t *ad, size_t ad_len,
                     const uint8_t *in, size_t len, uint8_t *out)
{
		(void)ctx;
		fl_aead_seal(out, in, len, ad, ad_len, seal_key);
		return FL_OK;
}

static fl_err f_unseal(void *ctx, const uint8_t *ad, size_t ad_len,
                       const uint8_t *in, size_t len, uint8_t *out)
{
		(void)ctx;
		return fl_aead_open(out, in, len, ad, ad_len, seal_key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
		struct fl_hal hal = {.tee_seal = f_seal,
		                     .tee_unseal = f_unseal};
		uint8_t *payload = NULL, *sealed = NULL;
		size_t plen = 0, slen = 0;
		uint64_t gen = 0;

		if (fl_crypto_init() != FL_OK)
			abort();
		if (fl_persist_unseal(&hal, data, size, &gen, &payload,
		                      &plen) == FL_OK) {
			roundtrip(payload, plen);
			free(payload);
		}
		roundtrip(data, size);
		if (size <= FL_PERSIST_MAX_PAYLOAD) {
			if (fl_persist_seal(&hal, size, data, size, &sealed,
			                    &slen) != FL_OK)
				abort();
			if (fl_persist_unseal(&hal, sealed, slen, &gen,
			                      &payload, &plen) != FL_OK ||
			    gen != size || plen != size ||
			    (size > 0 && memcmp(payload, data, size) != 0))
				abort();
			free(payload);
			free(sealed);
		}
		return 0;
}
