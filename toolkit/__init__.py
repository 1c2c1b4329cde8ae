"""Record what real qemu-img does, version by version (see README: How the code is laid out)."""
