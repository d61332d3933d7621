"""The console's reads, one module per part of the operator's work. The console reads
every client (it is not in the client scope), never through the portal's query layer."""
