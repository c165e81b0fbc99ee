"""Governance: who may see what.

The policy (`roles`: permissions and built-in roles; `masking`: the text rules of PII
masking; `presenter`: the PII policy every output passes through) imports nothing of
Sextant's, so the core's access gate and every app can enforce it. The screens that
change it (`views`: members, API keys; `invites`: invites by e-mail and accounts made by
an admin; `custom_roles`: the roles page and its matrix; `membership`: the audited member
changes and their rules) build on the core like any app.
"""
