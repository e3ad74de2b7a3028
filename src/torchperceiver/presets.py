"""Presets by name (timm-style): ``build("language-mlm", num_layers=4)``.

A preset is a function with keyword-only arguments whose defaults are the released shapes, registered with
``@register_preset(name)`` beside its family's code. ``build`` forwards overrides to it and turns a wrong
name or keyword into a clear ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from torchperceiver.core.adapter import InputAdapterConfig, OutputAdapterConfig
from torchperceiver.core.config import DecoderConfig, EncoderConfig, PerceiverConfig
from torchperceiver.core.layers import Activation, BlockSettings
from torchperceiver.core.model import PerceiverIO
from torchperceiver.core.validate import check_value
from torchperceiver.registry import Registry

Preset = Callable[..., PerceiverIO]
PRESETS: Registry[Preset] = Registry("preset")


def register_preset(name: str) -> Callable[[Preset], Preset]:
    """Decorator that makes a preset function buildable by ``name``."""
    return PRESETS.register(name)


def presets() -> list[str]:
    """Names of every preset."""
    return PRESETS.names()


def preset_arguments(name: str) -> dict[str, Any]:
    """The overridable arguments of a preset and their defaults (the released values)."""
    return {p.name: p.default for p in inspect.signature(PRESETS.get(name)).parameters.values()}


def build(name: str, **overrides: Any) -> PerceiverIO:
    """Build preset ``name`` with random weights; ``overrides`` replace any of its arguments."""
    allowed = preset_arguments(name)
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(f"build({name!r}): unknown arguments {unknown}; expected some of {sorted(allowed)}")
    check_arguments(name, overrides)
    try:
        return PRESETS.get(name)(**overrides)
    except ValueError as err:  # a width that does not fit another (e.g. heads): say which arguments led to it
        given = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        raise ValueError(f"build({name!r}{', ' if given else ''}{given}): {err}") from err


def check_arguments(name: str, arguments: dict[str, Any], where: str = "") -> None:
    """Each argument against the preset's type hint (the same rules as every config field)."""
    hints = typing.get_type_hints(PRESETS.get(name))
    for key, value in arguments.items():
        if key in hints:
            check_value(f"{where}{key}", value, hints[key])


def perceiver(
    input_adapter: InputAdapterConfig,
    output_adapter: OutputAdapterConfig,
    *,
    num_latents: int,
    latent_dim: int,
    num_layers: int,
    num_self_heads: int,
    num_cross_heads: int,
    decoder: DecoderConfig,
    num_blocks: int = 1,
    qk_channels: int | None = None,
    v_channels: int | None = None,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """The model every preset builds, from the arguments all presets name alike.

    ``num_layers`` self-attention layers make one block; ``num_blocks`` repeats it with shared weights.
    ``qk_channels``/``v_channels`` set the encoder's attention widths (``None``: the official defaults).
    """
    return PerceiverIO(
        PerceiverConfig(
            input_adapter=input_adapter,
            output_adapter=output_adapter,
            encoder=EncoderConfig(
                num_latents=num_latents,
                latent_dim=latent_dim,
                num_blocks=num_blocks,
                num_self_attends_per_block=num_layers,
                num_cross_heads=num_cross_heads,
                num_self_heads=num_self_heads,
                cross_qk_channels=qk_channels,
                cross_v_channels=v_channels,
                self_qk_channels=qk_channels,
                self_v_channels=v_channels,
            ),
            decoder=decoder,
            block=BlockSettings(activation=activation, attention_dropout=attention_dropout),
            activation_checkpointing=activation_checkpointing,
        )
    )


def encoder_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments ``perceiver()`` takes as they are, picked from a preset's ``locals()``.

    Presets keep explicit keyword signatures (their defaults are the documented shapes) without repeating
    each shared name again in the call.
    """
    shared = set(inspect.signature(perceiver).parameters) - {"input_adapter", "output_adapter", "decoder"}
    return {key: value for key, value in arguments.items() if key in shared}


class ModelSection:
    """Base of a recipe's ``model`` section: which preset to build (``preset``) and its overrides.

    ``model_section(preset)`` makes the dataclass for one preset, with a field per preset argument (its
    released default, its type), so recipes are type-checked against the preset itself.
    """

    preset: str

    def __post_init__(self) -> None:
        check_arguments(self.preset, self.arguments(), "model.")

    def arguments(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "preset"}  # type: ignore[arg-type]

    def build(self) -> PerceiverIO:
        return build(self.preset, **self.arguments())


def model_section(preset: str) -> type[ModelSection]:
    """The recipe ``model`` section type of ``preset``: ``preset`` plus every argument of the preset."""
    fn = PRESETS.get(preset)
    hints = typing.get_type_hints(fn)
    params = inspect.signature(fn).parameters.values()
    fields = [("preset", str, dataclasses.field(default=preset))]
    fields += [(p.name, hints[p.name], dataclasses.field(default=p.default)) for p in params]
    name = "ModelSection_" + preset.replace("-", "_")
    return dataclasses.make_dataclass(name, fields, bases=(ModelSection,))
