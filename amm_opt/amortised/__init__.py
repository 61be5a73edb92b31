"""Amortised menus: one network that returns a menu for every belief and adverse-selection level
of a family of problems (docs/amortised.md). Torch is imported only to train, save and load."""

from .accuracy import AccuracyMap, accuracy_map, grid_parameters, heldout_parameters
from .family import MenuFamily
from .files import load_family, save_family
from .spec import FamilySpec
from .trainer import AmortisedTrainer

__all__ = ["AccuracyMap", "AmortisedTrainer", "FamilySpec", "MenuFamily", "accuracy_map",
           "grid_parameters", "heldout_parameters", "load_family", "save_family"]
