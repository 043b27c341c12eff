"""JSON routes for exports."""

from compliance.api import api_router

router = api_router("exports")
