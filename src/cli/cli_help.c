/*
 * cli_help.c - `finlock help [COMMAND...]`, the manual page
 * (`finlock help --man`) and `finlock completion bash`.
 *
 * All three are made from the command tables (cli_groups) and each
 * command's own --help text, so they cannot disagree with the commands:
 * the manual page is every group's help and every command's usage, and
 * the completion offers each group's subcommands and the options each
 * command's usage names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_cmds.h"

#define WORDS_MAX 8 /* words of the longest command ("tenant keys list") */

/* The usage text of a command that is not a group: what its --help
 * prints, captured. malloc'd, or NULL. */
static char *leaf_usage(const struct cli_cmd *c)
{
	char *argv[] = {(char *)c->name, "--help", NULL}, *text = NULL;
	FILE *tmp = tmpfile();
	long len;
	int saved;

	if (tmp == NULL)
		return NULL;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
		if (saved >= 0)
			close(saved);
		fclose(tmp);
		return NULL;
	}
	(void)c->run(2, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	len = ftell(tmp);
	if (len >= 0 && (text = malloc((size_t)len + 1)) != NULL) {
		rewind(tmp);
		len = (long)fread(text, 1, (size_t)len, tmp);
		text[len] = '\0';
	}
	fclose(tmp);
	return text;
}

/* The group at "<g->path> <c->name>", or NULL for a plain command. */
static const struct cli_group *subgroup(const struct cli_group *g,
                                        const struct cli_cmd *c)
{
	char path[128];

	snprintf(path, sizeof(path), "%s %s", g->path, c->name);
	return cli_group_find(path);
}

/* Calls fn for every group (usage NULL) and every command (its usage)
 * under g, depth first, in table order. */
static void walk(const struct cli_group *g,
                 void (*fn)(void *ctx, const struct cli_group *g,
                            const char *path, const char *usage),
                 void *ctx)
{
	fn(ctx, g, g->path, NULL);
	for (size_t i = 0; i < g->n; i++) {
		const struct cli_group *sub = subgroup(g, &g->cmds[i]);
		char path[128], *usage;

		if (sub != NULL) {
			walk(sub, fn, ctx);
			continue;
		}
		snprintf(path, sizeof(path), "%s %s", g->path, g->cmds[i].name);
		usage = leaf_usage(&g->cmds[i]);
		fn(ctx, NULL, path, usage != NULL ? usage : "");
		free(usage);
	}
}

/* --- the manual page ------------------------------------------------------ */

/* Writes text as roff: backslashes and dashes escaped, a line that starts
 * with '.' or '\'' protected. */
static void roff(FILE *out, const char *text)
{
	bool bol = true;

	for (const char *p = text; *p != '\0'; p++) {
		if (bol && (*p == '.' || *p == '\''))
			fputs("\\&", out);
		if (*p == '\\')
			fputs("\\e", out);
		else if (*p == '-')
			fputs("\\-", out);
		else
			fputc(*p, out);
		bol = *p == '\n';
	}
	if (!bol)
		fputc('\n', out);
}

static void man_entry(void *ctx, const struct cli_group *g, const char *path,
                      const char *usage)
{
	FILE *out = ctx;
	char *text = NULL;
	size_t len = 0;

	if (g == &cli_group_top)
		return;
	fprintf(out, ".SS %s\n", path);
	fputs(".nf\n", out);
	if (g != NULL) {
		FILE *m = open_memstream(&text, &len);

		if (m != NULL) {
			cli_print_group_help(m, g->path, g->about, g->cmds,
			                     g->n);
			fclose(m);
			roff(out, text);
			free(text);
		}
	} else {
		roff(out, usage);
	}
	fputs(".fi\n", out);
}

static void print_man(FILE *out)
{
	fputs(".TH FINLOCK 1 \"\" \"finlock\" \"User Commands\"\n"
	      ".SH NAME\n"
	      "finlock \\- lock a financed phone when installments are "
	      "overdue\n"
	      ".SH SYNOPSIS\n"
	      ".B finlock\n"
	      ".I command\n"
	      "[\\fIoptions\\fR]\n"
	      ".SH DESCRIPTION\n",
	      out);
	roff(out, cli_group_top.about);
	fputs(".PP\nThe commands, each with the text its \\fB\\-\\-help\\fR "
	      "prints:\n"
	      ".nf\n",
	      out);
	for (size_t i = 0; i < cli_group_top.n; i++)
		fprintf(out, "  %-12s %s\n", cli_group_top.cmds[i].name,
		        cli_group_top.cmds[i].summary);
	fputs(".fi\n.SH COMMANDS\n", out);
	walk(&cli_group_top, man_entry, out);
	fputs(".SH EXIT STATUS\n"
	      ".TP\n0\ndone\n"
	      ".TP\n1\nrefused, invalid, or verification failed\n"
	      ".TP\n2\nwrong arguments\n"
	      ".TP\n3\nthe server could not be reached\n"
	      ".SH ENVIRONMENT\n"
	      ".TP\nFINLOCK_SERVER, FINLOCK_API_KEY, FINLOCK_CACERT\n"
	      "the server, API key and CA file when not given as options\n"
	      ".TP\nFINLOCK_PROFILE\n"
	      "the config file's profile to use when \\fB\\-\\-profile\\fR "
	      "is not given\n"
	      ".TP\nFINLOCK_CONFIG\n"
	      "the config file (else $XDG_CONFIG_HOME/finlock/config, else\n"
	      "~/.config/finlock/config)\n"
	      ".SH FILES\n"
	      ".TP\n~/.config/finlock/config\n"
	      "profiles written by \\fBfinlock login\\fR, mode 0600\n",
	      out);
}

/* --- bash completion ------------------------------------------------------ */

/* Appends the --options named in usage to out (each once). */
static void options_of(FILE *out, const char *usage)
{
	char seen[4096] = " ";
	bool first = true;

	for (const char *p = strstr(usage, "--"); p != NULL;
	     p = strstr(p + 2, "--")) {
		char opt[64], probe[70];
		size_t n = 2;

		if (p > usage && p[-1] != ' ' && p[-1] != '[' && p[-1] != '(' &&
		    p[-1] != '|' && p[-1] != '\n')
			continue;
		while ((p[n] >= 'a' && p[n] <= 'z') ||
		       (p[n] >= '0' && p[n] <= '9') || p[n] == '-')
			n++;
		if (n < 3 || n >= sizeof(opt))
			continue;
		snprintf(opt, sizeof(opt), "%.*s", (int)n, p);
		snprintf(probe, sizeof(probe), " %s ", opt);
		if (strstr(seen, probe) != NULL ||
		    strlen(seen) + n + 2 >= sizeof(seen))
			continue;
		strcat(seen, opt);
		strcat(seen, " ");
		fprintf(out, "%s%s", first ? "" : " ", opt);
		first = false;
	}
}

/* The part of a path after "finlock" ("devices lock"; "" for the top). */
static const char *words_of(const char *path)
{
	const char *sp = strchr(path, ' ');

	return sp != NULL ? sp + 1 : "";
}

static void bash_cmds(void *ctx, const struct cli_group *g, const char *path,
                      const char *usage)
{
	FILE *out = ctx;

	(void)usage;
	if (g == NULL)
		return;
	fprintf(out, "\t\"%s\") echo \"", words_of(path));
	for (size_t i = 0; i < g->n; i++)
		fprintf(out, "%s%s", i ? " " : "", g->cmds[i].name);
	fputs("\" ;;\n", out);
}

static void bash_opts(void *ctx, const struct cli_group *g, const char *path,
                      const char *usage)
{
	FILE *out = ctx;

	if (g != NULL)
		return;
	fprintf(out, "\t\"%s\") echo \"", words_of(path));
	options_of(out, usage);
	fputs(" --help\" ;;\n", out);
}

static void print_bash(FILE *out)
{
	fputs("# bash completion for finlock; made by 'finlock completion "
	      "bash'.\n"
	      "# Load it with: source <(finlock completion bash)\n"
	      "_finlock_cmds() {\n\tcase \"$1\" in\n",
	      out);
	walk(&cli_group_top, bash_cmds, out);
	fputs("\tesac\n}\n_finlock_opts() {\n\tcase \"$1\" in\n", out);
	walk(&cli_group_top, bash_opts, out);
	fputs("\t*) echo \"--help\" ;;\n"
	      "\tesac\n}\n"
	      "_finlock() {\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} path= w i subs\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tw=${COMP_WORDS[i]}\n"
	      "\t\t[[ $w == -* ]] && continue\n"
	      "\t\tsubs=\" $(_finlock_cmds \"$path\") \"\n"
	      "\t\t[[ $subs == *\" $w \"* ]] && path=${path:+$path }$w\n"
	      "\tdone\n"
	      "\tif [[ $cur == -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$(_finlock_opts \"$path\")\" -- "
	      "\"$cur\"))\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\tsubs=$(_finlock_cmds \"$path\")\n"
	      "\tif [[ -n $subs ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
	      "\telse\n"
	      "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	      "\tfi\n"
	      "}\n"
	      "complete -F _finlock finlock\n",
	      out);
}

/* --- the commands --------------------------------------------------------- */

static const char help_usage[] =
        "usage: finlock help [COMMAND...] [--man]\n"
        "\n"
        "Prints the help of a command or group ('finlock help devices "
        "lock' is\n"
        "'finlock devices lock --help'). With --man prints the manual page "
        "(roff,\n"
        "for 'man -l -'), made of every command's help.\n";

int cli_cmd_help(int argc, char **argv)
{
	bool man;
	const struct cli_opt opts[] = {{"man", CLI_OPT_FLAG, &man, false},
	                               {NULL, 0, NULL, false}};
	const struct cli_spec spec = {"help", help_usage, opts,
	                              0,      WORDS_MAX,  false};
	const struct cli_group *g = &cli_group_top;
	char *args[WORDS_MAX + 2];
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (man) {
		if (a.npos > 0) {
			cli_err("help: --man takes no command");
			return CLI_USAGE;
		}
		print_man(stdout);
		return CLI_OK;
	}
	for (int i = 0; i < a.npos; i++) {
		const struct cli_cmd *c = NULL;

		for (size_t k = 0; k < g->n && c == NULL; k++)
			if (strcmp(g->cmds[k].name, a.pos[i]) == 0)
				c = &g->cmds[k];
		if (c == NULL) {
			if (g == &cli_group_top)
				cli_err("help: unknown command '%s' (try "
				        "'finlock help')",
				        a.pos[i]);
			else
				cli_err("help: %s: unknown command '%s' (try "
				        "'finlock help %s')",
				        words_of(g->path), a.pos[i],
				        words_of(g->path));
			return CLI_USAGE;
		}
		if (subgroup(g, c) != NULL) {
			g = subgroup(g, c);
			continue;
		}
		if (i + 1 < a.npos) {
			cli_err("help: '%s' has no subcommand '%s'", c->name,
			        a.pos[i + 1]);
			return CLI_USAGE;
		}
		args[0] = (char *)c->name;
		args[1] = "--help";
		args[2] = NULL;
		return c->run(2, args);
	}
	cli_print_group_help(stdout, g->path, g->about, g->cmds, g->n);
	return CLI_OK;
}

static const char completion_usage[] =
        "usage: finlock completion bash\n"
        "\n"
        "Prints a bash completion script for finlock's commands and "
        "options.\n"
        "Load it in the current shell with\n"
        "    source <(finlock completion bash)\n"
        "or install it as /etc/bash_completion.d/finlock.\n";

int cli_cmd_completion(int argc, char **argv)
{
	const struct cli_spec spec = {
	        "completion", completion_usage, NULL, 1, 1, false};
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	if (strcmp(a.pos[0], "bash") != 0) {
		cli_err("completion: only bash is supported, not '%s'",
		        a.pos[0]);
		return CLI_USAGE;
	}
	print_bash(stdout);
	return CLI_OK;
}
