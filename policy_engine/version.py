"""The engine's release, written into every verdict and receipt so that the output of two
releases can be told apart. The one place the version is set: pyproject.toml reads it."""
NAME = "policy-engine"
__version__ = "0.1.0"
ENGINE = {"name": NAME, "version": __version__}
