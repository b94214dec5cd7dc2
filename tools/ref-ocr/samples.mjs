#!/usr/bin/env node
// Renders a few product-style pictures with known Chinese text (Noto CJK through librsvg in
// sharp) for quick checks of the OCR pipelines: node tools/ref-ocr/samples.mjs OUTDIR.
// Writes NAME.png and NAME.txt (the expected lines, one per line, in reading order).
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: samples.mjs OUTDIR\n');
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const text = (x, y, size, s, extra = '') =>
  `<text x="${x}" y="${y}" font-family="Noto Sans CJK SC" font-size="${size}" ${extra}>${esc(s)}</text>`;

const samples = [
  {
    name: 'flat', w: 800, h: 800, bg: '<rect width="100%" height="100%" fill="#ffffff"/>',
    lines: [[60, 120, 64, '夏季新款连衣裙', 'fill="#222"'], [60, 260, 40, '限时特价 ¥199.00', 'fill="#d01010"'],
      [60, 380, 36, '纯棉面料 舒适透气', 'fill="#333"'], [60, 500, 30, '全国包邮 七天无理由退换', 'fill="#555"'],
      [60, 640, 48, '买二送一', 'fill="#0a6" font-weight="bold"']],
  },
  {
    name: 'gradient', w: 750, h: 500,
    bg: '<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#ffe0b0"/>' +
      '<stop offset="1" stop-color="#ff8040"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/>' +
      '<rect x="420" y="300" width="280" height="110" rx="20" fill="#c00"/>',
    lines: [[40, 110, 56, '官方旗舰店', 'fill="#402000" font-weight="bold"'], [40, 220, 34, '智能保温杯 316不锈钢', 'fill="#402000"'],
      [450, 375, 52, '￥89', 'fill="#fff" font-weight="bold"']],
  },
  {
    name: 'vertical', w: 500, h: 700, bg: '<rect width="100%" height="100%" fill="#f4f0e6"/>',
    lines: [[80, 100, 44, '正宗手工茶叶', 'fill="#333" writing-mode="tb" glyph-orientation-vertical="0"'],
      [200, 140, 28, '春茶上市', 'fill="#600"']],
  },
];

for (const s of samples) {
  const body = s.lines.map(([x, y, size, str, extra]) => text(x, y, size, str, extra)).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${s.w}" height="${s.h}">${s.bg}${body}</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(path.join(out, `${s.name}.png`));
  fs.writeFileSync(path.join(out, `${s.name}.txt`), s.lines.map((l) => l[3]).join('\n') + '\n');
}
