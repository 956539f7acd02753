"""Reading and compiling policies: YAML and JSON Schema checks, the source index, the vocabulary,
CEL conditions and their functions, the working-day calendar, the compiled Policy, the registry.

Imports flow one way: this stage uses only the shared modules (errors, dates, textio, resources,
yamlio); evaluate, selection, report and the front ends build on it (tests/test_layout.py).
"""
