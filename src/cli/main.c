/* The snnfit command line: parses arguments into stage options and runs the stage. Prints an error
 * message once and exits with the stage's status (0 ok, 1 failed run, 2 bad usage or input).
 *
 * One table of options (k_options) is the single source of what each command takes: the parser
 * accepts exactly the options whose `commands` include the command, and `--help` and the usage
 * line are generated from the same entries. Adding an option is one line in k_options (with its
 * setter and a field in snn_stage_opts). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/params_read.h"
#include "core/checked.h"
#include "core/error.h"
#include "core/par.h"
#include "stages/stage.h"

/* Help and usage lines are wrapped to this width. */
#define CLI_WIDTH 100

enum {
    C_CONNECTOME, C_HOMEOSTATIC, C_TEACHER, C_SIMULATE, C_TRAIN, C_RESUME, C_COMPARE, C_ODOURANTS, C_IMPORT,
    C_CONVERT, C_RUN, C_SWEEP, C_N
};
#define ON(c) (1u << (c))
#define ALL_COMMANDS ((1u << C_N) - 1)
/* the commands of the form `snnfit CMD P.toml [-i IN] -o OUT` */
#define STAGE_COMMANDS (ON(C_CONNECTOME) | ON(C_HOMEOSTATIC) | ON(C_TEACHER) | ON(C_SIMULATE) | ON(C_TRAIN))

/* where a positional argument or an -i/-o value goes */
typedef enum field { F_PARAMS, F_INPUT, F_OUTPUT } field;

typedef struct positional {
    const char *name; /* as in the usage line: P.toml, OUT, ... */
    field to;
    const char *help;
} positional;

typedef struct command {
    const char *name;
    const char *summary;
    int (*run)(const snn_stage_opts *o, snn_error *err);
    int n_args;
    positional args[3];
    int needs_input, needs_output; /* -i / -o required */
    const char *input_help, *output_help; /* what -i and -o are for this command (NULL: the generic text) */
} command;

static const command k_commands[C_N] = {
    [C_CONNECTOME] = {"connectome",
                      "stage 1: generate a connectome (OUT/network_structure.npz, network_statistics.csv) and "
                      "check its activity in a short run on Poisson input",
                      snn_stage_connectome, 1,
                      {{"P.toml", F_PARAMS, "a stage-1 parameter file (e.g. parameters/connectome.toml)"}},
                      0, 1, NULL, NULL},
    [C_HOMEOSTATIC] = {"homeostatic",
                       "stage 2: homeostatic plasticity: train the scaling factors towards fixed per-type rate "
                       "targets on Poisson input; OUT/final_state/network_structure.npz is stage 3's network",
                       snn_stage_homeostatic, 1,
                       {{"P.toml", F_PARAMS, "a stage-2 parameter file (e.g. parameters/homeostatic-plasticity.toml)"}},
                       0, 1, "the network: network_structure.npz or a folder holding it (default: generated from "
                       "P.toml's [*.topology] and [*.weights])", NULL},
    [C_TEACHER] = {"teacher",
                   "stage 3: teacher activity: the network of IN on odour inputs, one OU mixing trajectory per "
                   "trial, into OUT/results/spike_data.zarr",
                   snn_stage_teacher, 1,
                   {{"P.toml", F_PARAMS, "a stage-3 parameter file (e.g. parameters/generate-teacher-activity.toml)"}},
                   1, 1, "the network: network_structure.npz or a folder holding it (e.g. a stage-2 run's "
                   "final_state/)", NULL},
    [C_SIMULATE] = {"simulate",
                    "a plain forward run of a network: spikes and the [tracking] neurons' voltages, currents and "
                    "conductances into OUT/simulation.npz",
                    snn_stage_simulate, 1,
                    {{"P.toml", F_PARAMS, "a parameter file with the network's physiology and synapses (e.g. a "
                      "stage-3 file)"}},
                    1, 1, "the network: network_structure.npz or a folder holding it", NULL},
    [C_TRAIN] = {"train",
                 "stage 4: train a student on a teacher's spikes; checkpoints, metrics, figures, initial_state/ "
                 "and final_state/ in OUT",
                 snn_stage_train, 1,
                 {{"P.toml", F_PARAMS, "a stage-4 parameter file (e.g. parameters/fitting-activity.toml)"}},
                 1, 1, "the teacher: a folder with network_structure.npz and spike_data.zarr (a stage-3 run)",
                 NULL},
    [C_RESUME] = {"resume",
                  "continue an interrupted training run (stage 2 or 4) in place, bit-identical to an "
                  "uninterrupted run",
                  snn_stage_resume, 1,
                  {{"OUT", F_OUTPUT, "the run's folder; it continues from OUT/checkpoints/checkpoint_latest.npz "
                    "with OUT/parameters.toml"}},
                  0, 0, NULL, NULL},
    [C_COMPARE] = {"compare",
                   "a finished stage-4 run against its target on odour 1: Poisson vs learning variability "
                   "(windowed-rate correlogram, Pearson r), raster and dashboards into OUT",
                   snn_stage_compare, 3,
                   {{"EXP", F_INPUT, "a finished stage-4 run"},
                    {"OUT", F_OUTPUT, "the output folder (must not exist or be empty, unless --overwrite)"},
                    {"TEACHER.toml", F_PARAMS, "the teacher's stage-3 parameter file (odours, dt)"}},
                   0, 0, NULL, NULL},
    [C_ODOURANTS] = {"odourants",
                     "a teacher's responses to odour 1, to odour 1 with other input noise and to baseline "
                     "input, into EXP/figures/",
                     snn_stage_odourants, 1, {{"EXP", F_INPUT, "a stage-3 (teacher) run"}}, 0, 0, NULL, NULL},
    [C_IMPORT] = {"import",
                  "build a network (OUT/network_structure.npz and neuron_ids.csv) from connectome edge lists, "
                  "e.g. FlyWire's connections and neuron tables (docs/import.md)",
                  snn_stage_import, 0, {{NULL, F_PARAMS, NULL}}, 0, 1, NULL,
                  "the output folder: network_structure.npz, neuron_ids.csv (must not exist or be empty, unless "
                  "--overwrite)"},
    [C_CONVERT] = {"convert",
                   "rewrite a network_structure.npz with dense or sparse (CSR) weight matrices; the network is "
                   "unchanged",
                   snn_stage_convert, 2,
                   {{"IN.npz", F_INPUT, "a network_structure.npz (dense or sparse)"},
                    {"OUT.npz", F_OUTPUT, "the converted file (another name than IN.npz)"}},
                   0, 0, NULL, NULL},
    [C_RUN] = {"run",
               "a tracked run of any stage from an experiment file: inputs linked or copied into OUT/inputs/, "
               "metadata.json, README.md, one line in log_file",
               snn_stage_run, 1,
               {{"EXPERIMENT.toml", F_INPUT, "an experiment file: stage (or the reference's script), "
                 "parameters_file, output_dir, [[data.inputs]], log_file, [wandb]"}},
               0, 0, NULL, NULL},
    [C_SWEEP] = {"sweep",
                 "a parameter sweep (grid search): an experiment file with a [sweep] table of axes; every point a "
                 "tracked run in OUT/points/<name>/, a row of OUT/summary.csv (docs/sweeps.md); points run "
                 "--jobs at once, or are shared by the ranks of mpirun or the tasks of a Slurm job array",
                 snn_stage_sweep, 1,
                 {{"SWEEP.toml", F_PARAMS, "a sweep file: an experiment file (stage, parameters_file, inputs) plus "
                   "[sweep] combine and [sweep.axes]"}},
                 0, 1, NULL,
                 "the sweep's folder: new, or an earlier run of the same sweep (its completed points are "
                 "skipped)"},
};

/* ---------------------------------------------------------------------------------------------- */
/* options */

typedef struct option {
    const char *name;       /* --long */
    const char *short_name; /* -x, or NULL */
    const char *value;      /* the value's name, or NULL for a flag */
    unsigned commands;      /* ON(C_...) of the commands that take it */
    const char *help;
    /* stores the value; returns 0, or -1 with why filled. set_named keeps a command's own option (name
     * and value) in snn_stage_opts.named for the stage to read */
    int (*set)(snn_stage_opts *o, const char *value, char *why, size_t n);
    unsigned required;      /* ON(C_...) of the commands that require it */
} option;

static int set_input(snn_stage_opts *o, const char *v, char *why, size_t n) {
    (void)why, (void)n;
    o->input = v;
    return 0;
}
static int set_output(snn_stage_opts *o, const char *v, char *why, size_t n) {
    (void)why, (void)n;
    o->output = v;
    return 0;
}
static int set_inputs_file(snn_stage_opts *o, const char *v, char *why, size_t n) {
    (void)why, (void)n;
    o->inputs_file = v;
    return 0;
}
static int set_resume_from(snn_stage_opts *o, const char *v, char *why, size_t n) {
    (void)why, (void)n;
    o->resume_from = v;
    return 0;
}
static int set_stop_after(snn_stage_opts *o, const char *v, char *why, size_t n) {
    char *end;
    errno = 0;
    long long k = strtoll(v, &end, 10);
    if (end == v || *end || errno == ERANGE || k < 1) {
        snprintf(why, n, "needs a positive number of epochs, got '%s'", v);
        return -1;
    }
    o->stop_after = k;
    return 0;
}
static int set_no_wandb(snn_stage_opts *o, const char *v, char *why, size_t n) {
    (void)v, (void)why, (void)n;
    o->no_wandb = 1;
    return 0;
}
static int set_overwrite(snn_stage_opts *o, const char *v, char *why, size_t n) {
    (void)v, (void)why, (void)n;
    o->overwrite = 1;
    return 0;
}
static int set_named(snn_stage_opts *o, const char *v, char *why, size_t n) {
    /* the parser stores name and value itself (it knows the option) */
    (void)o, (void)v, (void)why, (void)n;
    return 0;
}
static int set_jobs(snn_stage_opts *o, const char *v, char *why, size_t n) {
    char *end;
    errno = 0;
    long k = strtol(v, &end, 10);
    if (end == v || *end || errno == ERANGE || k < 1 || k > 4096) {
        snprintf(why, n, "needs a number of jobs from 1 to 4096, got '%s'", v);
        return -1;
    }
    o->jobs = (int)k;
    return 0;
}
static int set_max_memory(snn_stage_opts *o, const char *v, char *why, size_t n) {
    uint64_t m = 0;
    if (snn_parse_bytes(v, &m) != 0 || m == 0) {
        snprintf(why, n, "needs a number of bytes such as 8G or 512M, got '%s'", v);
        return -1;
    }
    o->max_memory = m;
    return 0;
}
static int set_quiet(snn_stage_opts *o, const char *v, char *why, size_t n) {
    (void)v, (void)why, (void)n;
    o->quiet = 1;
    return 0;
}

static const option k_options[] = {
    {"--input", "-i", "IN", ON(C_HOMEOSTATIC) | ON(C_TEACHER) | ON(C_SIMULATE) | ON(C_TRAIN),
     "the input: network_structure.npz or a folder holding it", set_input, 0},
    {"--output", "-o", "OUT", STAGE_COMMANDS | ON(C_IMPORT) | ON(C_SWEEP), "the output folder (must not exist or be empty, unless --overwrite)",
     set_output, 0},
    {"--inputs", NULL, "FILE", ON(C_SIMULATE),
     "recorded input spikes: an npz with input_spikes (trials, T, N_in) or a teacher's spike_data.zarr "
     "(default: IN/spike_data.zarr if there is one, else Poisson at the [feedforward.activity] rates)",
     set_inputs_file, 0},
    {"--resume-from", NULL, "FILE", ON(C_TRAIN),
     "continue the run in OUT from this checkpoint (e.g. OUT/checkpoints/checkpoint_latest.npz) "
     "instead of starting anew", set_resume_from, 0},
    {"--stop-after", NULL, "K", ON(C_HOMEOSTATIC) | ON(C_TRAIN) | ON(C_RESUME),
     "stop after K epochs of this invocation, with a checkpoint; `snnfit resume OUT` continues", set_stop_after, 0},
    {"--jobs", "-j", "N", ON(C_SWEEP),
     "points run at once on this machine (default 1), each with its share of the cores", set_jobs, 0},
    {"--no-wandb", NULL, NULL, ON(C_HOMEOSTATIC) | ON(C_TRAIN) | ON(C_RESUME) | ON(C_RUN) | ON(C_SWEEP),
     "no upload to Weights & Biases in this run, even with [wandb] enabled = true", set_no_wandb, 0},
    {"--max-memory", NULL, "BYTES",
     STAGE_COMMANDS | ON(C_RESUME) | ON(C_COMPARE) | ON(C_ODOURANTS) | ON(C_RUN),
     "refuse, before anything is written, a run estimated to need more memory (8G, 512M; default: the memory "
     "available now)", set_max_memory, 0},
    {"--overwrite", NULL, NULL, STAGE_COMMANDS | ON(C_COMPARE) | ON(C_IMPORT) | ON(C_RUN),
     "replace an existing, non-empty output folder (it is removed first)", set_overwrite, 0},
#define IMP ON(C_IMPORT)
    {"--edges", NULL, "FILE", IMP, "edge list (CSV or TSV): one row per connection (a pair may repeat: --duplicates)",
     set_named, IMP},
    {"--neurons", NULL, "FILE", IMP, "neuron table: one row per neuron", set_named, IMP},
    {"--mapping", NULL, "FILE", IMP, "TOML: cell type names, value -> cell type, transmitter -> sign (docs/import.md)",
     set_named, IMP},
    {"--pre-column", NULL, "NAME", IMP, "edges: presynaptic id column (default pre_root_id)", set_named, 0},
    {"--post-column", NULL, "NAME", IMP, "edges: postsynaptic id column (default post_root_id)", set_named, 0},
    {"--weight-column", NULL, "NAME", IMP, "edges: weight or synapse count column (default syn_count)", set_named, 0},
    {"--transmitter-column", NULL, "NAME", IMP,
     "edges: per-edge transmitter or sign (default nt_type; used when present and MAP has [transmitters])",
     set_named, 0},
    {"--id-column", NULL, "NAME", IMP, "neurons: id column (default root_id)", set_named, 0},
    {"--type-column", NULL, "NAME", IMP, "neurons: cell-type value column (default nt_type)", set_named, 0},
    {"--group-column", NULL, "NAME", IMP, "neurons: group -> assembly id (default: none)", set_named, 0},
    {"--input-column", NULL, "NAME", IMP,
     "neurons: input flag, true when the value is in MAP's [inputs] values (default: none)", set_named, 0},
    {"--duplicates", NULL, "POLICY", IMP, "a pair listed twice: sum (default; synapse counts add), keep (the first), "
     "reject", set_named, 0},
    {"--self-loops", NULL, "POLICY", IMP, "pre == post: drop (default, each reported), keep, reject", set_named, 0},
    {"--signed-weights", NULL, NULL, IMP, "a negative weight is |w| with sign \"-\" (looked up in [transmitters])",
     set_named, 0},
    {"--weight-scale", NULL, "X", IMP, "weight = value x X (default 1)", set_named, 0},
    {"--delimiter", NULL, "C", IMP, "',' or 'tab' (default: tab if the header has one, else comma)", set_named, 0},
    {"--format", NULL, "F", IMP, "auto (default), dense or sparse network_structure.npz", set_named, 0},
#undef IMP
    {"--dense", NULL, NULL, ON(C_CONVERT), "write the reference's dense N x N arrays", set_named, 0},
    {"--sparse", NULL, NULL, ON(C_CONVERT), "write scipy.sparse's CSR layout (docs/file-formats.md)", set_named, 0},
    {"--auto", NULL, NULL, ON(C_CONVERT), "dense unless the dense arrays would exceed 256 MiB", set_named, 0},
    {"--quiet", "-q", NULL, ALL_COMMANDS, "no progress bar (it is also off when stderr is not a terminal)",
     set_quiet, 0},
    {"--help", "-h", NULL, ALL_COMMANDS, "print this help and exit", NULL, 0}, /* no setter: handled by the parser */
};
static const int k_n_options = sizeof k_options / sizeof *k_options;

/* ---------------------------------------------------------------------------------------------- */
/* help */

/* Writes text wrapped at CLI_WIDTH: the first line continues at column `col` (where the caller has
 * written up to), later lines start at column `indent`. Breaks at spaces only. */
static void put_wrapped(FILE *f, const char *text, int col, int indent) {
    const char *p = text;
    int first = 1;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        int room = CLI_WIDTH - col;
        int len = (int)strlen(p), cut = len;
        if (len > room) {
            cut = room;
            while (cut > 0 && p[cut] != ' ') cut--;
            if (cut == 0) { /* a word longer than the line: keep it whole */
                cut = room;
                while (p[cut] && p[cut] != ' ') cut++;
            }
        }
        if (!first) fprintf(f, "\n%*s", indent, "");
        fprintf(f, "%.*s", cut, p);
        p += cut;
        col = indent;
        first = 0;
    }
    fputc('\n', f);
}

static int takes(const option *op, int c) { return (op->commands & ON(c)) != 0; }

static const option *find_option(const char *name) {
    for (int k = 0; k < k_n_options; k++)
        if (!strcmp(name, k_options[k].name) || (k_options[k].short_name && !strcmp(name, k_options[k].short_name)))
            return &k_options[k];
    return NULL;
}

/* "usage: snnfit train P.toml -i IN -o OUT [--resume-from FILE] ...", wrapped between items, the
 * continuation lines aligned after "usage: snnfit train " */
static void print_usage(FILE *f, int c) {
    const command *cmd = &k_commands[c];
    char items[48][64];
    int n = 0;
    for (int a = 0; a < cmd->n_args; a++) snprintf(items[n++], sizeof items[0], "%s", cmd->args[a].name);
    for (int k = 0; k < k_n_options && n < 48; k++) {
        const option *op = &k_options[k];
        if (!takes(op, c) || op->set == NULL) continue;
        const char *spell = op->short_name && op->value ? op->short_name : op->name;
        int required = (op->set == set_input && cmd->needs_input) || (op->set == set_output && cmd->needs_output) ||
                       (op->required & ON(c));
        snprintf(items[n++], sizeof items[0], "%s%s%s%s%s", required ? "" : "[", spell, op->value ? " " : "",
                 op->value ? op->value : "", required ? "" : "]");
    }
    int indent = fprintf(f, "usage: snnfit %s", cmd->name) + 1, col = indent - 1;
    for (int k = 0; k < n; k++) {
        int w = (int)strlen(items[k]);
        if (col + 1 + w > CLI_WIDTH) {
            fprintf(f, "\n%*s%s", indent, "", items[k]);
            col = indent + w;
        } else {
            fprintf(f, " %s", items[k]);
            col += 1 + w;
        }
    }
    fputc('\n', f);
}

static void print_command_help(FILE *f, int c) {
    const command *cmd = &k_commands[c];
    print_usage(f, c);
    fputc('\n', f);
    put_wrapped(f, cmd->summary, 0, 0);
    enum { COL = 24 };
    if (cmd->n_args > 0) fprintf(f, "\narguments:\n");
    for (int a = 0; a < cmd->n_args; a++) {
        int w = fprintf(f, "  %s", cmd->args[a].name);
        fprintf(f, "%*s", w + 2 > COL ? 2 : COL - w, "");
        put_wrapped(f, cmd->args[a].help, w + 2 > COL ? w + 2 : COL, COL);
    }
    fprintf(f, "\noptions:\n");
    for (int k = 0; k < k_n_options; k++) {
        const option *op = &k_options[k];
        if (!takes(op, c)) continue;
        int w = fprintf(f, "  %s%s%s%s%s", op->short_name ? op->short_name : "", op->short_name ? ", " : "", op->name,
                        op->value ? " " : "", op->value ? op->value : "");
        const char *help = op->help;
        if (op->set == set_input && cmd->input_help) help = cmd->input_help;
        if (op->set == set_output && cmd->output_help) help = cmd->output_help;
        /* a long option name pushes its description right on the same line; later lines align at COL */
        fprintf(f, "%*s", w + 2 > COL ? 2 : COL - w, "");
        put_wrapped(f, help, w + 2 > COL ? w + 2 : COL, COL);
    }
}

static void print_main_help(FILE *f) {
    fprintf(f, "snnfit %s - train connectome-constrained conductance-based spiking networks\n\n", SNNFIT_VERSION);
    fprintf(f, "usage: snnfit <command> [arguments] [options]\n\ncommands:\n");
    for (int c = 0; c < C_N; c++) {
        int w = fprintf(f, "  %-12s", k_commands[c].name);
        put_wrapped(f, k_commands[c].summary, w, w);
    }
    fprintf(f, "\nRun 'snnfit <command> --help' for the arguments and options of a command; 'snnfit --version'.\n");
}

/* One line naming the problem, then the usage: status 2. */
__attribute__((format(printf, 2, 3))) static int usage_error(int c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    print_usage(stderr, c);
    return 2;
}

/* ---------------------------------------------------------------------------------------------- */

/* Commands that run on several MPI ranks (the others refuse to: every rank would write the same
 * output folder). */
static int runs_on_ranks(int c) {
    return c == C_TEACHER || c == C_SIMULATE || c == C_SWEEP || c == C_TRAIN || c == C_HOMEOSTATIC || c == C_RESUME;
}

/* The command line. Sets *agreed once the ranks agreed on the outcome (snn_par_finish); a return
 * before that (usage errors, --help) has printed its own message. */
static int cli_main(int argc, char **argv, int *agreed) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_main_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("snnfit %s (commit %s)\n", SNNFIT_VERSION, SNNFIT_GIT_COMMIT);
        char mpi[256];
        printf("MPI: %s%s\n", snn_par_built_in() ? "built in, " : "", snn_par_library(mpi, sizeof mpi));
        return 0;
    }
    int c = -1;
    for (int i = 0; i < C_N; i++)
        if (!strcmp(argv[1], k_commands[i].name)) c = i;
    if (c < 0) {
        const char *names[C_N];
        for (int i = 0; i < C_N; i++) names[i] = k_commands[i].name;
        const char *near = snn_pr_closest(argv[1], names, C_N);
        fprintf(stderr, "error: unknown command '%s'%s%s%s\n\n", argv[1], near ? "; did you mean '" : "",
                near ? near : "", near ? "'?" : "");
        print_main_help(stderr);
        return 2;
    }
    const command *cmd = &k_commands[c];
    snn_stage_opts o = {0};
    o.argc = argc, o.argv = argv;
    const char *pos[3] = {NULL, NULL, NULL};
    int n_pos = 0, only_positional = 0;
    unsigned char seen[sizeof k_options / sizeof *k_options] = {0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (n_pos >= cmd->n_args)
                return usage_error(c, "unexpected argument '%s' (snnfit %s takes no more arguments)", a, cmd->name);
            pos[n_pos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_positional = 1;
            continue;
        }
        /* --name=value */
        char name[64];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        snprintf(name, sizeof name, "%.*s", (int)(nlen < sizeof name ? nlen : sizeof name - 1), a);
        const option *op = find_option(name);
        if (op == NULL) {
            const char *names[2 * (sizeof k_options / sizeof *k_options)];
            int n = 0;
            for (int k = 0; k < k_n_options; k++)
                if (takes(&k_options[k], c)) names[n++] = k_options[k].name;
            const char *near = snn_pr_closest(name, names, n);
            char hint[128] = "";
            if (near) snprintf(hint, sizeof hint, "; did you mean '%s'?", near);
            return usage_error(c, "unknown option '%s'%s", name, hint);
        }
        if (!takes(op, c)) return usage_error(c, "snnfit %s does not take %s", cmd->name, name);
        if (op->set == NULL) { /* --help */
            print_command_help(stdout, c);
            return 0;
        }
        const char *value = NULL;
        if (op->value) {
            if (eq) value = eq + 1;
            else if (i + 1 < argc) value = argv[++i];
            else return usage_error(c, "%s needs a value (%s)", op->name, op->value);
        } else if (eq) {
            return usage_error(c, "%s takes no value (got '%s')", op->name, eq + 1);
        }
        int k = (int)(op - k_options);
        if (seen[k]) return usage_error(c, "%s is given twice", op->name);
        seen[k] = 1;
        if (op->set == set_named) {
            if (o.n_named >= (int)(sizeof o.named / sizeof *o.named)) return usage_error(c, "too many options");
            o.named[o.n_named].name = op->name;
            o.named[o.n_named++].value = value;
            continue;
        }
        char why[256];
        if (op->set(&o, value, why, sizeof why)) return usage_error(c, "%s %s", op->name, why);
    }
    if (n_pos < cmd->n_args) return usage_error(c, "missing %s", cmd->args[n_pos].name);
    for (int a = 0; a < cmd->n_args; a++) {
        switch (cmd->args[a].to) {
        case F_PARAMS: o.params_path = pos[a]; break;
        case F_INPUT: o.input = pos[a]; break;
        case F_OUTPUT: o.output = pos[a]; break;
        }
    }
    if (cmd->needs_output && o.output == NULL) return usage_error(c, "missing -o OUT");
    if (cmd->needs_input && o.input == NULL) return usage_error(c, "missing -i IN");
    for (int k = 0; k < k_n_options; k++)
        if ((k_options[k].required & ON(c)) && !seen[k]) return usage_error(c, "missing %s", k_options[k].name);

    snn_error err = {0};
    int rc;
    if (snn_par_rank() > 0) o.quiet = 1; /* rank 0 draws the progress bar */
    if (snn_par_size() > 1 && !runs_on_ranks(c))
        rc = snn_fail(&err, SNN_EINPUT,
                      "snnfit %s does not run on several MPI ranks (%d here): run it without mpirun or with -np 1 "
                      "(teacher, simulate, train, homeostatic, resume and sweep use several ranks)",
                      cmd->name, snn_par_size());
    else
        rc = cmd->run(&o, &err);
    rc = snn_par_finish(rc, &err);
    *agreed = 1;
    if (rc != SNN_OK) {
        fflush(stdout);
        if (snn_par_rank() == 0) fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : "failed");
        return rc == SNN_EINPUT ? 2 : 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    snn_par_init(&argc, &argv);
    int agreed = 0, code = cli_main(argc, argv, &agreed);
    if (!agreed) {
        /* a usage error (or --help) before the command ran: the other ranks still learn the status */
        snn_error err = {0};
        if (code) snn_fail(&err, code == 2 ? SNN_EINPUT : SNN_ERUN, "bad command line (see the message above)");
        int rc = snn_par_finish(code == 2 ? SNN_EINPUT : code ? SNN_ERUN : SNN_OK, &err);
        if (rc && !code) code = rc == SNN_EINPUT ? 2 : 1;
    }
    snn_par_finalize();
    return code;
}
