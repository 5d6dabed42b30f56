"""Security: API keys, authentication, encryption of registry credentials."""
