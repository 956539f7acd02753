"""Deciding: three-valued evaluation of rules, the combining tables of each decision kind
(decisions/), decide() and the Verdict. Builds on the policy stage and the shared modules."""
