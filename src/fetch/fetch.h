/*
 * Bounded, SSRF-safe downloads of pictures over http and https (libcurl).
 *
 * Invariants, for every transfer:
 * - only the http and https schemes, on the first URL and on every redirect target;
 * - the address of every socket is checked when curl opens it (CURLOPT_OPENSOCKETFUNCTION),
 *   after name resolution and before connect(2), so DNS rebinding and host names that
 *   resolve to private addresses are caught: loopback, unspecified, RFC 1918, CGNAT,
 *   link-local (169.254.169.254 included), multicast, reserved, broadcast, benchmarking,
 *   documentation, IPv6 ULA and link-local, and IPv4 embedded in IPv6 (mapped,
 *   compatible, 6to4, NAT64, Teredo) are refused;
 * - redirects are followed by this module, not by curl, at most max_redirects hops, each
 *   re-checked (scheme, credentials, allow-list, then the address at socket time);
 * - proxies from the environment are ignored; no transparent decompression;
 * - the body is capped (Content-Length and while streaming), with connect, total and
 *   low-speed limits.
 *
 * docs/fetch.md describes the design and the test-only loopback switch.
 *
 * Thread-safety: itx_fetch may run on many threads at once (one curl handle per call).
 * Call itx_fetch_global_init once at start-up before threads start.
 */
#ifndef ITX_FETCH_FETCH_H
#define ITX_FETCH_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Classes of network addresses; everything but ITX_ADDR_PUBLIC is refused. */
enum itx_fetch_addr_class {
    ITX_ADDR_PUBLIC = 0,
    ITX_ADDR_LOOPBACK,
    ITX_ADDR_UNSPECIFIED,   /* 0.0.0.0/8, :: */
    ITX_ADDR_PRIVATE,       /* RFC 1918, NAT64 local-use 64:ff9b:1::/48 */
    ITX_ADDR_CGNAT,         /* 100.64.0.0/10 */
    ITX_ADDR_LINK_LOCAL,    /* 169.254.0.0/16, fe80::/10 */
    ITX_ADDR_MULTICAST,     /* 224.0.0.0/4, ff00::/8 */
    ITX_ADDR_BROADCAST,     /* 255.255.255.255 */
    ITX_ADDR_RESERVED,      /* 240.0.0.0/4, IETF blocks, IPv6 outside 2000::/3 ... */
    ITX_ADDR_BENCHMARKING,  /* 198.18.0.0/15, 2001:2::/48 */
    ITX_ADDR_DOCUMENTATION, /* TEST-NET-1/2/3, 2001:db8::/32, 3fff::/20 */
    ITX_ADDR_UNIQUE_LOCAL,  /* fc00::/7 (and deprecated site-local fec0::/10) */
    ITX_ADDR_INVALID,       /* not an IPv4 or IPv6 address */
    ITX_ADDR_CLASS_COUNT
};

/* The verdict on one address. */
struct itx_fetch_addr_verdict {
    enum itx_fetch_addr_class cls;
    /* When the class comes from an IPv4 address embedded in an IPv6 one: how it was
     * embedded ("ipv4-mapped", "ipv4-compatible", "6to4", "nat64", "teredo", ...), and
     * the embedded address. NULL / zero otherwise. */
    const char *via;
    uint8_t v4[4];
};

/*
 * Classifies an address given as raw network-order bytes: 4 bytes for AF_INET, 16 for
 * AF_INET6. Pure (no I/O, no allocation); any bytes are accepted and a wrong family or
 * length gives ITX_ADDR_INVALID. v may be NULL.
 */
enum itx_fetch_addr_class itx_fetch_addr_classify(int family, const uint8_t *addr, size_t len,
                                                  struct itx_fetch_addr_verdict *v);

/* Short stable name of a class, e.g. "loopback"; never NULL. */
const char *itx_fetch_addr_class_str(enum itx_fetch_addr_class c);

/* Default limits, safe for untrusted URLs. */
#define ITX_FETCH_DEFAULT_MAX_BYTES (20u * 1024u * 1024u)
#define ITX_FETCH_DEFAULT_CONNECT_MS 5000
#define ITX_FETCH_DEFAULT_TOTAL_MS 20000
#define ITX_FETCH_DEFAULT_LOW_SPEED_BYTES 1024
#define ITX_FETCH_DEFAULT_LOW_SPEED_S 5
#define ITX_FETCH_DEFAULT_MAX_REDIRECTS 5
#define ITX_FETCH_DEFAULT_MAX_RETRIES 2
#define ITX_FETCH_DEFAULT_BACKOFF_MS 250

/*
 * Name of the environment variable that, together with a test build and
 * itx_fetch_opts.test_loopback_port, lets a test fetch from one loopback port. A normal
 * build refuses every fetch while it is set (see docs/fetch.md).
 */
#define ITX_FETCH_TEST_LOOPBACK_ENV "ITX_UNSAFE_TEST_ONLY_ALLOW_LOOPBACK_FETCH"

struct itx_fetch_opts {
    size_t max_bytes;        /* body cap; ITX_FETCH_DEFAULT_MAX_BYTES */
    long connect_timeout_ms; /* per connection */
    long total_timeout_ms;   /* whole call: every attempt, redirect and backoff together */
    long low_speed_bytes;    /* abort when slower than this many bytes per second ... */
    long low_speed_time_s;   /* ... for this many seconds */
    int max_redirects;       /* hops followed; one more is an error */
    int max_retries;         /* extra attempts after a 5xx answer or a timeout */
    long retry_backoff_ms;   /* first backoff; doubled after each retry */
    /* Host allow-list; NULL or empty: any host. Entries are exact host names or
     * "*.example.com" (any name ending in ".example.com", not example.com itself).
     * Matching is case-insensitive on the whole host; ports and credentials never match. */
    const char *const *allow_hosts;
    size_t n_allow_hosts;
    /* Rewrite alicdn.com thumbnail URLs (..._400x400.jpg, ..._.webp) to the original. */
    bool rewrite_alicdn_thumbnails;
    const char *user_agent; /* NULL: "itx/<version>" */
    /* Pinned name resolutions in curl's CURLOPT_RESOLVE form "host:port:address"; used by
     * tests to make a name resolve to a chosen address without touching system files.
     * Pinned addresses are checked like any other. */
    const char *const *resolve;
    size_t n_resolve;
    /* Test-only: the one loopback port that may be reached. Honoured only by the test
     * build of this module and only while ITX_FETCH_TEST_LOOPBACK_ENV=1; a normal build
     * refuses to fetch at all when it is non-zero. */
    unsigned test_loopback_port;
};

/* Fills o with the defaults above (no allow-list, no rewrite). */
void itx_fetch_opts_init(struct itx_fetch_opts *o);

struct itx_fetch_result {
    uint8_t *data; /* body, NUL-terminated (not counted in len); owned */
    size_t len;
    char *content_type; /* Content-Type header or NULL; owned */
    char *final_url;    /* URL of the answer after redirects and rewrite; owned */
    long http_status;
    int n_redirects;
    int n_attempts; /* attempts of the last hop, retries included */
};

/* Frees what a result owns and zeroes it; safe on a zeroed result. */
void itx_fetch_result_release(struct itx_fetch_result *r);

/* Initialises libcurl once for the process; thread-safe, idempotent. */
enum itx_status itx_fetch_global_init(struct itx_diag *d);

/*
 * Downloads url (borrowed) under o's limits (NULL: defaults). On success (a 2xx answer)
 * fills *out, which the caller releases with itx_fetch_result_release.
 * Errors: ITX_ERR_INVALID (bad URL or scheme, credentials in the URL), ITX_ERR_FORBIDDEN
 * (host not allowed, refused address), ITX_ERR_TOO_LARGE (over max_bytes),
 * ITX_ERR_TIMEOUT (connect, total or low-speed limit), ITX_ERR_NOT_FOUND (404, 410),
 * ITX_ERR_UPSTREAM (other HTTP errors after retries, too many redirects, DNS or
 * connection failures), ITX_ERR_NOMEM.
 */
enum itx_status itx_fetch(const struct itx_fetch_opts *o, const char *url,
                          struct itx_fetch_result *out, struct itx_diag *d);

/*
 * One POST of body (len bytes, Content-Type content_type) to url, under the same rules as
 * itx_fetch: the URL policy and allow-list, the address checked on every socket, no proxy,
 * the test-only loopback switch. One attempt, redirects not followed (a 3xx is an answer),
 * total_timeout_ms for the whole request and connect_timeout_ms (at most that) to connect;
 * the answer's body is read up to 64 KiB and dropped. what names the request in messages
 * (e.g. "webhook"). *http_status is the answer's status, 0 when none came.
 *
 * Returns ITX_OK for a 2xx answer; ITX_ERR_FORBIDDEN (a refused URL or address),
 * ITX_ERR_INVALID (a malformed URL), ITX_ERR_TIMEOUT, ITX_ERR_UPSTREAM (any other answer,
 * or a connection failure), ITX_ERR_NOMEM.
 */
enum itx_status itx_fetch_post(const struct itx_fetch_opts *o, const char *what, const char *url,
                               const char *content_type, const void *body, size_t len,
                               long *http_status, struct itx_diag *d);

/*
 * Checks that url is an absolute http(s) URL without credentials whose host passes the
 * allow-list. Pure apart from libcurl's URL parser; used on the first URL and on every
 * redirect target. On success writes the lower-case host to host (size host_size).
 */
enum itx_status itx_fetch_url_check(const char *url, const char *const *allow_hosts,
                                    size_t n_allow_hosts, char *host, size_t host_size,
                                    struct itx_diag *d);

/* Whether host (already lower-case or not) matches one allow-list pattern. Pure. */
bool itx_fetch_host_match(const char *pattern, const char *host);

/*
 * For an alicdn.com picture URL whose last path segment carries a thumbnail suffix after
 * the original extension ("x.jpg_400x400.jpg", "x.jpg_.webp", "x.png_Q90.jpg_.webp"),
 * returns a new URL (free with itx_free) without the suffix; NULL when url is not such a
 * thumbnail (or on allocation failure). Query and fragment are dropped from a rewritten
 * URL. Pure.
 */
char *itx_fetch_alicdn_original(const char *url);

/* A host allow-list parsed from text; owns its memory. */
struct itx_fetch_allow_list {
    char *buf;
    const char **hosts;
    size_t n_hosts;
};

/*
 * Parses a comma-separated allow-list ("*.alicdn.com, img.example.com"): entries are host
 * names of [A-Za-z0-9.-] (lower-cased) or "*." followed by one; spaces around entries are
 * ignored; at most 64 entries. ITX_ERR_INVALID names a malformed entry. Release with
 * itx_fetch_allow_list_release (also after a failure).
 */
enum itx_status itx_fetch_allow_list_parse(struct itx_fetch_allow_list *l, const char *csv,
                                           struct itx_diag *d);
void itx_fetch_allow_list_release(struct itx_fetch_allow_list *l);

/*
 * Fills o with the defaults overridden by the environment: ITX_FETCH_ALLOW_HOSTS (parsed
 * into l, which o then borrows), ITX_FETCH_MAX_BYTES (1 .. 1 GiB), ITX_FETCH_CONNECT_MS,
 * ITX_FETCH_TOTAL_MS, ITX_FETCH_MAX_RETRIES (0 .. 10), ITX_FETCH_MAX_REDIRECTS (0 .. 10),
 * ITX_FETCH_REWRITE_ALICDN (0|1). ITX_ERR_INVALID names the variable and its range.
 */
enum itx_status itx_fetch_opts_from_env(struct itx_fetch_opts *o, struct itx_fetch_allow_list *l,
                                        struct itx_diag *d);

#endif
