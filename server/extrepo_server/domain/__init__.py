"""Domain rules: names, namespaces, access, paging. No transport, no SQL."""
