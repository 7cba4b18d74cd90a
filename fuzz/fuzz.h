/*
 * fuzz.h - what the fuzz targets share: CHECK, which stops the run on a
 * broken property and says where, and a private scratch file for targets
 * whose code under test reads a file.
 *
 * THREAD SAFETY: none; a target runs one input at a time.
 */
#ifndef FL_FUZZ_H
#define FL_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Where CHECK reports: the real stderr, kept here by a target that points
 * stderr at /dev/null to quiet the code under test; NULL: stderr. */
static FILE *fuzz_report;

static inline FILE *fuzz_out(void)
{
	return fuzz_report != NULL ? fuzz_report : stderr;
}

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(fuzz_out(), "%s:%d: %s\n", __FILE__, __LINE__, \
			        #cond);                                        \
			fflush(fuzz_out());                                    \
			abort();                                               \
		}                                                              \
	} while (0)

/* A new file of this process's own (mode 0600) under /dev/shm, or /tmp,
 * named after tag, its name in path[64]; its descriptor. Aborts when
 * none can be made. */
static inline int fuzz_tmpfile(char path[64], const char *tag)
{
	int fd;

	snprintf(path, 64, "%s/%s.XXXXXX",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", tag);
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	return fd;
}

#endif
