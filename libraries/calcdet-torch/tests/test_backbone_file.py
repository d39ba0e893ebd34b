"""The backbone file: spec in the safetensors header, refused when it is no backbone file or of another spec."""

from dataclasses import replace

import numpy as np
import pytest
from calcdet_torch.backbone import BackboneSpec, checked_spec, read_backbone, read_spec, save_backbone

from calcdet_core.api import InvalidInputError, save_arrays

SPEC = BackboneSpec("small-resnet", width=4, stages=2, padding="same", input_size=16)
TENSORS = {"stem.0.weight": np.ones((4, 1, 3, 3), np.float32), "layer1.0.conv1.weight": np.zeros((8, 4, 3, 3))}


def test_a_backbone_file_round_trips_its_spec_and_tensors(tmp_path):
    path = save_backbone(tmp_path / "trunk.safetensors", SPEC, TENSORS)
    assert read_spec(path) == SPEC
    got = read_backbone(path, replace(SPEC, input_size=None))  # a reader takes any input size
    assert got.keys() == TENSORS.keys() and all(np.array_equal(got[k], v) for k, v in TENSORS.items())


@pytest.mark.parametrize("change", [{"width": 8}, {"stages": 3}, {"padding": "valid"}, {"architecture": "resnet18"},
                                    {"input_channels": 3}])
def test_another_spec_is_refused_naming_both(tmp_path, change):
    path = save_backbone(tmp_path / "trunk.safetensors", SPEC, TENSORS)
    wanted = replace(SPEC, **change)
    with pytest.raises(InvalidInputError) as info:
        checked_spec(path, wanted)
    assert str(info.value) == f"{path}: holds a {SPEC} backbone; this one is {wanted}"
    assert str(SPEC) != str(wanted)


def test_plain_weights_missing_files_and_garbled_headers_are_refused_naming_the_file(tmp_path):
    plain = save_arrays(tmp_path / "plain.safetensors", TENSORS)
    with pytest.raises(InvalidInputError, match=r"plain\.safetensors: not a calcdet backbone file"):
        read_spec(plain)
    with pytest.raises(InvalidInputError, match=r"gone\.safetensors: no such file"):
        read_spec(tmp_path / "gone.safetensors")
    (tmp_path / "text.safetensors").write_text("not safetensors")
    with pytest.raises(InvalidInputError, match=r"text\.safetensors: not a readable safetensors file"):
        read_spec(tmp_path / "text.safetensors")
    garbled = save_arrays(tmp_path / "garbled.safetensors", TENSORS, {**SPEC.metadata(), "width": "wide"})
    with pytest.raises(InvalidInputError, match=r"garbled\.safetensors: backbone metadata lacks or garbles"):
        read_spec(garbled)
