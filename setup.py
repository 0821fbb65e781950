"""Build glue: cffi compiles csrc/ into pyfrr_pwr._core (metadata lives in
pyproject.toml)."""

from setuptools import setup

setup(cffi_modules=["pyfrr_pwr/_build_core.py:ffibuilder"])
