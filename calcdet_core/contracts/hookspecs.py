"""The hook specifications: the whole contract between calcdet and its plugins.

A plugin is a module named by an entry point in the ``calcdet`` group. It implements
any subset of these hooks with the :data:`hookimpl` marker. Every ``register_*`` hook
returns a list of component *classes* (never instances); the host flattens the lists
of all plugins. calcdet's own built-ins are registered through these same hooks.

The ``register_*`` hooks of components are called once, when the registry is first built
(:func:`calcdet_core.plugins.registry.get_registry`), each plugin's separately through pluggy;
an implementation may accept fewer arguments than its spec, so new opt-in arguments never
break existing plugins. The module declares the contract edition it follows
(``calcdet_contract = 2``, :mod:`calcdet_core.contracts.editions`). Every component, writer and
transform is reached by its qualified name ``DISTRIBUTION:NAME``; a bare name goes to calcdet's
built-ins, then calcdet's own distributions, then others, and names none where two tie
(:mod:`calcdet_core.plugins.registry`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable

    import typer

    from calcdet_core.contracts.components import (
        Classifier,
        DatasetAdapter,
        Detector,
        Evaluator,
        FeatureExtractor,
        Proposer,
    )
    from calcdet_core.contracts.training import TrainingTransform
    from calcdet_core.io.output_writers import WriterFactory

PROJECT_NAME = "calcdet"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def calcdet_register_datasets() -> list[type[DatasetAdapter]]:
    """Return dataset adapter classes (subclasses of :class:`DatasetAdapter`).

    An adapter turns a dataset root on disk into image records with annotations.
    """


@hookspec
def calcdet_register_proposers() -> list[type[Proposer]]:
    """Return candidate proposer classes (subclasses of :class:`Proposer`).

    A proposer finds MC-like blobs in a whole preprocessed image.
    """


@hookspec
def calcdet_register_features() -> list[type[FeatureExtractor]]:
    """Return feature extractor classes (subclasses of :class:`FeatureExtractor`).

    An extractor computes a fixed, named feature vector for every candidate.
    """


@hookspec
def calcdet_register_classifiers() -> list[type[Classifier]]:
    """Return candidate classifier classes (subclasses of :class:`Classifier`).

    A classifier scores feature vectors; higher means more likely an MC.
    """


@hookspec
def calcdet_register_detectors() -> list[type[Detector]]:
    """Return end-to-end detector classes (subclasses of :class:`Detector`).

    A detector replaces proposer, features and classifier in a pipeline.
    """


@hookspec
def calcdet_register_evaluators() -> list[type[Evaluator]]:
    """Return evaluator classes (subclasses of :class:`Evaluator`).

    An evaluator turns detections and annotations into metrics and report files.
    """


@hookspec
def calcdet_register_commands(cli: typer.Typer) -> None:
    """Add sub-commands to the ``calcdet`` command line.

    Called when the CLI first looks a command up (never for ``calcdet --version``), with a
    :class:`typer.Typer` of this plugin's own whose commands join the root application; add
    commands with ``@cli.command()`` or groups with ``cli.add_typer(...)``. A name calcdet's
    own commands use stays theirs, and a name two plugins add is refused for both (an error
    row of ``calcdet list-plugins``). Raise :class:`calcdet_core.api.CalcdetUserError` for a
    user's mistake: calcdet prints its message and exits 1. Write results to stdout and messages to stderr, and spell
    shared options as calcdet's commands do (``--dataset``, ``--root``, ``--split``).
    """


@hookspec
def calcdet_output_writers() -> dict[str, WriterFactory]:
    """Return named factories of detection-output writers, ``{name: factory}``.

    ``calcdet detect --write NAME=DIR`` (with ``--write-option NAME.KEY=VALUE``) calls
    ``factory(run, **options)`` before any detection, with the run's identity
    (:class:`calcdet_core.api.RunIdentity`): refuse an unusable option there. The writer it
    returns is called once, ``writer(images, out_dir)``, with every image's detections in the
    stored grid (:class:`calcdet_core.api.DetectedOutput`), and returns the files it wrote.
    calcdet finds writers here and never imports the plugin.
    """


@hookspec
def calcdet_training_transforms() -> dict[str, Callable[..., TrainingTransform]]:
    """Return named factories of training transforms, ``{name: factory}``.

    A pipeline's ``training.transform`` (``plugin: NAME``, ``params: {...}``) builds one with
    ``factory(**params)`` when the pipeline is validated, so a factory refuses bad parameters
    then, raising ``ValueError`` or :class:`calcdet_core.api.CalcdetUserError` with a message that
    names the parameter. A detector's training images then pass through the transform each time
    they are drawn (:class:`calcdet_core.api.TrainingTransform`): simulated MCs inserted afresh
    every epoch, say, without writing a release. calcdet finds transforms here and never imports
    the plugin.
    """
