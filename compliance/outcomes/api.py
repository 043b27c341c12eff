"""JSON routes for outcomes."""

from compliance.api import api_router

router = api_router("outcomes")
