/*
 * err.h - finlock's one error type.
 *
 * Every fallible function in finlock returns an fl_err; FL_OK is zero so that
 * `if (err)` reads naturally. Results travel through out-parameters. The list
 * below is the single source of truth: the enum and fl_strerror() are both
 * generated from it, so a code can never lack its message.
 *
 * THREAD SAFETY: everything here is pure and safe from any thread.
 */
#ifndef FL_ERR_H
#define FL_ERR_H

/* X(name, message). Grouped by the module that mostly returns them. */
#define FL_ERRORS(X)                                                           \
	X(FL_OK, "success")                                                    \
	/* generic */                                                          \
	X(FL_E_NOMEM, "out of memory")                                         \
	X(FL_E_INVALID, "invalid input")                                       \
	X(FL_E_TOO_LARGE, "input too large")                                   \
	X(FL_E_RANGE, "value out of range")                                    \
	X(FL_E_IO, "input/output error")                                       \
	X(FL_E_CORRUPT, "data is corrupt")                                     \
	X(FL_E_NOT_FOUND, "not found")                                         \
	X(FL_E_CONFLICT, "conflict with existing data")                        \
	X(FL_E_PERM, "permission denied")                                      \
	X(FL_E_AUTH, "authentication failed")                                  \
	X(FL_E_STATE, "not allowed in the current state")                      \
	X(FL_E_LIMIT, "rate or attempt limit reached")                         \
	X(FL_E_NET, "network error")                                           \
	X(FL_E_PROTOCOL, "protocol error")                                     \
	X(FL_E_STORE, "storage error")                                         \
	X(FL_E_INTERNAL, "internal error")                                     \
	/* json / claims */                                                    \
	X(FL_E_JSON, "malformed JSON")                                         \
	X(FL_E_JSON_DEPTH, "JSON nested too deeply")                           \
	X(FL_E_FIELD_MISSING, "required field missing")                        \
	X(FL_E_FIELD_TYPE, "field has the wrong type")                         \
	X(FL_E_FIELD_UNKNOWN, "unknown field")                                 \
	/* imei */                                                             \
	X(FL_E_IMEI_LENGTH, "IMEI must have 15 digits")                        \
	X(FL_E_IMEI_DIGITS, "IMEI contains a character that is not a digit")   \
	X(FL_E_IMEI_CHECK, "IMEI check digit is wrong")                        \
	X(FL_E_IMEI_IMEISV, "an IMEISV (16 digits) was given, not an IMEI")    \
	/* time */                                                             \
	X(FL_E_TIME_FORMAT, "time is not RFC 3339")                            \
	X(FL_E_TIME_INVALID, "time names a date or time that does not exist")  \
	/* encoding and keys */                                                \
	X(FL_E_BASE64, "bad base64url encoding")                               \
	X(FL_E_KEY_FORMAT, "malformed key")                                    \
	X(FL_E_KEY_TYPE, "wrong kind of key")                                  \
	/* paseto */                                                           \
	X(FL_E_PASETO_HEADER, "token is not v4.public")                        \
	X(FL_E_PASETO_FORMAT, "malformed token")                               \
	X(FL_E_BAD_SIGNATURE, "signature verification failed")                 \
	/* finlock tokens */                                                   \
	X(FL_E_UNKNOWN_KID, "token signed by a key that is not trusted")       \
	X(FL_E_KEY_REVOKED, "signing key has been revoked")                    \
	X(FL_E_KEY_EXPIRED, "signing key certificate has expired")             \
	X(FL_E_CLAIMS, "token claims are malformed")                           \
	X(FL_E_WRONG_SUBJECT, "token is for another device")                   \
	X(FL_E_WRONG_IMEI, "token is for another IMEI")                        \
	X(FL_E_REPLAY, "token is not newer than the one held")                 \
	X(FL_E_NOT_YET_VALID, "token is not valid yet")                        \
	X(FL_E_EXPIRED, "token has expired")                                   \
	/* restrictions */                                                     \
	X(FL_E_RESTRICT_UNKNOWN, "unknown restriction name")                   \
	X(FL_E_RESTRICT_GUARANTEED,                                            \
	  "a guaranteed capability cannot be restricted")                      \
	/* offline codes */                                                    \
	X(FL_E_CODE_FORMAT, "offline code must be 10 digits")                  \
	X(FL_E_CODE_WRONG, "offline code is not valid")                        \
	X(FL_E_CODE_USED, "offline code was already used")                     \
	X(FL_E_CODE_EXPIRED, "offline code has expired")                       \
	X(FL_E_CODE_TRIES, "too many wrong codes today")                       \
	/* policy */                                                           \
	X(FL_E_SCHEDULE, "installment schedule is invalid")                    \
	X(FL_E_MONEY, "amount is invalid")                                     \
	X(FL_E_CONTRACT, "contract terms are invalid")                         \
	X(FL_E_PAYMENT, "payments are invalid or out of order")                \
	X(FL_E_COMMAND, "manual command is invalid or out of order")           \
	/* reserved: store */                                                  \
	X(FL_E_STORE_SCHEMA, "database schema is newer than this program")     \
	X(FL_E_STORE_BUSY, "storage is busy, try again")                       \
	X(FL_E_INSUFFICIENT_STORAGE, "storage is full")                        \
	X(FL_E_STORE_MISSING, "database is missing or empty")                  \
	X(FL_E_STORE_WAL_LOST,                                                 \
	  "database's write-ahead log is missing after an unclean stop")       \
	X(FL_E_STORE_RETRY, "transaction conflicted with another, run it again") \
	X(FL_E_STORE_UNAVAILABLE, "database cannot be reached")                 \
	/* reserved: server */                                                 \
	X(FL_E_METHOD, "method not allowed on this resource")                  \
	X(FL_E_IDEMPOTENCY,                                                    \
	  "idempotency key was used for a different request")                  \
	X(FL_E_IMEI_IN_PROGRAM, "IMEI is already in a financing program")      \
	X(FL_E_CONFIG, "invalid configuration")                                \
	X(FL_E_TLS_REQUIRED,                                                   \
	  "a non-loopback address needs TLS or --behind-tls-proxy")            \
	X(FL_E_HEADERS_TOO_LARGE, "request headers too large")                 \
	X(FL_E_NO_CONTRACT, "device has no contract")                          \
	X(FL_E_REQUEST_TIMEOUT, "request not received in time")                \
	/* reserved: agent */                                                  \
	X(FL_E_AGENT_PENDING,                                                  \
	  "enrollment waits for the lender to approve the pairing code")       \
	X(FL_E_AGENT_KEYS, "enrollment answer is for other device keys")       \
	X(FL_E_AGENT_NONCE, "lookup answer does not answer this request")      \
	X(FL_E_AGENT_STATUS, "server refused the request")                     \
	/* end */

typedef enum {
#define FL_ERR_ENUM_(name, msg) name,
	FL_ERRORS(FL_ERR_ENUM_)
#undef FL_ERR_ENUM_
	        FL_E__COUNT
} fl_err;

/* A short English message for err; never NULL, "unknown error" if out of range.
 */
const char *fl_strerror(fl_err err);

/* The symbolic name ("FL_E_NOMEM") of err; never NULL. */
const char *fl_errname(fl_err err);

#define FL_MUST_USE __attribute__((warn_unused_result))

#endif
