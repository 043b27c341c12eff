"""JSON routes for evidence."""

from compliance.api import api_router

router = api_router("evidence")
