/* api.c - what the handler files share that belongs to none of them. */
#include "server/api.h"

#include "server/audit.h"

fl_err fl_audit_req(struct fl_tx *tx, const struct fl_req *req,
                    const char *action, const char *target, json_t *before,
                    json_t *after)
{
	return fl_audit_by(tx, &req->who, req->now, action, target, before,
	                   after);
}
