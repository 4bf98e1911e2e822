/* snnfit convert IN.npz OUT.npz --dense|--sparse|--auto: rewrites a network file with dense or sparse
 * weight matrices. The network is unchanged: converting a dense file to sparse and back gives the same
 * bytes as writing the dense file directly (the round trip the tests check). OUT is written atomically
 * and may not be IN. */
#include <stdio.h>
#include <string.h>

#include "model/structure.h"
#include "stages/stage.h"

int snn_stage_convert(const snn_stage_opts *o, snn_error *err) {
    const char *in = o->input, *out = o->output;
    int fmt = -1;
    for (int i = 0; i < o->n_named; i++) {
        const char *a = o->named[i].name;
        int f = !strcmp(a, "--dense") ? SNN_NET_DENSE : !strcmp(a, "--sparse") ? SNN_NET_SPARSE
                                                   : !strcmp(a, "--auto")   ? SNN_NET_AUTO
                                                                            : -1;
        if (f < 0) continue;
        if (fmt >= 0 && fmt != f) return snn_fail(err, SNN_EINPUT, "give one of --dense, --sparse and --auto");
        fmt = f;
    }
    if (!in || !out || fmt < 0)
        return snn_fail(err, SNN_EINPUT, "usage: snnfit convert IN.npz OUT.npz --dense|--sparse|--auto");
    if (!strcmp(in, out)) return snn_fail(err, SNN_EINPUT, "%s: write the converted file under another name", out);
    snn_structure s;
    int rc = snn_structure_load(in, 0, 0, &s, err);
    if (rc) return rc;
    snn_net_format f = fmt == SNN_NET_AUTO ? snn_structure_auto_format(&s) : (snn_net_format)fmt;
    rc = snn_structure_save_as(out, &s, f, err);
    if (!rc)
        printf("✓ %s: %lld neurons, %lld inputs, %lld + %lld synapses, written %s\n", out, (long long)s.n,
               (long long)s.n_in, (long long)s.rec.nnz, (long long)s.ff.nnz, f == SNN_NET_SPARSE ? "sparse" : "dense");
    snn_structure_free(&s);
    return rc;
}
