/*
 * Object storage for results: one interface, three backends.
 *
 * - local (default): a directory, served by the server under /files/. Writes go to a
 *   temporary file in the target directory, are fsync'ed, renamed into place without
 *   replacing anything (renameat2 RENAME_NOREPLACE), and the directory is fsync'ed, so a
 *   crash or a full disk never leaves a half-written object under its final name.
 * - s3: AWS Signature Version 4 over libcurl; path-style or virtual-hosted; any endpoint
 *   (AWS, GCS interoperability with HMAC keys, MinIO, R2); presigned GET URLs.
 * - gcs: Google Cloud Storage JSON API; OAuth2 tokens from the metadata server (Cloud Run,
 *   GKE) or from a service-account key file (RS256 JWT signed with OpenSSL), cached until
 *   shortly before they expire.
 *
 * Object names are relative paths of [A-Za-z0-9._-] components separated by '/'
 * (itx_store_name_check); results are named by itx_store_cache_key, so a repeated picture
 * with the same settings maps to the same objects and storage doubles as a result cache.
 *
 * Puts are create-only: putting a name that exists fails with ITX_ERR_CONFLICT (local:
 * RENAME_NOREPLACE; s3: If-None-Match: *; gcs: ifGenerationMatch=0). With content-addressed
 * names an existing object already holds the same bytes, so callers treat CONFLICT as done.
 *
 * Thread-safety: a store may be used from many threads at once (the GCS token cache is
 * locked; each call uses its own curl handle). docs/store.md has the details.
 */
#ifndef ITX_STORE_STORE_H
#define ITX_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum itx_store_kind { ITX_STORE_LOCAL, ITX_STORE_S3, ITX_STORE_GCS };

#define ITX_STORE_NAME_MAX 512
#define ITX_STORE_DEFAULT_MAX_OBJECT (64u * 1024u * 1024u)

/* Settings; strings are borrowed for the duration of itx_store_open (which copies them). */
struct itx_store_config {
    enum itx_store_kind kind;
    const char *prefix;     /* prepended to every name, e.g. "itx/"; may be NULL */
    bool signed_urls;       /* itx_store_url gives signed URLs (s3, gcs with key file) */
    long url_ttl_s;         /* lifetime of signed URLs; default 3600, at most 604800 */
    size_t max_object_size; /* largest object put or got; default 64 MiB */
    int max_retries;        /* retries on 5xx, SlowDown, 429 and timeouts; default 3 */
    long retry_backoff_ms;  /* first backoff, doubled each retry; default 200 */
    long timeout_ms;        /* per request; default 30000 */

    /* local */
    const char *dir;             /* default "data/files" */
    const char *public_base_url; /* default "/files/" */

    /* s3 */
    const char *bucket;   /* s3 and gcs */
    const char *region;   /* default "us-east-1" ("auto" for R2) */
    const char *endpoint; /* default "https://s3.<region>.amazonaws.com" */
    bool path_style;      /* endpoint/bucket/key instead of bucket.endpoint/key */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* optional */

    /* gcs */
    const char *credentials_file; /* service-account JSON key; NULL: metadata server */
    const char *gcs_endpoint;     /* default "https://storage.googleapis.com" */
    const char *metadata_url;     /* default the documented metadata token URL */
    const char *gcs_public_base;  /* default "https://storage.googleapis.com" */

    /* Pinned name resolutions, curl CURLOPT_RESOLVE "host:port:address" (tests). */
    const char *const *resolve;
    size_t n_resolve;
};

/* Fills c with the defaults (local store in "data/files"). */
void itx_store_config_init(struct itx_store_config *c);

/*
 * Fills c from the environment: ITX_STORE (local|s3|gcs), ITX_STORE_DIR,
 * ITX_STORE_PUBLIC_URL, ITX_STORE_PREFIX, ITX_STORE_SIGNED_URLS (0|1), ITX_STORE_URL_TTL,
 * ITX_S3_BUCKET, ITX_S3_REGION, ITX_S3_ENDPOINT, ITX_S3_PATH_STYLE (0|1),
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, ITX_GCS_BUCKET,
 * GOOGLE_APPLICATION_CREDENTIALS, ITX_GCS_ENDPOINT, ITX_GCS_METADATA_URL. Strings point
 * into the environment. ITX_ERR_INVALID names a bad variable.
 */
enum itx_status itx_store_config_from_env(struct itx_store_config *c, struct itx_diag *d);

struct itx_store;

/* Opens a store (copies the config). Checks settings; does no network I/O. */
enum itx_status itx_store_open(const struct itx_store_config *c, struct itx_store **out,
                               struct itx_diag *d);
void itx_store_free(struct itx_store *s);
enum itx_store_kind itx_store_kind(const struct itx_store *s);

/* Validates an object name (see the header comment); ITX_ERR_INVALID says why. */
enum itx_status itx_store_name_check(const char *name, struct itx_diag *d);

/*
 * Stores len bytes under name with the given Content-Type, create-only (ITX_ERR_CONFLICT
 * when the name exists). Errors: ITX_ERR_INVALID (name), ITX_ERR_TOO_LARGE, ITX_ERR_IO
 * (local: disk full, permissions), ITX_ERR_AUTH / ITX_ERR_FORBIDDEN (credentials),
 * ITX_ERR_UPSTREAM (remote failure after retries), ITX_ERR_TIMEOUT.
 */
enum itx_status itx_store_put(struct itx_store *s, const char *name, const void *data, size_t len,
                              const char *content_type, struct itx_diag *d);

/* Whether name exists; *size (may be NULL) gets its size. Written only on success. */
enum itx_status itx_store_head(struct itx_store *s, const char *name, bool *exists, size_t *size,
                               struct itx_diag *d);

/* Reads an object (at most max_object_size) into a new buffer (free with itx_free).
 * ITX_ERR_NOT_FOUND when it does not exist. */
enum itx_status itx_store_get(struct itx_store *s, const char *name, uint8_t **data, size_t *len,
                              struct itx_diag *d);

/*
 * A URL for name (free with itx_free): public, or signed for ttl_s seconds (<= 0: the
 * configured TTL) when the store is configured with signed_urls. now_unix is the signing
 * time in seconds since the epoch (0: the current time).
 */
enum itx_status itx_store_url(struct itx_store *s, const char *name, long ttl_s, long long now_unix,
                              char **url, struct itx_diag *d);

/* One output-affecting setting for itx_store_cache_key. */
struct itx_store_setting {
    const char *key;
    const char *value;
};

/*
 * Content-addressed key: hex SHA-256 over SHA-256(src) and a canonical string of the
 * settings (sorted by key, each as length-prefixed key and value, so no choice of values
 * can make two different setting sets collide). The same picture with the same settings
 * always gives the same key; changing any setting or byte gives another. Duplicate keys in
 * settings are an error (ITX_ERR_INVALID).
 */
enum itx_status itx_store_cache_key(const void *src, size_t src_len,
                                    const struct itx_store_setting *settings, size_t n_settings,
                                    char out[65], struct itx_diag *d);

/*
 * The object name of one output of a cached result: "<key[0:2]>/<key>/<leaf>", e.g.
 * "0e/0ecd...fb0df/final.png" (the two-character fan-out keeps directories small in the
 * local backend). key is a hex key from itx_store_cache_key; leaf is a plain name like
 * "final.png" or "result.json". ITX_ERR_INVALID for a malformed key or leaf or a short out.
 */
enum itx_status itx_store_cache_name(const char *key, const char *leaf, char *out, size_t out_size,
                                     struct itx_diag *d);

#endif
