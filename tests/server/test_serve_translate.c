/*
 * POST /v1/translate through the real `itx serve` (argv[1]) on 127.0.0.1 with a temporary
 * local store and the dict provider, on a synthetic picture from itx-testset (argv[2]):
 * /readyz waits for the OCR warm-up; a picture is translated, stored and served under
 * /files/; the same picture again is answered from the store (a cache hit, no new OCR); an
 * undecodable picture gets a per-image problem while the other image succeeds; /metrics
 * counts all of it. Each image names its result's key. Then the server glossary
 * (ITX_GLOSSARY_FILE) is part of the key: the same picture with a glossary file, and again
 * with that file changed, is translated anew each time, while itx batch with the same file
 * and store shares the server's results.
 */
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "proc.h"

/* The first testset picture (not a .bg/.mask companion). */
static bool
find_picture(const char *dir, char *out, size_t out_size)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;

    while (d && (e = readdir(d)) != NULL && !found) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".jpg") == 0) {
            snprintf(out, out_size, "%s/%s", dir, e->d_name);
            found = true;
        }
    }
    if (d)
        closedir(d);
    return found;
}

/* The key member of an image answer: 64 hex digits, which its url contains; "" otherwise. */
static const char *
key_of(json_t *im)
{
    const char *k = json_string_value(json_object_get(im, "key"));
    const char *u = json_string_value(json_object_get(im, "url"));

    if (!k || strlen(k) != 64 || strspn(k, "0123456789abcdef") != 64 || !u || !strstr(u, k))
        return "";
    return k;
}

static json_t *
post_translate(unsigned port, const char *body, long *status)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    struct resp r;
    json_t *j = NULL;

    *status = -1;
    if (http(port, "POST", "/v1/translate", h, body, strlen(body), &r) == 0) {
        *status = r.status;
        j = json_loads(r.body, 0, NULL);
        if (r.status != 200)
            fprintf(stderr, "answer: %s\n", r.body);
        resp_free(&r);
    }
    return j;
}

/* itx serve on the store env_dir with the glossary env_gl, ready. */
static bool
start_glossary_server(struct srv *s, const char *itx, const char *env_dir, const char *env_gl,
                      const char *dir)
{
    static char lsan[300];
    const char *args[] = {itx, "serve", "--workers", "1", NULL};
    const char *env[] = {env_dir, env_gl, "ITX_STORE=local", "ITX_TRANSLATE_PROVIDER=dict",
                         lsan,    NULL};

    snprintf(lsan, sizeof(lsan), "LSAN_OPTIONS=suppressions=%s/lsan.supp", dir);
    return srv_start(s, args, env) == 0 && srv_wait_ready(s->port, 30000);
}

int
main(int argc, char **argv)
{
    char dir[64] = "/tmp/itx-serve-tr-XXXXXX", cmd[1024], pic[512], ts[128], env_dir[300],
         store[200];
    char *img, *img2 = NULL, *body, *first_url = NULL, first_key[65] = "";
    size_t img_len = 0, img2_len = 0;
    struct srv s;
    struct resp r;
    long status;
    double ocr_before;
    json_t *j, *im;

    if (argc < 3 || !mkdtemp(dir))
        return 2;
    snprintf(cmd, sizeof(cmd), "%s -o %s/ts --count 1 --seed 3 >/dev/null", argv[2], dir);
    CHECK_INT(system(cmd), 0);
    snprintf(ts, sizeof(ts), "%s/ts", dir);
    if (!find_picture(ts, pic, sizeof(pic)) || !(img = read_all(pic, &img_len))) {
        CHECK_MSG(0, "itx-testset wrote no picture");
        return check_summary();
    }
    /* a second picture (another seed) for a group of two */
    snprintf(cmd, sizeof(cmd), "%s -o %s/ts2 --count 1 --seed 4 >/dev/null", argv[2], dir);
    CHECK_INT(system(cmd), 0);
    snprintf(ts, sizeof(ts), "%s/ts2", dir);
    if (find_picture(ts, pic, sizeof(pic)))
        img2 = read_all(pic, &img2_len);
    CHECK(img2 != NULL);
    body = malloc((img_len + img2_len) * 2 + 4096);
    snprintf(store, sizeof(store), "%s/store", dir);
    snprintf(env_dir, sizeof(env_dir), "ITX_STORE_DIR=%s", store);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", store);
    CHECK_INT(system(cmd), 0);
    {
        /* in sanitizer builds: what the font stack keeps for the process lifetime is not a
         * leak of ours (the same list as the render and pipeline tests) */
        static const char supp[] = "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\n"
                                   "leak:libcairo\nleak:libglib\nleak:libgobject\n";
        static char lsan[300];
        const char *args[] = {argv[1], "serve", "--workers", "1", NULL};
        const char *env[] = {env_dir, "ITX_STORE=local", "ITX_TRANSLATE_PROVIDER=dict", lsan, NULL};
        snprintf(lsan, sizeof(lsan), "%s/lsan.supp", dir);
        write_file(lsan, supp, sizeof(supp) - 1);
        snprintf(lsan, sizeof(lsan), "LSAN_OPTIONS=suppressions=%s/lsan.supp", dir);
        if (srv_start(&s, args, env) != 0) {
            CHECK_MSG(0, "itx serve did not start");
            srv_free(&s);
            return check_summary();
        }
    }

    /* /readyz turns 200 only once the OCR warm-up is done */
    for (int i = 0; i < 3000; i++) {
        http(s.port, "GET", "/readyz", NULL, NULL, 0, &r);
        if (r.status == 200)
            break;
        CHECK_INT(r.status, 503);
        CHECK(i > 0 || strstr(r.body, "ocr-models") != NULL);
        resp_free(&r);
        ms_sleep(10);
    }
    CHECK_INT(r.status, 200);
    resp_free(&r);
    {
        char *log = srv_log(&s);
        CHECK(strstr(log, "warm-up 'ocr-models' done") != NULL);
        free(log);
    }

    /* a picture and an undecodable one (PNG magic, then garbage) */
    {
        static const unsigned char bad[] = "\x89PNG\r\n\x1a\nnot really a picture";
        char bad64[64];
        b64(bad, sizeof(bad) - 1, bad64);
        strcpy(body, "{\"target_lang\":\"en\",\"provider\":\"dict\",\"images\":[{\"data\":\"");
        b64((const unsigned char *)img, img_len, body + strlen(body));
        strcat(body, "\"},{\"data\":\"");
        strcat(body, bad64);
        strcat(body, "\"}]}");
    }
    j = post_translate(s.port, body, &status);
    CHECK_INT(status, 200);
    CHECK(json_array_size(json_object_get(j, "images")) == 2);
    im = json_array_get(json_object_get(j, "images"), 0);
    CHECK(json_is_string(json_object_get(im, "url")));
    CHECK(json_is_string(json_object_get(im, "background_url")));
    CHECK(json_integer_value(json_object_get(im, "width")) > 0);
    {
        json_t *regs = json_object_get(im, "regions");
        size_t n_tr = 0;
        for (size_t i = 0; i < json_array_size(regs); i++) {
            const char *t =
                json_string_value(json_object_get(json_array_get(regs, i), "translation"));
            if (t && t[0])
                n_tr++;
        }
        CHECK_MSG(n_tr > 0, "no region was translated");
    }
    CHECK_MSG(key_of(im)[0], "the answer does not name its result's key");
    snprintf(first_key, sizeof(first_key), "%s", key_of(im));
    if (json_is_string(json_object_get(im, "url"))) {
        first_url = strdup(json_string_value(json_object_get(im, "url")));
        http(s.port, "GET", first_url, NULL, NULL, 0, &r);
        CHECK_INT(r.status, 200);
        CHECK(r.body_len > 1000 && (unsigned char)r.body[0] == 0xff); /* a JPEG, as given */
        resp_free(&r);
    }
    if (json_is_string(json_object_get(im, "background_url"))) {
        http(s.port, "GET", json_string_value(json_object_get(im, "background_url")), NULL, NULL, 0,
             &r);
        CHECK_INT(r.status, 200);
        CHECK(r.body_len > 8 && memcmp(r.body, "\x89PNG", 4) == 0);
        resp_free(&r);
    }
    im = json_array_get(json_object_get(j, "images"), 1);
    CHECK(json_object_get(im, "url") == NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(im, "error"), "code")),
              "undecodable");
    CHECK(json_integer_value(json_object_get(json_object_get(im, "error"), "status")) == 422);
    json_decref(j);

    /* the same picture again: from the store, no OCR */
    ocr_before = metric_now(s.port, "itx_stage_duration_seconds_count{stage=\"ocr\"}");
    CHECK(ocr_before >= 1);
    strcpy(body, "{\"target_lang\":\"en\",\"images\":[{\"data\":\"");
    b64((const unsigned char *)img, img_len, body + strlen(body));
    strcat(body, "\"}]}");
    j = post_translate(s.port, body, &status);
    CHECK_INT(status, 200);
    im = json_array_get(json_object_get(j, "images"), 0);
    CHECK(first_url && json_is_string(json_object_get(im, "url")) &&
          strcmp(first_url, json_string_value(json_object_get(im, "url"))) == 0);
    CHECK_STR(key_of(im), first_key);
    CHECK(json_array_size(json_object_get(im, "regions")) > 0);
    json_decref(j);

    /* a provider the server does not run: the whole request is refused */
    j = post_translate(s.port,
                       "{\"target_lang\":\"en\",\"provider\":\"gemini\",\"images\":"
                       "[{\"url\":\"https://example.invalid/a.png\"}]}",
                       &status);
    CHECK_INT(status, 400);
    json_decref(j);

    http(s.port, "GET", "/metrics", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    CHECK(metric(r.body, "itx_stage_duration_seconds_count{stage=\"ocr\"}") == ocr_before);
    CHECK(metric(r.body, "itx_translate_calls_total{provider=\"dict\"}") == 1);
    resp_free(&r);

    /* the two pictures of one product: one translation call; the first picture's result
     * there is another one than alone (its group is part of its key); again: from the store */
    for (int round = 0; round < 2 && img2; round++) {
        strcpy(body, "{\"target_lang\":\"en\",\"images\":[{\"group\":\"p1\",\"data\":\"");
        b64((const unsigned char *)img, img_len, body + strlen(body));
        strcat(body, "\"},{\"group\":\"p1\",\"data\":\"");
        b64((const unsigned char *)img2, img2_len, body + strlen(body));
        strcat(body, "\"}]}");
        j = post_translate(s.port, body, &status);
        CHECK_INT(status, 200);
        for (size_t i = 0; i < 2; i++) {
            const char *u;
            im = json_array_get(json_object_get(j, "images"), i);
            u = json_string_value(json_object_get(im, "url"));
            CHECK(u && first_url && strcmp(u, first_url) != 0);
            CHECK(json_array_size(json_object_get(im, "regions")) > 0);
        }
        json_decref(j);
        CHECK(metric_now(s.port, "itx_translate_calls_total{provider=\"dict\"}") == 2);
        CHECK(metric_now(s.port, "itx_cache_hits_total") == 1 + 2 * round);
    }

    http(s.port, "GET", "/metrics", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    CHECK(metric(r.body, "itx_cache_hits_total") == 3);
    CHECK(metric(r.body, "itx_cache_misses_total") == 3);
    CHECK(metric(r.body, "itx_images_total{result=\"translated\"}") == 3);
    CHECK(metric(r.body, "itx_images_total{result=\"cached\"}") == 3);
    CHECK(metric(r.body, "itx_images_failed_total{reason=\"undecodable\"}") == 1);
    resp_free(&r);
    /* the request counter moves when the answer has been sent, just after the client has it */
    CHECK(
        metric_wait(s.port, "itx_http_requests_total{route=\"translate\",code=\"200\"}", 4, 5000));

    CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
    srv_free(&s);

    /* the server glossary joins the key: a new file, then the file changed */
    strcpy(body, "{\"target_lang\":\"en\",\"images\":[{\"data\":\"");
    b64((const unsigned char *)img, img_len, body + strlen(body));
    strcat(body, "\"}]}");
    {
        static const char *const files[] = {"测试\ttest one\n", "测试\ttest two\n"};
        char gl_path[300], env_gl[340], keys[2][65] = {"", ""};
        snprintf(gl_path, sizeof(gl_path), "%s/server-glossary.tsv", dir);
        snprintf(env_gl, sizeof(env_gl), "ITX_GLOSSARY_FILE=%s", gl_path);
        for (int v = 0; v < 2; v++) {
            write_file(gl_path, files[v], strlen(files[v]));
            if (!start_glossary_server(&s, argv[1], env_dir, env_gl, dir)) {
                CHECK_MSG(0, "itx serve with ITX_GLOSSARY_FILE did not become ready");
                srv_free(&s);
                break;
            }
            for (int round = 0; round < 2; round++) {
                j = post_translate(s.port, body, &status);
                CHECK_INT(status, 200);
                im = json_array_get(json_object_get(j, "images"), 0);
                if (round == 0)
                    snprintf(keys[v], sizeof(keys[v]), "%s", key_of(im));
                else
                    CHECK_STR(key_of(im), keys[v]);
                json_decref(j);
                /* the first time with this file: translated, not the old result */
                CHECK(metric_now(s.port, "itx_cache_hits_total") == round);
                CHECK(metric_now(s.port, "itx_cache_misses_total") == 1);
            }
            CHECK(keys[v][0] && strcmp(keys[v], first_key) != 0);
            CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
            srv_free(&s);
        }
        CHECK(keys[0][0] && strcmp(keys[0], keys[1]) != 0);

        /* itx batch with the same file puts its result where the server looks: another
         * picture, done by batch first, is a hit for the server */
        if (img2) {
            char list[300], run[2048];
            snprintf(list, sizeof(list), "%s/list.txt", dir);
            snprintf(cmd, sizeof(cmd), "%s/ts2", dir);
            if (find_picture(cmd, pic, sizeof(pic))) {
                strcat(pic, "\n");
                write_file(list, pic, strlen(pic));
                /* the manifest in the test's directory: batch writes it through a
                 * temporary file renamed over the path, so /dev/null would be replaced */
                snprintf(run, sizeof(run),
                         "env ITX_STORE=local %s %s ITX_TRANSLATE_PROVIDER=dict %s batch --input "
                         "%s --store --quiet --manifest %s/manifest.jsonl --workers 1",
                         env_dir, env_gl, argv[1], list, dir);
                CHECK_INT(system(run), 0);
            }
            if (start_glossary_server(&s, argv[1], env_dir, env_gl, dir)) {
                strcpy(body, "{\"target_lang\":\"en\",\"images\":[{\"data\":\"");
                b64((const unsigned char *)img2, img2_len, body + strlen(body));
                strcat(body, "\"}]}");
                j = post_translate(s.port, body, &status);
                CHECK_INT(status, 200);
                json_decref(j);
                CHECK_MSG(metric_now(s.port, "itx_cache_hits_total") == 1,
                          "the server did not find itx batch's result (their keys differ)");
                CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
            } else {
                CHECK_MSG(0, "itx serve with ITX_GLOSSARY_FILE did not become ready");
            }
            srv_free(&s);
        }
    }
    free(first_url);
    free(body);
    free(img);
    free(img2);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    return check_summary();
}
