/* libFuzzer target: loading training checkpoints (make fuzz). A small trainer (4 neurons, 3 inputs, 2
 * trials, van Rossum loss on) is set up once; each input is then loaded as its checkpoint. The first
 * byte chooses:
 *  - even: the rest is the checkpoint file itself (zip and .npy structure);
 *  - odd: a valid checkpoint rewritten array by array, each array's entry in the input saying whether
 *    to drop it, change its dtype or shape, or overwrite its values with the following input bytes; the
 *    archive is then well-formed (CRCs right), so the values reach the checks of snn_trainer_load.
 * A load must succeed or fail with SNN_EINPUT and a message; nothing may crash, leak or hit undefined
 * behaviour. SNNFIT_FUZZ_WRITE_SEED=PATH writes the valid checkpoint to PATH and exits (the seed
 * corpus). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/params.h"
#include "core/fsutil.h"
#include "io/npz.h"
#include "model/network.h"
#include "model/structure.h"
#include "train/trainer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char k_params[] =
    "[simulation]\nseed = 1\nchunk_size = 5\nepochs = 8\naccumulation_interval = 2\nlog_interval = 3\n"
    "plot_size = 2\n"
    "[hyperparameters]\nlearning_rate = 0.01\nvan_rossum_tau = 10.0\nloss_weight.van_rossum = 1.0\n"
    "loss_weight.firing_rate = 0.5\n"
    "[feedforward.cell_types]\nnames = [\"mitral\"]\n"
    "[feedforward.synapses.mitral]\nnames = [\"AMPA\"]\ntau_rise = [0.1]\ntau_decay = [5.0]\nE_syn = [0.0]\n"
    "g_bar = [4.0]\n"
    "[recurrent.cell_types]\nnames = [\"excitatory\", \"inhibitory\"]\n"
    "[recurrent.physiology.excitatory]\ntau_mem = 20.0\ntheta = -50.0\nU_reset = -60.0\nE_L = -60.0\n"
    "g_L = 1.0\ntau_ref = 2.0\n"
    "[recurrent.physiology.inhibitory]\ntau_mem = 10.0\ntheta = -50.0\nU_reset = -60.0\nE_L = -60.0\n"
    "g_L = 1.0\ntau_ref = 2.0\n"
    "[recurrent.synapses.excitatory]\nnames = [\"AMPA\"]\ntau_rise = [0.1]\ntau_decay = [5.0]\nE_syn = [0.0]\n"
    "g_bar = [2.0]\n"
    "[recurrent.synapses.inhibitory]\nnames = [\"GABA_A\"]\ntau_rise = [1.0]\ntau_decay = [6.0]\n"
    "E_syn = [-70.0]\ng_bar = [3.0]\n";

static snn_params g_p;
static snn_structure g_s;
static snn_network g_net;
static snn_trainer g_tr;
static char g_valid[256], g_path[256];
/* the valid checkpoint's arrays, in archive order */
static int g_n;
static char g_keys[64][64];
static snn_array g_arr[64];

static void die(const char *what, const snn_error *e) {
    fprintf(stderr, "fuzz_checkpoint setup: %s: %s\n", what, e->msg);
    exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    snn_error err = {0};
    if (snn_params_load_string(k_params, "fuzz-train.toml", SNN_STAGE_TRAIN, &g_p, &err)) die("parameters", &err);
    if (snn_structure_alloc(&g_s, 4, 3, &err)) die("structure", &err);
    const int64_t types[4] = {0, 0, 1, 1};
    memcpy(g_s.cell_types, types, sizeof types);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (i != j && (i + j) % 2) g_s.conn[i * 4 + j] = 1, g_s.w[i * 4 + j] = 0.5f;
    for (int m = 0; m < 3; m++)
        for (int j = 0; j < 4; j++)
            if ((m + j) % 3) g_s.conn_ff[m * 4 + j] = 1, g_s.w_ff[m * 4 + j] = 0.7f;
    g_s.n_types = 2, g_s.n_ff_types = 1;
    if (snn_network_build(&g_net, &g_p.rec, &g_p.ff, &g_s, 1.0, &err)) die("network", &err);
    snprintf(g_valid, sizeof g_valid, "/dev/shm/snnfit-fuzz-ckpt-valid-%ld.npz", (long)getpid());
    snprintf(g_path, sizeof g_path, "/dev/shm/snnfit-fuzz-ckpt-%ld.npz", (long)getpid());
    if (snn_trainer_init(&g_tr, &g_p, &g_net, 2, 5, 4, 8, "/dev/shm", "/teacher", &err)) die("trainer", &err);
    g_tr.iteration = 3, g_tr.acc_count = 1, g_tr.log_count = 0, g_tr.stats_filled = 3, g_tr.adam.step = 1;
    g_tr.best_loss = 0.25;
    for (int k = 0; k < 8; k++) g_tr.st.v[k] = -55.0 + k;
    g_tr.st.ref[1] = 2;
    snprintf(g_tr.record.parameters_sha256, 65, "%064d", 7);
    snprintf(g_tr.record.data_sha256, 65, "%064d", 9);
    if (snn_trainer_save(&g_tr, g_valid, &err)) die("saving the valid checkpoint", &err);
    const char *seed = getenv("SNNFIT_FUZZ_WRITE_SEED");
    if (seed) {
        if (snn_copy_file(g_valid, seed, &err)) die("writing the seed", &err);
        unlink(g_valid);
        exit(0);
    }
    snn_npz *z = snn_npz_open(g_valid, &err);
    if (!z) die("reading the valid checkpoint", &err);
    for (size_t i = 0; i < snn_npz_count(z) && g_n < 64; i++) {
        snprintf(g_keys[g_n], sizeof g_keys[g_n], "%s", snn_npz_key(z, i));
        if (snn_npz_read(z, g_keys[g_n], &g_arr[g_n], &err)) die("reading the valid checkpoint", &err);
        g_n++;
    }
    snn_npz_free(z);
    unlink(g_valid);
    return 0;
}

/* The valid arrays, each changed as the input says. */
static int structured(const uint8_t *data, size_t size) {
    snn_error err = {0};
    snn_npz_writer *w = snn_npz_create(g_path, 0, &err);
    if (!w) return -1;
    size_t pos = 0;
    for (int i = 0; i < g_n; i++) {
        const snn_array *a = &g_arr[i];
        int op = pos < size ? data[pos++] : 255;
        size_t count = snn_array_count(a), esize = snn_dtype_size(a->dtype), bytes = count * esize;
        snn_dtype dt = a->dtype;
        int ndim = a->ndim;
        int64_t shape[SNN_MAX_NDIM];
        memcpy(shape, a->shape, sizeof shape);
        uint8_t *buf = malloc(bytes + 64);
        memcpy(buf, a->data, bytes);
        switch (op % 8) {
        case 0: free(buf); continue; /* dropped */
        case 1: dt = (snn_dtype)((op / 8) % SNN_DTYPE_COUNT); break;
        case 2:
            if (ndim > 0 && shape[0] > 0) shape[0]--;
            break;
        case 3: ndim = ndim ? 0 : 1, shape[0] = 1; break;
        default: {
            size_t take = bytes < size - pos ? bytes : size - pos;
            memcpy(buf, data + pos, take);
            pos += take;
        }
        }
        /* the writer reads count(shape) items of dt from buf: keep it large enough */
        size_t need = snn_dtype_size(dt);
        for (int d = 0; d < ndim; d++) need *= (size_t)shape[d];
        if (need > bytes + 64) {
            uint8_t *b2 = calloc(1, need);
            memcpy(b2, buf, bytes);
            free(buf);
            buf = b2;
        }
        int rc = snn_npz_add(w, g_keys[i], dt, ndim, shape, buf, &err);
        free(buf);
        if (rc) {
            snn_npz_abort(w);
            return -1;
        }
    }
    return snn_npz_close(w, &err) ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 1) {
        if (structured(data + 1, size - 1)) return 0;
    } else {
        FILE *f = fopen(g_path, "wb");
        if (!f) return 0;
        fwrite(data + 1, 1, size - 1, f);
        fclose(f);
    }
    snn_error err = {0};
    int rc = snn_trainer_load(&g_tr, g_path, &err);
    if (rc != SNN_OK && (rc != SNN_EINPUT || !err.msg[0])) {
        fprintf(stderr, "load returned %d: %s\n", rc, err.msg);
        abort();
    }
    return 0;
}
