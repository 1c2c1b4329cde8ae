"""Record what real qemu-img does, version by version."""

__all__ = ["__version__"]
__version__ = "0.1.0"
