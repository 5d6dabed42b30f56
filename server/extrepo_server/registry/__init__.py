"""Outbound calls to third-party registries: async, bounded by timeouts, never on
the event loop's critical path for longer than one await."""
