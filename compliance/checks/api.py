"""JSON routes for findings."""

from compliance.api import api_router

router = api_router("findings")
