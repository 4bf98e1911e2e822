#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/mem.h"
#include "stages/stage.h"

static int dir_is_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

/* ---------------------------------------------------------------------------------------------- */
/* inputs and outputs */

/* Lexical normalisation of an absolute path: no ".", "..", repeated or trailing '/'. */
static int normalise(const char *in, char *out, size_t n) {
    char buf[SNN_PATH_MAX];
    if (strlen(in) >= sizeof buf || in[0] != '/') return -1;
    strcpy(buf, in);
    const char *parts[SNN_PATH_MAX / 2];
    int np = 0;
    for (char *save = NULL, *tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (!strcmp(tok, ".")) continue;
        if (!strcmp(tok, "..")) {
            if (np) np--;
            continue;
        }
        parts[np++] = tok;
    }
    size_t used = 0;
    if (np == 0) return snprintf(out, n, "/") >= (int)n ? -1 : 0;
    for (int i = 0; i < np; i++) {
        int w = snprintf(out + used, n - used, "/%s", parts[i]);
        if (w < 0 || (size_t)w >= n - used) return -1;
        used += (size_t)w;
    }
    return 0;
}

int snn_stage_lexical_path(const char *base, const char *p, char *out, size_t n) {
    char joined[SNN_PATH_MAX * 2];
    if (p[0] == '/')
        snprintf(joined, sizeof joined, "%s", p);
    else
        snprintf(joined, sizeof joined, "%s/%s", base, p);
    return normalise(joined, out, n);
}

int snn_stage_resolve_path(const char *path, char *out, size_t n) {
    char r[PATH_MAX];
    if (realpath(path, r)) return snprintf(out, n, "%s", r) >= (int)n ? -1 : 0;
    /* not there yet: the real path of its deepest existing folder, then the rest as written */
    char abs[2 * SNN_PATH_MAX], norm[SNN_PATH_MAX], head[SNN_PATH_MAX];
    if (path[0] == '/') {
        snprintf(abs, sizeof abs, "%s", path);
    } else {
        char cwd[SNN_PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return -1;
        snprintf(abs, sizeof abs, "%s/%s", cwd, path);
    }
    if (normalise(abs, norm, sizeof norm)) return -1;
    snprintf(head, sizeof head, "%s", norm);
    for (;;) {
        char *slash = strrchr(head, '/');
        if (slash == NULL) return -1;
        slash[slash == head ? 1 : 0] = '\0'; /* "/a/b" -> "/a", "/a" -> "/" */
        if (realpath(head, r)) {
            char joined[2 * SNN_PATH_MAX];
            snprintf(joined, sizeof joined, "%s/%s", r, norm + strlen(head));
            return normalise(joined, out, n);
        }
        if (!strcmp(head, "/")) return -1;
    }
}

/* path is dir or lies under it (both normalised). */
static int within(const char *dir, const char *path) {
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/') return 1;
    return strncmp(dir, path, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

int snn_stage_check_inputs(const char *where, const char *output, const snn_stage_input *in, int n,
                           snn_error *err) {
    char out[SNN_PATH_MAX];
    if (output == NULL || !*output) return SNN_OK;
    if (snn_stage_resolve_path(output, out, sizeof out))
        return snn_fail(err, SNN_EINPUT, "%s: output path too long or unresolvable", output);
    for (int i = 0; i < n; i++) {
        if (in[i].path == NULL || !*in[i].path) continue;
        char p[SNN_PATH_MAX];
        if (snn_stage_resolve_path(in[i].path, p, sizeof p)) continue; /* reported when it is read */
        const char *verb = !strcmp(p, out) ? "is" : within(out, p) ? "contains" : within(p, out) ? "lies inside" : NULL;
        if (verb == NULL) continue;
        /* an input is never removed, overwritten or written into */
        if (where)
            return snn_fail(err, SNN_EINPUT, "%s: output folder %s %s %s (%s); choose another output folder", where,
                            output, verb, in[i].what, in[i].path);
        return snn_fail(err, SNN_EINPUT, "output folder %s %s %s (%s); choose another output folder", output, verb,
                        in[i].what, in[i].path);
    }
    return SNN_OK;
}

int snn_stage_check_io(const snn_stage_opts *o, snn_error *err) {
    if (o->keep_existing) return SNN_OK; /* snnfit run checked its own inputs, which it placed in OUT */
    const snn_stage_input in[3] = {{"the parameter file", o->params_path},
                                   {"the input -i", o->input},
                                   {"the inputs given with --inputs", o->inputs_file}};
    return snn_stage_check_inputs(NULL, o->output, in, 3, err);
}

/* ---------------------------------------------------------------------------------------------- */
/* one writer per folder */

/* The folder this process holds locked (flock on the folder itself: no lock file to leave behind). The
 * lock lasts until the process exits or locks another folder; a second lock of the same folder (snnfit
 * run, then its stage) is the one already held. */
static struct {
    int fd;
    dev_t dev;
    ino_t ino;
} g_lock = {-1, 0, 0};

int snn_stage_lock(const char *dir, snn_error *err) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return snn_fail(err, SNN_EINPUT, "%s: cannot open the folder: %s", dir, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return snn_fail(err, SNN_ERUN, "%s: %s", dir, strerror(errno));
    }
    if (g_lock.fd >= 0 && g_lock.dev == st.st_dev && g_lock.ino == st.st_ino) {
        close(fd);
        return SNN_OK;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return snn_fail(err, SNN_EINPUT,
                            "%s: the folder is locked: another snnfit process is writing in it (wait for it to finish, "
                            "or stop it first)",
                            dir);
        return SNN_OK; /* a file system without locks (some network file systems): run unlocked */
    }
    snn_stage_unlock();
    g_lock.fd = fd;
    g_lock.dev = st.st_dev;
    g_lock.ino = st.st_ino;
    return SNN_OK;
}

void snn_stage_unlock(void) {
    if (g_lock.fd >= 0) close(g_lock.fd);
    g_lock.fd = -1;
}

/* The process id in a temporary name: ".<name>.tmp.<pid>" (snn_tmp_name), the same followed by the
 * ".XXXXXX" libzip adds to its own temporary while it writes an archive, or "<name>.old.<pid>"
 * (snn_replace_dir); 0 for any other name. */
static long temp_pid(const char *name) {
    for (const char *t = strstr(name, ".tmp."); t; t = strstr(t + 1, ".tmp.")) {
        if (name[0] != '.') break;
        const char *d = t + 5, *e = d;
        while (*e >= '0' && *e <= '9') e++;
        if (e == d || e - d > 9 || *d == '0') continue;
        int libzip = *e == '.' && strlen(e) == 7;
        for (const char *c = e + 1; libzip && *c; c++)
            libzip = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');
        if (*e == '\0' || libzip) return strtol(d, NULL, 10);
    }
    const char *o = NULL;
    for (const char *p = strstr(name, ".old."); p; p = strstr(p + 1, ".old.")) o = p;
    if (o == NULL) return 0;
    const char *d = o + 5;
    if (*d < '1' || *d > '9' || strlen(d) > 9) return 0;
    for (const char *c = d; *c; c++)
        if (*c < '0' || *c > '9') return 0;
    return strtol(d, NULL, 10);
}

static int clean_stale(const char *dir, int depth) {
    if (depth > 8) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char child[SNN_PATH_MAX];
        if (snprintf(child, sizeof child, "%s/%s", dir, e->d_name) >= (int)sizeof child) continue;
        long pid = temp_pid(e->d_name);
        /* this process has written nothing yet; any other writer holds the folder's lock */
        if (pid > 0 && (pid == (long)getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))) {
            snn_remove_tree(child);
            removed++;
            continue;
        }
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) removed += clean_stale(child, depth + 1);
    }
    closedir(d);
    return removed;
}

int snn_stage_clean_stale(const char *dir) { return clean_stale(dir, 0); }

int snn_stage_begin_resume(const char *out, snn_error *err) {
    int rc = snn_stage_lock(out, err);
    if (rc) return rc;
    int removed = snn_stage_clean_stale(out);
    if (removed) printf("Removed %d temporary file%s left by an interrupted run\n", removed, removed == 1 ? "" : "s");
    return SNN_OK;
}

int snn_stage_unstarted_run(const snn_stage_opts *o) {
    char p[SNN_PATH_MAX], ck[SNN_PATH_MAX];
    if (o->output == NULL || o->params_path == NULL || !snn_is_dir(o->output)) return 0;
    if (snn_path_join(p, sizeof p, o->output, "parameters.toml", NULL) ||
        snn_path_join(ck, sizeof ck, o->output, "checkpoints/checkpoint_latest.npz", NULL))
        return 0;
    if (snn_path_exists(ck)) return 0;
    if (!snn_path_exists(p)) {
        /* killed while copying its parameters (the first file a run writes): only that temporary */
        DIR *d = opendir(o->output);
        if (!d) return 0;
        int only_stale = 1;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && only_stale) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            long pid = temp_pid(e->d_name);
            only_stale = pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        }
        closedir(d);
        return only_stale;
    }
    char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    int same = snn_read_file(p, &a, &la, NULL) == SNN_OK && snn_read_file(o->params_path, &b, &lb, NULL) == SNN_OK &&
               la == lb && memcmp(a, b, la) == 0;
    free(a);
    free(b);
    return same;
}

int snn_stage_check_memory(const snn_stage_opts *o, const snn_mem_estimate *e, const char *where, snn_error *err) {
    uint64_t allowed = o->max_memory ? o->max_memory : (uint64_t)snn_mem_available_bytes();
    return snn_mem_check(e, allowed, o->max_memory != 0, where, err);
}

int snn_stage_check_structure_memory(const snn_stage_opts *o, const char *structure_path, snn_error *err) {
    int64_t n = 0, n_in = 0, nnz = 0, nnz_ff = 0;
    int rc = snn_structure_peek(structure_path, &n, &n_in, &nnz, &nnz_ff, err);
    if (rc) return rc;
    snn_mem_net z = {.n = n, .n_in = n_in, .nnz = (double)nnz, .nnz_ff = (double)nnz_ff};
    snn_mem_estimate e;
    snn_mem_init(&e);
    snn_est_structure(&e, &z);
    return snn_stage_check_memory(o, &e, structure_path, err);
}

int snn_stage_check_output(const snn_stage_opts *o, snn_error *err) {
    if (o->output == NULL || !*o->output) return snn_fail(err, SNN_EINPUT, "no output folder given (-o OUT)");
    int rc = snn_stage_check_io(o, err);
    if (rc) return rc;
    if (!snn_path_exists(o->output) || o->keep_existing) return SNN_OK;
    if (!snn_is_dir(o->output))
        return snn_fail(err, SNN_EINPUT, "%s: output path exists and is not a folder", o->output);
    if (!dir_is_empty(o->output) && !o->overwrite)
        return snn_fail(err, SNN_EINPUT, "%s: output folder exists and is not empty (use --overwrite to replace it)",
                        o->output);
    return SNN_OK;
}

int snn_stage_prepare_output(const snn_stage_opts *o, snn_error *err) {
    int rc = snn_stage_check_output(o, err);
    if (rc) return rc;
    if (snn_path_exists(o->output) && !o->keep_existing) {
        if (!dir_is_empty(o->output)) {
            if (!o->overwrite)
                return snn_fail(err, SNN_EINPUT,
                                "%s: output folder exists and is not empty (use --overwrite to replace it)",
                                o->output);
            /* never remove a folder another run is writing in */
            if ((rc = snn_stage_lock(o->output, err))) return rc;
            snn_stage_unlock();
            if (snn_remove_tree(o->output) != 0)
                return snn_fail(err, SNN_ERUN, "%s: cannot remove the old output folder", o->output);
        }
    }
    rc = snn_mkdirs(o->output, err);
    if (!rc) rc = snn_stage_lock(o->output, err);
    return rc;
}

int snn_stage_copy_params(const snn_stage_opts *o, snn_error *err) {
    char dst[SNN_PATH_MAX];
    int rc = snn_path_join(dst, sizeof dst, o->output, "parameters.toml", err);
    if (rc) return rc;
    return snn_copy_file(o->params_path, dst, err);
}

int snn_stage_structure_path(const char *input, char *out, size_t n, snn_error *err) {
    if (input == NULL || !*input)
        return snn_fail(err, SNN_EINPUT, "no input given (-i IN: a folder with network_structure.npz)");
    if (snn_is_dir(input)) {
        int rc = snn_path_join(out, n, input, "network_structure.npz", err);
        if (rc) return rc;
        if (!snn_path_exists(out)) return snn_fail(err, SNN_EINPUT, "%s: no such file (input folder %s)", out, input);
        return SNN_OK;
    }
    if (!snn_path_exists(input))
        return snn_fail(err, SNN_EINPUT, "%s: no such file or folder (expected network_structure.npz or a folder holding it)",
                        input);
    if ((size_t)snprintf(out, n, "%s", input) >= n) return snn_fail(err, SNN_EINPUT, "%s: path too long", input);
    return SNN_OK;
}

int snn_stage_load_network(const snn_params *p, const char *structure_path, snn_structure *s,
                           snn_network *net, snn_error *err) {
    int rc = snn_structure_load(structure_path, p->rec.n_types, p->ff.n_types, s, err);
    if (rc) return rc;
    rc = snn_network_build(net, &p->rec, &p->ff, s, p->sim.dt, err);
    if (rc) {
        snn_structure_free(s);
        return rc;
    }
    return SNN_OK;
}

snn_mem_sizes snn_stage_mem_sizes(const snn_network *net) {
    return (snn_mem_sizes){.n = net->n, .n_in = net->n_in, .nnz = net->rec.nnz, .nnz_ff = net->ff.nnz,
                           .n_cols = net->n_cols, .n_groups = net->n_groups, .n_types = net->n_types};
}

void snn_stage_print_memory(const snn_network *net, int training, uint64_t estimate) {
    const snn_mem_sizes z = snn_stage_mem_sizes(net);
    const double mib = 1048576.0;
    printf("Memory: network %.1f MiB (%lld synapses x %d B, %lld neurons); %llu B per neuron per trial of state",
           (double)(snn_mem_structure(&z) + snn_mem_network(&z)) / mib, (long long)(z.nnz + z.nnz_ff),
           (int)(SNN_MEM_STRUCTURE_PER_SYNAPSE + snn_mem_network_per_synapse()), (long long)z.n,
           (unsigned long long)snn_mem_state_per_neuron_trial(&z));
    if (training)
        printf(", %llu B of reverse pass, %llu B per neuron per step per trial of tape",
               (unsigned long long)snn_mem_backward_per_neuron_trial(&z), (unsigned long long)snn_mem_tape_per_neuron_step());
    printf("; this run: about %.1f MiB\n", (double)estimate / mib);
}

void snn_stage_print_refractory(const snn_params *p) {
    int any = 0;
    for (int t = 0; t < p->rec.n_types; t++) any |= p->rec.physiology[t].tau_ref > 0;
    if (!any) {
        printf("Refractory period: none (tau_ref = 0, the reference model)\n");
        return;
    }
    printf("Refractory period in force:");
    for (int t = 0; t < p->rec.n_types; t++)
        printf(" %s %g ms%s", p->rec.type_names[t], p->rec.physiology[t].tau_ref,
               t + 1 < p->rec.n_types ? "," : "");
    printf(" (set tau_ref = 0 to reproduce the reference, which ignores it)\n");
}
