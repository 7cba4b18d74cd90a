/* enroll.c - one-time enrollment codes: Crockford base32, hashed. */
#include "server/enroll.h"

#include <string.h>

#include "core/crypto.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The Crockford value of c, or -1. */
static int value_of(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == 'O')
		c = '0';
	if (c == 'I' || c == 'L')
		c = '1';
	const char *p = strchr(alphabet, c);

	return c != '\0' && p != NULL ? (int)(p - alphabet) : -1;
}

fl_err fl_enroll_code_hash(const uint8_t key[32], const char *code, size_t len,
                           uint8_t hash[FL_HASH_LEN])
{
	char norm[12];
	size_t n = 0;

	memset(hash, 0, FL_HASH_LEN);
	for (size_t i = 0; i < len; i++) {
		int v;

		if (code[i] == '-' || code[i] == ' ')
			continue;
		v = value_of(code[i]);
		if (v < 0 || n == sizeof(norm))
			return FL_E_INVALID;
		norm[n++] = alphabet[v];
	}
	if (n != sizeof(norm))
		return FL_E_INVALID;
	return fl_blake2b(hash, FL_HASH_LEN, key, 32, norm, sizeof(norm));
}

fl_err fl_enroll_code_new(const uint8_t key[32],
                          char code[FL_ENROLL_CODE_LEN + 1],
                          uint8_t hash[FL_HASH_LEN])
{
	size_t o = 0;

	for (int i = 0; i < 12; i++) {
		if (i == 4 || i == 8)
			code[o++] = '-';
		code[o++] = alphabet[fl_random_uniform(32)];
	}
	code[o] = '\0';
	return fl_enroll_code_hash(key, code, o, hash);
}
