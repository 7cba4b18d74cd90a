/*
 * dev_session.c - one process's turn with a phone's agent (device.h).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "device/dev_hal.h"
#include "device/dev_lock.h"
#include "device/dev_phone.h"
#include "device/dev_view.h"
#include "device/device.h"

int dev_session_attach(struct dev_session *s, const char *dir,
                       const char *server)
{
	struct fl_hal hal;
	fl_err err;

	err = dev_phone_open(&s->phone, dir);
	if (err)
		return dev_open_failed(dir, err);
	if (s->hal == NULL) {
		err = dev_hal_new(&s->hal, s->phone, server);
		if (err) {
			dev_err("cannot start the phone's platform: %s",
			        fl_strerror(err));
			goto fail;
		}
	} else {
		dev_hal_set_phone(s->hal, s->phone);
	}
	dev_hal_fill(s->hal, &hal);
	err = fl_agent_open(&s->agent, &hal,
	                    dev_phone_factory(s->phone)->root_pk);
	if (err) {
		dev_err("the agent cannot start on the phone in %s: %s", dir,
		        fl_strerror(err));
		goto fail;
	}
	return DEV_OK;
fail:
	dev_session_detach(s, false);
	return DEV_REFUSED;
}

int dev_session_open(struct dev_session *s, const char *dir, const char *server)
{
	fl_err err;
	int rc;

	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	if (!dev_phone_exists(dir))
		return dev_open_failed(dir, FL_E_NOT_FOUND);
	err = dev_lock_acquire(dir, DEV_LOCK_WAIT_MS, &s->lock_fd);
	if (err)
		return dev_open_failed(dir, err);
	rc = dev_session_attach(s, dir, server);
	if (rc != DEV_OK) {
		dev_lock_release(s->lock_fd);
		s->lock_fd = -1;
	}
	return rc;
}

fl_err dev_session_snapshot(struct dev_session *s)
{
	struct fl_agent_screen scr;
	struct fl_agent_status st;
	json_t *o;
	fl_err err;

	if (s->agent == NULL || s->phone == NULL || s->hal == NULL)
		return FL_E_STATE;
	fl_agent_screen(s->agent, &scr);
	fl_agent_status(s->agent, &st);
	o = dev_view_status(s->phone, s->hal, &scr, &st);
	if (o == NULL)
		return FL_E_NOMEM;
	err = dev_view_snapshot_write(s->phone, o);
	json_decref(o);
	return err;
}

void dev_session_detach(struct dev_session *s, bool keep_hal)
{
	fl_agent_close(s->agent);
	s->agent = NULL;
	if (!keep_hal) {
		dev_hal_free(s->hal);
		s->hal = NULL;
	}
	dev_phone_close(s->phone);
	s->phone = NULL;
}

void dev_session_close(struct dev_session *s)
{
	if (s->agent != NULL && dev_session_snapshot(s) != FL_OK)
		dev_err("cannot write the status snapshot");
	dev_session_detach(s, false);
	dev_lock_release(s->lock_fd);
	s->lock_fd = -1;
}
