"""Pulumi components that declare a topology on Hetzner Cloud (one ComponentResource per concern)."""
