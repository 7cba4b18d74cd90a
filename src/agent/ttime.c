/* Trusted time on the phone (ttime.h). */
#include "agent/ttime.h"

static fl_time clamp(fl_time t)
{
	if (t > FL_TIME_MAX)
		return FL_TIME_MAX;
	if (t < FL_TIME_MIN)
		return FL_TIME_MIN;
	return t;
}

fl_time fl_ttime_now(const struct fl_ttime *t, uint64_t mono, uint64_t boot)
{
	uint64_t elapsed;

	if (!t->known)
		return 0;
	if (boot != t->boot || mono < t->mono)
		return t->base; /* monotonic link lost: never go back */
	elapsed = (mono - t->mono) / 1000;
	if (elapsed > (uint64_t)(FL_TIME_MAX - t->base))
		return FL_TIME_MAX;
	return clamp(t->base + (fl_time)elapsed);
}

void fl_ttime_rebase(struct fl_ttime *t, uint64_t mono, uint64_t boot)
{
	fl_time now;
	uint64_t rem = 0;

	if (!t->known)
		return;
	now = fl_ttime_now(t, mono, boot);
	/* keep the sub-second remainder so repeated rebases lose nothing */
	if (boot == t->boot && mono >= t->mono)
		rem = (mono - t->mono) % 1000;
	t->base = now;
	t->mono = mono - (rem <= mono ? rem : 0);
	t->boot = boot;
}

void fl_ttime_reboot(struct fl_ttime *t, int64_t gap, fl_time wall,
                     uint64_t mono, uint64_t boot)
{
	fl_time next;

	if (!t->known || boot == t->boot)
		return;
	next = clamp(t->base + (gap > 0 ? gap : 0));
	if (wall >= t->base && wall < next)
		next = wall;
	t->base = next;
	t->mono = mono;
	t->boot = boot;
}

void fl_ttime_correct(struct fl_ttime *t, fl_time server, uint64_t took_ms,
                      uint64_t mono, uint64_t boot)
{
	fl_time bound;

	server = clamp(server);
	if (took_ms / 1000 > (uint64_t)(FL_TIME_MAX - server))
		return;
	bound = server + (fl_time)((took_ms + 999) / 1000);
	if (!t->known || fl_ttime_now(t, mono, boot) <= bound)
		return;
	t->base = bound;
	t->mono = mono;
	t->boot = boot;
}

bool fl_ttime_learn(struct fl_ttime *t, fl_time server, uint64_t mono,
                    uint64_t boot)
{
	fl_time now = fl_ttime_now(t, mono, boot);

	server = clamp(server);
	if (t->known && server <= now)
		return false;
	t->known = true;
	t->base = server;
	t->mono = mono;
	t->boot = boot;
	return true;
}

bool fl_ttime_stale(const struct fl_ttime *t, uint64_t mono, uint64_t boot,
                    int64_t every)
{
	if (!t->known)
		return false;
	if (boot != t->boot)
		return true;
	return fl_ttime_now(t, mono, boot) - t->base >= every;
}

fl_time fl_ttime_effective(fl_time trusted, fl_time wall)
{
	return wall > trusted ? wall : trusted;
}
