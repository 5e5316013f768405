#!/usr/bin/env python3
"""Cross-checks of the reference against independent statements of the model.

Why: riformer_ref.py / yolo_ref.py are written from MODEL.md; if they were
wrong, every golden fixture would be wrong too.  This script checks them
against (1) the seed's mmpretrain RIFormer code, re-indented and with mmcv's
builders replaced by their plain-PyTorch equivalents (GN -> nn.GroupNorm,
GELU -> nn.GELU, DropPath(0) -> Identity, BaseModule -> nn.Module), on random
weights far from init, in both forms; and (2) hand-written formulas (GroupNorm,
GELU, Detect decode, NMS) where no original code is at hand.

Run: /usr/bin/python3 tests/reference/check_reference.py  (exit code 0 = all ok)
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import riformer_ref as R  # noqa: E402

# ----------------------------------------------------------------------------
# The seed's code (shared/seed/000_6d199af8cd001bad.txt), indentation restored.
# Only the mmcv/mmengine builders are replaced; the control flow is the seed's.


def build_norm_layer(cfg, num_features):
    assert cfg["type"] == "GN"
    cfg_ = {k: v for k, v in cfg.items() if k != "type"}
    return "gn", nn.GroupNorm(num_channels=num_features, **cfg_)


def build_activation_layer(cfg):
    assert cfg["type"] == "GELU"
    return nn.GELU()


class SeedMlp(nn.Module):
    def __init__(self, in_features, hidden_features=None, out_features=None, act_cfg=dict(type='GELU'), drop=0.):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Conv2d(in_features, hidden_features, 1)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Conv2d(hidden_features, out_features, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        x = self.fc1(x)
        x = self.act(x)
        x = self.drop(x)
        x = self.fc2(x)
        x = self.drop(x)
        return x


class SeedPatchEmbed(nn.Module):
    def __init__(self, patch_size=16, stride=16, padding=0, in_chans=3, embed_dim=768, norm_layer=None):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=stride, padding=padding)
        self.norm = norm_layer(embed_dim) if norm_layer else nn.Identity()

    def forward(self, x):
        x = self.proj(x)
        x = self.norm(x)
        return x


class SeedAffine(nn.Module):
    def __init__(self, in_features):
        super().__init__()
        self.affine = nn.Conv2d(in_features, in_features, kernel_size=1, stride=1, padding=0,
                                groups=in_features, bias=True)

    def forward(self, x):
        return self.affine(x) - x


class SeedRIFormerBlock(nn.Module):
    def __init__(self, dim, mlp_ratio=4., norm_cfg=dict(type='GN', num_groups=1), act_cfg=dict(type='GELU'),
                 drop=0., drop_path=0., layer_scale_init_value=1e-5, deploy=False):
        super().__init__()
        if deploy:
            self.norm_reparam = build_norm_layer(norm_cfg, dim)[1]
        else:
            self.norm1 = build_norm_layer(norm_cfg, dim)[1]
            self.token_mixer = SeedAffine(in_features=dim)
        self.norm2 = build_norm_layer(norm_cfg, dim)[1]
        mlp_hidden_dim = int(dim * mlp_ratio)
        self.mlp = SeedMlp(in_features=dim, hidden_features=mlp_hidden_dim, act_cfg=act_cfg, drop=drop)
        assert drop_path == 0.
        self.drop_path = nn.Identity()
        self.layer_scale_1 = nn.Parameter(layer_scale_init_value * torch.ones((dim)), requires_grad=True)
        self.layer_scale_2 = nn.Parameter(layer_scale_init_value * torch.ones((dim)), requires_grad=True)
        self.norm_cfg = norm_cfg
        self.dim = dim
        self.deploy = deploy

    def forward(self, x):
        if hasattr(self, 'norm_reparam'):
            x = x + self.drop_path(self.layer_scale_1.unsqueeze(-1).unsqueeze(-1) * self.norm_reparam(x))
            x = x + self.drop_path(self.layer_scale_2.unsqueeze(-1).unsqueeze(-1) * self.mlp(self.norm2(x)))
        else:
            x = x + self.drop_path(self.layer_scale_1.unsqueeze(-1).unsqueeze(-1) *
                                   self.token_mixer(self.norm1(x)))
            x = x + self.drop_path(self.layer_scale_2.unsqueeze(-1).unsqueeze(-1) * self.mlp(self.norm2(x)))
        return x

    def fuse_affine(self, norm, token_mixer):
        gamma_affn = token_mixer.affine.weight.reshape(-1)
        gamma_affn = gamma_affn - torch.ones_like(gamma_affn)
        beta_affn = token_mixer.affine.bias
        gamma_ln = norm.weight
        beta_ln = norm.bias
        return (gamma_ln * gamma_affn), (beta_ln * gamma_affn + beta_affn)

    def get_equivalent_scale_bias(self):
        eq_s, eq_b = self.fuse_affine(self.norm1, self.token_mixer)
        return eq_s, eq_b

    def switch_to_deploy(self):
        if self.deploy:
            return
        eq_s, eq_b = self.get_equivalent_scale_bias()
        self.norm_reparam = build_norm_layer(self.norm_cfg, self.dim)[1]
        self.norm_reparam.weight.data = eq_s
        self.norm_reparam.bias.data = eq_b
        self.__delattr__('norm1')
        if hasattr(self, 'token_mixer'):
            self.__delattr__('token_mixer')
        self.deploy = True


def seed_basic_blocks(dim, index, layers, mlp_ratio=4., norm_cfg=dict(type='GN', num_groups=1),
                      act_cfg=dict(type='GELU'), drop_rate=.0, drop_path_rate=0., layer_scale_init_value=1e-5,
                      deploy=False):
    blocks = []
    for block_idx in range(layers[index]):
        block_dpr = drop_path_rate * (block_idx + sum(layers[:index])) / (sum(layers) - 1)
        blocks.append(SeedRIFormerBlock(dim, mlp_ratio=mlp_ratio, norm_cfg=norm_cfg, act_cfg=act_cfg,
                                        drop=drop_rate, drop_path=block_dpr,
                                        layer_scale_init_value=layer_scale_init_value, deploy=deploy))
    return nn.Sequential(*blocks)


class SeedRIFormer(nn.Module):
    arch_settings = R.ARCH_SETTINGS  # same numbers as the seed's table (compared below)

    def __init__(self, arch='s12', in_channels=3, norm_cfg=dict(type='GN', num_groups=1), act_cfg=dict(type='GELU'),
                 in_patch_size=7, in_stride=4, in_pad=2, down_patch_size=3, down_stride=2, down_pad=1,
                 drop_rate=0., drop_path_rate=0., out_indices=[0, 2, 4, 6], deploy=False):
        super().__init__()
        if isinstance(arch, str):
            arch = self.arch_settings[arch]
        layers = arch['layers']
        embed_dims = arch['embed_dims']
        mlp_ratios = arch['mlp_ratios'] if 'mlp_ratios' in arch else [4, 4, 4, 4]
        layer_scale_init_value = arch['layer_scale_init_value'] if 'layer_scale_init_value' in arch else 1e-5
        self.patch_embed = SeedPatchEmbed(patch_size=in_patch_size, stride=in_stride, padding=in_pad,
                                          in_chans=in_channels, embed_dim=embed_dims[0])
        network = []
        for i in range(len(layers)):
            stage = seed_basic_blocks(embed_dims[i], i, layers, mlp_ratio=mlp_ratios[i], norm_cfg=norm_cfg,
                                      act_cfg=act_cfg, drop_rate=drop_rate, drop_path_rate=drop_path_rate,
                                      layer_scale_init_value=layer_scale_init_value, deploy=deploy)
            network.append(stage)
            if i >= len(layers) - 1:
                break
            if embed_dims[i] != embed_dims[i + 1]:
                network.append(SeedPatchEmbed(patch_size=down_patch_size, stride=down_stride, padding=down_pad,
                                              in_chans=embed_dims[i], embed_dim=embed_dims[i + 1]))
        self.network = nn.ModuleList(network)
        out_indices = list(out_indices)
        for i, index in enumerate(out_indices):
            if index < 0:
                out_indices[i] = 7 + index
        self.out_indices = out_indices
        for i_layer in self.out_indices:
            layer = build_norm_layer(norm_cfg, embed_dims[(i_layer + 1) // 2])[1]
            self.add_module(f'norm{i_layer}', layer)
        self.deploy = deploy

    def forward(self, x):
        x = self.patch_embed(x)
        outs = []
        for idx, block in enumerate(self.network):
            x = block(x)
            if idx in self.out_indices:
                outs.append(getattr(self, f'norm{idx}')(x))
        return outs


# ----------------------------------------------------------------------------


def bitwise_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool((a.contiguous().view(torch.int32) == b.contiguous().view(torch.int32)).all())


def check_against_seed() -> None:
    """riformer_ref == seed code, same keys, bit-identical outputs, both forms, several archs."""
    for arch in ["s12", "m36", R.TINY_ARCH]:
        name = arch if isinstance(arch, str) else "tiny"
        ref = R.RIFormer(arch).eval()
        seed = SeedRIFormer(arch if isinstance(arch, str) else dict(arch)).eval()
        assert list(ref.state_dict()) == list(seed.state_dict()), f"{name}: state_dict keys differ"
        R.randomize(ref, 1234)
        seed.load_state_dict(ref.state_dict())
        x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(7)) * 2 - 0.5
        with torch.no_grad():
            a, b = ref(x), seed(x)
            assert all(bitwise_equal(p, q) for p, q in zip(a, b)), f"{name}: training outputs differ"
            ref.switch_to_deploy()
            for m in seed.modules():
                if isinstance(m, SeedRIFormerBlock):
                    m.switch_to_deploy()
            assert list(ref.state_dict()) == list(seed.state_dict()), f"{name}: deploy keys differ"
            for k, v in ref.state_dict().items():
                assert bitwise_equal(v, seed.state_dict()[k]), f"{name}: folded {k} differs"
            c, d = ref(x), seed(x)
            assert all(bitwise_equal(p, q) for p, q in zip(c, d)), f"{name}: deploy outputs differ"
            diff = max(float((p - q).abs().max() / q.abs().max()) for p, q in zip(a, c))
            # A deploy-form block is exactly the training form up to rounding.
            assert diff < 1e-5, f"{name}: deploy vs training relative difference {diff}"
        print(f"seed RIFormer {name}: keys identical, outputs bit-identical (training and deploy); "
              f"deploy vs training max rel. diff {diff:.2e}")


def check_formulas() -> None:
    """GroupNorm(1) and GELU of the reference against MODEL.md's formulas in float64."""
    torch.manual_seed(0)
    x = torch.randn(2, 16, 5, 7, dtype=torch.float64) * 3 + 1
    gn = R.group_norm(16).double()
    with torch.no_grad():
        gn.weight.uniform_(0.5, 1.5)
        gn.bias.uniform_(-0.3, 0.3)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        var = ((x - mean) ** 2).mean(dim=(1, 2, 3), keepdim=True)
        want = (x - mean) / torch.sqrt(var + 1e-5) * gn.weight.view(1, -1, 1, 1) + gn.bias.view(1, -1, 1, 1)
        assert torch.allclose(gn(x), want, atol=1e-12), "GroupNorm formula"
        g = nn.GELU()(x)
        want = 0.5 * x * (1 + torch.erf(x / 2 ** 0.5))
        assert torch.allclose(g, want, atol=1e-14), "GELU formula"
    print("GroupNorm(1, eps 1e-5) and exact GELU match MODEL.md's formulas")


# ----------------------------------------------------------------------------
# Part two: detector, NMS, letterbox


def check_detector() -> None:
    """Channel table, parameter count, wiring and decode of yolo_ref against MODEL.md section 2."""
    import yolo_ref as Y

    m = Y.build_detector("s12", 80)
    n = R.count_params(m)
    assert round(n / 1e6, 2) == 12.69, f"s12 nc=80 has {n} parameters, MODEL.md says 12.69 M"
    for arch, cat8, cat12 in (("s12", 448, 192), ("m36", 512, 256)):
        d = Y.build_detector(arch, 3)
        mm = d.model
        p5 = R.resolve_arch(arch)["embed_dims"][3]
        assert mm[1].cv1.conv.in_channels == p5 and mm[1].cv2.conv.out_channels == 256
        assert mm[2].conv.out_channels == 128
        assert mm[5].cv1.conv.in_channels == cat8 and mm[5].cv3.conv.out_channels == 128
        assert mm[6].conv.out_channels == 64
        assert mm[9].cv1.conv.in_channels == cat12 and mm[9].cv3.conv.out_channels == 64
        assert mm[10].conv.kernel_size == (3, 3) and mm[10].conv.stride == (2, 2)
        assert mm[12].cv1.conv.in_channels == 128 and mm[12].cv3.conv.out_channels == 128
        assert mm[15].cv1.conv.in_channels == 384 and mm[15].cv3.conv.out_channels == 256
        assert [c.in_channels for c in mm[16].m] == [64, 128, 256]
        assert all(len(mm[k].m) == 1 and not mm[k].m[0].add for k in (5, 9, 12, 15))
        assert all(b.eps == 1e-3 for b in d.modules() if isinstance(b, nn.BatchNorm2d))
        assert d.state_dict()["model.16.anchors"].tolist() == [
            [[10 / 8, 13 / 8], [16 / 8, 30 / 8], [33 / 8, 23 / 8]],
            [[30 / 16, 61 / 16], [62 / 16, 45 / 16], [59 / 16, 119 / 16]],
            [[116 / 32, 90 / 32], [156 / 32, 198 / 32], [373 / 32, 326 / 32]]]
        prefixes = sorted({int(k.split(".")[1]) for k in d.state_dict()})
        assert prefixes == [0, 1, 2, 5, 6, 9, 10, 12, 13, 15, 16], prefixes
    print(f"detector: s12 nc=80 has {n} parameters (12.69 M), channel table and model.N prefixes as MODEL.md")

    # Wiring: the neck written by hand from MODEL.md's table, named feature maps.
    d = R.randomize(Y.build_detector("s12", 3), 5)
    x = torch.rand(1, 3, 128, 160, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        pred, heads = d(x)
        mm = d.model
        _, p3, p4, p5 = mm[0](x)
        up = nn.Upsample(scale_factor=2, mode="nearest")
        s5 = mm[1](p5)                                   # SPPF, y[5]
        t6 = mm[2](s5)                                   # y[6]
        n9 = mm[5](torch.cat((up(t6), p4), 1))           # y[9]
        t10 = mm[6](n9)                                  # y[10]
        out3 = mm[9](torch.cat((up(t10), p3), 1))        # y[13], P3 out
        out4 = mm[12](torch.cat((mm[10](out3), t10), 1))  # y[16], P4 out
        out5 = mm[15](torch.cat((mm[13](out4), s5), 1))  # y[19], P5 out
        pred2, heads2 = mm[16]([out3, out4, out5])
    assert bitwise_equal(pred, pred2) and all(bitwise_equal(a, b) for a, b in zip(heads, heads2)), "wiring"

    # Decode: MODEL.md's formula in float64 from the raw heads.
    rows = []
    anchors_px = torch.tensor(Y.ANCHORS, dtype=torch.float64).view(3, 3, 2)
    for l, h in enumerate(heads):
        s = torch.sigmoid(h.double())[0]                 # [3, ny, nx, no]
        na, ny, nx, no = s.shape
        gy, gx = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
        grid = torch.stack((gx, gy), -1).double()        # (column, row)
        xy = (s[..., :2] * 2 - 0.5 + grid) * Y.STRIDES[l]
        wh = (s[..., 2:4] * 2) ** 2 * anchors_px[l].view(3, 1, 1, 2)
        rows.append(torch.cat((xy, wh, s[..., 4:]), -1).reshape(-1, no))
    want = torch.cat(rows, 0)
    err = float(((pred[0].double() - want).abs() / (want.abs() + 1)).max())
    assert err < 1e-5, f"decode differs from MODEL.md's formula by {err}"
    print(f"detector: hand-wired neck bit-identical to the seed's _forward_once; decode matches "
          f"MODEL.md (max rel. err {err:.1e})")


def yolov5_nms_torch(prediction, conf_thres=0.25, iou_thres=0.45, classes=None, agnostic=False, max_det=300):
    """YOLOv5 v7.0 non_max_suppression (one image, multi_label=False), torch ops as in the original.

    torchvision.ops.nms is replaced by `torchvision_nms` below (its CPU kernel,
    transcribed); argsort(descending=True) is made stable so ties are defined.
    """
    max_wh, max_nms = 7680, 30000
    x = prediction
    xc = x[..., 4] > conf_thres
    x = x[xc]
    if not x.shape[0]:
        return torch.zeros((0, 6))
    x[:, 5:] *= x[:, 4:5]
    y = x[:, :4].clone()
    y[:, 0] = x[:, 0] - x[:, 2] / 2
    y[:, 1] = x[:, 1] - x[:, 3] / 2
    y[:, 2] = x[:, 0] + x[:, 2] / 2
    y[:, 3] = x[:, 1] + x[:, 3] / 2
    box = y
    conf, j = x[:, 5:].max(1, keepdim=True)
    x = torch.cat((box, conf, j.float()), 1)[conf.view(-1) > conf_thres]
    if classes is not None:
        x = x[(x[:, 5:6] == torch.tensor(classes, device=x.device)).any(1)]
    n = x.shape[0]
    if not n:
        return torch.zeros((0, 6))
    x = x[torch.sort(x[:, 4], descending=True, stable=True)[1][:max_nms]]
    c = x[:, 5:6] * (0 if agnostic else max_wh)
    boxes, scores = x[:, :4] + c, x[:, 4]
    i = torchvision_nms(boxes, scores, iou_thres)
    if i.shape[0] > max_det:
        i = i[:max_det]
    return x[i]


def torchvision_nms(dets, scores, iou_threshold):
    """torchvision/csrc/ops/cpu/nms_kernel.cpp, transcribed (scalar loop, float32 tensors)."""
    x1, y1, x2, y2 = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    order = torch.sort(scores, descending=True, stable=True)[1]
    n = dets.shape[0]
    suppressed = [False] * n
    keep = []
    x1l, y1l, x2l, y2l, al = (t.tolist() for t in (x1, y1, x2, y2, areas))
    f32 = lambda v: float(np.float32(v))  # noqa: E731  (C++ float arithmetic)
    for _i in range(n):
        i = int(order[_i])
        if suppressed[i]:
            continue
        keep.append(i)
        for _j in range(_i + 1, n):
            j = int(order[_j])
            if suppressed[j]:
                continue
            xx1, yy1 = max(x1l[i], x1l[j]), max(y1l[i], y1l[j])
            xx2, yy2 = min(x2l[i], x2l[j]), min(y2l[i], y2l[j])
            w, h = max(0.0, f32(xx2 - xx1)), max(0.0, f32(yy2 - yy1))
            inter = f32(w * h)
            den = f32(f32(al[i] + al[j]) - inter)
            ovr = f32(inter / den) if den != 0 else (float("nan") if inter == 0 else float("inf"))
            if ovr > iou_threshold:
                suppressed[j] = True
    return torch.tensor(keep, dtype=torch.int64)


def check_nms() -> None:
    """yolo_ref.non_max_suppression (numpy) == the transcribed YOLOv5/torchvision code, row for row."""
    import yolo_ref as Y

    g = np.random.RandomState(11)
    cases = 0
    for trial in range(24):
        nc = [1, 3, 80][trial % 3]
        n = [0, 5, 60, 400][trial % 4]
        p = np.zeros((n, 5 + nc), np.float32)
        p[:, 0:2] = g.uniform(0, 200, (n, 2))
        p[:, 2:4] = g.uniform(0, 60, (n, 2))
        p[:, 4:] = g.uniform(0, 1, (n, 1 + nc))
        if n:
            p[::7, 2] = 0                               # zero-area boxes
            p[1::9] = p[0]                              # exact duplicates
            p[::5, 4] = np.float32(0.25)                # objectness at the threshold
        kwargs = dict(agnostic=bool(trial % 2), classes=[0, 2] if trial % 5 == 4 else None,
                      conf_thres=[0.25, 0.001, 0.5][trial % 3], iou_thres=[0.45, 0.6][trial % 2])
        a = Y.non_max_suppression(p, **kwargs)
        b = yolov5_nms_torch(torch.from_numpy(p.copy()), **kwargs).numpy()
        assert a.shape == b.shape and np.array_equal(a, b), f"NMS trial {trial} differs"
        cases += 1
    print(f"NMS: numpy reference == transcribed YOLOv5 v7.0 + torchvision CPU kernel on {cases} random cases")


def check_letterbox() -> None:
    """resize_linear_u8 within one gray level of float bilinear (half-pixel) by torch; letterbox geometry."""
    import torch.nn.functional as F
    import yolo_ref as Y

    g = np.random.RandomState(5)
    worst = 0
    for (h, w), (nh, nw) in [((37, 53), (56, 80)), ((150, 100), (43, 64)), ((7, 20), (22, 64)),
                             ((64, 96), (128, 192)), ((128, 5), (64, 2))]:
        img = g.randint(0, 256, (h, w, 3)).astype(np.uint8)
        got = Y.resize_linear_u8(img, nw, nh).astype(np.int64)
        t = torch.from_numpy(img.astype(np.float64)).permute(2, 0, 1)[None]
        want = F.interpolate(t, size=(nh, nw), mode="bilinear", align_corners=False)[0].permute(1, 2, 0)
        diff = np.abs(got - np.floor(want.numpy() + 0.5)).max()
        worst = max(worst, int(diff))
        assert diff <= 1, f"resize {h}x{w} -> {nh}x{nw} differs by {diff} gray levels"
    out, r, (dw, dh), (top, left) = Y.letterbox(np.zeros((300, 200, 3), np.uint8), (128, 160))
    assert out.shape == (128, 160, 3) and abs(r - 128 / 300) < 1e-12 and (top, left) == (0, 37)
    out, r, _, (top, left) = Y.letterbox(np.zeros((128, 5, 3), np.uint8), (64, 96))
    assert (out[:, 47:49] == 0).all() and (out[:, :47] == 114).all() and (out[:, 49:] == 114).all()
    print(f"letterbox: fixed-point resize within {worst} gray level of float bilinear; padding and "
          f"half-to-even rounding as YOLOv5")


def main(argv: Sequence[str]) -> int:
    torch.set_num_threads(1)
    check_formulas()
    check_against_seed()
    check_detector()
    check_nms()
    check_letterbox()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
