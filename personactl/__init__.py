"""personactl: persona configuration as code for Tavus CVI."""

__version__ = "0.1.0"
