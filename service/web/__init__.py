"""The web layer: routes, request schemas, problem+json errors."""
