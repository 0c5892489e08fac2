/*
 * cli.h: newsd's subcommands, private to the executable (main.c parses the
 * command line and calls one of these with the final settings).
 *
 * Each returns the process exit status: ND_EXIT_OK, ND_EXIT_FAILURE when the
 * work failed, ND_EXIT_USAGE when the arguments or a setting were wrong. Messages for the
 * user go to stderr; results (a key, an imported article) to stdout.
 */
#ifndef NEWSD_CLI_H
#define NEWSD_CLI_H

#include "newsd/config.h"

#define ND_EXIT_OK 0
#define ND_EXIT_FAILURE 1
#define ND_EXIT_USAGE 2

/* Serves HTTP until SIGTERM or SIGINT, then stops gracefully. */
int nd_cli_serve(const struct nd_config *cfg);

/* Creates and migrates the database; prints "applied N migrations". */
int nd_cli_migrate(const struct nd_config *cfg);

/*
 * Imports each file; prints "created ID SLUG" or "exists ID SLUG" per file.
 * With "--jsonl" among args, the files are JSON lines (import.h) and each
 * gets one line of counts; refused lines are named on stderr.
 */
int nd_cli_import(const struct nd_config *cfg, char *const *args, int nargs);

/* "key create NAME", "key list", "key revoke NAME": args start after "key". */
int nd_cli_key(const struct nd_config *cfg, char *const *args, int nargs);

/*
 * "backup FILE": copies the database to FILE with SQLite's online backup
 * API while other processes (a serving newsd) go on reading and writing.
 */
int nd_cli_backup(const struct nd_config *cfg, char *const *args, int nargs);

/* "export [FILE]": every article and comment as JSON lines that import --jsonl reads back. */
int nd_cli_export(const struct nd_config *cfg, char *const *args, int nargs);

#endif
