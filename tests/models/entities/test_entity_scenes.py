"""Scenes: a pure function of (seed, split, index), padded with a mask, targets that need the other entities."""

import numpy as np
import pytest

from torchperceiver.models.entities.scenes import (
    IGNORE_INDEX,
    SceneConfig,
    SceneDataset,
    make_scene,
    nearest_enemy_types,
    neighbour_counts,
)

CFG = SceneConfig(max_entities=32, min_entities=8)


def test_a_scene_is_a_pure_function_of_seed_split_and_index():
    a, b = make_scene(CFG, 3, 7), make_scene(CFG, 3, 7)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["features"], make_scene(CFG, 3, 8)["features"])
    assert not np.array_equal(a["features"], make_scene(CFG, 4, 7)["features"])
    assert not np.array_equal(a["features"], make_scene(CFG, 3, 7, split=1)["features"])
    dataset = SceneDataset(CFG, seed=3, split=0)
    assert np.array_equal(dataset[7]["labels"].numpy(), a["labels"])
    assert dataset[10**9]["mask"].shape == (32,), "the training stream is endless"


def test_padding_is_masked_and_ignored():
    for index in range(20):
        scene = make_scene(CFG, 0, index)
        n = int(scene["mask"].sum())
        assert CFG.min_entities <= n <= CFG.max_entities
        assert scene["mask"][:n].all() and not scene["mask"][n:].any()
        assert (scene["labels"][n:] == IGNORE_INDEX).all() and (scene["labels"][:n] >= 0).all()
        assert (scene["features"][n:] == 0).all()


def _entities(scene):
    n = int(scene["mask"].sum())
    return n, scene["features"][:n, :2].astype(np.float64), scene["categories"][:n, 0], scene["categories"][:n, 1]


def test_labels_are_the_type_of_the_nearest_enemy():
    n, xy, types, owners = _entities(scene := make_scene(CFG, 1, 2))
    for i in range(n):
        enemies = [j for j in range(n) if owners[j] != owners[i]]
        nearest = min(enemies, key=lambda j: np.hypot(*(xy[j] - xy[i])))
        assert scene["labels"][i] == types[nearest]
    assert scene["set_label"] == np.bincount(types, minlength=CFG.num_types).argmax()
    assert CFG.num_classes == CFG.num_types


def test_neighbour_labels_count_same_type_entities_within_the_radius():
    cfg = SceneConfig(max_entities=32, min_entities=8, target="neighbours")
    n, xy, types, _ = _entities(scene := make_scene(cfg, 1, 2))
    for i in range(n):
        near = [j for j in range(n) if j != i and types[j] == types[i] and np.hypot(*(xy[j] - xy[i])) <= cfg.radius]
        assert scene["labels"][i] == min(len(near), cfg.max_count)
    assert cfg.num_classes == cfg.max_count + 1


def test_an_entity_s_target_changes_when_only_other_entities_move():
    positions = np.array([[0.5, 0.5], [0.8, 0.8], [0.05, 0.05]])
    types, owners = np.array([0, 1, 2]), np.array([0, 1, 1])
    assert nearest_enemy_types(positions, types, owners).tolist() == [1, 0, 0]
    positions[2] = [0.45, 0.5]  # entity 0 is unchanged, its answer is not
    assert nearest_enemy_types(positions, types, owners).tolist() == [2, 0, 0]
    assert nearest_enemy_types(positions, types, np.zeros(3, int)).tolist() == [IGNORE_INDEX] * 3


def test_neighbour_counts_only_count_the_same_type():
    positions = np.array([[0.5, 0.5], [0.9, 0.9], [0.1, 0.1]])
    types = np.array([0, 0, 1])
    assert neighbour_counts(positions, types, 0.2).tolist() == [0, 0, 0]
    positions[1] = [0.6, 0.5]  # entity 0 is unchanged, its target is not
    assert neighbour_counts(positions, types, 0.2).tolist() == [1, 1, 0]
    positions[2] = [0.5, 0.6]  # a neighbour of another type does not count
    assert neighbour_counts(positions, types, 0.2).tolist() == [1, 1, 0]


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match=r"data\.max_entities: expected >= min_entities=8, got 4"):
        SceneConfig(max_entities=4, min_entities=8)
    with pytest.raises(ValueError, match=r"data\.radius"):
        SceneConfig(radius=0)
