/* The metrics registry: exposition format, label escaping, histograms, limits, threads. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/buf.h"
#include "server/server.h"

static char *
render(struct itx_metrics *m)
{
    struct itx_buf b;
    char *s;
    itx_buf_init(&b, 1u << 20);
    CHECK_INT(itx_metrics_render(m, &b), ITX_OK);
    s = strdup(b.data ? b.data : "");
    itx_buf_release(&b);
    return s;
}

static void
t_format(void)
{
    struct itx_metrics *m = itx_metrics_new();
    static const double bounds[] = {0.1, 0.5, 2};
    struct itx_metric *c, *g, *h;
    char *t;

    c = itx_metrics_add(m, ITX_METRIC_COUNTER, "t_requests_total", "Requests\nby \\code", "code",
                        NULL, 0);
    g = itx_metrics_add(m, ITX_METRIC_GAUGE, "t_depth", "Depth", NULL, NULL, 0);
    h = itx_metrics_add(m, ITX_METRIC_HISTOGRAM, "t_seconds", "Time", "stage", bounds, 3);
    CHECK(c && g && h);
    CHECK(itx_metrics_add(m, ITX_METRIC_COUNTER, "t_requests_total", "x", "code", NULL, 0) == c);
    CHECK(itx_metrics_add(m, ITX_METRIC_GAUGE, "t_requests_total", "x", NULL, NULL, 0) == NULL);
    CHECK(itx_metrics_add(m, ITX_METRIC_GAUGE, "1bad", "x", NULL, NULL, 0) == NULL);
    CHECK(itx_metrics_add(m, ITX_METRIC_GAUGE, "bad-name", "x", NULL, NULL, 0) == NULL);
    CHECK(itx_metrics_add(m, ITX_METRIC_HISTOGRAM, "t_h2", "x", "le", NULL, 0) == NULL);
    CHECK(itx_metrics_add(m, ITX_METRIC_HISTOGRAM, "t_h3", "x", NULL, (const double[]){2, 1}, 2) ==
          NULL);
    CHECK(itx_metrics_find(m, "t_depth") == g);

    itx_metric_add(itx_metric_series(c, (const char *[]){"200"}), 3);
    itx_metric_add(itx_metric_series(c, (const char *[]){"a\"b\\c\nd"}), 1);
    itx_metric_add(itx_metric_series(c, (const char *[]){"200"}), -5); /* counters only grow */
    itx_metric_set(itx_metric_series(g, NULL), 7);
    itx_metric_add(itx_metric_series(g, NULL), -2.5);
    {
        struct itx_metric_series *s = itx_metric_series(h, (const char *[]){"ocr"});
        itx_metric_observe(s, 0.05);
        itx_metric_observe(s, 0.1); /* le is inclusive */
        itx_metric_observe(s, 1);
        itx_metric_observe(s, 100);
        CHECK_INT(itx_metric_value(s), 4);
    }
    t = render(m);
    CHECK(strstr(t, "# HELP t_requests_total Requests\\nby \\\\code\n"
                    "# TYPE t_requests_total counter\n"
                    "t_requests_total{code=\"200\"} 3\n"
                    "t_requests_total{code=\"a\\\"b\\\\c\\nd\"} 1\n") != NULL);
    CHECK(strstr(t, "# TYPE t_depth gauge\nt_depth 4.5\n") != NULL);
    CHECK(strstr(t, "# TYPE t_seconds histogram\n"
                    "t_seconds_bucket{stage=\"ocr\",le=\"0.1\"} 2\n"
                    "t_seconds_bucket{stage=\"ocr\",le=\"0.5\"} 2\n"
                    "t_seconds_bucket{stage=\"ocr\",le=\"2\"} 3\n"
                    "t_seconds_bucket{stage=\"ocr\",le=\"+Inf\"} 4\n"
                    "t_seconds_sum{stage=\"ocr\"} 101.15\n"
                    "t_seconds_count{stage=\"ocr\"} 4\n") != NULL);
    if (!strstr(t, "t_seconds_count"))
        fprintf(stderr, "%s", t);
    free(t);
    itx_metrics_free(m);
}

static void
t_cardinality(void)
{
    struct itx_metrics *m = itx_metrics_new();
    struct itx_metric *c = itx_metrics_add(m, ITX_METRIC_COUNTER, "t_total", "x", "id", NULL, 0);
    int made = 0;
    for (int i = 0; i < 300; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", i);
        if (itx_metric_series(c, (const char *[]){v}))
            made++;
    }
    CHECK_INT(made, 256);
    itx_metric_add(NULL, 1); /* a dropped series is a no-op */
    itx_metrics_free(m);
}

struct arg {
    struct itx_metric *c, *h;
};

static void *
hammer(void *p)
{
    struct arg *a = p;
    for (int i = 0; i < 20000; i++) {
        itx_metric_add(itx_metric_series(a->c, (const char *[]){i % 2 ? "odd" : "even"}), 1);
        itx_metric_observe(itx_metric_series(a->h, NULL), 0.001 * (i % 7));
    }
    return NULL;
}

static void
t_threads(void)
{
    struct itx_metrics *m = itx_metrics_new();
    struct arg a = {itx_metrics_add(m, ITX_METRIC_COUNTER, "t_total", "x", "parity", NULL, 0),
                    itx_metrics_add(m, ITX_METRIC_HISTOGRAM, "t_h", "x", NULL, NULL, 0)};
    pthread_t th[4];
    char *t;

    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, &a);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(itx_metric_value(itx_metric_series(a.c, (const char *[]){"odd"})), 40000);
    CHECK_INT(itx_metric_value(itx_metric_series(a.c, (const char *[]){"even"})), 40000);
    CHECK_INT(itx_metric_value(itx_metric_series(a.h, NULL)), 80000);
    t = render(m);
    CHECK(strstr(t, "t_h_bucket{le=\"+Inf\"} 80000\n") != NULL);
    CHECK(strstr(t, "t_h_count 80000\n") != NULL);
    free(t);
    itx_metrics_free(m);
}

int
main(void)
{
    t_format();
    t_cardinality();
    t_threads();
    return check_summary();
}
