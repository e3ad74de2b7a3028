"""Property tests of the input checks of the public entry points: random shapes, dtypes and values either
work or raise a ``ValueError`` that names the argument, never another exception (docs/reliability.md)."""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import torchperceiver as tp
from torchperceiver.core.config import PerceiverConfig
from torchperceiver.presets import check_arguments, preset_arguments

torch.set_num_threads(1)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.lists(st.integers(-2, 5), max_size=4).map(tuple),
)
DTYPES = [
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.int64,
    torch.int32,
    torch.uint8,
    torch.bool,
]


def _names_the_argument(err: ValueError, *names: str) -> None:
    message = str(err)
    assert "\n" not in message, message
    assert any(name in message for name in names), f"{message!r} names none of {names}"


@pytest.fixture(scope="module")
def text_model():
    return tp.build("language-mlm", num_latents=4, latent_dim=16, num_layers=1, num_self_heads=2, num_cross_heads=2,
                    qk_channels=8, embed_dim=8, max_seq_len=16).eval()  # fmt: skip


@pytest.fixture(scope="module")
def image_model():
    return tp.build("vision-fourier", num_latents=4, latent_dim=16, num_blocks=1, num_layers=1, num_self_heads=2,
                    num_bands=2, max_resolution=(8, 8), num_classes=3).eval()  # fmt: skip


@FAST
@given(preset=st.sampled_from(tp.presets()), data=st.data())
def test_preset_arguments_are_checked_by_name(preset, data):
    """Every argument of every preset, any JSON-ish value: accepted or a one-line error naming it."""
    name = data.draw(st.sampled_from(sorted(preset_arguments(preset))))
    value = data.draw(ANY_VALUE)
    try:
        check_arguments(preset, {name: value})
    except ValueError as err:
        _names_the_argument(err, name)


SMALL = st.integers(-1, 6)


@FAST
@given(
    num_latents=SMALL, latent_dim=st.integers(-1, 24), num_layers=SMALL, num_self_heads=SMALL,
    num_cross_heads=SMALL, qk_channels=st.one_of(st.none(), st.integers(-1, 24)), embed_dim=st.integers(-1, 12),
    max_seq_len=st.integers(-1, 20), attention_dropout=st.floats(-1, 2),
)  # fmt: skip
def test_building_a_small_language_model_works_or_names_the_argument(**arguments):
    try:
        model = tp.build("language-mlm", **arguments)
    except ValueError as err:
        _names_the_argument(err, *arguments)
        return
    model.eval()(*model.example_inputs(1))


@FAST
@given(
    shape=st.lists(st.integers(0, 5), min_size=0, max_size=3),
    dtype=st.sampled_from(DTYPES),
    low=st.integers(-300, 300),
    with_mask=st.booleans(),
)
def test_text_inputs_work_or_name_the_argument(text_model, shape, dtype, low, with_mask):
    values = torch.arange(math.prod(shape)).reshape(shape) + low
    inputs = values.to(dtype)
    mask = torch.ones(shape, dtype=torch.bool) if with_mask else None
    try:
        with torch.no_grad():
            text_model(inputs, attention_mask=mask)
    except ValueError as err:
        _names_the_argument(err, "input_ids", "inputs", "attention_mask")


@FAST
@given(shape=st.lists(st.integers(0, 9), min_size=0, max_size=5), dtype=st.sampled_from(DTYPES))
def test_image_inputs_work_or_name_the_argument(image_model, shape, dtype):
    images = torch.rand(shape).to(dtype) if dtype.is_floating_point else torch.zeros(shape, dtype=dtype)
    try:
        with torch.no_grad():
            out = image_model(images)
    except ValueError as err:
        _names_the_argument(err, "images")
        return
    assert out.shape == (shape[0], 3) and torch.isfinite(out).all()


@FAST
@given(data=st.data())
def test_config_json_mutations_load_or_name_the_field(text_model, data):
    """A saved config with one field replaced by any value: a config, or a one-line error naming the field."""
    config = text_model.config.to_dict()
    section = data.draw(st.sampled_from(["encoder", "decoder", "block", "input_adapter", "output_adapter", "top"]))
    target = config if section == "top" else config[section]
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(ANY_VALUE)
    try:
        PerceiverConfig.from_dict(config)
    except ValueError as err:
        _names_the_argument(err, key, "config")
