"""The console's pages, one module per part of the operator's work. Thin: read through
`queries`, write through `services` (via `common.submit`)."""
