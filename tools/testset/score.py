#!/usr/bin/python3
"""Scores OCR output against the ground truth of an itx-testset directory.

Usage: tools/testset/score.py TESTSET_DIR OCR.jsonl [--verbose]

OCR.jsonl holds one JSON object per picture, the shape `itx ocr --json` and
tools/ref-ocr/ref-ocr.mjs print: {"image": PATH, "lines": [{"box": [8 numbers], "text": ...}]}.
Pictures are matched by file name (NAME.png or NAME.jpg against NAME.json).

Matching: each recognised line is assigned to the ground-truth line whose box (grown by 30% of
its short side, at least 4 px) contains the recognised box's centre, the nearest one when
several do; the texts assigned to one ground-truth line are joined in reading order (left to
right, or top to bottom for vertical lines). Spaces are ignored when comparing, as OCR models
often drop or add them. A ground-truth line with nothing assigned counts as all characters
wrong. Both texts are NFKC-normalised first, so "￥" and "¥", "，" and "," compare equal.

Prints per-orientation line counts, detection recall, exact-match rate and character error
rate (edit distance / ground-truth characters), price lines read exactly, recognised lines
matched to no ground truth, and a last line
  RESULT cer_h=<horizontal CER> cer_vr=<vertical+rotated CER> price_exact=<share> recall=<share>
Only the Python standard library is used.
"""
import json
import os
import sys
import unicodedata


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def bbox(q):
    xs, ys = q[0::2], q[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def norm(s):
    # NFKC folds the full-width forms OCR models often output (U+FFE5 for U+00A5, U+FF0C for
    # U+002C, full-width digits) into their plain forms; spaces are dropped.
    return ''.join(unicodedata.normalize('NFKC', s).split())


def load_ocr(path):
    out = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            o = json.loads(line)
            name = os.path.basename(o['image'])
            for ext in ('.png', '.jpg', '.jpeg', '.webp'):
                if name.endswith(ext):
                    name = name[: -len(ext)]
            out[name] = o.get('lines', [])
    return out


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    root, ocr_path, verbose = argv[1], argv[2], '--verbose' in argv
    ocr = load_ocr(ocr_path)
    stats = {k: {'lines': 0, 'found': 0, 'exact': 0, 'chars': 0, 'errors': 0}
             for k in ('horizontal', 'vertical', 'rotated')}
    prices = prices_exact = extra = 0
    for name, pred in sorted(ocr.items()):
        gt_path = os.path.join(root, name + '.json')
        if not os.path.exists(gt_path):
            sys.stderr.write(f'score: no ground truth for {name}\n')
            continue
        with open(gt_path, encoding='utf-8') as f:
            gt = json.load(f)
        boxes = []
        for g in gt['lines']:
            x0, y0, x1, y1 = bbox(g['box'])
            m = max(4.0, 0.3 * min(x1 - x0, y1 - y0))
            boxes.append((x0 - m, y0 - m, x1 + m, y1 + m, (x0 + x1) / 2, (y0 + y1) / 2))
        assigned = [[] for _ in gt['lines']]
        for p in pred:
            x0, y0, x1, y1 = bbox(p['box'])
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            best, best_d = None, None
            for i, b in enumerate(boxes):
                if b[0] <= cx <= b[2] and b[1] <= cy <= b[3]:
                    d = (cx - b[4]) ** 2 + (cy - b[5]) ** 2
                    if best is None or d < best_d:
                        best, best_d = i, d
            if best is None:
                extra += 1
                if verbose:
                    print(f'{name}: unmatched "{p["text"]}"')
            else:
                assigned[best].append((cx, cy, p['text']))
        for g, got in zip(gt['lines'], assigned):
            s = stats[g['orientation']]
            truth = norm(g['text'])
            key = 1 if g['orientation'] == 'vertical' else 0
            text = norm(''.join(t for *_, t in sorted(got, key=lambda a: (a[key], a[1 - key]))))
            err = edit_distance(truth, text)
            s['lines'] += 1
            s['found'] += bool(got)
            s['exact'] += err == 0
            s['chars'] += len(truth)
            s['errors'] += err
            if g.get('price'):
                prices += 1
                prices_exact += err == 0
            if verbose and err:
                print(f'{name}: {g["orientation"]} "{g["text"]}" read as "{text}"')
    for k, s in stats.items():
        if s['lines']:
            print(f'{k:10s} lines {s["lines"]:4d}  found {s["found"] / s["lines"]:.3f}  '
                  f'exact {s["exact"] / s["lines"]:.3f}  cer {s["errors"] / max(1, s["chars"]):.4f}')
    print(f'prices {prices} read exactly {prices_exact}; recognised lines outside every '
          f'ground-truth line: {extra}')
    h = stats['horizontal']
    vr_err = stats['vertical']['errors'] + stats['rotated']['errors']
    vr_chars = stats['vertical']['chars'] + stats['rotated']['chars']
    n = sum(s['lines'] for s in stats.values())
    found = sum(s['found'] for s in stats.values())
    print(f'RESULT cer_h={h["errors"] / max(1, h["chars"]):.4f} '
          f'cer_vr={vr_err / max(1, vr_chars):.4f} '
          f'price_exact={prices_exact / max(1, prices):.3f} recall={found / max(1, n):.3f}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
