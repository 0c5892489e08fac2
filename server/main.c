/*
 * main.c: newsd's entry point. It reads the command line, layers the
 * settings (built-in defaults, the config file, NEWSD_* variables, then
 * flags) and hands over to a subcommand in cli.c.
 *
 * Flags may stand before or after the command; "--" ends them. Every
 * setting is a flag, as "--name VALUE" or "--name=VALUE".
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "newsd/config.h"
#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/util.h"

struct flag {
    char name[48];
    const char *value;
};

struct command_line {
    const char *config_path;
    struct flag *flags; /* settings, applied in order after file and environment */
    int nflags;
    char **words; /* the command and its arguments */
    int nwords;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: newsd [OPTIONS] [COMMAND] [ARGS]\n"
                 "\n"
                 "commands:\n"
                 "  serve                 serve the HTTP API (the default)\n"
                 "  migrate               create or update the database, then exit\n"
                 "  import FILE...        import each file in its format: a plain-text article,\n"
                 "                        JSON lines or an export, a WordPress export (WXR)\n"
                 "  import --jsonl FILE...  import articles and comments from JSON lines\n"
                 "  key create NAME       make an API key and print it on the last line\n"
                 "  key list              list key names, ids and creation times\n"
                 "  key revoke NAME       delete a key\n"
                 "  backup FILE           copy the live database to FILE (online, consistent)\n"
                 "  export [FILE]         write every article and comment as JSON lines\n"
                 "                        (to stdout without FILE); import reads them\n"
                 "\n"
                 "options:\n"
                 "  -h, --help            show this help\n"
                 "  --version             show the version\n"
                 "  --config FILE         read settings from FILE (also NEWSD_CONFIG)\n"
                 "\n"
                 "settings (config file key = flag name; flags override the environment,\n"
                 "which overrides the config file):\n");
    nd_config_print_help(out);
}

/*
 * Splits a "--name" or "--name=value" argument; the value may also be the
 * next argument (*i advances). Returns false, having said why, on a flag
 * that is unknown or lacks its value.
 */
static bool read_flag(int argc, char **argv, int *i, struct flag *out)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);

    if (len >= sizeof out->name) {
        fprintf(stderr, "newsd: unknown option %s\n", argv[*i]);
        return false;
    }
    memcpy(out->name, arg, len);
    out->name[len] = '\0';
    if (strcmp(out->name, "config") != 0 && !nd_config_is_setting(out->name)) {
        fprintf(stderr, "newsd: unknown option --%s (see newsd --help)\n", out->name);
        return false;
    }
    if (eq != NULL) {
        out->value = eq + 1;
    } else if (*i + 1 < argc) {
        out->value = argv[++*i];
    } else {
        fprintf(stderr, "newsd: option --%s needs a value\n", out->name);
        return false;
    }
    return true;
}

/* Sorts argv into the command line. Returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, struct command_line *cl)
{
    bool options_ended = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_ended || arg[0] != '-' || arg[1] == '\0') {
            cl->words[cl->nwords++] = argv[i];
        } else if (strcmp(arg, "--jsonl") == 0) {
            cl->words[cl->nwords++] = argv[i]; /* an option of import, passed on */
        } else if (strcmp(arg, "--") == 0) {
            options_ended = true;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return ND_EXIT_OK;
        } else if (strcmp(arg, "--version") == 0) {
            printf("newsd %s\nstorage backends: sqlite, postgresql\n", ND_VERSION);
            return ND_EXIT_OK;
        } else if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "newsd: unknown option %s (see newsd --help)\n", arg);
            return ND_EXIT_USAGE;
        } else {
            struct flag *f = &cl->flags[cl->nflags];
            if (!read_flag(argc, argv, &i, f))
                return ND_EXIT_USAGE;
            if (strcmp(f->name, "config") == 0)
                cl->config_path = f->value;
            else
                cl->nflags++;
        }
    }
    return -1;
}

/* Layers the settings into cfg. Returns -1 to go on, else an exit status. */
static int configure(const struct command_line *cl, struct nd_config *cfg)
{
    char err[512];
    const char *path = cl->config_path;

    if (path == NULL && getenv("NEWSD_CONFIG") != NULL && getenv("NEWSD_CONFIG")[0] != '\0')
        path = getenv("NEWSD_CONFIG");
    if (path != NULL && nd_config_load_file(cfg, path, err, sizeof err) != ND_OK) {
        fprintf(stderr, "newsd: %s\n", err);
        return ND_EXIT_USAGE;
    }
    if (nd_config_load_env(cfg, err, sizeof err) != ND_OK) {
        fprintf(stderr, "newsd: %s\n", err);
        return ND_EXIT_USAGE;
    }
    for (int i = 0; i < cl->nflags; i++) {
        if (nd_config_set(cfg, cl->flags[i].name, cl->flags[i].value, err, sizeof err) != ND_OK) {
            fprintf(stderr, "newsd: --%s: %s\n", cl->flags[i].name, err);
            return ND_EXIT_USAGE;
        }
    }
    nd_log_set_level(cfg->log_level);
    nd_log_set_format(cfg->log_format);
    return -1;
}

static int run(const struct nd_config *cfg, char **words, int nwords)
{
    const char *command = nwords > 0 ? words[0] : "serve";

    if (strcmp(command, "serve") == 0 && nwords <= 1)
        return nd_cli_serve(cfg);
    if (strcmp(command, "migrate") == 0 && nwords == 1)
        return nd_cli_migrate(cfg);
    if (strcmp(command, "import") == 0)
        return nd_cli_import(cfg, words + 1, nwords - 1);
    if (strcmp(command, "key") == 0)
        return nd_cli_key(cfg, words + 1, nwords - 1);
    if (strcmp(command, "backup") == 0)
        return nd_cli_backup(cfg, words + 1, nwords - 1);
    if (strcmp(command, "export") == 0)
        return nd_cli_export(cfg, words + 1, nwords - 1);
    if (strcmp(command, "serve") == 0 || strcmp(command, "migrate") == 0)
        fprintf(stderr, "newsd: %s takes no arguments\n", command);
    else
        fprintf(stderr, "newsd: unknown command \"%s\" (see newsd --help)\n", command);
    return ND_EXIT_USAGE;
}

/*
 * glibc gives each new thread a malloc arena of its own, up to eight per
 * core, and memory freed in one stays there: newsd's threads (I/O, readers,
 * committer, listener) held about 6 MB more at their peak than with one
 * arena per core (bench/run at 100,000 articles: 64.8 against 59.0 MB, the
 * same throughput). A MALLOC_ARENA_MAX in the environment is left to rule.
 */
static void limit_arenas(void)
{
    if (getenv("MALLOC_ARENA_MAX") != NULL)
        return;
    mallopt(M_ARENA_MAX, (int)nd_cores(2));
}

int main(int argc, char **argv)
{
    struct nd_config cfg;
    struct command_line cl = {0};
    int status;

    limit_arenas();  /* before any thread starts */
    nd_json_watch(); /* before any thread uses Jansson: trusted parses and dumps */
    if (nd_config_init(&cfg) != ND_OK) {
        fprintf(stderr, "newsd: out of memory\n");
        return ND_EXIT_FAILURE;
    }
    cl.flags = calloc((size_t)argc, sizeof *cl.flags);
    cl.words = calloc((size_t)argc, sizeof *cl.words);
    if (cl.flags == NULL || cl.words == NULL) {
        fprintf(stderr, "newsd: out of memory\n");
        status = ND_EXIT_FAILURE;
        goto out;
    }
    status = parse_args(argc, argv, &cl);
    if (status < 0)
        status = configure(&cl, &cfg);
    if (status < 0)
        status = run(&cfg, cl.words, cl.nwords);
out:
    free(cl.flags);
    free(cl.words);
    nd_config_fini(&cfg);
    return status;
}
