/* libFuzzer target: arbitrary bytes verified as a v4.public token against a
 * fixed key, with and without implicit assertion, and peeked for a footer.
 * Nothing may crash, leak or read out of bounds; nothing random may verify. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/paseto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pk[FL_SIGN_PK_LEN];
	static int ready;
	uint8_t *m = NULL, *f = NULL;
	size_t mlen = 0, flen = 0;
	fl_err err;

	if (!ready) {
		uint8_t sk[FL_SIGN_SK_LEN], seed[FL_SIGN_SEED_LEN] = {7};

		if (fl_crypto_init() != FL_OK)
			abort();
		fl_sign_seed_keypair(pk, sk, seed);
		fl_wipe(sk, sizeof(sk));
		ready = 1;
	}

	err = fl_paseto_verify(&m, &mlen, &f, &flen, (const char *)data, size,
	                       pk, "finlock:fuzz", 12);
	if (err == FL_OK || m != NULL || f != NULL)
		abort(); /* a forgery, or output left behind on error */
	err = fl_paseto_verify(&m, &mlen, NULL, NULL, (const char *)data, size,
	                       pk, NULL, 0);
	if (err == FL_OK || m != NULL)
		abort();
	err = fl_paseto_peek_footer(&f, &flen, (const char *)data, size);
	if (err == FL_OK) {
		if (f == NULL || f[flen] != 0)
			abort();
		free(f);
	} else if (f != NULL) {
		abort();
	}
	return 0;
}
