/*
 * fwmin.c - the smallest firmware that uses the whole device agent: a
 * platform whose callbacks do nothing (a real one calls the phone's flash,
 * secure hardware, lock screen and modem) and a main loop over every public
 * call of include/finlock/agent.h. bench/run.sh links it against libflagent.a
 * and libflcore.a with libsodium and jansson linked statically, and reports
 * its size (benchmark 4, code size): what the agent adds to a firmware
 * image, the cryptography and JSON it needs included, the C library not.
 *
 * It is never run by the benchmarks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "finlock/agent.h"

static fl_err blob_read(void *ctx, const char *name, uint8_t *buf, size_t cap,
                        size_t *len)
{
	(void)ctx, (void)name, (void)buf, (void)cap;
	*len = 0;
	return FL_E_NOT_FOUND;
}

static fl_err blob_write(void *ctx, const char *name, const uint8_t *buf,
                         size_t len)
{
	(void)ctx, (void)name, (void)buf, (void)len;
	return FL_E_IO;
}

/* The secure hardware's trusted application is the vendor's, not the
 * agent's: its calls answer nothing here, and its code is not counted. */
static fl_err tee_keys2(void *ctx, uint8_t a[32], uint8_t b[32])
{
	(void)ctx, (void)a, (void)b;
	return FL_E_IO;
}

static fl_err tee_pk(void *ctx, uint8_t pk[32])
{
	(void)ctx, (void)pk;
	return FL_E_IO;
}

static fl_err tee_enroll(void *ctx, const uint8_t pk[32])
{
	(void)ctx, (void)pk;
	return FL_E_IO;
}

static fl_err tee_sign(void *ctx, const uint8_t *msg, size_t len,
                       uint8_t out[64])
{
	(void)ctx, (void)msg, (void)len, (void)out;
	return FL_E_IO;
}

static fl_err tee_mac(void *ctx, const uint8_t *msg, size_t len,
                      uint8_t out[32])
{
	(void)ctx, (void)msg, (void)len, (void)out;
	return FL_E_IO;
}

static fl_err tee_code(void *ctx, const char *code, fl_time now,
                       struct fl_hal_code *out)
{
	(void)ctx, (void)code, (void)now;
	memset(out, 0, sizeof(*out));
	return FL_E_IO;
}

static fl_err tee_code_state(void *ctx, struct fl_hal_code *out)
{
	(void)ctx;
	memset(out, 0, sizeof(*out));
	return FL_OK;
}

static fl_err tee_seal(void *ctx, const uint8_t *ad, size_t ad_len,
                       const uint8_t *in, size_t len, uint8_t *out)
{
	(void)ctx, (void)ad, (void)ad_len, (void)in, (void)len, (void)out;
	return FL_E_IO;
}

static fl_err tee_counter(void *ctx, uint64_t *v)
{
	(void)ctx;
	*v = 0;
	return FL_OK;
}

static fl_err tee_raise(void *ctx, uint64_t to)
{
	(void)ctx, (void)to;
	return FL_E_IO;
}

static fl_err apply(void *ctx, const struct fl_hal_policy *p)
{
	(void)ctx, (void)p;
	return FL_OK;
}

static fl_err device(void *ctx, struct fl_hal_device *out)
{
	(void)ctx;
	memset(out, 0, sizeof(*out));
	strcpy(out->imei[0], "490154203237518");
	out->n_imei = 1;
	return FL_OK;
}

static fl_err wall(void *ctx, fl_time *now)
{
	(void)ctx;
	*now = (fl_time)time(NULL);
	return FL_OK;
}

static fl_err mono(void *ctx, uint64_t *ms, uint64_t *boot_id)
{
	(void)ctx;
	*ms = 0;
	*boot_id = 1;
	return FL_OK;
}

static fl_err http(void *ctx, const struct fl_hal_request *req,
                   struct fl_hal_response *resp)
{
	(void)ctx, (void)req;
	memset(resp, 0, sizeof(*resp));
	return FL_E_NET;
}

int main(void)
{
	static const uint8_t root[32] = {0};
	struct fl_hal hal = {
	        .persist_read = blob_read,
	        .persist_write = blob_write,
	        .userdata_read = blob_read,
	        .userdata_write = blob_write,
	        .tee_factory_pk = tee_pk,
	        .tee_factory_sign = tee_sign,
	        .tee_keygen = tee_keys2,
	        .tee_pending = tee_keys2,
	        .tee_sign = tee_sign,
	        .tee_enroll = tee_enroll,
	        .tee_mac = tee_mac,
	        .tee_code = tee_code,
	        .tee_code_state = tee_code_state,
	        .tee_seal = tee_seal,
	        .tee_unseal = tee_seal,
	        .tee_counter = tee_counter,
	        .tee_counter_raise = tee_raise,
	        .apply = apply,
	        .device = device,
	        .wall = wall,
	        .mono = mono,
	        .http = http,
	};
	struct fl_agent *a = NULL;
	struct fl_agent_screen scr;
	struct fl_agent_status st;
	char *receipt = NULL;

	if (fl_agent_open(&a, &hal, root) != FL_OK)
		return 1;
	if (fl_agent_setup(a) == FL_OK && fl_agent_enroll(a, "code") == FL_OK)
		while (fl_agent_next_delay(a) >= 0) {
			if (fl_agent_wait(a, 60) != FL_OK &&
			    fl_agent_checkin(a) != FL_OK)
				break;
			if (fl_agent_tick(a) != FL_OK ||
			    fl_agent_report_sim(a, "") != FL_OK ||
			    fl_agent_report_tamper(a, 0) != FL_OK ||
			    fl_agent_enter_code(a, "0000000000") != FL_OK)
				break;
		}
	fl_agent_screen(a, &scr);
	fl_agent_status(a, &st);
	if (fl_agent_receipt(a, &receipt) == FL_OK)
		free(receipt);
	printf("%d %d\n", scr.locked, (int)st.phase);
	fl_agent_close(a);
	return 0;
}
