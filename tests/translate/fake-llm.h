/*
 * A fake LLM vendor for tests: an HTTP/1.1 server on 127.0.0.1 (ephemeral port, a thread per
 * connection) that checks each request against the shape the vendor documents (method, path,
 * headers, API key, JSON body) and answers from a script of documented responses.
 */
#ifndef ITX_TESTS_FAKE_LLM_H
#define ITX_TESTS_FAKE_LLM_H

#include <pthread.h>
#include <stdbool.h>

enum fake_vendor { FAKE_GEMINI, FAKE_OPENAI };

enum fake_kind {
    FAKE_AUTO,           /* a valid answer translating every segment of the request */
    FAKE_AUTO_DROP_LAST, /* valid, but the last segment is missing */
    FAKE_AUTO_CHINESE,   /* valid, but segment 1 comes back in Chinese */
    FAKE_RAW,            /* status, headers and body as given */
    FAKE_TRUNCATED,      /* 200 whose body stops before its Content-Length */
};

struct fake_reply {
    enum fake_kind kind;
    int status;          /* FAKE_RAW */
    const char *headers; /* extra header lines, each ending in \r\n */
    const char *body;    /* FAKE_RAW */
    int delay_ms;        /* wait before answering */
};

#define FAKE_MAX 16

struct fake_llm {
    enum fake_vendor vendor;
    const char *model; /* expected model */
    const char *key;   /* expected key; NULL: no key header allowed */
    bool cyrillic;     /* FAKE_AUTO answers in Cyrillic (for ru) */
    struct fake_reply replies[FAKE_MAX];
    int n_replies; /* the last one repeats */
    /* Observed, read after fake_llm_stop or between calls. */
    int n_requests;
    double at_ms[FAKE_MAX];
    char error[512]; /* first request-shape violation, "" when none */
    char last_user[8192];
    int max_in_flight; /* most requests served at the same time */
    /* internal */
    int fd, port;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int in_flight, handlers;
};

/* Starts the server; returns the port (0 on failure). */
int fake_llm_start(struct fake_llm *f);
void fake_llm_stop(struct fake_llm *f);
/* Replaces the reply script and clears the observations. */
void fake_llm_script(struct fake_llm *f, const struct fake_reply *r, int n);

#endif
