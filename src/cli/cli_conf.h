/*
 * cli_conf.h - where finlock finds its server and API key.
 *
 * Each setting comes from the first place that has it: the command-line
 * option (--server, --key, --cacert), the environment (FINLOCK_SERVER,
 * FINLOCK_API_KEY, FINLOCK_CACERT), then the config file: $FINLOCK_CONFIG,
 * else $XDG_CONFIG_HOME/finlock/config, else ~/.config/finlock/config. The
 * file holds `name = value` lines (server, key, cacert), blank lines and
 * `#` comments. It is read only when a setting is still missing.
 *
 * Profiles: the settings before any `[NAME]` line are the default
 * profile; those after `[NAME]` (up to the next such line) are profile
 * NAME, for another server or tenant. --profile NAME (else
 * $FINLOCK_PROFILE) chooses one; a profile the file does not have is
 * refused. `finlock login --profile NAME` writes that profile and keeps
 * the others.
 *
 * A config file that holds a key must be the user's own and readable by
 * nobody else (mode 0600 or stricter): finlock refuses it otherwise, with
 * the chmod that fixes it. The file's key is only ever sent to the file's
 * server: with a server from elsewhere it is not used. `finlock login`
 * writes the file atomically with mode 0600.
 *
 * THREAD SAFETY: the CLI is single-threaded.
 */
#ifndef FL_CLI_CONF_H
#define FL_CLI_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_CONF_VALUE_MAX 1024 /* longest value in the file */
#define CLI_PROFILE_MAX    65   /* longest profile name + 1 */

struct cli_conf {
	char profile[CLI_PROFILE_MAX];   /* the profile read, "" default */
	bool found;                      /* the file has that profile */
	bool any_key;                    /* some profile holds a key */
	char server[CLI_CONF_VALUE_MAX]; /* "" when absent */
	char key[CLI_CONF_VALUE_MAX];    /* "" when absent; wipe after use */
	char cacert[CLI_CONF_VALUE_MAX]; /* "" when absent */
};

/* The config file's path into out[cap]. Returns CLI_OK, or CLI_USAGE when
 * neither $FINLOCK_CONFIG, $XDG_CONFIG_HOME nor $HOME is set. */
int cli_conf_path(char *out, size_t cap);

/* Reads profile (NULL, "" or "default": the default one) of the config
 * file at path into *c (zeroed first; a missing file leaves it empty and
 * is CLI_OK). Refuses (CLI_REFUSED, message printed) a file that cannot be
 * read, has a bad line, or holds a key while being someone else's or
 * readable by group or others. Whether the file has the profile is
 * c->found (a missing named profile is the caller's to refuse). */
int cli_conf_load(const char *path, const char *profile, struct cli_conf *c);

/* True when name is a profile name: 1..64 of [A-Za-z0-9._-]. */
bool cli_profile_ok(const char *name);

/* Wipes the key in *c. */
void cli_conf_wipe(struct cli_conf *c);

/* Writes server, key and cacert (may be NULL) as profile (NULL or
 * "default": the default one) to path, keeping the file's other profiles,
 * mode 0600, creating its directory (mode 0700) if needed, through a
 * temporary file renamed over the old one. CLI_OK, or CLI_REFUSED with a
 * message (also for an existing file cli_conf_load would refuse). */
int cli_conf_write(const char *path, const char *profile, const char *server,
                   const char *key, const char *cacert);

/* The first characters of key followed by "…", for messages: a key is
 * never shown in full. out needs 16 bytes. */
void cli_key_hint(const char *key, char out[16]);

/* True when value is fit for the config file (no newline or control
 * character, not empty, shorter than CLI_CONF_VALUE_MAX). */
bool cli_conf_value_ok(const char *value);

#endif
