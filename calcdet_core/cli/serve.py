"""``calcdet serve``: a DICOM node that answers each mammogram it receives with a DICOM SR of its findings."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from calcdet_core.cli import output
from calcdet_core.cli.options import DeviceOption, WorkersOption


def _logging() -> None:
    """The node's lines on stderr with their time; pynetdicom's own only when they are warnings or worse."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    node = logging.getLogger("calcdet.serve")
    node.addHandler(handler)
    node.setLevel(logging.INFO)
    node.propagate = False
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)


def serve(
    model: Annotated[Path, typer.Argument(help="Model directory (or a pipeline YAML with nothing to train).")],
    send_to: Annotated[str, typer.Option("--send-to", metavar="AE@HOST:PORT",
                                         help="Where the SRs go by C-STORE, e.g. PACS@10.0.0.5:4242.")],
    spool: Annotated[Path, typer.Option(help="Folder for received instances, answers and their state; "
                                             "a restart resumes from it.")] = Path("calcdet-spool"),
    ae_title: Annotated[str, typer.Option("--ae-title", help="This node's AE title.")] = "CALCDET",
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="DICOM port to listen on.")] = 11112,
    workers: WorkersOption = 1,
    queue: Annotated[int, typer.Option(min=1, help="Instances received and not yet answered, at most; "
                                                   "more wait, then are refused with 0xA700.")] = 16,
    queue_wait: Annotated[float, typer.Option(min=0, help="Seconds a C-STORE waits for room in a full queue "
                                                          "before 0xA700.")] = 30.0,
    per: Annotated[str, typer.Option(help="Answer per image (as each arrives) or per study (once no image of "
                                          "the study has arrived for --study-quiet seconds).")] = "image",
    study_quiet: Annotated[float, typer.Option(min=0.1, help="Seconds without a new image before a study "
                                                             "counts as complete (--per study).")] = 10.0,
    gsps: Annotated[bool, typer.Option("--gsps", help="Send a Grayscale Softcopy Presentation State too.")] = False,
    allow: Annotated[list[str] | None, typer.Option(help="Calling AE titles allowed to associate (repeatable; "
                                                         "default: any).")] = None,
    min_score: Annotated[str, typer.Option("--min-score", help="Where findings start: auto (the model's operating "
                                                               "point) or a score.")] = "auto",
    retries: Annotated[int, typer.Option(min=0, help="Sending tries after the first, with back-off.")] = 5,
    backoff: Annotated[float, typer.Option(min=0, help="Seconds before the first retry; doubled each time.")] = 2.0,
    device: DeviceOption = "cpu",
    resend: Annotated[bool, typer.Option("--resend", help="Send the answers kept in --spool (unsent or not yet "
                                                          "sent) and exit, without listening.")] = False,
) -> None:
    """Receive mammograms over DICOM (C-STORE), detect, and send each one's SR back (conformance: docs/dicom.md)."""
    from calcdet_core.errors import InvalidInputError
    from calcdet_core.node.send import Destination

    _logging()
    destination = Destination.parse(send_to)
    if per not in ("image", "study"):
        raise InvalidInputError(f"--per {per!r}: choose image or study")
    if resend:
        from calcdet_core.node.serve import resend as send_kept

        sent, unsent = send_kept(spool, destination, ae_title, per == "study", retries, backoff)
        output.stdout.print(f"sent the answers of {sent} instance(s); {unsent} still unsent", highlight=False)
        if unsent:
            raise typer.Exit(1)
        return
    from calcdet_core.node.serve import NodeSettings
    from calcdet_core.node.serve import serve as run

    run(NodeSettings(model, spool, destination, ae_title, host, port, workers, queue, queue_wait,
                     study_quiet if per == "study" else None, gsps, tuple(allow or ()), min_score, retries, backoff,
                     device))


def register(cli: typer.Typer) -> None:
    """Add ``serve`` to the root application."""
    cli.command()(serve)
