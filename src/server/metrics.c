/*
 * A small Prometheus registry. Values are doubles stored as bits in atomic 64-bit words and
 * updated with compare-and-swap, so updates never take a lock; the series list of a family
 * only grows, under the family's mutex, and is read by the renderer under the same mutex.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "server/server-impl.h"

#define MAX_LABELS 4
#define MAX_SERIES 256
#define MAX_BUCKETS 32

struct itx_metric_series {
    struct itx_metric *family;
    char *values[MAX_LABELS];
    _Atomic uint64_t value;    /* counter/gauge value or histogram sum, as double bits */
    _Atomic uint64_t count;    /* histogram */
    _Atomic uint64_t *buckets; /* histogram, one per bound (not cumulative) */
    struct itx_metric_series *next;
};

struct itx_metric {
    enum itx_metric_type type;
    char *name, *help;
    size_t n_labels;
    char *labels[MAX_LABELS];
    double bounds[MAX_BUCKETS];
    size_t n_bounds;
    pthread_mutex_t mu;
    struct itx_metric_series *series, *series_tail;
    size_t n_series;
    struct itx_metric *next;
};

struct itx_metrics {
    pthread_mutex_t mu;
    struct itx_metric *families, *tail;
};

static const double default_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,  5,     10,   30,  60};

static uint64_t
d2u(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

static double
u2d(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

static void
atomic_add_double(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(p, &old, d2u(u2d(old) + v), memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

struct itx_metrics *
itx_metrics_new(void)
{
    struct itx_metrics *m = itx_calloc(1, sizeof(*m));
    if (m)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

static void
series_free(struct itx_metric_series *s, size_t n_labels)
{
    for (size_t i = 0; i < n_labels; i++)
        itx_free(s->values[i]);
    itx_free(s->buckets);
    itx_free(s);
}

static void
family_free(struct itx_metric *f)
{
    struct itx_metric_series *s = f->series;
    while (s) {
        struct itx_metric_series *n = s->next;
        series_free(s, f->n_labels);
        s = n;
    }
    for (size_t i = 0; i < f->n_labels; i++)
        itx_free(f->labels[i]);
    itx_free(f->name);
    itx_free(f->help);
    pthread_mutex_destroy(&f->mu);
    itx_free(f);
}

void
itx_metrics_free(struct itx_metrics *m)
{
    struct itx_metric *f;

    if (!m)
        return;
    f = m->families;
    while (f) {
        struct itx_metric *n = f->next;
        family_free(f);
        f = n;
    }
    pthread_mutex_destroy(&m->mu);
    itx_free(m);
}

static bool
valid_name(const char *s, bool label)
{
    if (!s || !*s)
        return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (!label && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

struct itx_metric *
itx_metrics_find(struct itx_metrics *m, const char *name)
{
    struct itx_metric *f;

    pthread_mutex_lock(&m->mu);
    for (f = m->families; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            break;
    pthread_mutex_unlock(&m->mu);
    return f;
}

struct itx_metric *
itx_metrics_add(struct itx_metrics *m, enum itx_metric_type type, const char *name,
                const char *help, const char *labels, const double *buckets, size_t n_buckets)
{
    struct itx_metric *f;

    if (!m || !valid_name(name, false))
        return NULL;
    f = itx_metrics_find(m, name);
    if (f)
        return f->type == type ? f : NULL;
    f = itx_calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    f->type = type;
    f->name = itx_strdup(name);
    f->help = itx_strdup(help ? help : "");
    if (!f->name || !f->help)
        goto fail;
    if (labels && *labels) {
        const char *p = labels;
        while (*p) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (f->n_labels == MAX_LABELS)
                goto fail;
            f->labels[f->n_labels] = itx_strndup(p, len);
            if (!f->labels[f->n_labels] || !valid_name(f->labels[f->n_labels], true) ||
                strcmp(f->labels[f->n_labels], "le") == 0) {
                f->n_labels++;
                goto fail;
            }
            f->n_labels++;
            p += len;
            if (*p == ',')
                p++;
        }
    }
    if (type == ITX_METRIC_HISTOGRAM) {
        if (!buckets) {
            buckets = default_bounds;
            n_buckets = sizeof(default_bounds) / sizeof(default_bounds[0]);
        }
        if (n_buckets == 0 || n_buckets > MAX_BUCKETS)
            goto fail;
        for (size_t i = 0; i < n_buckets; i++) {
            if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
                goto fail;
            f->bounds[i] = buckets[i];
        }
        f->n_bounds = n_buckets;
    }
    pthread_mutex_lock(&m->mu);
    if (m->tail)
        m->tail->next = f;
    else
        m->families = f;
    m->tail = f;
    pthread_mutex_unlock(&m->mu);
    return f;
fail:
    family_free(f);
    return NULL;
}

struct itx_metric_series *
itx_metric_series(struct itx_metric *f, const char *const *values)
{
    struct itx_metric_series *s;

    if (!f)
        return NULL;
    pthread_mutex_lock(&f->mu);
    for (s = f->series; s; s = s->next) {
        size_t i;
        for (i = 0; i < f->n_labels; i++)
            if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
                break;
        if (i == f->n_labels)
            goto out;
    }
    s = NULL;
    if (f->n_series >= MAX_SERIES)
        goto out;
    s = itx_calloc(1, sizeof(*s));
    if (!s)
        goto out;
    s->family = f;
    for (size_t i = 0; i < f->n_labels; i++) {
        s->values[i] = itx_strdup(values[i] ? values[i] : "");
        if (!s->values[i]) {
            series_free(s, i);
            s = NULL;
            goto out;
        }
    }
    if (f->type == ITX_METRIC_HISTOGRAM) {
        s->buckets = itx_calloc(f->n_bounds, sizeof(*s->buckets));
        if (!s->buckets) {
            series_free(s, f->n_labels);
            s = NULL;
            goto out;
        }
    }
    atomic_init(&s->value, d2u(0.0));
    if (f->series_tail)
        f->series_tail->next = s;
    else
        f->series = s;
    f->series_tail = s;
    f->n_series++;
out:
    pthread_mutex_unlock(&f->mu);
    return s;
}

void
itx_metric_add(struct itx_metric_series *s, double v)
{
    if (!s || !isfinite(v))
        return;
    if (s->family->type == ITX_METRIC_HISTOGRAM) {
        itx_metric_observe(s, v);
        return;
    }
    if (s->family->type == ITX_METRIC_COUNTER && v < 0)
        return;
    atomic_add_double(&s->value, v);
}

void
itx_metric_set(struct itx_metric_series *s, double v)
{
    if (!s || s->family->type != ITX_METRIC_GAUGE)
        return;
    atomic_store_explicit(&s->value, d2u(v), memory_order_relaxed);
}

void
itx_metric_observe(struct itx_metric_series *s, double v)
{
    struct itx_metric *f;

    if (!s || s->family->type != ITX_METRIC_HISTOGRAM || isnan(v))
        return;
    f = s->family;
    for (size_t i = 0; i < f->n_bounds; i++) {
        if (v <= f->bounds[i]) {
            atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_add_double(&s->value, v);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

double
itx_metric_value(const struct itx_metric_series *s)
{
    if (!s)
        return 0;
    if (s->family->type == ITX_METRIC_HISTOGRAM)
        return (double)atomic_load(&s->count);
    return u2d(atomic_load(&s->value));
}

/* Label values escaped as the exposition format asks: backslash, quote and newline. */
static void
put_label_value(struct itx_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            itx_buf_puts(b, "\\\\");
        else if (*v == '"')
            itx_buf_puts(b, "\\\"");
        else if (*v == '\n')
            itx_buf_puts(b, "\\n");
        else
            itx_buf_putc(b, *v);
    }
}

static void
put_help(struct itx_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            itx_buf_puts(b, "\\\\");
        else if (*v == '\n')
            itx_buf_puts(b, "\\n");
        else
            itx_buf_putc(b, *v);
    }
}

static void
put_number(struct itx_buf *b, double v)
{
    if (isinf(v))
        itx_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        itx_buf_puts(b, "NaN");
    else if (v == floor(v) && fabs(v) < 1e15)
        itx_buf_printf(b, "%.0f", v);
    else {
        /* The shortest of %.15g / %.17g that reads back as v: "0.005", not
         * "0.0050000000000000001". */
        char t[40];
        snprintf(t, sizeof(t), "%.15g", v);
        if (strtod(t, NULL) != v)
            snprintf(t, sizeof(t), "%.17g", v);
        itx_buf_puts(b, t);
    }
}

/* {a="x",b="y"[,le="..."]} */
static void
put_labels(struct itx_buf *b, const struct itx_metric *f, const struct itx_metric_series *s,
           const char *le)
{
    if (f->n_labels == 0 && !le)
        return;
    itx_buf_putc(b, '{');
    for (size_t i = 0; i < f->n_labels; i++) {
        itx_buf_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
        put_label_value(b, s->values[i]);
        itx_buf_putc(b, '"');
    }
    if (le)
        itx_buf_printf(b, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    itx_buf_putc(b, '}');
}

enum itx_status
itx_metrics_render(struct itx_metrics *m, struct itx_buf *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    struct itx_metric *f;

    pthread_mutex_lock(&m->mu);
    for (f = m->families; f; f = f->next) {
        itx_buf_printf(out, "# HELP %s ", f->name);
        put_help(out, f->help);
        itx_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
        pthread_mutex_lock(&f->mu);
        for (struct itx_metric_series *s = f->series; s; s = s->next) {
            if (f->type != ITX_METRIC_HISTOGRAM) {
                itx_buf_puts(out, f->name);
                put_labels(out, f, s, NULL);
                itx_buf_putc(out, ' ');
                put_number(out, u2d(atomic_load(&s->value)));
                itx_buf_putc(out, '\n');
                continue;
            }
            /* Read the count first: buckets may then run ahead of it by a racing observe,
             * never behind, and the +Inf bucket is the count by definition. */
            uint64_t count = atomic_load(&s->count), cum = 0;
            for (size_t i = 0; i < f->n_bounds; i++) {
                char le[40];
                struct itx_buf tmp;
                cum += atomic_load(&s->buckets[i]);
                if (cum > count)
                    cum = count;
                itx_buf_init(&tmp, sizeof(le) - 1);
                put_number(&tmp, f->bounds[i]);
                snprintf(le, sizeof(le), "%s", tmp.data ? tmp.data : "0");
                itx_buf_release(&tmp);
                itx_buf_printf(out, "%s_bucket", f->name);
                put_labels(out, f, s, le);
                itx_buf_printf(out, " %llu\n", (unsigned long long)cum);
            }
            itx_buf_printf(out, "%s_bucket", f->name);
            put_labels(out, f, s, "+Inf");
            itx_buf_printf(out, " %llu\n", (unsigned long long)count);
            itx_buf_printf(out, "%s_sum", f->name);
            put_labels(out, f, s, NULL);
            itx_buf_putc(out, ' ');
            put_number(out, u2d(atomic_load(&s->value)));
            itx_buf_printf(out, "\n%s_count", f->name);
            put_labels(out, f, s, NULL);
            itx_buf_printf(out, " %llu\n", (unsigned long long)count);
        }
        pthread_mutex_unlock(&f->mu);
    }
    pthread_mutex_unlock(&m->mu);
    if (out->len == out->max)
        return ITX_ERR_TOO_LARGE;
    return ITX_OK;
}
