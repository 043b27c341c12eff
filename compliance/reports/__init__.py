"""Audit reports (PDF) and evidence packs (ZIP) for a body, partnership, duty or area."""
