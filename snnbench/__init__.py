"""snnbench: measure spiking-network simulators on scenarios written once."""

__version__ = "0.1.0"
