"""Synthetic optical-flow pairs in the spirit of AutoFlow (Sun et al., CVPR 2021), rendered in torch.

A scene is a moving background plus 1..``max_layers`` foreground layers, drawn back to front. Each layer is
a smooth-edged shape (an ellipse or a convex polygon, edge softness in pixels) textured with a piece of a
real photograph, and moves by its own affine map (translation, rotation, scale, shear about its centre)
composed with a small smooth non-rigid deformation::

    p2 = A(p1 + d(p1))        flow(p1) = p2 - p1       (d: a bicubic field from a coarse random grid)

Frame 1 samples every layer at p1; frame 2 inverts that map per pixel (``A⁻¹`` exactly, then ``d`` by a
fixed-point iteration, which converges because ``d`` is small and smooth), so the flow of frame 1 is exact.
The flow at a pixel is the flow of its top layer; the pixel is *visible* when it lands inside frame 2 and the
same layer is on top there (otherwise it is occluded or leaves the view). Frame 2 then gets a photometric
change (brightness, contrast, per-channel gain) and both frames a little Gaussian noise.

Every sample is a pure function of ``(seed, index)``: its parameters come from a CPU generator seeded by both,
so a resumed run sees the same pairs; the rendering (``grid_sample``) runs batched on any device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from torchperceiver.models.flow.textures import folder_photos, skimage_photos, texture_bank

MAX_SIDES = 8
FIXED_POINT_STEPS = 6


@dataclass
class AutoFlowConfig:
    """Every range of the generator. Lengths are fractions of the frame's shorter side unless named ``_px``.

    Foreground motion draws the translation length uniformly in ``[0, max_translation]`` (random direction),
    the rotation in ``±max_rotation`` degrees, log-scale in ``±max_scale`` and shear in ``±max_shear``;
    the background draws from the ``background_*`` ranges the same way.
    """

    size: tuple[int, int] = (368, 496)
    min_layers: int = 1
    max_layers: int = 5
    layer_radius: tuple[float, float] = (0.12, 0.4)
    ellipse_prob: float = 0.5
    min_sides: int = 3
    softness_px: tuple[float, float] = (0.3, 1.2)
    max_translation: float = 0.08
    max_rotation: float = 8.0
    max_scale: float = 0.08
    max_shear: float = 0.05
    background_translation: float = 0.05
    background_rotation: float = 3.0
    background_scale: float = 0.03
    background_shear: float = 0.02
    deformation: float = 0.005
    deformation_grid: int = 4
    texture_zoom: tuple[float, float] = (0.6, 1.6)
    layer_gain: tuple[float, float] = (0.75, 1.25)
    brightness: float = 0.06
    contrast: float = 0.12
    gain: float = 0.05
    noise: float = 0.01
    texture_dir: str | None = None
    skimage_photos: bool = True

    def __post_init__(self) -> None:
        self.size = (int(self.size[0]), int(self.size[1]))
        if min(self.size) < 8:
            raise ValueError(f"size: expected height and width >= 8, got {self.size}")
        if not 0 <= self.min_layers <= self.max_layers:
            raise ValueError(
                f"min_layers: expected 0 <= min_layers <= max_layers={self.max_layers}, got {self.min_layers}"
            )
        if not 3 <= self.min_sides <= MAX_SIDES:
            raise ValueError(f"min_sides: expected a value in [3, {MAX_SIDES}], got {self.min_sides}")
        for name in ("layer_radius", "softness_px", "texture_zoom", "layer_gain"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name}: expected 0 < low <= high, got {(low, high)}")


def sample_seed(seed: int, index: int) -> int:
    """A 63-bit seed mixing ``seed`` and ``index`` well (neighbouring indices get unrelated streams)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(index)]).generate_state(2, dtype=np.uint64)
    return int(state[0]) & ((1 << 63) - 1)


def _uniform(g: torch.Generator, shape: tuple[int, ...], low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=g)


def _motion(
    g: torch.Generator, n: int, translation: float, rotation: float, scale: float, shear: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    length = _uniform(g, (n,), 0, translation)
    direction = _uniform(g, (n,), -math.pi, math.pi)
    shift = torch.stack([length * torch.cos(direction), length * torch.sin(direction)], -1)
    angle = _uniform(g, (n,), -rotation, rotation) * math.pi / 180
    log_scale = _uniform(g, (n,), -scale, scale)
    shears = _uniform(g, (n,), -shear, shear)
    return shift, angle, log_scale, shears


def draw_parameters(cfg: AutoFlowConfig, seed: int, index: int, num_textures: int) -> dict[str, torch.Tensor]:
    """The random parameters of one scene (``L = 1 + max_layers`` layers; layer 0 is the background)."""
    g = torch.Generator().manual_seed(sample_seed(seed, index))
    layers = 1 + cfg.max_layers
    short = float(min(cfg.size))
    height, width = cfg.size
    count = int(torch.randint(cfg.min_layers, cfg.max_layers + 1, (1,), generator=g))
    p: dict[str, torch.Tensor] = {"present": torch.arange(layers) <= count}
    p["texture"] = torch.randint(0, num_textures, (layers,), generator=g)
    p["zoom"] = _uniform(g, (layers,), *cfg.texture_zoom)
    p["texture_angle"] = _uniform(g, (layers,), -math.pi, math.pi)
    p["texture_offset"] = _uniform(g, (layers, 2), -1, 1)
    p["tint"] = _uniform(g, (layers, 3), *cfg.layer_gain)
    p["centre"] = torch.stack([_uniform(g, (layers,), 0, width), _uniform(g, (layers,), 0, height)], -1)
    p["centre"][0] = torch.tensor([(width - 1) / 2, (height - 1) / 2])
    p["radius"] = _uniform(g, (layers,), *cfg.layer_radius) * short
    p["ellipse"] = torch.rand(layers, generator=g) < cfg.ellipse_prob
    p["aspect"] = _uniform(g, (layers,), 0.4, 1.0)
    p["shape_angle"] = _uniform(g, (layers,), -math.pi, math.pi)
    sides = torch.randint(cfg.min_sides, MAX_SIDES + 1, (layers,), generator=g)
    k = torch.arange(MAX_SIDES)
    jitter = _uniform(g, (layers, MAX_SIDES), -0.3, 0.3)
    p["normal_angle"] = p["shape_angle"][:, None] + (2 * math.pi * (k + jitter)) / sides[:, None]
    distance = p["radius"][:, None] * _uniform(g, (layers, MAX_SIDES), 0.75, 1.0)
    p["distance"] = torch.where(k < sides[:, None], distance, torch.full_like(distance, 1e6))
    p["softness"] = _uniform(g, (layers,), *cfg.softness_px)
    fg = _motion(g, layers, cfg.max_translation, cfg.max_rotation, cfg.max_scale, cfg.max_shear)
    bg = _motion(g, 1, cfg.background_translation, cfg.background_rotation, cfg.background_scale, cfg.background_shear)
    for name, fore, back in zip(("shift", "angle", "log_scale", "shear"), fg, bg, strict=True):
        fore[0] = back[0]
        p[name] = fore
    p["shift"] = p["shift"] * short
    p["deformation"] = torch.randn(layers, 2, cfg.deformation_grid, cfg.deformation_grid, generator=g)
    p["deformation"] *= cfg.deformation * short
    p["brightness"] = _uniform(g, (1,), -cfg.brightness, cfg.brightness)
    p["contrast"] = _uniform(g, (1,), 1 - cfg.contrast, 1 + cfg.contrast)
    p["gain"] = _uniform(g, (3,), 1 - cfg.gain, 1 + cfg.gain)
    p["noise_seed"] = torch.randint(0, 2**62, (1,), generator=g)
    return p


def _matrices(p: dict[str, torch.Tensor]) -> torch.Tensor:
    """``[N, 2, 2]`` linear parts ``R(angle) · scale · [[1, shear], [0, 1]]``."""
    cos, sin = torch.cos(p["angle"]), torch.sin(p["angle"])
    scale = torch.exp(p["log_scale"])
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    shear = torch.zeros_like(rotation)
    shear[:, 0, 0] = shear[:, 1, 1] = 1
    shear[:, 0, 1] = p["shear"]
    return rotation @ shear * scale[:, None, None]


def _apply(matrix: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``[N, 2, 2]`` applied to ``[N, H, W, 2]`` points."""
    return torch.einsum("nij,nhwj->nhwi", matrix, points)


class AutoFlowGenerator:
    """Renders batches of scenes; ``generator(indices)`` → dict of frame1, frame2 ``[B, 3, H, W]`` in [0, 1],
    flow ``[B, 2, H, W]`` in pixels (x right, y down; exact at every pixel) and visible ``[B, H, W]`` bool
    (not occluded in frame 2 and inside it)."""

    def __init__(self, cfg: AutoFlowConfig, seed: int = 0, device: str | torch.device = "cpu") -> None:
        self.cfg, self.seed = cfg, seed
        photos = skimage_photos() if cfg.skimage_photos else []
        if cfg.texture_dir is not None:
            photos += folder_photos(cfg.texture_dir)
        self.bank_size = int(min(512, max(64, 2 * max(cfg.size))))
        self.bank = texture_bank(photos, self.bank_size).to(device)
        self.device = torch.device(device)

    def to(self, device: str | torch.device) -> AutoFlowGenerator:
        self.device = torch.device(device)
        self.bank = self.bank.to(self.device)
        return self

    @property
    def num_textures(self) -> int:
        return self.bank.shape[1]

    def parameters(self, indices: list[int]) -> dict[str, torch.Tensor]:
        """The scenes' parameters stacked to ``[B · L, ...]`` on the generator's device."""
        drawn = [draw_parameters(self.cfg, self.seed, i, self.num_textures) for i in indices]
        return {k: torch.cat([d[k] for d in drawn]).to(self.device) for k in drawn[0] if k != "noise_seed"} | {
            "noise_seed": torch.cat([d["noise_seed"] for d in drawn])
        }

    @torch.no_grad()
    def __call__(self, indices: list[int] | torch.Tensor) -> dict[str, torch.Tensor]:
        indices = [int(i) for i in indices]
        p = self.parameters(indices)
        batch, layers = len(indices), 1 + self.cfg.max_layers
        height, width = self.cfg.size
        ys, xs = torch.meshgrid(
            torch.arange(height, device=self.device, dtype=torch.float32),
            torch.arange(width, device=self.device, dtype=torch.float32),
            indexing="ij",
        )
        grid = torch.stack([xs, ys], -1).expand(batch * layers, height, width, 2)
        matrix = _matrices(p)
        centre = p["centre"][:, None, None]
        # Frame 1: layers in place; flow = A(p + d(p)) - p.
        moved = centre + p["shift"][:, None, None] + _apply(matrix, grid + self._deform(p, grid) - centre)
        flows = (moved - grid).permute(0, 3, 1, 2)
        # Frame 2: invert A exactly, then d by fixed-point steps c = q - d(c).
        target = centre + _apply(torch.linalg.inv(matrix), grid - centre - p["shift"][:, None, None])
        source = target
        for _ in range(FIXED_POINT_STEPS):
            source = target - self._deform(p, source)
        alpha1, alpha2 = self._alpha(p, grid), self._alpha(p, source)
        frame1 = self._composite(self._colour(p, grid), alpha1, batch, layers)
        frame2 = self._composite(self._colour(p, source), alpha2, batch, layers)
        owner1, owner2 = self._owner(alpha1, batch, layers), self._owner(alpha2, batch, layers)
        flow = flows.view(batch, layers, 2, height, width).gather(1, owner1[:, None, None].expand(-1, 1, 2, -1, -1))
        flow = flow[:, 0]
        visible = self._visible(flow, owner1, owner2)
        frame1, frame2 = self._photometric(p, frame1, frame2, batch)
        return {"frame1": frame1, "frame2": frame2, "flow": flow, "visible": visible}

    def _deform(self, p: dict[str, torch.Tensor], points: torch.Tensor) -> torch.Tensor:
        """``d(points)``: the bicubic deformation field at pixel positions ``[N, H, W, 2]``."""
        height, width = self.cfg.size
        scale = torch.tensor([2 / max(width - 1, 1), 2 / max(height - 1, 1)], device=points.device)
        field = F.grid_sample(p["deformation"], points * scale - 1, mode="bicubic", align_corners=True)
        return field.permute(0, 2, 3, 1)

    def _alpha(self, p: dict[str, torch.Tensor], points: torch.Tensor) -> torch.Tensor:
        """``[N, H, W]`` coverage in [0, 1] of each layer's shape; 1 for the background, 0 for absent layers."""
        local = points - p["centre"][:, None, None]
        x, y = local[..., 0], local[..., 1]
        cos, sin = torch.cos(p["shape_angle"])[:, None, None], torch.sin(p["shape_angle"])[:, None, None]
        u, v = cos * x + sin * y, -sin * x + cos * y
        a = p["radius"][:, None, None]
        b = a * p["aspect"][:, None, None]
        ellipse = (torch.sqrt((u / a) ** 2 + (v / b) ** 2) - 1) * b
        normals = torch.stack([torch.cos(p["normal_angle"]), torch.sin(p["normal_angle"])], -1)  # [N, S, 2]
        polygon = (torch.einsum("nsj,nhwj->nhws", normals, local) - p["distance"][:, None, None]).amax(-1)
        sdf = torch.where(p["ellipse"][:, None, None], ellipse, polygon)
        alpha = torch.sigmoid(-sdf / p["softness"][:, None, None])
        layer = torch.arange(alpha.shape[0], device=alpha.device) % (1 + self.cfg.max_layers)
        alpha = torch.where((layer == 0)[:, None, None], torch.ones_like(alpha), alpha)
        return alpha * p["present"][:, None, None]

    def _colour(self, p: dict[str, torch.Tensor], points: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]``: each layer's photograph (rotated, zoomed, shifted, tinted) at ``points``."""
        height, width = self.cfg.size
        cos, sin = torch.cos(p["texture_angle"])[:, None, None], torch.sin(p["texture_angle"])[:, None, None]
        local = points - torch.tensor([(width - 1) / 2, (height - 1) / 2], device=points.device)
        scale = (p["zoom"] * 2 / self.bank_size)[:, None, None]
        tx = (cos * local[..., 0] - sin * local[..., 1]) * scale + p["texture_offset"][:, None, None, 0]
        ty = (sin * local[..., 0] + cos * local[..., 1]) * scale + p["texture_offset"][:, None, None, 1]
        count = self.num_textures
        tz = p["texture"].float() * (2 / (count - 1)) - 1 if count > 1 else torch.zeros_like(p["zoom"])
        coords = torch.stack([tx, ty, tz[:, None, None].expand_as(tx)], -1)[None]  # [1, N, H, W, 3]
        colour = F.grid_sample(self.bank[None], coords, padding_mode="reflection", align_corners=True)[0]
        return colour.transpose(0, 1) * p["tint"][:, :, None, None]

    @staticmethod
    def _composite(colour: torch.Tensor, alpha: torch.Tensor, batch: int, layers: int) -> torch.Tensor:
        colour = colour.view(batch, layers, 3, *colour.shape[-2:])
        alpha = alpha.view(batch, layers, 1, *alpha.shape[-2:])
        image = colour[:, 0]
        for k in range(1, layers):
            image = alpha[:, k] * colour[:, k] + (1 - alpha[:, k]) * image
        return image

    @staticmethod
    def _owner(alpha: torch.Tensor, batch: int, layers: int) -> torch.Tensor:
        """``[B, H, W]``: the index of the top layer covering each pixel (coverage > 1/2)."""
        alpha = alpha.view(batch, layers, *alpha.shape[-2:])
        order = torch.arange(layers, device=alpha.device)[None, :, None, None]
        return (order * (alpha > 0.5)).amax(1)

    def _visible(self, flow: torch.Tensor, owner1: torch.Tensor, owner2: torch.Tensor) -> torch.Tensor:
        height, width = self.cfg.size
        ys, xs = torch.meshgrid(
            torch.arange(height, device=flow.device), torch.arange(width, device=flow.device), indexing="ij"
        )
        x2, y2 = xs + flow[:, 0], ys + flow[:, 1]
        inside = (x2 >= 0) & (x2 <= width - 1) & (y2 >= 0) & (y2 <= height - 1)
        xi = x2.round().clamp(0, width - 1).long()
        yi = y2.round().clamp(0, height - 1).long()
        landed = owner2.flatten(1).gather(1, (yi * width + xi).flatten(1)).view_as(owner1)
        return inside & (landed == owner1)

    def _photometric(
        self, p: dict[str, torch.Tensor], frame1: torch.Tensor, frame2: torch.Tensor, batch: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        contrast = p["contrast"].view(batch, 1, 1, 1)
        brightness = p["brightness"].view(batch, 1, 1, 1)
        gain = p["gain"].view(batch, 3, 1, 1)
        frame2 = ((frame2 - 0.5) * contrast + 0.5 + brightness) * gain
        if self.cfg.noise > 0:
            noise = []
            for s in p["noise_seed"].tolist():
                g = torch.Generator(device=self.device).manual_seed(int(s))
                noise.append(torch.randn(2, *frame1.shape[1:], generator=g, device=self.device))
            stacked = torch.stack(noise) * self.cfg.noise
            frame1, frame2 = frame1 + stacked[:, 0], frame2 + stacked[:, 1]
        return frame1.clamp(0, 1), frame2.clamp(0, 1)
