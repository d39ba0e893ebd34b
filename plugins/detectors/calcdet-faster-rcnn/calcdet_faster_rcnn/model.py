"""The torchvision Faster R-CNN of the detector (imports torch; imported only when it fits or detects).

Backbones are built with ``weights=None`` (nothing is downloaded) and trainable batch norm, each
with a feature pyramid over four stages. The model's transform keeps windows at their size
(torchvision's default would resize a 224 px window to 800 px) and normalises each window by
its own mean and standard deviation (grey windows, not ImageNet colour statistics).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.models import densenet121, efficientnet_b3, resnet18, resnet50
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.rpn import RPNHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.models.resnet import BasicBlock
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool


class WindowTransform(GeneralizedRCNNTransform):
    """Batches windows as they are: no resize, each window as z-scores of its own pixels."""

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        std = image.std()
        return (image - image.mean()) / torch.where(std > 0, std, torch.ones_like(std))

    def resize(self, image: torch.Tensor, target: dict[str, torch.Tensor] | None = None
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None]:
        return image, target


def saliency_trunk(width: int, stages: int) -> tuple[nn.Module, dict[str, str], list[int]]:
    """The saliency plugin's small ResNet without its head: a 3x3 stem (no stride, no max-pool), then
    ``stages`` stages of two basic blocks that double the channels, the first at full resolution and
    each later one halving it. torchvision's BasicBlock has the saliency block's layers and names; the
    pyramid reads every stage (strides 1 to 2 ** (stages - 1)), fine enough for 14 px boxes."""
    parts: list[tuple[str, nn.Module]] = [("stem", nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False),
                                                                 nn.BatchNorm2d(width), nn.ReLU()))]
    planes, channels = width, []
    for i in range(stages):
        stride = 1 if i == 0 else 2
        shortcut = nn.Sequential(nn.Conv2d(planes, planes * 2, 1, stride, bias=False), nn.BatchNorm2d(planes * 2))
        parts.append((f"layer{i + 1}", nn.Sequential(BasicBlock(planes, planes * 2, stride, shortcut),
                                                     BasicBlock(planes * 2, planes * 2))))
        planes *= 2
        channels.append(planes)
    return nn.Sequential(OrderedDict(parts)), {f"layer{k}": str(k - 1) for k in range(1, stages + 1)}, channels


def _trunk(name: str, config: Any) -> tuple[nn.Module, dict[str, str], list[int]]:
    """The backbone's feature module, the stages the pyramid reads (strides 4 to 32) and their channels."""
    norm = nn.BatchNorm2d
    if name == "saliency-resnet":
        return saliency_trunk(config.saliency_width, config.saliency_stages)
    if name == "resnet18":
        return resnet18(weights=None, norm_layer=norm), {f"layer{k}": str(k - 1) for k in (1, 2, 3, 4)}, \
            [64, 128, 256, 512]
    if name == "resnet50":
        return resnet50(weights=None, norm_layer=norm), {f"layer{k}": str(k - 1) for k in (1, 2, 3, 4)}, \
            [256, 512, 1024, 2048]
    if name == "densenet121":
        return densenet121(weights=None).features, {f"denseblock{k}": str(k - 1) for k in (1, 2, 3, 4)}, \
            [256, 512, 1024, 1024]
    if name == "efficientnet-b3":
        return efficientnet_b3(weights=None).features, {"2": "0", "3": "1", "5": "2", "7": "3"}, [32, 48, 136, 384]
    raise ValueError(f"faster-rcnn: unknown backbone {name!r}")


def build_model(config: Any) -> FasterRCNN:
    """Faster R-CNN with two classes (background, MC) and the configured anchors, for ``config.window`` windows."""
    trunk, stages, channels = _trunk(config.backbone, config)
    backbone = BackboneWithFPN(trunk, stages, channels, config.fpn_channels, extra_blocks=LastLevelMaxPool())
    levels = len(stages) + 1
    anchors = AnchorGenerator(sizes=(tuple(config.anchor_sizes),) * levels,
                              aspect_ratios=(tuple(config.aspect_ratios),) * levels)
    per_place = len(config.anchor_sizes) * len(config.aspect_ratios)
    pool = MultiScaleRoIAlign(featmap_names=list(stages.values()), output_size=7, sampling_ratio=2)
    model = FasterRCNN(
        backbone, num_classes=None, rpn_anchor_generator=anchors,
        rpn_head=RPNHead(config.fpn_channels, per_place), box_roi_pool=pool,
        box_head=TwoMLPHead(config.fpn_channels * 49, config.representation),
        box_predictor=FastRCNNPredictor(config.representation, 2),
        rpn_batch_size_per_image=config.rpn_samples, box_batch_size_per_image=config.roi_samples,
        box_score_thresh=config.threshold, box_nms_thresh=config.nms_iou,
        box_detections_per_img=config.per_window)
    model.transform = WindowTransform(config.window, config.window, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    return model


def initialise_backbone(model: FasterRCNN, path: str | Path, config: Any) -> None:
    """Load a backbone file's small-ResNet trunk into the saliency-resnet backbone (the study's transfer step)."""
    from calcdet_faster_rcnn.transfer import backbone_arrays

    body = model.backbone.body
    expected = {k: tuple(v.shape) for k, v in body.state_dict().items()}
    arrays = backbone_arrays(Path(path), config, expected)
    body.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})


def as_input(windows: torch.Tensor) -> list[torch.Tensor]:
    """(N, S, S) grey windows as the three-channel images torchvision's detection models take."""
    return [w.unsqueeze(0).expand(3, -1, -1) for w in windows]
