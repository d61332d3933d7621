"""The console's writes, one module per part of the operator's work.

Nothing here writes domain data itself: each function runs a domain service or action,
once per submitted form (`submissions.claim`).
"""
