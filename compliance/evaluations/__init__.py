"""Evaluation rounds: the voice of the partners' staff and of the people who use services."""
