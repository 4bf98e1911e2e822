/* W&B upload (stages/wandb) with a fake `wandb` script first on PATH that records its arguments and
 * environment: the first sync of a fresh run has -p/-e/--id and no --append, later ones --append and
 * the same id, a resumed run appends from its first sync; output goes to OUT/wandb/sync.log; a sync
 * still running makes the next checkpoint skip its own; the end waits a bounded time; without any
 * wandb on PATH exactly one note (with the command to run later) is printed; off when disabled or
 * with --no-wandb; run ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "stages/wandb.h"
#include "testutil.h"

typedef struct fixture {
    char tmp[400];
    char bin[600], empty[600], out[600], args[600];
    char *old_path;
} fixture;

static char *slurp(const char *path) {
    snn_error err = {0};
    char *data = NULL;
    size_t len;
    if (snn_read_file(path, &data, &len, &err)) return NULL;
    return data;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* Line i (0-based) of s into buf. */
static void line_at(const char *s, int i, char *buf, size_t n) {
    for (; i > 0 && s; i--) {
        s = strchr(s, '\n');
        if (s) s++;
    }
    assert_non_null(s);
    size_t l = strcspn(s, "\n");
    assert_true(l < n);
    memcpy(buf, s, l);
    buf[l] = '\0';
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->tmp, sizeof f->tmp, "%s", tu_tmpdir());
    snprintf(f->bin, sizeof f->bin, "%s/bin", f->tmp);
    snprintf(f->empty, sizeof f->empty, "%s/empty", f->tmp);
    snprintf(f->out, sizeof f->out, "%s/run out", f->tmp); /* a space: the printed command quotes it */
    snprintf(f->args, sizeof f->args, "%s/args.txt", f->tmp);
    snn_error err = {0};
    if (snn_mkdirs(f->bin, &err) || snn_mkdirs(f->empty, &err) || snn_mkdirs(f->out, &err)) return -1;
    /* the fake: one line per call, arguments separated by '|', then its environment of interest;
     * something on stdout and stderr for sync.log; FAKE_WANDB_SLEEP / FAKE_WANDB_STATUS control it */
    char script[700], text[4096];
    snprintf(script, sizeof script, "%s/wandb", f->bin);
    snprintf(text, sizeof text,
             "#!/bin/sh\n"
             "line=''\n"
             "for a in \"$@\"; do line=\"$line$a|\"; done\n"
             "echo \"$line DIR=$WANDB_DIR TAGS=$WANDB_TAGS NOTES=$WANDB_NOTES\" >> '%s'\n"
             "echo 'fake wandb: syncing'\n"
             "echo 'fake wandb: a warning' >&2\n"
             "[ -n \"$FAKE_WANDB_SLEEP\" ] && sleep \"$FAKE_WANDB_SLEEP\"\n"
             "exit ${FAKE_WANDB_STATUS:-0}\n",
             f->args);
    if (tu_write(script, text) || chmod(script, 0755)) return -1;
    const char *p = getenv("PATH");
    f->old_path = strdup(p ? p : "/usr/bin:/bin");
    char path[2048];
    snprintf(path, sizeof path, "%s:/usr/bin:/bin", f->bin);
    setenv("PATH", path, 1);
    unsetenv("WANDB_DIR");
    unsetenv("FAKE_WANDB_SLEEP");
    unsetenv("FAKE_WANDB_STATUS");
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    setenv("PATH", f->old_path, 1);
    unsetenv("FAKE_WANDB_SLEEP");
    unsetenv("FAKE_WANDB_STATUS");
    tu_rmtree(f->tmp);
    free(f->old_path);
    free(f);
    return 0;
}

static snn_wandb_params params(void) {
    snn_wandb_params wp;
    memset(&wp, 0, sizeof wp);
    wp.enabled = 1;
    strcpy(wp.project, "snn-proj");
    strcpy(wp.entity, "lab");
    strcpy(wp.notes, "demo run");
    wp.n_tags = 2;
    strcpy(wp.tags[0], "stage4");
    strcpy(wp.tags[1], "demo");
    return wp;
}

/* stdout into a file while a block runs (the notes are printed on stdout) */
typedef struct capture {
    int saved;
    char path[700];
} capture;

static void capture_begin(capture *c, const fixture *f) {
    snprintf(c->path, sizeof c->path, "%s/stdout.txt", f->tmp);
    fflush(stdout);
    c->saved = dup(1);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    dup2(fd, 1);
    close(fd);
}

static char *capture_end(capture *c) {
    fflush(stdout);
    dup2(c->saved, 1);
    close(c->saved);
    return slurp(c->path);
}

/* Waits until the sync in flight has exited, without reaping it (the module reaps it itself). */
static void wait_exit(const snn_wandb *w) {
    assert_true(w->pid > 0);
    siginfo_t info;
    assert_int_equal(waitid(P_PID, (id_t)w->pid, &info, WEXITED | WNOWAIT), 0);
}

static void test_run_id(void **state) {
    fixture *f = *state;
    snn_error err = {0};
    char a[SNN_WANDB_ID_MAX], b[SNN_WANDB_ID_MAX], c[SNN_WANDB_ID_MAX], d[SNN_WANDB_ID_MAX];
    assert_int_equal(snn_wandb_make_run_id(f->out, 44, a, &err), 0);
    assert_int_equal(strlen(a), 8);
    for (const char *x = a; *x; x++) assert_true((*x >= '0' && *x <= '9') || (*x >= 'a' && *x <= 'f'));
    assert_int_equal(snn_wandb_make_run_id(f->out, 44, b, &err), 0);
    assert_string_equal(a, b); /* a pure function of (folder, seed) */
    assert_int_equal(snn_wandb_make_run_id(f->out, 45, c, &err), 0);
    assert_string_not_equal(a, c);
    assert_int_equal(snn_wandb_make_run_id(f->bin, 44, d, &err), 0);
    assert_string_not_equal(a, d);
    assert_int_not_equal(snn_wandb_make_run_id("/nonexistent/folder", 44, d, &err), 0);
    assert_true(snn_wandb_id_valid("a1b2c3d4"));
    assert_true(snn_wandb_id_valid("My_run-2"));
    assert_false(snn_wandb_id_valid(""));
    assert_false(snn_wandb_id_valid("has space"));
    assert_false(snn_wandb_id_valid("semi;colon"));
    assert_false(snn_wandb_id_valid("0123456789012345678901234567890123456789012345678901234567890123456789"));
}

static void test_syncs(void **state) {
    fixture *f = *state;
    snn_wandb_params wp = params();
    snn_error err = {0};
    snn_wandb w;
    capture cap;
    capture_begin(&cap, f);
    assert_int_equal(snn_wandb_open(&w, &wp, 0, f->out, "ab12cd34", 0, &err), 0);
    assert_true(w.available);
    snn_wandb_sync(&w);
    wait_exit(&w);
    snn_wandb_sync(&w);
    wait_exit(&w);
    snn_wandb_finish(&w, 10.0);
    char *printed = capture_end(&cap);
    assert_int_equal(w.pid, 0);

    char *args = slurp(f->args);
    assert_int_equal(count_lines(args), 3);
    char l0[4096], l1[4096], l2[4096], want[4096];
    line_at(args, 0, l0, sizeof l0);
    line_at(args, 1, l1, sizeof l1);
    line_at(args, 2, l2, sizeof l2);
    snprintf(want, sizeof want,
             "sync|%s/tensorboard|--sync-tensorboard|-p|snn-proj|-e|lab|--id|ab12cd34| DIR=%s/wandb TAGS=stage4,demo "
             "NOTES=demo run", f->out, f->out);
    assert_string_equal(l0, want);
    snprintf(want, sizeof want,
             "sync|%s/tensorboard|--sync-tensorboard|-p|snn-proj|-e|lab|--id|ab12cd34|--append| DIR=%s/wandb "
             "TAGS=stage4,demo NOTES=demo run", f->out, f->out);
    assert_string_equal(l1, want);
    assert_string_equal(l2, want);

    /* sync.log: each command, then the child's stdout and stderr */
    char log[700];
    snprintf(log, sizeof log, "%s/wandb/sync.log", f->out);
    char *text = slurp(log);
    assert_non_null(text);
    assert_non_null(strstr(text, "$ wandb sync '"));
    assert_non_null(strstr(text, "/run out/tensorboard' --sync-tensorboard -p snn-proj -e lab --id ab12cd34\n"));
    assert_non_null(strstr(text, "--id ab12cd34 --append\n"));
    assert_non_null(strstr(text, "fake wandb: syncing"));
    assert_non_null(strstr(text, "fake wandb: a warning"));
    /* the end says it was uploaded, nothing else */
    assert_non_null(printed);
    assert_string_equal(printed, "Uploaded to W&B: run ab12cd34 in project snn-proj\n");
    free(args);
    free(text);
    free(printed);
}

static void test_resumed_appends(void **state) {
    fixture *f = *state;
    snn_wandb_params wp = params();
    wp.entity[0] = '\0'; /* no -e */
    wp.project[0] = '\0'; /* no -p */
    wp.n_tags = 0;
    wp.notes[0] = '\0';
    snn_error err = {0};
    snn_wandb w;
    capture cap;
    capture_begin(&cap, f);
    assert_int_equal(snn_wandb_open(&w, &wp, 0, f->out, "Resumed_1", 1, &err), 0);
    snn_wandb_sync(&w);
    snn_wandb_finish(&w, 10.0);
    free(capture_end(&cap));
    char *args = slurp(f->args);
    assert_int_equal(count_lines(args), 2);
    char l0[4096], want[4096];
    line_at(args, 0, l0, sizeof l0);
    snprintf(want, sizeof want, "sync|%s/tensorboard|--sync-tensorboard|--id|Resumed_1|--append| DIR=%s/wandb TAGS= NOTES=",
             f->out, f->out);
    assert_string_equal(l0, want);
    free(args);
}

static void test_busy_skip_and_timeout(void **state) {
    fixture *f = *state;
    snn_wandb_params wp = params();
    snn_error err = {0};
    snn_wandb w;
    setenv("FAKE_WANDB_SLEEP", "2", 1);
    capture cap;
    capture_begin(&cap, f);
    assert_int_equal(snn_wandb_open(&w, &wp, 0, f->out, "ab12cd34", 0, &err), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snn_wandb_sync(&w);
    snn_wandb_sync(&w); /* the first still runs: skipped */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9 < 1.0); /* never blocks */
    pid_t first = w.pid;
    assert_true(first > 0);
    snn_wandb_finish(&w, 0.3); /* the first is still running: left in the background */
    char *printed = capture_end(&cap);
    assert_non_null(strstr(printed, "still running in the background"));
    assert_int_equal(count_lines(printed), 1);
    /* the child is in its own process group (a terminal Ctrl-C does not reach it) */
    assert_int_equal(getpgid(first), first);
    int st;
    assert_int_equal(waitpid(first, &st, 0), first);
    char log[700];
    snprintf(log, sizeof log, "%s/wandb/sync.log", f->out);
    char *text = slurp(log);
    assert_non_null(strstr(text, "# sync skipped: the previous one"));
    char *args = slurp(f->args);
    assert_int_equal(count_lines(args), 1);
    free(args);
    free(text);
    free(printed);
}

static void test_failed_sync_is_a_note(void **state) {
    fixture *f = *state;
    snn_wandb_params wp = params();
    snn_error err = {0};
    snn_wandb w;
    setenv("FAKE_WANDB_STATUS", "3", 1);
    capture cap;
    capture_begin(&cap, f);
    assert_int_equal(snn_wandb_open(&w, &wp, 0, f->out, "ab12cd34", 0, &err), 0);
    snn_wandb_sync(&w);
    wait_exit(&w);
    snn_wandb_sync(&w); /* reaps the failed first: one note */
    wait_exit(&w);
    snn_wandb_sync(&w); /* a second failure is not repeated */
    snn_wandb_finish(&w, 10.0);
    char *printed = capture_end(&cap);
    assert_int_equal(count_lines(printed), 2);
    char l0[1024], want[1024];
    line_at(printed, 0, l0, sizeof l0);
    snprintf(want, sizeof want, "Note: wandb sync exited with status 3; see %s/wandb/sync.log", f->out);
    assert_string_equal(l0, want);
    line_at(printed, 1, l0, sizeof l0);
    assert_string_equal(l0, want); /* the end reports its own sync */
    free(printed);
}

static void test_not_installed(void **state) {
    fixture *f = *state;
    setenv("PATH", f->empty, 1);
    snn_wandb_params wp = params();
    snn_error err = {0};
    snn_wandb w;
    capture cap;
    capture_begin(&cap, f);
    assert_int_equal(snn_wandb_open(&w, &wp, 0, f->out, "ab12cd34", 0, &err), 0);
    snn_wandb_sync(&w);
    snn_wandb_sync(&w);
    snn_wandb_finish(&w, 1.0);
    char *printed = capture_end(&cap);
    assert_false(w.available);
    assert_int_equal(count_lines(printed), 1);
    assert_non_null(strstr(printed, "`wandb` command is not installed"));
    char want[1024];
    snprintf(want, sizeof want, "run: wandb sync '%s/tensorboard' --sync-tensorboard -p snn-proj -e lab --id ab12cd34\n",
             f->out);
    assert_non_null(strstr(printed, want));
    assert_false(snn_path_exists(f->args));
    char wdir[700];
    snprintf(wdir, sizeof wdir, "%s/wandb", f->out);
    assert_false(snn_path_exists(wdir));
    free(printed);
}

static void test_off(void **state) {
    fixture *f = *state;
    snn_error err = {0};
    snn_wandb w;
    capture cap;
    capture_begin(&cap, f);
    snn_wandb_params wp = params();
    wp.enabled = 0;
    assert_int_equal(snn_wandb_open(&w, &wp, 0, f->out, "ab12cd34", 0, &err), 0);
    assert_false(w.active);
    snn_wandb_sync(&w);
    snn_wandb_finish(&w, 1.0);
    wp.enabled = 1; /* --no-wandb */
    assert_int_equal(snn_wandb_open(&w, &wp, 1, f->out, "ab12cd34", 0, &err), 0);
    assert_false(w.active);
    snn_wandb_sync(&w);
    snn_wandb_finish(&w, 1.0);
    assert_int_equal(snn_wandb_open(&w, NULL, 0, f->out, NULL, 0, &err), 0); /* no [wandb] table */
    snn_wandb_sync(&w);
    snn_wandb_finish(&w, 1.0);
    char *printed = capture_end(&cap);
    assert_string_equal(printed, "");
    assert_false(snn_path_exists(f->args));
    /* an invalid id from a checkpoint */
    assert_int_equal(snn_wandb_open(&w, &wp, 0, f->out, "bad id", 1, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "bad id"));
    free(printed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syncs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resumed_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_skip_and_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_sync_is_a_note, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_installed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
