"""JSON routes for users."""

from compliance.api import api_router

router = api_router("users")
