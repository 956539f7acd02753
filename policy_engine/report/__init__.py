"""Outputs for people and for checking: Chinese text of verdicts and receipts, the golden-case
runner, the JSON Schema of a case generated from a vocabulary. Builds on every stage below."""
