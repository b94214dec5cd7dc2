/*
 * Internals of src/store/: the backend table, the HTTP helper shared by s3 and gcs, the
 * SigV4 signer, and the parsers of remote answers (exposed here for tests and fuzzing).
 */
#ifndef ITX_STORE_STORE_IMPL_H
#define ITX_STORE_STORE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/store.h"

struct curl_slist;

struct store_ops {
    enum itx_status (*put)(struct itx_store *s, const char *key, const void *data, size_t len,
                           const char *content_type, struct itx_diag *d);
    enum itx_status (*head)(struct itx_store *s, const char *key, bool *exists, size_t *size,
                            struct itx_diag *d);
    enum itx_status (*get)(struct itx_store *s, const char *key, uint8_t **data, size_t *len,
                           struct itx_diag *d);
    enum itx_status (*url)(struct itx_store *s, const char *key, long ttl_s, long long now,
                           char **url, struct itx_diag *d);
    void (*release)(struct itx_store *s);
};

struct gcs_key {
    char *client_email;
    char *private_key; /* PEM */
    char *token_uri;
};

struct itx_store {
    const struct store_ops *ops;
    struct itx_store_config cfg; /* strings below own the copies */
    char *prefix, *dir, *public_base_url, *bucket, *region, *endpoint, *access_key, *secret_key,
        *session_token, *credentials_file, *gcs_endpoint, *metadata_url, *gcs_public_base;
    char **resolve;
    int dir_fd; /* local */
    int tmp_fd; /* local: <dir>/.tmp, where puts are written before the rename */
    /* gcs */
    struct gcs_key key;
    bool have_key;
    pthread_mutex_t token_lock;
    char *token;
    double token_expires_ms; /* itx_now_ms() clock */
    unsigned long n_token_fetches;
};

enum itx_status store_local_open(struct itx_store *s, struct itx_diag *d);
enum itx_status store_s3_open(struct itx_store *s, struct itx_diag *d);
enum itx_status store_gcs_open(struct itx_store *s, struct itx_diag *d);

/* ---- HTTP helper (http.c) ---- */

struct store_http_req {
    const char *method; /* GET, HEAD, PUT, POST */
    const char *url;
    const struct curl_slist *headers;
    const void *body;
    size_t body_len;
};

struct store_http_resp {
    long status;
    struct itx_buf body;
    char content_type[128];
    long long content_length; /* -1 when absent */
};

void store_http_resp_init(struct store_http_resp *r, size_t max);
void store_http_resp_release(struct store_http_resp *r);

/* One request, no retries; the answer body is capped by r->body's ceiling. Transport failures give
 * ITX_ERR_UPSTREAM or ITX_ERR_TIMEOUT; any HTTP status is ITX_OK with r->status set. */
enum itx_status store_http_do(const struct itx_store *s, const struct store_http_req *q,
                              struct store_http_resp *r, struct itx_diag *d);

/* Whether a status or transport error deserves a retry, and the sleep between tries. */
bool store_http_retryable(enum itx_status st, long status, const char *s3_code);
void store_sleep_ms(long ms);

/* Percent-encodes s (RFC 3986 unreserved kept; '/' kept when keep_slash). */
enum itx_status store_uri_encode(struct itx_buf *b, const char *s, bool keep_slash);

/* ---- SigV4 (s3.c) ---- */

struct sigv4_kv {
    const char *name;
    const char *value;
};

/* Builds the canonical request; query and headers are raw (the function encodes query
 * names and values, lower-cases header names, trims values and sorts both).
 * canonical_uri must already be encoded. signed_headers receives "a;b;c". */
enum itx_status sigv4_canonical_request(struct itx_buf *out, const char *method,
                                        const char *canonical_uri, const struct sigv4_kv *query,
                                        size_t n_query, const struct sigv4_kv *headers,
                                        size_t n_headers, const char *payload_hash,
                                        struct itx_buf *signed_headers);

/* Signature (hex) of a canonical request. amz_date is "YYYYMMDDTHHMMSSZ". */
enum itx_status sigv4_signature(const char *secret, const char *amz_date, const char *region,
                                const char *service, const char *canonical_request, char sig[65]);

/* S3 error document: <Error><Code>..</Code><Message>..</Message></Error>. Writes the
 * (entity-decoded, truncated) code and message; false when the text is not one. */
bool s3_parse_error(const char *xml, size_t len, char *code, size_t code_size, char *msg,
                    size_t msg_size);

/* ---- GCS (gcs.c) ---- */

/* Token endpoint answer {"access_token": "...", "expires_in": N, "token_type": "Bearer"}. */
enum itx_status gcs_parse_token(const char *json, size_t len, char **token, long *expires_in,
                                struct itx_diag *d);
/* Service-account key file (type service_account, client_email, private_key, token_uri). */
enum itx_status gcs_parse_key(const char *json, size_t len, struct gcs_key *k, struct itx_diag *d);
void gcs_key_release(struct gcs_key *k);
/* Object resource: {"size": "123", ...}. */
enum itx_status gcs_parse_object(const char *json, size_t len, size_t *size, struct itx_diag *d);
/* Error answer {"error": {"code": N, "message": "..."}}; false when not one. */
bool gcs_parse_error(const char *json, size_t len, char *msg, size_t msg_size);
/* base64url without padding. */
enum itx_status store_base64url(struct itx_buf *b, const void *p, size_t n);

#endif
