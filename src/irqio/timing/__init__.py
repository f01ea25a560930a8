"""Timing model of real microcontrollers: chip profiles, system files, an event-driven cycle model
and response-time analysis of interrupt latency under each critical-section policy."""

from __future__ import annotations

from irqio.timing.errors import SystemFileError
from irqio.timing.profile import ChipProfile, load_profile, profile_names
from irqio.timing.system import POLICIES, System, load_system

__all__ = [
    "POLICIES",
    "ChipProfile",
    "System",
    "SystemFileError",
    "load_profile",
    "load_system",
    "profile_names",
]
