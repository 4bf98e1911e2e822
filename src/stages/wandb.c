/* W&B upload by background `wandb sync` processes (see wandb.h). */
#include "stages/wandb.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"

extern char **environ;

/* Philox purpose of the run id; outside the range of enum snn_rng_purpose so that the id never shares
 * a stream with a draw of the simulation. */
#define WANDB_RNG_PURPOSE 0x77616e64u /* "wand" */

int snn_wandb_make_run_id(const char *out_dir, uint64_t seed, char id[SNN_WANDB_ID_MAX], snn_error *err) {
    char abs[SNN_PATH_MAX];
    if (realpath(out_dir, abs) == NULL)
        return snn_fail(err, SNN_ERUN, "%s: cannot resolve the output folder: %s", out_dir, strerror(errno));
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a folds the path into the counter */
    for (const unsigned char *c = (const unsigned char *)abs; *c; c++) h = (h ^ *c) * 0x100000001b3u;
    uint32_t out[4];
    snn_rng_block(snn_rng_make(seed, WANDB_RNG_PURPOSE), (uint32_t)h, h >> 32, 0, out);
    snprintf(id, SNN_WANDB_ID_MAX, "%08x", (unsigned)out[0]);
    return SNN_OK;
}

int snn_wandb_id_valid(const char *id) {
    size_t n = 0;
    for (const char *c = id; *c; c++, n++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                 *c == '-';
        if (!ok) return 0;
    }
    return n >= 1 && n < SNN_WANDB_ID_MAX;
}

/* First executable regular file named `wandb` in PATH (as execvp would find it; an empty PATH
 * element means the current folder). */
static int find_on_path(const char *name, char *out, size_t n) {
    const char *path = getenv("PATH");
    if (path == NULL) path = "/usr/local/bin:/usr/bin:/bin";
    const char *p = path;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int w = len ? snprintf(out, n, "%.*s/%s", (int)len, p, name) : snprintf(out, n, "./%s", name);
        struct stat st;
        if (w > 0 && (size_t)w < n && stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return 1;
        if (end == NULL) return 0;
        p = end + 1;
    }
}

/* Appends s to buf (size n) quoted for a POSIX shell when it needs it, so that the printed command
 * can be pasted as it is. */
static void shell_quote(char *buf, size_t n, const char *s) {
    size_t k = strlen(buf);
    int plain = *s != '\0';
    for (const char *c = s; *c; c++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+-,", *c)) plain = 0;
    if (plain) {
        snprintf(buf + k, n - k, "%s", s);
        return;
    }
    if (k + 1 < n) buf[k++] = '\'';
    for (const char *c = s; *c && k + 5 < n; c++) {
        if (*c == '\'') {
            memcpy(buf + k, "'\\''", 4);
            k += 4;
        } else {
            buf[k++] = *c;
        }
    }
    if (k + 1 < n) buf[k++] = '\'';
    buf[k] = '\0';
}

/* The sync's argument vector (argv[0] = "wandb"); strings point into w and tb_dir. */
static int build_argv(const snn_wandb *w, const char *tb_dir, const char *argv[16]) {
    int a = 0;
    argv[a++] = "wandb";
    argv[a++] = "sync";
    argv[a++] = tb_dir;
    argv[a++] = "--sync-tensorboard";
    if (w->project[0]) {
        argv[a++] = "-p";
        argv[a++] = w->project;
    }
    if (w->entity[0]) {
        argv[a++] = "-e";
        argv[a++] = w->entity;
    }
    argv[a++] = "--id";
    argv[a++] = w->run_id;
    if (w->append) argv[a++] = "--append";
    argv[a] = NULL;
    return a;
}

static void command_line(const snn_wandb *w, const char *tb_dir, char *buf, size_t n) {
    const char *argv[16];
    build_argv(w, tb_dir, argv);
    buf[0] = '\0';
    for (int i = 0; argv[i]; i++) {
        if (i) strncat(buf, " ", n - strlen(buf) - 1);
        shell_quote(buf, n, argv[i]);
    }
}

int snn_wandb_open(snn_wandb *w, const snn_wandb_params *wp, int no_wandb, const char *out_dir,
                   const char *run_id, int resumed, snn_error *err) {
    memset(w, 0, sizeof *w);
    w->active = wp != NULL && wp->enabled && !no_wandb;
    if (!w->active) return SNN_OK;
    if (run_id == NULL || !snn_wandb_id_valid(run_id))
        return snn_fail(err, SNN_EINPUT, "invalid W&B run id \"%s\" (expected 1-64 characters of A-Z a-z 0-9 _ -)",
                        run_id ? run_id : "");
    if (strlen(out_dir) + 32 >= sizeof w->out_dir)
        return snn_fail(err, SNN_EINPUT, "%s: output path too long", out_dir);
    strcpy(w->out_dir, out_dir);
    strcpy(w->run_id, run_id);
    snprintf(w->project, sizeof w->project, "%s", wp->project);
    snprintf(w->entity, sizeof w->entity, "%s", wp->entity);
    snprintf(w->notes, sizeof w->notes, "%s", wp->notes);
    for (int i = 0; i < wp->n_tags; i++) {
        size_t k = strlen(w->tags);
        snprintf(w->tags + k, sizeof w->tags - k, "%s%s", i ? "," : "", wp->tags[i]);
    }
    w->append = resumed;
    w->available = find_on_path("wandb", w->exe, sizeof w->exe);
    if (!w->available) {
        char tb_dir[SNN_PATH_MAX + 16], cmd[2 * SNN_PATH_MAX + 64];
        snprintf(tb_dir, sizeof tb_dir, "%s/tensorboard", w->out_dir);
        command_line(w, tb_dir, cmd, sizeof cmd);
        printf("Note: W&B upload is enabled but the `wandb` command is not installed (not on PATH); "
               "to upload this run later, run: %s\n", cmd);
        fflush(stdout);
    }
    return SNN_OK;
}

/* Exit status of a finished child as a word for the notes. */
static void describe_status(int status, char *buf, size_t n) {
    if (WIFEXITED(status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "was killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, n, "ended abnormally");
}

/* Non-blocking: 1 if the sync in flight (if any) is over (its status in *status, -1 if none ran),
 * 0 if it still runs. */
static int reap(snn_wandb *w, int *status) {
    *status = -1;
    if (w->pid == 0) return 1;
    int st;
    pid_t r = waitpid(w->pid, &st, WNOHANG);
    if (r == 0) return 0;
    w->pid = 0;
    if (r > 0) *status = st;
    /* r < 0 (ECHILD: someone else reaped it): over, status unknown */
    return 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Waits until the sync in flight is over or the deadline passes; 1 if over. */
static int wait_until(snn_wandb *w, double deadline, int *status) {
    for (;;) {
        if (reap(w, status)) return 1;
        if (now_s() >= deadline) return 0;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void note_failure(snn_wandb *w, int status) {
    if (status == -1 || (WIFEXITED(status) && WEXITSTATUS(status) == 0) || w->failure_noted) return;
    char how[64];
    describe_status(status, how, sizeof how);
    printf("Note: wandb sync %s; see %s/wandb/sync.log\n", how, w->out_dir);
    fflush(stdout);
    w->failure_noted = 1;
}

/* Appends a line to OUT/wandb/sync.log (a record of what was started or skipped). */
static void log_line(const snn_wandb *w, const char *line) {
    char path[SNN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/wandb/sync.log", w->out_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) return;
    size_t n = strlen(line);
    ssize_t wr = write(fd, line, n);
    (void)wr; /* a log line that cannot be written is not worth stopping training for */
    close(fd);
}

/* An environment entry "NAME=value" is in envp. */
static int env_has(char *const *envp, const char *name) {
    size_t n = strlen(name);
    for (; *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return 1;
    return 0;
}

/* Starts a sync; 0 on success (w->pid set). */
static int start(snn_wandb *w) {
    char dir[SNN_PATH_MAX + 16], tb_dir[SNN_PATH_MAX + 16], log_path[SNN_PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/wandb", w->out_dir);
    snprintf(tb_dir, sizeof tb_dir, "%s/tensorboard", w->out_dir);
    snprintf(log_path, sizeof log_path, "%s/sync.log", dir);
    snn_error err = {0};
    if (snn_mkdirs(dir, &err)) {
        printf("Note: W&B upload skipped: %s\n", err.msg);
        fflush(stdout);
        return -1;
    }
    char cmd[2 * SNN_PATH_MAX + 64], line[2 * SNN_PATH_MAX + 80];
    command_line(w, tb_dir, cmd, sizeof cmd);
    snprintf(line, sizeof line, "$ %s\n", cmd);
    log_line(w, line);

    /* environment: the parent's, plus wandb's folder (if the user did not choose one), notes and tags */
    size_t n_env = 0;
    while (environ[n_env]) n_env++;
    char **envp = calloc(n_env + 4, sizeof *envp);
    char env_dir[SNN_PATH_MAX + 32], env_notes[1100], env_tags[1200];
    if (envp == NULL) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++) {
        if (w->notes[0] && strncmp(environ[i], "WANDB_NOTES=", 12) == 0) continue;
        if (w->tags[0] && strncmp(environ[i], "WANDB_TAGS=", 11) == 0) continue;
        envp[k++] = environ[i];
    }
    if (!env_has(environ, "WANDB_DIR")) {
        snprintf(env_dir, sizeof env_dir, "WANDB_DIR=%s", dir);
        envp[k++] = env_dir;
    }
    if (w->notes[0]) {
        snprintf(env_notes, sizeof env_notes, "WANDB_NOTES=%s", w->notes);
        envp[k++] = env_notes;
    }
    if (w->tags[0]) {
        snprintf(env_tags, sizeof env_tags, "WANDB_TAGS=%s", w->tags);
        envp[k++] = env_tags;
    }
    envp[k] = NULL;

    const char *argv[16];
    build_argv(w, tb_dir, argv);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0666);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* own process group: the terminal's Ctrl-C (which stops training with a checkpoint) must not
     * kill the upload of that checkpoint; default signal handling and an empty mask in the child,
     * whatever the trainer installed */
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGINT);
    sigaddset(&deflt, SIGTERM);
    sigaddset(&deflt, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &deflt);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, w->exe, &fa, &at, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    free(envp);
    if (rc != 0) {
        printf("Note: could not start %s: %s; W&B upload skipped\n", w->exe, strerror(rc));
        fflush(stdout);
        return -1;
    }
    w->pid = pid;
    /* the W&B run exists (or is being created) from now on: every later sync appends */
    w->append = 1;
    return 0;
}

void snn_wandb_sync(snn_wandb *w) {
    if (!w->available) return;
    int status;
    if (!reap(w, &status)) {
        char line[128];
        snprintf(line, sizeof line, "# sync skipped: the previous one (pid %ld) is still running\n", (long)w->pid);
        log_line(w, line);
        return;
    }
    note_failure(w, status);
    start(w);
}

void snn_wandb_finish(snn_wandb *w, double wait_s) {
    if (!w->available) return;
    double deadline = now_s() + (wait_s > 0 ? wait_s : 0);
    int status;
    if (!wait_until(w, deadline, &status)) {
        printf("Note: W&B upload still running in the background (pid %ld); its output goes to %s/wandb/sync.log\n",
               (long)w->pid, w->out_dir);
        fflush(stdout);
        return;
    }
    note_failure(w, status);
    if (start(w)) return;
    if (!wait_until(w, deadline, &status)) {
        printf("Note: W&B upload still running in the background (pid %ld); its output goes to %s/wandb/sync.log\n",
               (long)w->pid, w->out_dir);
        fflush(stdout);
        return;
    }
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("Uploaded to W&B: run %s%s%s\n", w->run_id, w->project[0] ? " in project " : "", w->project);
    } else {
        char how[64] = "ended with an unknown status";
        if (status != -1) describe_status(status, how, sizeof how);
        printf("Note: wandb sync %s; see %s/wandb/sync.log\n", how, w->out_dir);
    }
    fflush(stdout);
}
