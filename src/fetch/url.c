/*
 * URL policy: scheme, credentials and the host allow-list, decided on the host that
 * libcurl's own URL parser extracts, so the host we judge is the host curl connects to
 * (no second parser to disagree with). Also the alicdn thumbnail rewrite.
 */
#include "fetch/fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

#define MAX_URL_LEN 8192

bool
itx_fetch_host_match(const char *pattern, const char *host)
{
    size_t hl, pl;

    if (!pattern || !host || !*pattern || !*host)
        return false;
    hl = strlen(host);
    /* "img.alicdn.com." names the same host as "img.alicdn.com". */
    if (hl > 1 && host[hl - 1] == '.')
        hl--;
    pl = strlen(pattern);
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *suffix = pattern + 1; /* ".alicdn.com" */
        size_t sl = pl - 1;
        if (sl < 2 || hl <= sl)
            return false;
        return strncasecmp(host + hl - sl, suffix, sl) == 0;
    }
    return hl == pl && strncasecmp(host, pattern, hl) == 0;
}

enum itx_status
itx_fetch_url_check(const char *url, const char *const *allow_hosts, size_t n_allow_hosts,
                    char *host, size_t host_size, struct itx_diag *d)
{
    CURLU *u = NULL;
    char *scheme = NULL, *h = NULL, *user = NULL, *pass = NULL;
    enum itx_status st = ITX_OK;
    CURLUcode uc;

    if (!url || !*url)
        return itx_diag_set(d, ITX_ERR_INVALID, "empty url");
    if (strlen(url) > MAX_URL_LEN)
        return itx_diag_set(d, ITX_ERR_INVALID, "url is longer than %d bytes", MAX_URL_LEN);
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            return itx_diag_set(d, ITX_ERR_INVALID,
                                "url contains a space or control character at offset %zu",
                                (size_t)(p - url));
        }
    }
    u = curl_url();
    if (!u)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory parsing a url");
    /* No default scheme: "example.com/x" is not a URL we guess at. */
    uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "invalid url '%.200s': %s", url,
                          curl_url_strerror(uc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        st = itx_diag_set(d, ITX_ERR_INVALID,
                          "url '%.200s' uses scheme '%s'; only http and https are allowed", url,
                          scheme ? scheme : "");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        st = itx_diag_set(d, ITX_ERR_INVALID,
                          "url '%.200s' carries credentials ('user@host'); not accepted", url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h || !*h) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "url '%.200s' has no host", url);
        goto out;
    }
    if (strlen(h) >= host_size) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "host of url '%.200s' is longer than %zu bytes", url,
                          host_size - 1);
        goto out;
    }
    for (char *p = h; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (allow_hosts && n_allow_hosts) {
        bool ok = false;
        for (size_t i = 0; i < n_allow_hosts && !ok; i++)
            ok = itx_fetch_host_match(allow_hosts[i], h);
        if (!ok) {
            st = itx_diag_set(d, ITX_ERR_FORBIDDEN, "host '%s' is not in the fetch allow-list", h);
            goto out;
        }
    }
    memcpy(host, h, strlen(h) + 1);
out:
    curl_free(scheme);
    curl_free(h);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(u);
    return st;
}

static const char *const picture_exts[] = {".jpg", ".jpeg", ".png", ".gif", ".webp"};

char *
itx_fetch_alicdn_original(const char *url)
{
    CURLU *u = NULL;
    char *host = NULL, *path = NULL, *out = NULL, *res = NULL;
    const char *seg;
    size_t cut = 0;

    u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        !(itx_fetch_host_match("*.alicdn.com", host) || itx_fetch_host_match("alicdn.com", host)))
        goto out;
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        goto out;
    seg = strrchr(path, '/');
    seg = seg ? seg + 1 : path;
    /* The original is the segment up to the first picture extension that is followed by
     * '_' (the thumbnail parameters start there): "a.jpg_400x400.jpg" -> "a.jpg". */
    for (const char *p = seg; *p && !cut; p++) {
        if (*p != '.')
            continue;
        for (size_t i = 0; i < sizeof picture_exts / sizeof picture_exts[0]; i++) {
            size_t el = strlen(picture_exts[i]);
            if (strncasecmp(p, picture_exts[i], el) == 0 && p[el] == '_' && p > seg) {
                cut = (size_t)(p - path) + el;
                break;
            }
        }
    }
    if (!cut)
        goto out;
    path[cut] = '\0';
    if (curl_url_set(u, CURLUPART_PATH, path, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
        goto out;
    res = itx_strdup(out);
out:
    curl_free(host);
    curl_free(path);
    curl_free(out);
    curl_url_cleanup(u);
    return res;
}
