"""Fixtures: a ``RamService`` on the memory store with a fixed clock and recording fakes."""

from __future__ import annotations

import pytest

from tessera.identity.service import RamService

from .support import World, make_world


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def ram(world: World) -> RamService:
    return world.ram
