"""RIFormer backbone in plain PyTorch: the reference the C++ library must match.

Written from shared/spec/MODEL.md section 1 (and checked against the seed's
mmpretrain code, see check_reference.py), without mmcv/mmengine/mmpretrain:

* GroupNorm(num_groups=1, eps=1e-5) everywhere (mmcv `build_norm_layer(GN)`).
* exact GELU (`nn.GELU()`, erf form).
* Dropout / DropPath are identity at inference, so they are left out.
* Module and parameter names are mmpretrain's, so `state_dict()` keys are the
  checkpoint keys: patch_embed.proj.*, network.{i}.{j}.norm1.*,
  network.{i}.{j}.token_mixer.affine.*, network.{i}.{j}.norm2.*,
  network.{i}.{j}.mlp.fc{1,2}.*, network.{i}.{j}.layer_scale_{1,2},
  network.{1,3,5}.proj.*, norm{i}.* for i in out_indices; deploy-form blocks
  hold network.{i}.{j}.norm_reparam.* instead of norm1 + token_mixer.
"""

from __future__ import annotations

import copy
import math
import os
import sys
from typing import Dict, List, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synthetic  # noqa: E402

ARCH_SETTINGS: Dict[str, dict] = {
    "s12": {"layers": [2, 2, 6, 2], "embed_dims": [64, 128, 320, 512], "mlp_ratios": [4, 4, 4, 4],
            "layer_scale_init_value": 1e-5},
    "s24": {"layers": [4, 4, 12, 4], "embed_dims": [64, 128, 320, 512], "mlp_ratios": [4, 4, 4, 4],
            "layer_scale_init_value": 1e-5},
    "s36": {"layers": [6, 6, 18, 6], "embed_dims": [64, 128, 320, 512], "mlp_ratios": [4, 4, 4, 4],
            "layer_scale_init_value": 1e-6},
    "m36": {"layers": [6, 6, 18, 6], "embed_dims": [96, 192, 384, 768], "mlp_ratios": [4, 4, 4, 4],
            "layer_scale_init_value": 1e-6},
    "m48": {"layers": [8, 8, 24, 8], "embed_dims": [96, 192, 384, 768], "mlp_ratios": [4, 4, 4, 4],
            "layer_scale_init_value": 1e-6},
}

# The tiny custom arch of the exporter fixtures (tests/golden/tiny_*.safetensors).
TINY_ARCH = {"layers": [1, 1, 2, 1], "embed_dims": [16, 24, 40, 64], "mlp_ratios": [3, 3, 3, 3]}


def group_norm(dim: int) -> nn.GroupNorm:
    """mmcv build_norm_layer(dict(type='GN', num_groups=1), dim): one group, eps 1e-5."""
    return nn.GroupNorm(num_groups=1, num_channels=dim, eps=1e-5)


class Mlp(nn.Module):
    """fc1 (1x1 conv, C -> hidden) -> exact GELU -> fc2 (1x1 conv, hidden -> C)."""

    def __init__(self, in_features: int, hidden_features: int):
        super().__init__()
        self.fc1 = nn.Conv2d(in_features, hidden_features, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden_features, in_features, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class PatchEmbed(nn.Module):
    """A strided conv with bias (stem: k7 s4 p2; downsampling: k3 s2 p1)."""

    def __init__(self, patch_size: int, stride: int, padding: int, in_chans: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=stride, padding=padding)

    def forward(self, x):
        return self.proj(x)


class Affine(nn.Module):
    """The RIFormer token mixer: depthwise 1x1 conv minus identity."""

    def __init__(self, in_features: int):
        super().__init__()
        self.affine = nn.Conv2d(in_features, in_features, kernel_size=1, stride=1, padding=0,
                                groups=in_features, bias=True)

    def forward(self, x):
        return self.affine(x) - x


class RIFormerBlock(nn.Module):
    """One block; training form (norm1 + Affine mixer) or deploy form (norm_reparam)."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0, layer_scale_init_value: float = 1e-5,
                 deploy: bool = False):
        super().__init__()
        if deploy:
            self.norm_reparam = group_norm(dim)
        else:
            self.norm1 = group_norm(dim)
            self.token_mixer = Affine(dim)
        self.norm2 = group_norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.layer_scale_1 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        self.layer_scale_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        self.dim = dim
        self.deploy = deploy

    def forward(self, x):
        ls1 = self.layer_scale_1.unsqueeze(-1).unsqueeze(-1)
        ls2 = self.layer_scale_2.unsqueeze(-1).unsqueeze(-1)
        if hasattr(self, "norm_reparam"):
            x = x + ls1 * self.norm_reparam(x)
        else:
            x = x + ls1 * self.token_mixer(self.norm1(x))
        x = x + ls2 * self.mlp(self.norm2(x))
        return x

    @staticmethod
    def fuse_affine(norm: nn.GroupNorm, token_mixer: Affine):
        """mmpretrain's fold: (gamma_ln * (w_aff - 1), beta_ln * (w_aff - 1) + b_aff)."""
        gamma_affn = token_mixer.affine.weight.reshape(-1)
        gamma_affn = gamma_affn - torch.ones_like(gamma_affn)
        beta_affn = token_mixer.affine.bias
        gamma_ln = norm.weight
        beta_ln = norm.bias
        return (gamma_ln * gamma_affn), (beta_ln * gamma_affn + beta_affn)

    def switch_to_deploy(self):
        """Replace norm1 + token_mixer by norm_reparam, exactly as mmpretrain does."""
        if self.deploy:
            return
        eq_s, eq_b = self.fuse_affine(self.norm1, self.token_mixer)
        self.norm_reparam = group_norm(self.dim)
        self.norm_reparam.weight.data = eq_s
        self.norm_reparam.bias.data = eq_b
        del self.norm1
        if hasattr(self, "token_mixer"):
            del self.token_mixer
        self.deploy = True


def resolve_arch(arch: Union[str, dict]) -> dict:
    """An arch name (s12 ... m48) or a dict with layers, embed_dims[, mlp_ratios, layer_scale_init_value]."""
    if isinstance(arch, str):
        if arch not in ARCH_SETTINGS:
            raise ValueError(f"unknown arch {arch!r}; choose from {sorted(ARCH_SETTINGS)} or pass a dict")
        return copy.deepcopy(ARCH_SETTINGS[arch])
    if not isinstance(arch, dict) or "layers" not in arch or "embed_dims" not in arch:
        raise ValueError(f"an arch dict needs 'layers' and 'embed_dims', got {arch!r}")
    out = dict(arch)
    out.setdefault("mlp_ratios", [4, 4, 4, 4])
    out.setdefault("layer_scale_init_value", 1e-5)
    return out


class RIFormer(nn.Module):
    """The backbone: patch_embed, network (stage, down, stage, down, stage, down, stage), norm{i}.

    forward returns the list of GroupNorm-ed outputs of network[i] for i in
    out_indices (default [0, 2, 4, 6]: strides 4, 8, 16, 32).
    """

    def __init__(self, arch: Union[str, dict] = "s12", in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 2, 4, 6), deploy: bool = False):
        super().__init__()
        a = resolve_arch(arch)
        layers, dims, ratios = a["layers"], a["embed_dims"], a["mlp_ratios"]
        ls_init = a["layer_scale_init_value"]
        self.arch = a
        self.patch_embed = PatchEmbed(7, 4, 2, in_channels, dims[0])
        network: List[nn.Module] = []
        for i in range(len(layers)):
            network.append(nn.Sequential(*[RIFormerBlock(dims[i], ratios[i], ls_init, deploy)
                                           for _ in range(layers[i])]))
            if i >= len(layers) - 1:
                break
            if dims[i] != dims[i + 1]:
                network.append(PatchEmbed(3, 2, 1, dims[i], dims[i + 1]))
        self.network = nn.ModuleList(network)
        out_indices = [int(i) for i in ([out_indices] if isinstance(out_indices, int) else out_indices)]
        out_indices = [i + 7 if i < 0 else i for i in out_indices]
        self.out_indices = out_indices
        for i in out_indices:
            self.add_module(f"norm{i}", group_norm(dims[(i + 1) // 2]))
        self.deploy = deploy

    def forward(self, x) -> List[torch.Tensor]:
        x = self.patch_embed(x)
        outs = []
        for idx, block in enumerate(self.network):
            x = block(x)
            if idx in self.out_indices:
                outs.append(getattr(self, f"norm{idx}")(x))
        return outs

    def switch_to_deploy(self):
        for m in self.modules():
            if isinstance(m, RIFormerBlock):
                m.switch_to_deploy()
        self.deploy = True


# ----------------------------------------------------------------------------
# Synthetic weights


def synthetic_state(module: nn.Module, prefix: str = "",
                    skip=("num_batches_tracked", "anchors")) -> Dict[str, torch.Tensor]:
    """The synthetic value of every state_dict entry of `module`, hashed under prefix + key.

    Entries whose key ends with one of `skip` are left out (not synthesized):
    BatchNorm's num_batches_tracked counter and YOLOv5's anchors buffer.
    """
    out = {}
    for key, t in module.state_dict().items():
        if key.endswith(skip):
            continue
        out[key] = torch.from_numpy(synthetic.synth(prefix + key, list(t.shape)))
    return out


def fill_synthetic(module: nn.Module, prefix: str = "") -> nn.Module:
    """Overwrite every parameter/buffer of `module` with its synthetic value (in place)."""
    state = synthetic_state(module, prefix)
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith(("num_batches_tracked", "anchors"))]
    assert not missing and not unexpected, (missing, unexpected)
    return module


def synthetic_backbone(arch: Union[str, dict], form: str = "training", prefix: str = "",
                       out_indices: Sequence[int] = (0, 2, 4, 6)) -> RIFormer:
    """A backbone with synthetic weights; deploy = training form filled, then switch_to_deploy.

    The switch runs in float32 (PyTorch's mul/sub/add, separately rounded),
    which is exactly the float32 fold of SYNTHETIC.md.
    """
    if form not in ("training", "deploy"):
        raise ValueError(f"form must be training or deploy, got {form!r}")
    model = RIFormer(arch, out_indices=out_indices).float().eval()
    fill_synthetic(model, prefix)
    if form == "deploy":
        model.switch_to_deploy()
    return model


def synthetic_input(height: int, width: int, key: str = "input") -> torch.Tensor:
    """The synthetic test image [1, 3, H, W] in [0, 1)."""
    return torch.from_numpy(synthetic.synth(key, [1, 3, height, width]))


def input_sum(x: torch.Tensor) -> str:
    """repr of the float64 sum of the float32 input (a checksum C++ recomputes).

    math.fsum is the correctly rounded sum, so the summation order does not
    matter; for the synthetic input (multiples of 2**-24 in [0, 1)) every
    order gives the same exact float64 anyway.
    """
    return repr(math.fsum(x.detach().cpu().numpy().astype(np.float64).reshape(-1).tolist()))


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def randomize(model: nn.Module, seed: int) -> nn.Module:
    """Random weights far from init, for tests where an all-ones/zeros init would hide bugs.

    Layer scales in [0.1, 0.5), token-mixer affine weights 1 +- 0.5, norm / BN
    gains 1 +- 0.2, nonzero biases, conv/linear weights uniform with variance
    1/fan_in, BN running statistics in [-0.2, 0.2) / [0.5, 1.5).  Drawn with
    torch's CPU generator from `seed`, so the result is reproducible.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if not p.is_floating_point() or name.endswith("anchors"):
                continue
            u = torch.rand(p.shape, generator=g, dtype=torch.float32)
            if name.endswith(("layer_scale_1", "layer_scale_2")):
                p.copy_(0.1 + 0.4 * u)
            elif name.endswith("token_mixer.affine.weight"):
                p.copy_(0.5 + u)
            elif name.endswith("token_mixer.affine.bias"):
                p.copy_(0.4 * u - 0.2)
            elif name.endswith("running_mean"):
                p.copy_(0.4 * u - 0.2)
            elif name.endswith("running_var"):
                p.copy_(0.5 + u)
            elif name.endswith("weight") and p.dim() == 1:
                p.copy_(0.8 + 0.4 * u)
            elif name.endswith("bias") and (".norm" in "." + name or ".bn." in name):
                p.copy_(0.4 * u - 0.2)
            elif name.endswith("bias"):
                p.copy_(0.2 * u - 0.1)
            elif name.endswith("weight"):
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_((2 * u - 1) * (3.0 / fan_in) ** 0.5)
            else:
                raise KeyError(f"randomize: unknown parameter kind {name}")
    return model
