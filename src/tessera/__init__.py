"""Tessera: a self-hosted, Alibaba Cloud-compatible security token service and object store."""

__version__ = "0.1.0"
