/* Tests of the glossary, the CEDICT index and the dictionary translator (src/translate/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "translate/translate.h"

static struct itx_dict *dict;
static struct itx_glossary *gl;

static void
expect(const char *zh, const char *en)
{
    struct itx_buf b;
    struct itx_diag d;
    itx_diag_init(&d);
    itx_buf_init(&b, 4096);
    CHECK_INT(itx_dict_translate(dict, gl, NULL, zh, &b, NULL, &d), ITX_OK);
    CHECK_MSG(b.data && strcmp(b.data, en) == 0, "'%s' -> '%s', expected '%s'", zh,
              b.data ? b.data : "", en);
    itx_buf_release(&b);
}

/* As expect, with a request glossary that pins the words a rule is tested on. */
static void
expect_with(const char *zh, const char *en, const char *const *pairs)
{
    struct itx_glossary *rg = itx_glossary_new();
    struct itx_buf b;
    struct itx_diag d;

    itx_diag_init(&d);
    itx_buf_init(&b, 4096);
    for (size_t i = 0; pairs[i]; i += 2)
        CHECK_INT(itx_glossary_add(rg, pairs[i], pairs[i + 1], &d), ITX_OK);
    CHECK_INT(itx_dict_translate(dict, gl, rg, zh, &b, NULL, &d), ITX_OK);
    CHECK_MSG(b.data && strcmp(b.data, en) == 0, "'%s' -> '%s', expected '%s'", zh,
              b.data ? b.data : "", en);
    itx_buf_release(&b);
    itx_glossary_free(rg);
}

static void
test_glossary(void)
{
    struct itx_glossary *g = itx_glossary_new(), *g2 = itx_glossary_new();
    struct itx_diag d;
    const char *tr = NULL;
    char v1[65], v2[65];
    const char text[] = "# comment\n包邮\tfree shipping\n\n华为\t=\n包邮\tshipping included\n";

    itx_diag_init(&d);
    CHECK_INT(itx_glossary_parse(g, text, strlen(text), "t.tsv", &d), ITX_OK);
    CHECK_INT(itx_glossary_count(g), 2);
    /* The later entry for a term wins. */
    CHECK(itx_glossary_lookup(g, "包邮", strlen("包邮"), &tr) &&
          strcmp(tr, "shipping included") == 0);
    /* Keep-as-is terms have no translation. */
    CHECK(itx_glossary_lookup(g, "华为", strlen("华为"), &tr) && tr == NULL);
    CHECK_INT(itx_glossary_match(g, "包邮到家", strlen("包邮到家"), &tr), strlen("包邮"));
    CHECK_INT(itx_glossary_match(g, "到家", strlen("到家"), &tr), 0);
    /* Same entries, same version, whatever the order they came in. */
    CHECK_INT(itx_glossary_add(g2, "华为", NULL, &d), ITX_OK);
    CHECK_INT(itx_glossary_add(g2, "包邮", "shipping included", &d), ITX_OK);
    itx_glossary_version(g, v1);
    itx_glossary_version(g2, v2);
    CHECK_STR(v1, v2);
    CHECK_INT(itx_glossary_add(g2, "包邮", "free shipping", &d), ITX_OK);
    itx_glossary_version(g2, v2);
    CHECK(strcmp(v1, v2) != 0);
    /* Errors name the file and line. */
    CHECK_INT(itx_glossary_parse(g, "a\tb\nno tab here\n", 16, "bad.tsv", &d), ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "bad.tsv:2") != NULL);
    CHECK_INT(itx_glossary_parse(g, "a\t\n", 3, "empty.tsv", &d), ITX_ERR_INVALID);
    CHECK_INT(itx_glossary_add(g, "", "x", &d), ITX_ERR_INVALID);
    CHECK_INT(itx_glossary_add(g, "a\tb", "x", &d), ITX_ERR_INVALID);
    CHECK_INT(itx_glossary_add(g, "\xff\xfe", "x", &d), ITX_ERR_INVALID);
    {
        char big[ITX_GLOSSARY_MAX_TERM + 2];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        CHECK_INT(itx_glossary_add(g, big, "x", &d), ITX_ERR_TOO_LARGE);
        CHECK(strstr(d.msg, "256") != NULL);
    }
    CHECK_INT(itx_glossary_load_file(g, "/nonexistent/g.tsv", &d), ITX_ERR_NOT_FOUND);
    CHECK(strstr(d.msg, "/nonexistent/g.tsv") != NULL);
    itx_glossary_free(g);
    itx_glossary_free(g2);
    itx_glossary_free(NULL);
}

static void
test_builtin_glossary(void)
{
    struct itx_diag d;
    itx_diag_init(&d);
    /* The issue asks for at least 400 real entries. */
    CHECK(itx_glossary_count(gl) >= 400);
}

static void
test_index(void)
{
    struct itx_dict *missing = NULL;
    struct itx_diag d;
    size_t len = 0;
    const char *s;
    char path[] = "/tmp/itx-test-dict-XXXXXX";
    FILE *f;
    int fd;

    itx_diag_init(&d);
    CHECK_INT(itx_dict_open("/nonexistent/cedict.idx", &missing, &d), ITX_ERR_NOT_FOUND);
    CHECK(strstr(d.msg, "scripts/setup.sh") != NULL);
    /* A corrupt index is refused, not trusted. */
    fd = mkstemp(path);
    CHECK(fd >= 0);
    f = fdopen(fd, "wb");
    fwrite("ITXCED01\x05\0\0\0\x10\0\0\0", 1, 16, f);
    for (int i = 0; i < 80; i++)
        fputc('x', f);
    fclose(f);
    CHECK_INT(itx_dict_open(path, &missing, &d), ITX_ERR_MODEL);
    CHECK(strstr(d.msg, "corrupt") != NULL);
    remove(path);

    CHECK(itx_dict_count(dict) > 100000);
    s = itx_dict_lookup(dict, "纯棉", strlen("纯棉"), &len);
    CHECK(s && len > 0 && memmem(s, len, "cotton", 6) != NULL);
    CHECK(itx_dict_lookup(dict, "纯棉X", strlen("纯棉X"), &len) == NULL);
}

static void
pick(const char *senses, const char *want)
{
    struct itx_buf b;
    bool ok;
    itx_buf_init(&b, 256);
    ok = itx_dict_pick_sense(senses, strlen(senses), &b);
    if (want)
        CHECK_MSG(ok && strcmp(b.data, want) == 0, "'%s' -> '%s', expected '%s'", senses,
                  ok ? b.data : "(none)", want);
    else
        CHECK_MSG(!ok, "'%s' should have no usable sense, got '%s'", senses, b.data);
    itx_buf_release(&b);
}

static void
test_senses(void)
{
    pick("Cvariant of 褲 裤[ku4]|Cunderpants/drawers", "underpants");
    /* A product noun among the senses wins: 网 mesh, 膏 paste, 裤 pants. */
    pick("Cnet/network/mesh/web", "mesh");
    pick("Cointment/paste/cream", "paste");
    pick("Cvariant of 褲 裤[ku4]|Cunderpants/trousers/pants", "pants");
    pick("Cold variant of 春[chun1]|Cspring (season)/gay|Psurname Chun", "spring");
    pick("Csurname Li/plum", "plum");
    pick("CCL:個 个[ge4]/quality", "quality");
    pick("Cold name for Beijing", NULL);
    pick("Cto stay warm/to protect against the cold", "stay warm");
    pick("Cto carry on the back|Cbag/pack", "bag");
    pick("C(bound form) cotton", "cotton");
    pick("Csee 鞦韆 秋千[qiu1 qian1]", NULL);
    pick("PChina/Middle Kingdom", "China");
    pick("Cmerchandise or commodities available immediately after sale/in stock", "in stock");
    /* A verb phrase gives way to a later one-word modifier, a verb to its -ing form. */
    pick("Cto climb a mountain/climbing/mountaineering", "climbing");
    pick("Cto guard against theft/anti-theft", "anti-theft");
    pick("Cto moisturize/moisturizing", "moisturizing");
    pick("Cto run/to jog", "run");
    /* A place says its name only. */
    pick("PGuangdong province (Kwangtung) in south China, capital Guangzhou", "Guangdong");
}

static void
test_translate(void)
{
    expect("包邮", "Free shipping");
    expect("纯棉T恤", "100% cotton T-shirt");
    expect("纯棉", "100% cotton");
    expect("¥39.9", "¥39.9");
    expect("￥39.9", "¥39.9");
    expect("3件", "3 pcs");
    expect("1件", "1 pc");
    expect("5折", "50% off");
    expect("8.5折", "15% off");
    expect("满199减30", "¥30 off orders over ¥199");
    expect("买一送一", "Buy one get one free");
    expect("买3送1", "Buy 3 get 1 free");
    expect("三件", "3 pcs");
    expect("XL码", "Size XL");
    expect("iPhone 15手机壳", "iPhone 15 phone case");
    expect("包邮！限时特价", "Free shipping! Limited-time special price");
    expect("（包邮）", "(Free shipping)");
    expect("黑色/白色", "Black/white");
    /* A word said twice in a row is said once. */
    expect("欧美风", "European and American style");
    /* Postposed adjectives move before their noun. */
    expect("质量很好", "Very good quality");
    /* Two or three adjectives standing on their own are joined with "and". */
    expect("轻便耐用", "Lightweight and durable");
    expect("纯棉面料 透气吸汗", "100% cotton fabric breathable and sweat-absorbent");
    /* A unit written against its number stays against it. */
    expect("约1kg", "About 1kg");
    /* A one-character quality closing the phrase goes before its noun. */
    expect("容量大", "Large capacity");
    /* A plural noun modifying the next one is singular. */
    expect("鞋柜", "Shoe cabinet");
    expect("草莓蛋糕", "Strawberry cake");
    {
        static const char *const words[] = {"薯片", "potato chips", "袋", "bag", NULL};
        expect_with("薯片袋", "Potato chip bag", words);
    }
    /* A closing 中 ("in progress") is dropped after a word; 中号 keeps it. */
    expect("限时抢购中", "Limited-time flash sale");
    expect("中号", "Medium");
    /* Latin tokens keep the spaces between them. */
    expect("S M L XL", "S M L XL");
    expect("尺码 S M L XL", "Size S M L XL");
    /* Letter sizes run together are spaced again; other capitals are left alone. */
    expect("尺码：SMLXLXXL", "Size: S M L XL XXL");
    expect("尺码 SM LXLXXL", "Size S M L XL XXL");
    expect("尺码 2XL3XL", "Size 2XL 3XL");
    expect("型号 MM", "Model MM");
    expect("型号 LED", "Model LED");
    /* 防/抗 with a noun that has no word of its own: "anti-"; 无 with one: "-free". */
    expect("防鼠", "Anti-rat");
    expect("耐油", "Oil-resistant");
    expect("无铅", "Lead-free");
    /* 每 + container + count: the count, then "per". */
    expect("每盒12片", "12 pieces per box");
    expect("每箱24瓶", "24 bottles per case");
    expect("一盒12支", "12 pcs per box");
    expect("一箱6瓶", "6 bottles per case");
    expect("2盒12支", "2 boxes 12 pcs");
    /* Whom a product is for, said last in a Chinese title, goes first. */
    expect("卫衣男", "Men's sweatshirt");
    expect("空气净化器家用", "Household air purifier");
    expect("男士卫衣男", "Men's sweatshirt");
    /* A judgement after the quality it judges goes before it. */
    expect("设计独特", "Unique design");
    expect("面料柔软", "Soft fabric");
    /* ... but not after a word that is not such a quality (a season, a purpose). */
    expect("夏季透气", "Summer breathable");
    /* Every glossary term starting at a point is a candidate, not only the longest. */
    expect("防烫手柄", "Anti-scald handle");
    /* A group says a noun once. */
    expect("送男友礼物", "Gift for boyfriend");
    expect("户外防水冲锋衣", "Outdoor waterproof jacket");
    /* Label instructions. */
    expect("不可翻转干燥", "Do not tumble dry");
    expect("禁止水洗", "Do not wash");
    expect("续航长达20小时", "Battery life up to 20 hours");
    /* Dimensions said before their number, and x between them. */
    expect("长30cm 宽20cm 高15cm", "Length 30cm width 20cm height 15cm");
    expect("尺寸：40×30cm", "Dimensions: 40×30cm");
    expect("三档调节", "3-speed adjustment");
    /* X专用 / X适用 closing a group: "for X". */
    expect("宝宝专用", "For babies");
    expect("专用充电器", "Dedicated charger");
    /* A duration said before a noun is one hyphenated modifier. */
    expect("48小时在线客服", "48-hour online customer service");
    expect("七天退换", "7-day returns and exchanges");
    expect("24小时", "24 hours");
    expect("满2件减10元", "¥10 off 2 items");
    /* 之 is a particle; ㎡ stays with its number. */
    expect("品质之选", "Quality choice");
    expect("面积：20㎡", "Area: 20㎡");
    /* 全场 opening a group: "storewide" closes it. */
    expect("全场7折起", "Up to 30% off storewide");
    expect("全场满100包邮，限时三天", "Free shipping on orders over ¥100 storewide, 3 days only");
    expect("全场", "Everything");
    /* A word moved before the previous one leaves no double space. */
    expect("面料质量很好", "Fabric very good quality");
    /* Metric units stay against their number. */
    expect("2米", "2m");
    expect("500毫升", "500ml");
}

/* Numbers with measure words, ages, multi-item offers, 万 and a closing plus. */
static void
test_numbers(void)
{
    expect("1.5万", "15,000");
    expect("十二万", "120,000");
    expect("已售2.3万件", "23,000 sold");
    expect("销量突破8万", "Over 80,000 sold");
    expect("4万毫安", "40,000mAh");
    expect("收藏3万+", "Favorite 30,000+");
    expect("300+", "300+");
    /* 万 inside a word is not a number. */
    expect("万一", "Contingency");
    expect("两件8折", "20% off 2 items");
    expect("三件7折", "30% off 3 items");
    expect("120抽", "120 sheets");
    expect("6岁以上", "Ages 6+");
    expect("8岁+", "Ages 8+");
    expect("不适合4岁以下儿童", "Not suitable for children under 4");
    expect("拍3件发4件", "Order 3, get 4");
    expect("3件88元", "3 for ¥88");
    expect("50个起订", "Minimum order 50 pcs");
    expect("已售500件", "500 sold");
    expect("下单立减20元", "¥20 off your order");
    expect("60粒", "60 pcs");
    /* A count before a noun is one hyphenated modifier. */
    expect("5岁宝宝", "5-year-old baby");
    expect("6人帐篷", "6-person tent");
    expect("4层书架", "4-layer bookshelf");
    expect("8色蜡笔", "8-colour crayon");
    expect("3-6岁儿童", "Children aged 3-6");
    expect("3合1", "3-in-1");
    /* Months and dates. */
    expect("5月", "May");
    expect("10月1日", "October 1");
    expect("2025年6月", "June 2025");
    expect("2026年", "2026");
    expect("5年", "5 years");
    /* Ordinals: 第N件 "Nth item". */
    expect("第3件半价", "Third item half price");
    expect("第4件7折", "30% off the fourth item");
    expect("第22件", "22nd item");
    /* A unit after a number that a template took stays against it as a symbol. */
    expect("深1.5米", "Depth 1.5m");
    expect("净重2公斤", "Net weight 2kg");
    expect("1米2", "1.2m");
}

/* Warnings, instructions and care: prohibitions, verbs after them, times said last. */
static void
test_instructions(void)
{
    /* One 勿 entry serves every word of prohibition. */
    expect("请勿折叠", "Do not fold");
    expect("切勿浸泡", "Do not soak");
    expect("禁止拆卸", "Do not disassemble");
    expect("不要摇晃", "Do not shake");
    /* After "do not" a word takes its verb sense, from CEDICT. */
    expect("请勿冷冻", "Do not freeze");
    expect("请勿加热", "Do not heat");
    /* ... but a glossary verb stays: 检查 "check", not CEDICT's "examine". */
    expect("收到货后请检查", "Please check after receiving the goods");
    /* Function words of shop notices: 本 "this", 如 "if", 属 "is". */
    expect("如有色差", "If there is color difference");
    /* A product noun among CEDICT's senses wins (蜡 "candle; wax"). */
    expect("地板蜡", "Floor wax");
    expect("请勿让儿童玩耍", "Do not let children play with it");
    expect("轻微起球属正常", "Slight pilling is normal");
    /* 将/把 marks an object that English says after its verb. */
    expect("请将电池取出", "Please take out battery");
    expect("请将包装拆开", "Please dismantle packaging");
    /* 用 X + verb: the verb, then "with X". */
    expect("用温水清洗", "Wash with warm water");
    expect("请用清水", "Please use fresh water");
    /* "X时" opening a group is "when X-ing", said last. */
    expect("充电时请勿使用", "Do not use when charging");
    expect("使用时", "When using");
    /* A time opening an instruction goes last. */
    expect("使用后请洗手", "Please wash hands after use");
    /* Whom a phrase is about is a plain noun after a preposition or before a predicate. */
    expect("不适合儿童", "Not suitable for children");
    expect("适合男士", "Suitable for men");
    expect("老人慎用", "Elderly use with caution");
    expect("儿童水杯", "Children's water bottle");
    expect("请放在儿童接触不到的地方", "Please keep out of reach of children");
}

/* Kinds and versions: 式/型 after a word, 版; 的 between a gift and whom it is for. */
static void
test_kinds(void)
{
    /* 型 alone after a word: the word alone. */
    expect("加厚型", "Thickened");
    expect("三角型", "Triangle");
    expect("方形式", "Square");
    expect("加大版", "Larger version");
    expect("送老公的礼物", "Gift for husband");
    /* A verdict said first in Chinese goes after what it judges. */
    expect("支持无线充电", "Wireless charging supported");
    expect("不建议烘干", "Drying not recommended");
    expect("12核", "12-core");
    /* 更 and a short adjective is its comparative; after a quality noun it goes first. */
    expect("更薄", "Thinner");
    expect("更安全", "Safer");
    expect("更耐用", "More durable");
    expect("做工更好", "Better workmanship");
    expect("更大空间", "Larger space");
    expect("让房间更干净", "Make room cleaner");
    /* 易/不易 and a verb; a verb and a closing 方便. */
    expect("不易生锈", "Does not rust easily");
    expect("易上色", "Easy to color");
    expect("清洗方便", "Easy to wash");
    /* A glossary container word after 每 still puts the count first. */
    expect("每袋50片", "50 pieces per bag");
    /* 又 between two words is "and". */
    expect("轻便又耐用", "Lightweight and durable");
    expect("仅限新用户", "New users only");
    /* ... but not a specification with a number. */
    expect("建议身高170cm", "Recommended height 170cm");
}

/*
 * Product titles that name the head noun first and qualify it after (the order of Chinese
 * shop titles): English says the qualifiers first, whom it is for before the rest.
 */
static void
test_titles(void)
{
    expect("头盔骑行", "Cycling helmet");
    expect("计算器办公", "Office calculator");
    expect("帐篷户外防水", "Waterproof outdoor tent");
    expect("剃须刀电动男士", "Men's electric shaver");
    expect("壁灯卧室床头", "Bedroom bedside wall lamp");
    /* A head of two nouns when the second is a product noun. */
    expect("刀具套装厨房", "Kitchen knife set");
    /* A qualifier of several modifier words; not a restated head that is an instruction. */
    expect("微波炉家用小型", "Small household microwave");
    expect("机洗不可干洗", "Machine wash do not dry clean");
    /* A last word that names the head again replaces it. */
    expect("扳手活动扳手", "Adjustable wrench");
    /* X专用 after a head noun: "for" goes after the head. */
    expect("风筝大人专用", "Kite for adults");
    /* Not a label and its value, two qualities, or a noun of quality with its judgement. */
    expect("衣长70cm", "Length 70cm");
    expect("设计独特", "Unique design");
    expect("夏季透气", "Summer breathable");
    expect("纯棉T恤", "100% cotton T-shirt");
}

/* Words of use: X专用/适用/可用 and X用 before a noun or closing a group. */
static void
test_use(void)
{
    expect("8岁以上适用", "For ages 8+");
    expect("猫咪专用", "For cats");
    expect("狗狗专用梳子", "Dog comb");
    expect("实验室用椅子", "Laboratory chair");
    expect("教室用", "For classroom use");
    /* Opening a group, 专用 is an adjective. */
    expect("专用充电器", "Dedicated charger");
}

static void
test_request_glossary(void)
{
    struct itx_glossary *rg = itx_glossary_new();
    struct itx_diag d;
    struct itx_buf b;

    itx_diag_init(&d);
    itx_buf_init(&b, 4096);
    CHECK_INT(itx_glossary_add(rg, "包邮", "shipping included", &d), ITX_OK);
    CHECK_INT(itx_glossary_add(rg, "小米", NULL, &d), ITX_OK);
    CHECK_INT(itx_dict_translate(dict, gl, rg, "小米包邮", &b, NULL, &d), ITX_OK);
    CHECK_STR(b.data, "小米 shipping included");
    itx_buf_release(&b);
    itx_glossary_free(rg);
}

static void
test_bad_input(void)
{
    struct itx_diag d;
    struct itx_buf b;
    char *big = malloc(20000);

    itx_diag_init(&d);
    itx_buf_init(&b, 4096);
    CHECK_INT(itx_dict_translate(dict, gl, NULL, "\xe5\x8c", &b, NULL, &d), ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "UTF-8") != NULL);
    memset(big, 'a', 19999);
    big[19999] = '\0';
    CHECK_INT(itx_dict_translate(dict, gl, NULL, big, &b, NULL, &d), ITX_ERR_TOO_LARGE);
    CHECK(strstr(d.msg, "8192") != NULL);
    CHECK_INT(itx_dict_translate(dict, gl, NULL, "", &b, NULL, &d), ITX_OK);
    CHECK_INT(b.len, 0);
    free(big);
    itx_buf_release(&b);
}

/* Word-order rules of product titles that no glossary entry can give (round 5). */
static void
test_title_order(void)
{
    /* 带 and a noun: "with" it, after the noun it describes. */
    expect("行李箱带密码锁", "Suitcase with combination lock");
    expect("带遥控器", "With remote control");
    expect("带遥控器台灯", "Desk lamp with remote control");
    /* Two words of a title with one head noun: their modifiers, then the head once. */
    expect("电脑椅办公椅", "Computer office chair");
    expect("电动牙刷软毛牙刷", "Electric soft-bristle toothbrush");
    /* Whom a product noun is for goes after "for" when a word of use closes the group. */
    expect("男士洗面奶专用", "Facial cleanser for men");
    expect("儿童牙膏专用", "Toothpaste for children");
    /* Battery sizes, 节 counting them; one of them is singular. */
    expect("使用2节五号电池", "Use 2 AA batteries");
    expect("1节5号电池", "1 AA battery");
    expect("7号电池4节", "4 AAA batteries");
    expect("2号电池", "C batteries");
    /* N折 of an umbrella or a folding thing counts folds; otherwise it is a discount. */
    expect("晴雨伞二折", "Bi-fold sun and rain umbrella");
    expect("折叠床三折", "Tri-fold bed");
    expect("五折伞", "5-fold umbrella");
    expect("折叠椅8折", "Folding chair 20% off");
    /* 免X before a noun is a modifier; alone it says what is not needed. */
    expect("免安装设计", "Installation-free design");
    expect("免熨衬衫", "No-iron shirt");
    expect("免钉挂钩", "Nail-free hook");
    expect("免安装", "No installation needed");
    /* An N-piece set is bedding only by a bedding word, or 四件套 with mere qualifiers. */
    expect("餐具四件套", "Tableware 4-piece set");
    expect("加厚四件套", "Thickened 4-piece bedding set");
    expect("全棉三件套", "100% cotton 3-piece bedding set");
    /* 装饰 closing a phrase after a noun is the noun "decoration". */
    expect("门口装饰", "Doorway decoration");
    expect("装饰灯", "Decorative light");
    /*
     * A head opening with modifiers, then whom it is for and qualifiers: audience first (and
     * a season), then the head's own modifiers, the qualifiers and the head.
     */
    expect("保暖羽绒服男冬季", "Men's winter warm down jacket");
    expect("透气运动鞋女夏季", "Women's summer breathable sneakers");
    expect("加厚卫衣女", "Women's thickened sweatshirt");
    /* A head noun may have a hyphen (T-shirt, no-show socks); a modifier may not head. */
    expect("透气T恤男夏季", "Men's summer breathable T-shirt");
    expect("船袜男浅口隐形", "Men's low-cut invisible no-show socks");
    expect("超轻便携", "Ultra-light portable");
    /* Whom a title is for, after its head noun and before other words, goes first too. */
    expect("皮带男士针扣", "Men's belt with pin buckle");
    expect("手套男士触屏", "Men's gloves touchscreen");
    expect("新生儿婴儿帽", "Newborn baby hat");
    /* A noun before words that only qualify it is no modifier: it keeps its plural. */
    expect("宠物玩具耐咬", "Pet toys bite-resistant");
    expect("鞋柜", "Shoe cabinet");
    /* Whom a title is for may open it; its qualifiers then go between it and the head. */
    expect("儿童雨靴防滑", "Children's non-slip rain boots");
    /* "baby" opening a title starts the head noun (once, when the head says it too). */
    expect("婴儿推车可折叠", "Foldable baby stroller");
    expect("宝宝奶瓶防胀气", "Anti-colic baby bottle");
    /* An adjective and a part are one modifier before the head ("soft-sole"). */
    expect("凉鞋女软底", "Women's soft-sole sandals");
    expect("儿童拖鞋软底防滑", "Children's soft-sole non-slip slippers");
    /* A material qualifier is said last before the head, after shapes and qualities. */
    expect("汤勺不锈钢长柄", "Long-handle stainless steel soup ladle");
    expect("水杯玻璃大容量", "Large-capacity glass water bottle");
    expect("女士睡衣纯棉", "Women's 100% cotton pajamas");
    /* A season closing a title for someone is said right after whom it is for. */
    expect("儿童凉鞋夏季防滑", "Children's summer non-slip sandals");
    expect("卫衣女加厚秋冬", "Women's autumn and winter thickened sweatshirt");
    expect("羽绒服冬季加厚", "Winter thickened down jacket");
    /* A head may open with an adjective unless it names a quality (low fat, high power). */
    expect("电动剃须刀家用", "Household electric shaver");
    /* A material is no head; one opening a title is said with the head. */
    expect("真丝材质", "Silk material");
    expect("冰丝凉席家用", "Household ice silk summer mat");
    expect("亚麻衬衫男宽松", "Men's loose linen shirt");
    /* Two head words ending in the same noun say it once. */
    expect("电风扇台扇静音", "Silent electric desk fan");
    /* One character may be a head after modifiers (玻璃杯 "glass cup"). */
    expect("玻璃杯大号", "Large glass cup");
    /* For no one in particular, the modifiers a head opens with stay next to it. */
    expect("无线键盘静音", "Silent wireless keyboard");
    /* A use goes right before the head noun; a scene word may open a head of nouns. */
    expect("防水手表游泳", "Waterproof swimming watch");
    expect("双肩包旅行防水", "Waterproof travel backpack");
    expect("运动水壶户外", "Outdoor sports water bottle");
    expect("背包户外登山", "Outdoor hiking backpack");
    /* People or animals a product is for, said after "for" closing a group, are plural. */
    expect("梳子狗狗专用", "Comb for dogs");
    expect("适合学生", "Suitable for students");
    expect("适合学生，好用", "Suitable for students, useful");
    /* What a product resists is one modifier with it ("heat-resistant"). */
    expect("硅胶勺子耐高温", "Heat-resistant silicone spoon");
    expect("保鲜盒耐高温", "Heat-resistant food storage container");
    /* A part closing a title is a feature said after "with"; not a head's own noun. */
    expect("台灯夹子", "Desk lamp with clip");
    expect("皮带男士自动扣", "Men's belt with automatic buckle");
    expect("车载手机支架", "Car phone stand");
    /* A material opening a title before whom it is for is said with the head. */
    expect("真皮钱包男短款", "Men's short genuine leather wallet");
    /* A kind of style qualifying a title head is said without "style". */
    expect("连衣裙女春秋款", "Women's spring/autumn dress");
    expect("卫衣女新款", "Women's new sweatshirt");
    /* A size label closing a title follows the head; after footwear N号 is a size. */
    expect("帆布鞋女38号", "Women's canvas shoes size 38");
    expect("篮球7号", "Size 7 basketball");
    /*
     * A head named again by the last word keeps the modifiers that word does not say, before
     * it; a head may be a name and a product noun (Martin boots).
     */
    expect("马丁靴男复古短靴", "Men's vintage Martin ankle boots");
    expect("剃须刀电动剃须刀", "Electric shaver");
    /* A head noun ending in "light" names a product (not "light" alone, a quality). */
    expect("夜灯卧室", "Bedroom night light");
    expect("补光灯户外", "Outdoor fill light");
    /* Uses (sleep, art), trades, "custom" and N-in-1 qualify a head noun said first. */
    expect("耳塞睡眠", "Sleep earplugs");
    expect("画板美术", "Art drawing board");
    expect("万用表电工", "Electrician multimeter");
    expect("台历定制", "Custom desk calendar");
    expect("奶茶三合一", "3-in-1 milk tea");
    /* More words that only qualify, and an adjective with what it is of (full carbon). */
    expect("腰包斜挎", "Crossbody waist bag");
    expect("平板支架懒人", "Lazy tablet stand");
    expect("网球拍全碳素", "Full-carbon tennis racket");
    expect("牛奶低温", "Low-temperature milk");
    /* A drawstring, an X-style; a verb and its object that is also a product (jump rope). */
    expect("背包女抽绳", "Women's drawstring backpack");
    expect("钱包女小香风", "Women's Chanel-style wallet");
    expect("跳绳成人", "Adult jump rope");
    /* A room opening a title before qualities goes right before the head noun. */
    expect("卫生间防滑地垫", "Non-slip bathroom floor mat");
    expect("厨房多层收纳架", "Multi-layer kitchen storage rack");
    expect("客厅北欧风窗帘", "Nordic style living room curtains");
    expect("卧室台灯", "Bedroom desk lamp");
    expect("客厅全遮光窗帘", "Full blackout living room curtains");
    /* 防/抗/耐/无 and a noun that has no word qualify a head said first, and a material. */
    expect("头盔防雾", "Anti-fog helmet");
    expect("餐桌实木无漆", "Paint-free solid wood dining table");
    expect("显示器高清", "HD monitor");
}

int
main(void)
{
    struct itx_diag d;
    itx_diag_init(&d);
    test_glossary();
    gl = itx_glossary_new();
    if (itx_glossary_add_builtin_en(gl, &d) || itx_dict_open(NULL, &dict, &d)) {
        fprintf(stderr, "test_dict: %s\n", d.msg);
        return 1;
    }
    test_builtin_glossary();
    test_index();
    test_senses();
    test_translate();
    test_numbers();
    test_use();
    test_instructions();
    test_kinds();
    test_titles();
    test_title_order();
    test_request_glossary();
    test_bad_input();
    itx_dict_free(dict);
    itx_glossary_free(gl);
    return check_summary();
}
