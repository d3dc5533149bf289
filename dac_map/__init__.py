"""dac-map: an always-fresh map of the health, social and medico-social resources of a DAC territory."""

__version__ = "0.1.0"
