#!/usr/bin/env python3
"""Compares two raw float32 files: prints max abs diff and mean abs diff; exit 1 above --tol."""
import struct, sys
a = open(sys.argv[1], 'rb').read(); b = open(sys.argv[2], 'rb').read()
tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-3
if len(a) != len(b):
    print(f"size mismatch {len(a)} vs {len(b)}"); sys.exit(1)
n = len(a) // 4
fa = struct.unpack(f'{n}f', a); fb = struct.unpack(f'{n}f', b)
mx = 0.0; s = 0.0; arg = 0
for i, (x, y) in enumerate(zip(fa, fb)):
    dd = abs(x - y)
    s += dd
    if dd > mx or dd != dd:
        mx = dd; arg = i
print(f"n={n} max_abs_diff={mx:.3g} at {arg} mean_abs_diff={s/n:.3g}")
sys.exit(0 if mx <= tol else 1)
