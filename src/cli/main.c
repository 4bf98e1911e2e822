/* The snnfit command line: parses arguments into stage options and runs the stage. Prints an error
 * message once and exits with the stage's status (0 ok, 1 failed run, 2 bad usage or input). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "stages/stage.h"

typedef struct command {
    const char *name;
    const char *usage;
    const char *summary;
    int needs_input;
    int (*run)(const snn_stage_opts *o, snn_error *err);
    /* > 0: the command takes this many positional arguments, in the order input, output, params_path
     * (compare: EXP OUT TEACHER.toml; odourants: EXP), instead of P.toml and -i/-o */
    int positional;
} command;

static const command k_commands[] = {
    {"connectome", "snnfit connectome P.toml -o OUT [--overwrite] [--quiet]",
     "stage 1: generate a connectome (network_structure.npz, network_statistics.csv)", 0, snn_stage_connectome, 0},
    {"homeostatic", "snnfit homeostatic P.toml [-i IN] -o OUT [--stop-after K] [--no-wandb] [--overwrite] [--quiet]",
     "stage 2: homeostatic plasticity: train the scaling factors towards fixed rate targets on Poisson\n"
     "      input; the network from -i IN (network_structure.npz or a folder with one) or generated;\n"
     "      OUT/final_state/network_structure.npz is stage 3's input",
     0, snn_stage_homeostatic, 0},
    {"teacher", "snnfit teacher P.toml -i IN -o OUT [--overwrite] [--quiet]",
     "stage 3: teacher activity from IN/network_structure.npz into OUT/results/spike_data.zarr", 1,
     snn_stage_teacher, 0},
    {"simulate", "snnfit simulate P.toml -i IN -o OUT [--inputs FILE] [--overwrite] [--quiet]",
     "a plain forward run: spikes and tracked traces into OUT/simulation.npz; inputs from --inputs (an npz\n"
     "      with input_spikes, or a teacher spike_data.zarr), IN/spike_data.zarr, or Poisson at the\n"
     "      [feedforward.activity] rates",
     1, snn_stage_simulate, 0},
    {"train", "snnfit train P.toml -i IN -o OUT [--resume-from FILE] [--stop-after K] [--no-wandb] [--overwrite] [--quiet]",
     "stage 4: train a student on the teacher data of IN (network_structure.npz and spike_data.zarr, e.g.\n"
     "      a stage-3 output folder); checkpoints, metrics, initial_state/ and final_state/ in OUT",
     1, snn_stage_train, 0},
    {"resume", "snnfit resume OUT [--stop-after K] [--no-wandb] [--quiet]",
     "continue an interrupted training run (stage 2 or 4) in place from OUT/checkpoints/checkpoint_latest.npz", 0,
     snn_stage_resume, 0},
    {"compare", "snnfit compare EXP OUT TEACHER.toml [--overwrite] [--quiet]",
     "compare a finished stage-4 run EXP with its target on odour 1 (teacher parameters TEACHER.toml):\n"
     "      Poisson vs learning variability correlogram, raster, dashboards into OUT",
     0, snn_stage_compare, 3},
    {"odourants", "snnfit odourants EXP [--quiet]",
     "odour 1 vs baseline and vs a repeat with other input noise, for a stage-3 run EXP; into EXP/figures/", 0,
     snn_stage_odourants, 1},
    {"run", "snnfit run EXPERIMENT.toml [--overwrite] [--no-wandb] [--quiet]",
     "a tracked run of any stage from an experiment file (stage, parameters_file, output_dir, inputs):\n"
     "      inputs linked or copied into OUT/inputs/, metadata.json, README.md, a line in log_file",
     0, snn_stage_run, 1},
};
static const int k_n_commands = sizeof k_commands / sizeof *k_commands;

static void print_main_help(FILE *f) {
    fprintf(f, "snnfit %s - train connectome-constrained conductance-based spiking networks\n\n", SNNFIT_VERSION);
    fprintf(f, "usage: snnfit <command> [options]\n\ncommands:\n");
    for (int i = 0; i < k_n_commands; i++) fprintf(f, "  %-11s %s\n", k_commands[i].name, k_commands[i].summary);
    fprintf(f, "\nRun 'snnfit <command> --help' for the options of a command; 'snnfit --version'.\n");
}

static void print_command_help(const command *c, FILE *f) {
    fprintf(f, "usage: %s\n\n  %s\n\noptions:\n", c->usage, c->summary);
    if (!c->positional) {
        fprintf(f, "  -i, --input IN     input folder (or file) with network_structure.npz\n");
        fprintf(f, "  -o, --output OUT   output folder (must not exist or be empty)\n");
    }
    fprintf(f, "  --overwrite        replace an existing output folder\n");
    fprintf(f, "  --max-memory BYTES refuse a run estimated to need more memory (8G, 512M; default: what is available)\n");
    fprintf(f, "  --quiet            no progress bar\n");
    fprintf(f, "  -h, --help         this help\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_main_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("snnfit %s (commit %s)\n", SNNFIT_VERSION, SNNFIT_GIT_COMMIT);
        return 0;
    }
    const command *cmd = NULL;
    for (int i = 0; i < k_n_commands; i++)
        if (!strcmp(argv[1], k_commands[i].name)) cmd = &k_commands[i];
    if (cmd == NULL) {
        fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
        print_main_help(stderr);
        return 2;
    }
    snn_stage_opts o = {0};
    o.argc = argc, o.argv = argv;
    const char *pos[3] = {NULL, NULL, NULL};
    int n_pos = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_command_help(cmd, stdout);
            return 0;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o.quiet = 1;
        } else if (!strcmp(a, "--overwrite")) {
            o.overwrite = 1;
        } else if (!strcmp(a, "--no-wandb")) {
            o.no_wandb = 1;
        } else if (!strcmp(a, "--resume-from") || !strcmp(a, "--stop-after") || !strcmp(a, "--max-memory")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "error: %s needs a value\nusage: %s\n", a, cmd->usage);
                return 2;
            }
            const char *val = argv[++i];
            if (!strcmp(a, "--resume-from")) {
                o.resume_from = val;
            } else if (!strcmp(a, "--max-memory")) {
                uint64_t m = 0;
                if (snn_parse_bytes(val, &m) != 0 || m == 0) {
                    fprintf(stderr, "error: --max-memory needs a number of bytes such as 8G or 512M, got '%s'\n", val);
                    return 2;
                }
                o.max_memory = m;
            } else {
                int64_t k = 0;
                if (snn_parse_i64(val, &k) != 0 || k < 1) {
                    fprintf(stderr, "error: --stop-after needs a positive number of epochs (at most %lld), got '%s'\n",
                            (long long)INT64_MAX, val);
                    return 2;
                }
                o.stop_after = k;
            }
        } else if (!strcmp(a, "-i") || !strcmp(a, "--input") || !strcmp(a, "-o") || !strcmp(a, "--output") ||
                   !strcmp(a, "--inputs")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "error: %s needs a value\nusage: %s\n", a, cmd->usage);
                return 2;
            }
            const char *val = argv[++i];
            if (a[1] == 'i' || !strcmp(a, "--input")) o.input = val;
            else if (!strcmp(a, "--inputs")) o.inputs_file = val;
            else o.output = val;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "error: unknown option '%s'\nusage: %s\n", a, cmd->usage);
            return 2;
        } else if (cmd->positional && n_pos < cmd->positional) {
            pos[n_pos++] = a;
        } else if (!strcmp(cmd->name, "resume")) {
            if (o.output != NULL) {
                fprintf(stderr, "error: unexpected argument '%s' (resume takes one run folder)\nusage: %s\n", a,
                        cmd->usage);
                return 2;
            }
            o.output = a;
        } else if (o.params_path == NULL) {
            o.params_path = a;
        } else {
            fprintf(stderr, "error: unexpected argument '%s'\nusage: %s\n", a, cmd->usage);
            return 2;
        }
    }
    if (cmd->positional) {
        if (n_pos < cmd->positional || o.input || o.output || o.params_path) {
            fprintf(stderr, "error: expected %d argument%s\nusage: %s\n", cmd->positional,
                    cmd->positional > 1 ? "s" : "", cmd->usage);
            return 2;
        }
        o.input = pos[0], o.output = pos[1], o.params_path = pos[2];
    } else if (!strcmp(cmd->name, "resume")) {
        if (o.output == NULL) {
            fprintf(stderr, "error: missing the run folder\nusage: %s\n", cmd->usage);
            return 2;
        }
    } else if (o.params_path == NULL || o.output == NULL || (cmd->needs_input && o.input == NULL)) {
        fprintf(stderr, "error: missing %s\nusage: %s\n",
                o.params_path == NULL ? "parameter file" : o.output == NULL ? "-o OUT" : "-i IN", cmd->usage);
        return 2;
    }
    snn_error err = {0};
    int rc = cmd->run(&o, &err);
    if (rc != SNN_OK) {
        fflush(stdout);
        fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : "failed");
        return rc == SNN_EINPUT ? 2 : 1;
    }
    return 0;
}
