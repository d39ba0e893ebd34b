"""calcdet plugin: the study's Hough-transform candidate proposer."""

from calcdet_hough.proposer import HoughProposer

__all__ = ["HoughProposer"]
