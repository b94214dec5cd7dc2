// Real image data for the neural runner tests and benchmarks: product-style pictures and
// text lines rendered with Noto Sans CJK through sharp (librsvg + fontconfig), turned into
// the tensors PaddleOCR feeds its models (det: ImageNet mean/std on RGB/255, NCHW;
// rec and cls: (x/255 - 0.5)/0.5 at height 48).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(repo, 'package.json'));
const sharp = require('sharp');

const PHRASES = ['限时特价', '纯棉T恤 加厚保暖', '到手价¥59', '包邮', '冬季加绒卫衣', '买一送一',
  '正品保证 七天无理由退换', '净含量750克', '蓝牙耳机 降噪', '¥39.9', '新品上市', '满199减30'];

function esc(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

// A w x h product-style picture: gradient background, a red badge, several text lines.
export async function productPicture(w, h, seed = 1) {
  const lines = [];
  for (let i = 0; i < 5; i++) {
    const t = PHRASES[(seed * 7 + i * 5) % PHRASES.length];
    const size = Math.round(Math.min(w, h) / (10 + i * 2));
    lines.push(`<text x="${Math.round(w * 0.08)}" y="${Math.round(h * (0.18 + i * 0.16))}"
      font-family="Noto Sans CJK SC" font-weight="${i % 2 ? 400 : 700}" font-size="${size}"
      fill="${i % 2 ? '#222' : '#c00'}">${esc(t)}</text>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#fdf6e3"/><stop offset="1" stop-color="#d9e8f5"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>
    <rect x="${Math.round(w * 0.6)}" y="${Math.round(h * 0.05)}" width="${Math.round(w * 0.3)}"
      height="${Math.round(h * 0.1)}" rx="12" fill="#e4393c"/>
    <text x="${Math.round(w * 0.63)}" y="${Math.round(h * 0.12)}" font-family="Noto Sans CJK SC"
      font-size="${Math.round(h * 0.06)}" fill="#fff">热卖中</text>
    ${lines.join('\n')}</svg>`;
  const { data } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return data; // RGB, w*h*3
}

// One text line of height 48 and the given width (text scaled to fit).
export async function textLine(width, text) {
  const size = 34;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="48">
    <rect width="100%" height="100%" fill="#fff"/>
    <text x="4" y="38" font-family="Noto Sans CJK SC" font-size="${size}" fill="#111"
      textLength="${Math.max(8, width - 8)}" lengthAdjust="spacingAndGlyphs">${esc(text)}</text></svg>`;
  const { data } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return data;
}

export function detTensor(rgb, w, h) {
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  const t = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < w * h; i++) t[c * w * h + i] = (rgb[i * 3 + c] / 255 - mean[c]) / std[c];
  return t;
}

export function recTensor(rgbs, w) {
  const h = 48, t = new Float32Array(rgbs.length * 3 * h * w);
  rgbs.forEach((rgb, b) => {
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < w * h; i++) t[(b * 3 + c) * w * h + i] = (rgb[i * 3 + c] / 255 - 0.5) / 0.5;
  });
  return t;
}

export { PHRASES };
