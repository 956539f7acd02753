"""Reviewing a revision of a policy: what a change alters (diff), what the rules and golden cases
reach of the source text (coverage), and a static HTML site for lawyers (review). Builds on every
stage below; the front ends (cli) call it."""
