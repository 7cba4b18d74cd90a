/* websession.c - the console's sessions as stored (websession.h). */
#include "server/websession.h"

fl_err fl_websession_start(struct fl_tx *tx, void *io, fl_time now)
{
	struct fl_websession_start *s = io;
	struct fl_session_rec rec = s->rec;
	int64_t n;
	fl_err err = FL_OK;

	rec.created_at = rec.last_seen = now;
	if (s->end_old)
		err = fl_store_session_delete(tx, s->old_hash);
	if (err == FL_OK)
		err = fl_store_session_expire(tx, now - s->idle, now - s->max,
		                              &n);
	if (err == FL_OK)
		err = fl_store_session_insert(tx, &rec);
	return err;
}

fl_err fl_websession_touch(struct fl_tx *tx, void *io, fl_time now)
{
	return fl_store_session_touch(tx, io, now);
}

fl_err fl_websession_end(struct fl_tx *tx, void *io, fl_time now)
{
	(void)now;
	return fl_store_session_delete(tx, io);
}
