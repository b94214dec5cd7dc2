/*
 * The SSRF address classifier. Ranges follow the IANA IPv4 and IPv6 Special-Purpose
 * Address Registries (RFC 6890 and later). The rule for IPv6 is "global unicast 2000::/3
 * or refused", after the IPv4-embedding prefixes (which lie outside 2000::/3 or inside
 * it) have handed their embedded IPv4 address to the IPv4 classifier.
 */
#include "fetch/fetch.h"

#include <string.h>
#include <sys/socket.h>

static const char *const class_names[ITX_ADDR_CLASS_COUNT] = {
    [ITX_ADDR_PUBLIC] = "public",
    [ITX_ADDR_LOOPBACK] = "loopback",
    [ITX_ADDR_UNSPECIFIED] = "unspecified",
    [ITX_ADDR_PRIVATE] = "private",
    [ITX_ADDR_CGNAT] = "carrier-grade NAT",
    [ITX_ADDR_LINK_LOCAL] = "link-local",
    [ITX_ADDR_MULTICAST] = "multicast",
    [ITX_ADDR_BROADCAST] = "broadcast",
    [ITX_ADDR_RESERVED] = "reserved",
    [ITX_ADDR_BENCHMARKING] = "benchmarking",
    [ITX_ADDR_DOCUMENTATION] = "documentation",
    [ITX_ADDR_UNIQUE_LOCAL] = "unique-local",
    [ITX_ADDR_INVALID] = "invalid",
};

const char *
itx_fetch_addr_class_str(enum itx_fetch_addr_class c)
{
    if ((unsigned)c >= ITX_ADDR_CLASS_COUNT)
        return "invalid";
    return class_names[c];
}

/* Whether the first `bits` bits of a (network order) equal those of prefix. */
static int
prefix_eq(const uint8_t *a, const uint8_t *prefix, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;

    if (memcmp(a, prefix, full) != 0)
        return 0;
    if (rest) {
        uint8_t mask = (uint8_t)(0xffu << (8 - rest));
        if ((a[full] & mask) != (prefix[full] & mask))
            return 0;
    }
    return 1;
}

static enum itx_fetch_addr_class
classify_v4(const uint8_t a[4])
{
    uint32_t x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    static const struct {
        uint32_t net;
        unsigned bits;
        enum itx_fetch_addr_class cls;
    } ranges[] = {
        {0xffffffffu, 32, ITX_ADDR_BROADCAST},     /* 255.255.255.255 */
        {0x00000000u, 8, ITX_ADDR_UNSPECIFIED},    /* 0.0.0.0/8 "this network" */
        {0x0a000000u, 8, ITX_ADDR_PRIVATE},        /* 10.0.0.0/8 */
        {0x64400000u, 10, ITX_ADDR_CGNAT},         /* 100.64.0.0/10 */
        {0x7f000000u, 8, ITX_ADDR_LOOPBACK},       /* 127.0.0.0/8 */
        {0xa9fe0000u, 16, ITX_ADDR_LINK_LOCAL},    /* 169.254.0.0/16 */
        {0xac100000u, 12, ITX_ADDR_PRIVATE},       /* 172.16.0.0/12 */
        {0xc0000000u, 24, ITX_ADDR_RESERVED},      /* 192.0.0.0/24 IETF assignments */
        {0xc0000200u, 24, ITX_ADDR_DOCUMENTATION}, /* 192.0.2.0/24 TEST-NET-1 */
        {0xc0586300u, 24, ITX_ADDR_RESERVED},      /* 192.88.99.0/24 6to4 relay */
        {0xc0a80000u, 16, ITX_ADDR_PRIVATE},       /* 192.168.0.0/16 */
        {0xc6120000u, 15, ITX_ADDR_BENCHMARKING},  /* 198.18.0.0/15 */
        {0xc6336400u, 24, ITX_ADDR_DOCUMENTATION}, /* 198.51.100.0/24 TEST-NET-2 */
        {0xcb007100u, 24, ITX_ADDR_DOCUMENTATION}, /* 203.0.113.0/24 TEST-NET-3 */
        {0xe0000000u, 4, ITX_ADDR_MULTICAST},      /* 224.0.0.0/4 */
        {0xf0000000u, 4, ITX_ADDR_RESERVED},       /* 240.0.0.0/4 */
    };

    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        uint32_t mask = ranges[i].bits == 32 ? 0xffffffffu : ~(0xffffffffu >> ranges[i].bits);
        if ((x & mask) == ranges[i].net)
            return ranges[i].cls;
    }
    return ITX_ADDR_PUBLIC;
}

static enum itx_fetch_addr_class
embedded(struct itx_fetch_addr_verdict *v, const char *via, const uint8_t v4[4])
{
    v->via = via;
    memcpy(v->v4, v4, 4);
    return classify_v4(v4);
}

/* The worse of two classes: any refusal wins over public. */
static enum itx_fetch_addr_class
worse(enum itx_fetch_addr_class a, enum itx_fetch_addr_class b)
{
    return a != ITX_ADDR_PUBLIC ? a : b;
}

static enum itx_fetch_addr_class
classify_v6(const uint8_t a[16], struct itx_fetch_addr_verdict *v)
{
    static const uint8_t zero[16] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 1};
    static const uint8_t p6to4[2] = {0x20, 0x02};
    static const uint8_t teredo[4] = {0x20, 0x01, 0, 0};
    static const uint8_t bench[6] = {0x20, 0x01, 0, 0x02, 0, 0};
    static const uint8_t doc[4] = {0x20, 0x01, 0x0d, 0xb8};
    static const uint8_t doc2[3] = {0x3f, 0xff, 0x00};
    static const uint8_t orchid[4] = {0x20, 0x01, 0x00, 0x10};
    static const uint8_t orchid2[4] = {0x20, 0x01, 0x00, 0x20};
    static const uint8_t discard[8] = {0x01, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t srv6[2] = {0x5f, 0x00};
    static const uint8_t ietf[4] = {0x20, 0x01, 0x00, 0x00};

    if (memcmp(a, zero, 15) == 0 && a[15] <= 1)
        return a[15] == 0 ? ITX_ADDR_UNSPECIFIED : ITX_ADDR_LOOPBACK;
    if (memcmp(a, mapped, 12) == 0)
        return embedded(v, "ipv4-mapped", a + 12);
    if (memcmp(a, translated, 12) == 0)
        return embedded(v, "ipv4-translated", a + 12);
    if (memcmp(a, zero, 12) == 0)
        return embedded(v, "ipv4-compatible", a + 12);
    if (memcmp(a, nat64, 12) == 0)
        return embedded(v, "nat64", a + 12);
    if (prefix_eq(a, nat64_local, 48)) {
        /* RFC 6052 layout for a /48 prefix: v4 in bytes 6-7 and 9-10 (byte 8 is "u").
         * The prefix is for local use only, so it is refused whatever it embeds. */
        uint8_t v4[4] = {a[6], a[7], a[9], a[10]};
        return worse(embedded(v, "nat64-local", v4), ITX_ADDR_PRIVATE);
    }
    if (prefix_eq(a, p6to4, 16))
        return embedded(v, "6to4", a + 2);
    if (prefix_eq(a, teredo, 32)) {
        /* Teredo: server IPv4 in bytes 4-7, client IPv4 XOR 0xff in bytes 12-15. The
         * client is the address packets end up at; a private server is refused too. */
        uint8_t client[4] = {(uint8_t)(a[12] ^ 0xff), (uint8_t)(a[13] ^ 0xff),
                             (uint8_t)(a[14] ^ 0xff), (uint8_t)(a[15] ^ 0xff)};
        enum itx_fetch_addr_class c = embedded(v, "teredo", client);
        return worse(c, classify_v4(a + 4));
    }
    if (prefix_eq(a, bench, 48))
        return ITX_ADDR_BENCHMARKING;
    if (prefix_eq(a, doc, 32) || prefix_eq(a, doc2, 20))
        return ITX_ADDR_DOCUMENTATION;
    if (prefix_eq(a, orchid, 28) || prefix_eq(a, orchid2, 28) || prefix_eq(a, ietf, 23))
        return ITX_ADDR_RESERVED;
    if (prefix_eq(a, discard, 64) || prefix_eq(a, srv6, 16))
        return ITX_ADDR_RESERVED;
    if (a[0] == 0xff)
        return ITX_ADDR_MULTICAST;
    if ((a[0] & 0xfe) == 0xfc)
        return ITX_ADDR_UNIQUE_LOCAL;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return ITX_ADDR_LINK_LOCAL;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return ITX_ADDR_UNIQUE_LOCAL; /* deprecated site-local fec0::/10 */
    if ((a[0] & 0xe0) != 0x20)
        return ITX_ADDR_RESERVED; /* outside global unicast 2000::/3 */
    return ITX_ADDR_PUBLIC;
}

enum itx_fetch_addr_class
itx_fetch_addr_classify(int family, const uint8_t *addr, size_t len,
                        struct itx_fetch_addr_verdict *v)
{
    struct itx_fetch_addr_verdict tmp;
    enum itx_fetch_addr_class c;

    if (!v)
        v = &tmp;
    memset(v, 0, sizeof *v);
    if (!addr)
        c = ITX_ADDR_INVALID;
    else if (family == AF_INET && len == 4)
        c = classify_v4(addr);
    else if (family == AF_INET6 && len == 16)
        c = classify_v6(addr, v);
    else
        c = ITX_ADDR_INVALID;
    v->cls = c;
    return c;
}
