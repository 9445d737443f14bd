"""Compatibility re-export: the study's charts live in :mod:`lossesbox.study.charts`."""

from .study.charts import *  # noqa: F403
from .study.charts import __all__  # noqa: F401
