"""``calcdet export-backbone``: a trained resnet-saliency model's trunk as a public backbone file.

Why a command of this plugin: the trunk and its tensor names are this plugin's business; the file
it writes (:mod:`calcdet_torch.backbone`) is what another detector starts from (faster-rcnn's
``backbone_weights``), so no other plugin reads this one's model directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def export_backbone_command(
    model_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False,
                                              help="A trained resnet-saliency model directory (calcdet train).")],
    out: Annotated[Path, typer.Argument(dir_okay=False, help="The backbone file to write (.safetensors).")],
) -> None:
    """Write the model's small-ResNet trunk (stem and stages, no head) as a backbone file with its spec in the
    header; faster-rcnn's backbone_weights starts from it."""
    from calcdet_torch.backbone import export_backbone, read_spec

    written = export_backbone(model_dir, out)
    typer.echo(f"{written}: {read_spec(written)}")
