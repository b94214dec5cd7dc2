/* itx nn run: runs one ONNX model on the neural runner, for benchmarking and debugging. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/util.h"
#include "nn/nn.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: itx nn run MODEL --shape NxCxHxW [options]\n"
            "       itx nn warmup [--models DIR] [--threads N] [--json]\n\n"
            "'run' runs an ONNX model on itx's neural runner and prints timings; 'warmup'\n"
            "loads the three OCR models and times their first inference.\n\n"
            "options:\n"
            "  --shape DIMS      input shape, e.g. 1x3x960x960 (required)\n"
            "  --threads N       OpenMP threads per inference (default 1)\n"
            "  --repeat K        timed runs after one warm-up run (default 10)\n"
            "  --parallel P      P worker threads, each with its own session, run at once;\n"
            "                    prints the throughput (a worker pool's shape)\n"
            "  --backend B       dnnl (default) or ref (plain-C reference kernels)\n"
            "  --input FILE      raw little-endian float32 input (default: a fixed pattern)\n"
            "  --output FILE     write output 0 as raw float32\n"
            "  --json            print one JSON object instead of text\n");
}

static int
parse_shape(const char *s, int64_t *shape, int *rank)
{
    *rank = 0;
    while (*s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 1 || v > (1 << 24) || *rank >= ITX_NN_MAX_DIMS)
            return -1;
        shape[(*rank)++] = v;
        s = end;
        if (*s == 'x')
            s++;
        else if (*s)
            return -1;
    }
    return *rank > 0 ? 0 : -1;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct par_worker {
    struct itx_nn_model *m;
    const struct itx_nn_session_opts *o;
    const float *input;
    const int64_t *shape;
    int rank;
    long long repeat;
    double *times;
    enum itx_status status;
    struct itx_diag d;
};

/* One worker of --parallel: its own session, `repeat` inferences after one warm-up run. */
static void *
par_run(void *arg)
{
    struct par_worker *w = arg;
    struct itx_nn_session *s = NULL;
    itx_diag_init(&w->d);
    w->status = itx_nn_session_new(w->m, w->o, &s, &w->d);
    if (!w->status)
        w->status = itx_nn_session_run(s, w->input, w->shape, w->rank, &w->d);
    for (long long r = 0; !w->status && r < w->repeat; r++) {
        double a = itx_now_ms();
        w->status = itx_nn_session_run(s, w->input, w->shape, w->rank, &w->d);
        w->times[r] = itx_now_ms() - a;
    }
    itx_nn_session_free(s);
    return NULL;
}

/* itx nn warmup: loads the three OCR models and runs each once at its usual shape on two
 * threads (detection on one, recognition then orientation on the other, as a 2-core server
 * warms up), and reports the wall time of the whole. */
struct warm_job {
    char path[4096];
    int64_t shape[4];
    const struct itx_nn_session_opts *o;
    double load_ms, run_ms;
    enum itx_status status;
    struct itx_diag d;
};

static void *
warm_one(void *arg)
{
    struct warm_job *j = arg;
    struct itx_nn_model *m = NULL;
    struct itx_nn_session *s = NULL;
    float *x = NULL;
    size_t n = (size_t)(j->shape[0] * j->shape[1] * j->shape[2] * j->shape[3]);
    double t0 = itx_now_ms();
    itx_diag_init(&j->d);
    j->status = itx_nn_model_load(j->path, NULL, &m, &j->d);
    if (!j->status)
        j->status = itx_nn_session_new(m, j->o, &s, &j->d);
    double t1 = itx_now_ms();
    if (!j->status && !(x = itx_calloc(n, sizeof(float))))
        j->status = itx_diag_set(&j->d, ITX_ERR_NOMEM, "out of memory");
    if (!j->status)
        j->status = itx_nn_session_run(s, x, j->shape, 4, &j->d);
    j->load_ms = t1 - t0;
    j->run_ms = itx_now_ms() - t1;
    itx_free(x);
    itx_nn_session_free(s);
    itx_nn_model_free(m);
    return NULL;
}

/* The second warm-up thread: recognition, then orientation. */
static void *
warm_rec_cls(void *arg)
{
    struct warm_job *j = arg;
    warm_one(&j[0]);
    if (!j[0].status)
        warm_one(&j[1]);
    return NULL;
}

static int
warmup(int argc, char **argv)
{
    static const struct {
        const char *file;
        int64_t shape[4];
    } specs[3] = {{"ch_PP-OCRv4_det_infer.onnx", {1, 3, 960, 960}},
                  {"ch_PP-OCRv4_rec_infer.onnx", {1, 3, 48, 320}},
                  {"ch_ppocr_mobile_v2.0_cls_infer.onnx", {1, 3, 48, 192}}};
    const char *dir = itx_models_dir();
    struct itx_nn_session_opts o;
    struct warm_job jobs[3];
    pthread_t tid[2];
    int json = 0;
    long long threads = 1;

    itx_nn_session_opts_default(&o);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--models") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc &&
                 itx_parse_int(argv[i + 1], 1, 256, &threads))
            i++;
        else {
            fprintf(stderr, "itx nn warmup: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    o.threads = (int)threads;
    double t0 = itx_now_ms();
    for (int k = 0; k < 3; k++) {
        memset(&jobs[k], 0, sizeof(jobs[k]));
        snprintf(jobs[k].path, sizeof(jobs[k].path), "%s/%s", dir, specs[k].file);
        memcpy(jobs[k].shape, specs[k].shape, sizeof(jobs[k].shape));
        jobs[k].o = &o;
    }
    pthread_create(&tid[0], NULL, warm_one, &jobs[0]);
    pthread_create(&tid[1], NULL, warm_rec_cls, &jobs[1]);
    pthread_join(tid[0], NULL);
    pthread_join(tid[1], NULL);
    double total = itx_now_ms() - t0;
    for (int k = 0; k < 3; k++) {
        if (jobs[k].status) {
            fprintf(stderr, "itx nn warmup: %s\n", jobs[k].d.msg);
            return 1;
        }
    }
    double load = jobs[0].load_ms > jobs[1].load_ms + jobs[2].load_ms
                      ? jobs[0].load_ms
                      : jobs[1].load_ms + jobs[2].load_ms;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (json)
        printf("{\"load_ms\":%.3f,\"warm_ms\":%.3f,\"total_ms\":%.3f,\"det_load_ms\":%.3f,"
               "\"det_run_ms\":%.3f,\"rec_load_ms\":%.3f,\"rec_run_ms\":%.3f,"
               "\"cls_load_ms\":%.3f,\"cls_run_ms\":%.3f,\"det_shape\":\"1x3x960x960\","
               "\"rec_shape\":\"1x3x48x320\",\"cls_shape\":\"1x3x48x192\",\"threads\":%d,"
               "\"peak_rss_kb\":%ld}\n",
               load, total - load, total, jobs[0].load_ms, jobs[0].run_ms, jobs[1].load_ms,
               jobs[1].run_ms, jobs[2].load_ms, jobs[2].run_ms, o.threads, ru.ru_maxrss);
    else
        printf("loaded and warmed 3 models in %.1f ms (2 threads; det 960x960: load %.1f + "
               "first run %.1f ms, rec 48x320: %.1f + %.1f ms, cls 48x192: %.1f + %.1f ms); peak "
               "RSS %.1f MiB\n",
               total, jobs[0].load_ms, jobs[0].run_ms, jobs[1].load_ms, jobs[1].run_ms,
               jobs[2].load_ms, jobs[2].run_ms, (double)ru.ru_maxrss / 1024.0);
    return 0;
}

int
itx_cli_nn(int argc, char **argv)
{
    const char *model = NULL, *in_path = NULL, *out_path = NULL;
    int64_t shape[ITX_NN_MAX_DIMS];
    int rank = 0, json = 0;
    long long repeat = 10, parallel = 1;
    struct itx_nn_session_opts o;
    struct itx_nn_model *m = NULL;
    struct itx_nn_session *s = NULL;
    struct itx_diag d;
    float *input = NULL;
    double *times = NULL;
    int rc = 1;

    itx_nn_session_opts_default(&o);
    itx_diag_init(&d);
    if (itx_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "warmup") == 0)
        return warmup(argc, argv);
    if (argc < 3 || strcmp(argv[1], "run") != 0) {
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (strcmp(a, "--shape") == 0 && v) {
            if (parse_shape(v, shape, &rank)) {
                fprintf(stderr, "itx nn: bad --shape '%s' (expected e.g. 1x3x960x960)\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            if (!itx_parse_int(v, 1, 256, &n)) {
                fprintf(stderr, "itx nn: --threads '%s' is not an integer in [1, 256]\n", v);
                return 2;
            }
            o.threads = (int)n;
            i++;
        } else if (strcmp(a, "--repeat") == 0 && v) {
            if (!itx_parse_int(v, 0, 100000, &repeat)) {
                fprintf(stderr, "itx nn: --repeat '%s' is not an integer in [0, 100000]\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--backend") == 0 && v) {
            if (strcmp(v, "ref") == 0)
                o.backend = ITX_NN_BACKEND_REF;
            else if (strcmp(v, "dnnl") == 0)
                o.backend = ITX_NN_BACKEND_DNNL;
            else {
                fprintf(stderr, "itx nn: --backend must be dnnl or ref, not '%s'\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--input") == 0 && v) {
            in_path = v;
            i++;
        } else if (strcmp(a, "--output") == 0 && v) {
            out_path = v;
            i++;
        } else if (strcmp(a, "--parallel") == 0 && v) {
            if (!itx_parse_int(v, 1, 64, &parallel)) {
                fprintf(stderr, "itx nn: --parallel '%s' is not an integer in [1, 64]\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (a[0] != '-' && !model) {
            model = a;
        } else {
            fprintf(stderr, "itx nn: unknown option '%s'; see 'itx nn --help'\n", a);
            return 2;
        }
    }
    if (!model || rank == 0) {
        usage(stderr);
        return 2;
    }
    size_t numel = 1;
    for (int i = 0; i < rank; i++)
        numel *= (size_t)shape[i];
    if (in_path) {
        uint8_t *data;
        size_t len;
        if (itx_file_read(in_path, (size_t)1 << 32, &data, &len, &d)) {
            fprintf(stderr, "itx nn: %s\n", d.msg);
            return 1;
        }
        if (len != numel * sizeof(float)) {
            fprintf(stderr, "itx nn: '%s' has %zu bytes, the shape needs %zu\n", in_path, len,
                    numel * sizeof(float));
            itx_free(data);
            return 1;
        }
        input = (float *)data;
    } else {
        input = itx_malloc_array(numel, sizeof(float));
        if (!input) {
            fprintf(stderr, "itx nn: out of memory\n");
            return 1;
        }
        for (size_t i = 0; i < numel; i++)
            input[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    }

    double t0 = itx_now_ms();
    if (itx_nn_model_load(model, NULL, &m, &d) || itx_nn_session_new(m, &o, &s, &d)) {
        fprintf(stderr, "itx nn: %s\n", d.msg);
        goto out;
    }
    double t1 = itx_now_ms();
    if (parallel > 1) {
        pthread_t tid[64];
        struct par_worker w[64];
        double *all = itx_calloc((size_t)(parallel * (repeat ? repeat : 1)), sizeof(double));
        size_t n_all = 0;
        if (!all)
            goto out;
        double p0 = itx_now_ms();
        for (long long k = 0; k < parallel; k++) {
            w[k] = (struct par_worker){m, &o, input, shape, rank, repeat,
                                       all + k * repeat, ITX_OK, {0}};
            pthread_create(&tid[k], NULL, par_run, &w[k]);
        }
        for (long long k = 0; k < parallel; k++)
            pthread_join(tid[k], NULL);
        double wall = itx_now_ms() - p0;
        for (long long k = 0; k < parallel; k++) {
            if (w[k].status) {
                fprintf(stderr, "itx nn: %s\n", w[k].d.msg);
                itx_free(all);
                goto out;
            }
        }
        n_all = (size_t)(parallel * repeat);
        qsort(all, n_all, sizeof(double), cmp_double);
        double med = n_all ? all[n_all / 2] : 0.0;
        /* throughput from the per-inference median: every worker runs concurrently */
        double ips = med > 0 ? 1000.0 * (double)parallel / med : 0.0;
        if (json)
            printf("{\"model\":\"%s\",\"parallel\":%lld,\"threads\":%d,\"median_ms\":%.3f,"
                   "\"throughput_per_s\":%.3f,\"wall_ms\":%.3f}\n",
                   model, parallel, o.threads, med, ips, wall);
        else
            printf("%lld workers x %d thread(s): median %.2f ms per inference, %.2f inferences/s\n",
                   parallel, o.threads, med, ips);
        itx_free(all);
        rc = 0;
        goto out;
    }
    struct timespec f0, f1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &f0);
    if (itx_nn_session_run(s, input, shape, rank, &d)) {
        fprintf(stderr, "itx nn: %s\n", d.msg);
        goto out;
    }
    double t2 = itx_now_ms();
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &f1);
    double first_cpu = (double)(f1.tv_sec - f0.tv_sec) * 1e3 + (double)(f1.tv_nsec - f0.tv_nsec) / 1e6;
    times = itx_calloc((size_t)(repeat ? repeat : 1), sizeof(double));
    if (!times)
        goto out;
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (long long r = 0; r < repeat; r++) {
        double a = itx_now_ms();
        if (itx_nn_session_run(s, input, shape, rank, &d)) {
            fprintf(stderr, "itx nn: %s\n", d.msg);
            goto out;
        }
        times[r] = itx_now_ms() - a;
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu_ms = repeat ? ((double)(c1.tv_sec - c0.tv_sec) * 1e3 +
                              (double)(c1.tv_nsec - c0.tv_nsec) / 1e6) /
                                 (double)repeat
                           : 0.0;
    qsort(times, (size_t)repeat, sizeof(double), cmp_double);
    double median = repeat ? (repeat % 2 ? times[repeat / 2]
                                         : (times[repeat / 2 - 1] + times[repeat / 2]) / 2)
                           : t2 - t1;
    int64_t oshape[ITX_NN_MAX_DIMS];
    int orank = 0;
    const float *y = itx_nn_session_output(s, 0, oshape, &orank);
    size_t on = 1;
    double sum = 0;
    for (int i = 0; i < orank; i++)
        on *= (size_t)oshape[i];
    for (size_t i = 0; i < on; i++)
        sum += (double)y[i];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char os[128] = "";
    for (int i = 0, k = 0; i < orank; i++)
        k += snprintf(os + k, sizeof(os) - (size_t)k, "%s%lld", i ? "x" : "", (long long)oshape[i]);
    if (json)
        printf("{\"model\":\"%s\",\"load_ms\":%.3f,\"first_run_ms\":%.3f,\"first_run_cpu_ms\":%.3f,\"median_ms\":%.3f,"
               "\"min_ms\":%.3f,\"cpu_ms\":%.3f,\"runs\":%lld,\"threads\":%d,\"output_shape\":\"%s\","
               "\"output_sum\":%.6g,\"arena_bytes\":%zu,\"peak_rss_kb\":%ld,\"nodes\":%zu}\n",
               model, t1 - t0, t2 - t1, first_cpu, median, repeat ? times[0] : t2 - t1, cpu_ms, repeat, o.threads,
               os, sum, itx_nn_session_arena_bytes(s), ru.ru_maxrss, itx_nn_model_n_nodes(m));
    else
        printf("model %s: %zu nodes after optimisation, loaded in %.1f ms\n"
               "first run %.1f ms (plan + run), median of %lld runs %.2f ms (min %.2f, CPU %.2f ms "
               "per run), %d thread(s)\noutput 0: %s, sum %.6g; activations %.1f MiB; peak RSS %.1f MiB\n",
               model, itx_nn_model_n_nodes(m), t1 - t0, t2 - t1, repeat, median,
               repeat ? times[0] : 0.0, cpu_ms, o.threads, os, sum,
               (double)itx_nn_session_arena_bytes(s) / 1048576.0, (double)ru.ru_maxrss / 1024.0);
    if (out_path) {
        FILE *f = fopen(out_path, "wb");
        if (!f || fwrite(y, sizeof(float), on, f) != on) {
            fprintf(stderr, "itx nn: cannot write '%s'\n", out_path);
            if (f)
                fclose(f);
            goto out;
        }
        fclose(f);
    }
    rc = 0;
out:
    itx_free(times);
    itx_free(input);
    itx_nn_session_free(s);
    itx_nn_model_free(m);
    return rc;
}
