#!/usr/bin/python3
"""Write tiny ONNX models, one per op case, for op-level tests of itx's neural runner.

Usage: /usr/bin/python3 tests/nn/gen_op_cases.py [--extended] OUTDIR

Run it with Debian's python3 (python3-onnx 1.12, python3-numpy). For every case it writes
  OUTDIR/<case>.onnx        the model (weights as Constant nodes or initialisers, both styles
                            appear across the cases)
  OUTDIR/<case>.in<k>.bin   input k, raw little-endian float32, deterministic (seeded by the
                            case name, so regenerating gives identical bytes)
and one OUTDIR/cases.json:
  {"version": 1, "cases": [{"name", "model", "opset", "ops": [op types],
     "inputs": [{"name", "shape", "dtype": "float32", "file"}],
     "outputs": [{"name", "dtype"}]}]}
tests/nn/ort_eval.mjs then runs every case with ONNX Runtime and writes the expected outputs.

The cases cover each op the PP-OCR models use, with the attribute forms those models use
(opset 9 Clip/Slice attributes in the recognition and classification models, opset 11 inputs
in the detection model) plus edge cases (asymmetric pads, odd sizes with stride 2, kernels
larger than the input, rank-0 and rank-mismatched broadcasting), and small composite graphs
for the patterns the runner fuses or folds. --extended adds cases beyond what the models
use (every Resize mode), for checking the reference kernels' full ONNX semantics.
"""
import json
import os
import sys
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64
INT32 = TensorProto.INT32
DTYPE_NAMES = {FLOAT: "float32", INT64: "int64", INT32: "int32"}


class Case:
    """One small graph: inputs with deterministic data, weights, nodes, outputs."""

    def __init__(self, name, opset=11, consts="init"):
        self.name = name
        self.opset = opset
        self.consts = consts  # "init": weights as initialisers; "node": as Constant nodes
        self.rng = np.random.RandomState(zlib.crc32(name.encode()))
        self.inputs = []  # (name, array)
        self.outputs = []  # (name, elem type)
        self.nodes = []
        self.inits = []
        self.n_w = 0
        self.ranks = {}

    def inp(self, shape, kind="normal", name=None):
        """A float32 graph input; kind picks the distribution (positive for Sqrt, Div)."""
        name = name or "x%d" % len(self.inputs)
        shape = tuple(shape)
        if kind == "normal":
            a = self.rng.standard_normal(shape) * 1.5
        elif kind == "positive":
            a = self.rng.uniform(0.5, 2.0, shape)
        elif kind == "wide":  # round-trips through casts; away from .5 ties
            a = np.round(self.rng.uniform(-20, 20, shape)) + self.rng.choice([-0.3, 0.3], shape)
        else:
            raise ValueError(kind)
        self.inputs.append((name, a.astype(np.float32)))
        return name

    def w(self, arr, style=None, name=None):
        """A weight or constant tensor, as an initialiser or a Constant node."""
        self.n_w += 1
        name = name or "w%d" % self.n_w
        arr = np.asarray(arr)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        t = numpy_helper.from_array(arr, name)
        if (style or self.consts) == "init":
            self.inits.append(t)
        else:
            self.nodes.append(helper.make_node("Constant", [], [name], value=t))
        return name

    def rw(self, shape, scale=0.5, style=None):
        """A random float32 weight."""
        return self.w((self.rng.standard_normal(shape) * scale).astype(np.float32), style)

    def node(self, op, inputs, n_out=1, **attrs):
        k = len(self.nodes)
        outs = ["%s_%d_%d" % (op.lower(), k, i) for i in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name="%s_%d" % (op, k), **attrs))
        return outs[0] if n_out == 1 else outs

    def out(self, name, elem=FLOAT, rank=None):
        """A graph output; rank is needed only where shape inference cannot tell."""
        self.outputs.append((name, elem))
        if rank is not None:
            self.ranks[name] = rank

    def model(self):
        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info(n, FLOAT, a.shape) for n, a in self.inputs],
            [helper.make_tensor_value_info(n, e, None) for n, e in self.outputs],
            initializer=self.inits,
        )
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                              producer_name="itx gen_op_cases")
        m.ir_version = 7
        # Graph outputs need a shape in the checker's eyes: take it from shape inference,
        # with symbolic dimensions where inference cannot say.
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
        for o in m.graph.output:
            v = known.get(o.name)
            if v is not None and v.type.tensor_type.HasField("shape"):
                o.type.tensor_type.shape.CopyFrom(v.type.tensor_type.shape)
            elif o.name in self.ranks:
                o.type.tensor_type.shape.CopyFrom(helper.make_tensor_type_proto(
                    FLOAT, ["%s_d%d" % (o.name, i) for i in range(self.ranks[o.name])]).tensor_type.shape)
            else:
                raise SystemExit("case '%s': no inferred shape for output '%s'; give its rank"
                                 % (self.name, o.name))
        onnx.checker.check_model(m, full_check=True)
        return m


def conv(c, x, cin, cout, k, stride=1, pads=0, dil=1, group=1, bias=True, style=None):
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    p = [pads] * 4 if isinstance(pads, int) else list(pads)
    dh, dw = (dil, dil) if isinstance(dil, int) else dil
    ins = [x, c.rw((cout, cin // group, kh, kw), style=style)]
    if bias:
        ins.append(c.rw((cout,), style=style))
    return c.node("Conv", ins, kernel_shape=[kh, kw], strides=[sh, sw], pads=p,
                  dilations=[dh, dw], group=group)


def scalar(c, v, style=None):
    return c.w(np.array(v, dtype=np.float32), style)


def i64(c, v, style=None):
    return c.w(np.array(v, dtype=np.int64), style)


def hardswish(c, x, opset11=True):
    """x * clip(x + 3, 0, 6) / 6, as PP-LCNet exports it."""
    a = c.node("Add", [x, scalar(c, 3.0)])
    if opset11:
        cl = c.node("Clip", [a, scalar(c, 0.0), scalar(c, 6.0)])
    else:
        cl = c.node("Clip", [a], min=0.0, max=6.0)
    m = c.node("Mul", [x, cl])
    return c.node("Div", [m, scalar(c, 6.0)])


def build_cases():
    cases = []

    def new(name, **kw):
        c = Case(name, **kw)
        cases.append(c)
        return c

    # ---- Conv ---------------------------------------------------------------------------
    c = new("conv_3x3_pad1")
    c.out(conv(c, c.inp((1, 3, 7, 6)), 3, 4, 3, pads=1))
    c = new("conv_1x1_const", consts="node")
    c.out(conv(c, c.inp((2, 5, 4, 3)), 5, 6, 1))
    c = new("conv_3x3_s2_odd")
    c.out(conv(c, c.inp((1, 3, 15, 17)), 3, 8, 3, stride=2, pads=1))
    c = new("conv_dw_3x3", consts="node")
    c.out(conv(c, c.inp((1, 8, 9, 10)), 8, 8, 3, pads=1, group=8))
    c = new("conv_dw_5x5_s2")
    c.out(conv(c, c.inp((1, 6, 11, 13)), 6, 6, 5, stride=2, pads=2, group=6))
    c = new("conv_dw_multiplier2")
    c.out(conv(c, c.inp((1, 3, 6, 6)), 3, 6, 3, pads=1, group=3))
    c = new("conv_grouped")
    c.out(conv(c, c.inp((2, 4, 5, 6)), 4, 6, (3, 2), pads=(1, 0, 1, 1), group=2))
    c = new("conv_dilated")
    c.out(conv(c, c.inp((1, 2, 9, 8)), 2, 3, 3, pads=2, dil=2))
    c = new("conv_dilated_strided")
    c.out(conv(c, c.inp((1, 2, 10, 11)), 2, 3, (3, 2), stride=(2, 3), pads=(1, 2, 0, 1), dil=(2, 3)))
    c = new("conv_asym_pads", consts="node")
    c.out(conv(c, c.inp((1, 2, 5, 6)), 2, 2, 3, pads=(0, 2, 1, 0)))
    c = new("conv_1x3")  # the recognition model's (1, 3) kernels
    c.out(conv(c, c.inp((1, 4, 3, 12)), 4, 4, (1, 3), pads=(0, 1, 0, 1)))
    c = new("conv_kernel_gt_input")
    c.out(conv(c, c.inp((1, 2, 2, 3)), 2, 3, 5, pads=2))
    c = new("conv_1x1_spatial")
    c.out(conv(c, c.inp((1, 4, 1, 1)), 4, 5, 3, pads=1))
    c = new("conv_nobias")
    c.out(conv(c, c.inp((1, 3, 6, 7)), 3, 4, 3, stride=2, pads=1, bias=False))
    c = new("conv_stride_gt_kernel")
    c.out(conv(c, c.inp((1, 1, 8, 9)), 1, 2, 2, stride=3))

    # ---- ConvTranspose ------------------------------------------------------------------
    def convt(c, x, cin, cout, k, stride, pads=0, outpad=None, group=1, dil=1, bias=True):
        p = [pads] * 4 if isinstance(pads, int) else list(pads)
        ins = [x, c.rw((cin, cout // group, k, k))]
        if bias:
            ins.append(c.rw((cout,)))
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=p, group=group,
                     dilations=[dil, dil])
        if outpad is not None:
            attrs["output_padding"] = [outpad, outpad]
        return c.node("ConvTranspose", ins, **attrs)

    c = new("convt_2x2_s2")  # the DB head's upsampling
    c.out(convt(c, c.inp((1, 4, 5, 6)), 4, 3, 2, 2))
    c = new("convt_3x3_s2_pad1_outpad1", consts="node")
    c.out(convt(c, c.inp((1, 3, 4, 5)), 3, 2, 3, 2, pads=1, outpad=1))
    c = new("convt_grouped")
    c.out(convt(c, c.inp((1, 4, 3, 3)), 4, 6, 3, 2, pads=(1, 0, 0, 1), group=2))
    c = new("convt_dilated_nobias")
    c.out(convt(c, c.inp((2, 2, 3, 4)), 2, 3, 2, 1, dil=2, bias=False))

    # ---- BatchNormalization -------------------------------------------------------------
    for opset in (9, 11):
        c = new("batchnorm_opset%d" % opset, opset=opset, consts="node" if opset == 9 else "init")
        x = c.inp((2, 4, 3, 5))
        ins = [x, c.rw((4,)), c.rw((4,)), c.rw((4,)),
               c.w(c.rng.uniform(0.2, 2.0, (4,)).astype(np.float32))]
        c.out(c.node("BatchNormalization", ins, epsilon=1e-5))

    # ---- Binary ops with broadcasting ---------------------------------------------------
    binary = [
        ("same", (2, 3, 4), (2, 3, 4)),
        ("chan", (1, 4, 5, 6), (1, 4, 1, 1)),
        ("col", (2, 3, 4), (3, 1)),
        ("one_vs_2d", (1,), (2, 3)),
        ("last", (2, 3, 4), (4,)),
        ("both", (2, 1, 4), (3, 1)),
        ("rank4_vs_rank3", (2, 3, 1, 4), (3, 1, 4)),
    ]
    for op in ("Add", "Sub", "Mul", "Div", "Pow"):
        for tag, sa, sb in binary:
            c = new("%s_%s" % (op.lower(), tag))
            a = c.inp(sa, "positive" if op == "Pow" else "normal")
            b = c.inp(sb, "positive" if op == "Div" else "normal")
            c.out(c.node(op, [a, b]))
        # A rank-0 constant on either side, in both weight styles.
        c = new("%s_scalar_const" % op.lower(), consts="node")
        a = c.inp((2, 3), "positive" if op == "Pow" else "normal")
        c.out(c.node(op, [a, scalar(c, 2.0)]))
        c = new("%s_scalar_lhs_init" % op.lower())
        b = c.inp((3, 2), "positive" if op == "Div" else "normal")
        c.out(c.node(op, [scalar(c, 1.5), b]))
        # A [1] initialiser per-tensor weight, as the LearnableAffineBlock exports it.
        c = new("%s_one_elem_init" % op.lower())
        a = c.inp((1, 3, 4, 4), "positive" if op == "Pow" else "normal")
        c.out(c.node(op, [a, c.w(np.array([0.75], np.float32))]))

    # ---- Unary ops ----------------------------------------------------------------------
    c = new("sqrt")
    c.out(c.node("Sqrt", [c.inp((2, 3, 4), "positive")]))
    c = new("relu")
    c.out(c.node("Relu", [c.inp((2, 3, 4))]))
    c = new("sigmoid")
    c.out(c.node("Sigmoid", [c.inp((2, 3, 4))]))
    c = new("hardsigmoid_paddle", opset=9)
    c.out(c.node("HardSigmoid", [c.inp((2, 3, 4))], alpha=0.2, beta=0.5))
    c = new("hardsigmoid_sixth")
    c.out(c.node("HardSigmoid", [c.inp((2, 3, 4))], alpha=1.0 / 6, beta=0.5))
    c = new("clip_opset9", opset=9)
    c.out(c.node("Clip", [c.inp((2, 3, 4)) ], min=0.0, max=6.0))
    c = new("clip_opset11", consts="node")
    c.out(c.node("Clip", [c.inp((2, 3, 4)), scalar(c, -1.0), scalar(c, 1.0)]))
    c = new("clip_opset11_min_only")
    c.out(c.node("Clip", [c.inp((2, 3, 4)), scalar(c, 0.0)]))
    c = new("clip_opset11_max_only")
    c.out(c.node("Clip", [c.inp((2, 3, 4)), "", scalar(c, 0.5)]))

    # ---- Softmax (opset < 13 coerces to 2-D at axis) ------------------------------------
    for tag, shape, axis, opset in (("2d_axis1", (3, 10), 1, 9), ("3d_axis2", (1, 5, 12), 2, 9),
                                    ("4d_axis3", (1, 2, 4, 4), 3, 9),
                                    ("3d_axis1_coerced", (2, 3, 4), 1, 11),
                                    ("4d_axis_neg1", (1, 2, 3, 5), -1, 11)):
        c = new("softmax_%s" % tag, opset=opset)
        c.out(c.node("Softmax", [c.inp(shape)], axis=axis))

    # ---- MatMul -------------------------------------------------------------------------
    c = new("matmul_2d")
    c.out(c.node("MatMul", [c.inp((5, 7)), c.rw((7, 3))]))
    c = new("matmul_3d_by_2d", consts="node")
    c.out(c.node("MatMul", [c.inp((1, 10, 12)), c.rw((12, 8))]))
    c = new("matmul_4d")
    c.out(c.node("MatMul", [c.inp((1, 4, 6, 5)), c.inp((1, 4, 5, 6))]))
    c = new("matmul_batch_bcast")
    c.out(c.node("MatMul", [c.inp((2, 1, 3, 4)), c.inp((1, 3, 4, 5))]))

    # ---- Pools --------------------------------------------------------------------------
    c = new("gap")
    c.out(c.node("GlobalAveragePool", [c.inp((1, 8, 5, 7))]))
    c = new("gap_batch2_1x1")
    c.out(c.node("GlobalAveragePool", [c.inp((2, 3, 1, 1))]))
    c = new("avgpool_3x2_s3x2", opset=9)  # the recognition model's pool
    c.out(c.node("AveragePool", [c.inp((1, 4, 6, 8))], kernel_shape=[3, 2], strides=[3, 2],
                 pads=[0, 0, 0, 0], count_include_pad=0))
    for inc in (0, 1):
        c = new("avgpool_3x3_pad1_include%d" % inc)
        c.out(c.node("AveragePool", [c.inp((1, 2, 5, 6))], kernel_shape=[3, 3],
                     strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=inc))
    c = new("avgpool_2x2_s2_asym_pads_include1")
    c.out(c.node("AveragePool", [c.inp((1, 2, 5, 7))], kernel_shape=[2, 2], strides=[2, 2],
                 pads=[0, 1, 1, 0], count_include_pad=1))
    c = new("maxpool_2x2_s2", opset=9)  # the orientation model's pool
    c.out(c.node("MaxPool", [c.inp((1, 3, 6, 8))], kernel_shape=[2, 2], strides=[2, 2],
                 pads=[0, 0, 0, 0]))
    c = new("maxpool_3x3_s2_pad1")
    c.out(c.node("MaxPool", [c.inp((1, 2, 7, 6))], kernel_shape=[3, 3], strides=[2, 2],
                 pads=[1, 1, 1, 1]))

    # ---- Resize (opset 11, nearest, asymmetric, floor, with scales) ----------------------
    for tag, shape, s, style in (("x2", (1, 3, 4, 5), 2.0, "node"), ("x4", (1, 2, 3, 3), 4.0, "init"),
                                 ("x8", (1, 1, 2, 3), 8.0, "node")):
        c = new("resize_nearest_%s" % tag, consts=style)
        roi = c.w(np.zeros((0,), np.float32))
        scales = c.w(np.array([1, 1, s, s], np.float32))
        c.out(c.node("Resize", [c.inp(shape), roi, scales], mode="nearest",
                     coordinate_transformation_mode="asymmetric", nearest_mode="floor"))

    # ---- Data movement and shape ops ----------------------------------------------------
    c = new("concat_axis1")
    c.out(c.node("Concat", [c.inp((1, 2, 3, 4)), c.inp((1, 3, 3, 4)), c.inp((1, 1, 3, 4))],
                 axis=1))
    c = new("concat_axis_last_const", consts="node")
    c.out(c.node("Concat", [c.inp((2, 3)), c.rw((2, 2))], axis=-1))
    c = new("reshape_zero_and_minus1")
    c.out(c.node("Reshape", [c.inp((2, 3, 4)), i64(c, [0, -1, 2])]))
    c = new("reshape_flatten", consts="node")
    c.out(c.node("Reshape", [c.inp((1, 4, 1, 6)), i64(c, [1, 24])]))
    c = new("transpose_0231")
    c.out(c.node("Transpose", [c.inp((1, 3, 4, 5))], perm=[0, 2, 3, 1]))
    c = new("transpose_021")
    c.out(c.node("Transpose", [c.inp((2, 3, 4))], perm=[0, 2, 1]))
    c = new("transpose_5d")  # the recognition model's qkv split
    c.out(c.node("Transpose", [c.inp((1, 6, 3, 2, 4))], perm=[2, 0, 3, 1, 4]))
    c = new("transpose_default_reverse")
    c.out(c.node("Transpose", [c.inp((2, 3, 4))]))
    c = new("squeeze_axis0")
    c.out(c.node("Squeeze", [c.inp((1, 3, 4))], axes=[0]))
    c = new("squeeze_axis2")
    c.out(c.node("Squeeze", [c.inp((1, 8, 1, 5))], axes=[2]))
    c = new("slice_opset9", opset=9)
    c.out(c.node("Slice", [c.inp((4, 5, 6))], starts=[1, 0], ends=[3, 4], axes=[0, 2]))
    c = new("slice_opset9_neg_and_big", opset=9)
    c.out(c.node("Slice", [c.inp((4, 5, 6))], starts=[-3, 2], ends=[1000, -1], axes=[1, 2]))
    c = new("slice_opset11_steps", consts="node")
    c.out(c.node("Slice", [c.inp((4, 5, 6)), i64(c, [0, 5]), i64(c, [4, 0]), i64(c, [0, 2]),
                           i64(c, [2, -2])]))
    c = new("slice_opset11_reverse")
    c.out(c.node("Slice", [c.inp((3, 7)), i64(c, [-1]), i64(c, [-(2 ** 63)]), i64(c, [1]),
                           i64(c, [-1])]))
    c = new("slice_opset11_no_axes")
    c.out(c.node("Slice", [c.inp((3, 7)), i64(c, [1, 2]), i64(c, [3, 6])]))
    c = new("shape")
    c.out(c.node("Shape", [c.inp((2, 3, 4))]), INT64)
    c = new("cast_shape_to_float")
    c.out(c.node("Cast", [c.node("Shape", [c.inp((1, 3, 5))])], to=FLOAT))
    c = new("cast_float_to_int64")
    c.out(c.node("Cast", [c.inp((2, 5), "wide")], to=INT64), INT64)
    c = new("cast_int32_roundtrip", opset=9)
    c.out(c.node("Cast", [c.node("Cast", [c.node("Shape", [c.inp((2, 7))])], to=INT32)],
                 to=INT64), INT64)
    c = new("reducemean_last", opset=9)
    c.out(c.node("ReduceMean", [c.inp((1, 5, 8))], axes=[-1]))
    c = new("reducemean_axis1_nokeep")
    c.out(c.node("ReduceMean", [c.inp((2, 3, 4))], axes=[1], keepdims=0))
    c = new("reducemean_all")
    c.out(c.node("ReduceMean", [c.inp((2, 3, 4))]))
    c = new("constant_add", consts="node")
    c.out(c.node("Add", [c.inp((2, 3)), c.rw((2, 3))]))
    c = new("constant_output")
    const = c.node("Constant", [], value=numpy_helper.from_array(
        np.arange(6, dtype=np.float32).reshape(2, 3), "cv"))
    c.out(c.node("Add", [const, c.inp((1, 3))]))

    # ---- Composites the runner fuses or folds -------------------------------------------
    # Conv with a learnable affine (Mul/Add by [1] scalars) and the HardSwish pattern.
    for opset in (9, 11):
        c = new("comp_conv_affine_hardswish_opset%d" % opset, opset=opset,
                consts="node" if opset == 11 else "init")
        y = conv(c, c.inp((1, 3, 8, 8)), 3, 6, 3, stride=2, pads=1)
        y = c.node("Mul", [y, c.w(np.array([1.25], np.float32))])
        y = c.node("Add", [y, c.w(np.array([-0.1], np.float32))])
        c.out(hardswish(c, y, opset11=opset >= 11))
    # SE block: x * hardsigmoid(conv(relu(conv(gap(x))))).
    c = new("comp_se_block", consts="node")
    x = c.inp((1, 8, 6, 5))
    s = c.node("GlobalAveragePool", [x])
    s = c.node("Relu", [conv(c, s, 8, 2, 1)])
    s = c.node("HardSigmoid", [conv(c, s, 2, 8, 1)], alpha=0.2, beta=0.5)
    c.out(c.node("Mul", [x, s]))
    # Conv + BatchNormalization + Relu (BN folding into conv).
    c = new("comp_conv_bn_relu")
    y = conv(c, c.inp((1, 3, 7, 7)), 3, 4, 3, pads=1, bias=False)
    y = c.node("BatchNormalization", [y, c.rw((4,)), c.rw((4,)), c.rw((4,)),
                                      c.w(c.rng.uniform(0.5, 1.5, (4,)).astype(np.float32))],
               epsilon=1e-5)
    c.out(c.node("Relu", [y]))
    # Conv + activations that become post-ops.
    c = new("comp_conv_relu6", opset=9)
    c.out(c.node("Clip", [conv(c, c.inp((1, 4, 5, 5)), 4, 4, 3, pads=1, group=4)], min=0.0,
                 max=6.0))
    c = new("comp_conv_sigmoid")
    c.out(c.node("Sigmoid", [conv(c, c.inp((1, 4, 5, 5)), 4, 1, 1)]))
    c = new("comp_conv_hardsigmoid")
    c.out(c.node("HardSigmoid", [conv(c, c.inp((1, 4, 5, 5)), 4, 4, 1)], alpha=1.0 / 6,
                 beta=0.5))
    # LayerNorm as the recognition model writes it.
    c = new("comp_layernorm", opset=9, consts="node")
    x = c.inp((1, 6, 16))
    mean = c.node("ReduceMean", [x], axes=[-1])
    d = c.node("Sub", [x, mean])
    var = c.node("ReduceMean", [c.node("Pow", [d, scalar(c, 2.0)])], axes=[-1])
    den = c.node("Sqrt", [c.node("Add", [var, scalar(c, 1e-5)])])
    y = c.node("Div", [d, den])
    y = c.node("Mul", [y, c.rw((16,))])
    c.out(c.node("Add", [y, c.rw((16,))]))
    # Shape -> Cast -> Slice -> Concat -> Reshape, folded to a constant shape.
    c = new("comp_shape_chain", opset=9)
    x = c.inp((1, 4, 6, 8))
    shp = c.node("Shape", [x])
    n = c.node("Slice", [shp], starts=[0], ends=[1], axes=[0])
    n = c.node("Cast", [c.node("Cast", [n], to=INT32)], to=INT64)
    w_ = c.node("Slice", [shp], starts=[3], ends=[4], axes=[0])
    target = c.node("Concat", [n, i64(c, [-1]), w_], axis=0)
    c.out(c.node("Reshape", [x, target]), rank=3)
    # Attention as in the recognition model's SVTR block: qkv split by Reshape/Transpose,
    # scaled scores, softmax on the last axis, weighted sum.
    c = new("comp_attention", opset=9)
    x = c.inp((1, 6, 8))
    qkv = c.node("MatMul", [x, c.rw((8, 24))])
    qkv = c.node("Reshape", [qkv, i64(c, [0, -1, 3, 2, 4])])
    qkv = c.node("Transpose", [qkv], perm=[2, 0, 3, 1, 4])
    q = c.node("Squeeze", [c.node("Slice", [qkv], starts=[0], ends=[1], axes=[0])], axes=[0])
    k = c.node("Squeeze", [c.node("Slice", [qkv], starts=[1], ends=[2], axes=[0])], axes=[0])
    v = c.node("Squeeze", [c.node("Slice", [qkv], starts=[2], ends=[3], axes=[0])], axes=[0])
    att = c.node("MatMul", [c.node("Mul", [q, scalar(c, 0.5)]),
                            c.node("Transpose", [k], perm=[0, 1, 3, 2])])
    att = c.node("Softmax", [att], axis=3)
    y = c.node("Transpose", [c.node("MatMul", [att, v])], perm=[0, 2, 1, 3])
    c.out(c.node("Reshape", [y, i64(c, [0, -1, 8])]))
    # The detection head tail: ConvTranspose -> BN -> Relu -> ConvTranspose -> Sigmoid.
    c = new("comp_db_head", consts="node")
    y = convt(c, c.inp((1, 4, 3, 4)), 4, 4, 2, 2)
    y = c.node("BatchNormalization", [y, c.rw((4,)), c.rw((4,)), c.rw((4,)),
                                      c.w(c.rng.uniform(0.5, 1.5, (4,)).astype(np.float32))],
               epsilon=1e-5)
    y = convt(c, c.node("Relu", [y]), 4, 1, 2, 2)
    c.out(c.node("Sigmoid", [y]))
    return cases


def build_extended_cases():
    """Every Resize mode on up, down and to-one-pixel scales, and Resize by sizes: beyond
    what the models use, for checking the reference kernel's full ONNX semantics."""
    cases = []
    shapes = (("up", (1, 2, 3, 5), (1, 1, 2.5, 1.5)), ("down", (1, 2, 7, 9), (1, 1, 0.5, 0.75)),
              ("to1", (1, 1, 4, 5), (1, 1, 0.25, 0.2)))
    for mode in ("nearest", "linear"):
        for coord in ("half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"):
            nearest = NEAREST_MODES if mode == "nearest" else ("floor",)
            for nm in nearest:
                for tag, shape, sc in shapes:
                    c = Case("ext_resize_%s_%s_%s_%s" % (mode, coord, nm, tag))
                    roi = c.w(np.zeros((0,), np.float32))
                    scales = c.w(np.array(sc, np.float32))
                    c.out(c.node("Resize", [c.inp(shape), roi, scales], mode=mode,
                                 coordinate_transformation_mode=coord, nearest_mode=nm))
                    cases.append(c)
    for mode in ("nearest", "linear"):
        c = Case("ext_resize_%s_sizes" % mode, consts="node")
        roi = c.w(np.zeros((0,), np.float32))
        scales = c.w(np.zeros((0,), np.float32))
        sizes = i64(c, [1, 2, 5, 7])
        c.out(c.node("Resize", [c.inp((1, 2, 3, 3)), roi, scales, sizes], mode=mode,
                     coordinate_transformation_mode="half_pixel"))
        cases.append(c)
    return cases


NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def main():
    args = sys.argv[1:]
    extended = "--extended" in args
    args = [a for a in args if a != "--extended"]
    if len(args) != 1:
        sys.stderr.write("usage: gen_op_cases.py [--extended] OUTDIR\n")
        return 2
    outdir = args[0]
    os.makedirs(outdir, exist_ok=True)
    listing = []
    names = set()
    for c in build_cases() + (build_extended_cases() if extended else []):
        if c.name in names:
            raise SystemExit("duplicate case name '%s'" % c.name)
        names.add(c.name)
        m = c.model()
        onnx.save(m, os.path.join(outdir, c.name + ".onnx"))
        inputs = []
        for k, (name, arr) in enumerate(c.inputs):
            fname = "%s.in%d.bin" % (c.name, k)
            arr.astype("<f4").tofile(os.path.join(outdir, fname))
            inputs.append({"name": name, "shape": list(arr.shape), "dtype": "float32",
                           "file": fname})
        listing.append({
            "name": c.name,
            "model": c.name + ".onnx",
            "opset": c.opset,
            "ops": sorted({n.op_type for n in m.graph.node}),
            "inputs": inputs,
            "outputs": [{"name": n, "dtype": DTYPE_NAMES[e]} for n, e in c.outputs],
        })
    with open(os.path.join(outdir, "cases.json"), "w") as f:
        json.dump({"version": 1, "cases": listing}, f, indent=1)
        f.write("\n")
    print("wrote %d cases to %s" % (len(listing), outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
